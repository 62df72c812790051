"""Which kind of experiment a config or a result directory holds, and the modules that handle it.

Two kinds share ``experiment_runner.py``:

=================  =====================================  ===============================
kind               config marker (meta document)          modules
=================  =====================================  ===============================
``microcircuit``   ``dataset_key`` (yin-yang, MNIST, ...)  config, microcircuit_job, plots
``snn``            ``task`` (accucues_mdgl / _eprop)       snn_config, snn_job, snn_plots
=================  =====================================  ===============================

A config with neither marker is treated as a microcircuit config, whose loader then reports the
missing ``dataset_key`` exactly as before; a file that is not valid YAML goes to the microcircuit
loader too (same syntax error message).
"""
import os

import yaml

from .config import ConfigError

__all__ = ["KINDS", "config_kind", "config_module", "load_any_config", "dump_any_config", "job_module", "plots_module",
           "run_kind"]

KINDS = ("microcircuit", "snn")


def _meta_document(text):
    """The meta mapping of config text, or None when it cannot be read."""
    try:
        docs = [d for d in yaml.safe_load_all(text)]
    except yaml.YAMLError:
        return None
    if len(docs) == 1 and isinstance(docs[0], list) and docs[0]:      # reference layout [meta, network]
        docs = docs[0]
    return docs[0] if docs and isinstance(docs[0], dict) else None


def _kind_of_meta(meta, source):
    if not isinstance(meta, dict):
        return "microcircuit"
    if "task" in meta and "dataset_key" in meta:
        raise ConfigError(source, "task", "a config has either 'task' (ALIF/e-prop/MDGL experiments) or "
                                          "'dataset_key' (dendritic microcircuits), not both")
    return "snn" if "task" in meta else "microcircuit"


def config_kind(path):
    """'snn' or 'microcircuit' for a config file (its meta document decides)."""
    source = str(path)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(source, None, f"cannot read the file: {reason}") from None
    return _kind_of_meta(_meta_document(text), source)


def config_module(kind):
    """The config module of a kind: load_config, validate_config, config_to_string, dump_config."""
    if kind == "snn":
        from . import snn_config as module
    else:
        from . import config as module
    return module


def load_any_config(path, overrides=()):
    """``(kind, resolved config)`` of a config file with ``--set`` overrides applied; raises
    :class:`runner.config.ConfigError` (one line) like the loaders of both kinds."""
    kind = config_kind(path)
    return kind, config_module(kind).load_config(path, overrides)


def dump_any_config(kind, cfg, path, header=None):
    config_module(kind).dump_config(cfg, path, header)


def job_module(kind):
    if kind == "snn":
        from . import snn_job as module
    else:
        from . import microcircuit_job as module
    return module


def plots_module(kind):
    if kind == "snn":
        from . import snn_plots as module
    else:
        from . import plots as module
    return module


def run_kind(run_dir):
    """The kind of a result directory, from its config.yaml (microcircuit when unreadable: the
    microcircuit plots then report what is missing)."""
    path = os.path.join(os.fspath(run_dir), "config.yaml")
    try:
        with open(path, encoding="utf-8") as fh:
            meta = _meta_document(fh.read())
    except (OSError, UnicodeDecodeError):
        return "microcircuit"
    return "snn" if isinstance(meta, dict) and "task" in meta else "microcircuit"
