#!/usr/bin/env python3
"""Summarise a sweep (one run per seed): curves, arrays and mean ± std over seeds.

  python examples/evaluate_sweep.py results/yy_pal/yy_pal_configs_runs.txt plots/yy_pal
  python examples/evaluate_sweep.py results/yy_pal plots/yy_pal --label PAL
  python examples/evaluate_sweep.py results/yy_fa results/yy_pal results/yy_bp plots/yy \\
      --labels FA,PAL,BP

A LIST is a runs file written by run_sweep.py (one result directory per line; relative paths are
relative to the file's folder), a folder holding result directories (every subfolder with a
metrics.csv), or a result directory itself. Several LISTs are pooled into one sweep, unless
--labels names one label per LIST: then every LIST is a sweep of its own, summarised in
OUTDIR/<label>/, and the sweeps are overlaid in OUTDIR/compare_*.png and comparison.json.

Read from each run: metrics.csv (the validation rows of epochs 0..n_epochs and the testing row)
and config.yaml (numpy_seed). Runs without a testing row (unfinished) are left out with a
warning; runs with different epoch counts are truncated to the shortest, with a warning.

Written to OUTDIR (one sweep):
  val_accuracy.npy, val_error.npy   n_seeds x (n_epochs + 1), validation rows
  angles.npy                        n_seeds x (n_epochs + 1) x n_hidden, W-B angle [deg]
  test_accuracy.npy, seeds.npy      n_seeds, in the order of the arrays (sorted by seed)
  summary.json                      mean/std/min/max of the final test accuracy, final
                                    validation accuracy and angles, seeds, run directories
  val_accuracy.png, angles.png, test_accuracy.png
Standard deviations are over seeds with ddof = 0 (numpy's default).

ALIF sweeps (evidence accumulation: runs whose config has a ``task``) are read from their
validation rows instead; a run is finished when it has validated at its ``n_iterations``. Written:
  iterations.npy                    the validated iterations common to every run
  val_accuracy.npy, val_loss.npy    n_seeds x len(iterations)
  seeds.npy, summary.json           final accuracy and loss per seed = mean of the validation
                                    batches in the last 20 iterations (the windows of the
                                    MDGL paper's Fig. 3C), mean ± std over seeds
  val_accuracy.png, val_loss.png    (and compare_*.png with --labels)
A sweep must not mix ALIF and microcircuit runs.

Errors (missing path, no runs found, unreadable metrics.csv or config.yaml, ...) are one line on
stderr naming the path, exit status 2.
"""
import argparse
import csv
import json
import os
import sys

import numpy as np
import yaml

# runner/ lives beside this script; make it importable from any working directory.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runner.experiments import run_kind  # noqa: E402

EXIT_BAD_INPUT = 2


class EvalError(Exception):
    """Bad input: reported as one line on stderr, exit 2."""


# ------------------------------------------------------------------------------ command line
def parse_args(argv=None):
    """The command line."""
    parser = argparse.ArgumentParser(
        description="Summarise the runs of a sweep (one per seed): validation-accuracy and W-B "
                    "angle curves, final test accuracy, mean ± std over seeds; or compare sweeps.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  %(prog)s results/yy_pal/yy_pal_configs_runs.txt plots/yy_pal\n"
               "  %(prog)s results/yy_fa results/yy_pal results/yy_bp plots/yy --labels FA,PAL,BP")
    parser.add_argument("lists", nargs="+", metavar="LIST",
                        help="runs .txt file (one result directory per line), folder of result "
                             "directories, or a result directory; several are pooled unless "
                             "--labels is given")
    parser.add_argument("outdir", metavar="OUTDIR", help="folder for the arrays, summary and plots")
    parser.add_argument("--label", default=None, metavar="NAME",
                        help="name of the sweep in plots and summary.json (default: from LIST)")
    parser.add_argument("--labels", default=None, metavar="A,B,...",
                        help="comma-separated label per LIST: compare the LISTs as separate "
                             "sweeps (e.g. FA,PAL,BP)")
    parser.add_argument("--reference", default=None, metavar="YAML",
                        help="ALIF comparison: published points to overlay, {label: [{iteration, loss, "
                             "loss_sd, accuracy, accuracy_sd}, ...]} (e.g. "
                             "experiment_configs/reference/mdgl_fig3c.yaml)")
    args = parser.parse_args(argv)
    if args.labels is not None:
        if args.label is not None:
            parser.error("use --label for one sweep or --labels for a comparison, not both")
        args.labels = [s.strip() for s in args.labels.split(",")]
        if len(args.labels) != len(args.lists) or not all(args.labels):
            parser.error(f"--labels needs one non-empty label per LIST: {len(args.lists)} LISTs, "
                         f"labels {args.labels}")
        if len(set(args.labels)) != len(args.labels):
            parser.error(f"--labels must be different from each other, got {args.labels}")
    return args


def default_label(path):
    """A sweep label from a LIST path: the folder name, or the runs file's stem without the
    suffixes run_sweep.py adds (NAME_configs_runs.txt -> NAME)."""
    stem = os.path.basename(os.path.normpath(path))
    if os.path.isfile(path):
        stem = os.path.splitext(stem)[0]
        for suffix in ("_runs", "_configs"):
            stem = stem[:-len(suffix)] if stem.endswith(suffix) and stem != suffix else stem
    return stem


def warn(message):
    print(f"warning: {message}", file=sys.stderr)


# ------------------------------------------------------------------------------ finding runs
def run_dirs(list_path):
    """The result directories named by one LIST (absolute, in the order found)."""
    if os.path.isdir(list_path):
        if os.path.isfile(os.path.join(list_path, "metrics.csv")):
            return [os.path.abspath(list_path)]
        found = sorted(e.path for e in os.scandir(list_path)
                       if e.is_dir() and os.path.isfile(os.path.join(e.path, "metrics.csv")))
        if not found:
            raise EvalError(f"{list_path}: no result directories (subfolders with metrics.csv)")
        return [os.path.abspath(p) for p in found]
    if os.path.isfile(list_path):
        return read_runs_file(list_path)
    raise EvalError(f"{list_path}: no such file or folder")


def read_runs_file(path):
    """Result directories listed in a runs file; every one must exist."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = [line.strip() for line in fh]
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(f"{path}: cannot read the runs file: {getattr(exc, 'strerror', None) or exc}")
    base = os.path.dirname(os.path.abspath(path))
    dirs = []
    for line in lines:
        if not line or line.startswith("#"):
            continue
        run = os.path.join(base, os.path.expanduser(line))     # absolute lines stay as they are
        if not os.path.isdir(run):
            raise EvalError(f"{run}: result directory listed in {path} does not exist")
        dirs.append(os.path.abspath(run))
    if not dirs:
        raise EvalError(f"{path}: no result directories listed")
    return dirs


# ------------------------------------------------------------------------------ reading runs
def read_metrics(run_dir):
    """{'validation': {epoch: (acc, err, angles)}, 'testing': (epoch, acc) or None, 'n_hidden'}
    from run_dir/metrics.csv (a later row for the same epoch wins)."""
    path = os.path.join(run_dir, "metrics.csv")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise EvalError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}")
    missing = [c for c in ("epoch", "stage", "accuracy", "error") if c not in header]
    if missing:
        raise EvalError(f"{path}: not a metrics file (no column {missing[0]!r})")
    angle_cols = sorted((c for c in header if c.startswith("angle_")), key=lambda c: int(c[6:]))
    validation, testing = {}, None
    for line, row in enumerate(rows, start=2):
        try:
            epoch, acc, err = int(row["epoch"]), float(row["accuracy"]), float(row["error"])
            angles = tuple(float(row[c]) for c in angle_cols)
        except (TypeError, ValueError) as exc:
            raise EvalError(f"{path}: line {line}: unreadable row ({exc})")
        if row["stage"] == "validation":
            validation[epoch] = (acc, err, angles)
        elif row["stage"] == "testing":
            testing = (epoch, acc)
    return {"validation": validation, "testing": testing, "n_hidden": len(angle_cols), "path": path}


def read_meta(run_dir):
    """The meta document of run_dir/config.yaml."""
    path = os.path.join(run_dir, "config.yaml")
    try:
        with open(path, encoding="utf-8") as fh:
            meta = next(yaml.safe_load_all(fh), None)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = getattr(exc, "strerror", None) or " ".join(str(exc).split())
        raise EvalError(f"{path}: cannot read: {reason}")
    if isinstance(meta, list) and meta:            # reference layout [meta, network]
        meta = meta[0]
    if not isinstance(meta, dict):
        raise EvalError(f"{path}: no meta document")
    return meta


def read_run(run_dir):
    """One run: seed, validation curves (epochs 0.. without a gap) and final test accuracy;
    None if the run has not finished."""
    metrics = read_metrics(run_dir)
    meta = read_meta(run_dir)
    if metrics["testing"] is None:
        warn(f"{run_dir}: no testing row in metrics.csv (run not finished); left out")
        return None
    val = metrics["validation"]
    n = 0
    while n in val:                                 # epochs 0, 1, ... without a gap
        n += 1
    if n == 0:
        raise EvalError(f"{metrics['path']}: no validation row for epoch 0")
    seed = meta.get("numpy_seed")
    if not isinstance(seed, int):
        warn(f"{run_dir}: no numpy_seed in config.yaml; seed -1 in seeds.npy")
        seed = -1
    return {"dir": run_dir, "seed": seed,
            "val_accuracy": np.array([val[e][0] for e in range(n)]),
            "val_error": np.array([val[e][1] for e in range(n)]),
            "angles": np.array([val[e][2] for e in range(n)]).reshape(n, metrics["n_hidden"]),
            "test_accuracy": metrics["testing"][1], "n_hidden": metrics["n_hidden"]}


def sweep_dirs(list_paths):
    """The result directories of one sweep (pooled; a run listed twice counts once) and their kind."""
    dirs = []
    for path in list_paths:
        dirs += [d for d in run_dirs(path) if d not in dirs]
    kinds = {d: run_kind(d) for d in dirs}
    if len(set(kinds.values())) > 1:
        snn = next(d for d, k in kinds.items() if k == "snn")
        other = next(d for d, k in kinds.items() if k != "snn")
        raise EvalError(f"{', '.join(list_paths)}: mixes ALIF runs ({snn}) and microcircuit runs ({other}); "
                        f"evaluate them as separate sweeps")
    return dirs, kinds[dirs[0]]


def load_sweep(dirs, kind, list_paths, label):
    """Read the runs of one sweep (``dirs``, ``kind`` from :func:`sweep_dirs` of list_paths) into
    arrays sorted by seed."""
    if kind == "snn":
        return load_snn_sweep(dirs, list_paths, label)
    runs = [r for r in map(read_run, dirs) if r is not None]
    if not runs:
        raise EvalError(f"{', '.join(list_paths)}: no finished runs found")
    hidden = {r["n_hidden"] for r in runs}
    if len(hidden) > 1:
        raise EvalError(f"{', '.join(list_paths)}: runs with different numbers of hidden layers "
                        f"({sorted(hidden)}); evaluate them as separate sweeps")
    runs.sort(key=lambda r: (r["seed"], r["dir"]))
    lengths = [len(r["val_accuracy"]) for r in runs]
    n = min(lengths)
    if len(set(lengths)) > 1:
        shortest = runs[lengths.index(n)]["dir"]
        warn(f"{label}: runs have {min(lengths) - 1} to {max(lengths) - 1} epochs; curves are "
             f"truncated to the shortest ({n - 1} epochs, {shortest})")
    seeds = [r["seed"] for r in runs]
    twice = sorted({s for s in seeds if seeds.count(s) > 1})
    if twice:
        warn(f"{label}: seed(s) {twice} appear in more than one run")
    return {"label": label, "dirs": [r["dir"] for r in runs], "seeds": np.array(seeds, dtype=np.int64),
            "val_accuracy": np.stack([r["val_accuracy"][:n] for r in runs]),
            "val_error": np.stack([r["val_error"][:n] for r in runs]),
            "angles": np.stack([r["angles"][:n] for r in runs]),
            "test_accuracy": np.array([r["test_accuracy"] for r in runs]),
            "truncated": len(set(lengths)) > 1}


# ------------------------------------------------------------------------------ ALIF sweeps
#: validation batches in the last FINAL_WINDOW iterations make a run's final figure (Fig. 3C windows)
FINAL_WINDOW = 20


def read_snn_run(run_dir):
    """One ALIF run: seed and its validation rows; None if it has not validated at n_iterations."""
    path = os.path.join(run_dir, "metrics.csv")
    rows = {}
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in ("iteration", "stage", "loss", "accuracy") if c not in (reader.fieldnames or [])]
            if missing:
                raise EvalError(f"{path}: not an ALIF metrics file (no column {missing[0]!r})")
            for row in reader:
                if row["stage"] == "validation":
                    rows[int(row["iteration"])] = (float(row["accuracy"]), float(row["loss"]))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise EvalError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}")
    meta = read_meta(run_dir)
    n_iter = meta.get("n_iterations")
    if not rows or not isinstance(n_iter, int) or n_iter not in rows:
        warn(f"{run_dir}: no validation at its last iteration ({n_iter}) (run not finished); left out")
        return None
    seed = meta["numpy_seed"] if isinstance(meta.get("numpy_seed"), int) else -1
    its = np.array(sorted(rows))
    return {"dir": run_dir, "seed": seed, "iterations": its,
            "val_accuracy": np.array([rows[i][0] for i in its]), "val_loss": np.array([rows[i][1] for i in its])}


def load_snn_sweep(dirs, list_paths, label):
    """ALIF runs of one sweep on the validated iterations they share, sorted by seed."""
    runs = [r for r in map(read_snn_run, dirs) if r is not None]
    if not runs:
        raise EvalError(f"{', '.join(list_paths)}: no finished runs found")
    runs.sort(key=lambda r: (r["seed"], r["dir"]))
    common = runs[0]["iterations"]
    for r in runs[1:]:
        common = np.intersect1d(common, r["iterations"])
    if len(common) == 0:
        raise EvalError(f"{label}: the runs share no validated iteration")
    if any(len(r["iterations"]) != len(common) for r in runs):
        warn(f"{label}: runs validated at different iterations; curves keep the {len(common)} shared ones "
             f"(up to iteration {common[-1]})")
    pick = [np.searchsorted(r["iterations"], common) for r in runs]
    return {"kind": "snn", "label": label, "dirs": [r["dir"] for r in runs],
            "seeds": np.array([r["seed"] for r in runs], dtype=np.int64), "iterations": common,
            "val_accuracy": np.stack([r["val_accuracy"][k] for r, k in zip(runs, pick)]),
            "val_loss": np.stack([r["val_loss"][k] for r, k in zip(runs, pick)])}


def summarise_snn(sweep):
    its = sweep["iterations"]
    last = its >= its[-1] - FINAL_WINDOW
    acc = sweep["val_accuracy"][:, last].mean(axis=1)
    loss = sweep["val_loss"][:, last].mean(axis=1)
    return {"label": sweep["label"], "kind": "snn", "n_runs": int(len(sweep["seeds"])),
            "seeds": sweep["seeds"].tolist(), "iterations": int(its[-1]),
            "final_window": [int(its[last][0]), int(its[-1])],
            "final_val_accuracy": {**stats(acc, full=True), "per_seed": acc.tolist()},
            "final_val_loss": {**stats(loss, full=True), "per_seed": loss.tolist()},
            "std_ddof": 0, "run_dirs": sweep["dirs"]}


REFERENCE_FIELDS = ("iteration", "loss", "loss_sd", "accuracy", "accuracy_sd")


def read_reference(path, labels):
    """Published learning-curve points per sweep label (``--reference``), checked."""
    try:
        with open(path) as fh:
            data = yaml.safe_load(fh)
    except OSError as exc:
        raise EvalError(f"--reference {path}: cannot read: {exc.strerror or exc}")
    except yaml.YAMLError as exc:
        raise EvalError(f"--reference {path}: not valid YAML ({str(exc).splitlines()[0]})")
    if not isinstance(data, dict) or not data:
        raise EvalError(f"--reference {path}: expected a mapping of sweep labels to lists of points")
    unknown = sorted(set(data) - set(labels))
    if unknown:
        raise EvalError(f"--reference {path}: labels {unknown} are not among --labels {labels}")
    out = {}
    for label, points in data.items():
        if not isinstance(points, list) or not points:
            raise EvalError(f"--reference {path}: {label}: expected a list of points")
        for k, pt in enumerate(points):
            if not isinstance(pt, dict) or set(pt) != set(REFERENCE_FIELDS) or not all(
                    isinstance(pt[f], (int, float)) and not isinstance(pt[f], bool) for f in REFERENCE_FIELDS):
                raise EvalError(f"--reference {path}: {label}[{k}]: expected numbers for exactly the keys "
                                f"{', '.join(REFERENCE_FIELDS)}")
        out[label] = {f: np.array([pt[f] for pt in points], dtype=float) for f in REFERENCE_FIELDS}
    return out


def plot_snn_curves(plt, sweeps, key, ylabel, path, reference=None):
    fig, ax = plt.subplots(figsize=(6, 4))
    field = "accuracy" if key == "val_accuracy" else "loss"
    for i, sweep in enumerate(sweeps):
        band(ax, sweep[key], f"C{i}", f"{sweep['label']} (n={len(sweep['seeds'])}, mean ± std)",
             x=sweep["iterations"])
        ref = (reference or {}).get(sweep["label"])
        if ref is not None:
            # only the published points within the runs' iterations (the axis stays on the runs)
            last = max(int(np.max(sw["iterations"])) for sw in sweeps)
            keep = ref["iteration"] <= last
            if keep.any():
                ax.errorbar(ref["iteration"][keep], ref[field][keep], yerr=ref[f"{field}_sd"][keep], fmt="o",
                            color=f"C{i}", mfc="white", capsize=3, label=f"{sweep['label']} reference (mean ± SD)")
    ax.set_xlabel("iteration")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right" if key == "val_accuracy" else "upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_snn_outputs(sweep, outdir, plt):
    os.makedirs(outdir, exist_ok=True)
    for key in ("iterations", "val_accuracy", "val_loss", "seeds"):
        np.save(os.path.join(outdir, f"{key}.npy"), sweep[key])
    summary = summarise_snn(sweep)
    write_json(os.path.join(outdir, "summary.json"), summary)
    plot_snn_curves(plt, [sweep], "val_accuracy", "validation accuracy", os.path.join(outdir, "val_accuracy.png"))
    plot_snn_curves(plt, [sweep], "val_loss", "validation loss", os.path.join(outdir, "val_loss.png"))
    return summary


# ------------------------------------------------------------------------------ summary
def stats(values, full=False):
    """mean and std (ddof 0) of a 1-d array, plus min and max when `full`."""
    values = np.asarray(values, dtype=float)
    out = {"mean": float(np.mean(values)), "std": float(np.std(values))}
    if full:
        out.update(min=float(np.min(values)), max=float(np.max(values)))
    return out


def summarise(sweep):
    """The content of summary.json."""
    n_hidden = sweep["angles"].shape[2]
    return {"label": sweep["label"], "n_runs": int(len(sweep["seeds"])),
            "seeds": sweep["seeds"].tolist(), "epochs": int(sweep["val_accuracy"].shape[1] - 1),
            "truncated": bool(sweep["truncated"]),
            "test_accuracy": stats(sweep["test_accuracy"], full=True),
            "final_val_accuracy": stats(sweep["val_accuracy"][:, -1]),
            "final_angle": [{"layer": layer + 1, **stats(sweep["angles"][:, -1, layer])}
                            for layer in range(n_hidden)],
            "std_ddof": 0, "run_dirs": sweep["dirs"]}


def summary_text(summary):
    """The one-paragraph summary printed on stdout."""
    if summary.get("kind") == "snn":
        a, l, w = summary["final_val_accuracy"], summary["final_val_loss"], summary["final_window"]
        return (f"{summary['label']}: validation accuracy {a['mean']:.3f} ± {a['std']:.3f}, loss {l['mean']:.3f} ± "
                f"{l['std']:.3f} over {summary['n_runs']} seeds (iterations {w[0]}-{w[1]}; min accuracy "
                f"{a['min']:.3f}, max {a['max']:.3f}).")
    t, v = summary["test_accuracy"], summary["final_val_accuracy"]
    text = (f"{summary['label']}: test accuracy {t['mean']:.3f} ± {t['std']:.3f} over "
            f"{summary['n_runs']} seeds (min {t['min']:.3f}, max {t['max']:.3f}); validation "
            f"accuracy {v['mean']:.3f} ± {v['std']:.3f} after {summary['epochs']} epochs")
    if summary["final_angle"]:
        text += "; final W–B angle " + ", ".join(
            f"{a['mean']:.1f} ± {a['std']:.1f}° (hidden layer {a['layer']})" for a in summary["final_angle"])
    return text + "."


def write_arrays(sweep, outdir):
    """The .npy files of one sweep."""
    for key in ("val_accuracy", "val_error", "angles", "test_accuracy", "seeds"):
        np.save(os.path.join(outdir, f"{key}.npy"), sweep[key])


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=1)
        fh.write("\n")


# ------------------------------------------------------------------------------ plots
def pyplot():
    """matplotlib.pyplot without a display (imported late: error paths stay fast)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def band(ax, curves, color, label, x=None):
    """Per-seed curves thin, the mean thick, mean ± std shaded."""
    x = np.arange(curves.shape[1]) if x is None else x
    for curve in curves:
        ax.plot(x, curve, color=color, lw=0.6, alpha=0.35)
    mean, std = curves.mean(axis=0), curves.std(axis=0)
    ax.plot(x, mean, color=color, lw=2, label=label)
    ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.2, lw=0)


def plot_val_accuracy(plt, sweeps, path):
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, sweep in enumerate(sweeps):
        band(ax, sweep["val_accuracy"], f"C{i}",
             f"{sweep['label']} (n={len(sweep['seeds'])}, mean ± std)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_angles(plt, sweeps, path):
    """The W–B angle per hidden layer (one panel each); False when no sweep has hidden layers."""
    n_hidden = max(s["angles"].shape[2] for s in sweeps)
    if n_hidden == 0:
        return False
    fig, axes = plt.subplots(1, n_hidden, figsize=(5.5 * n_hidden, 4), squeeze=False)
    for layer, ax in enumerate(axes[0]):
        for i, sweep in enumerate(sweeps):
            if layer < sweep["angles"].shape[2]:
                band(ax, sweep["angles"][:, :, layer], f"C{i}", sweep["label"])
        ax.set_title(f"hidden layer {layer + 1}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("angle between W and B [deg]")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def plot_test_accuracy(plt, sweeps, path):
    """Per-seed points with a little horizontal jitter, mean ± std as an error bar."""
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(sweeps), 4))
    rng = np.random.default_rng(0)                  # fixed jitter: identical files on re-runs
    for i, sweep in enumerate(sweeps):
        acc = sweep["test_accuracy"]
        ax.scatter(i + rng.uniform(-0.12, 0.12, len(acc)), acc, s=14, color=f"C{i}", alpha=0.7)
        ax.errorbar(i + 0.3, acc.mean(), yerr=acc.std(), fmt="o", color="k", capsize=4)
    ax.set_xticks(range(len(sweeps)), [s["label"] for s in sweeps])
    ax.set_xlim(-0.6, len(sweeps) - 0.2)
    ax.set_ylabel("test accuracy (final)")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_sweep_outputs(sweep, outdir, plt):
    """Arrays, summary.json and the three PNGs of one sweep; returns the summary."""
    os.makedirs(outdir, exist_ok=True)
    write_arrays(sweep, outdir)
    summary = summarise(sweep)
    write_json(os.path.join(outdir, "summary.json"), summary)
    plot_val_accuracy(plt, [sweep], os.path.join(outdir, "val_accuracy.png"))
    if not plot_angles(plt, [sweep], os.path.join(outdir, "angles.png")):
        warn(f"{sweep['label']}: no hidden layer, so no angles.png")
    plot_test_accuracy(plt, [sweep], os.path.join(outdir, "test_accuracy.png"))
    return summary


# ------------------------------------------------------------------------------ main
def evaluate(args):
    """Read, write, print; returns the summaries."""
    if args.labels is None:
        label = args.label or default_label(args.lists[0])
        groups = [(label, args.lists, args.outdir)]
    else:
        groups = [(lab, [path], os.path.join(args.outdir, lab))
                  for lab, path in zip(args.labels, args.lists)]
    if args.reference is not None and args.labels is None:
        raise EvalError("--reference overlays published curves on a comparison: give --labels too")
    reference = read_reference(args.reference, args.labels) if args.reference else None
    found = [sweep_dirs(paths) for _, paths, _ in groups]          # (dirs, kind) of each sweep
    kinds = {kind for _, kind in found}
    if len(kinds) > 1:
        raise EvalError("the LISTs mix ALIF and microcircuit sweeps; compare sweeps of one kind")
    if reference is not None and kinds != {"snn"}:
        raise EvalError("--reference overlays published ALIF learning curves; these are microcircuit sweeps")
    sweeps = [load_sweep(dirs, kind, paths, label)                   # all read before writing
              for (dirs, kind), (label, paths, _) in zip(found, groups)]
    try:
        os.makedirs(args.outdir, exist_ok=True)
    except OSError as exc:
        raise EvalError(f"{args.outdir}: cannot create: {exc.strerror or exc}")
    plt = pyplot()
    compare = args.labels is not None
    if kinds == {"snn"}:
        summaries = [write_snn_outputs(s, out, plt) for s, (_, _, out) in zip(sweeps, groups)]
        if compare:
            plot_snn_curves(plt, sweeps, "val_accuracy", "validation accuracy",
                            os.path.join(args.outdir, "compare_val_accuracy.png"), reference)
            plot_snn_curves(plt, sweeps, "val_loss", "validation loss",
                            os.path.join(args.outdir, "compare_val_loss.png"), reference)
    else:
        summaries = [write_sweep_outputs(s, out, plt) for s, (_, _, out) in zip(sweeps, groups)]
        if compare:
            plot_val_accuracy(plt, sweeps, os.path.join(args.outdir, "compare_val_accuracy.png"))
            plot_angles(plt, sweeps, os.path.join(args.outdir, "compare_angles.png"))
            plot_test_accuracy(plt, sweeps, os.path.join(args.outdir, "compare_test_accuracy.png"))
    if compare:
        write_json(os.path.join(args.outdir, "comparison.json"),
                   {"labels": args.labels, "sweeps": {s["label"]: s for s in summaries}})
    for summary in summaries:
        print(summary_text(summary))
    print(f"written to {os.path.abspath(args.outdir)}")
    return summaries


def main(argv=None):
    args = parse_args(argv)
    try:
        evaluate(args)
    except EvalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:               # writing the outputs
        print(f"error: {exc.filename or args.outdir}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
