"""The compiled adjoint pass (networks.snn_adjoint) against its NumPy shadow (networks.snn_gradients):
BPTT with every stopped-path variant, MDGL with both trace forms, both modulation modes, random
feedback and the rate regulariser; 1 vs 2 threads bit-identical; bad arguments. float64; the sums
run in another order, so the tolerance is the spec's 1e-12 for reordered sums."""
import numpy as np
import pytest

from networks import snn_adjoint
from networks.snn_gradients import (bptt_gradients, cross_entropy_final, forward, mdgl_gradients,
                                    modulation_weights, rate_regulariser, readout_gradients)
from test_snn_gradients import mdgl_net, small_net


def rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - b)) / np.max(np.abs(b)))


def trajectory(kind, seed=0):
    if kind == "mdgl":
        p, W_in, W_rec, W_out, b_out, x, sign, labels = mdgl_net(seed=seed)
    else:
        p, W_in, W_rec, W_out, b_out, x, rng = small_net(lsnn_scaling=True, refractory="lsnn", batch=3, T=80,
                                                         seed=seed)
        sign, labels = None, np.array([0, 1, 0])
    traj = forward(p, W_in, W_rec, W_out, b_out, x)
    _, dE_dy = cross_entropy_final(traj.y, labels)
    return traj, dE_dy, sign


@pytest.mark.parametrize("stop", [(), ("recurrent",), ("reset",), ("adaptation",), ("recurrent", "reset")])
@pytest.mark.parametrize("reg_c", [0.0, 0.3])
def test_weight_gradients_equal_numpy_bptt(stop, reg_c):
    traj, dE_dy, _ = trajectory("bptt")
    p = traj.params
    ref = bptt_gradients(traj, dE_dy, stop=stop, reg_c=reg_c, keep_signals=False)
    _, _, dy = readout_gradients(traj, dE_dy)
    direct = rate_regulariser(traj, reg_c)[1] if reg_c else None
    G_in, G_rec = snn_adjoint.weight_gradients(
        traj, dy, traj.W_out, direct=direct,
        recurrent=None if "recurrent" in stop else p.s_in * traj.W_rec,
        reset="reset" not in stop, adaptation="adaptation" not in stop)
    assert rel(G_in, ref.W_in) <= 1e-12
    assert rel(G_rec, ref.W_rec) <= 1e-12
    assert np.all(np.diag(G_rec) == 0)


def test_bptt_wrapper_equals_numpy():
    traj, dE_dy, _ = trajectory("bptt", seed=1)
    ref = bptt_gradients(traj, dE_dy, reg_c=0.2, keep_signals=False)
    G, reg_loss = snn_adjoint.bptt(traj, dE_dy, reg_c=0.2)
    for k, v in ref.as_dict().items():
        assert rel(G[k], v) <= 1e-12, k
    assert reg_loss == ref.reg_loss


@pytest.mark.parametrize("trace", ["lsnn", "bellec"])
@pytest.mark.parametrize("modulation", ["EI", "exact"])
@pytest.mark.parametrize("feedback", ["symmetric", "random"])
def test_mdgl_equals_numpy_adjoint(trace, modulation, feedback):
    traj, dE_dy, sign = trajectory("mdgl")
    fb = feedback if feedback == "symmetric" else np.random.default_rng(5).normal(0, 1, (traj.params.n_rec, 2))
    ref = mdgl_gradients(traj, dE_dy, sign, method="adjoint", trace=trace, modulation=modulation, feedback=fb,
                         reg_c=0.1)
    G, reg_loss = snn_adjoint.mdgl(traj, dE_dy, sign, trace=trace, modulation=modulation, feedback=fb, reg_c=0.1)
    for k, v in ref.as_dict().items():
        assert rel(G[k], v) <= 1e-12, k
    assert reg_loss == ref.reg_loss
    # test design: the modulatory path matters here (dropping it changes the gradient)
    _, _, dy = readout_gradients(traj, dE_dy)
    G_in, G_rec = snn_adjoint.weight_gradients(
        traj, dy, (traj.W_out.T if feedback == "symmetric" else fb).T, direct=rate_regulariser(traj, 0.1)[1],
        reset=trace == "lsnn")
    assert rel(G_rec, ref.W_rec) > 1e-6


def test_one_vs_two_threads_identical():
    traj, dE_dy, sign = trajectory("mdgl", seed=4)
    one = snn_adjoint.mdgl(traj, dE_dy, sign, num_threads=1)[0]
    two = snn_adjoint.mdgl(traj, dE_dy, sign, num_threads=2)[0]
    for k in one:
        np.testing.assert_array_equal(one[k], two[k], err_msg=k)


def test_bad_arguments_name_the_array():
    traj, dE_dy, sign = trajectory("mdgl")
    _, _, dy = readout_gradients(traj, dE_dy)
    with pytest.raises(ValueError, match=r"dy must have shape \(3, 400, 2\)"):
        snn_adjoint.weight_gradients(traj, dy[:, :10], traj.W_out)
    with pytest.raises(ValueError, match=r"F must have shape \(2, 24\)"):
        snn_adjoint.weight_gradients(traj, dy, traj.W_out.T)
    with pytest.raises(ValueError, match=r"matrix must have shape \(24, 24\)"):
        snn_adjoint.weight_gradients(traj, dy, traj.W_out, modulation=np.ones((3, 3)))
    _, _, W_mod = modulation_weights(traj.W_rec, sign)
    assert W_mod.shape == (24, 24)
