"""Benchmark (e): recurrent LIF/ALIF network (LSNN) on evidence accumulation, BPTT / e-prop / MDGL
training iterations with neurogen vs the vectorised NumPy e-prop, and peak memory of training runs.

What it measures, side by side in one process (speed targets of the e-prop/MDGL issue):
  1. the steady-state time of one training iteration (batch ``--batch`` = 64, T = 2000 steps of the
     MDGL AccuCues task, 40 inputs, 50 LIF + 50 ALIF, 2 readouts) of ``RecurrentSNN`` for each learning
     rule (BPTT, e-prop, MDGL) and precision (float32, float64 simulation; the host-side gradient
     maths and Adam are float64 in both), split into the phases ``train_iteration`` reports (simulate,
     gradient, update). One warm-up iteration (reported as ``first_s``), then ``--rounds`` timed
     iterations, interleaved over all configurations in rotating order (common.interleaved's scheme);
     median. The network settings are those of experiment_configs/evidence_accumulation_<rule>.yaml
     (Dale's law, fixed 10 % adjacency, rate regulariser reg_c 0.1 of the stored runs, record_state
     off as in the runner), with the batch size and precision overridden, for each neurogen thread
     count of ``--threads`` (default 1,2; keys ``<rule>_<precision>`` for one thread and
     ``<rule>_<precision>_<n>thr`` for n; with threads the batch instances of the sparse synapse
     dynamics are split over them, results are bit-identical) (``--reg-c`` overrides the
     regulariser: with reg_c > 0 the e-prop synapses also sum their traces online, and the host
     scales the sums by the regulariser's signal). All iterations
     train on the same batch (timing hardly depends on the spikes; the weights change every iteration).
  2. the same e-prop update done entirely in NumPy (networks/snn_gradients.py: ``forward`` +
     cross-entropy + ``eprop_gradients(method="adjoint")``, the faster of its two e-prop forms; float64
     only, the NumPy maths has no float32 path; BLAS limited to one thread) on the same batch with the
     e-prop network's current weights, in the same interleaved rounds; ratio NumPy / neurogen. Adam
     (microseconds on ~2 k weights) is left out of the NumPy time. The warm-up iteration also checks
     that both give the same gradient (relative L2 difference per matrix; float64: ~1e-15 in the quick run,
     float32 differs by the float32 simulation).
  3. peak memory (max RSS, ``resource.getrusage``) of a whole training run through the runner
     (runner.snn_job.run_training: validation before the first and after the last iteration, result
     files, checkpoints) of ``--mem-iterations`` iterations, one fresh subprocess per rule and
     precision, run before the timing part (Linux carries a parent's peak RSS into its child's
     ru_maxrss across fork + exec, so the parent must still be small); /proc/self/status VmHWM is
     reported as a cross-check. Compared with the ~60 GB the reference MDGL code needs (spec
     alif_eprop_mdgl.md 4.3: it materialises e[B, T, N, N]).
  4. the targets: e-prop iteration <= 0.5 s, MDGL iteration <= 1 s, MDGL training run < 2 GB peak RSS
     (for batch 64 only; a run with another batch reports them as not evaluated).

``--quick``: batch 8, 2 rounds, 2-iteration memory runs (a smoke run; targets not evaluated).

Usage:  python benchmarks/bench_eprop.py [--rounds 5] [--batch 64] [--precisions float,double] [--reg-c 0]
                                         [--mem-iterations 5] [--no-memory] [--quick] [--json out.json]
"""
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

sys.path.insert(0, os.path.join(common.ROOT, "examples"))

RULES = ("bptt", "eprop", "mdgl")
PRECISION_NAMES = {"float": "float32", "double": "float64"}
T_STEPS = 2000
REFERENCE_MDGL_GB = 60.0          # spec alif_eprop_mdgl.md 4.3: the reference's materialised MDGL
TARGETS = {"eprop_s": 0.5, "mdgl_s": 1.0, "mdgl_rss_gb": 2.0}
SEED = 1


def config_path(rule):
    return os.path.join(common.ROOT, "experiment_configs", f"evidence_accumulation_{rule}.yaml")


#: extra ``--set`` overrides of the experiment configs (``--reg-c``)
OVERRIDES = []


def load_cfg(rule, batch, precision, extra=()):
    from runner.snn_config import load_config
    return load_config(config_path(rule), [f"batch_size={batch}", f"validation_size={batch}",
                                           f"precision={precision}", *OVERRIDES, *extra])


def build_net(rule, batch, precision, threads=1):
    from networks.recurrent_snn import RecurrentSNN
    from runner.snn_config import network_kwargs
    kw = network_kwargs(load_cfg(rule, batch, precision))
    kw["num_threads"] = threads
    return RecurrentSNN(**kw, record_state=False, model_name=f"bench_eprop_{rule}_{precision}_{threads}")


def key(rule, prec, threads):
    return f"{rule}_{prec}" + ("" if threads == 1 else f"_{threads}thr")


def task(batch):
    from datasets.evidence import accucues_mdgl
    x, labels, _ = accucues_mdgl(batch, np.random.RandomState(SEED))
    return x, labels


def rss_gb(kb):
    return kb / 2**20                 # ru_maxrss and /proc/self/status are in KiB on Linux


def proc_status_kb(field):
    """VmRSS (current) or VmHWM (peak of this address space) of this process, in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


# ------------------------------------------------------------------------------ NumPy e-prop
def numpy_eprop(net, x, labels):
    """The e-prop update of ``net`` (same settings) in NumPy: (gradients masked to the adjacency, phase times)."""
    from networks import snn_gradients as sg
    w = net.get_weights()
    t0 = time.perf_counter()
    traj = sg.forward(net.params, w["W_in"], w["W_rec"], w["W_out"], w["b_out"], x, record_state=False)
    t1 = time.perf_counter()
    if net.loss == "final":
        _, dE_dy = sg.cross_entropy_final(traj.y, labels, reduction="mean")
    else:
        _, dE_dy = sg.cross_entropy_window(traj.y, labels, net.n_window, reduction="mean")
    fb = "symmetric" if net.feedback == "symmetric" else net.B_fb
    r = sg.eprop_gradients(traj, dE_dy, learning_signal="partial", feedback=fb, trace=net.trace,
                           method="adjoint", reg_c=net.reg_c, reg_target=net.reg_target)
    G = {k: v * (w[k] != 0) for k, v in r.as_dict().items() if k != "b_out"}
    G["b_out"] = r.b_out
    t2 = time.perf_counter()
    return G, {"simulate": t1 - t0, "gradient": t2 - t1, "update": 0.0, "total": t2 - t0}


def rel_diff(a, b):
    return {k: float(np.linalg.norm(a[k] - b[k]) / max(np.linalg.norm(b[k]), 1e-300)) for k in b}


# ------------------------------------------------------------------------------ timing
def bench_iterations(batch, precisions, rounds, thread_counts=(1,)):
    import threadpoolctl
    x, labels = task(batch)
    nets = {}
    for th in thread_counts:
        for prec in precisions:
            for rule in RULES:
                t0 = time.perf_counter()
                nets[key(rule, prec, th)] = build_net(rule, batch, prec, th)
                print(f"  built {rule} {PRECISION_NAMES[prec]} ({th} thread{'s' if th > 1 else ''}) in "
                      f"{time.perf_counter() - t0:.1f} s", flush=True)
    out = {}
    # warm-up (first iteration: first touch of the recording buffers) and the gradient check
    for name, net in nets.items():
        common.wait_quiet()
        if name.startswith("eprop"):
            with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
                G_np, _ = numpy_eprop(net, x, labels)
            res = net.train_iteration(x, labels, return_details=True)
            out[name] = {"agreement_vs_numpy": rel_diff(res["gradients"], G_np)}
        else:
            res = net.train_iteration(x, labels)
            out[name] = {}
        out[name]["first_s"] = res["seconds"]["total"]
        print(f"  warm-up {name}: {res['seconds']['total']:.3f} s"
              + ("; gradient vs NumPy e-prop (rel. L2): " + ", ".join(
                  f"{k} {v:.1e}" for k, v in out[name]['agreement_vs_numpy'].items())
                 if name.startswith("eprop") else ""), flush=True)
    ref_net = nets[key("eprop", "double" if "double" in precisions else precisions[0], thread_counts[0])]
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        numpy_eprop(ref_net, x, labels)                                  # warm-up

    secs = {}

    def ng_phase(key, net):
        def run():
            secs.setdefault(key, []).append(net.train_iteration(x, labels)["seconds"])
            return secs[key][-1]["total"]
        return run

    def np_phase():
        with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
            s = numpy_eprop(ref_net, x, labels)[1]
        secs.setdefault("numpy_eprop", []).append(s)
        return s["total"]

    phases = {name: ng_phase(name, net) for name, net in nets.items()}
    phases["numpy_eprop"] = np_phase
    times, loads = common.interleaved(phases, rounds, verbose=False)
    for r in range(rounds):
        print(f"  round {r + 1}/{rounds}: " + ", ".join(
            f"{n} {times[n][r] / 1e6:.3f}{'*' if loads[n][r] > common.NOISY_DURING else ''}" for n in phases)
            + f" s (* = other processes used > {common.NOISY_DURING * 100:.0f} % of the machine)", flush=True)
    for name in phases:
        tot, n_used = common.robust_median(times[name], loads[name])
        clean = [i for i, l in enumerate(loads[name]) if l <= common.NOISY_DURING]
        use = clean if len(clean) >= 3 else list(range(rounds))
        entry = out.setdefault(name, {})
        entry.update({k: float(np.median([secs[name][i][k] for i in use]))
                      for k in ("simulate", "gradient", "update")})
        entry.update({"total_s": tot / 1e6, "rounds": rounds, "rounds_used": n_used,
                      "spread": common.spread(times[name]), "other_load_max": max(loads[name])})
    np_s = out["numpy_eprop"]["total_s"]
    for name in nets:
        if name.startswith("eprop"):
            out[name]["ratio_numpy"] = np_s / out[name]["total_s"]
    out["numpy_eprop"]["precision"] = "double"
    for name, v in out.items():
        if name == "numpy_eprop":
            print(f"  NumPy e-prop float64: {v['total_s']:.3f} s (forward {v['simulate']:.3f} + gradient "
                  f"{v['gradient']:.3f})", flush=True)
        else:
            rule, prec, *thr = name.split("_")
            ratio = (f"  ->  NumPy e-prop / neurogen = {v['ratio_numpy']:.2f}x" if "ratio_numpy" in v
                     else "")
            print(f"  {rule} {PRECISION_NAMES[prec]}{' ' + thr[0] if thr else ''}: iteration {v['total_s']:.3f} s (simulate {v['simulate']:.3f} + "
                  f"gradient {v['gradient']:.3f} + update {v['update']:.4f}; first {v['first_s']:.2f} s){ratio}",
                  flush=True)
    return out


# ------------------------------------------------------------------------------ memory
def memory_child(rule, precision, batch, iterations):
    """Run inside a fresh process: a whole training run of ``iterations`` iterations; print JSON."""
    import datetime
    from runner import snn_job
    base = proc_status_kb("VmRSS")
    cfg = load_cfg(rule, batch, precision, [f"n_iterations={iterations}", f"validate_every={iterations}",
                                            f"checkpoint_every={iterations}",
                                            f"name=bench_eprop_mem_{rule}_{precision}"])
    t0 = time.perf_counter()
    net = snn_job.build_network(cfg)
    t1 = time.perf_counter()
    after_build = proc_status_kb("VmRSS")
    run_dir = tempfile.mkdtemp(prefix="neurogen_bench_eprop_run_")
    try:
        snn_job.start_recording(run_dir, cfg, net, "benchmark", datetime.datetime.now().isoformat(timespec="seconds"))
        final = snn_job.run_training(cfg, run_dir, net, log=lambda s: None, quiet=True)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    t2 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rule": rule, "precision": precision, "batch": batch, "iterations": iterations,
                      "baseline_rss_gb": rss_gb(base), "after_build_rss_gb": rss_gb(after_build),
                      "peak_rss_gb": rss_gb(peak), "vm_hwm_gb": rss_gb(proc_status_kb("VmHWM")),
                      "build_s": t1 - t0, "run_s": t2 - t1,
                      "final_validation_loss": final.loss if final is not None else None}))


def bench_memory(batch, precisions, iterations):
    out = {}
    for prec in precisions:
        for rule in RULES:
            cmd = [sys.executable, os.path.abspath(__file__), "--memory-child", rule, prec, str(batch), str(iterations),
                   *OVERRIDES]
            p = subprocess.run(cmd, capture_output=True, text=True, cwd=common.ROOT, timeout=3600)
            if p.returncode != 0:
                print(f"  !! memory run {rule} {prec} failed ({p.returncode}):\n{p.stderr[-2000:]}", flush=True)
                out[f"{rule}_{prec}"] = {"failed": True, "returncode": p.returncode}
                continue
            r = json.loads(p.stdout.strip().splitlines()[-1])
            r["vs_reference"] = REFERENCE_MDGL_GB / r["peak_rss_gb"]
            out[f"{rule}_{prec}"] = r
            print(f"  {rule} {PRECISION_NAMES[prec]}: training run of {iterations} iterations + 2 validations "
                  f"(batch {batch}): peak RSS {r['peak_rss_gb']:.2f} GB (VmHWM {r['vm_hwm_gb']:.2f}; after imports "
                  f"{r['baseline_rss_gb']:.2f} GB, "
                  f"after build {r['after_build_rss_gb']:.2f} GB; {r['run_s']:.1f} s)  ->  "
                  f"{r['vs_reference']:.0f}x less than the reference MDGL's ~{REFERENCE_MDGL_GB:.0f} GB", flush=True)
    return out


# ------------------------------------------------------------------------------ main
def targets(res, batch, precisions, thread_counts=(1,)):
    if batch != 64:
        return {"note": f"not evaluated: batch {batch} (the targets are for batch 64)"}
    t = {}
    for prec in precisions:
        name = PRECISION_NAMES[prec]
        for th in thread_counts:
            label = f"{name}, {th} thread{'s' if th > 1 else ''}"
            t[f"e-prop iteration <= {TARGETS['eprop_s']} s ({label})"] = \
                res["iterations"][key("eprop", prec, th)]["total_s"] <= TARGETS["eprop_s"]
            t[f"MDGL iteration <= {TARGETS['mdgl_s']:.0f} s ({label})"] = \
                res["iterations"][key("mdgl", prec, th)]["total_s"] <= TARGETS["mdgl_s"]
        m = (res.get("memory") or {}).get(f"mdgl_{prec}")
        if m and not m.get("failed"):
            t[f"MDGL training run peak RSS < {TARGETS['mdgl_rss_gb']:.0f} GB ({name})"] = \
                m["peak_rss_gb"] < TARGETS["mdgl_rss_gb"]
    return t


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--memory-child":
        rule, prec, batch, iters = argv[1:5]
        OVERRIDES.extend(argv[5:])
        memory_child(rule, prec, int(batch), int(iters))
        return None
    p = common.parser(__doc__.splitlines()[0] + " (--steps is not used: the task fixes T = 2000)")
    p.add_argument("--batch", type=int, default=64, help="trials per iteration (default 64)")
    p.add_argument("--precisions", default="float,double", help="neurogen precisions (default float,double)")
    p.add_argument("--mem-iterations", type=int, default=5, help="iterations of each memory run (default 5)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--reg-c", type=float, default=None,
                   help="rate regulariser strength (default: the configs' 0.1; 0 drops the e-prop synapses' "
                        "summed traces)")
    p.add_argument("--quick", action="store_true", help="batch 8, 2 rounds, 2-iteration memory runs (smoke run)")
    args = p.parse_args(argv)
    if args.quick:
        args.batch, args.rounds, args.mem_iterations = 8, 2, 2
    precisions = [s for s in args.precisions.split(",") if s]
    thread_counts = [int(s) for s in args.threads.split(",") if s]
    for s in precisions:
        if s not in PRECISION_NAMES:
            p.error(f"--precisions: unknown precision {s!r} (float, double)")
    rounds = max(1, args.rounds)
    if args.reg_c is not None:
        OVERRIDES.append(f"network.reg_c={args.reg_c!r}")
    cache = common.use_fresh_cache()
    reg_c = load_cfg("eprop", args.batch, "double")["network"]["reg_c"]
    print(f"\n=== recurrent LIF/ALIF (LSNN), evidence accumulation: BPTT / e-prop / MDGL, batch {args.batch}, "
          f"T {T_STEPS}, 50 LIF + 50 ALIF, 40 inputs, threads {thread_counts}, reg_c {reg_c} ===", flush=True)
    try:
        res = {"benchmark": "eprop", "machine": common.machine_info(), "batch": args.batch, "T": T_STEPS,
               "n_rec": 100, "n_in": 40, "precisions": precisions, "quick": args.quick,
               "reg_c": reg_c, "threads": thread_counts}
        # memory first: Linux carries the parent's peak RSS into a child's ru_maxrss across fork + exec,
        # so the children must start while this process is still small (no models loaded yet)
        res["memory"] = None if args.no_memory else bench_memory(args.batch, precisions, args.mem_iterations)
        res["iterations"] = bench_iterations(args.batch, precisions, rounds, thread_counts)
        res["mem_iterations"] = args.mem_iterations
        res["reference_mdgl_gb"] = REFERENCE_MDGL_GB
        res["noise"] = dict(common.NOISE)
        res["targets"] = targets(res, args.batch, precisions, thread_counts)
        for k, v in res["targets"].items():
            print(f"  target {k}: {'met' if v is True else 'NOT met' if v is False else v}")
        if common.NOISE["noisy_phases"]:
            print(f"  note: {common.NOISE['noisy_phases']} of {common.NOISE['phases']} phases started with other "
                  f"load above {common.QUIET_BUSY * 100:.0f} % (max {common.NOISE['max_busy'] * 100:.0f} %): "
                  "times are noisy")
        common.write_json(args.json, res)
    finally:
        common.drop_cache(cache)
    return res


if __name__ == "__main__":
    main()
