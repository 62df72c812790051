"""The CUDA backend, checked on a machine without a GPU (issue 5).

* The generated CUDA runs on the CPU through the host launch shim (``cuda_emulation=True``) and
  must give exactly the CPU backend's numbers: one thread per element executes the same element
  body, and the shim runs threads in index order, so even summation orders agree.
* The whole conformance suite (PyGeNN port, analytic, equivalence) runs again on emulated CUDA,
  and every CUDA source it generates is compiled by nvcc for sm_80 and sm_90.
* Errors: no GPU at load, no nvcc at build, CPU-only preferences.
* Tests marked ``cuda`` need a real GPU; they skip here and say so.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import neurogen
from neurogen import (BackendUnavailableError, CustomUpdateVarAccess, GeNNModel, ModelDefinitionError,
                      VarAccess, VarAccessMode, create_custom_update_model, create_neuron_model, create_var_ref,
                      create_weight_update_model, create_wu_var_ref, init_postsynaptic, init_sparse_connectivity,
                      init_var, init_weight_update)
from neurogen.backends.cuda import gpu_count
from neurogen.backends.cuda.compiler import check_compiles, nvcc_path

TESTS = Path(__file__).parent
HAVE_NVCC = nvcc_path() is not None
HAVE_GPU = gpu_count() > 0

LIF = {"C": 1.0, "TauM": 20.0, "Vrest": -70.0, "Vreset": -70.0, "Vthresh": -50.0, "Ioffset": 0.0,
       "TauRefrac": 2.0}

RATE = create_neuron_model(
    "rate", params=["tau"], vars=[("x", "scalar"), ("r", "scalar")],
    additional_input_vars=[("Iextra", "scalar", 0.0)],
    sim_code="x += (-x + Isyn + Iextra) * (dt / tau);\nr = tanh(x);")
CONT = create_weight_update_model(
    "cont", vars=[("g", "scalar", VarAccess.READ_ONLY), ("dg", "scalar")],
    pre_neuron_var_refs=[("r_pre", "scalar", VarAccessMode.READ_ONLY)],
    post_neuron_var_refs=[("r_post", "scalar", VarAccessMode.READ_ONLY)],
    synapse_dynamics_code="addToPost(g * r_pre);\ndg += r_pre * r_post;")
STDP = create_weight_update_model(
    "stdp", params=["tau", "a"], vars=[("g", "scalar")], pre_vars=[("xpre", "scalar")],
    post_vars=[("xpost", "scalar")],
    pre_spike_syn_code="addToPost(g); g -= a * xpost;",
    post_spike_syn_code="g += a * xpre;",
    pre_spike_code="xpre += 1.0;", post_spike_code="xpost += 1.0;",
    pre_dynamics_code="xpre *= exp(-dt / tau);", post_dynamics_code="xpost *= exp(-dt / tau);")
BATCH_SUM = create_custom_update_model(
    "batch_sum", vars=[("total", "scalar", CustomUpdateVarAccess.REDUCE_BATCH_SUM)],
    var_refs=[("dg", "scalar", VarAccessMode.READ_ONLY)], update_code="total = dg;")
APPLY = create_custom_update_model(
    "apply", params=["eta"], var_refs=[("g", "scalar", VarAccessMode.READ_WRITE),
                                       ("total", "scalar", VarAccessMode.READ_ONLY)],
    update_code="g += eta * total;")
NEURON_MAX = create_custom_update_model(
    "neuron_max", vars=[("peak", "scalar", CustomUpdateVarAccess.REDUCE_NEURON_MAX)],
    var_refs=[("r", "scalar", VarAccessMode.READ_ONLY)], update_code="peak = r;")


def mixed_model(backend, precision="double", batch_size=1, **prefs):
    """Every kind of kernel: spikes (dense and sparse, pre and post), continuous synapses, RNG,
    custom updates with batch and neuron reductions, recording and streams."""
    m = GeNNModel(precision, f"mixed_b{batch_size}", backend=backend, **prefs)
    m.dt = 0.1
    m.seed = 1234
    m.batch_size = batch_size
    poi = m.add_neuron_population("poi", 60, "Poisson", {"rate": 80.0}, {"timeStepToSpike": 0.0})
    lif = m.add_neuron_population("lif", 40, "LIF", LIF, {"V": init_var("Uniform", {"min": -70.0, "max": -52.0}),
                                                           "RefracTime": 0.0})
    lif.spike_recording_enabled = True
    lif.record_var("V", every=5)
    m.add_current_source("noise", "GaussianNoise", lif, {"mean": 0.8, "sd": 0.5})
    m.add_synapse_population("poi_lif", "SPARSE", poi, lif,
                             init_weight_update(STDP, {"tau": 20.0, "a": 0.01},
                                                {"g": init_var("Uniform", {"min": 0.5, "max": 1.5})},
                                                {"xpre": 0.0}, {"xpost": 0.0}),
                             init_postsynaptic("ExpCurr", {"tau": 5.0}),
                             init_sparse_connectivity("FixedProbability", {"prob": 0.3}))
    m.add_synapse_population("poi_lif_dense", "DENSE", poi, lif,
                             init_weight_update(STDP, {"tau": 10.0, "a": 0.02}, {"g": 0.2},
                                                {"xpre": 0.0}, {"xpost": 0.0}), "DeltaCurr")
    inp = m.add_neuron_population("inp", 30, create_neuron_model("inp", vars=[("r", "scalar")]), {}, {"r": 0.0})
    inp.stream_var("r")
    hid = m.add_neuron_population("hid", 20, RATE, {"tau": 5.0}, {"x": 0.0, "r": 0.0})
    hid.record_var("r", every=1)
    syn = m.add_synapse_population("inp_hid", "DENSE", inp, hid,
                                   init_weight_update(CONT, {}, {"g": init_var("Normal", {"mean": 0.0, "sd": 0.3}),
                                                                 "dg": 0.0},
                                                      pre_var_refs={"r_pre": "r"}, post_var_refs={"r_post": "r"}),
                                   "DeltaCurr")
    sparse_cont = m.add_synapse_population("lif_hid", "SPARSE", hid, hid,
                                           init_weight_update(CONT, {}, {"g": 0.05, "dg": 0.0},
                                                              pre_var_refs={"r_pre": "r"},
                                                              post_var_refs={"r_post": "r"}),
                                           "DeltaCurr", init_sparse_connectivity("FixedProbability", {"prob": 0.2}))
    sparse_cont.post_target_var = "Iextra"
    red = m.add_custom_update("sum", "Learn", BATCH_SUM, {}, {"total": 0.0},
                              {"dg": create_wu_var_ref(syn, "dg")})
    m.add_custom_update("apply", "Apply", APPLY, {"eta": 1e-3}, {},
                        {"g": create_wu_var_ref(syn, "g"), "total": create_wu_var_ref(red, "total")})
    m.add_custom_update("peak", "Stats", NEURON_MAX, {}, {"peak": 0.0}, {"r": create_var_ref(hid, "r")})
    return m


def run_mixed(m, steps=300):
    m.build()
    m.load(num_recording_timesteps=steps)
    rng = np.random.default_rng(7)
    shape = (steps, m.batch_size, 30) if m.batch_size > 1 else (steps, 30)
    m.neuron_populations["inp"].set_stream("r", rng.random(shape))
    for chunk in range(steps // 50):
        m.run(50)
        for group in ("Learn", "Apply", "Stats"):
            m.custom_update(group)
    m.pull_recording_buffers_from_device()
    out = {}
    for pop in m.neuron_populations.values():
        for name, var in pop.vars.items():
            var.pull_from_device()
            out[f"{pop.name}.{name}"] = var.values
    for sg in m.synapse_populations.values():
        for name, var in sg.vars.items():
            var.pull_from_device()
            out[f"{sg.name}.{name}"] = var.values
    for cu in m.custom_updates.values():
        for name, var in cu.vars.items():
            var.pull_from_device()
            out[f"{cu.name}.{name}"] = var.values
    lif = m.neuron_populations["lif"]
    for b, (times, ids) in enumerate(lif.spike_recording_data):
        out[f"spikes{b}"] = np.stack([times, ids])
    out["recV"] = lif.var_recording_data("V")[1]
    out["recr"] = m.neuron_populations["hid"].var_recording_data("r")[1]
    return out


@pytest.mark.parametrize("precision,batch_size", [("double", 1), ("double", 3), ("float", 2)])
def test_emulated_cuda_equals_cpu(precision, batch_size):
    cpu = run_mixed(mixed_model("cpu", precision, batch_size))
    cuda = run_mixed(mixed_model("cuda", precision, batch_size, cuda_emulation=True))
    assert cpu.keys() == cuda.keys()
    assert cpu["spikes0"].shape[1] > 20, "the model should spike"
    # The shim runs threads in index order, so every sum has the CPU's order and spikes, counts and
    # most values are bitwise equal. Values that went through tanh/exp may differ by a few ulp:
    # the CPU backend vectorises them with glibc's libmvec (<= 4 ulp), the shim calls scalar libm.
    rtol = 1e-12 if precision == "double" else 1e-5
    for key in cpu:
        if key.startswith("spikes") or cpu[key].dtype.kind in "iub":
            np.testing.assert_array_equal(cuda[key], cpu[key], err_msg=key)
        else:
            scale = max(np.abs(cpu[key]).max(initial=0.0), 1.0)
            np.testing.assert_allclose(cuda[key], cpu[key], rtol=0, atol=rtol * scale, err_msg=key)


def test_cuda_random_streams_equal_cpu():
    """gennrand_* in CUDA kernels draws the CPU backend's Philox numbers (same seed and keys)."""
    noisy = create_neuron_model("noisy", vars=[("u", "scalar"), ("n", "scalar"), ("e", "scalar"), ("k", "unsigned int")],
                                sim_code="u = gennrand_uniform(); n = gennrand_normal(); e = gennrand_exponential();"
                                         " k = gennrand_binomial(20, 0.3);")
    results = []
    for backend, prefs in (("cpu", {}), ("cuda", {"cuda_emulation": True})):
        m = GeNNModel("double", "rngcheck", backend=backend, **prefs)
        m.seed = 99
        pop = m.add_neuron_population("pop", 500, noisy, {}, {"u": 0.0, "n": 0.0, "e": 0.0, "k": 0})
        m.build()
        m.load()
        m.run(3)
        draws = []
        for name in ("u", "n", "e", "k"):
            pop.vars[name].pull_from_device()
            draws.append(pop.vars[name].values.copy())
        results.append(draws)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    assert 0.45 < results[0][0].mean() < 0.55 and abs(results[0][1].mean()) < 0.15


@pytest.mark.nvcc
@pytest.mark.skipif(not HAVE_NVCC, reason="nvcc (the CUDA compiler) is not installed")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize("batch_size", [1, 3])
def test_generated_cuda_compiles_with_nvcc(arch, batch_size, tmp_path):
    m = mixed_model("cuda", "float", batch_size, cuda_emulation=True)
    m.build()
    check_compiles(m._backend.cuda_source, arch, tmp_path)


@pytest.mark.nvcc
@pytest.mark.skipif(not HAVE_NVCC, reason="nvcc (the CUDA compiler) is not installed")
def test_conformance_suite_on_emulated_cuda_and_nvcc(tmp_path):
    """The PyGeNN-port, analytic and equivalence suites again, with every model on emulated CUDA
    (NEUROGEN_BACKEND=cuda) and every CUDA source they generate compiled by nvcc for sm_80 and sm_90."""
    env = {**os.environ, "NEUROGEN_BACKEND": "cuda", "NEUROGEN_CUDA_EMULATION": "1",
           "NEUROGEN_NVCC_CHECK": "sm_80,sm_90"}
    files = [str(TESTS / f) for f in ("test_pygenn_port.py", "test_analytic.py", "test_equivalence.py")]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1500)
    tail = "\n".join(proc.stdout.splitlines()[-25:])
    assert proc.returncode == 0, f"conformance suite failed on emulated CUDA:\n{tail}\n{proc.stderr[-2000:]}"
    assert " passed" in tail and "failed" not in tail


def test_load_without_gpu_is_one_clear_sentence():
    if HAVE_GPU:
        pytest.skip("this machine has a GPU")
    if not HAVE_NVCC:
        pytest.skip("nvcc is needed to build")
    m = GeNNModel("float", "nogpu", backend="cuda")
    m.add_neuron_population("p", 10, "Poisson", {"rate": 10.0}, {"timeStepToSpike": 0.0})
    m.build()
    with pytest.raises(BackendUnavailableError) as err:
        m.load()
    msg = str(err.value)
    assert "no NVIDIA GPU" in msg and "backend='cpu'" in msg and "\n" not in msg


def test_build_without_nvcc_is_clear(monkeypatch):
    monkeypatch.setattr("neurogen.backends.cuda.compiler.nvcc_path", lambda: None)
    m = GeNNModel("float", "nonvcc", backend="cuda")
    m.add_neuron_population("p", 10, "Poisson", {"rate": 10.0}, {"timeStepToSpike": 0.0})
    with pytest.raises(BackendUnavailableError, match="needs the CUDA compiler nvcc"):
        m.build()


@pytest.mark.parametrize("prefs,name", [({"num_threads": 2}, "num_threads"), ({"use_blas": True}, "use_blas")])
def test_cpu_only_preferences_rejected_on_cuda(prefs, name):
    with pytest.raises(ModelDefinitionError, match=f"preference {name}=.* not supported by the CUDA backend"):
        GeNNModel("float", "cpuonly", backend="cuda", **prefs)


def test_default_backend_is_cpu_without_gpu():
    if HAVE_GPU and HAVE_NVCC:
        pytest.skip("this machine can run CUDA")
    assert GeNNModel("float", "default_choice").backend_name == "cpu"


@pytest.mark.cuda
@pytest.mark.skipif(not HAVE_GPU, reason="needs an NVIDIA GPU (none found); run on a GPU machine")
@pytest.mark.parametrize("precision,batch_size", [("double", 1), ("double", 3), ("float", 2)])
def test_gpu_equals_cpu(precision, batch_size):
    """On a real GPU atomics reorder sums: spikes of deterministic models match, values to the strict tier."""
    cpu = run_mixed(mixed_model("cpu", precision, batch_size))
    gpu = run_mixed(mixed_model("cuda", precision, batch_size))
    rtol = 1e-9 if precision == "double" else 1e-4   # summation order of atomicAdd differs from the CPU's
    for key in cpu:
        np.testing.assert_allclose(gpu[key], cpu[key], rtol=rtol, atol=rtol, err_msg=key)


def test_variable_named_like_an_internal_buffer_pushes_to_itself():
    """A synapse variable called 'ind' must not be confused with the sparse index buffer on push/pull."""
    named = create_weight_update_model("named", vars=[("ind", "scalar", VarAccess.READ_ONLY)],
                                       pre_spike_syn_code="addToPost(ind);")
    results = []
    for backend, prefs in (("cpu", {}), ("cuda", {"cuda_emulation": True})):
        m = GeNNModel("double", "named_ind", backend=backend, **prefs)
        src = m.add_neuron_population("src", 4, "SpikeSourceArray", {}, {"startSpike": [0, 1, 2, 3],
                                                                         "endSpike": [1, 2, 3, 4]})
        src.extra_global_params["spikeTimes"].set_init_values([0.0, 0.0, 0.0, 0.0])
        dst = m.add_neuron_population("dst", 3, create_neuron_model("acc", vars=[("I", "scalar")],
                                                                    sim_code="I += Isyn;"), {}, {"I": 0.0})
        sg = m.add_synapse_population("syn", "SPARSE", src, dst, init_weight_update(named, {}, {"ind": 1.0}),
                                      init_postsynaptic("DeltaCurr"))
        sg.set_sparse_connections([0, 1, 2, 3], [0, 1, 2, 2])
        m.build()
        m.load()
        sg.vars["ind"].values = np.array([2.0, 3.0, 5.0, 7.0])
        sg.vars["ind"].push_to_device()
        m.run(3)
        dst.vars["I"].pull_from_device()
        results.append(dst.vars["I"].values.copy())
    np.testing.assert_array_equal(results[0], [2.0, 3.0, 12.0])
    np.testing.assert_array_equal(results[1], results[0])
