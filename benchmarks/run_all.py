"""Run every benchmark in its own process and print one markdown report.

    python benchmarks/run_all.py                    # OPENBLAS_CORETYPE unset for the benchmark processes
    python benchmarks/run_all.py --keep-openblas-coretype
    python benchmarks/run_all.py --quick            # 2 rounds, 2,000 steps: a smoke run, not for RESULTS.md
    python benchmarks/run_all.py --only microcircuit   # one benchmark
    python benchmarks/run_all.py --only eprop       # BPTT / e-prop / MDGL (optional: not in the default list)

The machine's environment may set OPENBLAS_CORETYPE (older OpenBLAS builds misbehave on this CPU);
cpu_performance.md allows a benchmark to unset it in its own command, so by default the children
run without it and the report states the kernel that actually ran (threadpoolctl) and both env states.
"""
import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from bench_eprop import key as eprop_key  # noqa: E402


def run_child(script, extra, env, timeout):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    cmd = [sys.executable, os.path.join(HERE, script), "--json", path, *extra]
    print(f"\n$ {' '.join(cmd[1:])}", flush=True)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, cwd=os.path.dirname(HERE), timeout=timeout)
    wall = time.perf_counter() - t0
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        data = None
    finally:
        if os.path.exists(path):
            os.unlink(path)
    if p.returncode != 0 or data is None:
        print(f"!! {script} failed with exit code {p.returncode}", flush=True)
        return {"failed": True, "returncode": p.returncode, "wall_s": wall}
    data["wall_s"] = wall
    return data


def yes(b):
    return "**yes**" if b else "**NO**"


def markdown(results, machine, env_note, cmdline):
    L = []
    L.append("### Machine and software")
    L.append("")
    L.append(f"- CPU: {machine['cpu_model']} ({machine['cores']} cores, hypervisor {machine['hypervisor']}, "
             f"L2 {machine['l2']}, L3 {machine['l3']}, AVX-512: {machine['avx512']}), memory {machine['memory']}")
    L.append(f"- compiler: {machine['gcc']}; Python {machine['python']}, NumPy {machine['numpy']}, "
             f"SciPy {machine['scipy']}")
    L.append(f"- BLAS loaded in the benchmark processes: {common.describe_blas(machine['blas'])}")
    L.append(f"- {env_note}")
    L.append(f"- command: `{cmdline}`")
    L.append("")
    dense = results.get("dense")
    if dense and not dense.get("failed"):
        L.append("### (a) Dense rate network 784-500-10, 10,000 steps, float32 (median µs/step)")
        L.append("")
        labels = list(dense["results"][0]["neurogen"])
        names = {"t1": "neurogen 1 thr", "t2": "neurogen 2 thr", "t1_blas": "neurogen 1 thr + use_blas",
                 "t2_blas": "neurogen 2 thr + use_blas"}
        L.append("| batch | " + " | ".join(names.get(x, x) for x in labels)
                 + " | NumPy (BLAS 2 thr) | NumPy (BLAS 1 thr) | ratio best ref / best neurogen (median of per-round "
                 "ratios) | target | met | "
                 "agreement (rtol 1e-4) |")
        L.append("|" + " --- |" * (len(labels) + 7))
        for r in dense["results"]:
            ng = r["neurogen"]
            cell = lambda t: (f"{ng[t]['us_per_step']:.1f} ({ng[t]['gflops']:.0f} GFLOP/s)" if t in ng else "-")  # noqa
            agree = all(v["agree"] for v in ng.values())
            L.append(f"| {r['batch']} | " + " | ".join(cell(x) for x in labels)
                     + f" | {r['reference']['numpy']['us_per_step']:.1f} | "
                     f"{r['reference']['numpy_blas1']['us_per_step']:.1f} | {r['ratio']:.2f}x "
                     f"({r['best_ref']} / {r['best_config']}; of medians {r.get('ratio_of_medians', r['ratio']):.2f}x) | >= {r['target']}x | {yes(r['met'])} | "
                     f"{'OK' if agree else 'MISMATCH'} |")
        L.append("")
    sparse = results.get("sparse")
    if sparse and not sparse.get("failed"):
        ng = {int(k): v for k, v in sparse["neurogen"].items()}
        L.append("### (b) Sparse LIF 4,000 (80/20), 10 % FixedProbability, dt 0.1 ms, 10,000 steps, float32")
        L.append("")
        L.append("| neurogen 1 thr | neurogen 2 thr | NumPy + scipy.sparse CSR | ratio (median of per-round ratios) "
                 "| target | met | "
                 "rate | agreement |")
        L.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
        cell = lambda t: f"{ng[t]['us_per_step']:.2f}" if t in ng else "-"  # noqa: E731
        ident = all(v["identical_spikes"] for v in ng.values())
        L.append(f"| {cell(1)} | {cell(2)} | {sparse['reference']['numpy']['us_per_step']:.2f} | "
                 f"{sparse['ratio']:.2f}x ({sparse['best_threads']} thr; of medians "
                 f"{ng[sparse['best_threads']].get('ratio_of_medians', sparse['ratio']):.2f}x) | >= {sparse['target']}x | "
                 f"{yes(sparse['met'])} | {sparse['rate_hz_reference']:.1f} Hz | "
                 f"{'identical spike trains' if ident else 'rates within 5 %' if all(v['agree'] for v in ng.values()) else 'MISMATCH'} |")
        L.append("")
    prof_lines = []
    if dense and not dense.get("failed"):
        for r in dense["results"]:
            for label, pr in (r.get("profile") or {}).items():
                if "kernels_us" in pr:
                    prof_lines.append((f"dense b{r['batch']} {label}", pr))
                else:
                    prof_lines.append((f"dense b{r['batch']} {label}", {"kernels_us": pr, "total_us": None}))
    if sparse and not sparse.get("failed"):
        for label, pr in (sparse.get("profile") or {}).items():
            if "kernels_us" in pr:
                prof_lines.append((f"sparse {label}", pr))
            else:
                prof_lines.append((f"sparse {label}", {"kernels_us": {k: v for k, v in pr.items()
                                                                       if isinstance(v, float)}, "total_us": None}))
    if prof_lines:
        L.append("### Where the time goes (µs/step; neurogen: per generated kernel call, thread 0's view)")
        L.append("")
        L.append("| run | breakdown | total |")
        L.append("| --- | --- | --- |")
        for name, pr in prof_lines:
            ks = ", ".join(f"{k.replace('ng_', '').replace('_code', '')} {v:.2f}" for k, v in pr["kernels_us"].items())
            tot = f"{pr['total_us']:.2f}" if pr.get("total_us") else "-"
            L.append(f"| {name} | {ks} | {tot} |")
        L.append("")
    mc = results.get("microcircuit")
    if mc and not mc.get("failed"):
        L.append("### (d) Dendritic microcircuit (LE; FA and PAL), float32, 1 thread (MNIST: 1 and 2)")
        L.append("")
        L.append("| measurement | neurogen | NumPy reference | ratio | target | met |")
        L.append("| --- | --- | --- | --- | --- | --- |")
        t = mc["targets"]
        for label, v in mc["yinyang_epoch"].items():
            L.append(f"| yin-yang 4-30-3 {label} training epoch (6,000 samples x 100 steps) | {v['neurogen_s']:.3f} s | "
                     f"{v['numpy_s']:.2f} s (from {v['numpy_samples_timed']} samples) | {v['ratio']:.1f}x | "
                     f"<= 2 s, >= 10x | {yes(v['neurogen_s'] <= 2.0 and v['ratio'] >= 10)} |")
        r = mc["recording"]
        L.append(f"| PAL epoch (validation + training): default recording, HDF5 writes, checkpoint vs readout only | "
                 f"{r['default_recording_s']:.3f} s vs {r['readout_only_s']:.3f} s | - | {100 * r['overhead']:+.1f} % | "
                 f"< 10 % | {yes(t['recording overhead < 10 %'])} |")
        met = {k: v for k, v in t.items() if k.startswith("MNIST epoch")}
        for th, m in sorted((mc.get("mnist_threads") or {"1": mc["mnist"]}).items()):
            ok = [v for k, v in met.items() if f"({th} thread" in k]
            L.append(f"| MNIST 784-100-10 PAL epoch (50,000 training + 10,000 validation samples; {m['data']}, "
                     f"{m['samples_timed'][0]} + {m['samples_timed'][1]} samples timed), {th} thread(s) | "
                     f"{m['epoch_s']:.1f} s | {m['numpy_training_s']:.0f} s (training part) | "
                     f"{m['ratio_training']:.1f}x | <= 120 s | {yes(ok[0]) if ok else '-'} |")
        sw = mc["sweep_estimate_min"]
        L.append("| 10-seed x 400-epoch yin-yang sweep, 2 runs at a time (estimate) | "
                 + ", ".join(f"{k} {v:.0f} min" for k, v in sw.items()) + f" | - | - | <= 90 min | "
                 f"{yes(t['sweep <= 90 min'])} |")
        L.append("")
    ep = results.get("eprop")
    if ep and not ep.get("failed"):
        prec_name = {"float": "float32", "double": "float64"}
        L.append(f"### (e) Recurrent LIF/ALIF (LSNN) evidence accumulation, BPTT / e-prop / MDGL: one training "
                 f"iteration (batch {ep['batch']}, T {ep['T']}, 50 LIF + 50 ALIF, 40 inputs, reg_c {ep.get('reg_c')})"
                 + (" (quick run: not for RESULTS.md)" if ep.get("quick") else ""))
        L.append("")
        L.append("| rule | neurogen precision, threads | iteration (median) | simulate | gradient | update | first iteration | "
                 "NumPy e-prop, float64 (forward + adjoint gradient) | ratio NumPy / neurogen | "
                 f"peak RSS, training run of {ep['mem_iterations']} iterations + 2 validations | target | met |")
        L.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        it, mem, np_ = ep["iterations"], ep.get("memory") or {}, ep["iterations"]["numpy_eprop"]
        limits = {"eprop": ("<= 0.5 s", lambda v, m: v["total_s"] <= 0.5),
                  "mdgl": ("<= 1 s, < 2 GB", lambda v, m: v["total_s"] <= 1.0 and (m is None or
                                                                           m["peak_rss_gb"] < 2.0))}
        for prec, th, rule in itertools.product(ep["precisions"], ep.get("threads", [1]), ("bptt", "eprop", "mdgl")):
            v = it[eprop_key(rule, prec, th)]
            m = mem.get(f"{rule}_{prec}") if th == 1 else None      # memory runs use one thread
            m = m if m and not m.get("failed") else None
            target, ok = limits.get(rule, ("-", None))
            met = "-" if ok is None else ("n/a (batch != 64)" if ep["batch"] != 64 else yes(ok(v, m)))
            rss = f"{m['peak_rss_gb']:.2f} GB" if m else "-"
            L.append(f"| {rule} | {prec_name[prec]}, {th} | {v['total_s']:.3f} s | {v['simulate']:.3f} s | "
                     f"{v['gradient']:.3f} s | {v['update'] * 1e3:.1f} ms | {v['first_s']:.2f} s | "
                     + (f"{np_['total_s']:.3f} s ({np_['simulate']:.3f} + {np_['gradient']:.3f}) | "
                        f"{v['ratio_numpy']:.2f}x" if rule == "eprop" else "- | -")
                     + f" | {rss} | {target} | {met} |")
        agree = {p_: it[f"eprop_{p_}"].get("agreement_vs_numpy") for p_ in ep["precisions"]}
        L.append("")
        L.append(f"Reference MDGL (materialised e[B, T, N, N]): ~{ep['reference_mdgl_gb']:.0f} GB. e-prop gradient, "
                 "neurogen vs NumPy on the same weights and batch (max relative L2 difference): "
                 + ", ".join(f"{prec_name[k]} {max(a.values()):.1e}" for k, a in agree.items() if a) + ".")
        L.append("")
    build = results.get("build")
    if build and not build.get("failed"):
        L.append("### (c) Build times, small model (2 x 100 LIF, sparse synapses, DC source), median of "
                 f"{build['repeats']} fresh processes")
        L.append("")
        L.append("| Python bytecode | cold build + load | of which compiler | cached, 2nd process | "
                 "cached, same process | import neurogen | cold <= 1.5 s | cached << 0.1 s |")
        L.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for key, v in build["variants"].items():
            L.append(f"| {key}: {v['description'].split(' (')[0]} | {v['cold']['build_plus_load_s']:.3f} s | "
                     f"{v['cold']['subprocess_s']:.3f} s | "
                     f"{v['cached_second_process']['build_plus_load_s'] * 1e3:.1f} ms | "
                     f"{v['cached_same_process']['build_plus_load_s'] * 1e3:.1f} ms | "
                     f"{v['cold']['import_s'] * 1e3:.0f} ms | {yes(v['cold_met'])} | {yes(v['cached_met'])} |")
        L.append("")
    return "\n".join(L)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep-openblas-coretype", action="store_true",
                    help="leave OPENBLAS_CORETYPE as the environment sets it")
    ap.add_argument("--quick", action="store_true", help="2 rounds of 2,000 steps (smoke run)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--blas", default="both", choices=("off", "on", "both"), help="dense: neurogen use_blas configs")
    ap.add_argument("--only", default="build,dense,sparse,microcircuit",
                    help="subset, e.g. dense,sparse; 'eprop' (BPTT / e-prop / MDGL) runs only when named")
    ap.add_argument("--profile", action="store_true", help="also time sub-models")
    ap.add_argument("--markdown", help="also write the markdown report to this file")
    ap.add_argument("--json", help="write all raw results to this JSON file")
    args = ap.parse_args(argv)

    outer = os.environ.get("OPENBLAS_CORETYPE")
    env = dict(os.environ)
    if not args.keep_openblas_coretype:
        env.pop("OPENBLAS_CORETYPE", None)
    extra = ["--rounds", str(2 if args.quick else args.rounds), "--threads", args.threads]
    if args.quick:
        extra += ["--steps", "2000"]
    if args.profile:
        extra.append("--profile")
    dense_extra = extra + ["--blas", args.blas]
    only = args.only.split(",")
    results = {}
    t0 = time.perf_counter()
    if "build" in only:
        results["build"] = run_child("bench_build.py", ["--repeats", "2" if args.quick else "5"], env, 1800)
    if "dense" in only:
        results["dense"] = run_child("bench_dense_rate.py", dense_extra, env, 3600)
    if "sparse" in only:
        results["sparse"] = run_child("bench_sparse_lif.py", extra, env, 3600)
    if "microcircuit" in only:
        mc_extra = ["--rounds", "1" if args.quick else "3"] + (["--ref-samples", "20", "--mnist-samples", "100",
                                                                "--mnist-ref-samples", "3"] if args.quick else [])
        mc_extra += ["--threads", args.threads]
        results["microcircuit"] = run_child("bench_microcircuit.py", mc_extra, env, 3600)
    if "eprop" in only:
        ep_extra = (["--quick"] if args.quick else ["--rounds", str(args.rounds)]) + ["--threads", args.threads]
        results["eprop"] = run_child("bench_eprop.py", ep_extra, env, 3600)
    total = time.perf_counter() - t0

    machine = None
    for k in ("dense", "sparse"):
        r = results.get(k)
        if r and not r.get("failed"):
            machine = r["machine"]
            break
    if machine is None:
        machine = common.machine_info()
    child_ct = machine["env"]["OPENBLAS_CORETYPE"]
    kernels = sorted({b.get("architecture") for b in machine["blas"] if b.get("architecture")})
    env_note = (f"OPENBLAS_CORETYPE in the calling environment: {outer if outer is not None else '<unset>'}; "
                f"in the benchmark processes: {child_ct}"
                f"{' (unset by run_all.py)' if outer is not None and not args.keep_openblas_coretype else ''}; "
                f"OpenBLAS kernel that ran: {', '.join(kernels) or 'unknown'}")
    cmdline = "python " + " ".join([os.path.relpath(__file__, os.path.dirname(HERE))] + (argv or sys.argv[1:]))
    report = markdown(results, machine, env_note, cmdline)
    noise = [r.get("noise") for r in results.values() if isinstance(r, dict) and r.get("noise")]
    report += f"\n_total wall time {total:.0f} s_\n"
    print("\n" + "=" * 100 + "\n" + report)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(report)
    if args.json:
        common.write_json(args.json, {"results": results, "machine": machine, "env_note": env_note,
                                      "noise": noise})
    return results


if __name__ == "__main__":
    main()
