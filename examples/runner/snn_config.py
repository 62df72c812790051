"""Experiment configuration for the recurrent ALIF networks (LSNN) trained with BPTT, e-prop or
MDGL on evidence accumulation (spec ``alif_eprop_mdgl.md``; task: spec ``datasets.md`` section 4).

The file layout is the one of the dendritic-microcircuit configs (:mod:`runner.config`): two YAML
documents, first *meta* (run, task, iterations, recording), then *network* (the arguments of
:class:`networks.recurrent_snn.RecurrentSNN`). The meta key ``task`` marks a config of this kind
(microcircuit configs have ``dataset_key`` instead); :func:`runner.experiments.load_any_config`
picks the schema from it. Loading fills in every default and returns plain Python data::

    {"meta": {...}, "network": {...}}

Errors are :class:`runner.config.ConfigError` with the same one-line message
``config error in <file>: <dotted.key>: <what is wrong>``; unknown keys are errors with the closest
valid key suggested; ``--set key=value`` overrides (network keys as ``network.key``) are checked
against the same schema. Only ``yaml.safe_load*`` / ``yaml.safe_dump_all`` touch YAML.

Defaults are the MDGL column of spec section 6 (Liu et al., PNAS 2021, Fig. 3):

* 40 inputs, 50 LIF + 50 ALIF (LIF first), 2 readouts; tau_m = tau_out = 20 ms, tau_a = 2000 ms;
  v_th 0.01, beta 1.8 in LSNN units (``lsnn_scaling: true``), gamma 0.3, n_ref 5 blocked steps
  (``refractory: lsnn``); Dale's law with 80 % excitatory cells and a fixed 10 % adjacency;
  Adam 2.5e-3, DEEP R l1 1e-2; batch 64, 2000 iterations, a fresh 64-trial validation batch every
  10 iterations.
* Rate regulariser ``reg_c: 0.1`` towards 10 Hz: the value of the authors' stored runs, which give
  the Fig. 3C numbers (the public MDGL script has none; spec section 10, quirk 4).
* ``precision: double`` (float64): the gradients of the three rules were checked against the NumPy
  maths to 1e-10..1e-12 in float64 (tests/test_recurrent_snn.py); ``float`` runs the simulation in
  float32 (the host-side gradients and Adam stay float64).

Names map one to one onto ``RecurrentSNN`` keywords, except ``reg_target_hz`` (Hz; RecurrentSNN's
``reg_target`` is in spikes per ms: reg_target_hz / 1000 at dt = 1 ms) and ``beta``: a number is
taken in the units of the chosen neuron form; left out, it resolves to the MDGL value 1.8 (LSNN
form) or the same adaptation in the Bellec form, 1.8 (1 - exp(-1/tau_a)) (spec 2.2), and the
resolved config holds that number. The loss follows the task and is not a config value (the two
task variants must never be mixed, datasets.md 4.2): ``accucues_mdgl`` -> cross-entropy at the final
step; ``accucues_eprop`` -> cross-entropy averaged over the 150 recall steps. The time step is the
task's 1 ms.
"""
import math


from .config import (ConfigError, ConfigFormat, Field, _as_float, _boolean, _choice, _fail, _ge, _gt, _integer,
                     _number, _run_name)

__all__ = [
    "ConfigError",
    "META_SCHEMA",
    "NETWORK_SCHEMA",
    "TASKS",
    "load_config",
    "config_from_string",
    "validate_config",
    "dump_config",
    "config_to_string",
    "network_kwargs",
    "default_beta",
]

#: Task variants (spec datasets.md 4): inputs, classes, loss of the network, trial length.
TASKS = {
    "accucues_mdgl": {"inputs": 40, "classes": 2, "loss": "final", "max_batch": 127, "steps": 2000},
    "accucues_eprop": {"inputs": 40, "classes": 2, "loss": "window", "max_batch": None, "steps": 2250},
}
N_WINDOW = 150          # recall steps: the loss window of the e-prop task
MDGL_BETA = 1.8         # LSNN units (spec 6)


# --------------------------------------------------------------------------------------------
# Parsers not in runner.config
# --------------------------------------------------------------------------------------------

def _fraction(open_right=True):
    """A number in (0, 1) (or (0, 1] with ``open_right=False``)."""
    def parse(value, key):
        value = _as_float(value, key)
        ok = 0.0 < value < 1.0 if open_right else 0.0 < value <= 1.0
        if not ok:
            _fail(key, f"must lie in (0, 1{')' if open_right else ']'}, got {value!r}")
        return value
    parse.kind = "float in (0, 1)" if open_right else "float in (0, 1]"
    return parse


def _optional_positive(value, key):
    if value is None:
        return None
    value = _as_float(value, key)
    if value <= 0:
        _fail(key, f"must be > 0 (or null for the default), got {value!r}")
    return value


_optional_positive.kind = "float > 0 or null"


def _readout_scale(value, key):
    if value == "reference":
        return value
    if isinstance(value, str):
        _fail(key, f"expected a number > 0 or 'reference', got {value!r}")
    value = _as_float(value, key)
    if value <= 0:
        _fail(key, f"must be > 0 (or 'reference'), got {value!r}")
    return value


_readout_scale.kind = "float > 0 or 'reference'"


def _optional_choice(options):
    inner = _choice(options)

    def parse(value, key):
        return None if value is None else inner(value, key)
    parse.kind = " | ".join(options) + " | null"
    return parse


def _unit_interval_open_right(value, key):
    value = _as_float(value, key)
    if not 0.0 <= value < 1.0:
        _fail(key, f"must lie in [0, 1), got {value!r}")
    return value


_unit_interval_open_right.kind = "float in [0, 1)"

_POS = _number(_gt(0))
_NONNEG = _number(_ge(0))


# --------------------------------------------------------------------------------------------
# The schema table
# --------------------------------------------------------------------------------------------

META_SCHEMA = {
    "name": Field(_run_name, doc="run name; names the results folder"),
    "backend": Field(_choice(("cpu", "cuda"), aliases={"SingleThreadedCPU": "cpu", "CUDA": "cuda"}), "cpu",
                     "simulation backend"),
    "task": Field(_choice(tuple(TASKS)), doc="evidence-accumulation variant (datasets.md 4.1 / 4.2); marks an "
                                             "ALIF/e-prop/MDGL config"),
    "numpy_seed": Field(_integer(_ge(0)), doc="seed of the initial weights, masks, feedback and every task batch"),
    "precision": Field(_choice(("double", "float"), aliases={"float64": "double", "float32": "float"}), "double",
                       "scalar type of the simulation (double: float64, the precision the gradients were "
                       "verified in)"),
    "num_threads": Field(_integer(_ge(1)), 1, "CPU threads of the simulation"),
    "checkpoint_every": Field(_integer(_ge(1)), 50, "iterations between checkpoints"),
    "n_iterations": Field(_integer(_ge(0)), 2000, "training iterations (one batch each)"),
    "batch_size": Field(_integer(_ge(1)), 64, "trials per training batch"),
    "validate_every": Field(_integer(_ge(1)), 10, "iterations between validations (also after the last)"),
    "validation_size": Field(_integer(_ge(1)), 64, "trials of every fresh validation batch"),
    "record": {
        "raster_every": Field(_integer(_ge(1)), 100, "iterations between stored weights, spike rasters and "
                                                     "readout traces (a multiple of validate_every)"),
        "trace_trials": Field(_integer(_ge(0)), 2, "validation trials whose rasters and readouts are stored"),
    },
}

NETWORK_SCHEMA = {
    "learning_rule": Field(_choice(("bptt", "eprop", "mdgl")), doc="bptt | eprop | mdgl"),
    "feedback": Field(_choice(("symmetric", "random")), "symmetric",
                      "learning-signal weights: W_out^T or fixed random (e-prop / MDGL only)"),
    "n_in": Field(_integer(_ge(1)), 40, "input channels (the task has 40)"),
    "n_lif": Field(_integer(_ge(0)), 50, "LIF neurons (indices 0..n_lif-1; inhibitory cells are LIF)"),
    "n_alif": Field(_integer(_ge(0)), 50, "ALIF neurons"),
    "n_out": Field(_integer(_ge(2)), 2, "readout neurons (classes)"),
    "tau_m": Field(_POS, 20.0, "membrane time constant [ms]"),
    "tau_a": Field(_POS, 2000.0, "adaptation time constant [ms]"),
    "tau_out": Field(_POS, 20.0, "readout time constant [ms]"),
    "v_th": Field(_POS, 0.01, "baseline threshold"),
    "beta": Field(_optional_positive, None, "ALIF adaptation strength in the units of the neuron form; null: "
                                            "1.8 LSNN-equivalent"),
    "gamma": Field(_NONNEG, 0.3, "pseudo-derivative dampening"),
    "n_ref": Field(_integer(_ge(0)), 5, "refractory steps in the convention of 'refractory'"),
    "refractory": Field(_choice(("lsnn", "eprop")), "lsnn", "refractory convention (spec 2.3)"),
    "lsnn_scaling": Field(_boolean, True, "LSNN/MDGL neuron form (true) or Bellec form (false)"),
    "trace": Field(_optional_choice(("bellec", "lsnn")), None, "eligibility form (null: that of the neuron)"),
    "dale": Field(_boolean, True, "Dale's law with fixed signs and fixed sparse adjacency"),
    "connectivity": Field(_fraction(open_right=False), 0.1, "W_in / W_rec connection probability"),
    "out_connectivity": Field(_fraction(open_right=False), 0.1, "W_out connection probability"),
    "readout_scale": Field(_readout_scale, 1.0,
                           "model W_out, b_out = readout_scale x the trained parameters; 'reference' = "
                           "1 - exp(-dt/tau_out), the MDGL reference's readout parametrisation"),
    "e_fraction": Field(_fraction(), 0.8, "excitatory fraction (n_E = int(e_fraction N) + 1)"),
    "learning_rate": Field(_POS, 2.5e-3, "Adam learning rate"),
    "adam_beta1": Field(_unit_interval_open_right, 0.9, "Adam beta1"),
    "adam_beta2": Field(_unit_interval_open_right, 0.999, "Adam beta2"),
    "adam_eps": Field(_POS, 1e-8, "Adam epsilon"),
    "l1": Field(_NONNEG, 1e-2, "DEEP R l1 shrinkage (Dale mode)"),
    "reg_c": Field(_NONNEG, 0.1, "rate regulariser strength (stored MDGL runs: 0.1; 0 = off)"),
    "reg_target_hz": Field(_NONNEG, 10.0, "rate regulariser target [Hz]"),
}

# --------------------------------------------------------------------------------------------
# Cross checks
# --------------------------------------------------------------------------------------------

def default_beta(lsnn_scaling, tau_a, dt=1.0):
    """The MDGL adaptation strength in the units of the neuron form (spec 2.2)."""
    return MDGL_BETA if lsnn_scaling else MDGL_BETA * (1.0 - math.exp(-dt / tau_a))


def _cross_check(meta, network):
    task = TASKS[meta["task"]]
    if network["n_in"] != task["inputs"]:
        _fail("network.n_in", f"the {meta['task']} task has {task['inputs']} input channels, got n_in = "
                              f"{network['n_in']}")
    if network["n_out"] != task["classes"]:
        _fail("network.n_out", f"the {meta['task']} task has {task['classes']} classes, got n_out = "
                               f"{network['n_out']}")
    if network["n_lif"] + network["n_alif"] < 1:
        _fail("network.n_lif", "the recurrent population is empty: n_lif + n_alif must be >= 1")
    if task["max_batch"] is not None:
        for key in ("batch_size", "validation_size"):
            if meta[key] > task["max_batch"]:
                _fail(key, f"{meta['task']} batches hold distinct 7-bit cue patterns: at most {task['max_batch']} "
                           f"trials, got {meta[key]}")
    rec = meta["record"]
    if rec["raster_every"] % meta["validate_every"]:
        _fail("record.raster_every", f"must be a multiple of validate_every = {meta['validate_every']} (rasters "
                                     f"come from the validation batch), got {rec['raster_every']}")
    if rec["trace_trials"] > meta["validation_size"]:
        _fail("record.trace_trials", f"cannot exceed validation_size = {meta['validation_size']}, got "
                                     f"{rec['trace_trials']}")
    rule = network["learning_rule"]
    if rule == "bptt" and network["feedback"] != "symmetric":
        _fail("network.feedback", "random feedback applies to eprop and mdgl only (BPTT uses the exact gradient)")
    if rule == "mdgl" and not network["dale"]:
        _fail("network.dale", "learning_rule mdgl needs dale: true (the modulatory signal is defined by the E/I "
                              "cell types)")
    if network["beta"] is None:
        network["beta"] = default_beta(network["lsnn_scaling"], network["tau_a"])


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------

SNN = ConfigFormat(
    META_SCHEMA, NETWORK_SCHEMA, cross_check=lambda meta, network, raw: _cross_check(meta, network),
    meta_hints={"dataset_key": ": a config has either 'task' (ALIF/e-prop/MDGL) or 'dataset_key' "
                               "(microcircuits)"})


def validate_config(cfg, source="<dict>"):
    """Check an in-memory config ``{"meta": {...}, "network": {...}}``; return it resolved (every
    default filled in, ``network.beta`` a number). The input is not modified."""
    return SNN.validate(cfg, source)


def config_from_string(text, source="<string>", overrides=()):
    """Parse, override and validate config text; ``source`` names it in messages."""
    return SNN.from_string(text, source, overrides)


def load_config(path, overrides=()):
    """Load a config file, apply ``--set`` overrides (``key.path=value``), validate, resolve."""
    return SNN.load(path, overrides)


def config_to_string(cfg, header=None):
    """The YAML text of a validated config: two documents, every key, plain types only."""
    return SNN.to_string(cfg, header)


def dump_config(cfg, path, header=None):
    """Write a config (validated and resolved first); ``load_config(path)`` gives it back."""
    SNN.dump(cfg, path, header)


def network_kwargs(cfg):
    """Keyword arguments of :class:`networks.recurrent_snn.RecurrentSNN` for a resolved config."""
    meta, net = cfg["meta"], cfg["network"]
    kw = {k: v for k, v in net.items() if k not in ("reg_target_hz",)}
    kw["reg_target"] = net["reg_target_hz"] / 1000.0          # spikes per ms at dt = 1 ms
    kw["loss"] = TASKS[meta["task"]]["loss"]
    kw["n_window"] = N_WINDOW
    kw["batch_size"] = meta["batch_size"]
    kw["seed"] = meta["numpy_seed"]
    kw["precision"] = meta["precision"]
    kw["backend"] = meta["backend"]
    kw["num_threads"] = meta["num_threads"]
    return kw

