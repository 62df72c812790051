"""Tests of networks/dale.py: MDGL Dale's-law initialisation and modified DEEP R
(spec alif_eprop_mdgl.md §5, §6; AL-T9 of §11)."""
import numpy as np
import pytest

from networks import dale
from networks.dale import (PARKED_THETA, DaleConnectivity, balanced_dale_matrix, dale_signs, deep_r_step,
                           mdgl_initialise, n_excitatory, sample_sparse_mask, spectral_radius)


@pytest.fixture(scope="module")
def init():
    return mdgl_initialise(rng=1234)


# --------------------------------------------------------------------------------------------
# signs and masks
# --------------------------------------------------------------------------------------------

def test_signs_mdgl_layout(init):
    assert n_excitatory(100) == 81 and n_excitatory(40) == 33
    s = dale_signs(100)
    assert s.dtype == np.int8
    np.testing.assert_array_equal(s[:19], -1)                 # I at indices 0..18
    np.testing.assert_array_equal(s[19:], 1)
    conn = init.connectivity
    np.testing.assert_array_equal(conn.sign_rec, s)
    assert (conn.sign_in > 0).sum() == 33 and (conn.sign_in < 0).sum() == 7
    assert not np.array_equal(conn.sign_in, dale_signs(40))   # shuffled
    assert set(np.unique(conn.sign_in)) == {-1, 1}


def test_masks_sampled_with_replacement(init):
    conn = init.connectivity
    assert conn.n_sampled == {"in": 400, "rec": 1000, "out": 20}
    nnz = conn.nnz
    # duplicates collapse: fewer unique synapses than pairs drawn (expected ≈ 951 of 1000 before autapse removal)
    assert 900 < nnz["rec"] < 1000
    assert 360 < nnz["in"] < 400
    assert 15 <= nnz["out"] <= 20
    assert not np.diagonal(conn.mask_rec).any()               # autapses removed
    assert "nnz rec" in conn.summary() and "81 E / 19 I" in conn.summary()
    # weights are non-zero exactly on the mask
    for name, w in init.weights().items():
        np.testing.assert_array_equal(w != 0, conn.mask(name))


def test_dense_connectivity_and_sampling():
    mask, drawn = sample_sparse_mask(5, 7, 1.0, 0)
    assert mask.all() and drawn == 35
    mask, drawn = sample_sparse_mask(50, 50, 0.2, np.random.default_rng(0), remove_diagonal=True)
    assert drawn == 500 and mask.sum() < 500 and not np.diagonal(mask).any()
    with pytest.raises(ValueError, match="no synapse"):
        sample_sparse_mask(3, 3, 0.1, 0)


# --------------------------------------------------------------------------------------------
# initialisation
# --------------------------------------------------------------------------------------------

def test_column_sums_zero_before_masking(init):
    for dense in (init.dense_rec, init.dense_in_square, init.dense_in):
        scale = np.abs(dense).sum(axis=0)
        assert np.all(scale > 0)
        np.testing.assert_allclose(dense.sum(axis=0) / scale, 0.0, atol=1e-13)
    # total inhibition equals total excitation
    w = init.dense_rec
    np.testing.assert_allclose(w[w > 0].sum(), -w[w < 0].sum(), rtol=1e-12)


def test_spectral_radius_one(init):
    assert spectral_radius(init.dense_rec) == pytest.approx(1.0, rel=1e-10)
    assert spectral_radius(init.dense_in_square) == pytest.approx(1.0, rel=1e-10)
    w = balanced_dale_matrix(dale_signs(30), 30, 3, radius=0.5)
    assert spectral_radius(w) == pytest.approx(0.5, rel=1e-10)


def test_input_columns_resampled_from_square(init):
    sq = init.dense_in_square
    assert init.dense_in.shape == (40, 100)
    for j in range(100):
        assert np.any(np.all(sq == init.dense_in[:, [j]], axis=0))


def test_dale_signs_of_weights(init):
    conn = init.connectivity
    for name, w in init.weights().items():
        signs = conn.presynaptic_signs(name)[:, None]
        assert np.all(w * signs >= 0)
        assert np.all((w * signs > 0) == conn.mask(name))
    assert init.w_in.shape == (40, 100) and init.w_rec.shape == (100, 100) and init.w_out.shape == (100, 2)


def test_reproducible_with_seed():
    a, b = mdgl_initialise(rng=7), mdgl_initialise(rng=np.random.default_rng(7))
    c = mdgl_initialise(rng=8)
    for name in ("w_in", "w_rec", "w_out", "dense_rec", "dense_in"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert not np.array_equal(getattr(a, name), getattr(c, name))
    np.testing.assert_array_equal(a.connectivity.sign_in, b.connectivity.sign_in)
    r1, r2 = mdgl_initialise(rng=np.random.RandomState(3)), mdgl_initialise(rng=np.random.RandomState(3))
    np.testing.assert_array_equal(r1.w_rec, r2.w_rec)


@pytest.mark.parametrize("frac", [0.0, 1.0, -0.2, 1.5])
def test_bad_e_fraction(frac):
    with pytest.raises(ValueError, match="excitatory fraction"):
        mdgl_initialise(e_fraction=frac, rng=0)
    with pytest.raises(ValueError, match="excitatory fraction"):
        dale_signs(10, frac)


@pytest.mark.parametrize("p", [0.0, -0.1, 1.01, 2])
def test_bad_connectivity(p):
    with pytest.raises(ValueError, match="connectivity"):
        mdgl_initialise(connectivity=p, rng=0)
    with pytest.raises(ValueError, match="out_connectivity"):
        mdgl_initialise(out_connectivity=p, rng=0)
    with pytest.raises(ValueError, match="connectivity"):
        sample_sparse_mask(10, 10, p, 0)


def test_no_inhibitory_population_is_an_error():
    # int(0.99 * 40) + 1 = 40 -> no inhibitory input to balance with
    with pytest.raises(ValueError, match="inhibitory"):
        mdgl_initialise(e_fraction=0.99, rng=0)


def test_full_connectivity_allowed():
    w = mdgl_initialise(n_in=10, n_rec=12, connectivity=1.0, out_connectivity=1.0, rng=0)
    assert w.connectivity.nnz == {"in": 120, "rec": 132, "out": 24}


# --------------------------------------------------------------------------------------------
# modified DEEP R
# --------------------------------------------------------------------------------------------

def test_deep_r_step_by_hand():
    theta = np.array([0.5, 1e-3, -0.2, 0.3, 0.0])
    mask = np.array([True, True, True, False, True])
    new, parked = deep_r_step(theta, mask, lr=0.1, l1=0.02)
    np.testing.assert_array_equal(new, [0.5 - 0.002, PARKED_THETA, PARKED_THETA, 0.0, PARKED_THETA])
    np.testing.assert_array_equal(parked, [False, True, True, False, True])
    np.testing.assert_array_equal(theta, [0.5, 1e-3, -0.2, 0.3, 0.0])      # input untouched
    with pytest.raises(ValueError, match="learning rate"):
        deep_r_step(theta, mask, lr=0.0)
    with pytest.raises(ValueError, match="l1"):
        deep_r_step(theta, mask, lr=0.1, l1=-1)
    with pytest.raises(ValueError, match="shape"):
        deep_r_step(theta, mask[:3], lr=0.1)


def test_theta_parametrisation(init):
    conn = init.connectivity
    thetas = init.thetas()
    for name, theta in thetas.items():
        np.testing.assert_array_equal(theta > 0, conn.mask(name))
        np.testing.assert_array_equal(conn.weights_from_theta(theta, name), init.weights()[name])
        g = np.ones_like(theta)
        np.testing.assert_array_equal(conn.theta_gradient(g, name), conn.sign_matrix(name))
    with pytest.raises(ValueError, match="Dale"):
        dale.theta_from_weights(-np.abs(init.w_rec), conn.sign_matrix("rec"))


def test_al_t9_adam_steps_keep_signs_and_adjacency(init):
    """AL-T9: 20 Adam steps with random gradients followed by the modified DEEP R step."""
    conn: DaleConnectivity = init.connectivity
    rng = np.random.default_rng(99)
    lr, l1, beta1, beta2, eps = 1e-2, 1e-2, 0.9, 0.999, 1e-8
    thetas = init.thetas()
    signs0 = {name: np.sign(w) for name, w in init.weights().items()}
    nnz0 = conn.nnz
    m = {k: np.zeros_like(v) for k, v in thetas.items()}
    v = {k: np.zeros_like(t) for k, t in thetas.items()}
    total_parked = {k: 0 for k in thetas}
    for step in range(1, 21):
        for name in thetas:
            grad_w = rng.standard_normal(thetas[name].shape)
            g = conn.theta_gradient(grad_w, name)
            m[name] = beta1 * m[name] + (1 - beta1) * g
            v[name] = beta2 * v[name] + (1 - beta2) * g * g
            m_hat, v_hat = m[name] / (1 - beta1 ** step), v[name] / (1 - beta2 ** step)
            thetas[name] = thetas[name] - lr * m_hat / (np.sqrt(v_hat) + eps)
        before = {k: t.copy() for k, t in thetas.items()}
        thetas, parked = conn.deep_r_step(thetas, lr=lr, l1=l1)
        for name, theta in thetas.items():
            mask = conn.mask(name)
            np.testing.assert_array_equal(theta > 0, mask)                      # adjacency unchanged
            assert np.all(theta[~mask] == 0)
            np.testing.assert_array_equal(parked[name], mask & (before[name] - lr * l1 * (before[name] > 0) <= 0))
            assert np.all(theta[parked[name]] == PARKED_THETA)                 # parked exactly at 1e-12
            w = conn.weights_from_theta(theta, name)
            np.testing.assert_array_equal(np.sign(w), signs0[name])            # no sign change
            assert np.count_nonzero(w) == nnz0[name]                           # nnz constant
            total_parked[name] += int(parked[name].sum())
    assert conn.nnz == nnz0
    assert total_parked["rec"] > 0 and total_parked["in"] > 0                  # the rule was exercised
