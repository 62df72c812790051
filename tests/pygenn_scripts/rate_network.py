"""A plain PyGeNN 5 script: a batched rate network with continuous (dense) synapses.

Written exactly as a GeNN 5 user would write it (``from pygenn import ...``); the acceptance test
runs it with only that import changed to the engine under test.

Network (``batch_size = 2``; every READ_WRITE state variable exists once per batch instance)
-------------------------------------------------------------------------------------------
* ``inp``: sawtooth rate generators, ``r = amp * ph`` with phase ``ph`` advancing by
  ``freq * dt`` and wrapping at 1; ``amp`` is READ_ONLY (shared by the batch), ``ph`` starts
  differently in each batch instance.
* ``hid``: leaky rate units ``x += dt/tau * (Isyn + Ifb - x)``, ``r = leaky_relu(x)``;
  ``Ifb`` is an *additional input variable* (initial value 0.25, reset every step) that only the
  feedback synapses write into (``post_target_var``).
* ``out``: leaky readout ``y += dt/tauOut * (Isyn - y)``.
* ``inp2hid``: DENSE continuous synapses, ``addToPost(g * r_pre)`` in ``synapse_dynamics_code``
  with ``r_pre`` a *presynaptic neuron variable reference*; ``g`` READ_ONLY (shared).
* ``out2hid``: the same weight-update model from ``out.y`` into ``hid``'s ``Ifb``.
* ``hid2out``: DENSE continuous Hebbian synapses with pre and post neuron var refs,
  ``addToPost(g * r_pre); g += eta * r_pre * y_post - decay * g`` (``g`` per batch instance).
* Custom updates, run between time steps from Python:
  ``Reduce``: ``rsum = r`` over the batch into a ``REDUCE_BATCH_SUM`` variable of ``hid``;
  ``Apply``: ``x -= coupling * rsum`` on every batch instance (reads the reduction);
  ``Scale``: ``g *= factor`` on the shared ``inp2hid`` weights.
"""
import numpy as np

from pygenn import (CustomUpdateVarAccess, GeNNModel, SynapseMatrixType, VarAccess, VarAccessMode,
                    create_custom_update_model, create_neuron_model, create_var_ref,
                    create_weight_update_model, create_wu_var_ref, init_postsynaptic,
                    init_weight_update)

DT = 0.5                      # ms
BATCH = 2
N_INP, N_HID, N_OUT = 6, 10, 4
N_STEPS = 400
REDUCE_EVERY = 10
SCALE_EVERY = 20
INP_PARAMS = {"freq": 0.013}
HID_PARAMS = {"tau": 5.0, "leak": 0.1}
OUT_PARAMS = {"tauOut": 8.0}
HEBB_PARAMS = {"eta": 0.0005, "decay": 0.002}
APPLY_PARAMS = {"coupling": 0.05}
SCALE_PARAMS = {"factor": 0.97}
IFB_INIT = 0.25

sawtooth_model = create_neuron_model(
    "sawtooth",
    params=["freq"],
    vars=[("ph", "scalar"), ("amp", "scalar", VarAccess.READ_ONLY), ("r", "scalar")],
    sim_code="""
    ph += freq * dt;
    if (ph >= 1.0) {
        ph -= 1.0;
    }
    r = amp * ph;
    """)

leaky_rate_model = create_neuron_model(
    "leaky_rate",
    params=["tau", "leak"],
    vars=[("x", "scalar"), ("r", "scalar")],
    additional_input_vars=[("Ifb", "scalar", IFB_INIT)],
    sim_code="""
    x += (dt / tau) * ((Isyn + Ifb) - x);
    if (x > 0.0) {
        r = x;
    }
    else {
        r = leak * x;
    }
    """)

readout_model = create_neuron_model(
    "readout",
    params=["tauOut"],
    vars=[("y", "scalar")],
    sim_code="y += (dt / tauOut) * (Isyn - y);")

continuous_model = create_weight_update_model(
    "continuous",
    vars=[("g", "scalar", VarAccess.READ_ONLY)],
    pre_neuron_var_refs=[("r_pre", "scalar", VarAccessMode.READ_ONLY)],
    synapse_dynamics_code="addToPost(g * r_pre);")

hebbian_model = create_weight_update_model(
    "continuous_hebbian",
    params=["eta", "decay"],
    vars=[("g", "scalar")],
    pre_neuron_var_refs=[("r_pre", "scalar", VarAccessMode.READ_ONLY)],
    post_neuron_var_refs=[("y_post", "scalar", VarAccessMode.READ_ONLY)],
    synapse_dynamics_code="""
    addToPost(g * r_pre);
    g += (eta * r_pre * y_post) - (decay * g);
    """)

batch_sum_model = create_custom_update_model(
    "batch_sum",
    vars=[("rsum", "scalar", CustomUpdateVarAccess.REDUCE_BATCH_SUM)],
    var_refs=[("r", "scalar", VarAccessMode.READ_ONLY)],
    update_code="rsum = r;")

apply_model = create_custom_update_model(
    "apply_sum",
    params=["coupling"],
    var_refs=[("x", "scalar", VarAccessMode.READ_WRITE), ("rsum", "scalar", VarAccessMode.READ_ONLY)],
    update_code="x -= coupling * rsum;")

scale_model = create_custom_update_model(
    "scale",
    params=["factor"],
    var_refs=[("g", "scalar", VarAccessMode.READ_WRITE)],
    update_code="g *= factor;")


def make_inputs(seed=4321):
    rng = np.random.default_rng(seed)
    return {"amp": rng.uniform(0.5, 2.0, N_INP),
            "ph0": rng.uniform(0.0, 1.0, (BATCH, N_INP)),
            "x0": rng.uniform(-0.5, 0.5, (BATCH, N_HID)),
            "w_in": rng.normal(0.0, 0.4, (N_INP, N_HID)),
            "w_fb": rng.normal(0.0, 0.1, (N_OUT, N_HID)),
            "w_out": rng.normal(0.0, 0.3, (N_HID, N_OUT))}


def run(precision="double", seed=4321):
    inputs = make_inputs(seed)
    model = GeNNModel(precision, "rate_network")
    model.dt = DT
    model.batch_size = BATCH

    inp = model.add_neuron_population("inp", N_INP, sawtooth_model, INP_PARAMS,
                                      {"ph": 0.0, "amp": inputs["amp"], "r": 0.0})
    hid = model.add_neuron_population("hid", N_HID, leaky_rate_model, HID_PARAMS, {"x": 0.0, "r": 0.0})
    out = model.add_neuron_population("out", N_OUT, readout_model, OUT_PARAMS, {"y": 0.0})

    inp2hid = model.add_synapse_population(
        "inp2hid", SynapseMatrixType.DENSE, inp, hid,
        init_weight_update(continuous_model, {}, {"g": inputs["w_in"].flatten()},
                           pre_var_refs={"r_pre": create_var_ref(inp, "r")}),
        init_postsynaptic("DeltaCurr"))
    out2hid = model.add_synapse_population(
        "out2hid", SynapseMatrixType.DENSE, out, hid,
        init_weight_update(continuous_model, {}, {"g": inputs["w_fb"].flatten()},
                           pre_var_refs={"r_pre": create_var_ref(out, "y")}),
        init_postsynaptic("DeltaCurr"))
    out2hid.post_target_var = "Ifb"
    hid2out = model.add_synapse_population(
        "hid2out", SynapseMatrixType.DENSE, hid, out,
        init_weight_update(hebbian_model, HEBB_PARAMS, {"g": inputs["w_out"].flatten()},
                           pre_var_refs={"r_pre": create_var_ref(hid, "r")},
                           post_var_refs={"y_post": create_var_ref(out, "y")}),
        init_postsynaptic("DeltaCurr"))

    reduce_cu = model.add_custom_update("hid_batch_sum", "Reduce", batch_sum_model, {}, {"rsum": 0.0},
                                        {"r": create_var_ref(hid, "r")})
    model.add_custom_update("hid_apply", "Apply", apply_model, APPLY_PARAMS, {},
                            {"x": create_var_ref(hid, "x"), "rsum": create_var_ref(reduce_cu, "rsum")})
    model.add_custom_update("inp2hid_scale", "Scale", scale_model, SCALE_PARAMS, {},
                            {"g": create_wu_var_ref(inp2hid, "g")})

    model.build()
    model.load()

    # Per-batch initial states
    inp.vars["ph"].view[:] = inputs["ph0"]
    inp.vars["ph"].push_to_device()
    hid.vars["x"].view[:] = inputs["x0"]
    hid.vars["x"].push_to_device()

    r_hid = np.empty((N_STEPS, BATCH, N_HID))
    y_out = np.empty((N_STEPS, BATCH, N_OUT))
    rsums = []
    while model.timestep < N_STEPS:
        model.step_time()
        hid.vars["r"].pull_from_device()
        out.vars["y"].pull_from_device()
        r_hid[model.timestep - 1] = hid.vars["r"].values
        y_out[model.timestep - 1] = out.vars["y"].values
        if model.timestep % REDUCE_EVERY == 0:
            model.custom_update("Reduce")
            reduce_cu.vars["rsum"].pull_from_device()
            rsums.append(reduce_cu.vars["rsum"].values.copy())
            model.custom_update("Apply")
        if model.timestep % SCALE_EVERY == 0:
            model.custom_update("Scale")

    for v in (inp2hid.vars["g"], hid2out.vars["g"], hid.vars["x"]):
        v.pull_from_device()
    return {"inputs": inputs, "r_hid": r_hid, "y_out": y_out, "rsum": np.array(rsums),
            "x_final": hid.vars["x"].values.copy(),
            "g_in": inp2hid.vars["g"].values.reshape(N_INP, N_HID).copy(),
            "g_out": hid2out.vars["g"].values.reshape(BATCH, N_HID, N_OUT).copy()}
