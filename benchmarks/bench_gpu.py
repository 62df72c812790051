"""GPU benchmark: the engine benchmarks (dense 784-500-10 at batch 1 and 32; 4,000 LIF, 10 % sparse)
on backend='cuda', side by side with the CPU backend in one run.

    python benchmarks/bench_gpu.py [--steps 10000] [--rounds 3]

Needs an NVIDIA GPU and nvcc. Without a GPU it says so and exits with status 2 (nothing is timed).
Both engines build the same model definitions (the benchmark scripts' builders; the backend is
chosen with NEUROGEN_BACKEND); `run(n)` on the GPU returns after the device has finished.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def timed_run(model, steps):
    model.run(100)                       # warm-up (first launches, caches)
    t0 = time.perf_counter()
    model.run(steps)
    return 1e6 * (time.perf_counter() - t0) / steps


def build(kind, backend, batch=1):
    os.environ["NEUROGEN_BACKEND"] = backend
    try:
        if kind == "dense":
            import bench_dense_rate as dense
            w1, w2, r_in = dense.make_data(batch)
            model = dense.build_neurogen(batch, 1, w1, w2, r_in, name=f"gpu_dense_{backend}_b{batch}")
        else:
            import bench_sparse_lif as sparse
            model, _ = sparse.build_neurogen(1, name=f"gpu_sparse_{backend}")
    finally:
        del os.environ["NEUROGEN_BACKEND"]
    return model[0] if isinstance(model, tuple) else model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    from neurogen.backends.cuda import cuda_available, gpu_count
    ok, why = cuda_available()
    if not ok:
        print(f"bench_gpu: cannot run on this machine: {why}")
        return 2
    print(f"GPUs: {gpu_count()}")
    rows = []
    for kind, batch in (("dense", 1), ("dense", 32), ("sparse", 1)):
        models = {backend: build(kind, backend, batch) for backend in ("cpu", "cuda")}
        times = {backend: [] for backend in models}
        for _ in range(args.rounds):
            for backend, model in models.items():
                times[backend].append(timed_run(model, args.steps))
        cpu, gpu = np.median(times["cpu"]), np.median(times["cuda"])
        rows.append((f"{kind} batch {batch}", cpu, gpu, cpu / gpu))
    print("| benchmark | CPU backend µs/step | CUDA µs/step | CPU / CUDA |")
    print("| --- | --- | --- | --- |")
    for name, cpu, gpu, ratio in rows:
        print(f"| {name} | {cpu:.1f} | {gpu:.1f} | {ratio:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
