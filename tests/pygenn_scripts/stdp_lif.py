"""A plain PyGeNN 5 script: spike sources -> custom LIF neurons through trace-based STDP.

Written exactly as a GeNN 5 user would write it (``from pygenn import ...``); the acceptance test
runs it with only that import changed to the engine under test.

Network
-------
* ``pre``: ``SpikeSourceArray`` with random spike times (set through the ``spikeTimes`` EGP).
* ``post``: a custom leaky integrate-and-fire model (forward Euler, absolute refractoriness),
  driven by a ``DC`` current source and by the plastic synapses through ``ExpCurr``.
* ``pre2post``: DENSE synapses with a custom STDP rule: a presynaptic trace ``x`` (pre var) and
  a postsynaptic trace ``y`` (post var) decay in ``pre/post_dynamics_code`` and jump by one in
  ``pre/post_spike_code``; a presynaptic spike delivers ``g`` and depresses ``g`` by ``y``,
  a postsynaptic spike potentiates ``g`` by ``x``; ``g`` is clipped to [w_min, w_max].
"""
import numpy as np

from pygenn import (GeNNModel, SynapseMatrixType, create_neuron_model,
                    create_weight_update_model, init_postsynaptic, init_weight_update)

DT = 0.1                      # ms
N_PRE = 20
N_POST = 8
N_STEPS = 2000
PRE_RATE_HZ = 40.0
DC_AMP = 0.9                  # nA
TAU_SYN = 5.0                 # ms
LIF_PARAMS = {"TauM": 20.0, "Vrest": -65.0, "Vreset": -70.0, "Vthresh": -50.0,
              "Rm": 20.0, "TauRefrac": 2.0}
STDP_PARAMS = {"tauPlus": 16.8, "tauMinus": 33.7, "aPlus": 0.004, "aMinus": 0.003,
               "wMin": 0.0, "wMax": 1.2}

lif_model = create_neuron_model(
    "custom_lif",
    params=["TauM", "Vrest", "Vreset", "Vthresh", "Rm", "TauRefrac"],
    derived_params=[("Alpha", lambda pars, dt: dt / pars["TauM"])],
    vars=[("V", "scalar"), ("RefracTime", "scalar")],
    sim_code="""
    if (RefracTime > 0.0) {
        RefracTime -= dt;
    }
    else {
        V += Alpha * ((Vrest - V) + (Rm * Isyn));
    }
    """,
    threshold_condition_code="RefracTime <= 0.0 && V >= Vthresh",
    reset_code="""
    V = Vreset;
    RefracTime = TauRefrac;
    """)

stdp_model = create_weight_update_model(
    "trace_stdp",
    params=["tauPlus", "tauMinus", "aPlus", "aMinus", "wMin", "wMax"],
    derived_params=[("decayPlus", lambda pars, dt: np.exp(-dt / pars["tauPlus"])),
                    ("decayMinus", lambda pars, dt: np.exp(-dt / pars["tauMinus"]))],
    vars=[("g", "scalar")],
    pre_vars=[("x", "scalar")],
    post_vars=[("y", "scalar")],
    pre_spike_syn_code="""
    addToPost(g);
    g = fmax(wMin, g - (aMinus * y));
    """,
    post_spike_syn_code="""
    g = fmin(wMax, g + (aPlus * x));
    """,
    pre_spike_code="x += 1.0;",
    pre_dynamics_code="x *= decayPlus;",
    post_spike_code="y += 1.0;",
    post_dynamics_code="y *= decayMinus;")


def make_inputs(seed=1234):
    """Spike times (sorted per neuron, half-way between time steps), initial weights and voltages."""
    rng = np.random.default_rng(seed)
    t_end = N_STEPS * DT
    times, start, end = [], [], []
    offset = 0
    for _ in range(N_PRE):
        n = rng.poisson(PRE_RATE_HZ * t_end / 1000.0)
        steps = np.sort(rng.choice(N_STEPS - 1, size=n, replace=False))
        times.append((steps + 0.5) * DT)
        start.append(offset)
        offset += n
        end.append(offset)
    return {"spike_times": np.concatenate(times), "start": np.array(start, dtype=np.uint32),
            "end": np.array(end, dtype=np.uint32),
            "g0": rng.uniform(0.2, 1.0, size=(N_PRE, N_POST)),
            "V0": rng.uniform(-70.0, -52.0, size=N_POST)}


def run(precision="double", seed=1234, weight_every=50):
    inputs = make_inputs(seed)
    model = GeNNModel(precision, "stdp_lif")
    model.dt = DT

    pre = model.add_neuron_population("pre", N_PRE, "SpikeSourceArray", {},
                                      {"startSpike": inputs["start"], "endSpike": inputs["end"]})
    pre.extra_global_params["spikeTimes"].set_init_values(inputs["spike_times"])
    pre.spike_recording_enabled = True

    post = model.add_neuron_population("post", N_POST, lif_model, LIF_PARAMS,
                                       {"V": inputs["V0"], "RefracTime": 0.0})
    post.spike_recording_enabled = True
    model.add_current_source("post_dc", "DC", post, {"amp": DC_AMP})

    syn = model.add_synapse_population(
        "pre2post", SynapseMatrixType.DENSE, pre, post,
        init_weight_update(stdp_model, STDP_PARAMS, {"g": inputs["g0"].flatten()}, {"x": 0.0}, {"y": 0.0}),
        init_postsynaptic("ExpCurr", {"tau": TAU_SYN}))

    model.build()
    model.load(num_recording_timesteps=N_STEPS)

    v_post = np.empty((N_STEPS, N_POST))
    g_trace = []
    while model.timestep < N_STEPS:
        model.step_time()
        post.vars["V"].pull_from_device()
        v_post[model.timestep - 1] = post.vars["V"].values
        if model.timestep % weight_every == 0:
            syn.vars["g"].pull_from_device()
            g_trace.append(syn.vars["g"].values.reshape(N_PRE, N_POST).copy())

    model.pull_recording_buffers_from_device()
    pre_t, pre_id = pre.spike_recording_data[0]
    post_t, post_id = post.spike_recording_data[0]
    syn.pre_vars["x"].pull_from_device()
    syn.post_vars["y"].pull_from_device()
    return {"inputs": inputs, "pre_times": np.asarray(pre_t), "pre_ids": np.asarray(pre_id),
            "post_times": np.asarray(post_t), "post_ids": np.asarray(post_id), "V": v_post,
            "g_trace": np.array(g_trace), "x": syn.pre_vars["x"].values.copy(),
            "y": syn.post_vars["y"].values.copy()}
