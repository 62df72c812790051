"""Yin-yang classification data set.

Reference: L. Kriener, J. Göltz, M. A. Petrovici, *The Yin-Yang dataset*, Neuro-Inspired Computational
Elements Conference (NICE) 2022, doi:10.1145/3517343.3517380, arXiv:2102.08211.

Points are drawn uniformly inside a disk of radius ``r_big`` centred at (r_big, r_big) and labelled
yin (0), yang (1) or dot (2). Each sample is encoded as the four features ``[x, y, 1 - x, 1 - y]``, so
every feature vector sums to 2 (the mirrored copies keep the total input rate constant for spiking
networks).

The generator follows the project specification (``specs/datasets.md`` §1) and keeps the legacy
Mersenne-Twister call order exactly, so that data sets produced here are bit-identical to the published
splits and to the ones used by the reference code bases. A vectorised sampler would be statistically
equivalent but would give *different* samples, which would break comparability of results.
"""
import math

import numpy as np

__all__ = ["yinyang_label", "generate_yinyang", "yinyang_splits", "YINYANG_CONVENTIONS"]

# Split conventions (spec §1.3): sizes and seeds of the data-set paper / README splits.
_PAPER_SPLITS = {"train": (5000, 42), "validation": (1000, 41), "test": (1000, 40)}
YINYANG_CONVENTIONS = ("pal", "paper")


def _dist(x, y, cx, cy):
    """Euclidean distance of (x, y) to (cx, cy), written as sqrt of squares like the reference rule."""
    return math.sqrt((x - cx) ** 2 + (y - cy) ** 2)


def yinyang_label(x, y, r_small=0.1, r_big=0.5):
    """Class of the point (x, y): 0 = yin, 1 = yang, 2 = dot (spec §1.1).

    The point is assumed to lie inside the big disk; the generator rejects points outside it before
    calling this. The rules are evaluated in the specified order because they overlap: the dot test
    must win over the yang test, and the boundary case ``d_R == r_small`` (not caught by the strict dot
    test) is assigned to yang.
    """
    d_right = _dist(x, y, 1.5 * r_big, r_big)
    d_left = _dist(x, y, 0.5 * r_big, r_big)
    if d_right < r_small or d_left < r_small:
        return 2
    if (d_right <= r_small or r_small < d_left <= 0.5 * r_big
            or (y > r_big and d_right > 0.5 * r_big)):
        return 1
    return 0


def _draw_point(rng, target, r_small, r_big):
    """Draw points until one inside the big disk has class ``target`` (rejection sampling, spec §1.2)."""
    while True:
        x, y = rng.rand(2) * 2.0 * r_big
        if _dist(x, y, r_big, r_big) > r_big:
            continue
        if yinyang_label(x, y, r_small, r_big) == target:
            return x, y


def generate_yinyang(n, seed, r_small=0.1, r_big=0.5):
    """Generate ``n`` yin-yang samples from one legacy ``RandomState(seed)``.

    For each sample the target class is drawn first (``randint(3)``), then points are drawn with
    ``rand(2)`` until one of that class is found, so classes are balanced in expectation only.

    Returns ``(features, labels)``: features float64 of shape (n, 4) = ``[x, y, 1 - x, 1 - y]``,
    labels int64 of shape (n,).
    """
    n = int(n)
    if n < 0:
        raise ValueError(f"number of samples must be >= 0, got {n}")
    rng = np.random.RandomState(seed)
    points = np.empty((n, 2), dtype=np.float64)
    labels = np.empty(n, dtype=np.int64)
    for i in range(n):
        target = int(rng.randint(3))
        points[i] = _draw_point(rng, target, r_small, r_big)
        labels[i] = target
    features = np.concatenate([points, 1.0 - points], axis=1)
    return features, labels


def _split_specs(convention, data_seed, n_train, n_valid, n_test):
    """Sizes and seeds of the three splits for a named convention (spec §1.3)."""
    if convention == "paper":
        return dict(_PAPER_SPLITS)
    if convention == "pal":
        # The PAL configs give per-class counts; the generator is asked for 3x that many samples.
        # Consecutive seeds keep the splits independent (equal seeds would give identical splits).
        return {"train": (3 * n_train, data_seed),
                "validation": (3 * n_valid, data_seed + 1),
                "test": (3 * n_test, data_seed + 2)}
    raise ValueError(f"unknown yin-yang split convention {convention!r}; "
                     f"expected one of {', '.join(YINYANG_CONVENTIONS)}")


def yinyang_splits(convention="pal", data_seed=9876543, n_train=2000, n_valid=300, n_test=300):
    """Train / validation / test splits of the yin-yang data set.

    ``convention="pal"``: the PAL GeNN configurations: 3*n_train, 3*n_valid and 3*n_test samples with
    seeds data_seed, data_seed + 1 and data_seed + 2 (defaults 6000 / 900 / 900).
    ``convention="paper"``: the data-set paper / README splits: 5000 / 1000 / 1000 samples with seeds
    42 / 41 / 40 (the size and seed arguments are ignored).

    Returns ``{"train": (X, y), "validation": (X, y), "test": (X, y)}``.
    """
    specs = _split_specs(convention, data_seed, n_train, n_valid, n_test)
    return {name: generate_yinyang(size, seed) for name, (size, seed) in specs.items()}
