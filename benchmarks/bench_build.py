"""Benchmark (c): build times of a small model: cold (fresh NEUROGEN_CACHE_DIR) and cached re-loads.

The small model: two LIF populations of 100 neurons, a SPARSE StaticPulse group (FixedProbability 0.1,
ExpCurr) between them and a DC current source. Every measurement runs in a fresh Python process:
    cold          : empty cache folder -> build() generates C and runs the compiler, then load()
    cached (2nd process): same cache folder, identical model -> build() must find the library
    cached (same process): a second, identical GeNNModel built in the process that built the first
Reported: import time of neurogen, build() and load() times, how much of build() was spent in
compiler subprocesses (measured by wrapping subprocess.run in the child), and the first run(100).

Usage:  python benchmarks/bench_build.py [--repeats 5]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGET_COLD_S = 1.5
TARGET_CACHED_S = 0.1


def child(mode):
    """Runs in a fresh process; prints one JSON line."""
    t0 = time.perf_counter()
    sys.path.insert(0, ROOT)
    import neurogen  # noqa: F401
    from neurogen import GeNNModel, init_postsynaptic, init_sparse_connectivity, init_weight_update
    t_import = time.perf_counter() - t0

    sub = {"n": 0, "s": 0.0, "cmds": []}
    real_run = subprocess.run

    def timed_run(cmd, *a, **k):
        s = time.perf_counter()
        try:
            return real_run(cmd, *a, **k)
        finally:
            sub["n"] += 1
            sub["s"] += time.perf_counter() - s
            sub["cmds"].append(os.path.basename(str(cmd[0])) + (" --version" if "--version" in cmd else ""))
    subprocess.run = timed_run

    def make():
        m = GeNNModel("float", "small_build_bench")
        m.dt = 0.1
        lif = {"C": 1.0, "TauM": 20.0, "Vrest": -60.0, "Vreset": -60.0, "Vthresh": -50.0, "Ioffset": 0.0,
               "TauRefrac": 2.0}
        a = m.add_neuron_population("A", 100, "LIF", lif, {"V": -60.0, "RefracTime": 0.0})
        b = m.add_neuron_population("B", 100, "LIF", lif, {"V": -60.0, "RefracTime": 0.0})
        m.add_current_source("drive", "DC", a, {"amp": 0.7})
        m.add_synapse_population("AB", "SPARSE", a, b, init_weight_update("StaticPulse", {}, {"g": 0.05}),
                                 init_postsynaptic("ExpCurr", {"tau": 5.0}),
                                 init_sparse_connectivity("FixedProbability", {"prob": 0.1}))
        return m

    def one():
        m = make()
        n0, s0 = sub["n"], sub["s"]
        t = time.perf_counter()
        m.build()
        t_build = time.perf_counter() - t
        t = time.perf_counter()
        m.load()
        t_load = time.perf_counter() - t
        t = time.perf_counter()
        m.run(100)
        t_run = time.perf_counter() - t
        return {"build_s": t_build, "load_s": t_load, "run100_s": t_run, "subprocess_s": sub["s"] - s0,
                "subprocesses": sub["n"] - n0}

    out = {"import_s": t_import, "first": one()}
    if mode == "twice":
        out["second"] = one()
    out["cmds"] = sub["cmds"]
    print(json.dumps(out))


def spawn(mode, cache, extra_env=None, drop_env=()):
    env = dict(os.environ, NEUROGEN_CACHE_DIR=cache, **(extra_env or {}))
    for k in drop_env:
        env.pop(k, None)
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", mode], env=env,
                       capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-3000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args.child)
    sys.path.insert(0, HERE)
    import common
    res = {"benchmark": "build", "repeats": args.repeats, "variants": {},
           "env_PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE", "<unset>")}
    pyc_dir = tempfile.mkdtemp(prefix="neurogen_bench_pyc_")
    variants = [("env", "environment as given (PYTHONDONTWRITEBYTECODE="
                 f"{res['env_PYTHONDONTWRITEBYTECODE']}: Python recompiles neurogen's .py files in every process)",
                 {}, ()),
                ("pyc", "bytecode cache on (PYTHONPYCACHEPREFIX=<tmp>, warmed once; nothing written under neurogen/)",
                 {"PYTHONPYCACHEPREFIX": pyc_dir}, ("PYTHONDONTWRITEBYTECODE",))]
    print("\n=== build times of a small model (fresh processes) ===", flush=True)
    for key, desc, extra, drop in variants:
        if key == "pyc":
            with tempfile.TemporaryDirectory(prefix="neurogen_build_bench_") as cache:
                spawn("once", cache, extra, drop)        # writes the .pyc files; not timed
        print(f"  [{key}] {desc}", flush=True)
        cold, cached2, same = [], [], []
        for r in range(args.repeats):
            common.wait_quiet()
            with tempfile.TemporaryDirectory(prefix="neurogen_build_bench_") as cache:
                c = spawn("twice", cache, extra, drop)   # cold build, then the identical model again in-process
                common.wait_quiet()
                w = spawn("once", cache, extra, drop)    # second process, warm cache
            cold.append({**c["first"], "import_s": c["import_s"]})
            same.append(c["second"])
            cached2.append({**w["first"], "import_s": w["import_s"]})
            print(f"    repeat {r + 1}: cold build {c['first']['build_s']:.3f} s (compiler "
                  f"{c['first']['subprocess_s']:.3f} s in {c['first']['subprocesses']} subprocesses) + load "
                  f"{c['first']['load_s'] * 1e3:.1f} ms; cached 2nd process build {w['first']['build_s'] * 1e3:.1f} ms"
                  f" + load {w['first']['load_s'] * 1e3:.1f} ms ({w['first']['subprocesses']} subprocesses, "
                  f"{w['first']['subprocess_s'] * 1e3:.1f} ms); same process build "
                  f"{c['second']['build_s'] * 1e3:.1f} ms + load {c['second']['load_s'] * 1e3:.1f} ms; "
                  f"import neurogen {c['import_s'] * 1e3:.0f} ms", flush=True)

        def medof(rows, k):
            return statistics.median(r[k] for r in rows)

        v = {"description": desc}
        for name, rows in (("cold", cold), ("cached_second_process", cached2), ("cached_same_process", same)):
            v[name] = {k: medof(rows, k) for k in rows[0] if isinstance(rows[0][k], (int, float))}
            v[name]["build_plus_load_s"] = medof(rows, "build_s") + medof(rows, "load_s")
        v["cold_met"] = v["cold"]["build_plus_load_s"] <= TARGET_COLD_S
        v["cached_met"] = max(v["cached_second_process"]["build_plus_load_s"],
                              v["cached_same_process"]["build_plus_load_s"]) < TARGET_CACHED_S
        res["variants"][key] = v
        print(f"    median cold build+load {v['cold']['build_plus_load_s']:.3f} s (target <= {TARGET_COLD_S} s: "
              f"{'MET' if v['cold_met'] else 'NOT MET'}); cached build+load: 2nd process "
              f"{v['cached_second_process']['build_plus_load_s'] * 1e3:.1f} ms, same process "
              f"{v['cached_same_process']['build_plus_load_s'] * 1e3:.1f} ms (target << "
              f"{TARGET_CACHED_S * 1e3:.0f} ms: {'MET' if v['cached_met'] else 'NOT MET'})", flush=True)
    import shutil
    shutil.rmtree(pyc_dir, ignore_errors=True)
    res["targets"] = {"cold_s": TARGET_COLD_S, "cached_s": TARGET_CACHED_S}
    res["noise"] = dict(common.NOISE)
    common.write_json(args.json, res)
    return res


if __name__ == "__main__":
    main()
