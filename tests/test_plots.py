"""Evaluation plots of a result directory (examples/runner/plots.py) on fake, well-formed results.

The fake directory follows the trainer's file contract: config.yaml (meta, network), metrics.csv
(one row per epoch and stage, one angle column per hidden layer) and net_recordings.h5 (data,
predictions, order, traces, weights at the start of every epoch).
"""
import os
import subprocess
import sys

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")
pytest.importorskip("matplotlib")
yaml = pytest.importorskip("yaml")

from runner import plots  # noqa: E402

STEPS = 100
REC_EVERY = 10
TRACED_SAMPLES = 3
SIZES = {"training": 30, "validation": 12, "testing": 12}


def _write_metrics(path, n_epochs, n_hidden, rng):
    angles = [f"angle_{l}" for l in range(1, n_hidden + 1)]
    lines = [",".join(["epoch", "stage", "accuracy", "error"] + angles + ["seconds"])]
    for e in range(n_epochs + 1):
        for stage in ("validation", "training"):
            if stage == "training" and e == n_epochs:
                continue
            vals = [f"{rng.uniform(0.3, 1.0):.4f}", f"{rng.uniform(0.05, 0.5):.4f}"]
            vals += [f"{rng.uniform(40, 100):.3f}" for _ in angles]
            lines.append(",".join([str(e), stage] + vals + ["1.5"]))
    vals = ["0.9", "0.1"] + ["55.0"] * n_hidden + ["1.0"]
    lines.append(",".join([str(n_epochs), "testing"] + vals))
    path.write_text("\n".join(lines) + "\n")


def make_run(root, dims=(4, 6, 3), n_epochs=3, dataset="yinyang", traces=True, weights=True,
             config=True, name="fake_run"):
    """A result directory with random but well-formed content; returns its path."""
    rng = np.random.RandomState(7)
    run = root / f"{name}_20240101-000000"
    run.mkdir(parents=True)
    dims = list(dims)
    L = len(dims) - 1
    meta = {"name": name, "numpy_seed": 123456, "dataset_key": dataset, "dt": 0.01,
            "sim_config": {"n_epochs": n_epochs}}
    network = {"dims": dims, "gl": 0.03, "gb": 0.1, "ga": 0.06, "activation_template": "sigmoid"}
    if config:
        (run / "config.yaml").write_text(yaml.safe_dump_all([meta, network]))
    _write_metrics(run / "metrics.csv", n_epochs, L - 1, rng)
    (run / "train.log").write_text("fake\n")
    (run / "gitsha.txt").write_text("0" * 40 + "\n")

    with h5py.File(run / "net_recordings.h5", "w") as f:
        f.attrs.update(name=name, numpy_seed=123456, dt=0.01, steps_per_sample=STEPS,
                       rec_every=REC_EVERY, dims=np.array(dims), dataset_key=dataset,
                       gitsha="0" * 40, noise_seed=1, data_seed=9876543)
        for stage, n in SIZES.items():
            g = f.create_group(f"data/{stage}")
            g["labels"] = rng.randint(0, dims[-1], size=n)
            if dims[0] == 4:
                xy = rng.rand(n, 2)
                g["inputs"] = np.concatenate([xy, 1 - xy], axis=1)
        pops = {"input": dims[0], "output": dims[-1], "supervisor": dims[-1]}
        for l in range(1, L):
            pops[f"pyr{l}"] = dims[l]
            pops[f"int{l}"] = dims[l + 1]
        variables = {"input": ["r"], "supervisor": ["r"], "output": ["u_hat", "r", "v_B"]}
        rows = TRACED_SAMPLES * STEPS // REC_EVERY
        for e in range(n_epochs + 1):
            stages = ["validation", "training"] if e < n_epochs else ["validation", "testing"]
            for stage in stages:
                g = f.create_group(f"epochs/{e}/{stage}")
                n = SIZES[stage]
                g["order"] = rng.permutation(n).astype(np.int32)
                if stage != "training":
                    g["predictions"] = rng.randint(0, dims[-1], size=n).astype(np.int8)
                if traces:
                    tg = g.create_group("traces")
                    tg.attrs.update(rec_every=REC_EVERY, samples=TRACED_SAMPLES)
                    for pop, size in pops.items():
                        for var in variables.get(pop, ["u_hat", "r", "v_A"] if pop.startswith("pyr")
                                                 else ["u_hat", "r"]):
                            ds = tg.create_dataset(f"{pop}/{var}",
                                                   data=rng.randn(rows, size).astype(np.float32))
                            ds.attrs.update(rec_every=REC_EVERY, samples=TRACED_SAMPLES)
            if weights:
                w = f.create_group(f"epochs/{e}/weights")
                for l in range(1, L + 1):
                    w[f"up{l}"] = rng.randn(dims[l - 1], dims[l]).astype(np.float32)
                for l in range(1, L):
                    b = rng.randn(dims[l + 1], dims[l]).astype(np.float32)
                    w[f"fb{l}"] = b
                    w[f"ip{l}"] = (w[f"up{l + 1}"][()] + 0.1 * e * rng.randn(dims[l], dims[l + 1])
                                   ).astype(np.float32)
                    w[f"pi{l}"] = (-b + 0.1 * e).astype(np.float32)
    return run


def _check_pngs(paths):
    assert paths
    for p in paths:
        assert p.endswith(".png")
        assert os.path.isfile(p) and os.path.getsize(p) > 1000, p
        with open(p, "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


SUMMARY = ["accuracy.png", "error.png", "alignment.png", "self_prediction.png",
           "output_vs_supervisor.png"]


def test_evaluate_one_hidden_layer(tmp_path):
    run = make_run(tmp_path)
    written = plots.evaluate(run)
    _check_pngs(written)
    names = sorted(os.path.basename(p) for p in written)
    assert names == sorted(SUMMARY + ["decision_map.png"])
    assert all(os.path.dirname(p) == str(run / "plots") for p in written)
    assert not (run / "plots" / "weights").exists()

    more = plots.evaluate(str(run), "1", "0")            # CLI-style flags
    _check_pngs(more)
    per_epoch = sorted(os.listdir(run / "plots" / "weights"))
    assert per_epoch == [f"weights_epoch_{e}.png" for e in range(4)]
    assert str(run / "plots" / "weight_norms.png") in more


def test_evaluate_two_hidden_layers_and_detail(tmp_path):
    run = make_run(tmp_path, dims=(4, 5, 4, 3), n_epochs=1)
    written = plots.evaluate(run)
    _check_pngs(written)
    assert sorted(os.path.basename(p) for p in written) == sorted(SUMMARY + ["decision_map.png"])

    detail = plots.detail_plot(run, "1")
    _check_pngs(detail)
    names = sorted(os.path.basename(p) for p in detail)
    assert names == sorted(["input.png", "pyr1.png", "pyr2.png", "int1.png", "int2.png",
                            "output.png", "supervisor.png", "weights.png"])
    assert all(os.path.dirname(p) == str(run / "epoch_1") for p in detail)


def test_detail_plot_and_missing_epoch(tmp_path):
    run = make_run(tmp_path)
    detail = plots.detail_plot(run, 3)                   # final epoch: validation + testing
    _check_pngs(detail)
    assert "weights.png" in {os.path.basename(p) for p in detail}
    with pytest.raises(ValueError, match=r"epoch 7 is not stored.*stored epochs: 0-3"):
        plots.detail_plot(run, 7)
    with pytest.raises(ValueError, match="whole number"):
        plots.detail_plot(run, "last")


def test_sparse_run_without_traces_weights_or_config(tmp_path):
    """MNIST-sized input (no decision map), nothing traced, no weights, no config.yaml."""
    run = make_run(tmp_path, dims=(9, 5, 3), dataset="mnist", traces=False, weights=False,
                   config=False)
    written = plots.evaluate(run, plot_weights=True)
    _check_pngs(written)
    assert sorted(os.path.basename(p) for p in written) == ["accuracy.png", "alignment.png",
                                                            "error.png"]
    assert plots.detail_plot(run, 0) == []


def test_bad_directories(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        plots.evaluate(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="not a result directory.*net_recordings.h5"):
        plots.evaluate(empty)
    with pytest.raises(FileNotFoundError, match="not a result directory"):
        plots.detail_plot(empty, 0)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(FileNotFoundError, match="not a result directory"):
        plots.evaluate(a_file)

    no_metrics = make_run(tmp_path / "a")
    os.remove(no_metrics / "metrics.csv")
    with pytest.raises(FileNotFoundError, match="no metrics.csv"):
        plots.evaluate(no_metrics)

    corrupt = make_run(tmp_path / "b")
    (corrupt / "net_recordings.h5").write_bytes(b"not an hdf5 file")
    with pytest.raises(ValueError, match="cannot read .* as HDF5"):
        plots.evaluate(corrupt)

    bad_csv = make_run(tmp_path / "c")
    (bad_csv / "metrics.csv").write_text("epoch,stage,accuracy\n0,validation,0.5\n")
    with pytest.raises(ValueError, match="lacks the column"):
        plots.evaluate(bad_csv)


def test_steady_state_forward_pass():
    rng = np.random.RandomState(0)
    w1, w2 = rng.randn(4, 6), rng.randn(6, 3)
    x = rng.rand(5, 4)
    hidden = 1.0 / (1.0 + np.exp(-(0.1 / 0.19) * (x @ w1)))
    expected = (0.1 / 0.13) * (hidden @ w2)
    np.testing.assert_allclose(plots.steady_state_output([w1, w2], x), expected, rtol=1e-12)
    v = np.array([-20.0, 0.0, 3.0, 20.0])
    np.testing.assert_allclose(plots.activation("soft_relu", v), [0.0, np.log(2), np.log1p(np.exp(3)), 20.0])


def test_no_model_import():
    code = "import sys; import runner.plots; assert 'neurogen' not in sys.modules"
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "examples"))
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
