"""Training a recurrent ALIF network (LSNN) with BPTT, e-prop or MDGL on evidence accumulation from a
validated :mod:`runner.snn_config` config: task batches, iterations, validation, results,
checkpoints and resumption (spec ``alif_eprop_mdgl.md`` 6, 9; DESIGN.md 5).

Protocol (MDGL Fig. 3C): iteration i (i = 0 .. n_iterations - 1) trains on a fresh batch of
``batch_size`` trials; before it, whenever i is a multiple of ``validate_every``, and once more after
the last iteration, a fresh ``validation_size``-trial batch is evaluated (no learning). Iteration
numbers in the results count the updates done so far: "validation at 100" is the network after 100
updates, "training at 100" the batch of update 101 (its loss is measured before the update).

Every batch is drawn from a generator keyed by ``(numpy_seed, stage, iteration)`` (stage 0 =
training, 1 = validation), so a resumed run draws exactly the batches of an uninterrupted one: the
MDGL task from a legacy ``RandomState`` seeded with ``SeedSequence([seed, stage, i])`` (the task keeps
the reference's call order), the e-prop task from ``default_rng([seed, stage, i])``. Training draws
no other random numbers (DEEP R at temperature 0), so the network state of
:meth:`RecurrentSNN.get_state` plus the iteration is the whole training state.

Validation batches larger than the network's batch (the model is built for ``batch_size`` trials)
run in chunks of ``batch_size``; a short last chunk is filled with copies of the first trials, whose
results are dropped.

Result files (in the run directory; ``config.yaml``, ``gitsha.txt`` and ``train.log`` come from the runner):

``metrics.csv``
    ``iteration, stage, loss, accuracy, rate_hz, seconds``: one ``training`` row per iteration (the
    batch loss before its update, mean firing rate in Hz) and one ``validation`` row per validation.
``net_recordings.h5``
    ``/`` attrs: name, numpy_seed, gitsha, learning_rule, feedback, task, loss, precision, created,
    dt (ms), sizes, neuron form, nnz; ``/network/sign_rec``, ``sign_in`` (+1 E, -1 I; all +1 without
    Dale's law), ``is_alif``;
    ``/validation/{iteration, loss, accuracy, rate_hz}`` one entry per validation;
    ``/iterations/<I>/weights/{W_in, W_rec, W_out, b_out}`` float64, W_ji (post, pre) convention, at
    every ``record.raster_every``-th iteration and the last;
    ``/iterations/<I>/rates`` per-neuron rates (Hz) over the validation batch;
    ``/iterations/<I>/trials/{z, y, x, labels}`` the first ``record.trace_trials`` validation trials:
    spikes uint8 (trials, T, n_rec), readout float32 (trials, T, n_out), inputs uint8, labels.
``checkpoint.json`` + ``checkpoint_<I>/``
    every ``checkpoint_every`` iterations: the network state and copies of both result files; the
    pointer is replaced atomically after everything is written (as :mod:`runner.microcircuit_job`).
``final_state.npz``
    the state after the last iteration (parameters, Adam moments, masks; flattened keys ``part|name``).
"""
import csv
import os
import time

import h5py
import numpy as np

from datasets.evidence import accucues_eprop, accucues_mdgl
from networks import snn_gradients as sg
from networks.recurrent_snn import RecurrentSNN

from . import checkpoints
from .microcircuit_job import Progress
from .recorder import COMPRESSION
from .snn_config import N_WINDOW, TASKS, network_kwargs

STAGE_CODES = {"training": 0, "validation": 1}
H5_NAME = "net_recordings.h5"
CSV_NAME = "metrics.csv"
CSV_HEADER = ["iteration", "stage", "loss", "accuracy", "rate_hz", "seconds"]
_SHOWN = ("loss", "acc", "val_loss", "val_acc")


class JobError(Exception):
    """A problem with the inputs of a run (one line; the CLI exits with code 2)."""


class InvariantError(RuntimeError):
    """Dale's law or the fixed adjacency was violated during training (the CLI exits with code 1)."""


# ------------------------------------------------------------------------------------ task
def task_batch(meta, stage, iteration, n):
    """(inputs (n, T, 40) float64, labels (n,) int64) of a stage at an iteration; seeded by
    ``(numpy_seed, stage, iteration)``."""
    key = [int(meta["numpy_seed"]), STAGE_CODES[stage], int(iteration)]
    if meta["task"] == "accucues_mdgl":
        rng = np.random.RandomState(np.random.SeedSequence(key).generate_state(8))
        x, labels, _ = accucues_mdgl(n, rng)
    else:
        x, labels, _ = accucues_eprop(n, np.random.default_rng(key))
    return x, labels


# ------------------------------------------------------------------------------------ network
def build_network(cfg):
    meta = cfg["meta"]
    try:
        return RecurrentSNN(**network_kwargs(cfg), record_state=False,
                            model_name=f"snn_{meta['name']}".replace("-", "_").replace(".", "_"))
    except ValueError as exc:
        raise JobError(f"network: {' '.join(str(exc).split())}") from None


def check_invariants(net):
    """Raise :class:`InvariantError` unless Dale's law and the fixed adjacency hold; return a
    one-line description of what was checked."""
    if net.dale:
        if not net.dale_ok():
            raise InvariantError(f"Dale's law is violated after iteration {net.iteration} (a synapse has the "
                                 "opposite sign of its presynaptic neuron or lies outside the adjacency)")
        if not net.adjacency_ok():
            raise InvariantError(f"the adjacency changed during training (iteration {net.iteration})")
        return f"Dale's law and the fixed adjacency hold (nnz {net.nnz})"
    if not net.adjacency_ok():
        raise InvariantError(f"W_rec has non-zero autapses after iteration {net.iteration}")
    return "no autapses (dense network without Dale's law)"


# ------------------------------------------------------------------------------------ evaluation
class Evaluation:
    """Result of a forward pass over a batch: loss, accuracy, mean and per-neuron rates (Hz), the
    first trials' spikes / readout / inputs / labels, seconds."""

    def __init__(self, loss, accuracy, rates, trials, seconds):
        self.loss, self.accuracy, self.rates, self.trials, self.seconds = loss, accuracy, rates, trials, seconds

    @property
    def rate_hz(self):
        return float(self.rates.mean())


def evaluate_batch(net, x, labels, loss_kind, keep_trials=0):
    """Forward pass over any number of trials, in chunks of the network's batch size."""
    t0 = time.perf_counter()
    B, n = net.batch_size, len(labels)
    ys, spike_sum, kept = [], np.zeros(net.n_rec), {"z": [], "y": []}
    for start in range(0, n, B):
        idx = np.arange(start, min(start + B, n))
        k = len(idx)
        fill = np.resize(np.arange(n), B - k) if k < B else np.zeros(0, dtype=np.int64)
        rows = np.concatenate([idx, fill])
        traj = net.forward(x[rows], labels[rows])
        ys.append(np.array(traj.y[:k]))
        spike_sum += traj.z[:k].sum(axis=(0, 1))
        take = min(k, keep_trials - start) if keep_trials > start else 0
        if take > 0:
            kept["z"].append(np.array(traj.z[:take], dtype=np.uint8))
            kept["y"].append(np.array(traj.y[:take], dtype=np.float32))
    y = np.concatenate(ys)
    if loss_kind == "final":
        loss, _ = sg.cross_entropy_final(y, labels, reduction="mean")
        pred = np.argmax(y[:, -1], axis=1)
    else:
        loss, _ = sg.cross_entropy_window(y, labels, N_WINDOW, reduction="mean")
        pred = sg.window_prediction(y, N_WINDOW)
    T = x.shape[1]
    rates = spike_sum / (n * T) * 1000.0                   # dt = 1 ms
    trials = None
    if keep_trials:
        trials = {"z": np.concatenate(kept["z"]), "y": np.concatenate(kept["y"]),
                  "x": np.asarray(x[:keep_trials], dtype=np.uint8), "labels": np.asarray(labels[:keep_trials])}
    return Evaluation(float(loss), float(np.mean(pred == labels)), rates, trials, time.perf_counter() - t0)


# ------------------------------------------------------------------------------------ recording
def _fmt(v):
    return f"{v:.17g}"


class SNNRecorder:
    """Appends one run's recordings to ``net_recordings.h5`` and ``metrics.csv`` (layout: module doc)."""

    def __init__(self, run_dir):
        self.h5_path = os.path.join(run_dir, H5_NAME)
        self.csv_path = os.path.join(run_dir, CSV_NAME)

    def start(self, attrs, net):
        with h5py.File(self.h5_path, "w") as f:
            for key, value in attrs.items():
                f.attrs[key] = value
            g = f.create_group("network")
            if net.dale:
                g.create_dataset("sign_rec", data=np.asarray(net.conn.sign_rec, dtype=np.int8))
                g.create_dataset("sign_in", data=np.asarray(net.conn.sign_in, dtype=np.int8))
            else:
                g.create_dataset("sign_rec", data=np.ones(net.n_rec, dtype=np.int8))
                g.create_dataset("sign_in", data=np.ones(net.n_in, dtype=np.int8))
            g.create_dataset("is_alif", data=np.asarray(net.params.is_alif, dtype=bool))
            v = f.create_group("validation")
            for name, dtype in (("iteration", np.int32), ("loss", np.float64), ("accuracy", np.float64),
                                ("rate_hz", np.float64)):
                v.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype, chunks=(1024,))
        with open(self.csv_path, "w", newline="") as fh:
            csv.writer(fh).writerow(CSV_HEADER)

    def row(self, iteration, stage, loss, accuracy, rate_hz, seconds):
        with open(self.csv_path, "a", newline="") as fh:
            csv.writer(fh).writerow([iteration, stage, _fmt(loss), _fmt(accuracy), _fmt(rate_hz), f"{seconds:.3f}"])

    def drop_validation(self, iteration):
        """Remove the validation at ``iteration`` when it is the last thing recorded (the final one of
        a finished run), leaving the files as they were just before it."""
        with open(self.csv_path, newline="") as fh:
            rows = list(csv.reader(fh))
        last_row = rows[-1][:2] if rows else None
        with h5py.File(self.h5_path, "a") as f:
            v = f["validation"]
            n = v["iteration"].shape[0]
            last = int(v["iteration"][n - 1]) if n else None
            if last_row == [str(iteration - 1), "training"] and (last is None or last < iteration):
                return      # already dropped (an extension stopped before its first checkpoint)
            if last_row != [str(iteration), "validation"]:
                raise JobError(f"{self.csv_path}: the last row is not the validation at iteration {iteration}")
            if last != iteration:
                raise JobError(f"{self.h5_path}: the last validation is not at iteration {iteration}")
            for name in v:
                v[name].resize((n - 1,))
            if f"iterations/{iteration}" in f:
                del f[f"iterations/{iteration}"]
        with open(self.csv_path, "w", newline="") as fh:
            csv.writer(fh).writerows(rows[:-1])

    def validation(self, iteration, ev, weights=None):
        """A validation: metrics row, the /validation series, and (with ``weights``) the weights, rates
        and stored trials of this iteration."""
        self.row(iteration, "validation", ev.loss, ev.accuracy, ev.rate_hz, ev.seconds)
        with h5py.File(self.h5_path, "a") as f:
            v = f["validation"]
            n = v["iteration"].shape[0]
            for name, value in (("iteration", iteration), ("loss", ev.loss), ("accuracy", ev.accuracy),
                                ("rate_hz", ev.rate_hz)):
                v[name].resize((n + 1,))
                v[name][n] = value
            if weights is None:
                return
            g = f.require_group(f"iterations/{iteration}")
            for sub in ("weights", "trials", "rates"):
                if sub in g:
                    del g[sub]
            wg = g.create_group("weights")
            for name, w in weights.items():
                w = np.asarray(w, dtype=np.float64)
                wg.create_dataset(name, data=w, **(COMPRESSION if w.size >= 64 else {}))
            g.create_dataset("rates", data=ev.rates)
            if ev.trials is not None:
                tg = g.create_group("trials")
                for name, data in ev.trials.items():
                    data = np.asarray(data)
                    opts = dict(COMPRESSION, chunks=(1,) + data.shape[1:]) if data.ndim == 3 else {}
                    tg.create_dataset(name, data=data, **opts)


# ------------------------------------------------------------------------------------ checkpoints
def flatten_state(state):
    """RecurrentSNN.get_state() as flat {name: array} for np.savez ('part|key' for nested dicts)."""
    flat = {}
    for key, value in state.items():
        if isinstance(value, dict):
            for sub, arr in value.items():
                flat[f"{key}|{sub}"] = np.asarray(arr)
        elif value is None:
            flat[f"{key}|none"] = np.asarray(True)
        else:
            flat[key] = np.asarray(value)
    return flat


def unflatten_state(flat):
    state = {}
    for key, arr in flat.items():
        if "|" in key:
            part, sub = key.split("|", 1)
            if sub == "none":
                state[part] = None
                continue
            state.setdefault(part, {})[sub] = np.array(arr)
        else:
            state[key] = arr.item() if arr.ndim == 0 else np.array(arr)
    return state


def save_checkpoint(run_dir, net, next_iteration):
    """A consistent snapshot (:mod:`runner.checkpoints`) taken before iteration ``next_iteration``."""
    checkpoints.save(run_dir, f"checkpoint_{next_iteration:06d}", flatten_state(net.get_state()),
                     (H5_NAME, CSV_NAME), {"next_iteration": next_iteration})


def restore_checkpoint(run_dir, net):
    """Put the result files and the network back to the last checkpoint; return the next iteration."""
    try:
        info, arrays = checkpoints.load(run_dir, (H5_NAME, CSV_NAME))
        net.set_state(unflatten_state(arrays))
    except checkpoints.NoCheckpoint as exc:
        raise JobError(str(exc)) from None
    except ValueError as exc:
        raise JobError(f"{run_dir}: {exc}") from None
    return int(info["next_iteration"])


def reopen_finished(run_dir, net, meta, new_n_iterations):
    """Turn a finished run of ``n`` iterations back into one interrupted before iteration ``n`` of a
    longer run: load ``final_state.npz`` into ``net``, take the final validation (at ``n``) out of
    the result files, and write the checkpoint an uninterrupted run of ``new_n_iterations`` would
    have written there (the resumed loop validates at ``n`` again, with the same batch and the
    same network, so the same values). Returns ``n``.

    The result files of a finished run equal those of the longer run up to iteration ``n`` only
    when ``n`` is a point where that run validates and stores weights anyway (``n`` a multiple of
    ``validate_every`` and of ``record.raster_every``); otherwise the finished run has an extra
    validation at ``n`` and extending it would not reproduce the longer run, so it is refused."""
    import json
    pointer = os.path.join(run_dir, checkpoints.POINTER)
    try:
        with open(pointer) as fh:
            info = json.load(fh)
    except (OSError, ValueError) as exc:
        raise JobError(f"{run_dir}: cannot read {checkpoints.POINTER} ({exc})") from None
    if not info.get("finished"):
        raise JobError(f"{run_dir}: the run has not finished; continue it with --resume alone")
    done = int(info["next_iteration"])
    if new_n_iterations <= done:
        raise JobError(f"--extend-to {new_n_iterations}: the run already has {done} iterations")
    raster = meta["record"]["raster_every"]
    for key, every in (("validate_every", meta["validate_every"]), ("record.raster_every", raster)):
        if done % every:
            raise JobError(f"{run_dir}: its {done} iterations are not a multiple of {key} ({every}), so "
                           f"its last validation is one an uninterrupted {new_n_iterations}-iteration run "
                           "would not have; start a new run instead")
    try:
        with np.load(os.path.join(run_dir, "final_state.npz")) as z:
            net.set_state(unflatten_state({k: z[k] for k in z.files}))
    except (OSError, ValueError) as exc:
        raise JobError(f"{run_dir}: cannot load final_state.npz ({exc})") from None
    # the longer run validates at `done` after this point: drop the finished run's copy of it
    SNNRecorder(run_dir).drop_validation(done)
    save_checkpoint(run_dir, net, done)
    return done


# ------------------------------------------------------------------------------------ training
def start_recording(run_dir, cfg, net, gitsha, created):
    """Create the result files of a new run."""
    meta, netcfg = cfg["meta"], cfg["network"]
    attrs = {"name": meta["name"], "numpy_seed": meta["numpy_seed"], "gitsha": gitsha,
             "learning_rule": netcfg["learning_rule"], "feedback": netcfg["feedback"], "task": meta["task"],
             "loss": TASKS[meta["task"]]["loss"], "precision": meta["precision"], "created": created, "dt": 1.0,
             "n_in": net.n_in, "n_lif": net.n_lif, "n_alif": net.n_alif, "n_out": net.n_out,
             "batch_size": meta["batch_size"], "validation_size": meta["validation_size"],
             "lsnn_scaling": netcfg["lsnn_scaling"], "refractory": netcfg["refractory"], "n_ref": netcfg["n_ref"],
             "n_blocked": net.params.n_blocked, "trace": net.trace, "beta": netcfg["beta"], "dale": netcfg["dale"],
             "reg_c": netcfg["reg_c"], "reg_target_hz": netcfg["reg_target_hz"]}
    if net.dale:
        for k, v in net.nnz.items():
            attrs[f"nnz_{k}"] = v
    SNNRecorder(run_dir).start(attrs, net)


def run_training(cfg, run_dir, net, log, resume=False, quiet=False, stop_after_iteration=None):
    """Train (or resume) the run in ``run_dir``. Returns the final validation :class:`Evaluation`
    (None when stopped early by ``stop_after_iteration``, a test hook)."""
    meta = cfg["meta"]
    rec = meta["record"]
    n_iter, every = meta["n_iterations"], meta["validate_every"]
    loss_kind = TASKS[meta["task"]]["loss"]
    recorder = SNNRecorder(run_dir)
    if resume:
        first = restore_checkpoint(run_dir, net)
        log(f"resumed from the checkpoint before iteration {first}")
    else:
        first = 0
        save_checkpoint(run_dir, net, 0)
    progress = Progress(n_iter, first, quiet, unit="it", desc=f"{meta['name']} ({cfg['network']['learning_rule']})")
    shown = {}                                  # progress-bar fields: training loss / accuracy, validation
    last_val = None
    last_train = None
    try:
        for it in range(first, n_iter + 1):
            if it % every == 0 or it == n_iter:
                store = it % rec["raster_every"] == 0 or it == n_iter
                x, labels = task_batch(meta, "validation", it, meta["validation_size"])
                last_val = evaluate_batch(net, x, labels, loss_kind, rec["trace_trials"] if store else 0)
                recorder.validation(it, last_val, net.get_weights() if store else None)
                train_text = (f"  (last training batch: loss {last_train['loss']:.4f} accuracy "
                              f"{last_train['accuracy']:.3f})" if last_train else "")
                log(f"iteration {it:5d} validation loss {last_val.loss:.4f} accuracy {last_val.accuracy:.4f} "
                    f"rate {last_val.rate_hz:.2f} Hz  {last_val.seconds:.2f} s{train_text}")
                shown.update(val_loss=last_val.loss, val_acc=last_val.accuracy)
                progress.postfix(**{k: shown[k] for k in _SHOWN if k in shown})
            if it == n_iter:
                break
            x, labels = task_batch(meta, "training", it, meta["batch_size"])
            res = net.train_iteration(x, labels)
            last_train = res
            recorder.row(it, "training", res["loss"], res["accuracy"], res["rate_hz"], res["seconds"]["total"])
            if progress.bar is not None:
                progress.bar.update(1)
                shown.update(loss=res["loss"], acc=res["accuracy"])
                progress.postfix(**{k: shown[k] for k in _SHOWN if k in shown})
            done = it + 1
            if done % meta["checkpoint_every"] == 0 or done == n_iter:
                check_invariants(net)
                save_checkpoint(run_dir, net, done)
            if stop_after_iteration is not None and done >= stop_after_iteration:
                return None
    finally:
        progress.close()
    log(check_invariants(net))
    checkpoints.finish(run_dir, flatten_state(net.get_state()), {"next_iteration": n_iter})
    return last_val
