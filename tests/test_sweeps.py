"""Sweep tools: examples/run_sweep.py (with a fake runner) and examples/evaluate_sweep.py
(on result directories written by hand). Every script runs as a subprocess, as a user runs it;
the working directory is a fresh temporary folder (conftest)."""
import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
RUN_SWEEP = os.path.join(EXAMPLES, "run_sweep.py")
EVALUATE = os.path.join(EXAMPLES, "evaluate_sweep.py")

# A stand-in for experiment_runner.py with the same contract: `train CFG OUT [--set ..] --quiet`
# creates OUT/<name>_<date>/ (config.yaml, checkpoint.json, metrics.csv), prints
# "result: <dir>" last and exits 0; exit 1 for a run whose name contains "fail"; exit 130 on
# Ctrl-C; `train --resume DIR` completes DIR. Meta keys steer it: fake_sleep (seconds),
# fake_crash_once (exit 1 after two epochs, the first time), fake_hang (wait for a signal after
# two epochs). Every call appends a JSON line to $FAKE_CALLS.
FAKE_RUNNER = r'''
import csv, datetime, json, os, sys, time
import yaml

argv = sys.argv[1:]
assert argv[0] == "train", argv
resume = argv[argv.index("--resume") + 1] if "--resume" in argv else None
sets = [argv[i + 1] for i, a in enumerate(argv) if a == "--set"]
record = {"argv": argv, "pid": os.getpid(), "start": time.time(),
          "omp": os.environ.get("OMP_NUM_THREADS"), "bind": os.environ.get("OMP_PROC_BIND"),
          "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None}

def log_call():
    record["end"] = time.time()
    with open(os.environ["FAKE_CALLS"], "a") as fh:
        fh.write(json.dumps(record) + "\n")

def write_metrics(run_dir, epochs, seed, final):
    rng = __import__("random").Random(seed)
    with open(os.path.join(run_dir, "metrics.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["epoch", "stage", "accuracy", "error", "angle_1", "seconds"])
        for e in epochs:
            w.writerow([e, "validation", rng.random(), rng.random(), 90 * rng.random(), 0.1])
            w.writerow([e, "training", rng.random(), rng.random(), 90 * rng.random(), 0.1])
        if final is not None:
            w.writerow([final, "validation", rng.random(), rng.random(), 90 * rng.random(), 0.1])
            w.writerow([final, "testing", rng.random(), rng.random(), 90 * rng.random(), 0.1])

if resume:
    run_dir = resume
    with open(os.path.join(run_dir, "config.yaml")) as fh:
        meta = next(yaml.safe_load_all(fh))
else:
    cfg, out = argv[1], argv[2]
    with open(cfg) as fh:
        meta = next(yaml.safe_load_all(fh))
    for s in sets:
        key, _, value = s.partition("=")
        if key == "sim_config.n_epochs":
            meta["sim_config"]["n_epochs"] = int(value)
    if "fail" in meta["name"]:
        print("error: boom, this config fails", file=sys.stderr)
        log_call()
        sys.exit(1)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    run_dir, k = os.path.join(out, f"{meta['name']}_{stamp}"), 1
    while os.path.exists(run_dir):
        k += 1
        run_dir = os.path.join(out, f"{meta['name']}_{stamp}_{k}")
    os.makedirs(run_dir)
    with open(os.path.join(run_dir, "config.yaml"), "w") as fh:
        yaml.safe_dump_all([meta, {"dims": [4, 30, 3]}], fh)
    with open(os.path.join(run_dir, "checkpoint.json"), "w") as fh:
        json.dump({"next_epoch": 0}, fh)
record["run_dir"] = os.path.abspath(run_dir)
n = meta["sim_config"]["n_epochs"]
seed = meta["numpy_seed"]
print(f"run {meta['name']} -> {run_dir}", flush=True)
if not resume and (meta.get("fake_crash_once") or meta.get("fake_hang")):
    write_metrics(run_dir, range(2), seed, None)
    if meta.get("fake_hang"):
        try:
            time.sleep(60)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            log_call()
            sys.exit(130)
    print("error: crashed after epoch 1", file=sys.stderr)
    log_call()
    sys.exit(1)
time.sleep(meta.get("fake_sleep", 0))
write_metrics(run_dir, range(n), seed, n)
if resume:
    open(os.path.join(run_dir, "resumed"), "w").close()
log_call()
print(f"result: {os.path.abspath(run_dir)}")
'''


# ------------------------------------------------------------------------------ helpers
def run(script, *args, env=None, timeout=60):
    return subprocess.run([sys.executable, script, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


@pytest.fixture
def fake(tmp_path):
    """(runner path, calls file, env) for run_sweep with the fake runner."""
    runner = tmp_path / "fake_runner.py"
    runner.write_text(FAKE_RUNNER)
    calls = tmp_path / "calls.jsonl"
    return runner, calls, {"FAKE_CALLS": str(calls)}


def read_calls(calls):
    if not calls.exists():
        return []
    return [json.loads(line) for line in calls.read_text().splitlines()]


def write_config(folder, name, seed, **extra):
    """A two-document config (meta, network) with the keys the fake runner reads."""
    os.makedirs(folder, exist_ok=True)
    meta = {"name": name, "numpy_seed": seed, "sim_config": {"n_epochs": 2}, **extra}
    path = os.path.join(folder, f"{name}.yaml")
    with open(path, "w") as fh:
        yaml.safe_dump_all([meta, {"dims": [4, 30, 3]}], fh, explicit_start=True)
    return path


def has_test_row(run_dir):
    with open(os.path.join(run_dir, "metrics.csv")) as fh:
        return any(r["stage"] == "testing" for r in csv.DictReader(fh))


def max_overlap(calls):
    """Most runs that were going at the same moment."""
    events = sorted([(c["start"], 1) for c in calls] + [(c["end"], -1) for c in calls])
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


# ------------------------------------------------------------------------------ run_sweep.py
def test_sweep_runs_in_parallel_lists_results_and_skips_finished_runs(fake, tmp_path):
    runner, calls, env = fake
    for i in range(4):
        write_config("cfgs", f"yy_seed{100 + i}", 100 + i, fake_sleep=0.8)
    r = run(RUN_SWEEP, "cfgs", "out", "--jobs", 2, "--set", "sim_config.n_epochs=3",
            "--runner", runner, env=env)
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("[")]
    assert len(lines) == 4 and lines[-1].startswith("[4/4]")
    assert all(" ok " in ln and "final accuracy 0." in ln for ln in lines), lines
    done = read_calls(calls)
    assert len(done) == 4
    assert max_overlap(done) == 2                       # parallel, and never more than --jobs
    assert all(["--set", "sim_config.n_epochs=3"] == c["argv"][3:5] and "--quiet" in c["argv"]
               for c in done)
    listed = (tmp_path / "out" / "cfgs_runs.txt").read_text().split()
    assert sorted(listed) == sorted(c["run_dir"] for c in done)
    for d in listed:
        assert os.path.isabs(d) and has_test_row(d)
        with open(os.path.join(d, "metrics.csv")) as fh:      # --set reached the runner
            assert max(int(row["epoch"]) for row in csv.DictReader(fh)) == 3
    state = json.loads((tmp_path / "out" / "cfgs_state.json").read_text())
    assert {e["status"] for e in state["runs"].values()} == {"finished"}
    assert sorted(os.listdir(tmp_path / "out" / "sweep_logs")) == [f"yy_seed{100 + i}.log" for i in range(4)]
    assert "result: " in (tmp_path / "out" / "sweep_logs" / "yy_seed100.log").read_text()

    again = run(RUN_SWEEP, "cfgs", "out", "--jobs", 2, "--set", "sim_config.n_epochs=3",
                "--runner", runner, env=env)
    assert again.returncode == 0, again.stderr
    assert len(read_calls(calls)) == 4                  # nothing ran again
    assert again.stdout.count("skipped (finished earlier)") == 4
    assert sorted((tmp_path / "out" / "cfgs_runs.txt").read_text().split()) == sorted(listed)

    other = run(RUN_SWEEP, "cfgs", "out", "--runner", runner, env=env)    # other --set: refused
    assert other.returncode == 2 and "--set" in other.stderr and len(other.stderr.splitlines()) == 1


def test_sweep_reports_failures_and_resumes_a_crashed_run(fake, tmp_path):
    runner, calls, env = fake
    cfgs = [write_config("sw", "a_seed1", 1), write_config("sw", "b_fail", 2),
            write_config("sw", "c_seed3", 3, fake_crash_once=True)]
    (tmp_path / "sw" / "sw_configs.txt").write_text("".join(os.path.basename(c) + "\n" for c in cfgs))
    r = run(RUN_SWEEP, "sw/sw_configs.txt", "out", "--jobs", 3, "--runner", runner, env=env)
    assert r.returncode == 1
    log_b = str(tmp_path / "out" / "sweep_logs" / "b_fail.log")
    failed = [ln for ln in r.stderr.splitlines() if ln.startswith("failed:")]
    assert len(failed) == 2
    assert any(os.path.abspath(cfgs[1]) in ln and log_b in ln and "boom" in ln for ln in failed), r.stderr
    assert any(os.path.abspath(cfgs[2]) in ln and "crashed after epoch 1" in ln for ln in failed), r.stderr
    assert "boom" in open(log_b).read()
    runs_file = tmp_path / "out" / "sw_configs_runs.txt"
    assert len(runs_file.read_text().split()) == 1
    state = json.loads((tmp_path / "out" / "sw_configs_state.json").read_text())
    crashed = state["runs"][os.path.abspath(cfgs[2])]["result_dir"]
    assert crashed and not has_test_row(crashed)        # matched to its directory while running

    again = run(RUN_SWEEP, "sw/sw_configs.txt", "out", "--runner", runner, env=env)
    assert again.returncode == 1                        # b_fail fails again
    second = read_calls(calls)[3:]
    assert sorted(c["argv"][1] for c in second) == ["--resume", os.path.abspath(cfgs[1])]
    resumed = next(c for c in second if c["argv"][1] == "--resume")
    assert resumed["argv"][2] == crashed and "--set" not in resumed["argv"]
    assert os.path.exists(os.path.join(crashed, "resumed")) and has_test_row(crashed)
    assert crashed in runs_file.read_text().split() and len(runs_file.read_text().split()) == 2
    assert len([d for d in os.listdir(tmp_path / "out") if d.startswith("c_seed3_")]) == 1
    assert "skipped (finished earlier)" in again.stdout


def test_sweep_ctrl_c_stops_children_and_resume_continues(fake, tmp_path):
    runner, calls, env = fake
    cfg = write_config("hc", "h_seed7", 7, fake_hang=True)
    state_path = tmp_path / "out" / "hc_state.json"
    proc = subprocess.Popen([sys.executable, RUN_SWEEP, "hc", "out", "--runner", str(runner)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **env})
    deadline = time.time() + 20
    run_dir = None
    while time.time() < deadline and run_dir is None:   # until the run's directory is known
        time.sleep(0.1)
        try:
            run_dir = json.loads(state_path.read_text())["runs"][os.path.abspath(cfg)]["result_dir"]
        except (OSError, ValueError, KeyError):
            pass
    assert run_dir, "the sweep never recorded the run's directory"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "run the same command again" in err
    entry = json.loads(state_path.read_text())["runs"][os.path.abspath(cfg)]
    assert entry["status"] == "interrupted" and entry["result_dir"] == run_dir
    call = read_calls(calls)[0]
    assert call["end"] - call["start"] < 15             # stopped by SIGINT, not by its timeout
    with pytest.raises(ProcessLookupError):
        os.kill(call["pid"], 0)

    again = run(RUN_SWEEP, "hc", "out", "--runner", runner, env=env)
    assert again.returncode == 0, again.stderr
    assert read_calls(calls)[1]["argv"][1:3] == ["--resume", run_dir]
    assert (tmp_path / "out" / "hc_runs.txt").read_text().split() == [run_dir]


def test_sweep_threads_per_job(fake, tmp_path):
    runner, calls, env = fake
    write_config("th", "t_seed1", 1)
    r = run(RUN_SWEEP, "th", "out", "--threads-per-job", 2, "--jobs", 1, "--runner", runner, env=env)
    assert r.returncode == 0, r.stderr
    call = read_calls(calls)[0]
    assert "num_threads=2" in call["argv"] and call["omp"] == "2"
    if hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) >= 2:
        assert call["cores"] == 2                       # pinned to its own two cores
    else:
        assert call["bind"] == "false"


@pytest.mark.skipif(__import__("importlib").util.find_spec("ray") is not None, reason="ray is installed")
def test_sweep_address_without_ray(fake):
    runner, _, env = fake
    write_config("rc", "r_seed1", 1)
    r = run(RUN_SWEEP, "rc", "out", "--address", "auto", "--runner", runner, env=env)
    assert r.returncode == 2
    assert len(r.stderr.splitlines()) == 1 and 'pip install -e ".[ray]"' in r.stderr
    assert not os.path.exists("out")                    # nothing started


def test_sweep_bad_input():
    r = run(RUN_SWEEP, "no_such_folder", "out")
    assert r.returncode == 2
    assert len(r.stderr.splitlines()) == 1 and "no_such_folder" in r.stderr


# ------------------------------------------------------------------------------ evaluate_sweep.py
def make_run(folder, name, seed, n_epochs, n_hidden, rng, finished=True):
    """A result directory written by hand; returns its values."""
    run_dir = os.path.join(folder, f"{name}_2024-01-0{seed % 9 + 1}_12-00-00")
    os.makedirs(run_dir)
    meta = {"name": name, "numpy_seed": seed, "sim_config": {"n_epochs": n_epochs}}
    with open(os.path.join(run_dir, "config.yaml"), "w") as fh:
        yaml.safe_dump_all([meta, {"dims": [4] + [30] * n_hidden + [3]}], fh, explicit_start=True)
    acc, err = rng.uniform(0.3, 1, n_epochs + 1), rng.uniform(0, 0.5, n_epochs + 1)
    angles = rng.uniform(0, 90, (n_epochs + 1, n_hidden))
    test = rng.uniform(0.8, 1)
    with open(os.path.join(run_dir, "metrics.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["epoch", "stage", "accuracy", "error"]
                   + [f"angle_{k + 1}" for k in range(n_hidden)] + ["seconds"])
        for e in range(n_epochs + 1):
            w.writerow([e, "validation", acc[e], err[e], *angles[e], 0.5])
            if e < n_epochs:
                w.writerow([e, "training", 0.5, 0.5, *(angles[e] + 1), 2.0])
        if finished:
            w.writerow([n_epochs, "testing", test, 0.1, *angles[-1], 0.5])
    return {"dir": run_dir, "seed": seed, "acc": acc, "err": err, "angles": angles, "test": test}


def make_sweep(folder, name, seeds, n_epochs=5, n_hidden=1, seed=0):
    """Runs for `seeds` in `folder` plus a runs file; returns (runs file, runs sorted by seed)."""
    rng = np.random.default_rng(seed)
    runs = [make_run(folder, f"{name}_seed{s}", s, n_epochs, n_hidden, rng) for s in seeds]
    runs_file = os.path.join(folder, f"{name}_runs.txt")
    with open(runs_file, "w") as fh:
        fh.write("".join(os.path.abspath(r["dir"]) + "\n" for r in runs))
    return runs_file, sorted(runs, key=lambda r: r["seed"])


def test_evaluate_one_sweep(tmp_path):
    runs_file, runs = make_sweep("res", "yy", [123458, 123456, 123457])
    r = run(EVALUATE, runs_file, "ev")
    assert r.returncode == 0, r.stderr
    ev = tmp_path / "ev"
    acc, err, ang = (np.load(ev / f) for f in ("val_accuracy.npy", "val_error.npy", "angles.npy"))
    assert acc.shape == err.shape == (3, 6) and ang.shape == (3, 6, 1)
    np.testing.assert_allclose(acc, [x["acc"] for x in runs])
    np.testing.assert_allclose(err, [x["err"] for x in runs])
    np.testing.assert_allclose(ang, [x["angles"] for x in runs])
    test = np.array([x["test"] for x in runs])
    np.testing.assert_allclose(np.load(ev / "test_accuracy.npy"), test)
    assert np.load(ev / "seeds.npy").tolist() == [123456, 123457, 123458]
    s = json.loads((ev / "summary.json").read_text())
    assert s["label"] == "yy" and s["n_runs"] == 3 and s["epochs"] == 5 and not s["truncated"]
    assert s["seeds"] == [123456, 123457, 123458]
    assert s["test_accuracy"]["mean"] == pytest.approx(test.mean(), rel=1e-12)
    assert s["test_accuracy"]["std"] == pytest.approx(test.std(), rel=1e-12)
    assert (s["test_accuracy"]["min"], s["test_accuracy"]["max"]) == pytest.approx((test.min(), test.max()))
    assert s["final_val_accuracy"]["mean"] == pytest.approx(acc[:, -1].mean(), rel=1e-12)
    assert s["final_val_accuracy"]["std"] == pytest.approx(acc[:, -1].std(), rel=1e-12)
    assert s["final_angle"][0]["mean"] == pytest.approx(ang[:, -1, 0].mean(), rel=1e-12)
    assert s["final_angle"][0]["std"] == pytest.approx(ang[:, -1, 0].std(), rel=1e-12)
    for png in ("val_accuracy.png", "angles.png", "test_accuracy.png"):
        assert (ev / png).read_bytes()[:4] == b"\x89PNG"
    assert f"test accuracy {test.mean():.3f} ± {test.std():.3f} over 3 seeds" in r.stdout


def test_evaluate_folder_two_hidden_layers_skips_unfinished(tmp_path):
    _, runs = make_sweep("deep", "mn", [1, 2, 3], n_epochs=4, n_hidden=2)
    make_run("deep", "mn_seed4", 4, 4, 2, np.random.default_rng(9), finished=False)
    r = run(EVALUATE, "deep", "ev", "--label", "deep net")
    assert r.returncode == 0, r.stderr
    assert "mn_seed4" in r.stderr and "not finished" in r.stderr
    ang = np.load(tmp_path / "ev" / "angles.npy")
    assert ang.shape == (3, 5, 2)
    np.testing.assert_allclose(ang, [x["angles"] for x in runs])
    s = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert s["label"] == "deep net" and [a["layer"] for a in s["final_angle"]] == [1, 2]
    assert s["final_angle"][1]["std"] == pytest.approx(ang[:, -1, 1].std(), rel=1e-12)


def test_evaluate_truncates_to_the_shortest_run(tmp_path):
    rng = np.random.default_rng(3)
    long_run = make_run("mix", "a", 1, 5, 1, rng)
    make_run("mix", "b", 2, 3, 1, rng)
    r = run(EVALUATE, "mix", "ev")
    assert r.returncode == 0, r.stderr
    assert "warning" in r.stderr and "truncated" in r.stderr
    acc = np.load(tmp_path / "ev" / "val_accuracy.npy")
    assert acc.shape == (2, 4)
    np.testing.assert_allclose(acc[0], long_run["acc"][:4])
    assert json.loads((tmp_path / "ev" / "summary.json").read_text())["truncated"] is True


def test_evaluate_compare_sweeps(tmp_path):
    fa, fa_runs = make_sweep("fa", "yy_fa", [1, 2, 3], seed=1)
    pal, pal_runs = make_sweep("pal", "yy_pal", [1, 2, 3, 4], seed=2)
    r = run(EVALUATE, fa, pal, "cmp", "--labels", "FA,PAL")
    assert r.returncode == 0, r.stderr
    cmp_dir = tmp_path / "cmp"
    for png in ("compare_val_accuracy.png", "compare_angles.png"):
        assert (cmp_dir / png).read_bytes()[:4] == b"\x89PNG"
    c = json.loads((cmp_dir / "comparison.json").read_text())
    assert c["labels"] == ["FA", "PAL"]
    for label, runs in (("FA", fa_runs), ("PAL", pal_runs)):
        test = np.array([x["test"] for x in runs])
        assert c["sweeps"][label]["n_runs"] == len(runs)
        assert c["sweeps"][label]["test_accuracy"]["mean"] == pytest.approx(test.mean(), rel=1e-12)
        assert np.load(cmp_dir / label / "test_accuracy.npy").shape == (len(runs),)
        assert (cmp_dir / label / "summary.json").exists()
    assert "FA: test accuracy" in r.stdout and "over 4 seeds" in r.stdout


def test_evaluate_errors(tmp_path):
    r = run(EVALUATE, "missing_dir", "ev")
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and "missing_dir" in r.stderr
    os.makedirs("empty")
    r = run(EVALUATE, "empty", "ev")
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and "empty" in r.stderr
    runs_file, runs = make_sweep("res", "yy", [1, 2])
    bad = os.path.join(runs[0]["dir"], "metrics.csv")
    with open(bad, "w") as fh:
        fh.write("epoch,stage,accuracy,error\n0,validation,zero,0.1\n")
    r = run(EVALUATE, runs_file, "ev")
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and bad in r.stderr
    with open("listed.txt", "w") as fh:
        fh.write(str(tmp_path / "gone_run") + "\n")
    r = run(EVALUATE, "listed.txt", "ev")
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and "gone_run" in r.stderr
    assert not os.path.exists("ev")                     # nothing written on errors
    r = run(EVALUATE, runs_file, runs_file, "ev", "--labels", "A")
    assert r.returncode == 2 and "--labels" in r.stderr


# ------------------------------------------------------------------------------ ALIF sweeps
def make_snn_run(folder, name, seed, n_iterations, rng, finished=True, every=10):
    """An ALIF (evidence accumulation) result directory written by hand; returns its values."""
    run_dir = os.path.join(folder, f"{name}_2024-02-0{seed % 9 + 1}_12-00-00")
    os.makedirs(run_dir)
    meta = {"name": name, "task": "accucues_mdgl", "numpy_seed": seed, "n_iterations": n_iterations}
    with open(os.path.join(run_dir, "config.yaml"), "w") as fh:
        yaml.safe_dump_all([meta, {"learning_rule": "mdgl"}], fh, explicit_start=True)
    last = n_iterations if finished else n_iterations - every
    its = np.arange(0, last + 1, every)
    acc, loss = rng.uniform(0.4, 1, len(its)), rng.uniform(0, 0.7, len(its))
    with open(os.path.join(run_dir, "metrics.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["iteration", "stage", "loss", "accuracy", "rate_hz", "seconds"])
        for k, it in enumerate(its):
            w.writerow([it, "validation", loss[k], acc[k], 10.0, 0.3])
            w.writerow([it, "training", 0.5, 0.5, 10.0, 1.0])
    return {"dir": run_dir, "seed": seed, "its": its, "acc": acc, "loss": loss}


def test_evaluate_alif_sweeps_and_compare(tmp_path):
    rng = np.random.default_rng(3)
    runs = [make_snn_run("mdgl", f"ea_seed{s}", s, 100, rng) for s in (2, 1, 3)]
    make_snn_run("mdgl", "ea_seed9", 9, 100, rng, finished=False)
    r = run(EVALUATE, "mdgl", "ev")
    assert r.returncode == 0, r.stderr
    assert "ea_seed9" in r.stderr and "not finished" in r.stderr
    ev = tmp_path / "ev"
    runs.sort(key=lambda x: x["seed"])
    assert np.load(ev / "seeds.npy").tolist() == [1, 2, 3]
    np.testing.assert_array_equal(np.load(ev / "iterations.npy"), np.arange(0, 101, 10))
    np.testing.assert_allclose(np.load(ev / "val_accuracy.npy"), [x["acc"] for x in runs])
    np.testing.assert_allclose(np.load(ev / "val_loss.npy"), [x["loss"] for x in runs])
    s = json.loads((ev / "summary.json").read_text())
    final = np.array([x["acc"][-3:].mean() for x in runs])      # validations at 80, 90, 100
    assert s["kind"] == "snn" and s["final_window"] == [80, 100] and s["iterations"] == 100
    assert s["final_val_accuracy"]["per_seed"] == pytest.approx(final.tolist(), rel=1e-12)
    assert s["final_val_accuracy"]["mean"] == pytest.approx(final.mean(), rel=1e-12)
    assert s["final_val_accuracy"]["std"] == pytest.approx(final.std(), rel=1e-12)
    for png in ("val_accuracy.png", "val_loss.png"):
        assert (ev / png).read_bytes()[:4] == b"\x89PNG"
    assert f"validation accuracy {final.mean():.3f} ± {final.std():.3f}" in r.stdout

    make_snn_run("bptt", "eb_seed1", 1, 100, rng)
    r = run(EVALUATE, "mdgl", "bptt", "cmp", "--labels", "MDGL,BPTT")
    assert r.returncode == 0, r.stderr
    assert set(json.loads((tmp_path / "cmp" / "comparison.json").read_text())["sweeps"]) == {"MDGL", "BPTT"}
    for png in ("compare_val_accuracy.png", "compare_val_loss.png"):
        assert (tmp_path / "cmp" / png).read_bytes()[:4] == b"\x89PNG"
    # published points overlaid (the shipped MDGL Fig. 3C file); a bad file is one line
    fig3c = os.path.join(os.path.dirname(EXAMPLES), "experiment_configs", "reference", "mdgl_fig3c.yaml")
    r = run(EVALUATE, "mdgl", "bptt", "cmp_ref", "--labels", "MDGL,BPTT", "--reference", fig3c)
    assert r.returncode == 2 and "['e-prop'] are not among --labels" in r.stderr
    ref = tmp_path / "ref.yaml"
    ref.write_text("MDGL:\n  - {iteration: 50, loss: 0.6, loss_sd: 0.02, accuracy: 0.7, accuracy_sd: 0.03}\n")
    r = run(EVALUATE, "mdgl", "bptt", "cmp_ref", "--labels", "MDGL,BPTT", "--reference", str(ref))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "cmp_ref" / "compare_val_loss.png").read_bytes()[:4] == b"\x89PNG"
    ref.write_text("MDGL:\n  - {iteration: 50, loss: high}\n")
    r = run(EVALUATE, "mdgl", "bptt", "cmp_bad", "--labels", "MDGL,BPTT", "--reference", str(ref))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "MDGL[0]" in r.stderr
    assert not (tmp_path / "cmp_bad").exists(), "nothing is written for a bad reference file"

    # a microcircuit sweep and an ALIF sweep are not compared, nor pooled
    yy_runs, _ = make_sweep("yy", "yy", [1, 2])
    r = run(EVALUATE, "mdgl", yy_runs, "mix", "--labels", "A,B")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "mix" in r.stderr
    r = run(EVALUATE, "mdgl", yy_runs, "pooled")
    assert r.returncode == 2 and "mixes ALIF runs" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_sweep_knows_when_an_alif_run_is_finished(tmp_path):
    """run_sweep.py's finished-run check: an ALIF run has no testing row; it is finished once it has
    validated at its n_iterations (it was reported FAILED with exit 0 before)."""
    sys.path.insert(0, EXAMPLES)
    import run_sweep
    rng = np.random.default_rng(0)
    done = make_snn_run(str(tmp_path), "ea_seed1", 1, 50, rng)
    half = make_snn_run(str(tmp_path), "ea_seed2", 2, 50, rng, finished=False)
    row = run_sweep.read_test_row(done["dir"])
    assert row is not None and row["iteration"] == "50" and float(row["accuracy"]) == pytest.approx(done["acc"][-1])
    assert run_sweep.read_test_row(half["dir"]) is None
    yy = make_run(str(tmp_path), "yy_seed3", 3, 2, 1, rng)
    assert float(run_sweep.read_test_row(yy["dir"])["accuracy"]) == pytest.approx(yy["test"])
