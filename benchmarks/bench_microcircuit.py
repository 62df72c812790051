"""Benchmark (c): dendritic microcircuit (PAL / FA), neurogen vs the vectorised NumPy reference.

What it measures, side by side in one process (float32, one thread, targets of issue 3):
  1. one yin-yang 4-30-3 training epoch (6,000 samples x 100 steps) for the FA and the PAL config:
     neurogen runs the whole epoch; the NumPy reference (tests/shadows/microcircuit_numpy.py, the
     same equations, one matrix product per weight matrix per step) runs ``--ref-samples`` samples
     and is extrapolated per step (it takes ~10 s per epoch). Target: <= 2 s and >= 10x.
  2. recording overhead: a PAL epoch (validation + training, as the runner does it) with the
     runner's default recording (readout, sample traces of 9 variables, HDF5 writes of metrics,
     predictions, traces and weights, and the epoch checkpoint) vs the readout alone. Target < 10 %.
  3. one MNIST 784-100-10 PAL epoch (50,000 training + 10,000 validation samples x 100 steps):
     ``--mnist-samples`` of each stage timed and extrapolated, or ``--mnist-full`` for a whole epoch,
     for each neurogen thread count of ``--threads`` (default 1,2). Target <= 120 s (best count). Uses the real MNIST when $NEUROGEN_DATA_DIR has it (timing does not depend on
     the pixel values otherwise).
  4. the 10-seed, 400-epoch yin-yang sweep this implies on 2 cores (two runs at a time).

Usage:  python benchmarks/bench_microcircuit.py [--rounds 3] [--ref-samples 150] [--mnist-samples 1000]
"""
import os
import shutil
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

sys.path.insert(0, os.path.join(common.ROOT, "examples"))
sys.path.insert(0, os.path.join(common.ROOT, "tests"))

FA = {"eta": {"up": [50.0, 0.01], "down": [0.0, 0.0], "ip": [0.05, 0.0], "pi": [0.0, 0.0]}, "noise_sig": 0.0}
PAL = {"eta": {"up": [50.0, 0.01], "down": [0.0, 0.5], "ip": [0.05, 0.0], "pi": [0.02, 0.0]}, "noise_sig": 0.01}
MNIST_PAL = {"eta": {"up": [1.0, 0.005], "down": [0.0, 0.2], "ip": [0.02, 0.0], "pi": [0.02, 0.0]},
             "noise_sig": 0.01}
STEPS = 100


def yinyang():
    from datasets import yinyang_splits
    return yinyang_splits("pal")


def neurogen_net(dims, params, data, traces=(), threads=1):
    from networks.microcircuit import Microcircuit
    return Microcircuit(dims, params, data, seeds=[123456], precision="float", num_threads=threads,
                        trace_vars=traces, trace_samples=20 if traces else 0)


def numpy_ref(dims, params):
    from shadows.microcircuit_numpy import NumpyMicrocircuit
    return NumpyMicrocircuit(dims, {**params, "dt": 0.01}, dtype=np.float32, seed=123456)


def bench_yinyang_epoch(rounds, ref_samples):
    sp = yinyang()
    X, y = sp["train"]
    out = {}
    for label, params in (("FA", FA), ("PAL", PAL)):
        net = neurogen_net([4, 30, 3], params, {"training": (X, y)})
        ref = numpy_ref([4, 30, 3], params)
        ng, rf = [], []
        net.run_stage("training", True)                               # warm-up (page faults, caches)
        for _ in range(rounds):
            common.wait_quiet()
            t0 = time.perf_counter()
            net.run_stage("training", True)
            ng.append(time.perf_counter() - t0)
            common.wait_quiet()
            t0 = time.perf_counter()
            ref.run_samples(X[:ref_samples], y[:ref_samples], learning_on=True)
            rf.append((time.perf_counter() - t0) * len(y) / ref_samples)
        out[label] = {"neurogen_s": float(np.median(ng)), "numpy_s": float(np.median(rf)),
                      "ratio": float(np.median(rf) / np.median(ng)), "rounds": rounds,
                      "numpy_samples_timed": ref_samples}
        print(f"  yin-yang {label} training epoch (6000 samples): neurogen {out[label]['neurogen_s']:.3f} s, "
              f"NumPy {out[label]['numpy_s']:.2f} s (from {ref_samples} samples)  ->  {out[label]['ratio']:.1f}x",
              flush=True)
    return out


def bench_recording(rounds):
    """The runner's epoch with its default recording against the readout alone."""
    from runner.microcircuit_job import DEFAULT_TRACES, save_checkpoint
    from runner.recorder import Recorder
    sp = yinyang()
    data = {"training": sp["train"], "validation": sp["validation"]}
    bare = neurogen_net([4, 30, 3], PAL, data)
    full = neurogen_net([4, 30, 3], PAL, data, traces=DEFAULT_TRACES)
    tmp = tempfile.mkdtemp(prefix="neurogen_bench_rec_")
    try:
        rec = Recorder(tmp, 1, full.recs_per_sample)
        rec.start({"name": "bench"}, data)

        def epoch(net, record):
            for stage, learning in (("validation", False), ("training", True)):
                r = net.run_stage(stage, learning)
                if record:
                    rec.stage(0, r, np.arange(r.predictions.shape[1]), not learning, net.alignment_angles()[0])
            if record:
                rec.weights(0, net.get_weights())
                save_checkpoint(tmp, net, 1)

        epoch(bare, False)
        epoch(full, True)
        tb, tf = [], []
        for _ in range(rounds):
            common.wait_quiet()
            t0 = time.perf_counter()
            epoch(bare, False)
            tb.append(time.perf_counter() - t0)
            common.wait_quiet()
            t0 = time.perf_counter()
            epoch(full, True)
            tf.append(time.perf_counter() - t0)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out = {"readout_only_s": float(np.median(tb)), "default_recording_s": float(np.median(tf))}
    out["overhead"] = out["default_recording_s"] / out["readout_only_s"] - 1.0
    print(f"  recording: epoch {out['readout_only_s']:.3f} s readout only, {out['default_recording_s']:.3f} s with "
          f"the default recording, HDF5 writes and checkpoint  ->  overhead {100 * out['overhead']:+.1f} %",
          flush=True)
    return out


def mnist_data(n_train, n_val):
    try:
        from datasets import load_mnist, mnist_pal_splits
        sp = mnist_pal_splits(load_mnist("mnist"))
        return {"training": (sp["train"][0][:n_train], sp["train"][1][:n_train]),
                "validation": (sp["validation"][0][:n_val], sp["validation"][1][:n_val])}, "MNIST"
    except Exception as exc:            # noqa: BLE001 - any missing-data problem: time on synthetic inputs
        print(f"  (MNIST not available: {str(exc).splitlines()[0]}; timing on synthetic sparse inputs)")
        rng = np.random.default_rng(0)
        X = (rng.uniform(0, 1, (max(n_train, n_val), 784)) * (rng.uniform(0, 1, (max(n_train, n_val), 784)) < 0.19))
        y = rng.integers(0, 10, len(X))
        return {"training": (X[:n_train], y[:n_train]), "validation": (X[:n_val], y[:n_val])}, "synthetic"


def bench_mnist(samples, full, ref_samples, threads=1):
    n_train, n_val = (50_000, 10_000) if full else (samples, samples)
    data, source = mnist_data(n_train, n_val)
    net = neurogen_net([784, 100, 10], MNIST_PAL, data, threads=threads)
    common.wait_quiet()
    t0 = time.perf_counter()
    net.run_stage("training", True)
    t_train = time.perf_counter() - t0
    common.wait_quiet()
    t0 = time.perf_counter()
    net.run_stage("validation", False)
    t_val = time.perf_counter() - t0
    epoch = t_train * 50_000 / n_train + t_val * 10_000 / n_val
    ref = numpy_ref([784, 100, 10], MNIST_PAL)
    X, y = data["training"]
    common.wait_quiet()
    t0 = time.perf_counter()
    ref.run_samples(X[:ref_samples], y[:ref_samples], learning_on=True)
    t_ref = (time.perf_counter() - t0) / ref_samples * 50_000
    out = {"data": source, "threads": threads, "samples_timed": [n_train, n_val], "train_s_per_sample": t_train / n_train,
           "val_s_per_sample": t_val / n_val, "epoch_s": epoch, "numpy_training_s": t_ref,
           "ratio_training": t_ref / (t_train * 50_000 / n_train)}
    print(f"  MNIST 784-100-10 PAL epoch ({source}, {threads} thread{'s' if threads > 1 else ''}; "
          f"{'whole epoch' if full else f'{n_train} + {n_val} samples timed'}): "
          f"{epoch:.1f} s  (training {t_train * 50_000 / n_train:.1f} s, validation {t_val * 10_000 / n_val:.1f} s); "
          f"NumPy training part {t_ref:.0f} s (from {ref_samples} samples)  ->  {out['ratio_training']:.1f}x", flush=True)
    return out


def main(argv=None):
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--ref-samples", type=int, default=150)
    p.add_argument("--mnist-samples", type=int, default=1000)
    p.add_argument("--mnist-ref-samples", type=int, default=20)
    p.add_argument("--mnist-full", action="store_true")
    p.set_defaults(rounds=3)
    args = p.parse_args(argv)
    cache = common.use_fresh_cache()
    rounds = max(1, args.rounds)
    print("\n=== dendritic microcircuit (LE, PAL/FA), float32, 1 thread (MNIST: each of --threads) ===", flush=True)
    try:
        res = {"benchmark": "microcircuit", "machine": common.machine_info()}
        res["yinyang_epoch"] = bench_yinyang_epoch(rounds, args.ref_samples)
        res["recording"] = bench_recording(rounds)
        # MNIST for each thread count (the dense 784 x 100 plastic synapses dominate; two threads
        # would each hold half of them in L2, but pay about ten barriers per step)
        res["mnist_threads"] = {th: bench_mnist(args.mnist_samples, args.mnist_full, args.mnist_ref_samples, th)
                                for th in [int(t) for t in args.threads.split(",") if t]}
        best = min(res["mnist_threads"], key=lambda th: res["mnist_threads"][th]["epoch_s"])
        res["mnist"] = res["mnist_threads"][best]
        per_epoch = {k: v["neurogen_s"] * 6900 / 6000 for k, v in res["yinyang_epoch"].items()}
        sweep_min = {k: 10 * 400 * (t * (1 + res["recording"]["overhead"])) / 2 / 60 for k, t in per_epoch.items()}
        res["sweep_estimate_min"] = sweep_min
        print("  10-seed x 400-epoch yin-yang sweep on 2 cores (estimated from the epoch times): "
              + ", ".join(f"{k} {v:.0f} min" for k, v in sweep_min.items()), flush=True)
        res["noise"] = dict(common.NOISE)
        targets = {"yinyang epoch <= 2 s": max(v["neurogen_s"] for v in res["yinyang_epoch"].values()) <= 2.0,
                   "yinyang >= 10x NumPy": min(v["ratio"] for v in res["yinyang_epoch"].values()) >= 10.0,
                   "recording overhead < 10 %": res["recording"]["overhead"] < 0.10,
                   f"MNIST epoch <= 120 s ({best} thread{'s' if best > 1 else ''})": res["mnist"]["epoch_s"] <= 120.0,
                   "sweep <= 90 min": max(sweep_min.values()) <= 90.0}
        res["targets"] = targets
        for k, v in targets.items():
            print(f"  target {k}: {'met' if v else 'NOT met'}")
        common.write_json(args.json, res)
    finally:
        common.drop_cache(cache)


if __name__ == "__main__":
    main()
