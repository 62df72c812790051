"""Shared helpers of the side-by-side benchmarks (not a test module).

* machine / software description (CPU, cores, gcc, NumPy/SciPy, the BLAS kernel that runs),
* interleaved timing rounds with a pause between phases (so no two spinning thread pools
  overlap: NumPy's OpenBLAS threads spin ~0.1 s after each call),
* a fresh, temporary ``NEUROGEN_CACHE_DIR`` per benchmark process, so the build times it
  reports are cold builds.
"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

#: pause between timed phases, long enough for OpenBLAS / OpenMP spinning threads to sleep
PAUSE_S = 0.3


def use_fresh_cache(keep=False):
    """Point NEUROGEN_CACHE_DIR at a new temporary folder (unless the caller already chose one)."""
    if os.environ.get("NEUROGEN_BENCH_KEEP_CACHE") or keep:
        return None
    d = tempfile.mkdtemp(prefix="neurogen_bench_cache_")
    os.environ["NEUROGEN_CACHE_DIR"] = d
    return d


def drop_cache(d):
    if d:
        shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------------------------------- machine
def _run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def blas_info():
    """The BLAS libraries loaded in this process (threadpoolctl), with the kernel ('architecture')."""
    try:
        import threadpoolctl
    except ImportError:
        return [{"note": "threadpoolctl not installed (pip install -r benchmarks/requirements.txt)"}]
    out = []
    for info in threadpoolctl.threadpool_info():
        out.append({k: (os.path.basename(v) if k == "filepath" else v) for k, v in info.items()
                    if k in ("user_api", "internal_api", "prefix", "version", "architecture", "num_threads",
                             "threading_layer", "filepath")})
    return out


def machine_info():
    import numpy
    import scipy
    lscpu = _run(["lscpu"])
    model = re.search(r"^Model name:\s*(.*)$", lscpu, re.M)
    hyper = re.search(r"^Hypervisor vendor:\s*(.*)$", lscpu, re.M)
    l2 = re.search(r"^L2 cache:\s*(.*)$", lscpu, re.M)
    l3 = re.search(r"^L3 cache:\s*(.*)$", lscpu, re.M)
    flags = re.search(r"^Flags:\s*(.*)$", lscpu, re.M)
    gcc = _run(["gcc", "--version"]).splitlines()
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f"{kb / 2**20:.1f} GiB"
    except OSError:
        pass
    return {
        "cpu_model": model.group(1).strip() if model else platform.processor(),
        "hypervisor": hyper.group(1).strip() if hyper else "none",
        "cores": os.cpu_count(),
        "l2": l2.group(1).strip() if l2 else "?", "l3": l3.group(1).strip() if l3 else "?",
        "avx512": bool(flags and "avx512f" in flags.group(1).split()),
        "memory": mem,
        "gcc": gcc[0] if gcc else "?",
        "python": platform.python_version(),
        "numpy": numpy.__version__, "scipy": scipy.__version__,
        "env": {k: os.environ.get(k, "<unset>") for k in
                ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OMP_WAIT_POLICY",
                 "NEUROGEN_OPT")},
        "blas": blas_info(),
        "load_avg": os.getloadavg(),
    }


def describe_blas(blas):
    parts = []
    for b in blas:
        if "note" in b:
            parts.append(b["note"])
            continue
        parts.append(f"{b.get('filepath', b.get('prefix'))} {b.get('version')} kernel={b.get('architecture')} "
                     f"threads={b.get('num_threads')}")
    return "; ".join(parts)


# ---------------------------------------------------------------------------------------- timing
def _cpu_times():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v[:8]), idle


def busy_fraction(window=PAUSE_S):
    """Fraction of all CPUs busy during ``window`` seconds while this process sleeps (= other load)."""
    t0, i0 = _cpu_times()
    time.sleep(window)
    t1, i1 = _cpu_times()
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


#: the machine is shared (the engine's own tests may be running): wait for other load to drop
QUIET_BUSY = 0.15
QUIET_MAX_WAIT_S = float(os.environ.get("NEUROGEN_BENCH_MAX_WAIT", "120"))
NOISE = {"max_busy": 0.0, "waited_s": 0.0, "noisy_phases": 0, "phases": 0}


def wait_quiet():
    """Pause (>= PAUSE_S, so spinning BLAS/OpenMP threads go to sleep) until the other CPU load is low."""
    t0 = time.perf_counter()
    busy = busy_fraction()
    while busy > QUIET_BUSY and time.perf_counter() - t0 < QUIET_MAX_WAIT_S:
        busy = busy_fraction(0.5)
    NOISE["waited_s"] += time.perf_counter() - t0
    NOISE["max_busy"] = max(NOISE["max_busy"], busy)
    NOISE["phases"] += 1
    NOISE["noisy_phases"] += busy > QUIET_BUSY
    return busy


def _stat_busy_s():
    """(busy CPU-seconds of the whole machine, wall-clock CPU-seconds) from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    total = sum(v[:8])
    return (total - v[3] - v[4]) / hz, total / hz


#: CPU affinity of this process when the benchmark started. Loading a num_threads > 1 neurogen model
#: sets OMP_PROC_BIND=true, and libgomp then pins the *calling* (Python main) thread to one CPU for
#: good, together with every thread it creates afterwards. The benchmarks therefore give each
#: neurogen model the mask it had right after its load, and the NumPy phases the original mask.
FULL_MASK = frozenset(os.sched_getaffinity(0))


_GOMP_MASK = []


def capture_mask(num_threads):
    """The mask a freshly started process would run this model with (libgomp pins the caller once,
    when it is first loaded, so later models in this process reuse that first pinned mask);
    restores the full mask for everything else."""
    mask = frozenset(os.sched_getaffinity(0))
    os.sched_setaffinity(0, FULL_MASK)
    if mask != FULL_MASK and not _GOMP_MASK:
        _GOMP_MASK.append(mask)
    if num_threads > 1 and _GOMP_MASK:
        return _GOMP_MASK[0]
    return mask


def with_mask(mask, fn):
    """Wrap ``fn`` so that it runs with this thread's CPU affinity set to ``mask``."""
    def wrapped():
        os.sched_setaffinity(0, mask)
        try:
            return fn()
        finally:
            os.sched_setaffinity(0, FULL_MASK)
    return wrapped


def run_phase(fn):
    """Run one timed phase; return (its result, share of the machine used by *other* processes)."""
    b0, t0 = _stat_busy_s()
    c0 = time.process_time()
    r = fn()
    c1 = time.process_time()
    b1, t1 = _stat_busy_s()
    other = max(0.0, (b1 - b0) - (c1 - c0)) / max(t1 - t0, 1e-9)
    return r, min(1.0, other)


#: a phase during which other processes used more than this share of the machine counts as noisy
NOISY_DURING = 0.2


def interleaved(phases, rounds, verbose=True):
    """Run ``phases`` (name -> callable returning seconds per step) in interleaved rounds.

    The order rotates each round so no phase always runs first / right after another; before
    each phase we wait for the machine to be quiet (see ``wait_quiet``), and we measure how much
    of the machine other processes used *during* the phase. Returns (name -> list of µs/step,
    name -> list of that other-load share). Use ``robust_median`` to drop noisy rounds.
    """
    names = list(phases)
    out = {n: [] for n in names}
    load = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            wait_quiet()
            sec, other = run_phase(phases[n])
            out[n].append(sec * 1e6)
            load[n].append(other)
        if verbose:
            print(f"  round {r + 1}/{rounds}: " + ", ".join(
                f"{n} {out[n][-1]:.1f}{'*' if load[n][-1] > NOISY_DURING else ''}" for n in names)
                + " µs/step (* = other processes used > "
                f"{NOISY_DURING * 100:.0f} % of the machine during that phase)", flush=True)
    return out, load


def robust_median(values, loads):
    """Median over the rounds without heavy other load (all rounds if fewer than 3 are clean)."""
    clean = [v for v, l in zip(values, loads) if l <= NOISY_DURING]
    return (med(clean), len(clean)) if len(clean) >= 3 else (med(values), len(values))


def med(xs):
    return statistics.median(xs)


def spread(xs):
    """(min, max) relative to the median, as a short string."""
    m = med(xs)
    return f"{min(xs) / m:.2f}-{max(xs) / m:.2f}"


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------------------- CLI
def parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds (default 5)")
    p.add_argument("--steps", type=int, default=10_000, help="time steps per run (default 10000)")
    p.add_argument("--threads", default="1,2", help="neurogen num_threads values to time (default 1,2)")
    p.add_argument("--json", help="write the results to this JSON file")
    p.add_argument("--profile", action="store_true", help="also time sub-models to see where time goes")
    return p


def write_json(path, data):
    if path:
        with open(path, "w") as f:
            json.dump(data, f, indent=1, default=float)
