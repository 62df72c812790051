"""Tests of the evidence-accumulation generators (examples/datasets/evidence.py).

Specification: specs/datasets.md §4 and specs/alif_eprop_mdgl.md §11 AL-T8: distinct patterns per
batch, the label rule on all 128 patterns, silence of cue channels outside their windows and on the side
not chosen, recall channels silent before the recall, empirical rates within 3σ over 10⁴ trials,
reproducibility and the documented legacy RNG call order (MDGL variant, bitwise).
All draws are seeded, so the statistical checks are deterministic.
"""
import numpy as np
import pytest

from datasets import evidence
from datasets.evidence import accucues_eprop, accucues_mdgl, mdgl_cue_bits, mdgl_label

N_TRIALS = 10_000
BATCH = 100


def _popcount(n):
    return bin(int(n)).count("1")


# --------------------------------------------------------------------------------------------
# MDGL variant (spec datasets.md §4.1)
# --------------------------------------------------------------------------------------------

def test_mdgl_shapes_and_types():
    inputs, labels, patterns = accucues_mdgl(64, np.random.RandomState(0))
    assert inputs.shape == (64, 2000, 40) and inputs.dtype == np.float64
    assert labels.shape == (64,) and np.issubdtype(labels.dtype, np.integer)
    assert patterns.shape == (64,) and np.issubdtype(patterns.dtype, np.integer)
    assert evidence.MDGL_TIMING["T"] == 2000
    assert evidence.MDGL_TIMING["cue_windows"][6] == (900, 1000)
    assert evidence.MDGL_TIMING["delay"] == (1050, 1850)
    assert evidence.MDGL_TIMING["recall"] == (1850, 2000)
    # Poisson counts: non-negative integers
    assert np.all(inputs >= 0) and np.all(inputs == np.round(inputs))


def test_mdgl_label_rule_on_all_patterns():
    patterns = np.arange(128)
    bits = mdgl_cue_bits(patterns)
    assert bits.shape == (128, 7)
    # most significant bit first, zero padded
    assert bits[5].tolist() == [0, 0, 0, 0, 1, 0, 1]
    assert bits[64].tolist() == [1, 0, 0, 0, 0, 0, 0]
    assert bits[127].tolist() == [1] * 7
    for p in patterns:
        assert int("".join(str(b) for b in bits[p]), 2) == p
    labels = mdgl_label(patterns)
    expected = np.array([1 if _popcount(p) >= 4 else 0 for p in patterns])
    np.testing.assert_array_equal(labels, expected)
    assert labels.sum() == 64


@pytest.mark.parametrize("bad", [0, -1, 128, 1000])
def test_mdgl_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size"):
        accucues_mdgl(bad, np.random.RandomState(0))


def test_mdgl_bad_arguments():
    with pytest.raises(TypeError):
        accucues_mdgl(2.5, np.random.RandomState(0))
    with pytest.raises(TypeError, match="RandomState"):
        accucues_mdgl(4, np.random.default_rng(0))
    accucues_mdgl(127, np.random.RandomState(0))      # the largest allowed batch


def test_mdgl_reproducible():
    a = accucues_mdgl(16, np.random.RandomState(123))
    b = accucues_mdgl(16, np.random.RandomState(123))
    c = accucues_mdgl(16, 123)                          # int seed == RandomState(seed)
    for x, y, z in zip(a, b, c):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(x, z)
    d = accucues_mdgl(16, np.random.RandomState(124))
    assert not np.array_equal(a[0], d[0])
    # rng=None draws from the global legacy generator, like the reference
    saved = np.random.get_state()
    try:
        np.random.seed(123)
        e = accucues_mdgl(16)
    finally:
        np.random.set_state(saved)
    for x, y in zip(a, e):
        np.testing.assert_array_equal(x, y)


def test_mdgl_rng_call_order_bitwise():
    """Regenerate a batch by hand following the documented call order and compare bitwise."""
    seed, B = 2021, 3
    inputs, labels, patterns = accucues_mdgl(B, np.random.RandomState(seed))

    rs = np.random.RandomState(seed)
    perm = rs.permutation(128)
    np.testing.assert_array_equal(patterns, perm[:B])
    for b in range(B):
        expected = np.zeros((2000, 40))
        expected[:, 30:40] = rs.poisson(0.01, (2000, 10))           # noise block
        expected[1850:, 20:30] = rs.poisson(0.04, (150, 10))        # recall block
        digits = format(int(perm[b]), "07b")
        for k in range(7):                                          # cue blocks in order
            left = digits[k] == "1"
            chans = slice(0, 10) if left else slice(10, 20)
            expected[150 * k:150 * k + 100, chans] = rs.poisson(0.04, (100, 10))
        np.testing.assert_array_equal(inputs[b], expected)
        assert labels[b] == (1 if digits.count("1") >= 4 else 0)
    # the generator consumed exactly these draws: the next draw matches
    gen = np.random.RandomState(seed)
    accucues_mdgl(B, gen)
    assert gen.randint(1 << 30) == rs.randint(1 << 30)


def test_mdgl_structure_and_rates_10k_trials():
    """AL-T8: 10⁴ trials — distinct patterns, labels, silence rules, Poisson rates within 3σ."""
    rs = np.random.RandomState(7)
    sums = {"cue": 0.0, "recall": 0.0, "noise": 0.0}
    counts = {"cue": 0, "recall": 0, "noise": 0}
    label_ones = 0
    for _ in range(N_TRIALS // BATCH):
        x, labels, patterns = accucues_mdgl(BATCH, rs)
        assert len(np.unique(patterns)) == BATCH
        assert np.all((patterns >= 0) & (patterns < 128))
        bits = mdgl_cue_bits(patterns)
        np.testing.assert_array_equal(labels, (bits.sum(axis=1) >= 4).astype(int))
        label_ones += int(labels.sum())

        # cue channels: (B, cue k, step in period, side, channel); side 0 = left (bit 1), 1 = right
        cue = x[:, :1050, :20].reshape(BATCH, 7, 150, 2, 10)
        assert not cue[:, :, 100:].any()                     # silent between cue windows
        assert not x[:, 1050:, :20].any()                    # silent in delay and recall
        side = (1 - bits)[:, :, None, None, None]            # chosen side index
        on = cue[:, :, :100]
        chosen = np.take_along_axis(on, side, axis=3)
        other = np.take_along_axis(on, 1 - side, axis=3)
        assert not other.any()                               # the side not chosen is silent
        # the chosen side is the one that fires (P(no spike in 1000 samples) = e^-40)
        assert np.all(chosen.sum(axis=(2, 3, 4)) > 0)
        assert not x[:, :1850, 20:30].any()                  # recall silent before step 1850

        sums["cue"] += chosen.sum()
        counts["cue"] += chosen.size
        sums["recall"] += x[:, 1850:, 20:30].sum()
        counts["recall"] += BATCH * 150 * 10
        sums["noise"] += x[:, :, 30:40].sum()
        counts["noise"] += BATCH * 2000 * 10

    # Poisson counts: mean λ, variance λ -> σ of the mean = sqrt(λ / n)
    for key, lam in (("cue", 0.04), ("recall", 0.04), ("noise", 0.01)):
        mean = sums[key] / counts[key]
        sigma = np.sqrt(lam / counts[key])
        assert abs(mean - lam) < 3 * sigma, (key, mean, lam, sigma)
    # labels: 64 of 128 patterns are label 1 -> fraction 1/2
    p_hat = label_ones / N_TRIALS
    # (patterns are drawn without replacement within a batch, so the binomial σ is conservative)
    assert abs(p_hat - 0.5) < 3 * np.sqrt(0.25 / N_TRIALS)


# --------------------------------------------------------------------------------------------
# e-prop tutorial variant (spec datasets.md §4.2)
# --------------------------------------------------------------------------------------------

def test_eprop_shapes_labels_and_reproducibility():
    x, labels, cues = accucues_eprop(32, 5)
    assert x.shape == (32, 2250, 40) and x.dtype == np.float64
    assert set(np.unique(x)) <= {0.0, 1.0}                  # Bernoulli spikes
    assert cues.shape == (32, 7)
    np.testing.assert_array_equal(labels, (cues.sum(axis=1) > 3).astype(int))
    for a, b in zip((x, labels, cues), accucues_eprop(32, np.random.default_rng(5))):
        np.testing.assert_array_equal(a, b)
    y = accucues_eprop(32, 6)[0]
    assert not np.array_equal(x, y)
    r1 = accucues_eprop(8, np.random.RandomState(3))
    r2 = accucues_eprop(8, np.random.RandomState(3))
    for a, b in zip(r1, r2):
        np.testing.assert_array_equal(a, b)


def test_eprop_bad_arguments():
    with pytest.raises(ValueError, match="seed"):
        accucues_eprop(4, None)
    for bad in (0, -3):
        with pytest.raises(ValueError, match="batch_size"):
            accucues_eprop(bad, 0)
    with pytest.raises(ValueError, match="p_group"):
        accucues_eprop(4, 0, p_group=1.5)
    with pytest.raises(ValueError, match="too short"):
        accucues_eprop(4, 0, length=1000)


def test_eprop_structure_and_rates_10k_trials():
    rng = np.random.default_rng(11)
    sums = {"cue": 0.0, "recall": 0.0, "noise": 0.0}
    counts = {"cue": 0, "recall": 0, "noise": 0}
    group1 = agree01 = label_ones = 0
    for _ in range(N_TRIALS // BATCH):
        x, labels, cues = accucues_eprop(BATCH, rng)
        np.testing.assert_array_equal(labels, (cues.sum(axis=1) > 3).astype(int))
        cue = x[:, :1050, :20].reshape(BATCH, 7, 150, 2, 10)
        assert not cue[:, :, :50].any()                      # 50 ms silence before each cue
        assert not x[:, 1050:, :20].any()
        on = cue[:, :, 50:]
        side = cues[:, :, None, None, None]
        chosen = np.take_along_axis(on, side, axis=3)
        assert not np.take_along_axis(on, 1 - side, axis=3).any()
        assert not x[:, :2100, 20:30].any()                  # recall only in the last 150 steps

        sums["cue"] += chosen.sum()
        counts["cue"] += chosen.size
        sums["recall"] += x[:, 2100:, 20:30].sum()
        counts["recall"] += BATCH * 150 * 10
        sums["noise"] += x[:, :, 30:40].sum()
        counts["noise"] += BATCH * 2250 * 10
        group1 += int(cues.sum())
        agree01 += int((cues[:, 0] == cues[:, 1]).sum())
        label_ones += int(labels.sum())

    for key, p in (("cue", 0.04), ("recall", 0.04), ("noise", 0.01)):
        mean = sums[key] / counts[key]
        sigma = np.sqrt(p * (1 - p) / counts[key])
        assert abs(mean - p) < 3 * sigma, (key, mean, p, sigma)
    n_cues = N_TRIALS * 7
    assert abs(group1 / n_cues - 0.5) < 3 * np.sqrt(0.25 / n_cues) * 1.5   # cues of one trial are correlated
    # two cues of one trial share the side with probability 0.7² + 0.3² = 0.58 (dominant group)
    assert abs(agree01 / N_TRIALS - 0.58) < 3 * np.sqrt(0.58 * 0.42 / N_TRIALS)
    assert abs(label_ones / N_TRIALS - 0.5) < 3 * np.sqrt(0.25 / N_TRIALS)
