"""Experiment configuration for the dendritic-microcircuit runs (Latent Equilibrium, FA / PAL / BP).

A config file holds two YAML documents: first the *meta* document (run name, data set, time step,
seeds, recording, ``sim_config``), then the *network* document (layer sizes, conductances,
learning rates, ...). Key names are those of the reference PAL configs
(``unibe-cns/pal_microcircuits_genn``), so a reference config translates directly; the reference
layout (one document holding the list ``[meta, network]``) is accepted too.

Every key is listed once in a hand-written schema table (``META_SCHEMA``, ``NETWORK_SCHEMA``) with
its type, default and check. Loading fills in every default and returns plain Python data::

    {"meta": {...}, "network": {...}}

Errors are :class:`ConfigError` with a one-line message
``config error in <file>: <dotted.key>: <what is wrong>``. Keys of the meta document are written
as they are (``sim_config.n_epochs``), keys of the network document with the prefix ``network.``
(``network.eta.up``); the same spelling is used by ``--set`` overrides.

Only ``yaml.safe_load_all`` / ``yaml.safe_load`` read YAML here: configs never carry Python objects
or embedded data sets.
"""
import copy
import difflib
import math
import numbers
import re
import warnings

import yaml

__all__ = [
    "ConfigError",
    "ConfigWarning",
    "META_SCHEMA",
    "NETWORK_SCHEMA",
    "DATASETS",
    "load_config",
    "config_from_string",
    "validate_config",
    "dump_config",
    "config_to_string",
    "steps_per_sample",
]


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------

class ConfigError(Exception):
    """A config that cannot be used; ``str()`` is one line naming the file and the key."""

    def __init__(self, source, key, problem):
        self.source = str(source)
        self.key = key
        # Messages are printed as a single line by the scripts: fold any line breaks (YAML errors
        # and repr() of odd values can contain them).
        self.problem = " ".join(str(problem).split())
        super().__init__(str(self))

    def __str__(self):
        if self.key:
            return f"config error in {self.source}: {self.key}: {self.problem}"
        return f"config error in {self.source}: {self.problem}"


class ConfigWarning(UserWarning):
    """Something in a config was accepted but ignored (dead keys of the reference configs)."""


class _Problem(Exception):
    """Internal: a problem at a key, turned into a :class:`ConfigError` once the file is known."""

    def __init__(self, key, problem):
        super().__init__(problem)
        self.key = key
        self.problem = problem


def _fail(key, problem):
    raise _Problem(key, problem)


# --------------------------------------------------------------------------------------------
# Describing values in messages
# --------------------------------------------------------------------------------------------

def _show(value):
    """Describe a value the way the user wrote it in YAML (for error messages)."""
    if value is None:
        return "null (no value)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return f"the list {list(value)!r}"
    return repr(value)


def _suggest(word, candidates):
    """Return ' (did you mean 'x'?)' for the closest candidate, or ''."""
    match = difflib.get_close_matches(str(word), [str(c) for c in candidates], n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else str(name)


# --------------------------------------------------------------------------------------------
# Checks: (predicate, text) pairs; the text completes "must be ..."
# --------------------------------------------------------------------------------------------

def _gt(bound):
    return (lambda v: v > bound, f"> {bound}")


def _ge(bound):
    return (lambda v: v >= bound, f">= {bound}")


def _apply_checks(value, key, checks):
    for predicate, text in checks:
        if not predicate(value):
            _fail(key, f"must be {text}, got {value!r}")


# --------------------------------------------------------------------------------------------
# Scalar conversions
# --------------------------------------------------------------------------------------------

def _number_hint(value):
    """Why a number-looking string is text: quotes, or PyYAML's YAML 1.1 float syntax."""
    if not isinstance(value, str):
        return ""
    try:
        if not math.isfinite(float(value)):
            return ""
    except ValueError:
        return ""
    if "e" in value.lower():
        # YAML 1.1 floats need a dot and a signed exponent: 1e-6 and 1.0e6 are read as text.
        return " (PyYAML reads exponents without a dot or sign as text: write 1.0e-6 or 1.0e+6)"
    return " (remove the quotes)"


def _as_float(value, key):
    """A real number (ints accepted, bools not) as a finite float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        _fail(key, f"expected a number, got {_show(value)}{_number_hint(value)}")
    value = float(value)
    if not math.isfinite(value):
        _fail(key, f"expected a finite number, got {value!r}")
    return value


def _as_int(value, key):
    """An integer (bools and floats are errors: 400.0 epochs is a typo worth reporting)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        _fail(key, f"expected an integer, got {_show(value)}{_number_hint(value)}")
    return int(value)


def _number(*checks):
    """Parser for a float with checks."""
    def parse(value, key):
        value = _as_float(value, key)
        _apply_checks(value, key, checks)
        return value
    parse.kind = "float " + " and ".join(text for _, text in checks) if checks else "float"
    return parse


def _integer(*checks):
    """Parser for an int with checks."""
    def parse(value, key):
        value = _as_int(value, key)
        _apply_checks(value, key, checks)
        return value
    parse.kind = "int " + " and ".join(text for _, text in checks) if checks else "int"
    return parse


def _boolean(value, key):
    if not isinstance(value, bool):
        _fail(key, f"expected true or false, got {_show(value)}")
    return value


_boolean.kind = "bool"


def _choice(options, aliases=None, unsupported=()):
    """Parser for one string out of ``options``; ``aliases`` map other spellings onto them."""
    aliases = aliases or {}

    def parse(value, key):
        listed = ", ".join(options)
        if isinstance(value, str):
            if value in options:
                return value
            if value in aliases:
                return aliases[value]
            if value in unsupported:
                _fail(key, f"{value!r} is not supported (yet); supported: {listed}")
        else:
            _fail(key, f"expected one of {listed}, got {_show(value)}")
        _fail(key, f"unknown value {value!r}; expected one of {listed}"
                   f"{_suggest(value, list(options) + list(aliases))}")
    parse.kind = " | ".join(options)
    return parse


_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def _run_name(value, key):
    """The run name names the results folder and build directory: keep it a safe file name."""
    if not isinstance(value, str):
        _fail(key, f"expected a string, got {_show(value)}")
    if not _NAME.match(value):
        _fail(key, f"may contain only letters, digits, '_', '.' and '-' (it names the results "
                   f"folder), got {value!r}")
    return value


_run_name.kind = "str [A-Za-z0-9_.-]"


def _optional_string(value, key):
    if value is not None and not isinstance(value, str):
        _fail(key, f"expected a string or null, got {_show(value)}")
    return value


_optional_string.kind = "str or null"


def _optional(parse):
    """``parse`` or null."""
    def parse_optional(value, key):
        return None if value is None else parse(value, key)
    parse_optional.kind = f"{parse.kind} or null"
    return parse_optional


def _le_active(value, key):
    """The reference writes 0/1; true/false are accepted. Stored as the int 0 or 1."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return int(value)
    _fail(key, f"expected 0, 1, true or false, got {_show(value)}")


_le_active.kind = "0 | 1"


def _learning_lag(value, key):
    value = _as_float(value, key)
    if value != 0:
        _fail(key, f"learning_lag > 0 (settling before plasticity) is not implemented; "
                   f"use 0 (phaseless learning), got {value!r}")
    return value


_learning_lag.kind = "0"


# --------------------------------------------------------------------------------------------
# Compound values
# --------------------------------------------------------------------------------------------

def _float_list(*checks):
    """Parser for a list of floats, each with the checks (lengths are cross-checked later)."""
    def parse(value, key):
        if not isinstance(value, (list, tuple)):
            _fail(key, f"expected a list of numbers, got {_show(value)}")
        out = []
        for i, item in enumerate(value):
            item_key = f"{key}[{i}]"
            item = _as_float(item, item_key)
            _apply_checks(item, item_key, checks)
            out.append(item)
        return out
    parse.kind = "list of float"
    return parse


def _dims(value, key):
    """Layer sizes [input, hidden..., output]: at least one hidden layer."""
    if not isinstance(value, (list, tuple)):
        _fail(key, f"expected a list of layer sizes such as [4, 30, 3], got {_show(value)}")
    out = []
    for i, item in enumerate(value):
        item = _as_int(item, f"{key}[{i}]")
        _apply_checks(item, f"{key}[{i}]", [_ge(1)])
        out.append(item)
    if len(out) < 3:
        _fail(key, f"needs at least 3 layers (input, hidden, output), got {out}")
    return out


_dims.kind = "list of int >= 1, length >= 3"


def _init_range(value, key):
    """A weight-initialisation range: a > 0 meaning U(-a, a), or [lo, hi] with lo < hi."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            _fail(key, f"expected a number a > 0 or a list [lo, hi], got {_show(value)}")
        lo = _as_float(value[0], f"{key}[0]")
        hi = _as_float(value[1], f"{key}[1]")
        if not lo < hi:
            _fail(key, f"range [lo, hi] needs lo < hi, got [{lo!r}, {hi!r}]")
        return [lo, hi]
    value = _as_float(value, key)
    if value <= 0:
        _fail(key, f"a single number a means U(-a, a) and must be > 0, got {value!r}")
    return value


_init_range.kind = "a > 0 or [lo, hi]"


def _recordings(value, key):
    """{layer: {population_or_synapse: [variable, ...]}}; layers are indices or names."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        _fail(key, f"expected a mapping layer -> {{population: [variables]}}, got {_show(value)}")
    out = {}
    for layer, groups in value.items():
        layer_key = _join(key, layer)
        if isinstance(layer, bool) or not isinstance(layer, (numbers.Integral, str)):
            _fail(layer_key, f"a layer must be an index or a name, got {_show(layer)}")
        if isinstance(layer, numbers.Integral) and layer < 0:
            _fail(layer_key, f"a layer index must be >= 0, got {layer}")
        layer = int(layer) if isinstance(layer, numbers.Integral) else layer
        if not isinstance(groups, dict):
            _fail(layer_key, f"expected a mapping population -> [variables], got {_show(groups)}")
        out[layer] = {}
        for group, names in groups.items():
            group_key = _join(layer_key, group)
            if not isinstance(group, str):
                _fail(group_key, f"a population or synapse name must be a string, "
                                 f"got {_show(group)}")
            if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
                _fail(group_key, f"expected a list of variable names, got {_show(names)}")
            out[layer][group] = list(names)
    return out


_recordings.kind = "{layer: {pop_or_syn: [var, ...]}}"


# --------------------------------------------------------------------------------------------
# The schema table
# --------------------------------------------------------------------------------------------

class _Required:
    def __repr__(self):
        return "REQUIRED"


REQUIRED = _Required()


class Field:
    """One key of the schema: how to parse it, its default, and what it means."""

    def __init__(self, parse, default=REQUIRED, doc="", open_mapping=False):
        self.parse = parse
        self.default = default
        self.doc = doc
        # open_mapping: free-form content below this key (``--set`` may reach inside it).
        self.open_mapping = open_mapping

    @property
    def required(self):
        return self.default is REQUIRED


_POS = _number(_gt(0))
_NONNEG = _number(_ge(0))

#: Input size and number of classes of each supported data set.
DATASETS = {
    "yinyang": {"inputs": 4, "classes": 3, "what": "(x, y, 1-x, 1-y)"},
    "mnist": {"inputs": 784, "classes": 10, "what": "28 x 28 pixels"},
    "fashion_mnist": {"inputs": 784, "classes": 10, "what": "28 x 28 pixels"},
}

META_SCHEMA = {
    "name": Field(_run_name, doc="run name; names the results folder (unique per config)"),
    "backend": Field(_choice(("cpu", "cuda"), aliases={"SingleThreadedCPU": "cpu", "CUDA": "cuda"}),
                     "cpu", "simulation backend (GeNN names SingleThreadedCPU / CUDA accepted)"),
    "dataset_key": Field(_choice(tuple(DATASETS), unsupported=("bars", "mimic")),
                         doc="data set"),
    "dt": Field(_POS, 0.01, "time step [ms]"),
    "numpy_seed": Field(_integer(_ge(0)), doc="seed of the weight initialisation and noise"),
    "print_every_n_recs": Field(_integer(_gt(0)), 1000, "accepted for parity with the reference"),
    "precision": Field(_choice(("float", "double")), "float", "scalar type of the simulation"),
    "num_threads": Field(_integer(_ge(1)), 1, "CPU threads"),
    "data_dir": Field(_optional_string, None, "folder of the data files (null: default place)"),
    "checkpoint_every": Field(_integer(_ge(1)), 1, "epochs between checkpoints"),
    "record": {
        "recordings": Field(_recordings, {}, "extra traces: {layer: {pop_or_syn: [vars]}}",
                            open_mapping=True),
        "sample_traces": Field(_integer(_ge(0)), 20, "samples per stage whose traces are kept"),
        "weights_every": Field(_integer(_ge(1)), 1, "epochs between weight snapshots"),
    },
    "sim_config": {
        "data_noise": Field(_NONNEG, 0.0, "noise added to the input data"),
        "data_seed": Field(_integer(_ge(0)), 9876543, "data generation seed (same for a sweep)"),
        "n_class": Field(_integer(_ge(2)), doc="number of classes"),
        "n_epochs": Field(_integer(_ge(0)), doc="training epochs"),
        "n_train": Field(_integer(_ge(1)), doc="training samples per class"),
        "n_valid": Field(_integer(_ge(1)), doc="validation samples per class"),
        "n_test": Field(_integer(_ge(1)), doc="test samples per class"),
        "pat_t": Field(_POS, 1.0, "presentation time per sample [ms] (= network.t_pattern)"),
        "recs_per_sample": Field(_integer(_ge(2)), 5, "records per sample (the first is dropped)"),
        "shuffle_samples": Field(_boolean, True, "reshuffle samples for every stage run"),
        "order_seed": Field(_optional(_integer(_ge(0))), None,
                            "seed of the shuffled sample order (null: numpy_seed); vary it alone to "
                            "separate the order's effect from the initial weights'"),
        "uhigh": Field(_number(), 1.0, "target rate of the correct class"),
        "ulow": Field(_number(), 0.1, "target rate of the other classes"),
        "yinyang_convention": Field(_choice(("pal", "paper")), "pal",
                                    "yin-yang splits: pal (3 x n_*, data_seed + 0/1/2) or paper"),
    },
}

NETWORK_SCHEMA = {
    "activation_template": Field(_choice(("sigmoid", "soft_relu", "sigmoid_stable")), "sigmoid",
                                 "transfer function"),
    "threshold": Field(_POS, 15.0, "threshold of the transfer function"),
    "alpha": Field(_NONNEG, 1e-6, "weight decay of the PAL backward rule"),
    "bias": {
        "on": Field(_boolean, False, "bias neurons on"),
        "val": Field(_number(), 0.0, "bias rate"),
    },
    "dims": Field(_dims, doc="layer sizes [input, hidden..., output]"),
    "eta": {
        "up": Field(_float_list(_ge(0)), doc="forward rates, by presynaptic level"),
        "down": Field(_float_list(_ge(0)), doc="PAL backward rates, by postsynaptic level "
                                               "(entry 0 unused)"),
        "ip": Field(_float_list(_ge(0)), doc="pyramid->interneuron rates, by hidden level - 1"),
        "pi": Field(_float_list(_ge(0)), doc="interneuron->pyramid rates, by hidden level - 1"),
    },
    "gl": Field(_POS, 0.03, "leak conductance [1/ms]"),
    "gb": Field(_POS, 0.1, "basal conductance [1/ms]"),
    "ga": Field(_POS, 0.06, "apical conductance [1/ms]"),
    "gd": Field(_POS, 0.1, "interneuron dendritic conductance [1/ms]"),
    "gsom": Field(_POS, 0.06, "interneuron nudging conductance [1/ms]"),
    "gtar": Field(_POS, 0.06, "output nudging conductance [1/ms]"),
    "highpass_tau": Field(_POS, 0.1, "high-pass filter time constant [ms]"),
    "init_weights": {
        "down": Field(_init_range, 1.0, "B weights: a (U(-a, a)) or [lo, hi]"),
        "ip": Field(_init_range, 0.1, "pyramid->interneuron weights"),
        "pi": Field(_init_range, 1.0, "interneuron->pyramid weights"),
        "up": Field(_init_range, 0.1, "forward weights"),
    },
    "le_active": Field(_le_active, 1, "Latent Equilibrium prospective voltage on (1) or off (0)"),
    "learning_lag": Field(_learning_lag, 0.0, "settling time before plasticity (must be 0)"),
    "noise_sig": Field(_NONNEG, 0.0, "apical OU noise amplitude"),
    "noise_tau": Field(_POS, 0.1, "OU noise time constant [ms]"),
    "out_lag": Field(_NONNEG, 0.0, "teacher delay within a sample [ms] (< t_pattern)"),
    "reinforce_self_predict": Field(_boolean, False, "W_IP <- W_out after each training epoch"),
    "set_wBackw_to_wTransp": Field(_boolean, False, "BP baseline: B <- W^T every epoch"),
    "start_in_self_predict": Field(_boolean, True, "start in the self-predicting state"),
    "t_pattern": Field(_POS, 1.0, "presentation time [ms] (= sim_config.pat_t)"),
    "tau_0": Field(_POS, 0.01, "LE prospective time constant [ms]"),
    "tau_w_ff": Field(_POS, 100.0, "low-pass time constant of the forward rule [ms]"),
    "tau_w_ip": Field(_POS, 0.01, "low-pass time constant of the pyramid->interneuron rule [ms]"),
    "tau_w_pi": Field(_POS, 0.01, "low-pass time constant of the interneuron->pyramid rule [ms]"),
    "debug_mode": Field(_boolean, False, "assert that no weight changes during validation"),
}

# Keys of the reference configs that this implementation does not use: accepted (so reference
# configs load unchanged) and dropped with a warning. Paths are relative to their document.
_DEAD_KEYS = {
    "meta": {
        # filled in at run time by the reference runner (derived from sim_config)
        "input_rates", "output_rates", "record.filename", "record.update_indices",
        "sim_config.idx_epoch", "sim_config.idx_rec", "sim_config.idx_sample",
        "sim_config.idx_test", "sim_config.idx_train", "sim_config.idx_valid",
        "sim_config.sim_time",
    },
    "network": {"noise", "reset_deltas", "noise_amplitude"},
}

_DOCS = (("meta", META_SCHEMA, ""), ("network", NETWORK_SCHEMA, "network."))


# --------------------------------------------------------------------------------------------
# Walking a document against its schema
# --------------------------------------------------------------------------------------------

def _has_required(section):
    return any(_has_required(s) if isinstance(s, dict) else s.required for s in section.values())


def _section_keys(raw, schema):
    """Yield (name, value) of a raw section with YAML 1.1 quirks undone."""
    for name, value in raw.items():
        # YAML 1.1 reads an unquoted key `on:` as the boolean true (bias: {on: false}).
        if name is True and "on" in schema and "on" not in raw:
            name = "on"
        yield name, value


class ConfigFormat:
    """One kind of two-document config (meta, network): its schemas, the keys it drops, the
    checks that need several keys, and everything generic about reading, overriding, validating
    and writing it. The microcircuit configs (this module) and the ALIF configs
    (:mod:`runner.snn_config`) are two instances.

    ``cross_check(meta, network, raw)`` sees the resolved documents and the raw input;
    ``meta_hints`` maps a key unknown to the meta document to an explanation appended to the
    message; ``after_override(raw, doc, parts, value)`` runs after each ``--set``.
    """

    def __init__(self, meta_schema, network_schema, cross_check, dead_keys=None, meta_hints=None,
                 after_override=None):
        self.docs = (("meta", meta_schema, ""), ("network", network_schema, "network."))
        self.cross_check = cross_check
        self.dead_keys = dead_keys or {"meta": set(), "network": set()}
        self.meta_hints = meta_hints or {}
        self.after_override = after_override

    # ---------------------------------------------------------------- walking a document
    def _resolve_section(self, raw, schema, path, doc, dropped):
        """Check one (sub)section and return it with every default filled in, in schema order."""
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            _fail(path, f"expected a mapping of keys, got {_show(raw)}")
        given = {}
        for name, value in _section_keys(raw, schema):
            key = _join(path, name)
            if name in schema:
                given[name] = value
            elif key in self.dead_keys[doc]:
                dropped.append(key)
            else:
                _fail(key, self._unknown_key_text(name, schema, path, doc))
        out = {}
        for name, spec in schema.items():
            key = _join(path, name)
            if isinstance(spec, dict):
                if name not in given and _has_required(spec):
                    _fail(key, "missing required section")
                out[name] = self._resolve_section(given.get(name), spec, key, doc, dropped)
            elif name in given:
                out[name] = spec.parse(given[name], key)
            elif spec.required:
                _fail(key, "missing required key")
            else:
                out[name] = copy.deepcopy(spec.default)
        return out

    def _unknown_key_text(self, name, schema, path, doc):
        """'unknown key' with the closest valid key, or the document the key belongs in."""
        text = f"unknown key {name!r}"
        if not path:
            other, other_schema, other_prefix = [d for d in self.docs if d[0] != doc][0]
            if name in other_schema:
                return f"{text} in the {doc} document (it belongs in the {other} document: " \
                       f"{other_prefix}{name})"
            if doc == "meta" and name in self.meta_hints:
                return text + self.meta_hints[name]
        return text + _suggest(name, schema)

    def _resolve_document(self, raw, doc, schema, prefix, dropped):
        """Resolve one document; keys in problems get the document's prefix (``network.``)."""
        try:
            found = []
            out = self._resolve_section(raw, schema, "", doc, found)
        except _Problem as problem:
            problem.key = prefix + problem.key if problem.key else doc
            raise
        dropped.extend(prefix + key for key in found)
        return out

    # ---------------------------------------------------------------- validation
    def validate(self, cfg, source="<dict>"):
        """Check an in-memory config ``{"meta": {...}, "network": {...}}``; return it resolved
        (the input is not modified). Raises :class:`ConfigError`; warns about dropped keys."""
        if not isinstance(cfg, dict) or set(cfg) != {"meta", "network"}:
            got = sorted(map(str, cfg)) if isinstance(cfg, dict) else _show(cfg)
            raise ConfigError(source, None, f"expected a mapping with the keys 'meta' and 'network', "
                                            f"got {got}")
        raw = _plain(cfg)
        dropped = []
        try:
            meta, network = (self._resolve_document(raw[doc], doc, schema, prefix, dropped)
                             for doc, schema, prefix in self.docs)
            self.cross_check(meta, network, raw)
        except _Problem as problem:
            raise ConfigError(source, problem.key, problem.problem) from None
        if dropped:
            warnings.warn(f"{source}: ignoring keys unused by this implementation: "
                          f"{', '.join(dropped)}", ConfigWarning, stacklevel=4)
        return {"meta": meta, "network": network}

    # ---------------------------------------------------------------- text and files
    def from_string(self, text, source="<string>", overrides=()):
        """Parse, override and validate config text; ``source`` names it in messages."""
        meta, network = _split_documents(text, source)
        raw = {"meta": meta, "network": network}
        for override in overrides:
            self._apply_override(raw, override, source)
        return self.validate(raw, source)

    def load(self, path, overrides=()):
        """Load a config file, apply ``--set`` overrides (``key.path=value``), validate, resolve."""
        source = str(path)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(source, None, f"cannot read the file: {reason}") from None
        return self.from_string(text, source, overrides)

    def to_string(self, cfg, header=None):
        """The YAML text of a validated config: two documents, every key, plain types only."""
        cfg = self.validate(cfg, "<config being written>")
        body = yaml.safe_dump_all([cfg["meta"], cfg["network"]], explicit_start=True,
                                  sort_keys=False, default_flow_style=False)
        lines = "".join(f"# {line}\n".replace("# \n", "#\n") for line in (header or "").splitlines())
        return lines + body

    def dump(self, cfg, path, header=None):
        """Write a config (validated and resolved first); ``load(path)`` gives it back."""
        text = self.to_string(cfg, header)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)

    # ---------------------------------------------------------------- --set key.path=value
    def _locate(self, parts, schema, prefix, text):
        """Check a key path against the schema; return how many leading parts are schema keys."""
        node = schema
        for i, part in enumerate(parts):
            key = prefix + ".".join(parts[:i + 1])
            if isinstance(node, Field):
                if node.open_mapping:
                    return i
                _fail(key, f"{parts[i - 1]!r} is a value, not a section (in --set {text})")
            if part not in node:
                doc = "network" if prefix else "meta"
                where = self._unknown_key_text(part, node, ".".join(parts[:i]), doc)
                _fail(key, f"{where} (in --set {text})")
            node = node[part]
        if isinstance(node, dict):
            _fail(prefix + ".".join(parts), f"this is a section; set one of its keys "
                                            f"({', '.join(node)}) (in --set {text})")
        return len(parts)

    def _apply_override(self, raw, text, source):
        """Apply one ``--set`` to the raw documents (before validation fills defaults)."""
        parts, value = _split_override(text, source)
        (_, schema, prefix), (_, network_schema, network_prefix) = self.docs
        doc = "meta"
        if parts[0] in ("meta", "network"):
            doc = parts.pop(0)
            if doc == "network":
                schema, prefix = network_schema, network_prefix
            if not parts:
                raise ConfigError(source, doc, f"--set {text} names a whole document; set a key "
                                               f"inside it")
        try:
            n_schema = self._locate(parts, schema, prefix, text)
        except _Problem as problem:
            raise ConfigError(source, problem.key, problem.problem) from None
        _set_path(raw[doc], parts, n_schema, value)
        if self.after_override is not None:
            self.after_override(raw, doc, parts, value)


# --------------------------------------------------------------------------------------------
# Cross checks (need more than one key)
# --------------------------------------------------------------------------------------------

def steps_per_sample(cfg):
    """Integer number of time steps per sample (t_pattern / dt) of a resolved config."""
    return int(round(cfg["network"]["t_pattern"] / cfg["meta"]["dt"]))


def _reconcile_pattern_time(meta, network, given_pat, given_t):
    """``sim_config.pat_t`` and ``network.t_pattern`` are one value (reference quirk 9)."""
    pat_t = meta["sim_config"]["pat_t"]
    t_pattern = network["t_pattern"]
    if given_pat and given_t and pat_t != t_pattern:
        _fail("network.t_pattern", f"t_pattern = {t_pattern!r} differs from sim_config.pat_t = "
                                   f"{pat_t!r}; both are the presentation time: give one of them "
                                   f"or make them equal")
    if given_pat and not given_t:
        network["t_pattern"] = pat_t
    elif given_t and not given_pat:
        meta["sim_config"]["pat_t"] = t_pattern


def _check_dataset_shape(meta, network):
    dims = network["dims"]
    data = DATASETS[meta["dataset_key"]]
    n_class = meta["sim_config"]["n_class"]
    if n_class != data["classes"]:
        _fail("sim_config.n_class", f"the {meta['dataset_key']} data set has {data['classes']} "
                                    f"classes, got n_class = {n_class}")
    if dims[0] != data["inputs"]:
        _fail("network.dims", f"dims[0] = {dims[0]} but the {meta['dataset_key']} data set has "
                              f"{data['inputs']} inputs {data['what']}; dims[0] must be "
                              f"{data['inputs']}")
    if dims[-1] != n_class:
        _fail("network.dims", f"dims[-1] = {dims[-1]} output neurons but sim_config.n_class = "
                              f"{n_class}; they must be equal")


def _entries(n):
    return f"{n} entry" if n == 1 else f"{n} entries"


def _check_eta_lengths(network):
    """up/down: one entry per connection level; ip/pi: one per hidden layer (+ optional 0)."""
    dims = network["dims"]
    eta = network["eta"]
    n_levels = len(dims) - 1
    for name in ("up", "down"):
        if len(eta[name]) != n_levels:
            unused = " (down[0] is unused)" if name == "down" else ""
            _fail(f"network.eta.{name}", f"expected {_entries(n_levels)} (len(dims) - 1 for dims "
                                         f"{dims}){unused}, got {len(eta[name])}")
    for name in ("ip", "pi"):
        if len(eta[name]) not in (n_levels - 1, n_levels):
            _fail(f"network.eta.{name}", f"expected {_entries(n_levels - 1)} (one per hidden "
                                         f"layer of dims {dims}) or {n_levels}, got "
                                         f"{len(eta[name])}")
        # The reference writes a trailing 0 for the output level: normalise to that length.
        eta[name] = eta[name] + [0.0] * (n_levels - len(eta[name]))


def _check_time_grid(meta, network):
    """A sample must be a whole number of steps, split evenly into records."""
    dt = meta["dt"]
    t_pattern = network["t_pattern"]
    steps = t_pattern / dt
    n_steps = round(steps)
    if n_steps < 1 or abs(steps - n_steps) > 1e-9 * max(1.0, n_steps):
        _fail("network.t_pattern", f"t_pattern = {t_pattern!r} is not a whole number of time "
                                   f"steps of dt = {dt!r} (t_pattern / dt = {steps!r})")
    recs = meta["sim_config"]["recs_per_sample"]
    if n_steps % recs:
        _fail("sim_config.recs_per_sample", f"recs_per_sample = {recs} does not divide the "
                                            f"{n_steps} steps per sample (t_pattern / dt)")
    if not network["out_lag"] < t_pattern:
        _fail("network.out_lag", f"out_lag = {network['out_lag']!r} must be shorter than "
                                 f"t_pattern = {t_pattern!r}")


def _check_filters(meta, network):
    """Time constants below dt make the discrete filters (factor dt/tau > 1) overshoot/unstable."""
    dt = meta["dt"]
    for name in ("tau_0", "noise_tau", "highpass_tau", "tau_w_ff", "tau_w_ip", "tau_w_pi"):
        tau = network[name]
        if tau < dt * (1 - 1e-12):
            _fail(f"network.{name}", f"{name} = {tau!r} is shorter than dt = {dt!r}; the discrete "
                                     f"filter (factor dt/{name} > 1) would be unstable")


def _cross_check(meta, network, given_pat, given_t):
    _reconcile_pattern_time(meta, network, given_pat, given_t)
    _check_dataset_shape(meta, network)
    _check_eta_lengths(network)
    _check_time_grid(meta, network)
    _check_filters(meta, network)


# --------------------------------------------------------------------------------------------
# Plain data
# --------------------------------------------------------------------------------------------

def _plain(value):
    """Turn tuples and NumPy arrays/scalars (duck-typed: no NumPy import) into plain Python."""
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "dtype") and hasattr(value, "tolist"):
        return _plain(value.tolist())
    return value


def _given(raw, *path):
    """Whether a nested key is present in raw (possibly malformed) data."""
    for name in path:
        if not isinstance(raw, dict) or name not in raw:
            return False
        raw = raw[name]
    return True


# --------------------------------------------------------------------------------------------
# Public API: validation
# --------------------------------------------------------------------------------------------

def validate_config(cfg, source="<dict>"):
    """Check an in-memory config ``{"meta": {...}, "network": {...}}``; return it resolved.

    The input is not modified. The result has every default filled in, numbers as float or int,
    lists as lists, ``eta.ip`` / ``eta.pi`` padded to ``len(dims) - 1`` and ``pat_t`` equal to
    ``t_pattern``. Raises :class:`ConfigError`; warns (:class:`ConfigWarning`) about dead keys.
    """
    return MICROCIRCUIT.validate(cfg, source)


# --------------------------------------------------------------------------------------------
# Public API: text and files
# --------------------------------------------------------------------------------------------

_TWO_DOCS = "expected two YAML documents, meta then network, separated by a line '---'"


def _yaml_error(exc, source, what="YAML syntax error"):
    """ConfigError for a PyYAML error, keyed by its line (and column)."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    text = f"{what}: {problem}" + (f" ({context})" if context else "")
    return ConfigError(source, where, text)


def _split_documents(text, source):
    """Parse the YAML text into [meta, network] raw mappings."""
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source) from None
    if all(doc is None for doc in docs):
        raise ConfigError(source, None, f"the file is empty; {_TWO_DOCS}")
    if len(docs) == 1:
        docs = _single_document(docs[0], source)
    elif len(docs) != 2:
        raise ConfigError(source, None, f"found {len(docs)} YAML documents; {_TWO_DOCS}")
    for (name, _, _), doc, number in zip(_DOCS, docs, (1, 2)):
        if doc is None:
            raise ConfigError(source, name, f"document {number} ({name}) is empty")
        if not isinstance(doc, dict):
            raise ConfigError(source, name, f"document {number} ({name}) must be a mapping of "
                                            f"keys, got {_show(doc)}")
    return docs


def _single_document(doc, source):
    """One document: only the reference layout (a list [meta, network]) is accepted."""
    if isinstance(doc, list):
        if len(doc) != 2:
            raise ConfigError(source, None, f"a single document holding a list must hold the two "
                                            f"mappings [meta, network] (reference layout), found "
                                            f"{len(doc)} items")
        return doc
    if isinstance(doc, dict):
        raise ConfigError(source, None, f"found one YAML document; {_TWO_DOCS}")
    raise ConfigError(source, None, f"the top level must be two mappings (meta, network), "
                                    f"got {_show(doc)}")


def config_from_string(text, source="<string>", overrides=()):
    """Parse, override and validate config text; ``source`` names it in messages."""
    return MICROCIRCUIT.from_string(text, source, overrides)


def load_config(path, overrides=()):
    """Load a config file, apply ``--set`` overrides (``key.path=value``), validate, resolve."""
    return MICROCIRCUIT.load(path, overrides)


def config_to_string(cfg, header=None):
    """The YAML text of a validated config: two documents, every key, plain types only."""
    return MICROCIRCUIT.to_string(cfg, header)


def dump_config(cfg, path, header=None):
    """Write a config (validated and resolved first) to ``path``; ``header`` becomes comments.

    ``load_config(path)`` gives back ``validate_config(cfg)``.
    """
    MICROCIRCUIT.dump(cfg, path, header)


# --------------------------------------------------------------------------------------------
# Overrides (--set key.path=value)
# --------------------------------------------------------------------------------------------

def _split_override(text, source):
    """'a.b=value' -> (['a', 'b'], value parsed as YAML)."""
    if not isinstance(text, str) or "=" not in text:
        raise ConfigError(source, f"--set {text}", "malformed override; expected key.path=value "
                                                   "(for example sim_config.n_epochs=5)")
    path, _, value_text = text.partition("=")
    parts = path.strip().split(".")
    if not all(parts):
        raise ConfigError(source, f"--set {text}", "malformed override; the key path before '=' "
                                                   "must be dotted names (network.eta.up=[1, 2])")
    try:
        value = yaml.safe_load(value_text)
    except yaml.YAMLError as exc:
        raise ConfigError(source, path.strip(), f"cannot parse the value {value_text!r} of "
                                                f"--set {text}: {getattr(exc, 'problem', exc)}")
    return parts, value


def _set_path(doc, parts, n_schema, value):
    """Set doc[p0][p1]... = value, creating sections; free-form keys '3' become the int 3."""
    for i, part in enumerate(parts[:-1]):
        name = int(part) if i >= n_schema and part.isdigit() else part
        if not isinstance(doc.get(name), dict):
            doc[name] = {}
        doc = doc[name]
    last = parts[-1]
    doc[int(last) if len(parts) - 1 >= n_schema and last.isdigit() else last] = value


def _sync_pattern_time(raw, doc, parts, value):
    """pat_t and t_pattern are one value: setting one sets both (else the file's other copy would
    contradict the override)."""
    if (doc, parts) == ("meta", ["sim_config", "pat_t"]):
        raw["network"]["t_pattern"] = value
    elif (doc, parts) == ("network", ["t_pattern"]):
        _set_path(raw["meta"], ["sim_config", "pat_t"], 2, value)


MICROCIRCUIT = ConfigFormat(
    META_SCHEMA, NETWORK_SCHEMA,
    cross_check=lambda meta, network, raw: _cross_check(
        meta, network, _given(raw["meta"], "sim_config", "pat_t"), _given(raw["network"], "t_pattern")),
    dead_keys=_DEAD_KEYS, after_override=_sync_pattern_time)
