"""Read-only evaluation plots of a result directory written by ``experiment_runner.py train``.

A result directory ``OUT/<name>_<timestamp>/`` holds ``config.yaml`` (meta and network documents),
``metrics.csv`` (one row per epoch and stage) and ``net_recordings.h5`` (data, predictions, traces
and weight snapshots; layout in :func:`evaluate`). Nothing here builds or runs a model: every figure
is drawn from the stored files only (the decision map uses a closed-form steady-state forward pass).

Commands of the runner that land here::

    experiment_runner.py eval DIR [plot_weights 0|1] [show 0|1]   ->  evaluate(DIR, plot_weights, show)
    experiment_runner.py detail_plot DIR EPOCH                     ->  detail_plot(DIR, EPOCH)

``evaluate`` writes into ``DIR/plots/``:

* ``accuracy.png``: validation accuracy per epoch (epoch 0 = before training), training accuracy
  where recorded, final test accuracy as a marker;
* ``error.png``: validation RMS error of the output (u_hat - r_sup) per epoch;
* ``alignment.png``: angle between W_{l+1}^T and B_l per hidden layer l (degrees, from metrics.csv);
* ``self_prediction.png``: relative distances ||W_IP_l - W_up_{l+1}||_F / ||W_up_{l+1}||_F and
  ||W_PI_l + B_l||_F / ||B_l||_F per stored epoch, plus the traced apical potential of ``pyr1``;
* ``output_vs_supervisor.png``: traced output u_hat against the supervisor rate r;
* ``decision_map.png``: yin-yang only (4 inputs);
* with ``plot_weights``: ``weight_norms.png`` and ``weights/weights_epoch_<E>.png`` for every stored
  epoch (the only per-epoch files, written on request).

``detail_plot`` writes ``DIR/epoch_<E>/<population>.png`` (every traced variable of the population,
every stage stored at that epoch) and ``DIR/epoch_<E>/weights.png``.

Problems with the directory raise :class:`FileNotFoundError` (not a result directory) or
:class:`ValueError` (unreadable or inconsistent content, missing epoch) with a one-sentence message.
Figures are drawn on Agg canvases (no global backend change, nothing left open) unless ``show`` asks
for interactive windows.
"""
import csv
import logging
import math
import os

import numpy as np

__all__ = [
    "evaluate",
    "detail_plot",
    "read_metrics",
    "steady_state_output",
    "activation",
    "DPI",
]

log = logging.getLogger(__name__)

DPI = 120
STAGES = ("validation", "training", "testing")
H5_NAME = "net_recordings.h5"
METRICS_NAME = "metrics.csv"
CONFIG_NAME = "config.yaml"

#: Conductance defaults of the shipped configs (spec §4), used where config.yaml lacks a key.
G_DEFAULTS = {"gl": 0.03, "gb": 0.1, "ga": 0.06}
YINYANG_CLASSES = ("yin", "yang", "dot")
# Strong colours for samples, light versions of the same hues for the decision-map background.
_CLASS_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
_MAX_LINES = 40          # neurons drawn per trace panel (evenly spaced subset above that)
_POTENTIALS = {"V", "v_B", "v_A", "v_D", "v_down", "v_T", "u_hat", "u_eff", "xi", "u_acc"}
_RATES = {"r", "r_last", "r_B", "r_D", "h", "sample_value"}


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------

def _flag(value, what):
    """A 0/1 switch given as bool, int or string (the CLI passes strings)."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"{what} must be 0 or 1, got {value!r}.")
    return bool(value)


def _epoch_int(epoch):
    try:
        value = int(str(epoch).strip()) if not isinstance(epoch, (int, np.integer)) else int(epoch)
    except ValueError:
        raise ValueError(f"epoch must be a whole number, got {epoch!r}.") from None
    return value


def _ranges(values):
    """Compact text of sorted integers: [0, 1, 2, 3, 7] -> '0-3, 7'."""
    values = sorted(values)
    if not values:
        return "none"
    parts, start, prev = [], values[0], values[0]
    for v in values[1:] + [None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if v is not None:
            start = prev = v
    return ", ".join(parts)


def activation(name, x, threshold=15.0):
    """Transfer function of the network (spec §3) in NumPy, float64."""
    x = np.asarray(x, dtype=np.float64)
    if name == "sigmoid":
        # 0.5 (1 + tanh(x / 2)) is the logistic function without overflow warnings.
        return 0.5 * (1.0 + np.tanh(0.5 * x))
    if name == "sigmoid_stable":
        return np.where(x < -threshold, 0.0,
                        np.where(x > threshold, 1.0, 0.5 * (1.0 + np.tanh(0.5 * x))))
    if name == "soft_relu":
        inner = np.log1p(np.exp(np.clip(x, -threshold, threshold)))
        return np.where(x < -threshold, 0.0, np.where(x > threshold, x, inner))
    raise ValueError(f"unknown activation_template {name!r} (known: sigmoid, soft_relu, "
                     "sigmoid_stable).")


def steady_state_output(weights_up, inputs, gl=0.03, gb=0.1, ga=0.06,
                        activation_name="sigmoid", threshold=15.0):
    """Output potentials of the steady-state forward pass (apical input assumed cancelled).

    Hidden layer l: u = g_b / (g_l + g_b + g_a) * (r_{l-1} @ W_up_l), r_l = phi(u); output:
    u = g_b / (g_l + g_b) * (r_{L-1} @ W_up_L). ``weights_up`` are the stored (n_pre, n_post)
    matrices up1..upL; ``inputs`` is (n_samples, n_0). Returns (n_samples, n_L).
    """
    r = np.asarray(inputs, dtype=np.float64)
    hidden_scale = gb / (gl + gb + ga)
    for w in weights_up[:-1]:
        r = activation(activation_name, hidden_scale * (r @ np.asarray(w, dtype=np.float64)),
                       threshold)
    return gb / (gl + gb) * (r @ np.asarray(weights_up[-1], dtype=np.float64))


def _unit_label(var):
    if var in _POTENTIALS:
        return f"{var} (potential, arb. units)"
    if var in _RATES:
        return f"{var} (rate, arb. units)"
    return f"{var} (arb. units)"


def _population_key(name):
    """input, pyr1.., int1.., output, supervisor, then anything else alphabetically."""
    for rank, prefix in ((1, "pyr"), (2, "int")):
        if name.startswith(prefix) and name[len(prefix):].isdigit():
            return (rank, int(name[len(prefix):]), name)
    fixed = {"input": 0, "output": 3, "supervisor": 4}
    return (fixed.get(name, 5), 0, name)


_WEIGHT_RANK = {"up": 0, "fb": 1, "ip": 2, "pi": 3}


def _weight_key(name):
    prefix, digits = name[:2], name[2:]
    if prefix in _WEIGHT_RANK and digits.isdigit():
        return (_WEIGHT_RANK[prefix], int(digits), name)
    return (9, 0, name)


def _weight_title(name):
    prefix, digits = name[:2], name[2:]
    if not digits.isdigit():
        return name
    l = int(digits)
    return {
        "up": f"W_up{l}: level {l - 1} -> {l} (forward)",
        "fb": f"B{l}: level {l + 1} -> hidden {l} (apical)",
        "ip": f"W_IP{l}: pyr{l} -> int{l}",
        "pi": f"W_PI{l}: int{l} -> pyr{l} (apical)",
    }.get(prefix, name)


# --------------------------------------------------------------------------------------------
# Figures: Agg canvases, or pyplot windows when asked to show them
# --------------------------------------------------------------------------------------------

class _Figures:
    def __init__(self, show=False):
        self.show = show
        self.kept = []

    def new(self, figsize, layout="constrained"):
        """A figure; ``layout=None`` for large grids placed by :func:`_grid_margins` (constrained
        layout costs seconds on figures with dozens of axes)."""
        if self.show:
            import matplotlib.pyplot as plt
            return plt.figure(figsize=figsize, layout=layout)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        fig = Figure(figsize=figsize, layout=layout)
        FigureCanvasAgg(fig)
        return fig

    def save(self, fig, path):
        try:
            fig.savefig(path, dpi=DPI)
        finally:
            if self.show:
                self.kept.append(fig)
            else:
                fig.clear()
        return path

    def finish(self):
        """Show the kept windows (blocks until closed), then close them."""
        if not self.kept:
            return
        import matplotlib.pyplot as plt
        try:
            plt.show()
        finally:
            for fig in self.kept:
                plt.close(fig)
            self.kept = []

    def close_all(self):
        if self.kept:
            import matplotlib.pyplot as plt
            for fig in self.kept:
                plt.close(fig)
            self.kept = []


def _grid_margins(fig, nrows, ncols, left=0.9, right=0.3, top=0.75, bottom=0.55, hgap=0.75,
                  wgap=0.9):
    """Fixed margins and gaps in inches for a grid of axes (cheap replacement of constrained
    layout on big figures)."""
    width, height = fig.get_size_inches()
    axis_h = max((height - top - bottom - hgap * (nrows - 1)) / nrows, 0.1)
    axis_w = max((width - left - right - wgap * (ncols - 1)) / ncols, 0.1)
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height,
                        top=1 - top / height, hspace=hgap / axis_h, wspace=wgap / axis_w)


# --------------------------------------------------------------------------------------------
# Reading a result directory
# --------------------------------------------------------------------------------------------

def read_metrics(path):
    """metrics.csv as {stage: {column: float array sorted by epoch}}; angle columns listed in
    ``result["_angles"]`` (angle_1, angle_2, ... in layer order)."""
    path = os.fspath(path)
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path} is empty (expected the header epoch,stage,accuracy,error,...).")
        header = [h.strip() for h in header]
        missing = [c for c in ("epoch", "stage", "accuracy", "error") if c not in header]
        if missing:
            raise ValueError(f"{path} lacks the column(s) {', '.join(missing)} in its header.")
        columns = [c for c in header if c != "stage"]
        rows = {}
        for lineno, row in enumerate(reader, start=2):
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise ValueError(f"{path} line {lineno} has {len(row)} fields, the header "
                                 f"{len(header)}.")
            record = dict(zip(header, (cell.strip() for cell in row)))
            values = {}
            for col in columns:
                text = record[col]
                try:
                    values[col] = float(text) if text else math.nan
                except ValueError:
                    raise ValueError(f"{path} line {lineno}: column {col} is not a number "
                                     f"({text!r}).") from None
            rows.setdefault(record["stage"], []).append(values)
    result = {}
    for stage, records in rows.items():
        records.sort(key=lambda r: r["epoch"])
        result[stage] = {col: np.array([r[col] for r in records], dtype=np.float64)
                         for col in columns}
    angles = [c for c in header if c.startswith("angle_")]
    angles.sort(key=lambda c: (0, int(c[6:])) if c[6:].isdigit() else (1, c))
    result["_angles"] = angles
    return result


def _read_config(path):
    """(meta, network) dicts of config.yaml; empty dicts where the file is absent."""
    if not os.path.exists(path):
        return {}, {}
    import yaml
    try:
        with open(path) as handle:
            docs = [d for d in yaml.safe_load_all(handle) if d is not None]
    except (OSError, yaml.YAMLError) as exc:
        reason = " ".join(str(exc).split())
        raise ValueError(f"cannot read {path}: {reason}.") from None
    if len(docs) == 1 and isinstance(docs[0], list):        # reference layout [meta, network]
        docs = docs[0]
    meta = docs[0] if docs and isinstance(docs[0], dict) else {}
    network = docs[1] if len(docs) > 1 and isinstance(docs[1], dict) else {}
    return meta, network


def _attr(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value


class _Run:
    """An open result directory (context manager; the HDF5 file is opened read-only)."""

    def __init__(self, run_dir):
        run_dir = os.path.normpath(os.fspath(run_dir))
        if not os.path.exists(run_dir):
            raise FileNotFoundError(f"result directory {run_dir} does not exist.")
        if not os.path.isdir(run_dir):
            raise FileNotFoundError(f"{run_dir} is not a result directory (it is a file).")
        for needed in (H5_NAME, METRICS_NAME):
            if not os.path.isfile(os.path.join(run_dir, needed)):
                raise FileNotFoundError(f"{run_dir} is not a result directory (no {needed}).")
        self.dir = run_dir
        self.meta, self.network = _read_config(os.path.join(run_dir, CONFIG_NAME))
        import h5py
        h5_path = os.path.join(run_dir, H5_NAME)
        try:
            self.h5 = h5py.File(h5_path, "r")
        except OSError as exc:
            reason = " ".join(str(exc).split())
            raise ValueError(f"cannot read {h5_path} as HDF5 ({reason}).") from None
        try:
            self.attrs = {k: _attr(v) for k, v in self.h5.attrs.items()}
            self.metrics = read_metrics(os.path.join(run_dir, METRICS_NAME))
            self.name = str(self.meta.get("name", self.attrs.get("name",
                                                                  os.path.basename(run_dir))))
            self.seed = self.meta.get("numpy_seed", self.attrs.get("numpy_seed", "?"))
            dims = self.attrs.get("dims", self.network.get("dims"))
            if dims is None:
                raise ValueError(f"{h5_path} has no 'dims' attribute and config.yaml no dims.")
            self.dims = [int(d) for d in np.ravel(dims)]
            if len(self.dims) < 2:
                raise ValueError(f"{h5_path}: dims {self.dims} name fewer than two layers.")
            self.dt = float(self.attrs.get("dt", self.meta.get("dt", 0.01)))
            self.steps_per_sample = self.attrs.get("steps_per_sample")
            self.rec_every = self.attrs.get("rec_every")
            self.epoch_keys = {}
            if "epochs" in self.h5:
                for key in self.h5["epochs"]:
                    try:
                        self.epoch_keys[int(key)] = key
                    except ValueError:
                        continue
        except Exception:
            self.h5.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.h5.close()

    @property
    def title(self):
        return f"{self.name} (seed {self.seed})"

    @property
    def epochs(self):
        return sorted(self.epoch_keys)

    def epoch(self, e):
        return self.h5["epochs"][self.epoch_keys[e]]

    def weight_epochs(self):
        return [e for e in self.epochs if "weights" in self.epoch(e)
                and len(self.epoch(e)["weights"]) > 0]

    def weights(self, e):
        group = self.epoch(e)["weights"]
        return {name: np.asarray(group[name][()], dtype=np.float64)
                for name in sorted(group, key=_weight_key)}

    def stages(self, e):
        group = self.epoch(e)
        names = [s for s in STAGES if s in group]
        return names + sorted(s for s in group if s not in STAGES and s != "weights")

    def traces(self, e, stage):
        group = self.epoch(e)
        if stage in group and "traces" in group[stage]:
            return group[stage]["traces"]
        return None

    def trace(self, e, stage, population, variable):
        traces = self.traces(e, stage)
        if traces is None or population not in traces or variable not in traces[population]:
            return None
        return traces[population][variable]

    def trace_timing(self, dataset):
        """(rec_every, steps_per_sample, samples) for a trace dataset, from the nearest attrs."""
        def look(key):
            node = dataset
            while node is not None:
                if key in node.attrs:
                    return _attr(node.attrs[key])
                node = node.parent if node.name != "/" else None
            return None
        rec_every = look("rec_every") or self.rec_every or 1
        steps = look("steps_per_sample") or self.steps_per_sample
        samples = look("samples")
        return int(rec_every), (int(steps) if steps else None), samples


# --------------------------------------------------------------------------------------------
# Trace panels
# --------------------------------------------------------------------------------------------

def _time_axis(run, dataset, rows):
    rec_every, steps, _ = run.trace_timing(dataset)
    return np.arange(rows) * rec_every * run.dt, steps


def _plot_trace(ax, run, dataset, label_neurons=False):
    """All (or an evenly spaced subset of) neurons of one trace against time in ms."""
    data = np.asarray(dataset[()], dtype=np.float64)
    if data.ndim == 1:
        data = data[:, None]
    data = data.reshape(data.shape[0], -1)
    rows, n = data.shape
    t, steps = _time_axis(run, dataset, rows)
    shown = np.arange(n) if n <= _MAX_LINES else np.unique(
        np.linspace(0, n - 1, _MAX_LINES).round().astype(int))
    lines = ax.plot(t, data[:, shown], lw=0.8)
    if label_neurons and len(shown) <= 10:
        for line, i in zip(lines, shown):
            line.set_label(f"neuron {i}")
    _sample_boundaries(ax, t, steps, run.dt)
    ax.set_xlabel("time in stage (ms)")
    ax.grid(alpha=0.2)
    note = "" if len(shown) == n else f" ({len(shown)} of {n} neurons)"
    return data, note


def _sample_boundaries(ax, t, steps, dt):
    if steps and len(t) > 1:
        period = steps * dt
        for k in range(1, int(t[-1] // period) + 1):
            ax.axvline(k * period, color="0.5", lw=0.5, alpha=0.35, zorder=0)


# --------------------------------------------------------------------------------------------
# Individual figures
# --------------------------------------------------------------------------------------------

def _integer_epochs(ax):
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _finite(values):
    return values is not None and np.isfinite(values).any()


def _as_percent(acc):
    """Accuracy is stored as a fraction; a column already in percent is left as it is."""
    finite = acc[np.isfinite(acc)]
    return acc if finite.size and finite.max() > 1.0 + 1e-9 else 100.0 * acc


def _plot_accuracy(run, figs, out):
    m = run.metrics
    val, train, test = m.get("validation"), m.get("training"), m.get("testing")
    if not any(s is not None and _finite(s["accuracy"]) for s in (val, train, test)):
        log.info("accuracy.png skipped: no accuracy values in metrics.csv")
        return None
    fig = figs.new((7.5, 4.5))
    ax = fig.add_subplot()
    if val is not None and _finite(val["accuracy"]):
        ax.plot(val["epoch"], _as_percent(val["accuracy"]), "-",
                marker="o" if len(val["epoch"]) <= 40 else None, ms=3, label="validation")
    if train is not None and _finite(train["accuracy"]):
        ax.plot(train["epoch"] + 0.5, _as_percent(train["accuracy"]), "-", alpha=0.8,
                marker="s" if len(train["epoch"]) <= 40 else None, ms=3,
                label="training (teacher on; during epoch E, drawn at E + 0.5)")
    if test is not None and _finite(test["accuracy"]):
        acc = _as_percent(test["accuracy"])
        i = int(np.flatnonzero(np.isfinite(acc))[-1])
        ax.plot([test["epoch"][i]], [acc[i]], "*", ms=15, color="k",
                label=f"test (final): {acc[i]:.1f} %")
    n_class = run.dims[-1]
    ax.axhline(100.0 / n_class, color="0.5", ls=":", lw=1, label=f"chance (1/{n_class})")
    ax.set_xlabel("epoch (0 = before training)")
    _integer_epochs(ax)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"{run.title}: classification accuracy")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return figs.save(fig, os.path.join(out, "accuracy.png"))


def _plot_error(run, figs, out):
    m = run.metrics
    val, train, test = m.get("validation"), m.get("training"), m.get("testing")
    if not any(s is not None and _finite(s["error"]) for s in (val, train, test)):
        log.info("error.png skipped: no error values in metrics.csv")
        return None
    fig = figs.new((7.5, 4.5))
    ax = fig.add_subplot()
    if val is not None and _finite(val["error"]):
        ax.plot(val["epoch"], val["error"], "-", marker="o" if len(val["epoch"]) <= 40 else None,
                ms=3, label="validation")
    if train is not None and _finite(train["error"]):
        ax.plot(train["epoch"] + 0.5, train["error"], "-", alpha=0.8,
                marker="s" if len(train["epoch"]) <= 40 else None, ms=3,
                label="training (teacher on; during epoch E, drawn at E + 0.5)")
    if test is not None and _finite(test["error"]):
        i = int(np.flatnonzero(np.isfinite(test["error"]))[-1])
        ax.plot([test["epoch"][i]], [test["error"][i]], "*", ms=15, color="k",
                label=f"test (final): {test['error'][i]:.4g}")
    ax.set_xlabel("epoch (0 = before training)")
    _integer_epochs(ax)
    ax.set_ylabel("RMS error of output u_hat - r_sup (arb. units)")
    ax.set_title(f"{run.title}: output error")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return figs.save(fig, os.path.join(out, "error.png"))


def _plot_alignment(run, figs, out):
    m = run.metrics
    angles = m["_angles"]
    # One stage per curve set: validation rows span epochs 0..n (the longest), else training.
    stage = next((s for s in ("validation", "training", "testing") if s in m
                  and any(_finite(m[s][c]) for c in angles)), None)
    if stage is None:
        log.info("alignment.png skipped: no angle values in metrics.csv")
        return None
    fig = figs.new((7.5, 4.5))
    ax = fig.add_subplot()
    for col in angles:
        vals = m[stage][col]
        if not _finite(vals):
            continue
        l = col[6:]
        lname = f"B{l} vs W_up{int(l) + 1}^T" if l.isdigit() else col
        ok = np.isfinite(vals)
        ax.plot(m[stage]["epoch"][ok], vals[ok], "-",
                marker="o" if ok.sum() <= 40 else None, ms=3,
                label=f"hidden layer {l}: {lname}")
    ax.axhline(90.0, color="0.5", ls=":", lw=1, label="90 deg (unrelated)")
    ax.set_xlabel(f"epoch (angles from the {stage} rows of metrics.csv)")
    _integer_epochs(ax)
    ax.set_ylabel("W-B angle (degrees)")
    ax.set_title(f"{run.title}: alignment of feedback B with forward weights")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return figs.save(fig, os.path.join(out, "alignment.png"))


def _relative(diff, ref):
    norm = np.linalg.norm(ref)
    return np.linalg.norm(diff) / norm if norm > 0 else math.nan


def _plot_self_prediction(run, figs, out):
    L = len(run.dims) - 1
    epochs = run.weight_epochs()
    curves = []            # (label, style, colour index, epochs, values)
    for l in range(1, L):
        ip_e, ip_v, pi_e, pi_v = [], [], [], []
        for e in epochs:
            group = run.epoch(e)["weights"]
            if f"ip{l}" in group and f"up{l + 1}" in group:
                w_ip = np.asarray(group[f"ip{l}"][()], dtype=np.float64)
                w_up = np.asarray(group[f"up{l + 1}"][()], dtype=np.float64)
                if w_ip.shape == w_up.shape:
                    ip_e.append(e)
                    ip_v.append(_relative(w_ip - w_up, w_up))
            if f"pi{l}" in group and f"fb{l}" in group:
                w_pi = np.asarray(group[f"pi{l}"][()], dtype=np.float64)
                b = np.asarray(group[f"fb{l}"][()], dtype=np.float64)
                if w_pi.shape == b.shape:
                    pi_e.append(e)
                    pi_v.append(_relative(w_pi + b, b))
        if ip_e:
            curves.append((f"layer {l}: ‖W_IP{l} − W_up{l + 1}‖_F / ‖W_up{l + 1}‖_F", "-", l, ip_e, ip_v))
        if pi_e:
            curves.append((f"layer {l}: ‖W_PI{l} + B{l}‖_F / ‖B{l}‖_F", "--", l, pi_e, pi_v))

    # Apical potential of pyr1 over the traced samples of the last epoch that traced it.
    va_epoch = next((e for e in reversed(run.epochs)
                     if any(run.trace(e, s, "pyr1", "v_A") is not None for s in run.stages(e))),
                    None)
    va_stages = [] if va_epoch is None else [
        s for s in run.stages(va_epoch) if run.trace(va_epoch, s, "pyr1", "v_A") is not None]
    if not curves and not va_stages:
        log.info("self_prediction.png skipped: no weights of hidden layers and no pyr1 v_A trace")
        return None

    n_rows = (1 if curves else 0) + len(va_stages)
    fig = figs.new((8, 3.2 * n_rows + 0.6))
    axes = fig.subplots(n_rows, 1, squeeze=False)[:, 0]
    fig.suptitle(f"{run.title}: self-prediction (0 = interneurons cancel the top-down input)")
    row = 0
    if curves:
        ax = axes[0]
        for label, style, l, es, vs in curves:
            ax.plot(es, vs, style, color=_CLASS_COLOURS[(l - 1) % len(_CLASS_COLOURS)],
                    marker="o" if len(es) <= 40 else None, ms=3, label=label)
        ax.set_xlabel("epoch (weights at the start of the epoch)")
        _integer_epochs(ax)
        ax.set_ylabel("relative Frobenius distance")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        row = 1
    for stage in va_stages:
        ax = axes[row]
        data, note = _plot_trace(ax, run, run.trace(va_epoch, stage, "pyr1", "v_A"))
        peak = float(np.nanmax(np.abs(data))) if data.size else math.nan
        ax.axhline(0.0, color="k", lw=0.6)
        ax.set_ylabel("v_A of pyr1 (potential, arb. units)")
        ax.set_title(f"apical potential of pyr1, epoch {va_epoch} {stage}: "
                     f"max |v_A| = {peak:.3g}{note}", fontsize=10)
        row += 1
    return figs.save(fig, os.path.join(out, "self_prediction.png"))


def _output_variable(run, e, stage):
    for var in ("u_hat", "u", "V"):
        if run.trace(e, stage, "output", var) is not None:
            return var
    return None


def _plot_output_vs_supervisor(run, figs, out):
    candidates = []
    for e in run.epochs:
        for rank, stage in enumerate(("validation", "training")):
            var = _output_variable(run, e, stage)
            if var is not None and run.trace(e, stage, "supervisor", "r") is not None:
                candidates.append((e, rank, stage, var))
    if not candidates:
        log.info("output_vs_supervisor.png skipped: output and supervisor were not traced")
        return None
    e, _, stage, var = max(candidates)
    u_set = run.trace(e, stage, "output", var)
    r_set = run.trace(e, stage, "supervisor", "r")
    u = np.asarray(u_set[()], dtype=np.float64).reshape(u_set.shape[0], -1)
    r = np.asarray(r_set[()], dtype=np.float64).reshape(r_set.shape[0], -1)
    rows = min(len(u), len(r))
    n_out = min(u.shape[1], r.shape[1])
    tu, steps = _time_axis(run, u_set, rows)
    tr, _ = _time_axis(run, r_set, rows)
    _, _, samples = run.trace_timing(u_set)
    names = (YINYANG_CLASSES if run.dims[0] == 4 and n_out == 3 else
             tuple(f"class {k}" for k in range(n_out)))
    fig = figs.new((9, 1.5 * n_out + 1.2))
    axes = fig.subplots(n_out, 1, sharex=True, squeeze=False)[:, 0]
    what = f"{samples} samples" if samples is not None else "traced samples"
    fig.suptitle(f"{run.title}: output {var} vs supervisor r, epoch {e} {stage} ({what})")
    for k, ax in enumerate(axes):
        ax.plot(tu, u[:rows, k], color=_CLASS_COLOURS[k % 10], lw=1.0, label=f"output {var}")
        ax.plot(tr, r[:rows, k], color="k", ls="--", lw=0.9, label="supervisor r")
        _sample_boundaries(ax, tu, steps, run.dt)
        ax.set_ylabel(f"{names[k]}\n(arb. units)", fontsize=8)
        ax.grid(alpha=0.2)
    axes[0].legend(fontsize=8, loc="upper right")
    axes[-1].set_xlabel(f"time in {stage} stage (ms)")
    return figs.save(fig, os.path.join(out, "output_vs_supervisor.png"))


def _scatter_stage(run):
    """(stage, epoch) of the recorded predictions drawn on the decision map: test, else the last
    validation."""
    for stage in ("testing", "validation"):
        for e in reversed(run.epochs):
            group = run.epoch(e)
            if stage in group and "predictions" in group[stage] and "order" in group[stage]:
                return stage, e
    return None, None


def _plot_decision_map(run, figs, out):
    if run.dims[0] != 4:
        return None
    L = len(run.dims) - 1
    final = next((e for e in reversed(run.weight_epochs())
                  if all(f"up{l}" in run.epoch(e)["weights"] for l in range(1, L + 1))), None)
    if final is None:
        log.info("decision_map.png skipped: no stored forward weights")
        return None
    group = run.epoch(final)["weights"]
    weights_up = [np.asarray(group[f"up{l}"][()], dtype=np.float64) for l in range(1, L + 1)]
    net = run.network
    gl = float(net.get("gl", G_DEFAULTS["gl"]))
    gb = float(net.get("gb", G_DEFAULTS["gb"]))
    ga = float(net.get("ga", G_DEFAULTS["ga"]))
    act = str(net.get("activation_template", "sigmoid"))
    theta = float(net.get("threshold", 15.0))

    n_grid = 200
    centres = (np.arange(n_grid) + 0.5) / n_grid
    gx, gy = np.meshgrid(centres, centres)                    # gy varies along rows
    x, y = gx.ravel(), gy.ravel()
    grid_inputs = np.stack([x, y, 1.0 - x, 1.0 - y], axis=1)
    u_out = steady_state_output(weights_up, grid_inputs, gl, gb, ga, act, theta)
    n_class = u_out.shape[1]
    grid_pred = np.argmax(u_out, axis=1).reshape(n_grid, n_grid)

    from matplotlib.colors import ListedColormap, to_rgb
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    strong = [_CLASS_COLOURS[k % 10] for k in range(n_class)]
    light = [tuple(0.65 + 0.35 * np.array(to_rgb(c))) for c in strong]
    names = YINYANG_CLASSES if n_class == 3 else tuple(f"class {k}" for k in range(n_class))

    fig = figs.new((7.2, 7.8))
    ax = fig.add_subplot()
    ax.imshow(grid_pred, origin="lower", extent=(0, 1, 0, 1), cmap=ListedColormap(light),
              vmin=-0.5, vmax=n_class - 0.5, interpolation="nearest")
    handles = [Patch(color=light[k], label=f"map: {names[k]}") for k in range(n_class)]

    stage, e = _scatter_stage(run)
    subtitle = "no recorded predictions to overlay"
    data = run.h5.get(f"data/{stage}") if stage else None
    if data is not None and "inputs" in data:
        rec = run.epoch(e)[stage]
        preds = np.asarray(rec["predictions"][()]).astype(np.int64).ravel()
        order = np.asarray(rec["order"][()]).astype(np.int64).ravel()
        inputs = np.asarray(data["inputs"][()], dtype=np.float64)
        n = min(len(preds), len(order))
        preds, order = preds[:n], order[:n]
        if n and (order.min() < 0 or order.max() >= len(inputs)):
            raise ValueError(f"epochs/{e}/{stage}/order of {run.dir} indexes outside "
                             f"data/{stage}/inputs ({len(inputs)} samples).")
        pts = inputs[order]
        labels = (np.asarray(data["labels"][()]).astype(np.int64).ravel()[order]
                  if "labels" in data else None)
        wrong = np.zeros(n, bool) if labels is None else preds != labels
        colours = [strong[p % n_class] if 0 <= p else "k" for p in preds]
        ax.scatter(pts[~wrong, 0], pts[~wrong, 1], s=10,
                   c=[c for c, w in zip(colours, wrong) if not w], edgecolors="none")
        if wrong.any():
            ax.scatter(pts[wrong, 0], pts[wrong, 1], s=36, marker="X", linewidths=0.6,
                       c=[c for c, w in zip(colours, wrong) if w], edgecolors="k")
        handles += [Line2D([], [], ls="none", marker="o", color=strong[k], ms=4,
                           label=f"predicted {names[k]}") for k in range(n_class)]
        handles.append(Line2D([], [], ls="none", marker="X", mfc="w", mec="k", ms=7,
                              label="misclassified"))
        acc = "" if labels is None or n == 0 else f", accuracy {100.0 * (1 - wrong.mean()):.1f} %"
        subtitle = (f"points: {stage} samples of epoch {e} coloured by recorded prediction"
                    f" ({int(wrong.sum())} of {n} wrong{acc})")
    ax.set_title(f"{run.title}: decision map from the weights of epoch {final}\n"
                 f"background: steady-state forward pass, apical input assumed cancelled\n"
                 f"(hidden u = g_b/(g_l+g_b+g_a) W r, output u = g_b/(g_l+g_b) W r, "
                 f"{act}; not the simulated network)\n{subtitle}", fontsize=8.5)
    ax.set_xlabel("x (input 1; inputs are x, y, 1-x, 1-y)")
    ax.set_ylabel("y (input 2)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.legend(handles=handles, fontsize=7, loc="upper right", framealpha=0.85)
    return figs.save(fig, os.path.join(out, "decision_map.png"))


def _weights_figure(run, figs, e, path):
    weights = run.weights(e)
    names = list(weights)
    fig = figs.new((10, 2.4 * len(names) + 0.8), layout=None)
    axes = fig.subplots(len(names), 2, squeeze=False, width_ratios=(1.4, 1))
    _grid_margins(fig, len(names), 2, top=0.95, hgap=0.8, wgap=0.8)
    fig.suptitle(f"{run.title}: weights at the start of epoch {e}",
                 y=1 - 0.3 / fig.get_size_inches()[1])
    from matplotlib.ticker import MaxNLocator
    for (ax_m, ax_h), name in zip(axes, names):
        w = weights[name]
        w2 = w.reshape(w.shape[0], -1) if w.ndim != 2 else w
        vmax = float(np.nanmax(np.abs(w2))) if w2.size else 1.0
        vmax = vmax if vmax > 0 and np.isfinite(vmax) else 1.0
        im = ax_m.imshow(w2, aspect="auto", cmap="RdBu_r", vmin=-vmax, vmax=vmax,
                         interpolation="nearest")
        fig.colorbar(im, ax=ax_m, label="weight")
        ax_m.set_title(f"{_weight_title(name)}  {w2.shape[0]}x{w2.shape[1]}", fontsize=9)
        ax_m.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax_m.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax_m.set_xlabel("postsynaptic neuron")
        ax_m.set_ylabel("presynaptic neuron")
        finite = w2[np.isfinite(w2)]
        ax_h.hist(finite, bins=40, color="0.35")
        ax_h.set_xlabel("weight")
        ax_h.set_ylabel("count")
        if finite.size:
            ax_h.set_title(f"mean {finite.mean():.3g}, std {finite.std():.3g}, "
                           f"|W|_F {np.linalg.norm(finite):.3g}", fontsize=9)
    return figs.save(fig, path)


def _plot_weight_norms(run, figs, out, epochs):
    series = {}
    for e in epochs:
        group = run.epoch(e)["weights"]
        for name in group:
            w = np.asarray(group[name][()], dtype=np.float64)
            series.setdefault(name, ([], []))
            series[name][0].append(e)
            series[name][1].append(float(np.linalg.norm(w)))
    fig = figs.new((8, 4.5))
    ax = fig.add_subplot()
    for name in sorted(series, key=_weight_key):
        es, vs = series[name]
        ax.plot(es, vs, "-", marker="o" if len(es) <= 40 else None, ms=3, label=_weight_title(name))
    ax.set_xlabel("epoch (weights at the start of the epoch)")
    _integer_epochs(ax)
    ax.set_ylabel("Frobenius norm |W|_F")
    ax.set_title(f"{run.title}: weight norms")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return figs.save(fig, os.path.join(out, "weight_norms.png"))


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------

def evaluate(run_dir, plot_weights=False, show=False):
    """Summary figures of a result directory into ``run_dir/plots/``; returns the PNG paths.

    ``plot_weights`` adds ``weight_norms.png`` and one ``weights/weights_epoch_<E>.png`` (matrices
    and histograms) per stored epoch; ``show`` opens the figures in windows after saving them.
    Figures without data (no traces, no weights, not yin-yang) are skipped.
    """
    plot_weights = _flag(plot_weights, "plot_weights")
    show = _flag(show, "show")
    figs = _Figures(show)
    written = []
    try:
        with _Run(run_dir) as run:
            out = os.path.join(run.dir, "plots")
            os.makedirs(out, exist_ok=True)
            for plot in (_plot_accuracy, _plot_error, _plot_alignment, _plot_self_prediction,
                         _plot_output_vs_supervisor, _plot_decision_map):
                path = plot(run, figs, out)
                if path:
                    written.append(path)
            if plot_weights:
                epochs = run.weight_epochs()
                if epochs:
                    written.append(_plot_weight_norms(run, figs, out, epochs))
                    wdir = os.path.join(out, "weights")
                    os.makedirs(wdir, exist_ok=True)
                    for e in epochs:
                        written.append(_weights_figure(
                            run, figs, e, os.path.join(wdir, f"weights_epoch_{e}.png")))
                else:
                    log.info("no weights stored: weight figures skipped")
        if show:
            figs.finish()
    finally:
        figs.close_all()
    return written


def detail_plot(run_dir, epoch):
    """Traces and weights of one stored epoch into ``run_dir/epoch_<E>/``; returns the PNG paths.

    One figure per traced population (rows: variables, columns: the stages stored at that epoch),
    plus ``weights.png`` when weights were stored for the epoch.
    """
    e = _epoch_int(epoch)
    figs = _Figures(False)
    written = []
    with _Run(run_dir) as run:
        if e not in run.epoch_keys:
            raise ValueError(f"epoch {e} is not stored in {run.dir}; stored epochs: "
                             f"{_ranges(run.epochs)}.")
        out = os.path.join(run.dir, f"epoch_{e}")
        os.makedirs(out, exist_ok=True)
        stages = [s for s in run.stages(e) if run.traces(e, s) is not None]
        populations = {}
        for stage in stages:
            for pop, group in run.traces(e, stage).items():
                if not hasattr(group, "keys"):
                    continue
                variables = populations.setdefault(pop, [])
                for var in group:
                    if var not in variables:
                        variables.append(var)
        for pop in sorted(populations, key=_population_key):
            variables = populations[pop]
            pop_stages = [s for s in stages if pop in run.traces(e, s)]
            fig = figs.new((4.8 * len(pop_stages) + 1.0, 2.6 * len(variables) + 0.8),
                           layout=None)
            axes = fig.subplots(len(variables), len(pop_stages), squeeze=False)
            _grid_margins(fig, len(variables), len(pop_stages), left=1.0, top=0.7, hgap=0.9,
                          wgap=1.0)
            fig.suptitle(f"{run.title}: {pop}, epoch {e}")
            for j, stage in enumerate(pop_stages):
                for i, var in enumerate(variables):
                    ax = axes[i, j]
                    dataset = run.trace(e, stage, pop, var)
                    if dataset is None:
                        ax.set_axis_off()
                        ax.set_title(f"{stage}: {var} not traced", fontsize=9)
                        continue
                    _, _, samples = run.trace_timing(dataset)
                    _, note = _plot_trace(ax, run, dataset)
                    what = f", {samples} samples" if samples is not None else ""
                    ax.set_title(f"{stage}: {var}{what}{note}", fontsize=9)
                    ax.set_ylabel(_unit_label(var), fontsize=8)
            written.append(figs.save(fig, os.path.join(out, f"{pop}.png")))
        if e in run.weight_epochs():
            written.append(_weights_figure(run, figs, e, os.path.join(out, "weights.png")))
    return written
