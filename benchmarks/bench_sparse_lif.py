"""Benchmark (b): 4,000 LIF neurons, 10 % sparse random connectivity, neurogen vs NumPy/SciPy.

Model (both engines, float32, dt = 0.1 ms):
    populations E (3,200) and I (800) of the built-in 'LIF' (C 1 nF, TauM 20 ms, Vrest = Vreset = -60 mV,
    Vthresh -50 mV, TauRefrac 2 ms, constant drive Ioffset), V(0) ~ U(-60, -50) mV;
    four SPARSE StaticPulse groups EE, EI, IE, II with init_sparse_connectivity("FixedProbability",
    {"prob": 0.1}), weights g ~ U(0.5, 1.5) x (G_EXC or G_INH), ExpCurr tau 5 ms (exc) / 10 ms (inh).
The NumPy reference reads the connectivity and weights back from neurogen
(get_sparse_pre_inds / get_sparse_post_inds / vars["g"]) into one scipy.sparse CSR matrix
(4,000 presynaptic rows x 8,000 columns = [exc input of each neuron | inh input of each neuron]) and
does the same step: spikes of step n-1 delivered at step n (accumulated in float32 in the same order
as the generated C), ExpCurr with its init factor, exact LIF update with refractoriness.

Usage:  python benchmarks/bench_sparse_lif.py [--threads 1,2] [--rounds 5] [--profile]
"""
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

N_E, N_I = 3200, 800
N = N_E + N_I
DT = 0.1
PROB = 0.1
TAU_EXC, TAU_INH = 5.0, 10.0
LIF_PARAMS = {"C": 1.0, "TauM": 20.0, "Vrest": -60.0, "Vreset": -60.0, "Vthresh": -50.0,
              "Ioffset": 0.7, "TauRefrac": 2.0}
G_EXC, G_INH = 0.05, -0.15       # nA jump of inSyn per spike (charge g * tau)
TARGET = 8.0
SEED = 4321


# ================================================================================ neurogen
def build_neurogen(threads, with_synapses=True, steps_rec=10_000, name=None, seed=SEED):
    from neurogen import GeNNModel, init_postsynaptic, init_sparse_connectivity, init_var, init_weight_update
    m = GeNNModel("float", name or f"sparse_lif_t{threads}{'' if with_synapses else '_nosyn'}",
                  num_threads=threads)
    m.dt = DT
    m.seed = seed
    v0 = init_var("Uniform", {"min": -60.0, "max": -50.0})
    e = m.add_neuron_population("E", N_E, "LIF", LIF_PARAMS, {"V": v0, "RefracTime": 0.0})
    i = m.add_neuron_population("I", N_I, "LIF", LIF_PARAMS, {"V": v0, "RefracTime": 0.0})
    e.spike_recording_enabled = True
    i.spike_recording_enabled = True
    if with_synapses:
        for pre, post, g, tau in (("E", "E", G_EXC, TAU_EXC), ("E", "I", G_EXC, TAU_EXC),
                                  ("I", "E", G_INH, TAU_INH), ("I", "I", G_INH, TAU_INH)):
            lo, hi = sorted((0.5 * g, 1.5 * g))
            m.add_synapse_population(
                pre + post, "SPARSE", pre, post,
                init_weight_update("StaticPulse", {}, {"g": init_var("Uniform", {"min": lo, "max": hi})}),
                init_postsynaptic("ExpCurr", {"tau": tau}),
                init_sparse_connectivity("FixedProbability", {"prob": PROB}))
    t0 = time.perf_counter()
    m.build()
    t1 = time.perf_counter()
    m.load(num_recording_timesteps=steps_rec)
    t2 = time.perf_counter()
    return m, {"build_s": t1 - t0, "load_s": t2 - t1}


def neurogen_spikes(m):
    """(step, global neuron id) of the recorded window, E ids 0..3199 and I ids 3200..3999."""
    m.pull_recording_buffers_from_device()
    out = []
    for pop, off in (("E", 0), ("I", N_E)):
        t, ids = m.neuron_populations[pop].spike_recording_data[0]
        out.append((np.rint(np.asarray(t) / DT).astype(np.int64), np.asarray(ids, np.int64) + off))
    steps = np.concatenate([o[0] for o in out])
    ids = np.concatenate([o[1] for o in out])
    order = np.lexsort((ids, steps))
    return steps[order], ids[order]


# ================================================================================ NumPy reference
def read_sparse(sg):
    """(pre, post, g) of a SPARSE group through the PyGeNN API; if that raises (an engine bug),
    read the same arrays from the group's CSR-like storage directly and say so."""
    sg.pull_connectivity_from_device()
    sg.vars["g"].pull_from_device()
    try:
        return (np.asarray(sg.get_sparse_pre_inds(), np.int64), np.asarray(sg.get_sparse_post_inds(), np.int64),
                np.asarray(sg.vars["g"].values), "api")
    except Exception as exc:  # noqa: BLE001 - reported, then worked around
        rl = np.asarray(sg.row_length, np.int64)
        rows = np.repeat(np.arange(rl.size), rl)
        offs = np.arange(rows.size) - np.repeat(np.cumsum(rl) - rl, rl)
        slots = rows * int(sg.row_stride) + offs
        return (rows, np.asarray(sg.ind, np.int64)[slots], np.asarray(sg.vars["g"].view)[slots],
                f"internal arrays (get_sparse_*_inds raised {type(exc).__name__}: {exc})")


class Reference:
    def __init__(self, m):
        import scipy.sparse as sp
        f32 = np.float32
        rows, cols, vals = [], [], []
        for name, sg in m.synapse_populations.items():
            pre_off = 0 if sg.src.name == "E" else N_E
            post_off = (0 if sg.trg.name == "E" else N_E) + (0 if sg.src.name == "E" else N)
            pre, post, g, how = read_sparse(sg)
            self.read_via = how
            rows.append(pre + pre_off)
            cols.append(post + post_off)
            vals.append(np.asarray(g, f32))
        self.nnz = sum(r.size for r in rows)
        self.W = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                               shape=(N, 2 * N), dtype=f32)
        assert self.W.nnz == self.nnz, "duplicate synapses in the connectivity"
        self.indptr = self.W.indptr.astype(np.int64)
        self.indices, self.data = self.W.indices, self.W.data
        p = LIF_PARAMS
        self.exptc = f32(math.exp(-DT / p["TauM"]))
        self.rm = f32(p["TauM"] / p["C"])
        self.ioff, self.vrest = f32(p["Ioffset"]), f32(p["Vrest"])
        self.vthresh, self.vreset, self.trefrac = f32(p["Vthresh"]), f32(p["Vreset"]), f32(p["TauRefrac"])
        self.dt = f32(DT)
        dec = lambda tau: math.exp(-DT / tau)  # noqa: E731
        ini = lambda tau: tau * (1.0 - math.exp(-DT / tau)) / DT  # noqa: E731
        self.decay = np.concatenate([np.full(N, dec(TAU_EXC), f32), np.full(N, dec(TAU_INH), f32)])
        self.init = np.concatenate([np.full(N, ini(TAU_EXC), f32), np.full(N, ini(TAU_INH), f32)])
        # state: initial V read back from neurogen (its RNG drew it)
        e, i = m.neuron_populations["E"], m.neuron_populations["I"]
        self.V = np.concatenate([np.asarray(e.vars["V"].view, f32), np.asarray(i.vars["V"].view, f32)])
        self.refrac = np.concatenate([np.asarray(e.vars["RefracTime"].view, f32),
                                      np.asarray(i.vars["RefracTime"].view, f32)])
        self.insyn = np.zeros(2 * N, f32)
        self.spk_idx = np.zeros(0, np.int64)
        self.cur = np.zeros(2 * N, f32)
        self.isyn = np.zeros(N, f32)
        self.a = np.zeros(N, f32)
        self.d = np.zeros(N, f32)
        self.active = np.zeros(N, bool)
        self.inactive = np.zeros(N, bool)
        self.spk = np.zeros(N, bool)
        self.above = np.zeros(N, bool)
        self.timestep = 0
        self.n_spikes = 0

    def run(self, n, record=None):
        indptr, indices, data, insyn = self.indptr, self.indices, self.data, self.insyn
        V, refrac, cur, isyn, a, d = self.V, self.refrac, self.cur, self.isyn, self.a, self.d
        active, inactive, spk, above = self.active, self.inactive, self.spk, self.above
        init, decay = self.init, self.decay
        ioff, rm, vrest, exptc, dt = self.ioff, self.rm, self.vrest, self.exptc, self.dt
        vth, vreset, trefrac = self.vthresh, self.vreset, self.trefrac
        idx = self.spk_idx
        n_spk = 0
        for s in range(n):
            # presynaptic update: spikes of the previous step, summed in float32 in spike order
            if idx.size:
                starts = indptr[idx]
                lens = indptr[idx + 1] - starts
                pos = np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(lens.sum())
                np.add.at(insyn, indices[pos], data[pos])
            # postsynaptic models (ExpCurr): Isyn = init_exc*inSyn_exc + init_inh*inSyn_inh, then decay
            np.multiply(init, insyn, out=cur)
            np.add(cur[:N], cur[N:], out=isyn)
            np.multiply(insyn, decay, out=insyn)
            # LIF: alpha = (Isyn + Ioffset) * R + Vrest; V = alpha - ExpTC * (alpha - V) when not refractory
            np.less_equal(refrac, 0, out=active)
            np.add(isyn, ioff, out=a)
            np.multiply(a, rm, out=a)
            np.add(a, vrest, out=a)
            np.subtract(a, V, out=d)
            np.multiply(d, exptc, out=d)
            np.subtract(a, d, out=d)
            np.copyto(V, d, where=active)
            np.logical_not(active, out=inactive)
            np.subtract(refrac, dt, out=refrac, where=inactive)
            # threshold RefracTime <= 0 && V >= Vthresh, then reset
            np.less_equal(refrac, 0, out=spk)
            np.greater_equal(V, vth, out=above)
            np.logical_and(spk, above, out=spk)
            idx = np.flatnonzero(spk)
            V[idx] = vreset
            refrac[idx] = trefrac
            n_spk += idx.size
            if record is not None and idx.size:
                record.append((np.full(idx.size, self.timestep + s, np.int64), idx))
        self.spk_idx = idx
        self.timestep += n
        self.n_spikes += n_spk
        return n_spk


def rate_hz(n_spikes, steps):
    return n_spikes / (N * steps * DT * 1e-3)


# ================================================================================ main
def main(argv=None):
    p = common.parser(__doc__.splitlines()[0])
    args = p.parse_args(argv)
    cache = common.use_fresh_cache()
    threads_list = [int(t) for t in args.threads.split(",")]
    steps = args.steps
    res = {"benchmark": "sparse_lif", "steps": steps, "neurogen": {}, "reference": {}}
    print(f"\n=== sparse LIF 4000 (80/20), p = {PROB}, dt = {DT} ms, {steps} steps ===", flush=True)
    try:
        models, masks = {}, {}
        ref = None
        for th in threads_list:
            m, bt = build_neurogen(th, steps_rec=steps)
            masks[th] = common.capture_mask(th)
            bt["affinity_after_load"] = sorted(masks[th])
            if ref is None:
                ref = Reference(m)
                print(f"  connectivity read back: {ref.nnz} synapses ({ref.nnz / N / N:.4f} of all pairs) via "
                      f"{ref.read_via}")
                res["connectivity_read_via"] = ref.read_via
                rec = []
                t_ref = common.timed(lambda: ref.run(steps, rec))
                ref_steps = np.concatenate([r[0] for r in rec]) if rec else np.zeros(0, np.int64)
                ref_ids = np.concatenate([r[1] for r in rec]) if rec else np.zeros(0, np.int64)
                o = np.lexsort((ref_ids, ref_steps))
                ref_steps, ref_ids = ref_steps[o], ref_ids[o]
                res["rate_hz_reference"] = rate_hz(ref_ids.size, steps)
                print(f"  NumPy reference: first {steps} steps {t_ref:.3f} s, {ref_ids.size} spikes, "
                      f"{res['rate_hz_reference']:.2f} Hz", flush=True)
            t_run = common.with_mask(masks[th], lambda: common.timed(lambda: m.run(steps)))()
            s_steps, s_ids = neurogen_spikes(m)
            same = s_ids.size == ref_ids.size and bool(np.all(s_steps == ref_steps) and np.all(s_ids == ref_ids))
            first_diff = None
            if not same:
                n = min(s_ids.size, ref_ids.size)
                bad = np.flatnonzero((s_steps[:n] != ref_steps[:n]) | (s_ids[:n] != ref_ids[:n]))
                first_diff = int(min(s_steps[bad[0]], ref_steps[bad[0]])) if bad.size else int(
                    (s_steps if s_ids.size > n else ref_steps)[n])
            rate = rate_hz(s_ids.size, steps)
            rel_rate = abs(rate - res["rate_hz_reference"]) / max(res["rate_hz_reference"], 1e-9)
            agree = same or rel_rate < 0.05
            print(f"  neurogen num_threads={th}: build {bt['build_s']:.3f} s, load {bt['load_s'] * 1e3:.1f} ms; "
                  f"first {steps} steps {t_run:.3f} s, {s_ids.size} spikes, {rate:.2f} Hz; spike trains "
                  + ("IDENTICAL to the reference" if same else
                     f"differ from step {first_diff} on (rate difference {rel_rate * 100:.1f} %)"), flush=True)
            res["neurogen"][th] = {**bt, "spikes": int(s_ids.size), "rate_hz": rate, "identical_spikes": same,
                                   "first_difference_step": first_diff, "agree": agree}
            models[th] = m

        def ng_phase(m):
            def f():
                t = common.timed(lambda: m.run(steps))
                s, _ = neurogen_spikes(m)
                counts.setdefault(f"neurogen_t{m.preferences['num_threads']}", []).append(s.size)
                return t / steps
            return f

        def ref_phase():
            n0 = ref.n_spikes
            t = common.timed(lambda: ref.run(steps))
            counts.setdefault("numpy", []).append(ref.n_spikes - n0)
            return t / steps

        counts = {}
        phases = {f"neurogen_t{th}": common.with_mask(masks[th], ng_phase(m)) for th, m in models.items()}
        phases["numpy"] = ref_phase
        times, loads = common.interleaved(phases, args.rounds)
        for k, v in times.items():
            d = res["neurogen"][int(k.split("_t")[1])] if k.startswith("neurogen") else \
                res["reference"].setdefault(k, {})
            m_us, n_used = common.robust_median(v, loads[k])
            d.update({"us_per_step": m_us, "rounds_us": v, "other_load": loads[k], "rounds_used": n_used,
                      "rate_hz_timed": rate_hz(sum(counts[k]), steps * len(counts[k]))})
        # every phase of a round simulates the same stretch of network activity (the engines run in
        # lockstep with identical spike trains), so the ratio is taken per round, then the median
        ref_rounds = times["numpy"]
        for th in threads_list:
            ng_rounds = times[f"neurogen_t{th}"]
            res["neurogen"][th]["ratio"] = common.med([r / n for r, n in zip(ref_rounds, ng_rounds)])
            res["neurogen"][th]["ratio_of_medians"] = res["reference"]["numpy"]["us_per_step"] / \
                res["neurogen"][th]["us_per_step"]
        res["same_spike_counts_per_round"] = all(
            counts[f"neurogen_t{th}"] == counts["numpy"] for th in threads_list)
        best = max(threads_list, key=lambda t: res["neurogen"][t]["ratio"])
        res.update(best_threads=best, ratio=res["neurogen"][best]["ratio"], target=TARGET)
        res["met"] = res["ratio"] >= TARGET
        print("  medians (over rounds without heavy other load): " + ", ".join(
                                        f"{k} {common.robust_median(v, loads[k])[0]:.2f} µs/step "
                                        f"(spread {common.spread(v)}, {common.robust_median(v, loads[k])[1]}/{len(v)} rounds, "
                                        f"{res['neurogen'][int(k.split('_t')[1])]['rate_hz_timed'] if k != 'numpy' else res['reference']['numpy']['rate_hz_timed']:.1f} Hz)"
                                        for k, v in times.items()))
        print(f"  spike counts per round identical in all engines: {res['same_spike_counts_per_round']}; "
              "spikes per round: " + ", ".join(str(c) for c in counts["numpy"]))
        print(f"  ratio NumPy / best neurogen (num_threads={best}), median of per-round ratios = {res['ratio']:.2f}x "
              f"(ratio of medians {res['neurogen'][best]['ratio_of_medians']:.2f}x)  target >= {TARGET}x: "
              f"{'MET' if res['met'] else 'NOT MET'}", flush=True)
        if args.profile:
            res["profile"] = profile(threads_list, models, masks, ref, args)
        for m in models.values():
            m.unload()
    finally:
        common.drop_cache(cache)
    res["machine"] = common.machine_info()
    res["noise"] = dict(common.NOISE)
    print("\nBLAS in this process: " + common.describe_blas(res["machine"]["blas"]))
    common.write_json(args.json, res)
    return res


def profile(threads_list, models, masks, ref, args):
    """Per-kernel breakdown of neurogen (kernel_profile.py: the generated run loop with a clock around
    each kernel call) and NumPy's time for spike delivery alone."""
    from kernel_profile import format_rows, kernel_breakdown
    steps = 5000
    prof = {}
    print(f"  profile ({steps} steps; the repeat with the median total of 3):", flush=True)
    for th in threads_list:
        m = models[th]
        runs = []
        for _ in range(3):
            common.wait_quiet()
            runs.append(common.with_mask(masks[th], lambda: kernel_breakdown(m, steps))())
        rows, total = sorted(runs, key=lambda r: r[1])[1]
        prof[f"neurogen_t{th}"] = {"kernels_us": dict(rows), "total_us": total}
        print(f"    neurogen num_threads={th}:\n" + format_rows(rows, total), flush=True)
    # NumPy: time the delivery of a typical spike set alone
    idx = np.sort(np.random.default_rng(0).choice(N, max(1, int(round(ref.n_spikes / ref.timestep))),
                                                  replace=False))
    insyn = np.zeros_like(ref.insyn)

    def deliver():
        for _ in range(steps):
            starts = ref.indptr[idx]
            lens = ref.indptr[idx + 1] - starts
            pos = np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(lens.sum())
            np.add.at(insyn, ref.indices[pos], ref.data[pos])
    ts = []
    for _ in range(3):
        common.wait_quiet()
        ts.append(common.timed(deliver) / steps * 1e6)
    tot = common.med([common.timed(lambda: ref.run(steps)) / steps * 1e6 for _ in range(3)])
    prof["numpy"] = {"delivery": common.med(ts), "spikes_per_step": int(idx.size), "full": tot}
    print(f"    numpy: delivery of {idx.size} spikes/step {prof['numpy']['delivery']:.2f} µs/step, "
          f"full {tot:.2f} µs/step", flush=True)
    return prof


if __name__ == "__main__":
    main()
