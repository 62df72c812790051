"""The experiment runner on the ALIF / e-prop / MDGL configs (examples/runner/snn_config.py,
snn_job.py, snn_plots.py): result directory contents, eval and detail_plot figures, a stopped run
resumed to the uninterrupted result bit for bit, and bad configs that must give one line, exit
code 2 and nothing written.

Runs are shrunk with --set (batch 4, a handful of iterations, validation batches of 4-6 trials);
the trials keep the task's full 2000 steps (an MDGL iteration of 4 trials takes ~0.1 s, so no
shorter-trial switch is needed).
"""
import csv
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = os.path.join(ROOT, "examples", "experiment_runner.py")
CONFIGS = {rule: os.path.join(ROOT, "experiment_configs", f"evidence_accumulation_{rule}.yaml")
           for rule in ("bptt", "eprop", "mdgl")}
SMALL = ["--set", "batch_size=4", "--set", "validation_size=6", "--set", "validate_every=2",
         "--set", "record.raster_every=4", "--set", "checkpoint_every=2"]


def runner(*args, check=True, **kw):
    proc = subprocess.run([sys.executable, RUNNER, *args], capture_output=True, text=True, timeout=300, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"runner failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def result_dir(proc):
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("result: "), proc.stdout
    return last[len("result: "):]


def read_metrics(run_dir, drop_seconds=True):
    with open(os.path.join(run_dir, "metrics.csv")) as fh:
        rows = list(csv.reader(fh))
    return [r[:-1] for r in rows] if drop_seconds else rows


def assert_same_results(whole, run_dir, h5_names):
    """Metrics (minus seconds), every array of final_state.npz and the named HDF5 datasets of two
    result directories are equal bit for bit."""
    assert read_metrics(whole) == read_metrics(run_dir)
    with np.load(os.path.join(whole, "final_state.npz")) as a, np.load(os.path.join(run_dir, "final_state.npz")) as b:
        assert sorted(a.files) == sorted(b.files)
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    with h5py.File(os.path.join(whole, "net_recordings.h5")) as a, \
            h5py.File(os.path.join(run_dir, "net_recordings.h5")) as b:
        assert sorted(a["iterations"]) == sorted(b["iterations"])
        for name in h5_names:
            np.testing.assert_array_equal(a[name][:], b[name][:], err_msg=name)


def test_shipped_configs_load_and_round_trip(tmp_path):
    from runner import snn_config
    from runner.experiments import load_any_config
    for rule, path in CONFIGS.items():
        kind, cfg = load_any_config(path)
        assert kind == "snn" and cfg["network"]["learning_rule"] == rule
        assert cfg["meta"]["n_iterations"] == 2000 and cfg["meta"]["batch_size"] == 64
        assert cfg["meta"]["precision"] == "double" and cfg["network"]["reg_c"] == 0.1
        out = tmp_path / f"{rule}.yaml"
        snn_config.dump_config(cfg, out)
        assert snn_config.load_config(out) == cfg
        with open(path) as fh:
            assert fh.readline().startswith("# "), "each shipped config starts with a header comment"
    kind, _ = load_any_config(os.path.join(ROOT, "experiment_configs", "yinyang_quick.yaml"))
    assert kind == "microcircuit"
    folder = os.path.join(ROOT, "experiment_configs")
    names = [load_any_config(os.path.join(folder, p))[1]["meta"]["name"] for p in os.listdir(folder)
             if p.endswith(".yaml")]
    assert len(names) == len(set(names)), "run names of all shipped configs are unique"
    # beta left out: the MDGL value in the units of the neuron form
    text = "name: x\ntask: accucues_mdgl\nnumpy_seed: 1\n---\nlearning_rule: eprop\nlsnn_scaling: false\n"
    cfg = snn_config.config_from_string(text)
    assert cfg["network"]["beta"] == pytest.approx(1.8 * (1 - np.exp(-1 / 2000)))
    kw = snn_config.network_kwargs(cfg)
    assert kw["reg_target"] == 0.01 and kw["loss"] == "final" and "reg_target_hz" not in kw


def test_train_eval_and_detail_plot(tmp_path):
    out = tmp_path / "results"
    proc = runner("train", CONFIGS["mdgl"], str(out), "--quiet", *SMALL, "--set", "n_iterations=4", "--eval",
                  cwd="/")
    run_dir = result_dir(proc)
    assert os.path.dirname(run_dir) == str(out)
    assert os.path.basename(run_dir).startswith("evidence_accumulation_mdgl_")
    for name in ("config.yaml", "gitsha.txt", "net_recordings.h5", "metrics.csv", "train.log", "final_state.npz"):
        assert os.path.getsize(os.path.join(run_dir, name)) > 0, name
    assert not [d for d in os.listdir(run_dir) if d.startswith("checkpoint_")]
    meta, net = list(yaml.safe_load_all(open(os.path.join(run_dir, "config.yaml"))))
    assert meta["n_iterations"] == 4 and meta["batch_size"] == 4 and net["learning_rule"] == "mdgl"
    rows = read_metrics(run_dir)
    assert rows[0] == ["iteration", "stage", "loss", "accuracy", "rate_hz"]
    assert [(int(r[0]), r[1]) for r in rows[1:]] == [
        (0, "validation"), (0, "training"), (1, "training"), (2, "validation"), (2, "training"),
        (3, "training"), (4, "validation")]
    assert all(0 < float(r[2]) < 5 and 0 < float(r[4]) < 200 for r in rows[1:])
    with h5py.File(os.path.join(run_dir, "net_recordings.h5")) as f:
        assert f.attrs["numpy_seed"] == 1 and f.attrs["learning_rule"] == "mdgl"
        assert f.attrs["task"] == "accucues_mdgl" and len(f.attrs["gitsha"]) >= 40
        np.testing.assert_array_equal(f["validation/iteration"][:], [0, 2, 4])
        assert sorted(f["iterations"]) == ["0", "4"]
        g = f["iterations/4"]
        assert g["weights/W_rec"].shape == (100, 100) and g["weights/W_in"].shape == (100, 40)
        assert g["trials/z"].shape == (2, 2000, 100) and g["trials/y"].shape == (2, 2000, 2)
        assert g["rates"].shape == (100,)
        assert float(rows[-1][3]) == pytest.approx(f["validation/accuracy"][-1])
        assert int((f["network/sign_rec"][:] < 0).sum()) == 19
    log = open(os.path.join(run_dir, "train.log")).read()
    assert "Dale's law and the fixed adjacency hold" in log and "final validation loss" in log
    assert os.path.getsize(os.path.join(run_dir, "plots", "learning_curves.png")) > 0      # train --eval
    pngs = runner("eval", run_dir, "1").stdout.split()
    names = {os.path.basename(p) for p in pngs}
    assert {"learning_curves.png", "rasters.png", "rate_histogram.png", "weights_iteration_4.png"} <= names
    assert all(os.path.getsize(p) > 0 for p in pngs)
    detail = runner("detail_plot", run_dir, "4").stdout.split()
    assert {os.path.basename(p) for p in detail} == {"rasters.png", "readout.png", "weights.png"}
    assert all(os.path.dirname(p).endswith("iteration_4") and os.path.getsize(p) > 0 for p in detail)
    bad = runner("detail_plot", run_dir, "3", check=False)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "0, 4" in bad.stderr


@pytest.mark.parametrize("rule", ["bptt", "eprop"])
def test_stopped_run_resumes_to_the_uninterrupted_result(tmp_path, rule):
    """Stop after iteration 5 (checkpoint at 4, so iteration 4 is redone), --resume: metrics (minus
    seconds), the final state and the stored weights equal an uninterrupted run's bit for bit."""
    args = ["--quiet", *SMALL, "--set", "n_iterations=6", "--set", "validation_size=4"]
    whole = result_dir(runner("train", CONFIGS[rule], str(tmp_path / "whole"), *args))
    stopped = runner("train", CONFIGS[rule], str(tmp_path / "stopped"), *args, "--stop-after-iteration", "5")
    run_dir = result_dir(stopped)
    assert not os.path.exists(os.path.join(run_dir, "final_state.npz"))
    assert len(read_metrics(run_dir)) > 1
    resumed = runner("train", "--resume", run_dir, "--quiet")
    assert result_dir(resumed) == run_dir
    assert "resumed from the checkpoint before iteration 4" in open(os.path.join(run_dir, "train.log")).read()
    assert_same_results(whole, run_dir, ("iterations/6/weights/W_rec", "iterations/6/weights/W_out",
                                         "iterations/6/trials/z", "validation/loss"))
    again = runner("train", "--resume", run_dir, check=False)
    assert again.returncode == 2 and "already finished" in again.stderr


def test_finished_run_extends_to_the_longer_uninterrupted_result(tmp_path):
    """--resume DIR --extend-to 8 on a finished 4-iteration run: metrics (minus seconds), the final
    state and the stored weights equal an uninterrupted 8-iteration run's bit for bit; config.yaml
    then says 8. Extensions that could not reproduce the longer run are refused in one line."""
    args = ["--quiet", *SMALL, "--set", "validation_size=4"]
    whole = result_dir(runner("train", CONFIGS["eprop"], str(tmp_path / "whole"), *args, "--set", "n_iterations=8"))
    run_dir = result_dir(runner("train", CONFIGS["eprop"], str(tmp_path / "short"), *args, "--set", "n_iterations=4"))
    for bad, words in ((["--extend-to", "4"], "already has 4 iterations"),
                       (["--extend-to", "0"], "positive number")):
        proc = runner("train", "--resume", run_dir, *bad, check=False)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and words in proc.stderr, proc.stderr
    extended = runner("train", "--resume", run_dir, "--extend-to", "8", "--quiet")
    assert result_dir(extended) == run_dir
    assert "extended from 4 to 8 iterations" in open(os.path.join(run_dir, "train.log")).read()
    assert list(yaml.safe_load_all(open(os.path.join(run_dir, "config.yaml"))))[0]["n_iterations"] == 8
    assert_same_results(whole, run_dir, ("iterations/4/weights/W_rec", "iterations/8/weights/W_rec",
                                         "iterations/8/weights/W_out", "iterations/8/trials/z",
                                         "validation/loss", "validation/iteration"))
    # a run whose last validation is off the longer run's schedule (6 is not a multiple of raster_every 4)
    odd = result_dir(runner("train", CONFIGS["eprop"], str(tmp_path / "odd"), *args, "--set", "n_iterations=6"))
    proc = runner("train", "--resume", odd, "--extend-to", "8", check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "raster_every" in proc.stderr
    assert list(yaml.safe_load_all(open(os.path.join(odd, "config.yaml"))))[0]["n_iterations"] == 6
    proc = runner("train", CONFIGS["eprop"], str(tmp_path / "x"), "--extend-to", "8", check=False)
    assert proc.returncode == 2 and "--resume" in proc.stderr


def _config_with(tmp_path, edit):
    meta, net = list(yaml.safe_load_all(open(CONFIGS["mdgl"])))
    edit(meta, net)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump_all([meta, net], sort_keys=False))
    return str(path)


def _del(d, key):
    d.pop(key)


BAD_CONFIGS = [
    ("unknown key", lambda m, n: n.update(tau_mm=20.0), ["network.tau_mm", "did you mean 'tau_m'"]),
    ("key in the wrong document", lambda m, n: m.update(learning_rate=0.1), ["learning_rate", "network document"]),
    ("missing seed", lambda m, n: _del(m, "numpy_seed"), ["numpy_seed", "missing"]),
    ("unknown rule", lambda m, n: n.update(learning_rule="rtrl"), ["network.learning_rule", "rtrl"]),
    ("negative time constant", lambda m, n: n.update(tau_a=-2000.0), ["network.tau_a", "> 0"]),
    ("fraction outside (0, 1)", lambda m, n: n.update(e_fraction=1.2), ["network.e_fraction", "(0, 1)"]),
    ("connectivity zero", lambda m, n: n.update(connectivity=0.0), ["network.connectivity"]),
    ("wrong type", lambda m, n: m.update(n_iterations="many"), ["n_iterations", "integer"]),
    ("unknown task", lambda m, n: m.update(task="accucues"), ["task", "accucues_mdgl"]),
    ("task inputs", lambda m, n: n.update(n_in=30), ["network.n_in", "40"]),
    ("batch too large", lambda m, n: m.update(batch_size=200), ["batch_size", "127"]),
    ("raster not a multiple", lambda m, n: m["record"].update(raster_every=15), ["record.raster_every"]),
    ("mdgl without Dale", lambda m, n: n.update(dale=False), ["network.dale"]),
    ("random feedback with BPTT", lambda m, n: n.update(learning_rule="bptt", feedback="random"),
     ["network.feedback"]),
    ("too few LIF for the inhibitory cells", lambda m, n: n.update(n_lif=10, n_alif=90), ["network", "LIF"]),
    ("both kinds", lambda m, n: m.update(dataset_key="yinyang"), ["task", "dataset_key"]),
    ("readout scale word", lambda m, n: n.update(readout_scale="tf"), ["network.readout_scale", "'reference'"]),
    ("readout scale negative", lambda m, n: n.update(readout_scale=-0.05), ["network.readout_scale", "> 0"]),
]


@pytest.mark.parametrize("label,edit,words", BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_configs_give_one_line_and_write_nothing(tmp_path, label, edit, words):
    cfg = _config_with(tmp_path, edit)
    out = tmp_path / "out"
    proc = runner("train", cfg, str(out), check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("error: ") and "bad.yaml" in lines[0], lines[0]
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert not out.exists() or not any(out.iterdir()), "a result directory was left behind"


def test_bad_overrides_give_one_line(tmp_path):
    cases = [(["--set", "network.tau_m=-1"], "network.tau_m"),
             (["--set", "record.raster_evry=10"], "did you mean 'raster_every'"),
             (["--set", "network.lsnn_scaling=maybe"], "network.lsnn_scaling"),
             (["--set", "record=3"], "section")]
    for extra, word in cases:
        proc = runner("train", CONFIGS["eprop"], str(tmp_path / "o"), *extra, check=False)
        assert proc.returncode == 2, (extra, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and word in lines[0], (extra, proc.stderr)
    assert not (tmp_path / "o").exists()
