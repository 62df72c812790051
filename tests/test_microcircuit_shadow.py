"""The generated microcircuit against its independent NumPy shadow (tests/shadows/microcircuit_numpy.py):
MC-T5 (every plasticity rule, with noise, over hundreds of steps) and the readout of spec 7.

The engine draws its OU noise from Philox; the shadow is fed the same N(0,1) draws, recovered
from the engine's xi trajectory: n_k = (xi_k - (1 - dt/tau) xi_{k-1}) / (sigma sqrt(dt/tau))."""
import math

import numpy as np
import pytest

from networks.microcircuit import Microcircuit
from shadows.microcircuit_numpy import NumpyMicrocircuit

PAL = {"eta": {"up": [50.0, 0.01], "down": [0.0, 0.5], "ip": [0.05, 0.0], "pi": [0.02, 0.0]}, "noise_sig": 0.01}
DEEP = {"eta": {"up": [20.0, 5.0, 0.05], "down": [0.0, 0.5, 0.3], "ip": [0.05, 0.04], "pi": [0.02, 0.03]},
        "noise_sig": 0.02}
NEURON_VARS = {"hidden": ("V", "v_B", "v_A", "xi", "u_hat", "r", "r_last", "r_B", "h"),
               "inter": ("V", "v_D", "v_down", "u_hat", "r", "r_last", "r_D"),
               "output": ("V", "v_B", "v_T", "u_hat", "r", "r_last", "r_B", "h")}


def close(a, b, rtol, what):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(b)))) if b.size else 1.0
    err = float(np.max(np.abs(a - b))) / scale if a.size else 0.0
    assert err <= rtol, f"{what}: max error {err:.3g} relative to {scale:.3g} exceeds {rtol}"


def compare(net, sh, rtol):
    w = net.get_weights()
    for l in range(1, net.L + 1):
        close(w[f"up{l}"], sh.W_up[l], rtol, f"W_up{l}")
    for l in range(1, net.L):
        close(w[f"fb{l}"], sh.B[l], rtol, f"B{l}")
        close(w[f"ip{l}"], sh.W_IP[l], rtol, f"W_IP{l}")
        close(w[f"pi{l}"], sh.W_PI[l], rtol, f"W_PI{l}")
        for name, shadow_delta in ((f"ip{l}", sh.D_IP[l]), (f"pi{l}", sh.D_PI[l])):
            if "delta" in net.syn[name].vars:
                close(net.syn[name].vars["delta"].view, shadow_delta.ravel(), rtol, f"Delta {name}")
        for v in NEURON_VARS["hidden"]:
            close(net.pyr[l].vars[v].view, sh.hidden[l][v], rtol, f"pyr{l}.{v}")
        for v in NEURON_VARS["inter"]:
            close(net.inter[l].vars[v].view, sh.inter[l][v], rtol, f"int{l}.{v}")
    for l in range(1, net.L + 1):
        if "delta" in net.syn[f"up{l}"].vars:
            close(net.syn[f"up{l}"].vars["delta"].view, sh.D_up[l].ravel(), rtol, f"Delta up{l}")
    for v in NEURON_VARS["output"]:
        close(net.output.vars[v].view, sh.output[v], rtol, f"output.{v}")


def run_side_by_side(dims, params, precision, n_steps, steps_per_sample=20, seed=123456, phases=(True,)):
    dtype = np.float64 if precision == "double" else np.float32
    rng = np.random.default_rng(5)
    n = n_steps // steps_per_sample + 1
    X, y = rng.uniform(0, 1, (n, dims[0])), rng.integers(0, dims[-1], n)
    targets = np.full((n, dims[-1]), 0.1)
    targets[np.arange(n), y] = 1.0
    net = Microcircuit(dims, params, {"training": (X, y), "validation": (X, y)}, seeds=[seed], precision=precision,
                       steps_per_sample=steps_per_sample, recs_per_sample=2, noise_seed=99)
    sh = NumpyMicrocircuit(dims, {**params, "dt": 0.01}, dtype=dtype, seed=seed)
    compare(net, sh, 0.0)                          # same RandomState draws in the same order
    k_xi = 0.01 / 0.1
    scale = params["noise_sig"] * math.sqrt(0.01 / 0.1)
    xi_old = [np.zeros(dims[l]) for l in range(1, net.L)]
    moved = False
    for learning in phases:
        order = net.prepare_stage("training" if learning else "validation", learning)[0]
        for step in range(n_steps):
            net.model.run(1)
            xi_new = [np.array(net.pyr[l].vars["xi"].view, dtype=np.float64) for l in range(1, net.L)]
            normals = [(xn - (1 - k_xi) * xo) / scale for xn, xo in zip(xi_new, xi_old)]
            xi_old = xi_new
            s = step % steps_per_sample
            sample = order[step // steps_per_sample]
            sh.step(X[sample] if s == 0 else None, targets[sample] if s == 0 else None, learning_on=learning,
                    xi=normals)
        moved = moved or learning
        # both finish the stage on a sample boundary, so the next prepare_stage lines up
        pad = (-n_steps) % steps_per_sample
        if pad:
            for step in range(n_steps, n_steps + pad):
                net.model.run(1)
                xi_new = [np.array(net.pyr[l].vars["xi"].view, dtype=np.float64) for l in range(1, net.L)]
                normals = [(xn - (1 - k_xi) * xo) / scale for xn, xo in zip(xi_new, xi_old)]
                xi_old = xi_new
                sh.step(None, None, learning_on=learning, xi=normals)
    return net, sh


def test_every_rule_matches_the_shadow_float64():
    """MC-T5: 4-30-3, all four rules on, sigma 0.01, 300 steps: weights, increments and every neuron
    variable equal the shadow's to 1e-12 (float64)."""
    net, sh = run_side_by_side([4, 30, 3], PAL, "double", 300)
    w0 = net.initial_weights(123456)
    w = net.get_weights()
    for name in ("up1", "up2", "fb1", "ip1", "pi1"):
        assert not np.array_equal(w[name], w0[name]), f"{name} did not learn"
    compare(net, sh, 1e-12)


def test_two_hidden_layers_learning_off_then_on_match_the_shadow():
    net, sh = run_side_by_side([3, 6, 5, 2], DEEP, "double", 240, steps_per_sample=30, phases=(False, True, False))
    compare(net, sh, 1e-12)


def test_every_rule_matches_the_shadow_float32():
    """float32 against the float32 shadow, capped tolerance (different summation orders round differently)."""
    net, sh = run_side_by_side([4, 30, 3], PAL, "float", 300)
    compare(net, sh, 2e-4)


@pytest.mark.parametrize("variant", ["fa", "bp"])
def test_readout_matches_the_shadow(variant):
    """Spec 7 readout: predictions, accuracy and the RMS error over records 2-5 equal the shadow's
    (no noise, so the shadow needs no draws); BP mode resets B and W_PI at the epoch start in both."""
    rng = np.random.default_rng(8)
    X, y = rng.uniform(0, 1, (40, 4)), rng.integers(0, 3, 40)
    p = {"eta": {"up": [50.0, 0.01], "down": [0.0, 0.0], "ip": [0.05, 0.0], "pi": [0.0, 0.0]}, "noise_sig": 0.0,
         "set_wBackw_to_wTransp": variant == "bp"}
    net = Microcircuit([4, 30, 3], p, {"training": (X, y), "validation": (X, y)}, seeds=[123457], precision="double")
    sh = NumpyMicrocircuit([4, 30, 3], {**p, "dt": 0.01}, dtype=np.float64, seed=123457)
    for stage, learning in (("validation", False), ("training", True), ("validation", False)):
        net.epoch_start()
        sh.epoch_start()
        r = net.run_stage(stage, learning)
        s = sh.run_samples(X, y, learning_on=learning)
        if not learning:
            np.testing.assert_array_equal(r.predictions[0], s["predictions"])
            assert r.accuracy[0] == pytest.approx(s["accuracy"], abs=0)
        assert r.error[0] == pytest.approx(s["rms_error_used"], rel=1e-10)
    compare(net, sh, 1e-11)
