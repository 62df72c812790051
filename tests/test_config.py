"""Experiment configs of the microcircuit runner (examples/runner/config.py).

Covers: every shipped config loads; dump -> load is the identity; ``--set`` overrides; one-line
error messages naming the file and the key for bad configs; the sweep generator script.
"""
import copy
import glob
import os
import subprocess
import sys
import warnings

import pytest
import yaml

from runner.config import (ConfigError, ConfigWarning, config_from_string, config_to_string,
                           dump_config, load_config, steps_per_sample, validate_config)
from runner.experiments import config_kind

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG_DIR = os.path.join(ROOT, "experiment_configs")
# microcircuit configs only: the ALIF / e-prop / MDGL configs (meta key ``task``) have their own
# schema, tested in test_snn_runner.py
SHIPPED = sorted(p for p in glob.glob(os.path.join(CONFIG_DIR, "*.yaml")) if config_kind(p) == "microcircuit")
SWEEP_SCRIPT = os.path.join(ROOT, "examples", "generate_sweep_cfg_files.py")
PAL = os.path.join(CONFIG_DIR, "yinyang_pal.yaml")

MINIMAL = """\
---
name: mini
dataset_key: yinyang
numpy_seed: 1
sim_config: {n_class: 3, n_epochs: 1, n_train: 1, n_valid: 1, n_test: 1}
---
dims: [4, 5, 3]
eta: {up: [1, 1], down: [0, 0], ip: [0.1], pi: [0]}
"""


def raw_documents(path=PAL):
    """The two raw (unvalidated) documents of a config file, as a dict."""
    with open(path) as f:
        meta, network = yaml.safe_load_all(f)
    return {"meta": meta, "network": network}


def write_raw(path, raw):
    with open(path, "w") as f:
        yaml.safe_dump_all([raw["meta"], raw["network"]], f, explicit_start=True, sort_keys=False)


def assert_one_line(err, path, *parts):
    """The message is one line, names the file, and contains every part (key, problem)."""
    text = str(err)
    assert "\n" not in text
    assert text.startswith(f"config error in {path}: "), text
    for part in parts:
        assert part in text, f"{part!r} not in {text!r}"


# ----------------------------------------------------------------------------------------------
# Shipped configs
# ----------------------------------------------------------------------------------------------

def test_all_expected_configs_are_shipped():
    names = {os.path.basename(p)[:-5] for p in SHIPPED}
    assert {"yinyang_fa", "yinyang_pal", "yinyang_pal_noise_control", "yinyang_pal_no_noise",
            "yinyang_bp", "mnist_fa", "mnist_pal", "yinyang_quick"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=os.path.basename)
def test_shipped_config_loads_without_warnings(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cfg = load_config(path)
    assert cfg["meta"]["name"] == os.path.basename(path)[:-5]
    assert steps_per_sample(cfg) == 100
    assert cfg["meta"]["sim_config"]["pat_t"] == cfg["network"]["t_pattern"] == 1.0
    with open(path) as f:
        assert f.readline().startswith("# "), "each shipped config starts with a header comment"


def test_shipped_config_names_are_unique():
    names = [load_config(p)["meta"]["name"] for p in SHIPPED]
    assert len(names) == len(set(names))


def _sizes(sim):
    return sim["n_epochs"], sim["n_train"], sim["n_valid"], sim["n_test"]


def test_shipped_values_follow_the_spec():
    cfg = {os.path.basename(p)[:-5]: load_config(p) for p in SHIPPED}
    for key in ("yinyang_fa", "yinyang_pal", "yinyang_bp", "yinyang_pal_noise_control"):
        meta, net = cfg[key]["meta"], cfg[key]["network"]
        assert net["dims"] == [4, 30, 3] and meta["numpy_seed"] == 123456
        sim = meta["sim_config"]
        assert _sizes(sim) == (400, 2000, 300, 300)
        assert net["eta"]["up"] == [50.0, 0.01] and net["eta"]["ip"] == [0.05, 0.0]
    pal = cfg["yinyang_pal"]["network"]
    assert pal["eta"]["down"] == [0.0, 0.5] and pal["eta"]["pi"] == [0.02, 0.0]
    assert pal["noise_sig"] == 0.01
    fa = cfg["yinyang_fa"]["network"]
    assert fa["eta"]["down"] == [0.0, 0.0] and fa["noise_sig"] == 0.0
    control = cfg["yinyang_pal_noise_control"]["network"]
    assert control["eta"]["down"] == [0.0, 0.0] and control["noise_sig"] == 0.01
    assert cfg["yinyang_pal_no_noise"]["network"]["noise_sig"] == 0.0
    assert cfg["yinyang_pal_no_noise"]["network"]["eta"]["down"] == [0.0, 0.5]
    bp = cfg["yinyang_bp"]["network"]
    assert bp["set_wBackw_to_wTransp"] and bp["eta"]["down"] == [0.0, 0.0] and bp["noise_sig"] == 0
    for key, down in (("mnist_fa", [0.0, 0.0]), ("mnist_pal", [0.0, 0.2])):
        meta, net = cfg[key]["meta"], cfg[key]["network"]
        sim = meta["sim_config"]
        assert meta["dataset_key"] == "mnist" and net["dims"] == [784, 100, 10]
        assert _sizes(sim) == (100, 5000, 1000, 1000)
        assert net["eta"]["up"] == [1.0, 0.005] and net["eta"]["down"] == down
    assert _sizes(cfg["yinyang_quick"]["meta"]["sim_config"]) == (30, 2000, 300, 300)


# ----------------------------------------------------------------------------------------------
# Round trip, defaults, normalisation
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", SHIPPED, ids=os.path.basename)
def test_dump_load_round_trip(path, tmp_path):
    cfg = load_config(path)
    out = tmp_path / "dumped.yaml"
    dump_config(cfg, out)
    assert load_config(out) == cfg
    text = out.read_text()
    assert "!!" not in text and text.count("\n---\n") + text.startswith("---\n") == 2


def test_dump_writes_plain_types_from_numpy_values(tmp_path):
    np = pytest.importorskip("numpy")
    cfg = load_config(PAL)
    cfg["network"]["dims"] = np.array([4, 30, 3])
    cfg["network"]["eta"]["up"] = np.array([50.0, 0.01])
    cfg["meta"]["numpy_seed"] = np.int64(7)
    dump_config(cfg, tmp_path / "np.yaml", header="numpy in, plain out")
    back = load_config(tmp_path / "np.yaml")
    assert back["network"]["dims"] == [4, 30, 3] and type(back["network"]["dims"][0]) is int
    assert back["meta"]["numpy_seed"] == 7
    assert (tmp_path / "np.yaml").read_text().startswith("# numpy in, plain out\n")


def test_defaults_are_filled_in():
    cfg = config_from_string(MINIMAL, "mini.yaml")
    meta, net = cfg["meta"], cfg["network"]
    assert meta["backend"] == "cpu" and meta["dt"] == 0.01 and meta["precision"] == "float"
    assert meta["record"] == {"recordings": {}, "sample_traces": 20, "weights_every": 1}
    assert meta["sim_config"]["data_seed"] == 9876543 and meta["sim_config"]["recs_per_sample"] == 5
    assert meta["sim_config"]["yinyang_convention"] == "pal"
    assert net["gl"] == 0.03 and net["gb"] == 0.1 and net["tau_w_ff"] == 100.0
    assert net["init_weights"] == {"down": 1.0, "ip": 0.1, "pi": 1.0, "up": 0.1}
    assert net["bias"] == {"on": False, "val": 0.0}
    assert net["t_pattern"] == meta["sim_config"]["pat_t"] == 1.0
    # ip / pi given per hidden layer are padded to len(dims) - 1; ints become floats
    assert net["eta"] == {"up": [1.0, 1.0], "down": [0.0, 0.0], "ip": [0.1, 0.0], "pi": [0.0, 0.0]}
    assert type(net["eta"]["up"][0]) is float


def test_one_presentation_time_given_sets_both():
    only_pat = MINIMAL.replace("n_test: 1}", "n_test: 1, pat_t: 2.0}")
    cfg = config_from_string(only_pat, "a.yaml")
    assert cfg["network"]["t_pattern"] == 2.0 == cfg["meta"]["sim_config"]["pat_t"]
    only_t = MINIMAL + "t_pattern: 0.5\n"
    cfg = config_from_string(only_t, "b.yaml")
    assert cfg["meta"]["sim_config"]["pat_t"] == 0.5 == cfg["network"]["t_pattern"]


def test_aliases_and_yaml_quirks():
    text = MINIMAL.replace("name: mini", "name: mini\nbackend: SingleThreadedCPU")
    text += "bias: {on: true, val: 0.5}\nle_active: false\ninit_weights: {up: [-0.5, 0.5]}\n"
    cfg = config_from_string(text, "q.yaml")
    assert cfg["meta"]["backend"] == "cpu"
    assert cfg["network"]["bias"] == {"on": True, "val": 0.5}  # unquoted `on` is YAML 1.1 true
    assert cfg["network"]["le_active"] == 0
    assert cfg["network"]["init_weights"]["up"] == [-0.5, 0.5]
    cuda = config_from_string(MINIMAL.replace("name: mini", "name: m\nbackend: CUDA"), "c.yaml")
    assert cuda["meta"]["backend"] == "cuda"


def test_reference_layout_with_dead_keys_loads():
    """The reference PAL configs: one document holding [meta, network], with runtime keys."""
    raw = raw_documents()
    raw["meta"].update(input_rates=None, output_rates=None)
    raw["meta"]["record"].update(filename=None, update_indices={"rates": None})
    raw["meta"]["sim_config"].update(idx_rec=None, sim_time=None)
    raw["network"].update(noise=0, reset_deltas=False)
    text = yaml.safe_dump([raw["meta"], raw["network"]])
    with pytest.warns(ConfigWarning, match=r"network\.noise.*network\.reset_deltas"):
        cfg = config_from_string(text, "ref.yaml")
    assert cfg == load_config(PAL)


def test_validate_config_does_not_modify_its_input():
    raw = raw_documents()
    del raw["network"]["t_pattern"]
    raw["network"]["eta"]["ip"] = [0.05]
    before = copy.deepcopy(raw)
    cfg = validate_config(raw, "mem")
    assert raw == before and cfg["network"]["eta"]["ip"] == [0.05, 0.0]


# ----------------------------------------------------------------------------------------------
# Overrides
# ----------------------------------------------------------------------------------------------

def test_overrides_meta_network_nested_and_lists():
    cfg = load_config(PAL, [
        "sim_config.n_epochs=5", "name=foo", "network.dims=[4,50,3]", "network.eta.up=[1, 2]",
        "network.init_weights.up=[-0.5, 0.5]", "network.bias.on=true", "dt=0.005",
        "record.recordings.1.pyramidal=[rate, v_apical]", "network.t_pattern=2.0"])
    meta, net = cfg["meta"], cfg["network"]
    assert meta["sim_config"]["n_epochs"] == 5 and meta["name"] == "foo" and meta["dt"] == 0.005
    assert net["dims"] == [4, 50, 3] and net["eta"]["up"] == [1.0, 2.0]
    assert net["init_weights"]["up"] == [-0.5, 0.5] and net["bias"]["on"] is True
    assert meta["record"]["recordings"] == {1: {"pyramidal": ["rate", "v_apical"]}}
    # one presentation time: overriding t_pattern moves pat_t too (no conflict with the file)
    assert net["t_pattern"] == meta["sim_config"]["pat_t"] == 2.0
    assert load_config(PAL, ["meta.name=bar"])["meta"]["name"] == "bar"
    assert load_config(PAL, ["sim_config.pat_t=0.5"])["network"]["t_pattern"] == 0.5


def test_override_values_are_validated():
    with pytest.raises(ConfigError) as err:
        load_config(PAL, ["network.dims=[4, x, 3]"])
    assert_one_line(err.value, PAL, "network.dims[1]", "the string 'x'")


@pytest.mark.parametrize("override, parts", [
    ("sim_config.n_epoch=5", ["sim_config.n_epoch", "did you mean 'n_epochs'?"]),
    ("network.eta.upp=[1, 2]", ["network.eta.upp", "did you mean 'up'?"]),
    ("dims=[4, 30, 3]", ["dims", "network.dims"]),
    ("network.noise=0", ["network.noise", "unknown key 'noise'"]),
    ("n_epochs5", ["--set n_epochs5", "malformed override"]),
    ("=5", ["--set =5", "malformed override"]),
    ("network.eta=1", ["network.eta", "section"]),
])
def test_bad_overrides(override, parts):
    with pytest.raises(ConfigError) as err:
        load_config(PAL, [override])
    assert_one_line(err.value, PAL, *parts)


# ----------------------------------------------------------------------------------------------
# Bad configs: one line naming the file and the key
# ----------------------------------------------------------------------------------------------

def _set(doc, path, value):
    def mutate(raw):
        node = raw[doc]
        *head, last = path.split(".")
        for name in head:
            node = node[name]
        node[last] = value
    return mutate


def _delete(doc, path):
    def mutate(raw):
        node = raw[doc]
        *head, last = path.split(".")
        for name in head:
            node = node[name]
        del node[last]
    return mutate


def _rename(doc, old, new):
    def mutate(raw):
        *head, old_name = old.split(".")
        node = raw[doc]
        for name in head:
            node = node[name]
        node[new.split(".")[-1]] = node.pop(old_name)
    return mutate


def _both(*mutations):
    def mutate(raw):
        for m in mutations:
            m(raw)
    return mutate


BAD_CASES = [
    ("unknown meta key", _rename("meta", "sim_config.n_epochs", "sim_config.n_epoch"),
     ["sim_config.n_epoch", "unknown key 'n_epoch' (did you mean 'n_epochs'?)"]),
    ("unknown network key", _rename("network", "tau_w_ff", "tau_w_f"),
     ["network.tau_w_f", "did you mean 'tau_w_ff'?"]),
    ("key in the wrong document", lambda raw: raw["meta"].update(dims=[4, 30, 3]),
     ["dims", "belongs in the network document"]),
    ("missing required meta key", _delete("meta", "numpy_seed"),
     ["numpy_seed", "missing required key"]),
    ("missing required network key", _delete("network", "dims"),
     ["network.dims", "missing required key"]),
    ("missing required eta entry", _delete("network", "eta.pi"),
     ["network.eta.pi", "missing required key"]),
    ("missing sim_config", _delete("meta", "sim_config"),
     ["sim_config", "missing required section"]),
    ("string for a number", _set("meta", "dt", "fast"), ["dt", "expected a number", "'fast'"]),
    ("yaml 1.1 exponent", _set("network", "alpha", "1e-6"), ["network.alpha", "'1e-6'", "1.0e-6"]),
    ("bool for an int", _set("meta", "numpy_seed", True),
     ["numpy_seed", "expected an integer", "boolean true"]),
    ("float for an int", _set("meta", "sim_config.n_epochs", 400.5),
     ["sim_config.n_epochs", "400.5"]),
    ("number for a bool", _set("network", "start_in_self_predict", 1),
     ["network.start_in_self_predict", "true or false"]),
    ("negative dt", _set("meta", "dt", -0.01), ["dt", "must be > 0", "-0.01"]),
    ("dims too short", _set("network", "dims", [4, 3]), ["network.dims", "at least 3 layers"]),
    ("dims zero size", _set("network", "dims", [4, 0, 3]), ["network.dims[1]", ">= 1"]),
    ("dims[0] mismatch", _set("network", "dims", [5, 30, 3]),
     ["network.dims", "dims[0] = 5", "4 inputs"]),
    ("dims[-1] vs n_class", _set("network", "dims", [4, 30, 4]),
     ["network.dims", "dims[-1] = 4", "sim_config.n_class = 3"]),
    ("n_class vs data set", _set("meta", "sim_config.n_class", 4),
     ["sim_config.n_class", "3 classes"]),
    ("eta.up length", _set("network", "eta.up", [50.0]),
     ["network.eta.up", "expected 2 entries", "got 1"]),
    ("eta.down length", _set("network", "eta.down", [0.5]),
     ["network.eta.down", "expected 2 entries"]),
    ("eta.ip length", _set("network", "eta.ip", [0.05, 0, 0]), ["network.eta.ip", "got 3"]),
    ("negative learning rate", _set("network", "eta.down", [0.0, -0.5]),
     ["network.eta.down[1]", "must be >= 0", "-0.5"]),
    ("init_weights [hi, lo]", _set("network", "init_weights.up", [0.5, -0.5]),
     ["network.init_weights.up", "lo < hi"]),
    ("init_weights negative", _set("network", "init_weights.down", -1),
     ["network.init_weights.down", "> 0"]),
    ("pat_t vs t_pattern", _set("meta", "sim_config.pat_t", 2.0),
     ["network.t_pattern", "sim_config.pat_t = 2.0", "t_pattern = 1.0"]),
    ("t_pattern not a multiple of dt",
     _both(_set("meta", "sim_config.pat_t", 1.005), _set("network", "t_pattern", 1.005)),
     ["network.t_pattern", "whole number of time steps"]),
    ("recs_per_sample does not divide", _set("meta", "sim_config.recs_per_sample", 3),
     ["sim_config.recs_per_sample", "does not divide the 100 steps"]),
    ("recs_per_sample too small", _set("meta", "sim_config.recs_per_sample", 1),
     ["sim_config.recs_per_sample", ">= 2"]),
    ("learning_lag > 0", _set("network", "learning_lag", 0.1),
     ["network.learning_lag", "learning_lag > 0 (settling before plasticity) is not implemented"]),
    ("unknown dataset_key", _set("meta", "dataset_key", "minst"),
     ["dataset_key", "did you mean 'mnist'?"]),
    ("bars", _set("meta", "dataset_key", "bars"), ["dataset_key", "'bars' is not supported (yet)"]),
    ("mimic", _set("meta", "dataset_key", "mimic"),
     ["dataset_key", "'mimic' is not supported (yet)"]),
    ("bad name characters", _set("meta", "name", "my run/1"), ["name", "letters, digits"]),
    ("unknown backend", _set("meta", "backend", "gpu"), ["backend", "cpu, cuda"]),
    ("noise_tau below dt", _set("network", "noise_tau", 0.001),
     ["network.noise_tau", "shorter than dt", "unstable"]),
    ("highpass_tau below dt", _set("network", "highpass_tau", 0.005),
     ["network.highpass_tau", "unstable"]),
    ("tau_0 below dt", _set("network", "tau_0", 0.001), ["network.tau_0", "dt"]),
    ("out_lag too long", _set("network", "out_lag", 1.0),
     ["network.out_lag", "shorter than t_pattern"]),
    ("le_active 2", _set("network", "le_active", 2), ["network.le_active", "0, 1, true or false"]),
    ("recordings not a mapping", _set("meta", "record.recordings", ["rate"]),
     ["record.recordings", "mapping"]),
    ("recordings vars not a list", _set("meta", "record.recordings", {1: {"pyramidal": "rate"}}),
     ["record.recordings.1.pyramidal", "list of variable names"]),
    ("section not a mapping", _set("network", "eta", [1, 2]),
     ["network.eta", "expected a mapping"]),
    ("negative noise", _set("network", "noise_sig", -0.01), ["network.noise_sig", ">= 0"]),
    ("non-finite number", _set("network", "gl", float("nan")), ["network.gl", "finite"]),
]


@pytest.mark.parametrize("mutate, parts", [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES])
def test_bad_config(mutate, parts, tmp_path):
    raw = raw_documents()
    mutate(raw)
    path = str(tmp_path / "bad.yaml")
    write_raw(path, raw)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert_one_line(err.value, path, *parts)


BAD_TEXTS = [
    ("non-mapping document", "---\n- 1\n- 2\n---\nname: x\n",
     ["meta", "must be a mapping", "list"]),
    ("scalar top level", "just some text\n", ["top level", "'just some text'"]),
    ("single document", "name: x\ndt: 0.01\n", ["found one YAML document", "'---'"]),
    ("third document", MINIMAL + "---\nextra: 1\n", ["found 3 YAML documents"]),
    ("empty network document", "---\nname: x\n---\n", ["network", "document 2 (network) is empty"]),
    ("syntax error", "---\nname: x\ndt: [0.01\n---\ndims: [4, 30, 3]\n",
     ["line ", "YAML syntax error"]),
    ("bad indentation", "---\nname: x\n  dt: 0.01\n---\n{}\n", ["line 3", "YAML syntax error"]),
    ("empty file", "", ["the file is empty"]),
    ("comments only", "# nothing here\n", ["the file is empty"]),
    ("reference layout, three items", "- {name: x}\n- {dims: [4, 30, 3]}\n- {}\n",
     ["[meta, network]", "3 items"]),
]


@pytest.mark.parametrize("text, parts", [c[1:] for c in BAD_TEXTS], ids=[c[0] for c in BAD_TEXTS])
def test_bad_file(text, parts, tmp_path):
    path = str(tmp_path / "bad.yaml")
    with open(path, "w") as f:
        f.write(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert_one_line(err.value, path, *parts)


def test_missing_file_is_a_config_error(tmp_path):
    path = str(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert_one_line(err.value, path, "cannot read the file")


def test_validate_config_names_its_source():
    with pytest.raises(ConfigError) as err:
        validate_config({"meta": {}}, source="my-dict")
    assert_one_line(err.value, "my-dict", "'meta' and 'network'")


def test_config_to_string_validates():
    cfg = load_config(PAL)
    cfg["network"]["dims"] = [4, 30]
    with pytest.raises(ConfigError, match="network.dims"):
        config_to_string(cfg)


# ----------------------------------------------------------------------------------------------
# generate_sweep_cfg_files.py
# ----------------------------------------------------------------------------------------------

def run_sweep(*args):
    return subprocess.run([sys.executable, SWEEP_SCRIPT, *map(str, args)], capture_output=True,
                          text=True, timeout=120)


def test_sweep_writes_one_config_per_seed(tmp_path):
    out = tmp_path / "sweep"
    res = run_sweep(PAL, out, "yy_pal", "--n-seeds", 4, "--set", "sim_config.n_epochs=3")
    assert res.returncode == 0, res.stderr
    listed = (out / "yy_pal_configs.txt").read_text().split()
    assert listed == [f"yy_pal_seed{s}.yaml" for s in range(123456, 123460)]
    base = load_config(PAL)
    seen = set()
    for name in listed:
        cfg = load_config(out / name)
        seed = cfg["meta"]["numpy_seed"]
        assert cfg["meta"]["name"] == f"yy_pal_seed{seed}" == name[:-5]
        assert cfg["meta"]["sim_config"]["n_epochs"] == 3
        assert cfg["network"] == base["network"]
        assert cfg["meta"]["sim_config"]["data_seed"] == base["meta"]["sim_config"]["data_seed"]
        seen.add(seed)
    assert seen == set(range(123456, 123460))


def test_sweep_first_seed_and_overwrite_protection(tmp_path):
    out = tmp_path / "s"
    assert run_sweep(PAL, out, "x", "--n-seeds", 2, "--first-seed", 7).returncode == 0
    assert load_config(out / "x_seed8.yaml")["meta"]["numpy_seed"] == 8
    again = run_sweep(PAL, out, "x", "--n-seeds", 2, "--first-seed", 7)
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    assert run_sweep(PAL, out, "x", "--n-seeds", 2, "--first-seed", 7, "--force").returncode == 0


def test_sweep_with_bad_base_config_exits_2_and_writes_nothing(tmp_path):
    raw = raw_documents()
    raw["meta"]["sim_config"]["n_epoch"] = 3
    bad = tmp_path / "bad.yaml"
    write_raw(bad, raw)
    out = tmp_path / "out"
    res = run_sweep(bad, out, "bad", "--n-seeds", 3)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr
    assert lines[0].startswith(f"config error in {bad}: sim_config.n_epoch: unknown key")
    assert not out.exists()


def test_sweep_with_bad_override_or_name_exits_2(tmp_path):
    res = run_sweep(PAL, tmp_path / "o", "ok", "--set", "network.dims=[4,30]")
    assert res.returncode == 2 and "network.dims" in res.stderr
    res = run_sweep(PAL, tmp_path / "o", "bad name")
    assert res.returncode == 2 and "name" in res.stderr
    assert not (tmp_path / "o").exists()


def test_sweep_of_an_alif_config_uses_its_own_schema(tmp_path):
    """An evidence-accumulation (ALIF) base config: its keys (n_iterations) are set and validated
    by the ALIF schema, and a key of the microcircuit schema is refused."""
    from runner import snn_config
    base_path = os.path.join(os.path.dirname(PAL), "evidence_accumulation_mdgl.yaml")
    out = tmp_path / "ea"
    res = run_sweep(base_path, out, "ea_mdgl", "--n-seeds", 2, "--first-seed", 3, "--set", "n_iterations=40",
                    "--set", "network.learning_rate=0.001")
    assert res.returncode == 0, res.stderr
    assert (out / "ea_mdgl_configs.txt").read_text().split() == ["ea_mdgl_seed3.yaml", "ea_mdgl_seed4.yaml"]
    base = snn_config.load_config(base_path)
    for seed in (3, 4):
        cfg = snn_config.load_config(out / f"ea_mdgl_seed{seed}.yaml")
        assert cfg["meta"]["numpy_seed"] == seed and cfg["meta"]["name"] == f"ea_mdgl_seed{seed}"
        assert cfg["meta"]["n_iterations"] == 40 and cfg["network"]["learning_rate"] == 0.001
        assert cfg["meta"]["task"] == base["meta"]["task"]
    res = run_sweep(base_path, tmp_path / "bad", "ea", "--set", "sim_config.n_epochs=3")
    assert res.returncode == 2 and "sim_config" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()
