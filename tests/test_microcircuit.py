"""The dendritic microcircuit on neurogen: the spec's smallest faithful tests (microcircuit_le_pal.md
section 12) run on the generated model itself (the NumPy shadow comparisons are in
test_microcircuit_shadow.py)."""
import numpy as np
import pytest

from datasets import yinyang_splits
from networks.microcircuit import Microcircuit, MicrocircuitError

FA = {"eta": {"up": [50.0, 0.01], "down": [0.0, 0.0], "ip": [0.05, 0.0], "pi": [0.0, 0.0]}, "noise_sig": 0.0}
PAL = {"eta": {"up": [50.0, 0.01], "down": [0.0, 0.5], "ip": [0.05, 0.0], "pi": [0.02, 0.0]}, "noise_sig": 0.01}
FROZEN = {"eta": {"up": [0.0, 0.0], "down": [0.0, 0.0], "ip": [0.0, 0.0], "pi": [0.0, 0.0]}, "noise_sig": 0.0}


def random_data(n, n_in=4, n_out=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 1.0, (n, n_in)), rng.integers(0, n_out, n)


def views(pop, *names):
    return [np.array(pop.vars[n].view, dtype=np.float64) for n in names]


def test_latent_equilibrium_prospective_voltage_is_the_effective_potential():
    """MC-T1: u_hat = u_eff = [g_b v_B + g_a (v_A + xi)] / g_tot to rounding (float64), with noise on."""
    X, y = random_data(20)
    net = Microcircuit([4, 30, 3], {**PAL}, {"training": (X, y)}, precision="double", steps_per_sample=10,
                       recs_per_sample=2)
    net.prepare_stage("training", True)
    for _ in range(25):
        net.model.run(7)
        V, vB, vA, xi, u_hat = views(net.pyr[1], "V", "v_B", "v_A", "xi", "u_hat")
        u_eff = (0.1 * vB + 0.06 * (vA + xi)) / 0.19
        np.testing.assert_allclose(u_hat, u_eff, rtol=1e-14, atol=1e-15)
    assert np.std(views(net.pyr[1], "xi")[0]) > 0


def test_soma_relaxes_with_the_closed_form_of_the_euler_update():
    """MC-T1: with constant u_eff, V_k = u_eff (1 - (1 - dt g_tot)^k) from V_0 = 0."""
    X = np.full((1, 4), 0.5)
    net = Microcircuit([4, 30, 3], FROZEN, {"training": (X, np.array([0]))}, precision="double",
                       steps_per_sample=400, recs_per_sample=2,
                       weights={"up1": np.full((4, 30), 0.1), "up2": np.zeros((30, 3)), "fb1": np.zeros((3, 30)),
                                "ip1": np.zeros((30, 3)), "pi1": np.zeros((3, 30))})
    net.prepare_stage("training", False)
    # input reaches the hidden basal dendrite one step after the player switched (step 0)
    net.model.run(1)
    Vs = []
    for _ in range(300):
        net.model.run(1)
        Vs.append(views(net.pyr[1], "V")[0][0])
    u_eff = 0.1 * (4 * 0.1 * 0.5) / 0.19
    k = np.arange(1, 301)
    np.testing.assert_allclose(Vs, u_eff * (1.0 - (1.0 - 0.01 * 0.19) ** k), rtol=1e-12)


def test_signal_delays_per_hop():
    """MC-T2: an input switch at step n changes hidden basal at n+1, output basal and interneuron
    dendrite at n+2, interneuron soma input and hidden apical at n+3 (spec 6)."""
    X = np.array([[0.2, 0.4, 0.6, 0.8], [0.9, 0.1, 0.3, 0.5]])
    net = Microcircuit([4, 30, 3], {**FROZEN, "start_in_self_predict": False}, {"training": (X, np.array([0, 1]))},
                       precision="double", steps_per_sample=50, recs_per_sample=2)
    probes = {"hidden basal": (net.pyr[1], "v_B"), "output basal": (net.output, "v_B"),
              "interneuron dendrite": (net.inter[1], "v_D"), "interneuron soma": (net.inter[1], "v_down"),
              "hidden apical": (net.pyr[1], "v_A")}
    net.prepare_stage("training", False)
    history = {k: [] for k in probes}
    for _ in range(60):                       # history[i]: state after step i; sample 2 starts at step 50
        net.model.run(1)
        for k, (pop, var) in probes.items():
            history[k].append(views(pop, var)[0].copy())
    expected = {"hidden basal": 1, "output basal": 2, "interneuron dendrite": 2, "interneuron soma": 3,
                "hidden apical": 3}
    for k, lag in expected.items():
        h = np.array(history[k])
        # nothing moves in the steps before the switch arrives, everything moves in the step it does
        for step in range(50, 50 + lag):
            assert np.max(np.abs(h[step] - h[step - 1])) <= 1e-7 * np.max(np.abs(h[step])), (k, step)
        assert np.max(np.abs(h[50 + lag] - h[49 + lag])) > 1e-4, (k, 50 + lag)


def test_self_predicting_start_cancels_the_apical_potential():
    """MC-T3: self-predicting initialisation, no noise, no learning, inputs held 10 steps: the apical
    potential vanishes (< 1e-8, float64) from step 9 after every input switch."""
    X, y = random_data(30, seed=3)
    net = Microcircuit([4, 30, 3], FA, {"validation": (X, y)}, precision="double", steps_per_sample=10,
                       recs_per_sample=2, seeds=[123456])
    net.prepare_stage("validation", False)
    worst = 0.0
    for sample in range(30):
        for s in range(10):
            net.model.run(1)
            if s == 9 and sample > 0:
                vA, = views(net.pyr[1], "v_A")
                worst = max(worst, np.max(np.abs(vA)))
                r_i, r_d = views(net.inter[1], "r", "r_D")
                assert np.max(np.abs(r_i - r_d)) < 1e-8
    assert worst < 1e-8


def test_bp_mode_sets_transposed_feedback_at_every_epoch_start():
    """MC-T7: set_wBackw_to_wTransp: at each epoch start angle(W_out^T, B) = 0 and W_PI = -W_out^T."""
    X, y = random_data(40, seed=4)
    p = {**FA, "set_wBackw_to_wTransp": True}
    net = Microcircuit([4, 30, 3], p, {"training": (X, y)}, precision="double")
    for epoch in range(2):
        net.epoch_start()
        w = net.get_weights()
        assert np.array_equal(w["fb1"], w["up2"].T) and np.array_equal(w["pi1"], -w["up2"].T)
        assert net.alignment_angles()[0, 0] == pytest.approx(0.0, abs=1e-5)
        net.run_stage("training", True)
        assert net.alignment_angles()[0, 0] > 0.0


def test_bp_mode_for_two_hidden_layers():
    X, y = random_data(10, seed=5)
    p = {"eta": {"up": [1.0, 1.0, 0.01], "down": [0, 0, 0], "ip": [0.05, 0.05], "pi": [0, 0]},
         "set_wBackw_to_wTransp": True}
    net = Microcircuit([4, 8, 6, 3], p, {"training": (X, y)}, precision="double")
    net.epoch_start()
    w = net.get_weights()
    for l in (1, 2):
        assert np.array_equal(w[f"fb{l}"], w[f"up{l + 1}"].T)
    np.testing.assert_allclose(net.alignment_angles()[0], 0.0, atol=1e-5)
    r = net.run_stage("training", True)
    assert np.all(np.isfinite(r.error))


@pytest.mark.parametrize("sigma,eta_bw", [(0.1, 5.0), (0.0, 5.0), (0.1, 0.0)])
def test_pal_aligns_feedback_with_the_forward_weights(sigma, eta_bw):
    """MC-T6: W_out frozen at U(-1, 1), B from U(-0.01, 0.01), sigma 0.1, eta_bw 5, constant input and
    target with the teacher on: angle(W_out^T, B) falls from ~90 deg below 35 deg in 40k steps and
    below 15 deg in 200k; without noise or without eta_bw it does not move."""
    rng = np.random.default_rng(11)
    X = np.tile(rng.uniform(0, 1, (1, 4)), (200, 1))
    y = np.zeros(200, dtype=int)
    p = {"eta": {"up": [0.0, 0.0], "down": [0.0, eta_bw], "ip": [0.0, 0.0], "pi": [0.02, 0.0]},
         "noise_sig": sigma, "alpha": 1e-6, "init_weights": {"up": 1.0, "down": 0.01, "ip": 0.1, "pi": 1.0}}
    if eta_bw == 0.0:
        p["eta"]["down"] = [0.0, 0.0]
    net = Microcircuit([4, 30, 3], p, {"training": (X, y)}, precision="double", steps_per_sample=1000,
                       recs_per_sample=2, seeds=[123460], noise_seed=7)
    a0 = net.alignment_angles()[0, 0]
    net.prepare_stage("training", True)
    net.model.run(40_000)
    a40 = net.alignment_angles()[0, 0]
    net.model.run(160_000)
    a200 = net.alignment_angles()[0, 0]
    if sigma > 0 and eta_bw > 0:
        assert 60 < a0 < 120 and a40 < 35 and a200 < 15, (a0, a40, a200)
    else:
        assert abs(a200 - a0) < 0.1, (a0, a200)


def test_feedback_alignment_training_smoke():
    """MC-T8: FA config, first 600 training / all 900 validation samples of the PAL yin-yang splits:
    epoch-0 validation accuracy 0.3456 (the untrained net predicts class 0: 311 of 900), >= 0.65 after
    12 epochs, and the W-B angle drops from its seed-dependent start (78-110 deg) to <= 65 deg."""
    sp = yinyang_splits("pal")
    (Xt, yt), (Xv, yv) = sp["train"], sp["validation"]
    net = Microcircuit([4, 30, 3], FA, {"training": (Xt[:600], yt[:600]), "validation": (Xv, yv)},
                       precision="float", seeds=[123456, 123457])
    angle0 = net.alignment_angles()[:, 0]
    assert np.all((78 < angle0) & (angle0 < 110.5))
    first = net.run_stage("validation", False)
    np.testing.assert_allclose(first.accuracy, 311 / 900)
    for epoch in range(12):
        rngs = [np.random.default_rng([s, 0, epoch]) for s in net.seeds]
        net.run_stage("training", True, net.stage_order("training", rngs))
    last = net.run_stage("validation", False)
    assert np.all(last.accuracy >= 0.65), last.accuracy
    assert np.all(net.alignment_angles()[:, 0] <= 65)


def test_batched_seeds_equal_separate_runs_without_noise():
    """Two seeds as one batched simulation give each seed's separate run (FA: no noise stream), to
    rounding: the vectorised transfer function may take different SIMD paths for different layouts."""
    X, y = random_data(60, seed=8)
    both = Microcircuit([4, 30, 3], FA, {"training": (X, y)}, precision="double", seeds=[1, 2])
    one = Microcircuit([4, 30, 3], FA, {"training": (X, y)}, precision="double", seeds=[2])
    orders = both.stage_order("training", [np.random.default_rng(s) for s in (1, 2)])
    rb = both.run_stage("training", True, orders)
    r1 = one.run_stage("training", True, orders[1:])
    for k, v in one.get_weights(0).items():
        np.testing.assert_allclose(both.get_weights(1)[k], v, rtol=1e-11, atol=1e-14)
    np.testing.assert_array_equal(rb.predictions[1], r1.predictions[0])


def test_state_round_trip_continues_bit_identically():
    """get_state/set_state (checkpoints): a restored network continues exactly like the original,
    the OU noise included (it is keyed by the time step)."""
    X, y = random_data(50, seed=9)
    a = Microcircuit([4, 30, 3], PAL, {"training": (X, y)}, precision="float")
    a.run_stage("training", True)
    state = a.get_state()
    b = Microcircuit([4, 30, 3], PAL, {"training": (X, y)}, precision="float")
    b.set_state(state)
    ra, rb = a.run_stage("training", True), b.run_stage("training", True)
    np.testing.assert_array_equal(ra.error, rb.error)
    for k, v in a.get_state().items():
        np.testing.assert_array_equal(b.get_state()[k], v, err_msg=k)


def test_bad_network_descriptions_are_clear():
    X, y = random_data(5)
    with pytest.raises(MicrocircuitError, match="at least three"):
        Microcircuit([4, 3], FA, {"training": (X, y)})
    with pytest.raises(MicrocircuitError, match=r"eta.up needs 2 entries"):
        Microcircuit([4, 30, 3], {"eta": {"up": [1.0], "down": [0, 0]}}, {"training": (X, y)})
    with pytest.raises(MicrocircuitError, match=r"training inputs have shape \(5, 4\)"):
        Microcircuit([5, 30, 3], FA, {"training": (X, y)})
    with pytest.raises(MicrocircuitError, match="labels"):
        Microcircuit([4, 30, 2], FA, {"training": (X, np.full(5, 2))})
    with pytest.raises(MicrocircuitError, match="bias"):
        Microcircuit([4, 30, 3], {**FA, "bias": {"on": True, "val": 1.0}}, {"training": (X, y)})
    net = Microcircuit([4, 30, 3], FA, {"training": (X, y)})
    with pytest.raises(MicrocircuitError, match="no data for stage 'testing'"):
        net.run_stage("testing", False)
    with pytest.raises(MicrocircuitError, match="unknown population 'pyr9'"):
        Microcircuit([4, 30, 3], FA, {"training": (X, y)}, trace_vars=[("pyr9", "r")], trace_samples=1)
