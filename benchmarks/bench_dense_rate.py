"""Benchmark (a): dense 784-500-10 rate network, neurogen vs a vectorised NumPy reference.

Model (both engines, float32, dt = 1 ms, tau = 10 ms):
    input  : 784 rate neurons whose r is a fixed random variable (different per batch instance)
    hidden : 500 leaky integrators  x += dt/tau * (I - x),  r = tanh(x)
    output :  10 leaky integrators, same dynamics
    synapses: DENSE, continuous: synapse_dynamics_code "addToPost(g * r_pre);" (g READ_ONLY,
              r_pre a pre_neuron_var_ref to the presynaptic r), DeltaCurr.
Step semantics (genn_api.md §9): I_hid = r_in @ W1 and I_out = r_hid(previous step) @ W2, then the
Euler update and tanh of every population.

Usage:  python benchmarks/bench_dense_rate.py [--batches 1,32] [--threads 1,2] [--rounds 5] [--profile]
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

N_IN, N_HID, N_OUT = 784, 500, 10
DT, TAU = 1.0, 10.0
#: agreement: |neurogen - numpy| <= RTOL * |numpy| + RTOL * max|numpy| per array (float32 sums of 784 terms
#: in a different order differ by ~1e-6 absolute, which is a large *relative* error for values near 0)
RTOL = 1e-4
TARGETS = {1: 2.5, 32: 1.5}


def make_data(batch, seed=1234):
    rng = np.random.default_rng(seed)
    w1 = (rng.standard_normal((N_IN, N_HID)) * (2.0 / np.sqrt(N_IN))).astype(np.float32)
    w2 = (rng.standard_normal((N_HID, N_OUT)) * (2.0 / np.sqrt(N_HID))).astype(np.float32)
    r_in = rng.uniform(0.0, 1.0, (batch, N_IN)).astype(np.float32)
    return w1, w2, r_in


# ================================================================================ neurogen
def build_neurogen(batch, threads, w1, w2, r_in, parts=("ih", "ho"), name=None, use_blas=None):
    """Build and load the model; ``parts`` selects which synapse groups exist (for profiling)."""
    from neurogen import (GeNNModel, VarAccess, VarAccessMode, create_neuron_model, create_weight_update_model,
                          init_postsynaptic, init_weight_update)
    rate = create_neuron_model(
        "LeakyRate", params=["tau"], derived_params=[("alpha", lambda p, dt: dt / p["tau"])],
        vars=[("x", "scalar"), ("r", "scalar")],
        sim_code="x += alpha * (Isyn - x);\nr = tanh(x);")
    inp = create_neuron_model("RateInput", vars=[("r", "scalar")])
    cont = create_weight_update_model(
        "ContinuousDense", vars=[("g", "scalar", VarAccess.READ_ONLY)],
        pre_neuron_var_refs=[("r_pre", "scalar", VarAccessMode.READ_ONLY)],
        synapse_dynamics_code="addToPost(g * r_pre);")
    m = GeNNModel("float", name or f"dense_rate_b{batch}_t{threads}{'_blas' if use_blas else ''}_"
                  f"{'_'.join(parts) or 'none'}", num_threads=threads, **({} if use_blas is None else
                                                                        {"use_blas": use_blas}))
    m.dt = DT
    m.batch_size = batch
    pin = m.add_neuron_population("inp", N_IN, inp, {}, {"r": r_in if batch > 1 else r_in[0]})
    hid = m.add_neuron_population("hid", N_HID, rate, {"tau": TAU}, {"x": 0.0, "r": 0.0})
    out = m.add_neuron_population("out", N_OUT, rate, {"tau": TAU}, {"x": 0.0, "r": 0.0})
    if "ih" in parts:
        m.add_synapse_population("ih", "DENSE", pin, hid,
                                 init_weight_update(cont, {}, {"g": w1.ravel()}, pre_var_refs={"r_pre": "r"}),
                                 init_postsynaptic("DeltaCurr"))
    if "ho" in parts:
        m.add_synapse_population("ho", "DENSE", hid, out,
                                 init_weight_update(cont, {}, {"g": w2.ravel()}, pre_var_refs={"r_pre": "r"}),
                                 init_postsynaptic("DeltaCurr"))
    t0 = time.perf_counter()
    m.build()
    t1 = time.perf_counter()
    m.load()
    t2 = time.perf_counter()
    return m, {"build_s": t1 - t0, "load_s": t2 - t1}


def neurogen_state(m):
    st = {}
    for pop in ("hid", "out"):
        for v in ("x", "r"):
            var = m.neuron_populations[pop].vars[v]
            var.pull_from_device()
            st[f"{pop}.{v}"] = np.array(var.view).reshape(-1, var.view.shape[-1])
    return st


# ================================================================================ NumPy reference
class Reference:
    """The same model in NumPy: BLAS products into preallocated buffers, in-place element ops."""

    def __init__(self, w1, w2, r_in, batch):
        self.w1, self.w2 = w1, w2
        shape = (batch,) if batch > 1 else ()
        self.r_in = r_in if batch > 1 else r_in[0].copy()
        z = lambda n: np.zeros(shape + (n,), np.float32)  # noqa: E731
        self.x_hid, self.r_hid, self.i_hid, self.t_hid = z(N_HID), z(N_HID), z(N_HID), z(N_HID)
        self.x_out, self.r_out, self.i_out, self.t_out = z(N_OUT), z(N_OUT), z(N_OUT), z(N_OUT)
        self.alpha = np.float32(DT / TAU)

    def run(self, n):
        dot, sub, mul, add, tanh = np.dot, np.subtract, np.multiply, np.add, np.tanh
        w1, w2, r_in, a = self.w1, self.w2, self.r_in, self.alpha
        xh, rh, ih, th = self.x_hid, self.r_hid, self.i_hid, self.t_hid
        xo, ro, io, to = self.x_out, self.r_out, self.i_out, self.t_out
        for _ in range(n):
            # synapse dynamics: both products read the rates left by the previous step
            dot(r_in, w1, out=ih)
            dot(rh, w2, out=io)
            # neuron updates (same operation order as the generated C: x += alpha * (I - x))
            sub(ih, xh, out=th)
            mul(th, a, out=th)
            add(xh, th, out=xh)
            tanh(xh, out=rh)
            sub(io, xo, out=to)
            mul(to, a, out=to)
            add(xo, to, out=xo)
            tanh(xo, out=ro)

    def state(self):
        f = lambda a: a.reshape(-1, a.shape[-1]).copy()  # noqa: E731
        return {"hid.x": f(self.x_hid), "hid.r": f(self.r_hid), "out.x": f(self.x_out), "out.r": f(self.r_out)}


def compare(a, b):
    rows = {}
    ok = True
    for k in a:
        x, y = a[k].astype(np.float64), b[k].astype(np.float64)
        err = np.abs(x - y)
        rel = float(np.max(err / np.maximum(np.abs(y), 1e-30)))
        good = bool(np.allclose(x, y, rtol=RTOL, atol=RTOL * float(np.max(np.abs(y)))))
        ok &= good
        rows[k] = {"max_abs": float(err.max()), "max_rel": rel, "ok": good}
    return ok, rows


# ================================================================================ main
def parse_configs(threads, blas):
    """neurogen configurations: label -> (num_threads, use_blas preference or None for the default)."""
    out = {}
    for th in (int(t) for t in threads.split(",")):
        if blas in ("off", "both"):
            out[f"t{th}"] = (th, None)
        if blas in ("on", "both"):
            out[f"t{th}_blas"] = (th, True)
    return out


def bench_batch(batch, configs, args):
    from threadpoolctl import threadpool_limits
    w1, w2, r_in = make_data(batch)
    steps = args.steps
    res = {"batch": batch, "steps": steps, "neurogen": {}, "reference": {}}
    print(f"\n=== dense 784-500-10, batch {batch}, {steps} steps ===", flush=True)

    ref = Reference(w1, w2, r_in, batch)
    t_ref_check = common.timed(lambda: ref.run(steps))
    ref_state = ref.state()
    models, masks = {}, {}
    for label, (th, blas) in configs.items():
        m, bt = build_neurogen(batch, th, w1, w2, r_in, use_blas=blas)
        masks[label] = common.capture_mask(th)
        bt["affinity_after_load"] = sorted(masks[label])
        t_run = common.with_mask(masks[label], lambda: common.timed(lambda: m.run(steps)))()
        ok, rows = compare(neurogen_state(m), ref_state)
        worst = max(rows.values(), key=lambda r: r["max_rel"])
        print(f"  neurogen {label} (num_threads={th}, use_blas={blas}): build {bt['build_s']:.3f} s, load {bt['load_s'] * 1e3:.1f} ms; "
              f"first {steps} steps {t_run:.3f} s; agreement with NumPy after {steps} steps "
              f"(rtol {RTOL:g}, atol {RTOL:g} x max|x|): {'OK' if ok else 'MISMATCH'} "
              f"(max abs {max(r['max_abs'] for r in rows.values()):.2e}, max rel {worst['max_rel']:.2e})",
              flush=True)
        res["neurogen"][label] = {**bt, "num_threads": th, "use_blas": blas, "agree": ok, "errors": rows}
        models[label] = m
    print(f"  NumPy reference: first {steps} steps {t_ref_check:.3f} s", flush=True)

    def ng_phase(m):
        return lambda: common.timed(lambda: m.run(steps)) / steps

    def ref_phase(limit):
        def f():
            if limit is None:
                return common.timed(lambda: ref.run(steps)) / steps
            with threadpool_limits(limits=limit, user_api="blas"):
                return common.timed(lambda: ref.run(steps)) / steps
        return f

    phases = {f"neurogen_{label}": common.with_mask(masks[label], ng_phase(m)) for label, m in models.items()}
    phases["numpy"] = ref_phase(None)          # BLAS with its default thread count
    phases["numpy_blas1"] = ref_phase(1)       # BLAS limited to one thread
    times, loads = common.interleaved(phases, args.rounds)
    for k, v in times.items():
        m_us, n_used = common.robust_median(v, loads[k])
        (res["neurogen"][k[len("neurogen_"):]] if k.startswith("neurogen_") else res["reference"].setdefault(k, {}))\
            .update({"us_per_step": m_us, "rounds_us": v, "other_load": loads[k], "rounds_used": n_used})
    best_ref_name = min(res["reference"], key=lambda k: res["reference"][k]["us_per_step"])
    best_ref = res["reference"][best_ref_name]["us_per_step"]
    ref_np = res["reference"]["numpy"]["us_per_step"]
    flop = 2.0 * (N_IN * N_HID + N_HID * N_OUT) * batch
    for label in configs:
        d = res["neurogen"][label]
        d["ratio_vs_numpy"] = ref_np / d["us_per_step"]
        d["ratio_vs_best_ref"] = best_ref / d["us_per_step"]
        d["gflops"] = flop / d["us_per_step"] / 1e3
    best_th = min(configs, key=lambda t: res["neurogen"][t]["us_per_step"])
    res["best_config"] = best_th
    res["best_ref"] = best_ref_name
    res["ratio_of_medians"] = best_ref / res["neurogen"][best_th]["us_per_step"]
    # per-round ratio (phases of one round ran back to back under the same machine conditions)
    res["ratio"] = common.med([r / n for r, n in zip(times[best_ref_name], times[f"neurogen_{best_th}"])])
    res["target"] = TARGETS.get(batch)
    res["met"] = res["target"] is not None and res["ratio"] >= res["target"]
    print("  medians (over rounds without heavy other load): " + ", ".join(
        f"{k} {common.robust_median(v, loads[k])[0]:.1f} µs/step (spread {common.spread(v)}, "
        f"{common.robust_median(v, loads[k])[1]}/{len(v)} rounds)" for k, v in times.items()))
    print(f"  ratio best reference ({best_ref_name}) / best neurogen ({best_th}), median of per-round ratios = "
          f"{res['ratio']:.2f}x (ratio of medians {res['ratio_of_medians']:.2f}x)"
          f"  target >= {res['target']}x: {'MET' if res['met'] else 'NOT MET'}", flush=True)

    if args.profile:
        res["profile"] = profile(batch, configs, models, masks, w1, w2, r_in, args)
    for m in models.values():
        m.unload()
    return res


def profile(batch, configs, models, masks, w1, w2, r_in, args):
    """Per-kernel breakdown of every neurogen configuration (kernel_profile.py: the generated run loop
    with a clock around each kernel call), and NumPy's split into products and element-wise work."""
    from kernel_profile import format_rows, kernel_breakdown
    steps = 2000 if batch == 1 else 300
    prof = {}
    print(f"  profile ({steps} steps; the repeat with the median total of 3):", flush=True)
    for label, m in models.items():
        runs = []
        for _ in range(3):
            common.wait_quiet()
            runs.append(common.with_mask(masks[label], lambda: kernel_breakdown(m, steps))())
        rows, total = sorted(runs, key=lambda r: r[1])[1]
        prof[f"neurogen_{label}"] = {"kernels_us": dict(rows), "total_us": total}
        print(f"    neurogen {label}:\n" + format_rows(rows, total), flush=True)
    # reference split: products only vs element-wise part only
    r1 = Reference(w1, w2, r_in, batch)
    r1.run(100)

    def products():
        for _ in range(steps):
            np.dot(r1.r_in, r1.w1, out=r1.i_hid)
            np.dot(r1.r_hid, r1.w2, out=r1.i_out)

    def elementwise():
        a = r1.alpha
        for _ in range(steps):
            np.subtract(r1.i_hid, r1.x_hid, out=r1.t_hid); np.multiply(r1.t_hid, a, out=r1.t_hid)  # noqa: E702
            np.add(r1.x_hid, r1.t_hid, out=r1.x_hid); np.tanh(r1.x_hid, out=r1.r_hid)  # noqa: E702
            np.subtract(r1.i_out, r1.x_out, out=r1.t_out); np.multiply(r1.t_out, a, out=r1.t_out)  # noqa: E702
            np.add(r1.x_out, r1.t_out, out=r1.x_out); np.tanh(r1.x_out, out=r1.r_out)  # noqa: E702
    row = {}
    for name, fn in (("products", products), ("elementwise", elementwise)):
        ts = []
        for _ in range(3):
            common.wait_quiet()
            ts.append(common.timed(fn) / steps * 1e6)
        row[name] = common.med(ts)
    prof["numpy"] = row
    print("    numpy: " + ", ".join(f"{k} {v:.1f}" for k, v in row.items()) + " µs/step", flush=True)
    return prof


def main(argv=None):
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--batches", default="1,32", help="batch sizes (default 1,32)")
    p.add_argument("--blas", default="both", choices=("off", "on", "both"),
                   help="time neurogen with its default (off), with use_blas=True (on), or both (default)")
    args = p.parse_args(argv)
    cache = common.use_fresh_cache()
    configs = parse_configs(args.threads, args.blas)
    out = {"benchmark": "dense_rate", "results": []}
    try:
        for b in (int(x) for x in args.batches.split(",")):
            out["results"].append(bench_batch(b, configs, args))
    finally:
        common.drop_cache(cache)
    out["machine"] = common.machine_info()
    out["noise"] = dict(common.NOISE)
    print("\nBLAS in this process: " + common.describe_blas(out["machine"]["blas"]))
    print("OPENBLAS_CORETYPE: " + out["machine"]["env"]["OPENBLAS_CORETYPE"])
    common.write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()
