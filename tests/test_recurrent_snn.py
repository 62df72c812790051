"""networks.recurrent_snn.RecurrentSNN: the LSNN trained with BPTT, e-prop or MDGL (spec
alif_eprop_mdgl.md; issue "ALIF recurrent spiking networks trained with e-prop, MDGL and BPTT on
evidence accumulation").

* the generated forward pass equals ``snn_gradients.forward`` on the same weights and inputs
  (spikes and refractory mask identical, V / A / Psi / y to 1e-12);
* one ``train_iteration`` per learning rule: the gradient it uses equals the corresponding
  ``snn_gradients`` function (bptt_gradients, eprop_gradients, mdgl_gradients(method="adjoint"))
  on the same trajectory, masked to the adjacency, to 1e-10 relative (float64); the Adam + DEEP R
  update equals an independent NumPy step; e-prop is the online generated DeltaG;
* Dale's law and the fixed adjacency hold over 20 iterations (AL-T9 on the network);
* get_state / set_state gives a bit-identical continuation;
* error messages; a small BPTT learning smoke test.

Tiny sizes throughout (N = 20, T <= 150, B = 4 or 8).
"""
import numpy as np
import pytest

from networks import dale
from networks import snn_gradients as sg
from networks.recurrent_snn import RecurrentSNN

N_IN, N_LIF, N_ALIF, N_OUT, B, T = 8, 10, 10, 2, 4, 150
SMALL = dict(batch_size=B, connectivity=0.4, out_connectivity=0.5)


def make_net(name, **kw):
    opts = dict(SMALL)
    opts.update(kw)
    return RecurrentSNN(N_IN, N_LIF, N_ALIF, N_OUT, model_name=name, **opts)


def batch(seed, steps=T, rate=0.1, batch_size=B):
    rng = np.random.default_rng(seed)
    x = rng.poisson(rate, (batch_size, steps, N_IN)).astype(np.float64)
    return x, np.arange(batch_size) % N_OUT


def rel_err(a, b):
    scale = np.max(np.abs(b))
    assert scale > 0, "test design: the reference must be non-zero"
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / scale)


def reference_forward(net, w, x):
    return sg.forward(net.params, w["W_in"], w["W_rec"], w["W_out"], w["b_out"], x)


def masks_ji(net):
    """Adjacency masks in the W_ji convention."""
    return {"W_in": net._masks["in"].T, "W_rec": net._masks["rec"].T, "W_out": net._masks["out"].T,
            "b_out": np.ones(net.n_out, bool)}


# ============================================================================ forward pass

FORWARD_CONFIGS = {
    "lsnn_dale": dict(),
    "bellec_eprop_refractory_dense": dict(lsnn_scaling=False, refractory="eprop", dale=False),
}


@pytest.mark.parametrize("config", list(FORWARD_CONFIGS))
def test_generated_forward_equals_numpy(config):
    net = make_net(f"rsnn_fwd_{config}", **FORWARD_CONFIGS[config])
    x, labels = batch(1)
    w = net.get_weights()
    traj = net.forward(x, labels)
    ref = reference_forward(net, w, x)
    assert ref.z.sum() > 200, "test design: the network should spike"
    assert ref.refractory.any()
    np.testing.assert_array_equal(traj.z, ref.z, err_msg="spikes differ")
    np.testing.assert_array_equal(traj.refractory, ref.refractory, err_msg="refractory mask differs")
    for k in ("v", "psi", "y"):
        assert rel_err(getattr(traj, k), getattr(ref, k)) <= 1e-12, k
    alif = net.params.is_alif
    assert rel_err(traj.a[:, :, alif], ref.a[:, :, alif]) <= 1e-12
    # evaluate reports the loss / accuracy of that trajectory
    E, _ = sg.cross_entropy_final(ref.y, labels)
    ev = net.evaluate(x, labels)
    assert abs(ev["loss"] - E) <= 1e-12 * abs(E)
    assert ev["accuracy"] == np.mean(np.argmax(ref.y[:, -1], axis=1) == labels)


# ============================================================================ gradients

GRADIENT_CONFIGS = {
    "bptt": dict(learning_rule="bptt"),
    "eprop": dict(learning_rule="eprop"),
    "mdgl": dict(learning_rule="mdgl"),
    "eprop_random_window": dict(learning_rule="eprop", feedback="random", loss="window", n_window=40),
    "eprop_bellec_dense_reg": dict(learning_rule="eprop", lsnn_scaling=False, refractory="eprop", dale=False,
                                   reg_c=0.5),
    "mdgl_random_reg_lsnntrace": dict(learning_rule="mdgl", feedback="random", reg_c=0.5),
    "eprop_batch1": dict(learning_rule="eprop", batch_size=1),
    # Dale's law (sparse synapses) with the regulariser: its gradient comes from the summed traces
    "eprop_dale_reg": dict(learning_rule="eprop", reg_c=0.5),
}


def reference_gradients(net, traj, labels):
    if net.loss == "final":
        E, dE_dy = sg.cross_entropy_final(traj.y, labels)
    else:
        E, dE_dy = sg.cross_entropy_window(traj.y, labels, net.n_window)
    fb = "symmetric" if net.feedback == "symmetric" else net.B_fb
    reg = dict(reg_c=net.reg_c, reg_target=net.reg_target)
    if net.learning_rule == "bptt":
        G = sg.bptt_gradients(traj, dE_dy, **reg)
    elif net.learning_rule == "eprop":
        G = sg.eprop_gradients(traj, dE_dy, learning_signal="partial", feedback=fb, trace=net.trace, **reg)
    else:
        G = sg.mdgl_gradients(traj, dE_dy, net.conn.sign_rec, method="adjoint", trace=net.trace, feedback=fb, **reg)
    return E, G.as_dict()


def numpy_adam_deep_r(net, state, G):
    """Independent first-principles Adam (+ DEEP R) step on the state before the iteration."""
    p, m, v = state["params"], state["adam_m"], state["adam_v"]
    t = state["iteration"] + 1
    lr, b1, b2, eps = net.lr, 0.9, 0.999, 1e-8
    new = {}
    for k in ("in", "rec", "out", "b_out"):
        g = G["b_out"] if k == "b_out" else G[{"in": "W_in", "rec": "W_rec", "out": "W_out"}[k]].T
        if k != "b_out":
            g = net._signs[k] * g if net.dale else g * net._masks[k]
        mk = b1 * m[k] + (1 - b1) * g
        vk = b2 * v[k] + (1 - b2) * g ** 2
        new[k] = p[k] - lr * (mk / (1 - b1 ** t)) / (np.sqrt(vk / (1 - b2 ** t)) + eps)
    if net.dale:
        for k in ("in", "rec", "out"):
            new[k], _ = dale.deep_r_step(new[k], net._masks[k], lr, net.l1)
    return new


@pytest.mark.parametrize("config", list(GRADIENT_CONFIGS))
def test_train_iteration_gradient_equals_snn_gradients(config):
    net = make_net(f"rsnn_grad_{config}", **GRADIENT_CONFIGS[config])
    assert net.online_eprop == (net.learning_rule == "eprop")
    x, labels = batch(2, batch_size=net.batch_size)
    w0 = net.get_weights()
    state0 = net.get_state()
    res = net.train_iteration(x, labels, return_details=True)
    ref = reference_forward(net, w0, x)
    traj = res["trajectory"]
    np.testing.assert_array_equal(traj.z, ref.z, err_msg="recorded spikes differ from snn_gradients.forward")
    E, G_ref = reference_gradients(net, ref, labels)
    E_rec, G_rec = reference_gradients(net, traj, labels)       # the same function on the recorded trajectory
    assert abs(res["loss"] - E) <= 1e-12 * abs(E)
    mask = masks_ji(net)
    for k in ("W_in", "W_rec", "W_out", "b_out"):
        g = res["gradients"][k]
        assert not np.any(g[~mask[k]]), f"{k}: gradient outside the adjacency"
        assert rel_err(g, G_ref[k] * mask[k]) <= 1e-10, k
        assert rel_err(g, G_rec[k] * mask[k]) <= 1e-10, k
    # test design: the comparison covers many recurrent synapses (e-prop / MDGL with symmetric
    # feedback only reach neurons with a W_out synapse, half of them here)
    assert np.count_nonzero(res["gradients"]["W_rec"]) > 10
    # the parameter update is one Adam step (+ DEEP R with Dale's law) on that gradient
    expected = numpy_adam_deep_r(net, state0, res["gradients"])
    state1 = net.get_state()
    assert state1["iteration"] == 1 == res["iteration"]
    for k, val in expected.items():
        np.testing.assert_allclose(state1["params"][k], val, rtol=1e-12, atol=1e-15, err_msg=k)
    norms = res["grad_norms"]
    assert abs(norms["W_rec"] - np.linalg.norm(res["gradients"]["W_rec"])) < 1e-15
    assert res["rates"].shape == (net.n_rec,) and res["rate_hz"] > 0


def test_eprop_float32_close_to_float64():
    """float32 model: spikes as in float64, online e-prop gradient within 1e-4 (float32 rounding over
    T = 150 steps; cap, not scaled with T) of the float64 reference on float32-rounded weights."""
    net = make_net("rsnn_f32", learning_rule="eprop", precision="float")
    x, labels = batch(2)
    w = {k: v.astype(np.float32).astype(np.float64) for k, v in net.get_weights().items()}
    net.set_weights(w)
    res = net.train_iteration(x, labels, return_details=True)
    ref = reference_forward(net, w, x)
    np.testing.assert_array_equal(res["trajectory"].z, ref.z)
    _, G = reference_gradients(net, ref, labels)
    mask = masks_ji(net)
    for k in ("W_in", "W_rec", "W_out", "b_out"):
        assert rel_err(res["gradients"][k], G[k] * mask[k]) <= 1e-4, k


# ============================================================================ Dale's law, adjacency

def test_dale_and_adjacency_hold_over_20_iterations():
    net = make_net("rsnn_dale", learning_rule="mdgl", learning_rate=0.05)   # large steps: synapses go dormant
    assert net.dale_ok() and net.adjacency_ok()
    w0 = net.get_weights()
    sign0 = {k: np.sign(w0[k]) for k in ("W_in", "W_rec", "W_out")}
    nnz0 = dict(net.nnz)
    masks0 = {k: v.copy() for k, v in net._masks.items()}
    parked_total = 0
    for it in range(20):
        x, labels = batch(100 + it, steps=100)
        res = net.train_iteration(x, labels)
        parked_total += sum(res["parked"].values())
        assert net.dale_ok(), f"Dale's law broken at iteration {it}"
        assert net.adjacency_ok(), f"adjacency changed at iteration {it}"
        w = net.get_weights()
        for k in sign0:
            np.testing.assert_array_equal(np.sign(w[k]), sign0[k], err_msg=f"{k}: a sign flipped at iteration {it}")
        theta = net.get_state()["params"]
        for k, parked in net._last_parked.items():
            assert np.all(theta[k][parked] == dale.PARKED_THETA)       # parked exactly at 1e-12
    assert parked_total > 0, "test design: some synapses should have been parked"
    assert net.nnz == nnz0
    for k in masks0:
        np.testing.assert_array_equal(net._masks[k], masks0[k])
    assert np.all(np.diagonal(net.get_weights()["W_rec"]) == 0)


# ============================================================================ state

def test_state_round_trip_is_bit_identical():
    net = make_net("rsnn_state", learning_rule="eprop", feedback="random")
    batches = [batch(200 + k, steps=80) for k in range(4)]
    for xb, lb in batches[:2]:
        net.train_iteration(xb, lb)
    saved = net.get_state()
    saved["params"]["rec"][0, 0] += 0.0              # get_state returns copies: mutating them is harmless
    for xb, lb in batches[2:]:
        net.train_iteration(xb, lb)
    straight = net.get_state()
    w_straight = net.get_weights()
    # resume in the same object and in a fresh one
    net.set_state(saved)
    fresh = make_net("rsnn_state", learning_rule="eprop", feedback="random")
    fresh.set_state(saved)
    for other in (net, fresh):
        assert other.iteration == 2
        for xb, lb in batches[2:]:
            other.train_iteration(xb, lb)
        resumed = other.get_state()
        assert resumed["iteration"] == straight["iteration"] == 4
        for part in ("params", "adam_m", "adam_v"):
            for k in straight[part]:
                np.testing.assert_array_equal(resumed[part][k], straight[part][k], err_msg=f"{part}/{k}")
        for k, v in other.get_weights().items():
            np.testing.assert_array_equal(v, w_straight[k])
    # set_weights / get_weights round trip
    net.set_weights(w_straight)
    for k, v in net.get_weights().items():
        np.testing.assert_array_equal(v, w_straight[k])


@pytest.mark.parametrize("learning_rule", ["bptt", "eprop"])
def test_readout_scale_reparametrises_the_readout(learning_rule):
    """readout_scale s: the model runs W_out = s theta_out, b_out = s b (the MDGL reference's
    parametrisation for s = 1 - kappa); the forward pass and dE/dW are those of a plain network with
    the same model weights, and Adam / DEEP R act on theta with dE/dtheta = s dE/dW."""
    scaled = make_net(f"rsnn_rs_{learning_rule}", learning_rule=learning_rule, readout_scale="reference")
    s = scaled.readout_scale
    assert s == pytest.approx(1.0 - scaled.params.kappa)
    plain = make_net(f"rsnn_rs_plain_{learning_rule}", learning_rule=learning_rule)
    w = scaled.get_weights()
    w["b_out"] = np.array([0.3, -0.2]) * s
    scaled.set_weights(w)
    np.testing.assert_allclose(scaled._p["b_out"], [0.3, -0.2], rtol=1e-15)
    plain.set_weights(w)
    # test design: the same initial parameters give a readout s times smaller than the plain net's
    default = make_net(f"rsnn_rs_plain_{learning_rule}", learning_rule=learning_rule).get_weights()
    np.testing.assert_allclose(scaled.get_weights()["W_out"], s * default["W_out"], rtol=1e-15)
    x, labels = batch(31)
    state0 = scaled.get_state()
    r_s = scaled.train_iteration(x, labels, return_details=True)
    r_p = plain.train_iteration(x, labels, return_details=True)
    assert r_s["loss"] == r_p["loss"]
    for k in r_p["gradients"]:
        np.testing.assert_array_equal(r_s["gradients"][k], r_p["gradients"][k], err_msg=k)
    G = dict(r_s["gradients"])
    G["W_out"], G["b_out"] = G["W_out"] * s, G["b_out"] * s          # dE/dtheta, dE/db (parameters)
    expected = numpy_adam_deep_r(scaled, state0, G)
    for k, val in expected.items():
        np.testing.assert_allclose(scaled.get_state()["params"][k], val, rtol=1e-12, atol=1e-15, err_msg=k)


# ============================================================================ errors

@pytest.mark.parametrize("kw, msg", [
    (dict(learning_rule="rtrl"), "learning_rule must be one of 'bptt', 'eprop', 'mdgl'"),
    (dict(feedback="broadcast"), "feedback must be one of 'symmetric', 'random'"),
    (dict(learning_rule="bptt", feedback="random"), "BPTT computes the exact gradient"),
    (dict(learning_rule="mdgl", dale=False), "mdgl' needs dale=True"),
    (dict(tau_m=-5.0), "tau_m must be a positive time constant"),
    (dict(tau_a=0.0), "tau_a must be a positive time constant"),
    (dict(tau_out="20"), "tau_out must be a positive time constant"),
    (dict(v_th=0.0), "v_th must be a positive threshold"),
    (dict(beta=-1.0), "beta must be a finite number >= 0"),
    (dict(e_fraction=1.2), "e_fraction .* strictly between 0 and 1"),
    (dict(e_fraction=0.3), "inhibitory neurons must be LIF"),
    (dict(e_fraction=0.99), "needs excitatory and inhibitory recurrent neurons"),
    (dict(connectivity=0.0), r"connectivity must lie in \(0, 1\]"),
    (dict(out_connectivity=1.5), r"out_connectivity must lie in \(0, 1\]"),
    (dict(batch_size=0), "batch_size must be an integer >= 1"),
    (dict(n_ref=-1), "n_ref must be an integer >= 0"),
    (dict(refractory="tf"), "refractory must be one of 'lsnn', 'eprop'"),
    (dict(loss="mse"), "loss must be one of 'final', 'window'"),
    (dict(trace="exact"), "trace must be one of"),
    (dict(learning_rate=-1e-3), "learning_rate must be a positive number"),
    (dict(adam_beta1=1.0), r"adam_beta1 must lie in \[0, 1\)"),
    (dict(reg_c=-0.1), "reg_c .* must be a finite number >= 0"),
    (dict(lsnn_scaling="yes"), "lsnn_scaling must be True or False"),
    (dict(precision="half"), "precision must be 'float' or 'double'"),
    (dict(readout_scale="tf"), "readout_scale must be a positive number or 'reference'"),
    (dict(readout_scale=0.0), "readout_scale must be a positive number or 'reference'"),
])
def test_constructor_errors(kw, msg):
    with pytest.raises(ValueError, match=msg):
        make_net("rsnn_err", **kw)


@pytest.mark.parametrize("sizes, msg", [
    ((8, 0, 0, 2), "n_lif \\+ n_alif must be >= 1"),
    ((8, -1, 10, 2), "n_lif must be an integer >= 0"),
    ((0, 10, 10, 2), "n_in must be an integer >= 1"),
    ((8, 10, 10, 1), "n_out must be an integer >= 2"),
    ((8, 10, 2.5, 2), "n_alif must be an integer >= 0"),
])
def test_size_errors(sizes, msg):
    with pytest.raises(ValueError, match=msg):
        RecurrentSNN(*sizes, **SMALL)


@pytest.fixture(scope="module")
def small_net():
    return make_net("rsnn_inputs", learning_rule="bptt", loss="window", n_window=20)


@pytest.mark.parametrize("make, msg", [
    (lambda x, l: (x[0], l), r"inputs must have shape \(batch, T, n_in=8\)"),
    (lambda x, l: (x[:, :, :5], l), r"inputs must have shape \(batch, T, n_in=8\)"),
    (lambda x, l: (x[:3], l[:3]), "batch size mismatch: the network was built for batch_size=4, got inputs with 3"),
    (lambda x, l: (x[:, :10], l), "shorter than the loss window n_window=20"),
    (lambda x, l: (np.where(x > 0, np.nan, x), l), "inputs contain non-finite values"),
    (lambda x, l: (x, l[:3]), r"labels must have shape \(batch_size=4,\)"),
    (lambda x, l: (x, l + 2), r"labels must lie in 0..1"),
    (lambda x, l: (x, l + 0.5), "labels must be integers"),
])
def test_input_errors(small_net, make, msg):
    x, labels = batch(3, steps=40)
    args = make(x, labels)
    with pytest.raises(ValueError, match=msg):
        small_net.train_iteration(*args)
    with pytest.raises(ValueError, match=msg):
        small_net.evaluate(*args)


def test_weight_and_state_errors(small_net):
    w = small_net.get_weights()
    bad = dict(w)
    bad["W_rec"] = -w["W_rec"]
    with pytest.raises(ValueError, match="W_rec violates Dale's law"):
        small_net.set_weights(bad)
    bad = dict(w)
    bad["W_in"] = w["W_in"] + 0.1 * (w["W_in"] == 0)
    with pytest.raises(ValueError, match="W_in has .* non-zero weights outside the fixed adjacency"):
        small_net.set_weights(bad)
    with pytest.raises(ValueError, match=r"W_out must have shape \(2, 20\)"):
        small_net.set_weights({**w, "W_out": w["W_out"].T})
    with pytest.raises(ValueError, match="missing \\['b_out'\\]"):
        small_net.set_weights({k: v for k, v in w.items() if k != "b_out"})
    other = make_net("rsnn_inputs_other", learning_rule="bptt", seed=7)
    with pytest.raises(ValueError, match="different adjacency"):
        small_net.set_state(other.get_state())
    with pytest.raises(ValueError, match="missing"):
        small_net.set_state({"iteration": 0})
    dense = make_net("rsnn_dense_err", learning_rule="bptt", dale=False)
    with pytest.raises(ValueError, match="dale_ok\\(\\) needs a network built with dale=True"):
        dense.dale_ok()
    assert dense.adjacency_ok()


# ============================================================================ learning smoke test

def easy_batch(rng, batch_size=8, steps=60):
    """Label 0: channels 0-3 fire during steps 5-25, label 1: channels 4-7; weak noise elsewhere."""
    labels = np.arange(batch_size) % 2
    x = rng.poisson(0.02, (batch_size, steps, N_IN)).astype(np.float64)
    for b in range(batch_size):
        ch = slice(0, 4) if labels[b] == 0 else slice(4, 8)
        x[b, 5:25, ch] = rng.poisson(0.3, (20, 4))
    return x, labels


def test_bptt_learns_easy_task():
    net = make_net("rsnn_smoke", learning_rule="bptt", batch_size=8, connectivity=0.5, learning_rate=0.01, seed=3)
    rng = np.random.default_rng(0)
    batches = [easy_batch(rng) for _ in range(4)]
    x_val, l_val = easy_batch(np.random.default_rng(99))
    before = net.evaluate(x_val, l_val)
    losses = [net.train_iteration(*batches[i % 4])["loss"] for i in range(30)]
    after = net.evaluate(x_val, l_val)
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    assert after["loss"] < 0.5 * before["loss"]
    assert after["accuracy"] >= 0.875
    assert net.dale_ok() and net.adjacency_ok()
