"""ALIF networks: analytic neuron, BPTT / e-prop / MDGL exactness, finite differences, batch
invariance and parameter errors (spec ``alif_eprop_mdgl.md`` section 11: AL-T1..T4, T6, T7).

All float64. "rel" is the max-norm relative difference max|a - b| / max|b|; tolerances are the
spec's (1e-12 for algebraically identical sums evaluated in a different order, 1e-13 for batch
splitting, 1e-7 / 1e-6 for finite differences whose truncation + rounding error is ~1e-9).
"""
import tracemalloc

import numpy as np
import pytest

from networks.snn_gradients import (
    ALIFParams, CELL_TYPES, bptt_gradients, cell_types, cross_entropy_final, cross_entropy_window,
    eligibility_traces, eprop_gradients, finite_difference_gradient, forward, mdgl_gradients,
    mdgl_gradients_materialised, modulatory_table, mse_loss, n_ref_from_blocked, rate_regulariser,
    window_prediction)


def rel(a, b):
    b = np.asarray(b)
    return float(np.max(np.abs(np.asarray(a) - b)) / np.max(np.abs(b)))


# ============================================================================ networks

def small_net(lsnn_scaling=False, refractory="eprop", n_ref=2, seed=0, batch=2, T=50, n_out=2):
    """AL-T2 network: 3 inputs, 4 LIF + 4 ALIF, 100 Hz Poisson inputs, v_th 0.62, beta 0.07,
    tau_a 500, n_ref 2 (LSNN-scaled weights are divided by 1 - alpha to keep the same drive)."""
    rng = np.random.default_rng(seed)
    n = 8
    p = ALIFParams(n_in=3, n_rec=n, n_out=n_out, tau_m=20.0, tau_a=500.0, tau_out=20.0, v_th=0.62,
                   beta=[0.0] * 4 + [0.07] * 4, n_ref=n_ref, refractory=refractory,
                   lsnn_scaling=lsnn_scaling)
    scale = 1.0 / (1.0 - p.alpha) if lsnn_scaling else 1.0
    W_in = rng.normal(0.0, 1.0, (n, 3)) * scale
    W_rec = rng.normal(0.0, 0.5, (n, n)) * scale
    np.fill_diagonal(W_rec, 0.0)
    W_out = rng.normal(0.0, 1.0, (n_out, n))
    b_out = rng.normal(0.0, 0.1, n_out)
    x = (rng.random((batch, T, 3)) < 0.1).astype(float)
    return p, W_in, W_rec, W_out, b_out, x, rng


def mdgl_net(lsnn_scaling=True, seed=3, batch=3, T=400):
    """AL-T4 network: N = 24 (5 I, half ALIF; I cells LIF), 8 inputs, 30 % connectivity of W_in,
    W_rec and W_out, Dale's law by presynaptic sign, 2 outputs, MDGL parameters (v_th 0.01,
    tau_a 2000, beta 1.8 LSNN-scaled, n_ref 5 LSNN convention)."""
    rng = np.random.default_rng(seed)
    n, n_in, n_out = 24, 8, 2
    sign = np.ones(n, dtype=int)
    sign[:5] = -1
    beta_lsnn = np.where(np.arange(n) >= n // 2, 1.8, 0.0)
    p = ALIFParams(n_in=n_in, n_rec=n, n_out=n_out, tau_m=20.0, tau_a=2000.0, tau_out=20.0, v_th=0.01,
                   beta=beta_lsnn if lsnn_scaling else beta_lsnn * (1.0 - np.exp(-1.0 / 2000.0)),
                   n_ref=5, refractory="lsnn", lsnn_scaling=lsnn_scaling)
    mask_rec = rng.random((n, n)) < 0.3
    np.fill_diagonal(mask_rec, False)
    W_rec = np.abs(rng.normal(0.0, 1.0, (n, n))) * sign[None, :] * mask_rec * 0.02
    W_in = np.abs(rng.normal(0.0, 1.0, (n, n_in))) * (rng.random((n, n_in)) < 0.3) * 0.06
    W_out = np.abs(rng.normal(0.0, 1.0, (n_out, n))) * sign[None, :] * (rng.random((n_out, n)) < 0.3)
    b_out = np.zeros(n_out)
    if not lsnn_scaling:
        W_in, W_rec = W_in * (1.0 - p.alpha), W_rec * (1.0 - p.alpha)
    x = rng.poisson(0.08, (batch, T, n_in)).astype(float)
    labels = rng.integers(0, n_out, batch)
    return p, W_in, W_rec, W_out, b_out, x, sign, labels


# ============================================================================ AL-T1 analytic neuron

def single(I, *, lsnn_scaling, beta=0.0, n_ref=0, refractory="lsnn", T=60, v_th=1.0):
    p = ALIFParams(n_in=1, n_rec=1, n_out=1, tau_m=20.0, tau_a=200.0, tau_out=20.0, v_th=v_th,
                   beta=beta, n_ref=n_ref, refractory=refractory, lsnn_scaling=lsnn_scaling)
    tr = forward(p, [[I]], [[0.0]], [[1.0]], [0.0], np.ones((1, T, 1)))
    return p, tr


@pytest.mark.parametrize("lsnn_scaling", [False, True])
def test_al_t1_subthreshold_ramp_first_spike_and_reset(lsnn_scaling):
    I = 0.07 if not lsnn_scaling else 1.4          # same effective drive in both forms
    p, tr = single(I, lsnn_scaling=lsnn_scaling)
    alpha = p.alpha
    k = np.arange(1, 61)                           # step t = k - 1 has seen k inputs
    closed = I * (1 - alpha ** k) / (1 - alpha) if not lsnn_scaling else I * (1 - alpha ** k)
    first = int(np.argmax(closed > p.v_th))        # closed-form first crossing
    spikes = np.flatnonzero(tr.z[0, :, 0])
    assert spikes[0] == first and 5 < first < 40
    np.testing.assert_allclose(tr.v[0, :first + 1, 0], closed[:first + 1], rtol=1e-13, atol=0)
    # reset subtracts exactly the baseline threshold v_th
    s_in = 1 - alpha if lsnn_scaling else 1.0
    assert tr.v[0, first + 1, 0] == pytest.approx(alpha * tr.v[0, first, 0] + s_in * I - p.v_th,
                                                  rel=1e-15, abs=1e-15)
    # psi: (gamma / v_th) max(0, 1 - |v~|)
    vs = tr.v_scaled[0, :, 0]
    np.testing.assert_allclose(tr.psi[0, :, 0], 0.3 / p.v_th * np.maximum(0, 1 - np.abs(vs)), rtol=1e-15)


@pytest.mark.parametrize("lsnn_scaling", [False, True])
def test_al_t1_alif_threshold_jump_and_decay(lsnn_scaling):
    beta = 0.2 if not lsnn_scaling else 0.2 / (1 - np.exp(-1 / 200.0))
    I = 0.07 if not lsnn_scaling else 1.4
    p, tr = single(I, lsnn_scaling=lsnn_scaling, beta=beta, T=120)
    spikes = np.flatnonzero(tr.z[0, :, 0])
    t1, t2 = spikes[0], spikes[1]
    jump = beta if not lsnn_scaling else beta * (1 - p.rho)
    ks = np.arange(1, t2 - t1 + 1)
    np.testing.assert_allclose(tr.threshold[0, t1 + ks, 0], p.v_th + jump * p.rho ** (ks - 1),
                               rtol=1e-14)
    assert np.all(tr.threshold[0, :t1 + 1, 0] == p.v_th)
    assert jump == pytest.approx(0.2)                # same threshold jump in both forms
    assert t2 - t1 > 3


@pytest.mark.parametrize("refractory, n_ref, gap", [("lsnn", 3, 4), ("eprop", 3, 3), ("lsnn", 0, 1),
                                                    ("eprop", 1, 1), ("eprop", 5, 5), ("lsnn", 5, 6)])
@pytest.mark.parametrize("lsnn_scaling", [False, True])
def test_al_t1_refractory_gaps(refractory, n_ref, gap, lsnn_scaling):
    I = 10.0 if not lsnn_scaling else 400.0          # suprathreshold every step
    p, tr = single(I, lsnn_scaling=lsnn_scaling, n_ref=n_ref, refractory=refractory, T=40)
    assert p.n_blocked == gap - 1
    assert n_ref_from_blocked(p.n_blocked, refractory) == n_ref
    spikes = np.flatnonzero(tr.z[0, :, 0])
    assert spikes[0] == 0
    np.testing.assert_array_equal(np.diff(spikes), gap)
    refr = tr.refractory[0, :, 0]
    expected = np.zeros(40, dtype=bool)
    for s in spikes:
        expected[s + 1:s + gap] = True
    np.testing.assert_array_equal(refr, expected)
    assert np.all(tr.psi[0, refr, 0] == 0)
    assert np.all(tr.ref_count[0, refr, 0] > 0) and np.all(tr.ref_count[0, ~refr, 0] == 0)
    # the membrane keeps integrating during refractoriness: v_t = alpha v_{t-1} + s_in I - v_th z_{t-1}
    s_in = 1 - p.alpha if lsnn_scaling else 1.0
    v, z = tr.v[0, :, 0], tr.z[0, :, 0]
    np.testing.assert_allclose(v[1:], p.alpha * v[:-1] + s_in * I - p.v_th * z[:-1], rtol=1e-14)


def test_al_t1_recurrent_delay_and_readout():
    """A spike of neuron 0 at t reaches neuron 1 at t + 1; y_t = kappa y_{t-1} + W_out z_t + b."""
    p = ALIFParams(n_in=1, n_rec=2, n_out=1, v_th=1.0, n_ref=0, refractory="lsnn")
    x = np.zeros((1, 10, 1))
    x[0, 3, 0] = 1.0
    W_rec = np.array([[0.0, 0.0], [0.5, 0.0]])
    tr = forward(p, [[2.0], [0.0]], W_rec, [[1.0, 0.0]], [0.25], x)
    assert np.flatnonzero(tr.z[0, :, 0]).tolist() == [3]
    assert tr.v[0, 3, 1] == 0 and tr.v[0, 4, 1] == 0.5
    y = np.zeros(10)
    acc = 0.0
    for t in range(10):
        acc = p.kappa * acc + tr.z[0, t, 0] + 0.25
        y[t] = acc
    np.testing.assert_allclose(tr.y[0, :, 0], y, rtol=1e-15)


# ============================================================================ AL-T2 / AL-T3 exactness

CONFIGS = [(False, "eprop"), (False, "lsnn"), (True, "eprop"), (True, "lsnn")]


@pytest.mark.parametrize("lsnn_scaling, refractory", CONFIGS)
@pytest.mark.parametrize("trace", ["bellec", "lsnn"])
def test_al_t2_eprop_total_signal_equals_bptt(lsnn_scaling, refractory, trace):
    p, W_in, W_rec, W_out, b_out, x, rng = small_net(lsnn_scaling, refractory)
    tr = forward(p, W_in, W_rec, W_out, b_out, x)
    assert 0.02 < tr.z.mean() < 0.5 and tr.refractory.any() and (tr.psi > 0).mean() > 0.05
    _, dE_dy = mse_loss(tr.y, rng.normal(0, 1, tr.y.shape))       # random readout loss
    bp = bptt_gradients(tr, dE_dy)
    for method in ("forward", "adjoint"):
        ep = eprop_gradients(tr, dE_dy, learning_signal="total", trace=trace, method=method)
        for name in ("W_in", "W_rec", "W_out", "b_out"):
            assert rel(getattr(ep, name), getattr(bp, name)) < 1e-12, (method, name)
    # the given-array path is the same computation
    ep = eprop_gradients(tr, dE_dy, learning_signal=bp.learning_signal(trace), trace=trace)
    assert rel(ep.W_rec, bp.W_rec) < 1e-12
    assert np.all(np.diagonal(bp.W_rec) == 0) and np.all(np.diagonal(ep.W_rec) == 0)


@pytest.mark.parametrize("lsnn_scaling, refractory", CONFIGS)
def test_al_t2_with_rate_regulariser(lsnn_scaling, refractory):
    p, W_in, W_rec, W_out, b_out, x, rng = small_net(lsnn_scaling, refractory, seed=4)
    tr = forward(p, W_in, W_rec, W_out, b_out, x)
    _, dE_dy = cross_entropy_window(tr.y, np.array([0, 1]), n_window=20)
    bp = bptt_gradients(tr, dE_dy, reg_c=0.7, reg_target=0.01)
    ep = eprop_gradients(tr, dE_dy, learning_signal="total", reg_c=0.7, reg_target=0.01)
    assert rel(ep.W_rec, bp.W_rec) < 1e-12 and rel(ep.W_in, bp.W_in) < 1e-12
    E_reg, g = rate_regulariser(tr, 0.7, 0.01)
    assert bp.reg_loss == E_reg > 0 and ep.reg_loss == E_reg


@pytest.mark.parametrize("lsnn_scaling, refractory", CONFIGS)
@pytest.mark.parametrize("trace", ["bellec", "lsnn"])
@pytest.mark.parametrize("reg_c", [0.0, 0.5])
def test_al_t3_partial_signal_equals_stopped_bptt(lsnn_scaling, refractory, trace, reg_c):
    """Bellec traces drop the reset: stop the recurrent input and the reset; LSNN traces keep the
    reset: stop only the recurrent input. The adaptation keeps its local spike dependence."""
    p, W_in, W_rec, W_out, b_out, x, rng = small_net(lsnn_scaling, refractory, seed=1)
    tr = forward(p, W_in, W_rec, W_out, b_out, x)
    _, dE_dy = cross_entropy_window(tr.y, np.array([1, 0]), n_window=25)
    stop = ("recurrent", "reset") if trace == "bellec" else ("recurrent",)
    bs = bptt_gradients(tr, dE_dy, stop=stop, reg_c=reg_c)
    full = bptt_gradients(tr, dE_dy, reg_c=reg_c)
    for method in ("forward", "adjoint"):
        ep = eprop_gradients(tr, dE_dy, learning_signal="partial", trace=trace, method=method, reg_c=reg_c)
        assert rel(ep.W_rec, bs.W_rec) < 1e-12 and rel(ep.W_in, bs.W_in) < 1e-12, method
        assert rel(ep.W_out, full.W_out) < 1e-15 and rel(ep.b_out, full.b_out) < 1e-15
    assert rel(bs.W_rec, full.W_rec) > 1e-3            # the truncation is not a no-op here


def test_al_t3_random_feedback():
    p, W_in, W_rec, W_out, b_out, x, rng = small_net(seed=2)
    tr = forward(p, W_in, W_rec, W_out, b_out, x)
    _, dE_dy = cross_entropy_window(tr.y, np.array([0, 1]), n_window=25)
    sym = eprop_gradients(tr, dE_dy)
    explicit = eprop_gradients(tr, dE_dy, feedback=W_out.T.copy())
    assert rel(explicit.W_rec, sym.W_rec) == 0
    Bfb = rng.normal(0, 1, (p.n_rec, p.n_out))
    rnd = eprop_gradients(tr, dE_dy, feedback=Bfb)
    # filtered traces with the per-step signal == unfiltered traces with the backward-filtered signal
    dy = np.zeros_like(dE_dy)
    acc = np.zeros_like(dE_dy[:, 0])
    for t in range(dE_dy.shape[1] - 1, -1, -1):
        acc = dE_dy[:, t] + p.kappa * acc
        dy[:, t] = acc
    given = eprop_gradients(tr, dE_dy, learning_signal=dy @ Bfb.T)
    assert rel(rnd.W_rec, given.W_rec) < 1e-12 and rel(rnd.W_in, given.W_in) < 1e-12
    assert rel(rnd.W_rec, sym.W_rec) > 1e-2


# ============================================================================ AL-T4 MDGL

@pytest.mark.parametrize("lsnn_scaling", [True, False])
def test_al_t4_mdgl_materialised_replay_adjoint(lsnn_scaling):
    p, W_in, W_rec, W_out, b_out, x, sign, labels = mdgl_net(lsnn_scaling, T=400)
    tr = forward(p, W_in, W_rec, W_out, b_out, x)
    assert 0.005 < tr.z.mean() < 0.3 and tr.refractory.any()
    assert tr.z[:, :, p.is_alif].mean() > 0.005 and tr.z[:, :, ~p.is_alif].mean() > 0.005
    _, dE_dy = cross_entropy_final(tr.y, labels)
    ct = cell_types(sign, p.beta, W_out)
    mat = mdgl_gradients_materialised(tr, dE_dy, sign, cell_type=ct, return_traces=True)
    assert mat.traces.shape == (3, tr.z.shape[1], 24, 32)
    rep = mdgl_gradients(tr, dE_dy, sign, cell_type=ct, method="replay")
    adj = mdgl_gradients(tr, dE_dy, sign, cell_type=ct)
    assert np.abs(mat.m).max() > 1e-3 * np.abs(mat.L).max()       # modulation is active
    for name in ("W_in", "W_rec"):
        a, r, m = getattr(adj, name), getattr(rep, name), getattr(mat, name)
        assert np.abs(m).max() > 0
        assert rel(r, m) <= 1e-12 and rel(a, m) <= 1e-12 and rel(a, r) <= 1e-12, name
    # readout: exact gradient, identical to BPTT
    bp = bptt_gradients(tr, dE_dy)
    assert rel(adj.W_out, bp.W_out) == 0 and rel(adj.b_out, bp.b_out) == 0
    # e-prop = MDGL with m = 0
    ep = eprop_gradients(tr, dE_dy)
    G0 = np.einsum("btp,btpq->pq", mat.L, mat.traces)
    assert rel(ep.W_rec, G0[:, 8:] * (1 - np.eye(24))) < 1e-12


def test_al_t4_modulatory_signal_shadow():
    """m_p,t recomputed with explicit loops from the spec's definition (table of non-zero means)."""
    p, W_in, W_rec, W_out, b_out, x, sign, labels = mdgl_net(T=120, batch=2)
    tr = forward(p, W_in, W_rec, W_out, b_out, x)
    _, dE_dy = cross_entropy_final(tr.y, labels)
    res = mdgl_gradients(tr, dE_dy, sign)
    n = p.n_rec
    fam = ["E" if s > 0 else "I" for s in sign]
    table = {}
    for fp in "EI":
        for fq in "EI":
            vals = [W_rec[j, q] for j in range(n) for q in range(n)
                    if fam[q] == fp and fam[j] == fq and W_rec[j, q] != 0]
            table[fp, fq] = np.mean(vals)
    assert table["E", "E"] > 0 and table["I", "E"] < 0
    assert res.table[0, 1] == pytest.approx(table["E", "I"], rel=1e-14)
    assert res.table[1, 0] == pytest.approx(table["I", "E"], rel=1e-14)
    # L by explicit filtering of dE/dy through the readout
    B, T, _ = tr.z.shape
    L = np.zeros((B, T, n))
    for b in range(B):
        for t in range(T):
            for s in range(t, T):
                L[b, t] += p.kappa ** (s - t) * (W_out.T @ dE_dy[b, s])
    np.testing.assert_allclose(res.L, L, rtol=1e-12, atol=1e-14 * np.abs(L).max())
    m = np.zeros((B, T, n))
    for b in range(B):
        for t in range(T - 1):
            for pp in range(n):
                for j in range(n):
                    if W_rec[j, pp] != 0:
                        m[b, t, pp] += table[fam[pp], fam[j]] * L[b, t + 1, j] * tr.psi[b, t + 1, j]
    m *= 1 - p.alpha
    np.testing.assert_allclose(res.m, m, rtol=1e-12, atol=1e-14 * np.abs(m).max())
    exact = mdgl_gradients(tr, dE_dy, sign, modulation="exact")
    assert rel(exact.m, res.m) > 1e-3


def test_cell_types_and_table():
    sign = np.array([1, 1, 1, 1, -1, -1])
    beta = np.array([0, 0, 1, 1, 0, 0.0])
    W_out = np.array([[0, 1, 0, 1, 0, 1.0]])
    ct = cell_types(sign, beta, W_out)
    assert [CELL_TYPES[c] for c in ct] == ["E_LIF_internal", "E_LIF_output", "E_ALIF_internal",
                                           "E_ALIF_output", "I_LIF_internal", "I_LIF_output"]
    W = np.array([[0, 2.0, -1.0], [4.0, 0, 0], [0, 0, 0]])     # W[post, pre]
    t = modulatory_table(W, np.array([0, 0, 1]))
    np.testing.assert_array_equal(t, [[3.0, 0.0], [-1.0, 0.0]])
    with pytest.raises(ValueError, match="inhibitory neurons must be LIF"):
        cell_types(sign, np.ones(6), W_out)


# ============================================================================ AL-T6 readout, finite differences

@pytest.mark.parametrize("loss", ["final", "window"])
def test_al_t6_readout_gradient_vs_finite_differences(loss):
    p, W_in, W_rec, W_out, b_out, x, rng = small_net(seed=5, batch=3, n_out=3)
    labels = np.array([0, 2, 1])
    loss_fn = ((lambda y: cross_entropy_final(y, labels)) if loss == "final"
               else (lambda y: cross_entropy_window(y, labels, n_window=20)))
    tr = forward(p, W_in, W_rec, W_out, b_out, x)
    _, dE_dy = loss_fn(tr.y)
    ep = eprop_gradients(tr, dE_dy)
    for which in ("W_out", "b_out"):
        fd = finite_difference_gradient(p, W_in, W_rec, W_out, b_out, x, loss_fn, which, eps=1e-5)
        assert rel(getattr(ep, which), fd) < 1e-7, which
    # analytic: dE/dW_out = sum_t dE/dy_t z_bar_t^T with z_bar the kappa-filtered spikes
    zbar = np.zeros_like(tr.z[:, 0])
    G = np.zeros_like(W_out)
    for t in range(tr.z.shape[1]):
        zbar = p.kappa * zbar + tr.z[:, t]
        G += dE_dy[:, t].T @ zbar
    assert rel(ep.W_out, G) < 1e-13


@pytest.mark.parametrize("lsnn_scaling, refractory, n_ref", [(False, "eprop", 3), (False, "lsnn", 0),
                                                             (True, "lsnn", 2), (True, "eprop", 3)])
def test_smooth_bptt_vs_finite_differences(lsnn_scaling, refractory, n_ref):
    p, W_in, W_rec, W_out, b_out, x, rng = small_net(lsnn_scaling, refractory, n_ref=n_ref, seed=7, T=40)
    labels = np.array([0, 1])
    loss_fn = lambda y: cross_entropy_window(y, labels, n_window=10)
    k = 5.0
    tr = forward(p, W_in, W_rec, W_out, b_out, x, smooth=k)
    assert np.any((tr.z > 0.05) & (tr.z < 0.95))
    _, dE_dy = loss_fn(tr.y)
    bp = bptt_gradients(tr, dE_dy, reg_c=0.5)
    for which in ("W_in", "W_rec", "W_out", "b_out"):
        fd = finite_difference_gradient(p, W_in, W_rec, W_out, b_out, x, loss_fn, which, smooth=k,
                                        reg_c=0.5)
        assert rel(getattr(bp, which), fd) < 1e-6, which
    # the exact factorisation also holds for the smooth model
    ep = eprop_gradients(tr, dE_dy, learning_signal="total", reg_c=0.5)
    assert rel(ep.W_rec, bp.W_rec) < 1e-12


def test_finite_difference_index_subset_and_errors():
    p, W_in, W_rec, W_out, b_out, x, rng = small_net(seed=6)
    loss_fn = lambda y: cross_entropy_final(y, np.array([0, 1]))
    full = finite_difference_gradient(p, W_in, W_rec, W_out, b_out, x, loss_fn, "W_rec", smooth=4.0)
    sub = finite_difference_gradient(p, W_in, W_rec, W_out, b_out, x, loss_fn, "W_rec",
                                     index=[(0, 1), (3, 3), (5, 2)], smooth=4.0)
    np.testing.assert_array_equal(sub, [full[0, 1], 0.0, full[5, 2]])
    with pytest.raises(ValueError, match="pass smooth=k"):
        finite_difference_gradient(p, W_in, W_rec, W_out, b_out, x, loss_fn, "W_in")
    with pytest.raises(ValueError, match="which must be one of"):
        finite_difference_gradient(p, W_in, W_rec, W_out, b_out, x, loss_fn, "W_x")


# ============================================================================ AL-T7 batch invariance

def test_al_t7_batch_invariance():
    p, W_in, W_rec, W_out, b_out, x, sign, _ = mdgl_net(T=150, batch=5, seed=11)
    labels = np.array([0, 1, 1, 0, 1])
    tr5 = forward(p, W_in, W_rec, W_out, b_out, x)
    _, g5 = cross_entropy_final(tr5.y, labels, reduction="sum")
    _, gw5 = cross_entropy_window(tr5.y, labels, n_window=30, reduction="sum")

    def rules(tr, g, gw):
        return {"bptt": bptt_gradients(tr, g), "eprop": eprop_gradients(tr, gw),
                "eprop_total": eprop_gradients(tr, gw, learning_signal="total"),
                "mdgl": mdgl_gradients(tr, g, sign), "mdgl_replay": mdgl_gradients(tr, g, sign, method="replay")}

    big = rules(tr5, g5, gw5)
    sums = {k: {n: 0.0 for n in ("W_in", "W_rec", "W_out", "b_out")} for k in big}
    for b in range(5):
        tr1 = forward(p, W_in, W_rec, W_out, b_out, x[b:b + 1])
        np.testing.assert_array_equal(tr1.z[0], tr5.z[b])
        np.testing.assert_allclose(tr1.v[0], tr5.v[b], rtol=1e-13, atol=1e-15)
        _, g1 = cross_entropy_final(tr1.y, labels[b:b + 1], reduction="sum")
        _, gw1 = cross_entropy_window(tr1.y, labels[b:b + 1], n_window=30, reduction="sum")
        for k, res in rules(tr1, g1, gw1).items():
            for n in sums[k]:
                sums[k][n] = sums[k][n] + getattr(res, n)
    for k, res in big.items():
        for n in sums[k]:
            assert rel(sums[k][n], getattr(res, n)) <= 1e-13, (k, n)


# ============================================================================ memory, losses

def test_gradients_do_not_materialise_time():
    """Forward e-prop keeps O(B N (n_in + N)) state and the MDGL adjoint O(B T N): each peak
    allocation is far below one (B, T, N, n_in + N) tensor (13.4 MB here)."""
    rng = np.random.default_rng(8)
    n, n_in, B, T = 60, 10, 2, 200
    p = ALIFParams(n_in=n_in, n_rec=n, n_out=2, v_th=0.6, beta=np.where(np.arange(n) % 2, 0.05, 0.0),
                   n_ref=2)
    W_rec = rng.normal(0, 0.3, (n, n))
    np.fill_diagonal(W_rec, 0)
    tr = forward(p, rng.normal(0, 1, (n, n_in)), W_rec, rng.normal(0, 1, (2, n)), np.zeros(2),
                 (rng.random((B, T, n_in)) < 0.1).astype(float), record_state=False)
    assert tr.z.mean() > 0.01
    _, dE_dy = cross_entropy_window(tr.y, np.array([0, 1]), n_window=50)
    materialised = B * T * n * (n_in + n) * 8
    for rule in (lambda: eprop_gradients(tr, dE_dy),
                 lambda: mdgl_gradients(tr, dE_dy, np.ones(n, dtype=int)),
                 lambda: mdgl_gradients(tr, dE_dy, np.ones(n, dtype=int), method="replay")):
        tracemalloc.start()
        rule()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < materialised / 10


def test_losses():
    rng = np.random.default_rng(0)
    y = rng.normal(0, 1, (4, 30, 3))
    labels = np.array([0, 2, 1, 1])
    E, g = cross_entropy_final(y, labels, reduction="sum")
    p = np.exp(y[:, -1]) / np.exp(y[:, -1]).sum(1, keepdims=True)
    assert E == pytest.approx(-np.log(p[np.arange(4), labels]).sum(), rel=1e-14)
    assert np.all(g[:, :-1] == 0)
    Em, gm = cross_entropy_final(y, labels)
    assert Em == pytest.approx(E / 4, rel=1e-14) and rel(gm, g / 4) < 1e-15
    Ew, gw = cross_entropy_window(y, labels, n_window=10)
    pw = np.exp(y[:, -10:]) / np.exp(y[:, -10:]).sum(2, keepdims=True)
    assert Ew == pytest.approx(-np.log(pw[np.arange(4), :, labels]).mean(), rel=1e-14)
    assert np.all(gw[:, :-10] == 0)
    np.testing.assert_array_equal(window_prediction(y, 10), np.argmax(y[:, -10:].mean(1), 1))
    eps = 1e-6
    for (b, t, k) in [(0, 29, 1), (2, 25, 0), (3, 20, 2)]:
        yp, ym = y.copy(), y.copy()
        yp[b, t, k] += eps
        ym[b, t, k] -= eps
        fd = (cross_entropy_window(yp, labels, 10)[0] - cross_entropy_window(ym, labels, 10)[0]) / (2 * eps)
        assert fd == pytest.approx(gw[b, t, k], rel=1e-7, abs=1e-12)
    with pytest.raises(ValueError, match="labels must lie in 0..2"):
        cross_entropy_final(y, np.array([0, 3, 1, 1]))
    with pytest.raises(ValueError, match="n_window must be an integer in 1..T=30"):
        cross_entropy_window(y, labels, n_window=31)
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'sum'"):
        cross_entropy_final(y, labels, reduction="avg")


# ============================================================================ errors

def _p(**kw):
    base = dict(n_in=2, n_rec=3, n_out=1)
    base.update(kw)
    return ALIFParams(**base)


@pytest.mark.parametrize("kw, msg", [
    ({"tau_m": -20.0}, r"tau_m must be a positive time constant in ms \(got -20.0\)"),
    ({"tau_a": 0.0}, "tau_a must be a positive time constant"),
    ({"tau_out": float("nan")}, "tau_out must be a positive time constant"),
    ({"n_ref": -1}, r"n_ref must be an integer >= 0 \(got -1\)"),
    ({"n_ref": 2.5}, "n_ref must be an integer >= 0"),
    ({"beta": [0.1, 0.2]}, r"beta must have one entry per recurrent neuron: expected length 3, got shape \(2,\)"),
    ({"beta": [0.1, -0.2, 0.0]}, r"beta must be >= 0 \(0 = LIF\); negative at neurons \[1\]"),
    ({"refractory": "nest"}, r"refractory must be one of \('lsnn', 'eprop'\) \(got 'nest'\)"),
    ({"v_th": 0.0}, "v_th must be a positive finite threshold"),
    ({"gamma": -0.3}, "gamma must be a finite number >= 0"),
    ({"dt": 0}, "dt must be a positive finite time step"),
    ({"n_rec": 0}, r"n_rec must be a positive integer \(got 0\)"),
    ({"lsnn_scaling": "yes"}, "lsnn_scaling must be True or False"),
])
def test_param_errors(kw, msg):
    with pytest.raises(ValueError, match=msg):
        _p(**kw)


def test_param_conversions():
    p = _p(beta=0.5, tau_a=np.inf, refractory="eprop", n_ref=5)
    assert p.beta.tolist() == [0.5] * 3 and p.rho == 1.0 and p.n_blocked == 4
    assert n_ref_from_blocked(4, "eprop") == 5 and n_ref_from_blocked(4, "lsnn") == 4
    assert _p(lsnn_scaling=True).s_in == pytest.approx(1 - np.exp(-1 / 20))


def test_forward_and_gradient_errors():
    p = _p()
    W_in, W_rec, W_out, b = np.zeros((3, 2)), np.zeros((3, 3)), np.zeros((1, 3)), np.zeros(1)
    x = np.zeros((2, 5, 2))
    bad = W_rec.copy()
    bad[1, 1] = 0.3
    with pytest.raises(ValueError, match=r"W_rec has non-zero diagonal entries \(autapses\) at neurons \[1\]"):
        forward(p, W_in, bad, W_out, b, x)
    with pytest.raises(ValueError, match=r"W_in must have shape \(3, 2\) \(got \(2, 3\)\)"):
        forward(p, W_in.T, W_rec, W_out, b, x)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, T, n_in=2\)"):
        forward(p, W_in, W_rec, W_out, b, np.zeros((5, 2)))
    with pytest.raises(ValueError, match="smooth must be a positive finite sigmoid steepness"):
        forward(p, W_in, W_rec, W_out, b, x, smooth=-1)
    with pytest.raises(ValueError, match="W_out contains non-finite values"):
        forward(p, W_in, W_rec, W_out + np.nan, b, x)
    tr = forward(p, W_in, W_rec, W_out, b, x)
    g = np.zeros_like(tr.y)
    with pytest.raises(ValueError, match=r"dE_dy must have the readout's shape \(2, 5, 1\)"):
        bptt_gradients(tr, g[:, :3])
    with pytest.raises(ValueError, match=r"stop may only contain"):
        bptt_gradients(tr, g, stop=("input",))
    with pytest.raises(ValueError, match=r"feedback must have shape \(3, 1\)"):
        eprop_gradients(tr, g, feedback=np.zeros((1, 3)))
    with pytest.raises(ValueError, match="learning_signal must be 'partial', 'total' or an array"):
        eprop_gradients(tr, g, learning_signal="full")
    with pytest.raises(ValueError, match=r"a learning-signal array must have shape \(2, 5, 3\)"):
        eprop_gradients(tr, g, learning_signal=np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"trace must be one of \('bellec', 'lsnn'\)"):
        eprop_gradients(tr, g, trace="tf")
    with pytest.raises(ValueError, match="sign entries must be \\+1"):
        mdgl_gradients(tr, g, np.array([1, 0, -1]))
    with pytest.raises(ValueError, match="cell_type and sign disagree"):
        mdgl_gradients(tr, g, np.array([1, 1, -1]), cell_type=np.array([0, 4, 4]))
    with pytest.raises(ValueError, match="modulation must be 'EI'"):
        mdgl_gradients(tr, g, np.array([1, 1, -1]), modulation="all_j")
    with pytest.raises(ValueError, match="method must be 'adjoint' or 'replay'"):
        mdgl_gradients(tr, g, np.array([1, 1, -1]), method="online")
    with pytest.raises(ValueError, match="learning signals need bptt_gradients"):
        bptt_gradients(tr, g, keep_signals=False).learning_signal()
    with pytest.raises(ValueError, match="c must be a finite number >= 0"):
        rate_regulariser(tr, -1.0)
    assert eligibility_traces(tr).shape == (2, 5, 3, 5)
