"""Evidence-accumulation ("AccuCues") task generators (specification: specs/datasets.md §4).

Two variants exist in the literature; they differ in timing, spike statistics and loss window and must
never be mixed in one comparison.

``accucues_mdgl`` (primary) — Y. H. Liu, S. Smith, S. Mihalas, E. Shea-Brown, U. Sümbül,
*Cell-type-specific neuromodulation guides synaptic credit assignment in a spiking neural network*,
PNAS 118(51):e2111821118 (2021). Bit-compatible with the reference generator given the same legacy
Mersenne-Twister state, because the RNG call order is kept (spec §4.1).

=====================  ==================================================================
item                   value (dt = 1 ms, one step = 1 ms)
=====================  ==================================================================
length                 T = 7·150 + (850 − 50) + 150 = 2000 steps
cue k (k = 0…6)        steps [150k, 150k + 100)
delay                  steps 1050–1850
recall                 last 150 steps, [1850, 2000)
channels               0–9 left cue, 10–19 right cue, 20–29 recall, 30–39 noise
rates                  cues and recall 40 Hz, noise 10 Hz (whole trial), Poisson *counts*
                       per step (means 0.04 / 0.01; counts of 2 and more occur)
patterns               first B entries of a permutation of 0…127: B distinct 7-bit patterns
cue bits               binary digits, most significant first; 1 = left cue, 0 = right cue
label                  1 (= left) iff number of left cues ≥ 4, else 0
loss                   softmax cross-entropy / argmax at the final step only
=====================  ==================================================================

``accucues_eprop`` — the evidence-accumulation tutorial of G. Bellec, F. Scherr, A. Subramoney,
E. Hajek, D. Salaj, R. Legenstein, W. Maass, *A solution to the learning dilemma for recurrent networks
of spiking neurons*, Nat. Commun. 11:3625 (2020) (spec §4.2). Easier: a dominant side per trial.

=====================  ==================================================================
item                   value
=====================  ==================================================================
length                 7·150 + 1200 = 2250 steps
cue k (k = 0…6)        steps [50 + 150k, 150 + 150k) (50 ms silence before each cue)
side probabilities     per trial one group is dominant: each cue independently goes to it
                       with probability 1 − p_group = 0.7 (to the other with 0.3)
channels               0–9 group 0, 10–19 group 1, 20–29 recall (last 150 steps), 30–39 noise
spikes                 Bernoulli per step: cue/recall f0 = 0.04 (40 Hz), noise f0/4 (10 Hz)
label                  1 iff more than 3 cues went to group 1
loss                   cross-entropy averaged over the last 150 steps
=====================  ==================================================================

The reference draws the e-prop spikes from an unseeded generator; here every draw comes from the
generator passed in, so trials are reproducible.
"""
import numbers

import numpy as np

__all__ = ["accucues_mdgl", "accucues_eprop", "mdgl_cue_bits", "mdgl_label", "MDGL_TIMING", "EPROP_TIMING",
           "N_INPUT"]

# ------------------------------------------------------------------------------------------------
# MDGL variant constants (spec §4.1)
# ------------------------------------------------------------------------------------------------
N_CHANNEL = 10                  # channels per input group
N_INPUT = 4 * N_CHANNEL         # 40: left, right, recall, noise
LEFT, RIGHT, RECALL, NOISE = 0, 1, 2, 3   # input groups; channels [10·g, 10·g + 10)

_MDGL_N_CUES = 7
_MDGL_T_CUE = 100               # cue duration (steps)
_MDGL_T_INTERVAL = 150          # cue period (steps)
_MDGL_DELAY_WINDOW = 850        # reference parameter; the delay lasts delay_window − 50 steps
_MDGL_T_RECALL = 150
_MDGL_T = _MDGL_N_CUES * _MDGL_T_INTERVAL + (_MDGL_DELAY_WINDOW - 50) + _MDGL_T_RECALL   # 2000
_MDGL_N_PATTERNS = 2 ** _MDGL_N_CUES     # 128
_MDGL_CUE_MEAN = 0.04           # 40 Hz · 1 ms (Poisson mean per step)
_MDGL_NOISE_MEAN = 0.01         # 10 Hz · 1 ms

MDGL_TIMING = {
    "T": _MDGL_T, "n_cues": _MDGL_N_CUES, "t_cue": _MDGL_T_CUE, "t_interval": _MDGL_T_INTERVAL,
    "cue_windows": tuple((_MDGL_T_INTERVAL * k, _MDGL_T_INTERVAL * k + _MDGL_T_CUE) for k in range(_MDGL_N_CUES)),
    "delay": (_MDGL_N_CUES * _MDGL_T_INTERVAL, _MDGL_T - _MDGL_T_RECALL),
    "recall": (_MDGL_T - _MDGL_T_RECALL, _MDGL_T),
    "cue_rate": _MDGL_CUE_MEAN, "recall_rate": _MDGL_CUE_MEAN, "noise_rate": _MDGL_NOISE_MEAN,
}

# ------------------------------------------------------------------------------------------------
# e-prop tutorial variant defaults (spec §4.2)
# ------------------------------------------------------------------------------------------------
EPROP_TIMING = {
    "T": 2250, "n_cues": 7, "t_cue": 100, "t_interval": 150, "t_silence": 50, "recall_duration": 150,
    "cue_windows": tuple((50 + 150 * k, 150 + 150 * k) for k in range(7)),
    "recall": (2100, 2250), "f0": 0.04, "noise_rate": 0.01, "p_group": 0.3,
}


def _check_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    return int(value)


def mdgl_cue_bits(patterns, n_cues=_MDGL_N_CUES):
    """Cue sides of pattern numbers: (..., n_cues) int array, 1 = left cue, 0 = right cue.

    The bits are the binary digits of the pattern number, most significant first, zero-padded to
    ``n_cues`` digits (pattern 5 -> 0000101: cues 4 and 6 left, the rest right).
    """
    patterns = np.asarray(patterns, dtype=np.int64)
    shifts = np.arange(n_cues - 1, -1, -1, dtype=np.int64)
    return (patterns[..., None] >> shifts) & 1


def mdgl_label(patterns, n_cues=_MDGL_N_CUES):
    """Label of pattern numbers: 1 (= left) iff the number of left cues exceeds n_cues / 2 (≥ 4 of 7)."""
    return (mdgl_cue_bits(patterns, n_cues).sum(axis=-1) > n_cues / 2.0).astype(np.int64)


def _legacy_rng(rng):
    """The legacy generator to draw from: a RandomState, a seed (-> RandomState(seed)), or None for the
    global NumPy legacy generator (what the reference uses)."""
    if rng is None:
        return np.random        # module-level functions draw from the global RandomState
    if isinstance(rng, np.random.RandomState):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.RandomState(int(rng))
    raise TypeError("accucues_mdgl needs a numpy.random.RandomState, an integer seed or None (global legacy "
                    f"generator) to keep the reference call order; got {type(rng).__name__}")


def accucues_mdgl(batch_size, rng=None):
    """One batch of the MDGL evidence-accumulation task (Liu et al., PNAS 2021; spec datasets.md §4.1).

    Parameters
    ----------
    batch_size : int
        Number of trials B, 1 ≤ B ≤ 127: every trial of a batch gets a different 7-bit cue pattern.
    rng : numpy.random.RandomState, int or None
        Legacy Mersenne-Twister generator (an int seeds a fresh one; None uses NumPy's global legacy
        generator, like the reference).

    RNG call order (keep it: it makes batches bit-identical to the reference for the same state):

    1. ``rng.permutation(128)``; the first B entries are the patterns;
    2. per trial b = 0…B−1, in this order:
       a. noise block ``rng.poisson(0.01, (2000, 10))`` -> channels 30–39, all steps;
       b. recall block ``rng.poisson(0.04, (150, 10))`` -> channels 20–29, steps [1850, 2000);
       c. for each cue k = 0…6: ``rng.poisson(0.04, (100, 10))`` -> channels 0–9 (left, bit 1) or
          10–19 (right, bit 0), steps [150k, 150k + 100).

    Returns
    -------
    inputs : float64 (B, 2000, 40)
        Spike counts per step (Poisson; mostly 0 and 1, occasionally 2 or more).
    labels : int64 (B,)
        1 (= left) iff the pattern has ≥ 4 left cues, else 0.
    patterns : int64 (B,)
        The pattern numbers (distinct within the batch).
    """
    batch_size = _check_int("batch_size", batch_size)
    if not 0 < batch_size < _MDGL_N_PATTERNS:
        raise ValueError(f"batch_size must be in 1..{_MDGL_N_PATTERNS - 1} for the MDGL task (the batch uses "
                         f"distinct {_MDGL_N_CUES}-bit cue patterns, of which there are {_MDGL_N_PATTERNS}); "
                         f"got {batch_size}")
    gen = _legacy_rng(rng)
    patterns = np.asarray(gen.permutation(_MDGL_N_PATTERNS)[:batch_size], dtype=np.int64) % _MDGL_N_PATTERNS
    bits = mdgl_cue_bits(patterns)
    labels = mdgl_label(patterns)

    T, C = _MDGL_T, N_CHANNEL
    t_recall = T - _MDGL_T_RECALL
    inputs = np.zeros((batch_size, T, N_INPUT), dtype=np.float64)
    for b in range(batch_size):
        inputs[b, :, NOISE * C:(NOISE + 1) * C] = gen.poisson(_MDGL_NOISE_MEAN, (T, C))
        inputs[b, t_recall:, RECALL * C:(RECALL + 1) * C] = gen.poisson(_MDGL_CUE_MEAN, (_MDGL_T_RECALL, C))
        for k in range(_MDGL_N_CUES):
            group = LEFT if bits[b, k] == 1 else RIGHT
            t0 = _MDGL_T_INTERVAL * k
            inputs[b, t0:t0 + _MDGL_T_CUE, group * C:(group + 1) * C] = gen.poisson(_MDGL_CUE_MEAN, (_MDGL_T_CUE, C))
    return inputs, labels, patterns


def _uniform(gen, size):
    """Uniform [0, 1) samples from a RandomState or a Generator."""
    if isinstance(gen, np.random.Generator):
        return gen.random(size)
    return gen.random_sample(size)


def accucues_eprop(batch_size, rng, n_cues=7, t_cue=100, t_interval=150, t_silence=50, length=2250,
                   recall_duration=150, p_group=0.3, f0=0.04, noise_fraction=0.25, n_channel=N_CHANNEL):
    """One batch of the e-prop tutorial evidence-accumulation task (Bellec et al., Nat. Commun. 2020;
    spec datasets.md §4.2). Never mix with :func:`accucues_mdgl`.

    Parameters
    ----------
    batch_size : int
        Number of trials (≥ 1).
    rng : numpy.random.Generator, numpy.random.RandomState or int
        Source of every random draw (an int seeds ``numpy.random.default_rng``). Required: the
        reference's unseeded draw is deliberately not reproduced.
    n_cues, t_cue, t_interval, t_silence : int
        Cue k occupies steps [t_silence + k·t_interval, t_silence + k·t_interval + t_cue)
        (defaults 7, 100, 150, 50; t_silence + t_cue ≤ t_interval).
    length : int
        Trial length T (default 2250 = 7·150 + 1200); recall_duration (150) last steps are the recall.
    p_group : float
        Probability that a cue goes to the non-dominant group (default 0.3; dominant 1 − p_group = 0.7).
    f0 : float
        Spike probability per step of cue and recall channels (0.04 = 40 Hz at 1 ms);
        noise channels fire with ``noise_fraction · f0`` (0.01 = 10 Hz) on every step.
    n_channel : int
        Channels per group (10): 0–9 group 0, 10–19 group 1, 20–29 recall, 30–39 noise.

    Draw order: dominant group per trial (``B`` uniforms < 0.5 -> group 1), cue sides (``B × n_cues``
    uniforms < probability of group 1), noise block (B, T, n_channel), recall block
    (B, recall_duration, n_channel), cue blocks (B, n_cues, t_cue, n_channel); Bernoulli spikes are
    ``uniform < p``.

    Returns
    -------
    inputs : float64 (B, T, 4·n_channel), spikes in {0, 1}
    labels : int64 (B,), 1 iff more than n_cues // 2 cues went to group 1 (> 3 of 7)
    cues : int64 (B, n_cues), the group (0 or 1) of every cue
    """
    batch_size = _check_int("batch_size", batch_size)
    if batch_size <= 0:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    for name, value in (("n_cues", n_cues), ("t_cue", t_cue), ("t_interval", t_interval), ("length", length),
                        ("recall_duration", recall_duration), ("n_channel", n_channel)):
        if _check_int(name, value) <= 0:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if _check_int("t_silence", t_silence) < 0 or t_silence + t_cue > t_interval:
        raise ValueError(f"need 0 <= t_silence and t_silence + t_cue <= t_interval; got t_silence={t_silence}, "
                         f"t_cue={t_cue}, t_interval={t_interval}")
    if n_cues * t_interval + recall_duration > length:
        raise ValueError(f"length {length} is too short for {n_cues} cues of period {t_interval} and a recall of "
                         f"{recall_duration} steps")
    if not 0.0 <= p_group <= 1.0:
        raise ValueError(f"p_group must be in [0, 1], got {p_group}")
    if not 0.0 <= f0 <= 1.0 or not 0.0 <= noise_fraction * f0 <= 1.0:
        raise ValueError(f"spike probabilities must lie in [0, 1]; got f0={f0}, noise f0·{noise_fraction}")
    if rng is None:
        raise ValueError("accucues_eprop needs a seed or a generator (the reference's unseeded draw is not "
                         "reproducible)")
    if isinstance(rng, (np.random.Generator, np.random.RandomState)):
        gen = rng
    elif isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        gen = np.random.default_rng(int(rng))
    else:
        raise TypeError(f"rng must be a numpy Generator, RandomState or an integer seed; got {type(rng).__name__}")

    B, T, C = batch_size, int(length), int(n_channel)
    dominant_is_1 = _uniform(gen, B) < 0.5
    p_to_1 = np.where(dominant_is_1, 1.0 - p_group, p_group)
    cues = (_uniform(gen, (B, n_cues)) < p_to_1[:, None]).astype(np.int64)
    labels = (cues.sum(axis=1) > n_cues // 2).astype(np.int64)

    inputs = np.zeros((B, T, 4 * C), dtype=np.float64)
    inputs[:, :, NOISE * C:(NOISE + 1) * C] = _uniform(gen, (B, T, C)) < noise_fraction * f0
    inputs[:, T - recall_duration:, RECALL * C:(RECALL + 1) * C] = _uniform(gen, (B, recall_duration, C)) < f0
    cue_spikes = _uniform(gen, (B, n_cues, t_cue, C)) < f0
    for k in range(n_cues):
        t0 = t_silence + k * t_interval
        for group in (0, 1):
            trials = cues[:, k] == group
            inputs[trials, t0:t0 + t_cue, group * C:(group + 1) * C] = cue_spikes[trials, k]
    return inputs, labels, cues
