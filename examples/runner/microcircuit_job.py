"""Training a dendritic microcircuit from a validated config: data, network, epochs, results,
checkpoints and resumption (DESIGN.md 5; protocol of spec microcircuit_le_pal.md 7).

An epoch is a validation stage then a training stage; after the last epoch come a final validation
and the test stage. Every stage presents its samples in an order drawn from
``default_rng([numpy_seed, stage, epoch])``, so a resumed run draws the same orders as an
uninterrupted one without any saved generator state.
"""

import numpy as np

from datasets import DatasetError, load_mnist, mnist_pal_splits, yinyang_splits
from networks.microcircuit import Microcircuit, MicrocircuitError

from . import checkpoints
from .recorder import Recorder

STAGE_CODES = {"training": 0, "validation": 1, "testing": 2}
DEFAULT_TRACES = (("input", "r"), ("pyr1", "u_hat"), ("pyr1", "v_A"), ("pyr1", "r"), ("pyr1", "r_B"),
                  ("int1", "r"), ("output", "u_hat"), ("output", "r"), ("supervisor", "r"))


class JobError(Exception):
    """A problem with the inputs of a run (one line; the CLI exits with code 2)."""


# ------------------------------------------------------------------------------------ data
def load_data(meta):
    """The training, validation and test splits named by the config, as {stage: (X, y)}."""
    sc = meta["sim_config"]
    n_class = sc["n_class"]
    sizes = {"training": sc["n_train"] * n_class, "validation": sc["n_valid"] * n_class,
             "testing": sc["n_test"] * n_class}
    key = meta["dataset_key"]
    try:
        if key == "yinyang":
            splits = yinyang_splits(sc.get("yinyang_convention", "pal"), data_seed=sc["data_seed"],
                                    n_train=sc["n_train"], n_valid=sc["n_valid"], n_test=sc["n_test"])
        else:
            raw = load_mnist("mnist" if key == "mnist" else "fashion_mnist", data_dir=meta.get("data_dir"))
            splits = mnist_pal_splits(raw)
    except DatasetError as exc:
        raise JobError(str(exc)) from None
    names = {"training": "train", "validation": "validation", "testing": "test"}
    data = {}
    rng = np.random.default_rng([sc["data_seed"], 7])
    for stage, n in sizes.items():
        X, y = splits[names[stage]]
        if n > len(y):
            raise JobError(f"sim_config asks for {n} {stage} samples but the {key} split has only {len(y)}")
        X = np.asarray(X[:n], dtype=np.float64)
        if sc["data_noise"] > 0:                 # seeded input noise (data_seed), the same for all seeds
            X = X + rng.normal(0.0, sc["data_noise"], X.shape)
        data[stage] = (X, np.asarray(y[:n], dtype=np.int64))
    return data


def stage_rng(seed, stage, epoch):
    return np.random.default_rng([int(seed), STAGE_CODES[stage], int(epoch)])


# ------------------------------------------------------------------------------------ network
def full_trace_list(meta):
    """The variables of ``record.recordings`` ({layer: {population: [vars]}}): traced in full."""
    out = []
    for pops in (meta["record"].get("recordings") or {}).values():
        for pop, variables in (pops or {}).items():
            out += [(pop, v) for v in variables if (pop, v) not in out]
    return out


def trace_list(meta):
    """Default sample traces plus the variables requested in ``record.recordings``
    ({layer: {population: [vars]}}; the layer key only groups them)."""
    traces = list(DEFAULT_TRACES)
    for pops in (meta["record"].get("recordings") or {}).values():
        for pop, variables in (pops or {}).items():
            for var in variables:
                if (pop, var) not in traces:
                    traces.append((pop, var))
    return traces


def build_network(cfg, data, quiet=True):
    meta, net = cfg["meta"], cfg["network"]
    sc = meta["sim_config"]
    steps = int(round(net["t_pattern"] / meta["dt"]))
    traces = trace_list(meta)
    dims = net["dims"]
    # the default traces name layer-1 populations, which every depth has; requested ones are checked
    traces = [(p, v) for p, v in traces if (p, v) not in DEFAULT_TRACES
              or not (p.startswith(("pyr", "int")) and int(p[3:]) >= len(dims) - 1)]
    try:
        return Microcircuit(
            dims, net, data, seeds=[meta["numpy_seed"]], dt=meta["dt"], steps_per_sample=steps,
            recs_per_sample=sc["recs_per_sample"], ulow=sc["ulow"], uhigh=sc["uhigh"],
            precision=meta["precision"], backend=meta["backend"], num_threads=meta["num_threads"],
            trace_vars=traces, trace_samples=meta["record"]["sample_traces"],
            model_name=f"mc_{meta['name']}".replace("-", "_").replace(".", "_"))
    except MicrocircuitError as exc:
        raise JobError(f"network: {exc}") from None


# ------------------------------------------------------------------------------------ checkpoints
RESULT_FILES = ("net_recordings.h5", "metrics.csv")


def _flat_state(net):
    return {k.replace("/", "|"): v for k, v in net.get_state().items()}


def save_checkpoint(run_dir, net, next_epoch):
    """A consistent snapshot (:mod:`runner.checkpoints`) taken before epoch ``next_epoch``."""
    checkpoints.save(run_dir, f"checkpoint_{next_epoch:05d}", _flat_state(net), RESULT_FILES,
                     {"next_epoch": next_epoch})


def restore_checkpoint(run_dir, net):
    """Put the result files and the network back to the last checkpoint; return the next epoch."""
    try:
        info, arrays = checkpoints.load(run_dir, RESULT_FILES)
        net.set_state({k.replace("|", "/"): v for k, v in arrays.items()})
    except checkpoints.NoCheckpoint as exc:
        raise JobError(str(exc)) from None
    except MicrocircuitError as exc:
        raise JobError(f"{run_dir}: {exc}") from None
    return int(info["next_epoch"])


# ------------------------------------------------------------------------------------ training
class Progress:
    """A tqdm bar over all samples of the run (plain log lines when tqdm is missing or quiet)."""

    def __init__(self, total, initial, quiet, unit="sample", desc=None):
        self.bar = None
        if not quiet:
            try:
                from tqdm import tqdm
                self.bar = tqdm(total=total, initial=initial, unit=unit, desc=desc, dynamic_ncols=True,
                                smoothing=0.1, mininterval=0.5)
            except ImportError:
                pass
        self.base = initial

    def stage(self, epoch, n_epochs, stage):
        if self.bar is not None:
            self.bar.set_description(f"epoch {epoch}/{n_epochs} {stage}")
        return self._callback()

    def _callback(self):
        start = self.bar.n if self.bar is not None else 0

        def update(done):
            if self.bar is not None:
                self.bar.n = start + done
                self.bar.refresh()
        return update

    def postfix(self, **kw):
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.4g}" if isinstance(v, float) else v for k, v in kw.items()},
                                 refresh=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def run_training(cfg, run_dir, net, data, log, resume=False, quiet=False, stop_after_epoch=None):
    """Train (or resume) the run in ``run_dir``. Returns the final test StageResult."""
    meta, netcfg = cfg["meta"], cfg["network"]
    sc, rec = meta["sim_config"], meta["record"]
    n_epochs = sc["n_epochs"]
    seed = meta["numpy_seed"] if sc.get("order_seed") is None else sc["order_seed"]     # of the sample order
    recorder = Recorder(run_dir, net.L - 1, net.recs_per_sample)
    if resume:
        first = restore_checkpoint(run_dir, net)
        log(f"resumed from the checkpoint before epoch {first}")
    else:
        first = 0
        save_checkpoint(run_dir, net, 0)
    n = {s: len(y) for s, (_, y) in data.items()}
    per_epoch = n["validation"] + n["training"]
    total = n_epochs * per_epoch + n["validation"] + n["testing"]
    progress = Progress(total, first * per_epoch, quiet)
    shuffle = sc["shuffle_samples"]

    full = full_trace_list(meta)
    trace_every = max(1, n_epochs // 20)         # sample traces on ~20 epochs, the first and the last

    def run(stage, epoch, learning):
        order = net.stage_order(stage, [stage_rng(seed, stage, epoch)] if shuffle else None)
        before = net.get_weights() if (netcfg["debug_mode"] and not learning) else None
        writer = recorder.full_traces(epoch, stage, full) if full else None
        try:
            result = net.run_stage(stage, learning, order, progress=progress.stage(epoch, n_epochs, stage),
                                   on_chunk=writer)
        finally:
            if writer is not None:
                writer.close()
        if before is not None:
            after = net.get_weights()
            changed = [k for k in before if not np.array_equal(before[k], after[k])]
            if changed:
                raise RuntimeError(f"debug_mode: weights {changed} changed during {stage} (learning off)")
        angles = net.alignment_angles()[0]
        if epoch % trace_every and epoch != n_epochs and epoch != n_epochs - 1:
            result.traces = {}
        recorder.stage(epoch, result, order[0], store_predictions=not learning, angles=angles)
        speed = result.steps / result.seconds if result.seconds > 0 else float("inf")
        log(f"epoch {epoch:4d} {stage:10s} accuracy {result.accuracy[0]:.4f}  rms error {result.error[0]:.4f}  "
            f"angle {' '.join(f'{a:.1f}' for a in angles)} deg  {result.seconds:.2f} s ({speed / 1e3:.0f}k steps/s)")
        if not learning:        # training accuracy is teacher-forced (the output is nudged to the target)
            progress.postfix(**{f"{stage[:4]}_acc": float(result.accuracy[0])},
                             angle=float(angles[0]) if len(angles) else 0.0)
        return result

    try:
        for epoch in range(first, n_epochs):
            net.epoch_start()
            if epoch % rec["weights_every"] == 0 or epoch == 0:
                recorder.weights(epoch, net.get_weights())
            run("validation", epoch, False)
            run("training", epoch, True)
            net.after_training()
            if (epoch + 1) % meta["checkpoint_every"] == 0 or epoch + 1 == n_epochs:
                save_checkpoint(run_dir, net, epoch + 1)
            if stop_after_epoch is not None and epoch + 1 >= stop_after_epoch:
                return None
        recorder.weights(n_epochs, net.get_weights())
        run("validation", n_epochs, False)
        test = run("testing", n_epochs, False)
    finally:
        progress.close()
    checkpoints.finish(run_dir, _flat_state(net), {"next_epoch": n_epochs})
    return test
