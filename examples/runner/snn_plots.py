"""Read-only plots of an ALIF / e-prop / MDGL result directory (written by ``experiment_runner.py
train`` with a :mod:`runner.snn_config` config; file layout in :mod:`runner.snn_job`). Nothing is
simulated: every figure comes from ``metrics.csv`` and ``net_recordings.h5``.

Commands of the runner that land here::

    experiment_runner.py eval DIR [PLOT_WEIGHTS 0|1] [SHOW 0|1]   ->  evaluate(DIR, plot_weights, show)
    experiment_runner.py detail_plot DIR ITERATION                 ->  detail_plot(DIR, ITERATION)

``evaluate`` writes into ``DIR/plots/``:

* ``learning_curves.png``: loss and accuracy per iteration, training (every batch, light, with a
  running mean) and validation; for the MDGL task the Fig. 3C means of the learning rule (spec
  alif_eprop_mdgl.md 9) as grey reference markers;
* ``rasters.png``: the stored validation trials of the last stored iteration: input spikes
  (left / right cue, recall, noise channels) and recurrent spikes coloured by cell type
  (excitatory LIF, excitatory ALIF, inhibitory), with the readout below;
* ``rate_histogram.png``: per-neuron firing rates over the validation batch of the last stored
  iteration, by cell type;
* with ``plot_weights``: ``weights/weights_iteration_<I>.png`` for every stored iteration.

``detail_plot`` writes ``DIR/iteration_<I>/rasters.png``, ``readout.png`` and ``weights.png``
(histograms of W_in, W_rec, W_out by presynaptic sign, and the recurrent matrix).

Problems with the directory raise :class:`FileNotFoundError` (not a result directory) or
:class:`ValueError` (unreadable content, iteration not stored) with a one-sentence message.
"""
import csv
import math
import os

import numpy as np

from .plots import _flag, _Figures

__all__ = ["evaluate", "detail_plot", "read_metrics"]

H5_NAME = "net_recordings.h5"
METRICS_NAME = "metrics.csv"
#: MDGL Fig. 3C validation means (iteration: (loss, accuracy)), spec alif_eprop_mdgl.md 9.
FIG3C = {
    "bptt": {0: (0.693, 0.52), 250: (0.45, 0.87), 500: (0.28, 0.94), 1000: (0.16, 0.96), 2000: (0.07, 0.98)},
    "mdgl": {0: (0.694, 0.50), 250: (0.60, 0.73), 500: (0.45, 0.82), 1000: (0.33, 0.88), 2000: (0.22, 0.91)},
    "eprop": {0: (0.695, 0.48), 250: (0.67, 0.63), 500: (0.60, 0.68), 1000: (0.54, 0.73), 2000: (0.50, 0.75)},
}
CELL_TYPES = (("E LIF", "#1f77b4"), ("E ALIF", "#2ca02c"), ("I", "#d62728"))
INPUT_GROUPS = (("left", "#1f77b4"), ("right", "#ff7f0e"), ("recall", "#2ca02c"), ("noise", "#7f7f7f"))


def read_metrics(path):
    """metrics.csv as {stage: {column: float array sorted by iteration}}."""
    path = os.fspath(path)
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        need = ("iteration", "stage", "loss", "accuracy")
        if header is None or any(c not in header for c in need):
            raise ValueError(f"{path} lacks the header iteration,stage,loss,accuracy,... of an ALIF run.")
        rows = {}
        for lineno, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise ValueError(f"{path} line {lineno} has {len(row)} fields, the header {len(header)}.")
            rec = dict(zip(header, row))
            try:
                values = {c: float(rec[c]) if rec[c] else math.nan for c in header if c != "stage"}
            except ValueError:
                raise ValueError(f"{path} line {lineno} has a field that is not a number.") from None
            rows.setdefault(rec["stage"], []).append(values)
    out = {}
    for stage, records in rows.items():
        records.sort(key=lambda r: r["iteration"])
        out[stage] = {c: np.array([r[c] for r in records]) for c in records[0]}
    return out


class _Run:
    """An open ALIF result directory (context manager; HDF5 read-only)."""

    def __init__(self, run_dir):
        run_dir = os.path.normpath(os.fspath(run_dir))
        if not os.path.isdir(run_dir):
            raise FileNotFoundError(f"result directory {run_dir} does not exist.")
        for needed in (H5_NAME, METRICS_NAME):
            if not os.path.isfile(os.path.join(run_dir, needed)):
                raise FileNotFoundError(f"{run_dir} is not a result directory (no {needed}).")
        import h5py
        self.dir = run_dir
        try:
            self.h5 = h5py.File(os.path.join(run_dir, H5_NAME), "r")
        except OSError as exc:
            raise ValueError(f"cannot read {os.path.join(run_dir, H5_NAME)}: {' '.join(str(exc).split())}.") from None
        a = self.h5.attrs
        self.rule = str(a.get("learning_rule", "?"))
        self.task = str(a.get("task", "?"))
        self.title = f"{a.get('name', os.path.basename(run_dir))} ({self.rule}, seed {a.get('numpy_seed', '?')})"
        net = self.h5.get("network")
        if net is None:
            raise ValueError(f"{run_dir}/{H5_NAME} has no /network group (not an ALIF run).")
        self.sign_rec = net["sign_rec"][:]
        self.sign_in = net["sign_in"][:]
        self.is_alif = net["is_alif"][:]
        self.metrics = read_metrics(os.path.join(run_dir, METRICS_NAME))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.h5.close()

    @property
    def iterations(self):
        return sorted(int(k) for k in self.h5.get("iterations", {}))

    def group(self, it):
        return self.h5[f"iterations/{it}"]

    def cell_type(self):
        """0 = E LIF, 1 = E ALIF, 2 = I per recurrent neuron."""
        t = np.where(self.is_alif, 1, 0)
        t[self.sign_rec < 0] = 2
        return t


def _ranges(values):
    values = sorted(values)
    if len(values) > 8:
        return f"{', '.join(map(str, values[:4]))}, ..., {', '.join(map(str, values[-2:]))}"
    return ", ".join(map(str, values)) or "none"


def _running_mean(y, n):
    if len(y) < n or n < 2:
        return y
    c = np.cumsum(np.r_[0.0, y])
    out = np.empty_like(y)
    for i in range(len(y)):
        lo = max(0, i - n + 1)
        out[i] = (c[i + 1] - c[lo]) / (i + 1 - lo)
    return out


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------

def _plot_learning_curves(run, figs, out):
    m = run.metrics
    fig = figs.new((11, 4))
    axes = fig.subplots(1, 2)
    for ax, col, label in ((axes[0], "loss", "loss (cross-entropy)"), (axes[1], "accuracy", "accuracy")):
        tr = m.get("training")
        if tr is not None and len(tr["iteration"]):
            ax.plot(tr["iteration"], tr[col], color="#9ecae1", lw=0.6, label="training batch")
            n = max(2, min(50, len(tr[col]) // 20))
            ax.plot(tr["iteration"], _running_mean(tr[col], n), color="#3182bd", lw=1.2,
                    label=f"training, mean of {n}")
        va = m.get("validation")
        if va is not None and len(va["iteration"]):
            ax.plot(va["iteration"], va[col], "o-", color="#d62728", ms=2.5, lw=1.0, label="validation")
        ref = FIG3C.get(run.rule) if run.task == "accucues_mdgl" else None
        last = max([float(np.max(s["iteration"])) for s in m.values() if len(s["iteration"])] or [0.0])
        its = sorted(i for i in (ref or {}) if i <= last)
        if its:
            ax.plot(its, [ref[i][0 if col == "loss" else 1] for i in its], "s", color="0.4", mfc="none", ms=6,
                    label="MDGL Fig. 3C (mean of 5 seeds)")
        ax.set_xlabel("iteration")
        ax.set_ylabel(label)
        if col == "accuracy":
            ax.set_ylim(0, 1.02)
            ax.axhline(0.5, color="0.7", lw=0.6, ls=":")
        ax.legend(fontsize=7)
    fig.suptitle(run.title)
    return figs.save(fig, os.path.join(out, "learning_curves.png"))


def _raster_axes(ax_in, ax_rec, run, x, z, trial_label):
    """Input and recurrent rasters of one trial; x (T, n_in) counts, z (T, n_rec) 0/1."""
    n_in = x.shape[1]
    group = np.minimum(np.arange(n_in) // max(1, n_in // 4), 3)
    t, ch = np.nonzero(x)
    ax_in.scatter(t, ch, s=1.5, c=[INPUT_GROUPS[g][1] for g in group[ch]], marker="|", linewidths=0.6)
    ax_in.set_ylim(-0.5, n_in - 0.5)
    ax_in.set_ylabel("input")
    ax_in.set_title(trial_label, fontsize=9)
    types = run.cell_type()
    order = np.argsort(types, kind="stable")             # rows grouped by type: E LIF, E ALIF, I
    row_of = np.empty_like(order)
    row_of[order] = np.arange(len(order))
    t, n = np.nonzero(z)
    colours = np.array([c for _, c in CELL_TYPES])
    ax_rec.scatter(t, row_of[n], s=1.5, c=colours[types[n]], marker="|", linewidths=0.6)
    ax_rec.set_ylim(-0.5, z.shape[1] - 0.5)
    ax_rec.set_ylabel("neuron (by type)")
    for k, (name, c) in enumerate(CELL_TYPES):
        ax_rec.plot([], [], "s", color=c, label=f"{name} ({int((types == k).sum())})")
    ax_rec.legend(fontsize=6, loc="upper right", markerscale=0.8)


def _rasters_figure(run, figs, it, path, with_readout=True):
    g = run.group(it)
    if "trials" not in g:
        return None
    tr = g["trials"]
    z, x, y, labels = tr["z"][:], tr["x"][:], tr["y"][:], tr["labels"][:]
    n = z.shape[0]
    if n == 0:
        return None
    rows = 3 if with_readout else 2
    fig = figs.new((6.0 * n, 2.2 * rows + 0.8))
    axes = fig.subplots(rows, n, squeeze=False, sharex=True, height_ratios=[1, 2, 1][:rows])
    for j in range(n):
        pred = int(np.argmax(y[j, -1]))
        _raster_axes(axes[0, j], axes[1, j], run, x[j], z[j],
                     f"trial {j}: label {int(labels[j])} ({'left' if labels[j] == 1 else 'right'}), "
                     f"final-step prediction {pred}")
        if with_readout:
            ax = axes[2, j]
            for k in range(y.shape[2]):
                ax.plot(y[j, :, k], lw=0.8, label=f"y{k}")
            ax.set_ylabel("readout")
            ax.legend(fontsize=6)
        axes[-1, j].set_xlabel("time step (ms)")
    for name, c in INPUT_GROUPS:
        axes[0, 0].plot([], [], "s", color=c, label=name)
    axes[0, 0].legend(fontsize=6, loc="upper left", ncol=4)
    fig.suptitle(f"{run.title}: validation trials after {it} iterations")
    return figs.save(fig, path)


def _plot_rate_histogram(run, figs, out, it):
    g = run.group(it)
    if "rates" not in g:
        return None
    rates = g["rates"][:]
    types = run.cell_type()
    fig = figs.new((6, 4))
    ax = fig.subplots()
    top = max(1.0, float(rates.max()))
    bins = np.linspace(0, top * 1.05, 30)
    data = [rates[types == k] for k in range(3)]
    ax.hist(data, bins=bins, stacked=True, color=[c for _, c in CELL_TYPES],
            label=[f"{n} (mean {d.mean():.1f} Hz)" if len(d) else n for (n, _), d in zip(CELL_TYPES, data)])
    ax.axvline(rates.mean(), color="k", lw=0.8, ls="--", label=f"all: {rates.mean():.2f} Hz")
    ax.set_xlabel("firing rate over the validation batch (Hz)")
    ax.set_ylabel("neurons")
    ax.legend(fontsize=7)
    ax.set_title(f"{run.title}, iteration {it}", fontsize=9)
    return figs.save(fig, os.path.join(out, "rate_histogram.png"))


def _weights_figure(run, figs, it, path):
    g = run.group(it)
    if "weights" not in g:
        return None
    w = {k: g["weights"][k][:] for k in g["weights"]}
    fig = figs.new((14, 3.6))
    axes = fig.subplots(1, 4)
    pre_signs = {"W_in": run.sign_in, "W_rec": run.sign_rec, "W_out": run.sign_rec}
    for ax, name in zip(axes[:3], ("W_in", "W_rec", "W_out")):
        if name not in w:
            ax.set_axis_off()
            continue
        m = w[name]                                    # (post, pre)
        sign = np.broadcast_to(pre_signs[name][None, :], m.shape)
        conn = np.abs(m) > 1e-11                       # parked synapses (1e-12) count as silent
        for s, colour, label in ((1, "#1f77b4", "from E"), (-1, "#d62728", "from I")):
            vals = m[conn & (sign == s)]
            if vals.size:
                ax.hist(vals, bins=40, color=colour, alpha=0.7, label=f"{label} ({vals.size})")
        ax.set_title(f"{name}: {int(conn.sum())} active of {int((m != 0).sum())}", fontsize=9)
        ax.set_xlabel("weight")
        ax.legend(fontsize=7)
    if "W_rec" in w:
        m = w["W_rec"]
        lim = float(np.max(np.abs(m))) or 1.0
        im = axes[3].imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        axes[3].set_title("W_rec (post x pre)", fontsize=9)
        fig.colorbar(im, ax=axes[3], shrink=0.8)
    else:
        axes[3].set_axis_off()
    fig.suptitle(f"{run.title}: weights after {it} iterations")
    return figs.save(fig, path)


def _readout_figure(run, figs, it, path):
    g = run.group(it)
    if "trials" not in g:
        return None
    y, labels = g["trials/y"][:], g["trials/labels"][:]
    n = y.shape[0]
    if n == 0:
        return None
    fig = figs.new((6.0 * n, 3.4))
    axes = fig.subplots(1, n, squeeze=False)[0]
    for j in range(n):
        ax = axes[j]
        e = np.exp(y[j] - y[j].max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        for k in range(y.shape[2]):
            ax.plot(y[j, :, k], lw=0.9, label=f"y{k}")
        ax2 = ax.twinx()
        ax2.plot(p[:, int(labels[j])], color="0.5", lw=0.7, ls="--", label="softmax of the label")
        ax2.set_ylim(0, 1)
        ax.set_title(f"trial {j}, label {int(labels[j])}", fontsize=9)
        ax.set_xlabel("time step (ms)")
        ax.legend(fontsize=7, loc="upper left")
        ax2.legend(fontsize=7, loc="upper right")
    fig.suptitle(f"{run.title}: readout after {it} iterations")
    return figs.save(fig, path)


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------

def evaluate(run_dir, plot_weights=False, show=False):
    """Summary figures into ``run_dir/plots/``; returns the PNG paths (figures without data are skipped)."""
    plot_weights = _flag(plot_weights, "plot_weights")
    show = _flag(show, "show")
    figs = _Figures(show)
    written = []
    try:
        with _Run(run_dir) as run:
            out = os.path.join(run.dir, "plots")
            os.makedirs(out, exist_ok=True)
            written.append(_plot_learning_curves(run, figs, out))
            its = run.iterations
            if its:
                last = its[-1]
                written.append(_rasters_figure(run, figs, last, os.path.join(out, "rasters.png")))
                written.append(_plot_rate_histogram(run, figs, out, last))
            if plot_weights and its:
                wdir = os.path.join(out, "weights")
                os.makedirs(wdir, exist_ok=True)
                for it in its:
                    written.append(_weights_figure(run, figs, it, os.path.join(wdir, f"weights_iteration_{it}.png")))
        if show:
            figs.finish()
    finally:
        figs.close_all()
    return [p for p in written if p]


def detail_plot(run_dir, iteration):
    """Rasters, readout traces and weights of one stored iteration into ``run_dir/iteration_<I>/``."""
    if isinstance(iteration, bool) or not isinstance(iteration, (int, np.integer)):
        try:
            iteration = int(str(iteration).strip())
        except ValueError:
            raise ValueError(f"iteration must be an integer, got {iteration!r}.") from None
    it = int(iteration)
    figs = _Figures(False)
    written = []
    with _Run(run_dir) as run:
        if it not in run.iterations:
            raise ValueError(f"iteration {it} is not stored in {run.dir}; stored iterations: "
                             f"{_ranges(run.iterations)}.")
        out = os.path.join(run.dir, f"iteration_{it}")
        os.makedirs(out, exist_ok=True)
        written.append(_rasters_figure(run, figs, it, os.path.join(out, "rasters.png"), with_readout=False))
        written.append(_readout_figure(run, figs, it, os.path.join(out, "readout.png")))
        written.append(_weights_figure(run, figs, it, os.path.join(out, "weights.png")))
    return [p for p in written if p]
