import os
"""Equivalence (metamorphic) and shadow tests of spike propagation, batching, run chunking,
threads, seeds, variable recording and input streaming (testing_practices.md §2, §5, §6).
"""
import numpy as np
import pytest

from neurogen import (GeNNModel, SynapseMatrixType, VarAccess, VarAccessMode, create_neuron_model,
                      create_var_ref, create_weight_update_model, init_postsynaptic, init_sparse_connectivity,
                      init_var, init_weight_update)

LIF_PARAMS = {"C": 1.0, "TauM": 20.0, "Vrest": -65.0, "Vreset": -70.0, "Vthresh": -50.0,
              "Ioffset": 0.0, "TauRefrac": 2.0}

# A non-spiking probe storing each step's total input.
probe_model = create_neuron_model(
    "probe",
    vars=[("Iin", "scalar")],
    sim_code="Iin = Isyn;")


def _dtype(precision):
    return np.float64 if precision == "double" else np.float32


def spike_matrix(times, ids, n_steps, n, dt):
    """Binary (steps, neurons) matrix from recorded (times, ids)."""
    s = np.zeros((n_steps, n))
    steps = np.round(np.asarray(times) / dt).astype(np.int64)
    s[steps, np.asarray(ids)] = 1.0
    return s


def assert_recordings_equal(a, b, what):
    for k, ((ta, ia), (tb, ib)) in enumerate(zip(a, b)):
        np.testing.assert_array_equal(ta, tb, err_msg=f"{what}: spike times (batch {k})")
        np.testing.assert_array_equal(ia, ib, err_msg=f"{what}: spike ids (batch {k})")


# ============================================================================ spike propagation shadow

N_PRE, N_POST, PROP_STEPS, PROP_DT, TAU_SYN = 60, 40, 300, 0.1, 3.0


@pytest.mark.parametrize("precision", ["double", "float"])
def test_spike_propagation_dense_and_sparse_match_numpy(precision):
    """inSyn input of every connectivity = W^T spikes(n-1) (DeltaCurr) or its ExpCurr filtering."""
    rng = np.random.default_rng(11)
    f = _dtype(precision)
    model = GeNNModel(precision, "propagation")
    model.dt = PROP_DT
    model.seed = 99
    pre = model.add_neuron_population("pre", N_PRE, "Poisson", {"rate": 250.0}, {"timeStepToSpike": 0.0})
    pre.spike_recording_enabled = True

    # user-given sparse connectivity, deliberately not sorted by presynaptic index
    user_pairs = np.array([(i, j) for i in range(N_PRE) for j in range(N_POST) if rng.random() < 0.15])
    perm = rng.permutation(len(user_pairs))
    user_pre, user_post = user_pairs[perm, 0], user_pairs[perm, 1]
    user_g = rng.normal(0.0, 1.0, len(user_pre))
    dense_g = rng.normal(0.0, 1.0, (N_PRE, N_POST))

    probes, syns = {}, {}
    for conn in ("dense", "fixed_prob", "user_sparse"):
        for psm in ("DeltaCurr", "ExpCurr"):
            key = f"{conn}_{psm}"
            probes[key] = model.add_neuron_population(f"probe_{key}", N_POST, probe_model, {}, {"Iin": 0.0})
            ps = init_postsynaptic(psm, {"tau": TAU_SYN} if psm == "ExpCurr" else {})
            if conn == "dense":
                syns[key] = model.add_synapse_population(
                    f"syn_{key}", SynapseMatrixType.DENSE, pre, probes[key],
                    init_weight_update("StaticPulse", {}, {"g": dense_g.flatten()}), ps)
            elif conn == "fixed_prob":
                syns[key] = model.add_synapse_population(
                    f"syn_{key}", SynapseMatrixType.SPARSE, pre, probes[key],
                    init_weight_update("StaticPulse", {}, {"g": init_var("Normal", {"mean": 0.0, "sd": 1.0})}),
                    ps, init_sparse_connectivity("FixedProbability", {"prob": 0.2}))
            else:
                syns[key] = model.add_synapse_population(
                    f"syn_{key}", SynapseMatrixType.SPARSE, pre, probes[key],
                    init_weight_update("StaticPulse", {}, {"g": user_g}), ps)
                syns[key].set_sparse_connections(user_pre, user_post)
    model.build()
    model.load(num_recording_timesteps=PROP_STEPS)
    currents = {k: np.empty((PROP_STEPS, N_POST)) for k in probes}
    for n in range(PROP_STEPS):
        model.step_time()
        for k, p in probes.items():
            p.vars["Iin"].pull_from_device()
            currents[k][n] = p.vars["Iin"].values
    model.pull_recording_buffers_from_device()
    times, ids = pre.spike_recording_data[0]
    S = spike_matrix(times, ids, PROP_STEPS, N_PRE, PROP_DT)
    assert S.sum() > 300

    exp_decay = np.exp(-PROP_DT / TAU_SYN)
    init = TAU_SYN * (1.0 - exp_decay) / PROP_DT
    for key, sg in syns.items():
        sg.vars["g"].pull_from_device()
        g = np.asarray(sg.vars["g"].values, dtype=np.float64)
        W = np.zeros((N_PRE, N_POST))
        if key.startswith("dense"):
            W = g.reshape(N_PRE, N_POST)
            np.testing.assert_array_equal(W, dense_g.astype(f))
        else:
            sg.pull_connectivity_from_device()
            pi, po = np.asarray(sg.get_sparse_pre_inds()), np.asarray(sg.get_sparse_post_inds())
            assert pi.shape == po.shape == g.shape
            assert len(set(zip(pi.tolist(), po.tolist()))) == pi.size, "duplicate synapses"
            W[pi, po] = g
            if key.startswith("user_sparse"):
                # variable values come back in the order of the connections the user supplied
                # (genn_api.md §6), and the returned indices pair up with them consistently
                np.testing.assert_array_equal(g, user_g.astype(f))
                W_user = np.zeros((N_PRE, N_POST))
                W_user[user_pre, user_post] = user_g.astype(f)
                np.testing.assert_array_equal(W, W_user)
            else:
                assert 0.15 < pi.size / (N_PRE * N_POST) < 0.25
        drive = np.zeros((PROP_STEPS, N_POST))
        drive[1:] = S[:-1] @ W                           # spikes of step n-1 arrive in step n
        if key.endswith("DeltaCurr"):
            expected = drive
        else:
            expected = np.empty_like(drive)
            in_syn = np.zeros(N_POST)
            for n in range(PROP_STEPS):
                in_syn = in_syn + drive[n]
                expected[n] = init * in_syn
                in_syn = in_syn * exp_decay
        # the engine may sum simultaneous spikes in any order: bound by (terms) * eps * sum |terms|.
        # float64 -> relative 1e-12 of the scale; float32 -> min(N_PRE * eps32, 1e-4) (reason: the
        # shadow sums in float64 while the engine rounds every partial sum to float32; capped)
        scale = np.abs(expected).max()
        tol = 1e-12 if precision == "double" else min(N_PRE * float(np.finfo(np.float32).eps), 1e-4)
        err = np.abs(currents[key] - expected).max()
        assert err <= tol * scale, f"{key}: max error {err:.3e} > {tol:.1e} * {scale:.3e}"


# ============================================================================ continuous synapses shadow

ramp_model = create_neuron_model(
    "ramp",
    params=["slope"],
    vars=[("r", "scalar"), ("k", "scalar", VarAccess.READ_ONLY)],
    sim_code="""
    r += slope * k;
    if (r > 1.0) {
        r -= 2.0;
    }
    """)

continuous_pulse = create_weight_update_model(
    "continuous_pulse",
    vars=[("g", "scalar", VarAccess.READ_ONLY)],
    pre_neuron_var_refs=[("r_pre", "scalar", VarAccessMode.READ_ONLY)],
    synapse_dynamics_code="addToPost(g * r_pre);")


@pytest.mark.parametrize("precision", ["double", "float"])
def test_continuous_synapses_dense_and_sparse_match_numpy(precision):
    """synapse_dynamics addToPost(g r_pre) in step n carries r_pre of step n-1 into the step-n input."""
    rng = np.random.default_rng(17)
    f = _dtype(precision)
    n_pre, n_post, n_steps = 30, 20, 120
    model = GeNNModel(precision, "continuous_prop")
    model.dt = 0.25
    src = model.add_neuron_population("src", n_pre, ramp_model, {"slope": 0.05},
                                      {"r": rng.uniform(-1.0, 1.0, n_pre), "k": rng.uniform(0.2, 3.0, n_pre)})
    dense_g = rng.normal(0.0, 1.0, (n_pre, n_post))
    pairs = np.array([(i, j) for i in range(n_pre) for j in range(n_post) if rng.random() < 0.3])
    perm = rng.permutation(len(pairs))
    sp_pre, sp_post = pairs[perm, 0], pairs[perm, 1]
    sp_g = rng.normal(0.0, 1.0, len(pairs))
    probes = {}
    for conn in ("dense", "sparse"):
        probes[conn] = model.add_neuron_population(f"probe_{conn}", n_post, probe_model, {}, {"Iin": 0.0})
        wu = init_weight_update(continuous_pulse, {}, {"g": (dense_g.flatten() if conn == "dense" else sp_g)},
                                pre_var_refs={"r_pre": create_var_ref(src, "r")})
        sg = model.add_synapse_population(f"syn_{conn}", SynapseMatrixType.DENSE if conn == "dense"
                                          else SynapseMatrixType.SPARSE, src, probes[conn], wu,
                                          init_postsynaptic("DeltaCurr"))
        if conn == "sparse":
            sg.set_sparse_connections(sp_pre, sp_post)
    model.build()
    model.load()
    src.vars["r"].pull_from_device()
    r_prev = [src.vars["r"].values.astype(np.float64)]
    cur = {k: [] for k in probes}
    for n in range(n_steps):
        model.step_time()
        src.vars["r"].pull_from_device()
        r_prev.append(src.vars["r"].values.astype(np.float64))
        for k, p in probes.items():
            p.vars["Iin"].pull_from_device()
            cur[k].append(p.vars["Iin"].values.astype(np.float64))
    R = np.array(r_prev[:-1])                           # r at the end of step n-1 (initial value for n = 0)
    W_sparse = np.zeros((n_pre, n_post))
    W_sparse[sp_pre, sp_post] = sp_g.astype(f)
    for k, W in (("dense", dense_g.astype(f).astype(np.float64)), ("sparse", W_sparse)):
        expected = R @ W
        # float64: 1e-12 of the scale (summation order is free); float32: min(n_pre * eps32, 1e-4) because the
        # engine rounds each partial sum to float32 while the shadow sums in float64 (capped)
        tol = 1e-12 if precision == "double" else min(n_pre * float(np.finfo(np.float32).eps), 1e-4)
        scale = np.abs(expected).max()
        err = np.abs(np.array(cur[k]) - expected).max()
        assert err <= tol * scale, f"{k}: max error {err:.3e} > {tol:.1e} * {scale:.3e}"


# ============================================================================ batch vs separate models

decaying_pulse = create_weight_update_model(
    "decaying_pulse",
    params=["shrink"],
    vars=[("g", "scalar")],                                # READ_WRITE: one copy per batch instance
    pre_spike_syn_code="""
    addToPost(g);
    g *= shrink;
    """)

N_SRC, N_LIF, BATCH_STEPS, BATCH = 20, 30, 400, 3


def _batch_inputs():
    rng = np.random.default_rng(5)
    times, start, end, off = [], [], [], 0
    for _ in range(N_SRC):
        st = np.sort(rng.choice(BATCH_STEPS - 1, size=rng.integers(3, 15), replace=False))
        times.append((st + 0.5) * 0.1)
        start.append(off)
        off += st.size
        end.append(off)
    pairs = np.array([(i, j) for i in range(N_LIF) for j in range(N_LIF) if i != j and rng.random() < 0.2])
    return {"times": np.concatenate(times), "start": np.array(start), "end": np.array(end),
            "w_in": rng.uniform(0.5, 3.0, (N_SRC, N_LIF)), "rec_pre": pairs[:, 0], "rec_post": pairs[:, 1],
            "w_rec": rng.normal(0.5, 1.0, len(pairs)), "V0": rng.uniform(-70.0, -51.0, (BATCH, N_LIF))}


def _build_batch_model(batch_size, inp, name):
    model = GeNNModel("double", name)
    model.dt = 0.1
    model.batch_size = batch_size
    src = model.add_neuron_population("src", N_SRC, "SpikeSourceArray", {},
                                      {"startSpike": inp["start"], "endSpike": inp["end"]})
    src.extra_global_params["spikeTimes"].set_init_values(inp["times"])
    lif = model.add_neuron_population("lif", N_LIF, "LIF", LIF_PARAMS, {"V": -65.0, "RefracTime": 0.0})
    model.add_current_source("dc", "DC", lif, {"amp": 0.6})
    lif.spike_recording_enabled = True
    src.spike_recording_enabled = True
    model.add_synapse_population("in", SynapseMatrixType.DENSE, src, lif,
                                 init_weight_update(decaying_pulse, {"shrink": 0.97}, {"g": inp["w_in"].flatten()}),
                                 init_postsynaptic("ExpCurr", {"tau": 5.0}))
    rec = model.add_synapse_population("rec", SynapseMatrixType.SPARSE, lif, lif,
                                       init_weight_update("StaticPulse", {}, {"g": inp["w_rec"]}),
                                       init_postsynaptic("DeltaCurr"))
    rec.set_sparse_connections(inp["rec_pre"], inp["rec_post"])
    model.build()
    model.load(num_recording_timesteps=BATCH_STEPS)
    return model


def test_batch_of_3_equals_3_single_models_bitwise():
    inp = _batch_inputs()
    batched = _build_batch_model(BATCH, inp, "batched3")
    lif = batched.neuron_populations["lif"]
    assert lif.vars["V"].view.shape == (BATCH, N_LIF)
    lif.vars["V"].view[:] = inp["V0"]
    lif.vars["V"].push_to_device()
    batched.run(BATCH_STEPS)
    batched.pull_recording_buffers_from_device()
    for v in ("V", "RefracTime"):
        lif.vars[v].pull_from_device()
    g_b = batched.synapse_populations["in"].vars["g"]
    g_b.pull_from_device()
    assert g_b.values.shape == (BATCH, N_SRC * N_LIF)

    spike_counts = []
    for b in range(BATCH):
        single = _build_batch_model(1, inp, "single1")
        s_lif = single.neuron_populations["lif"]
        s_lif.vars["V"].view[:] = inp["V0"][b]
        s_lif.vars["V"].push_to_device()
        single.run(BATCH_STEPS)
        single.pull_recording_buffers_from_device()
        for pop in ("src", "lif"):
            got = single.neuron_populations[pop].spike_recording_data[0]
            assert_recordings_equal([batched.neuron_populations[pop].spike_recording_data[b]], [got],
                                    f"{pop}, batch instance {b}")
        spike_counts.append(len(got[0]))
        for v in ("V", "RefracTime"):
            s_lif.vars[v].pull_from_device()
            np.testing.assert_array_equal(lif.vars[v].values[b], s_lif.vars[v].values, err_msg=f"{v}, batch {b}")
        g_s = single.synapse_populations["in"].vars["g"]
        g_s.pull_from_device()
        np.testing.assert_array_equal(g_b.values[b], g_s.values, err_msg=f"per-batch weights, batch {b}")
    assert len(set(spike_counts)) > 1, "test design: batch instances should behave differently"


# ============================================================================ run chunking

def _chunk_model(name, seed=123):
    model = GeNNModel("double", name)
    model.dt = 0.1
    model.seed = seed
    poi = model.add_neuron_population("poi", 100, "Poisson", {"rate": 30.0}, {"timeStepToSpike": 0.0})
    lif = model.add_neuron_population("lif", 50, "LIF", LIF_PARAMS,
                                      {"V": init_var("Uniform", {"min": -70.0, "max": -50.0}), "RefracTime": 0.0})
    model.add_synapse_population("p2l", SynapseMatrixType.SPARSE, poi, lif,
                                 init_weight_update("StaticPulse", {}, {"g": 2.5}),
                                 init_postsynaptic("ExpCurr", {"tau": 5.0}),
                                 init_sparse_connectivity("FixedProbability", {"prob": 0.1}))
    model.add_synapse_population("l2l", SynapseMatrixType.DENSE, lif, lif,
                                 init_weight_update("StaticPulse", {}, {"g": init_var("Normal", {"mean": 0.0, "sd": 0.5})}),
                                 init_postsynaptic("DeltaCurr"))
    poi.spike_recording_enabled = True
    lif.spike_recording_enabled = True
    model.build()
    model.load(num_recording_timesteps=1000)
    return model


def _final_state(model):
    out = {}
    for pname, pop in model.neuron_populations.items():
        for vname, v in pop.vars.items():
            v.pull_from_device()
            out[f"{pname}.{vname}"] = v.values.copy()
    return out


def test_run_1000_equals_10x100_equals_1000_steps_bitwise():
    models = [_chunk_model("chunks") for _ in range(3)]
    models[0].run(1000)
    for _ in range(10):
        models[1].run(100)
    for _ in range(1000):
        models[2].step_time()
    for m in models:
        assert m.timestep == 1000
        m.pull_recording_buffers_from_device()
    ref_state = _final_state(models[0])
    assert len(models[0].neuron_populations["lif"].spike_recording_data[0][0]) > 20
    for k, m in enumerate(models[1:], 1):
        for pop in ("poi", "lif"):
            assert_recordings_equal(models[0].neuron_populations[pop].spike_recording_data,
                                    m.neuron_populations[pop].spike_recording_data, f"{pop} (variant {k})")
        for name, val in _final_state(m).items():
            np.testing.assert_array_equal(val, ref_state[name], err_msg=f"{name} (variant {k})")


# ============================================================================ seeds

def test_same_seed_same_result_different_seed_different_spikes():
    def spikes(model):
        model.run(1000)
        model.pull_recording_buffers_from_device()
        return model.neuron_populations["poi"].spike_recording_data[0]

    a, b, c = (_chunk_model("seeds", seed) for seed in (7, 7, 8))
    sa, sb, sc = spikes(a), spikes(b), spikes(c)
    assert a.effective_seed == b.effective_seed == 7 and c.effective_seed == 8
    assert_recordings_equal([sa], [sb], "same seed")
    for name, val in _final_state(a).items():
        np.testing.assert_array_equal(val, _final_state(b)[name], err_msg=name)
    assert not (sa[0].shape == sc[0].shape and np.array_equal(sa[0], sc[0]) and np.array_equal(sa[1], sc[1])), \
        "different seeds gave identical Poisson spikes"


def test_seed_zero_draws_a_seed_that_reproduces_the_run():
    m0 = _chunk_model("seed0", 0)
    assert m0.effective_seed not in (None, 0)
    m0.run(1000)
    m0.pull_recording_buffers_from_device()
    s0 = m0.neuron_populations["poi"].spike_recording_data[0]
    again = _chunk_model("seed0", m0.effective_seed)
    again.run(1000)
    again.pull_recording_buffers_from_device()
    assert_recordings_equal([s0], [again.neuron_populations["poi"].spike_recording_data[0]], "replayed seed")


# ============================================================================ 1 vs 2 threads

sawtooth = create_neuron_model(
    "sawtooth_in",
    params=["freq"],
    vars=[("ph", "scalar"), ("r", "scalar")],
    sim_code="""
    ph += freq * dt;
    if (ph >= 1.0) {
        ph -= 1.0;
    }
    r = ph - 0.5;
    """)

leaky = create_neuron_model(
    "leaky_unit",
    params=["tau"],
    vars=[("x", "scalar")],
    sim_code="x += (dt / tau) * (Isyn - x);")

plastic_continuous = create_weight_update_model(
    "plastic_continuous",
    params=["eta"],
    vars=[("g", "scalar")],
    pre_neuron_var_refs=[("r_pre", "scalar", VarAccessMode.READ_ONLY)],
    post_neuron_var_refs=[("x_post", "scalar", VarAccessMode.READ_ONLY)],
    synapse_dynamics_code="""
    addToPost(g * r_pre);
    g += eta * r_pre * x_post;
    """)

N_BIG = 6000


def _thread_model(threads, batch_size=1):
    prefs = {"num_threads": threads} if threads > 1 else {}
    model = GeNNModel("double", "threads", **prefs)
    model.dt = 0.1
    model.seed = 2024
    model.batch_size = batch_size
    poi = model.add_neuron_population("poi", N_BIG, "Poisson", {"rate": 15.0}, {"timeStepToSpike": 0.0})
    exc = model.add_neuron_population("exc", N_BIG, "LIF", LIF_PARAMS,
                                      {"V": init_var("Uniform", {"min": -70.0, "max": -50.0}), "RefracTime": 0.0})
    model.add_current_source("exc_dc", "DC", exc, {"amp": 0.5})
    small = model.add_neuron_population("small", 64, "LIF", LIF_PARAMS, {"V": -65.0, "RefracTime": 0.0})
    rin = model.add_neuron_population("rin", 300, sawtooth, {"freq": 0.01},
                                      {"ph": init_var("Uniform", {"min": 0.0, "max": 1.0}), "r": 0.0})
    rout = model.add_neuron_population("rout", 3000, leaky, {"tau": 4.0}, {"x": 0.0})
    model.add_synapse_population("p2e", SynapseMatrixType.SPARSE, poi, exc,
                                 init_weight_update("StaticPulse", {}, {"g": init_var("Uniform", {"min": 0.5, "max": 2.0})}),
                                 init_postsynaptic("ExpCurr", {"tau": 5.0}),
                                 init_sparse_connectivity("FixedProbability", {"prob": 0.004}))
    model.add_synapse_population("e2e", SynapseMatrixType.SPARSE, exc, exc,
                                 init_weight_update("StaticPulse", {}, {"g": init_var("Normal", {"mean": 0.2, "sd": 1.0})}),
                                 init_postsynaptic("DeltaCurr"),
                                 init_sparse_connectivity("FixedProbability", {"prob": 0.002}))
    model.add_synapse_population("p2s", SynapseMatrixType.DENSE, poi, small,
                                 init_weight_update("StaticPulse", {}, {"g": init_var("Normal", {"mean": 0.0, "sd": 0.3})}),
                                 init_postsynaptic("ExpCurr", {"tau": 2.0}))
    model.add_synapse_population("r2r", SynapseMatrixType.DENSE, rin, rout,
                                 init_weight_update(plastic_continuous, {"eta": 1e-4},
                                                    {"g": init_var("Normal", {"mean": 0.0, "sd": 0.2})},
                                                    pre_var_refs={"r_pre": create_var_ref(rin, "r")},
                                                    post_var_refs={"x_post": create_var_ref(rout, "x")}),
                                 init_postsynaptic("DeltaCurr"))
    # SPARSE synapse dynamics writing only batched state: with batch_size > 1 and 2 threads the
    # batch instances are split over the threads
    model.add_synapse_population("r2r_sparse", SynapseMatrixType.SPARSE, rin, rout,
                                 init_weight_update(plastic_continuous, {"eta": 1e-4},
                                                    {"g": init_var("Normal", {"mean": 0.0, "sd": 0.2})},
                                                    pre_var_refs={"r_pre": create_var_ref(rin, "r")},
                                                    post_var_refs={"x_post": create_var_ref(rout, "x")}),
                                 init_postsynaptic("DeltaCurr"),
                                 init_sparse_connectivity("FixedProbability", {"prob": 0.05}))
    for p in (poi, exc, small):
        p.spike_recording_enabled = True
    model.build()
    model.load(num_recording_timesteps=400)
    return model


@pytest.mark.parametrize("batch_size", [1, 2])
@pytest.mark.skipif(os.environ.get("NEUROGEN_BACKEND") == "cuda", reason="threads are a CPU backend option")
def test_one_vs_two_threads_bitwise(batch_size):
    """>= 5000 neurons per population so the neuron loops are parallelised; dense synapse dynamics,
    sparse synapse dynamics (batch instances split over threads), sparse and dense spike
    propagation, RNG in init, connectivity and Poisson sources."""
    results = []
    for threads in (1, 2):
        m = _thread_model(threads, batch_size)
        m.run(400)
        m.pull_recording_buffers_from_device()
        state = _final_state(m)
        sg = m.synapse_populations["r2r"]
        sg.vars["g"].pull_from_device()
        state["r2r.g"] = sg.vars["g"].values.copy()
        if threads == 2:
            kernel = m._backend.source.split("ng_synapse_dynamics_code_r2r_sparse_body")[1].split("\n}\n")[0]
            assert ("#pragma omp for schedule(static)" in kernel) == (batch_size > 1)
        for name in ("p2e", "e2e", "r2r_sparse"):
            s = m.synapse_populations[name]
            s.vars["g"].pull_from_device()
            state[f"{name}.g"] = s.vars["g"].values.copy()
            state[f"{name}.pre"] = np.asarray(s.get_sparse_pre_inds())
            state[f"{name}.post"] = np.asarray(s.get_sparse_post_inds())
        rec = {p: m.neuron_populations[p].spike_recording_data for p in ("poi", "exc", "small")}
        results.append((state, rec))
    (s1, r1), (s2, r2) = results
    assert len(r1["exc"][0][0]) > 1000 and len(r1["small"][0][0]) > 10
    assert len(r1["exc"]) == batch_size
    for p in r1:
        assert_recordings_equal(r1[p], r2[p], f"{p} spikes, 1 vs 2 threads")
    for name in s1:
        np.testing.assert_array_equal(s1[name], s2[name], err_msg=f"{name}, 1 vs 2 threads")


# ============================================================================ variable recording

@pytest.mark.parametrize("batch_size", [1, 2])
@pytest.mark.parametrize("every", [1, 3, 7])
def test_var_recording_every_k_equals_stepping(every, batch_size):
    n_steps = 200

    def build():
        model = GeNNModel("double", "varrec")
        model.dt = 0.1
        model.seed = 31
        model.batch_size = batch_size
        poi = model.add_neuron_population("poi", 40, "Poisson", {"rate": 50.0}, {"timeStepToSpike": 0.0})
        lif = model.add_neuron_population("lif", 25, "LIF", LIF_PARAMS,
                                          {"V": init_var("Uniform", {"min": -70.0, "max": -50.0}),
                                           "RefracTime": 0.0})
        model.add_current_source("dc", "DC", lif, {"amp": 0.4})
        model.add_synapse_population("p2l", SynapseMatrixType.DENSE, poi, lif,
                                     init_weight_update("StaticPulse", {}, {"g": 3.0}),
                                     init_postsynaptic("ExpCurr", {"tau": 4.0}))
        lif.record_var("V", every=every)
        lif.record_var("RefracTime", every=1)
        model.build()
        model.load(num_recording_timesteps=n_steps)
        return model, lif

    recorded, lif_r = build()
    recorded.run(n_steps)
    stepped, lif_s = build()
    pulled = {"V": [], "RefracTime": []}
    for _ in range(n_steps):
        stepped.step_time()
        for v in pulled:
            lif_s.vars[v].pull_from_device()
            pulled[v].append(lif_s.vars[v].values.copy())

    recorded.pull_recording_buffers_from_device()
    stepped.pull_recording_buffers_from_device()
    for name, k in (("V", every), ("RefracTime", 1)):
        times, values = lif_r.var_recording_data(name)
        rows = n_steps // k
        shape = (rows, batch_size, 25) if batch_size > 1 else (rows, 25)
        assert values.shape == shape, f"{name}: recorded shape {values.shape}, expected {shape}"
        ts = np.arange(1, rows + 1) * k                   # timestep after the recorded step
        np.testing.assert_array_equal(times, ts * 0.1, err_msg=f"{name} time labels")
        expected = np.array(pulled[name])[ts - 1]
        np.testing.assert_array_equal(values, expected, err_msg=f"{name} every={k}")
        # the stepped model records too: same buffer contents
        np.testing.assert_array_equal(lif_s.var_recording_data(name)[1], values)
    assert np.ptp(np.array(pulled["RefracTime"])) > 0, "test design: some neurons should spike"


# ============================================================================ streamed input

driven = create_neuron_model(
    "driven",
    params=["tau"],
    vars=[("Iext", "scalar"), ("V", "scalar")],
    sim_code="V += (dt / tau) * (Iext - V);")


@pytest.mark.parametrize("batch_size", [1, 2])
def test_stream_equals_setting_variable_each_step(batch_size):
    n, t1, extra, gap, t2 = 16, 60, 20, 5, 30
    rng = np.random.default_rng(3)
    shape = (batch_size, n) if batch_size > 1 else (n,)
    data1 = rng.normal(0.0, 1.0, (t1,) + shape)
    data2 = rng.normal(2.0, 1.0, (t2,) + shape)

    def build():
        model = GeNNModel("double", "stream")
        model.dt = 0.5
        model.batch_size = batch_size
        pop = model.add_neuron_population("pop", n, driven, {"tau": 3.0}, {"Iext": 0.25, "V": 0.0})
        pop.stream_var("Iext")
        model.build()
        model.load()
        return model, pop

    streamed, sp = build()
    manual, mp = build()

    def manual_steps(rows, count):
        out = []
        for k in range(count):
            if rows is not None and k < len(rows):
                mp.vars["Iext"].view[:] = rows[k]
                mp.vars["Iext"].push_to_device()
            manual.step_time()
            mp.vars["V"].pull_from_device()
            out.append(mp.vars["V"].values.copy())
        return np.array(out)

    # phase 1: the stream starts now and runs out after t1 steps (the variable then keeps its value)
    sp.set_stream("Iext", data1)
    v_manual = manual_steps(data1, t1 + extra)
    v_stream = []
    for chunk in (7, 13, t1 + extra - 20):
        streamed.run(chunk)
        sp.vars["V"].pull_from_device()
        v_stream.append(sp.vars["V"].values.copy())
    np.testing.assert_array_equal(v_stream[0], v_manual[6])
    np.testing.assert_array_equal(v_stream[1], v_manual[19])
    np.testing.assert_array_equal(v_stream[2], v_manual[-1])
    # phase 2: a stream that starts `gap` steps in the future
    sp.set_stream("Iext", data2, start_timestep=streamed.timestep + gap)
    v_manual2 = np.concatenate([manual_steps(None, gap), manual_steps(data2, t2)])
    streamed.run(gap + t2)
    sp.vars["V"].pull_from_device()
    sp.vars["Iext"].pull_from_device()
    mp.vars["Iext"].pull_from_device()
    np.testing.assert_array_equal(sp.vars["V"].values, v_manual2[-1])
    np.testing.assert_array_equal(sp.vars["Iext"].values, mp.vars["Iext"].values)
    np.testing.assert_array_equal(sp.vars["Iext"].values, data2[-1])


def test_initialised_declaration_multiplying_a_model_name():
    """Regression: in `const scalar x = a * tau;` the name after a top-level '*' is a factor, not a
    second (pointer) declarator; locals declared after ',' still are declarators."""
    model = create_neuron_model(
        "decl_mult", params=["tau"], vars=[("x", "scalar"), ("y", "scalar")],
        sim_code="""
        const scalar a = 2.0 * tau, b = a * tau;
        scalar c = a * x, *unused_ptr_free = 0;
        x = a * b + c;
        y = b * b;
        """)
    m = GeNNModel("double", "decl_mult")
    m.dt = 1.0
    pop = m.add_neuron_population("p", 3, model, {"tau": 1.5}, {"x": 1.0, "y": 0.0})
    m.build()
    m.load()
    m.step_time()
    pop.vars["x"].pull_from_device()
    pop.vars["y"].pull_from_device()
    a = 2.0 * 1.5
    b = a * 1.5
    np.testing.assert_allclose(pop.vars["x"].view, a * b + a * 1.0)
    np.testing.assert_allclose(pop.vars["y"].view, b * b)
