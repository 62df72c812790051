"""Dale's law and fixed sparse connectivity for the MDGL recurrent SNN (spec alif_eprop_mdgl.md §5, §6).

References: Y. H. Liu, S. Smith, S. Mihalas, E. Shea-Brown, U. Sümbül, *Cell-type-specific
neuromodulation guides synaptic credit assignment in a spiking neural network*, PNAS 118(51):e2111821118
(2021) — initialisation and the "modified DEEP R" with a fixed adjacency; G. Bellec, D. Kappel, W. Maass,
R. Legenstein, *Deep rewiring*, ICLR 2018, and Bellec et al., NeurIPS 2018 (LSNN) — the sign/θ
parametrisation.

Conventions
-----------
* Every matrix is stored **(presynaptic, postsynaptic)**: ``w_in`` (n_in, n_rec), ``w_rec`` (n_rec, n_rec),
  ``w_out`` (n_rec, n_out). Rows carry the presynaptic sign (Dale's law); the network equations' W_ji
  (post j, pre i) is the transpose.
* Signs: ``n_E = int(e_fraction·N) + 1`` excitatory. Recurrent: the inhibitory neurons are indices
  0…n_I−1 (N = 100 -> 19 I, 81 E; all regular since indices 0–49 are LIF). Inputs: the same count
  rule (40 -> 33 E / 7 I), shuffled with the seeded generator.
* Connectivity: ``int(n_pre·n_post·p)`` index pairs drawn **with replacement** (kept for parity; the
  number of unique synapses is slightly smaller and is reported as ``DaleConnectivity.nnz``).
  ``p = 1`` means dense. Recurrent autapses are removed from the mask (the neuron model drops them
  anyway, §2.1), so ``nnz`` counts effective synapses.

Initialisation (MDGL, in this order; all before the mask is applied)
---------------------------------------------------------------------
1. magnitudes θ = |N(0, 1)|;
2. inhibitory rows rescaled so that total inhibition = total excitation;
3. each postsynaptic column balanced to zero sum: its excitatory and inhibitory parts are both scaled
   to the mean of their two sums (signs and the column's total |w| are preserved);
4. scaled to spectral radius 1 (square matrices);
5. the mask applied.
W_rec (100×100) follows this directly. W_in (40×100) is built as a 40×40 matrix (steps 1–4 with the
input signs) whose columns are resampled with replacement to 100 columns, then masked. W_out (10 %,
signed by the presynaptic recurrent type) has magnitudes |N(0,1)|·out_scale, out_scale = 1/√n_rec by
default (the spec fixes only sparsity and signs).

Modified DEEP R (applied after each optimiser step)
---------------------------------------------------
w = sign·θ for θ > 0 (else 0); the optimiser updates θ with ∂E/∂θ = sign·∂E/∂w. After the step:
θ ≤ 0 -> dormant; active θ −= lr·l1 (l1 = 1e−2); (optional noise √(2·lr·T)·N(0,1), T = 0 in MDGL);
then every dormant synapse of the **initial** adjacency is re-activated at θ = 1e−12 ("parked"), and
everything outside it stays 0. Hence the adjacency is fixed, the number of non-zeros per matrix is
constant and no synapse ever changes sign.

Random draws (one generator, in this order): input-sign permutation; W_rec magnitudes (n_rec×n_rec);
W_rec mask (pre indices, post indices); W_in square magnitudes (n_in×n_in); W_in column choices
(n_rec); W_in mask; W_out magnitudes (n_rec×n_out); W_out mask.
"""
from dataclasses import dataclass, field
import math
import numbers

import numpy as np

__all__ = ["PARKED_THETA", "MATRIX_NAMES", "n_excitatory", "dale_signs", "sample_sparse_mask",
           "balanced_dale_matrix", "scale_spectral_radius", "spectral_radius", "resample_columns",
           "DaleConnectivity", "MDGLWeights", "mdgl_initialise", "theta_from_weights", "weights_from_theta",
           "theta_gradient", "deep_r_step"]

PARKED_THETA = 1e-12          # θ of a re-activated ("parked") synapse
MATRIX_NAMES = ("in", "rec", "out")


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------

def _as_rng(rng):
    """A NumPy generator: an int seeds ``default_rng``; a Generator or legacy RandomState is used as is;
    None gives a fresh unseeded generator."""
    if isinstance(rng, (np.random.Generator, np.random.RandomState)):
        return rng
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be an integer seed, a numpy Generator or RandomState; got {type(rng).__name__}")


def _integers(rng, high, size):
    if isinstance(rng, np.random.Generator):
        return rng.integers(0, high, size=size)
    return rng.randint(0, high, size=size)


def _check_size(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_e_fraction(e_fraction):
    if not (isinstance(e_fraction, numbers.Real) and 0.0 < float(e_fraction) < 1.0):
        raise ValueError(f"excitatory fraction must lie in (0, 1), got {e_fraction!r}")
    return float(e_fraction)


def _check_connectivity(name, p):
    if not (isinstance(p, numbers.Real) and 0.0 < float(p) <= 1.0):
        raise ValueError(f"{name} must lie in (0, 1], got {p!r}")
    return float(p)


# ------------------------------------------------------------------------------------------------
# initialisation building blocks
# ------------------------------------------------------------------------------------------------

def n_excitatory(n, e_fraction=0.8):
    """Number of excitatory neurons, ``int(e_fraction·n) + 1`` (MDGL rule; 100 -> 81, 40 -> 33), at most n."""
    n = _check_size("n", n)
    return min(n, int(_check_e_fraction(e_fraction) * n) + 1)


def dale_signs(n, e_fraction=0.8, shuffle=False, rng=None):
    """Presynaptic signs (+1 excitatory, −1 inhibitory), int8 array of length n.

    Unshuffled, the n_I = n − n_excitatory(n) inhibitory neurons come first (indices 0…n_I−1: the
    recurrent MDGL layout). ``shuffle=True`` permutes them with ``rng`` (the MDGL input layout).
    """
    n_e = n_excitatory(n, e_fraction)
    signs = np.ones(n, dtype=np.int8)
    signs[:n - n_e] = -1
    if shuffle:
        signs = signs[_as_rng(rng).permutation(n)]
    return signs


def sample_sparse_mask(n_pre, n_post, connectivity, rng, remove_diagonal=False):
    """Boolean (n_pre, n_post) mask from ``int(n_pre·n_post·connectivity)`` index pairs drawn with replacement.

    Duplicates collapse, so the mask has slightly fewer entries than pairs drawn (report ``mask.sum()``).
    ``connectivity == 1`` gives the dense mask (drawing n·m pairs with replacement would leave ≈ 37 %
    unconnected). ``remove_diagonal`` clears the diagonal after sampling (square matrices; autapses).
    Returns ``(mask, n_sampled)``.
    """
    n_pre, n_post = _check_size("n_pre", n_pre), _check_size("n_post", n_post)
    p = _check_connectivity("connectivity", connectivity)
    if p == 1.0:
        mask = np.ones((n_pre, n_post), dtype=bool)
        n_sampled = n_pre * n_post
    else:
        n_sampled = int(n_pre * n_post * p)
        if n_sampled == 0:
            raise ValueError(f"connectivity {p} of a {n_pre}x{n_post} matrix gives no synapse "
                             f"(int({n_pre}*{n_post}*{p}) = 0)")
        gen = _as_rng(rng)
        pre = _integers(gen, n_pre, n_sampled)
        post = _integers(gen, n_post, n_sampled)
        mask = np.zeros((n_pre, n_post), dtype=bool)
        mask[pre, post] = True
    if remove_diagonal:
        if n_pre != n_post:
            raise ValueError(f"remove_diagonal needs a square matrix, got {n_pre}x{n_post}")
        np.fill_diagonal(mask, False)
    return mask, n_sampled


def spectral_radius(w):
    """Largest absolute eigenvalue of a square matrix."""
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"spectral radius needs a square matrix, got shape {w.shape}")
    return float(np.max(np.abs(np.linalg.eigvals(w))))


def scale_spectral_radius(w, radius=1.0):
    """``w`` scaled so that its spectral radius equals ``radius``."""
    rho = spectral_radius(w)
    if not rho > 0.0:
        raise ValueError("cannot rescale a matrix with spectral radius 0")
    return np.asarray(w, dtype=np.float64) * (radius / rho)


def balanced_dale_matrix(signs, n_post, rng, radius=1.0):
    """Dense signed (n_pre, n_post) matrix following MDGL steps 1–4 (module docstring), before masking.

    ``signs`` are the presynaptic signs (length n_pre, at least one of each). Every column sums to zero
    (to rounding). ``radius`` (square matrices only; None skips) sets the spectral radius.
    """
    signs = np.asarray(signs)
    n_post = _check_size("n_post", n_post)
    exc, inh = signs > 0, signs < 0
    if signs.ndim != 1 or not np.all(exc | inh):
        raise ValueError("signs must be a 1-D array of +1 / -1")
    if not exc.any() or not inh.any():
        raise ValueError(f"balancing needs at least one excitatory and one inhibitory presynaptic neuron "
                         f"(got {int(exc.sum())} E / {int(inh.sum())} I); lower the excitatory fraction or "
                         f"increase the population")
    theta = np.abs(_as_rng(rng).standard_normal((signs.size, n_post)))
    # 2. total inhibition = total excitation
    theta[inh] *= theta[exc].sum() / theta[inh].sum()
    # 3. zero-sum columns: scale both parts of each column to the mean of their sums
    e_col, i_col = theta[exc].sum(axis=0), theta[inh].sum(axis=0)
    target = 0.5 * (e_col + i_col)
    theta[exc] *= target / e_col
    theta[inh] *= target / i_col
    w = signs[:, None].astype(np.float64) * theta
    # 4. spectral radius
    if radius is not None:
        w = scale_spectral_radius(w, radius)
    return w


def resample_columns(w, n_post, rng):
    """(n_pre, n_post) matrix whose columns are drawn with replacement from the columns of ``w``
    (MDGL W_in: 100 columns from a 40×40 balanced matrix). Returns ``(matrix, column_indices)``."""
    w = np.asarray(w)
    cols = _integers(_as_rng(rng), w.shape[1], _check_size("n_post", n_post))
    return w[:, cols].copy(), cols


# ------------------------------------------------------------------------------------------------
# connectivity container and initialisation
# ------------------------------------------------------------------------------------------------

@dataclass
class DaleConnectivity:
    """Signs and fixed adjacency of the three MDGL matrices, all (presynaptic, postsynaptic).

    ``sign_in`` (n_in,) and ``sign_rec`` (n_rec,) are int8 ±1; ``mask_in`` (n_in, n_rec), ``mask_rec``
    (n_rec, n_rec) and ``mask_out`` (n_rec, n_out) are boolean; ``n_sampled`` records how many index pairs
    were drawn (with replacement) per matrix. W_out rows use the recurrent signs.
    """
    sign_in: np.ndarray
    sign_rec: np.ndarray
    mask_in: np.ndarray
    mask_rec: np.ndarray
    mask_out: np.ndarray
    n_sampled: dict = field(default_factory=dict)

    def __post_init__(self):
        n_in, n_rec = len(self.sign_in), len(self.sign_rec)
        if self.mask_in.shape[0] != n_in or self.mask_in.shape[1] != n_rec:
            raise ValueError(f"mask_in must be ({n_in}, {n_rec}), got {self.mask_in.shape}")
        if self.mask_rec.shape != (n_rec, n_rec):
            raise ValueError(f"mask_rec must be ({n_rec}, {n_rec}), got {self.mask_rec.shape}")
        if self.mask_out.ndim != 2 or self.mask_out.shape[0] != n_rec:
            raise ValueError(f"mask_out must be ({n_rec}, n_out), got {self.mask_out.shape}")

    @property
    def n_in(self):
        return len(self.sign_in)

    @property
    def n_rec(self):
        return len(self.sign_rec)

    @property
    def n_out(self):
        return self.mask_out.shape[1]

    def mask(self, name):
        """Fixed adjacency of matrix ``name`` ('in', 'rec' or 'out')."""
        return {"in": self.mask_in, "rec": self.mask_rec, "out": self.mask_out}[_check_name(name)]

    def presynaptic_signs(self, name):
        """±1 sign of each row of matrix ``name``."""
        return self.sign_in if _check_name(name) == "in" else self.sign_rec

    def sign_matrix(self, name):
        """Per-synapse sign (float64, shape of the matrix): the presynaptic sign on connected positions, 0 elsewhere."""
        return self.presynaptic_signs(name)[:, None].astype(np.float64) * self.mask(name)

    @property
    def nnz(self):
        """Number of connected synapses per matrix (constant during training)."""
        return {name: int(self.mask(name).sum()) for name in MATRIX_NAMES}

    def summary(self):
        """One-line report: E/I counts and nnz against pairs drawn."""
        n_i_rec, n_i_in = int((self.sign_rec < 0).sum()), int((self.sign_in < 0).sum())
        parts = [f"rec {self.n_rec - n_i_rec} E / {n_i_rec} I", f"in {self.n_in - n_i_in} E / {n_i_in} I"]
        for name in MATRIX_NAMES:
            drawn = self.n_sampled.get(name)
            parts.append(f"nnz {name} {self.nnz[name]}" + (f" (of {drawn} drawn)" if drawn is not None else ""))
        return "; ".join(parts)

    # -- θ parametrisation -----------------------------------------------------------------------
    def theta_from_weights(self, w, name):
        return theta_from_weights(w, self.sign_matrix(name))

    def weights_from_theta(self, theta, name):
        return weights_from_theta(theta, self.sign_matrix(name))

    def theta_gradient(self, grad_w, name):
        return theta_gradient(grad_w, self.sign_matrix(name))

    def deep_r_step(self, thetas, lr, l1=1e-2, temperature=0.0, rng=None):
        """Apply :func:`deep_r_step` to every matrix in ``thetas`` (dict name -> θ).

        Returns ``(new_thetas, parked)``: dicts of the updated θ and of the boolean masks of synapses
        parked at 1e−12 in this step.
        """
        new, parked = {}, {}
        for name, theta in thetas.items():
            new[name], parked[name] = deep_r_step(theta, self.mask(name), lr, l1, temperature, rng)
        return new, parked


def _check_name(name):
    if name not in MATRIX_NAMES:
        raise ValueError(f"unknown matrix {name!r}; expected one of {MATRIX_NAMES}")
    return name


@dataclass
class MDGLWeights:
    """Result of :func:`mdgl_initialise`: masked signed weights, the dense matrices before masking, and the
    connectivity. Shapes (pre, post): w_in (n_in, n_rec), w_rec (n_rec, n_rec), w_out (n_rec, n_out);
    ``dense_in_square`` is the balanced n_in×n_in matrix whose columns built ``dense_in``."""
    w_in: np.ndarray
    w_rec: np.ndarray
    w_out: np.ndarray
    dense_in: np.ndarray
    dense_in_square: np.ndarray
    dense_rec: np.ndarray
    connectivity: DaleConnectivity

    def weights(self):
        return {"in": self.w_in, "rec": self.w_rec, "out": self.w_out}

    def thetas(self):
        """Initial θ = sign·w per matrix (> 0 on every connected position, 0 elsewhere)."""
        return {name: self.connectivity.theta_from_weights(w, name) for name, w in self.weights().items()}


def mdgl_initialise(n_in=40, n_rec=100, n_out=2, connectivity=0.1, out_connectivity=0.1, e_fraction=0.8,
                    rng=None, remove_autapses=True, out_scale=None):
    """MDGL Dale's-law initialisation (spec §5; defaults = §6: 40 inputs, 100 recurrent, 2 outputs, 10 %).

    ``connectivity`` applies to W_in and W_rec (``rewiring_connectivity``), ``out_connectivity`` to W_out
    (``wout_connectivity``); both in (0, 1]. ``e_fraction`` in (0, 1) sets n_E = int(e_fraction·N) + 1 for
    both the recurrent (inhibitory first) and the input population (shuffled). ``rng`` is an int seed, a
    Generator or a RandomState (draw order in the module docstring). ``out_scale`` multiplies the |N(0,1)|
    magnitudes of W_out (default 1/√n_rec).
    """
    n_in, n_rec, n_out = _check_size("n_in", n_in), _check_size("n_rec", n_rec), _check_size("n_out", n_out)
    _check_e_fraction(e_fraction)
    connectivity = _check_connectivity("connectivity", connectivity)
    out_connectivity = _check_connectivity("out_connectivity", out_connectivity)
    gen = _as_rng(rng)
    if out_scale is None:
        out_scale = 1.0 / math.sqrt(n_rec)

    sign_rec = dale_signs(n_rec, e_fraction)
    sign_in = dale_signs(n_in, e_fraction, shuffle=True, rng=gen)

    dense_rec = balanced_dale_matrix(sign_rec, n_rec, gen, radius=1.0)
    mask_rec, drawn_rec = sample_sparse_mask(n_rec, n_rec, connectivity, gen, remove_diagonal=remove_autapses)

    dense_in_square = balanced_dale_matrix(sign_in, n_in, gen, radius=1.0)
    dense_in, _ = resample_columns(dense_in_square, n_rec, gen)
    mask_in, drawn_in = sample_sparse_mask(n_in, n_rec, connectivity, gen)

    out_theta = np.abs(gen.standard_normal((n_rec, n_out))) * out_scale
    mask_out, drawn_out = sample_sparse_mask(n_rec, n_out, out_connectivity, gen)

    conn = DaleConnectivity(sign_in=sign_in, sign_rec=sign_rec, mask_in=mask_in, mask_rec=mask_rec,
                            mask_out=mask_out, n_sampled={"in": drawn_in, "rec": drawn_rec, "out": drawn_out})
    w_out = sign_rec[:, None] * out_theta * mask_out
    return MDGLWeights(w_in=dense_in * mask_in, w_rec=dense_rec * mask_rec, w_out=w_out, dense_in=dense_in,
                       dense_in_square=dense_in_square, dense_rec=dense_rec, connectivity=conn)


# ------------------------------------------------------------------------------------------------
# θ parametrisation and modified DEEP R
# ------------------------------------------------------------------------------------------------

def theta_from_weights(w, sign):
    """θ = sign·w (sign = per-synapse ±1, 0 on unconnected positions). Connected entries must not
    violate their sign."""
    theta = np.asarray(sign, dtype=np.float64) * np.asarray(w, dtype=np.float64)
    if np.any(theta < 0):
        raise ValueError("weights violate Dale's law (sign·w < 0 somewhere)")
    return theta


def weights_from_theta(theta, sign):
    """w = sign·θ where θ > 0, else 0."""
    theta = np.asarray(theta, dtype=np.float64)
    return np.asarray(sign, dtype=np.float64) * np.where(theta > 0, theta, 0.0)


def theta_gradient(grad_w, sign):
    """∂E/∂θ = sign·∂E/∂w (zero on unconnected positions, where sign = 0)."""
    return np.asarray(sign, dtype=np.float64) * np.asarray(grad_w, dtype=np.float64)


def deep_r_step(theta, mask, lr, l1=1e-2, temperature=0.0, rng=None):
    """MDGL modified DEEP R, applied after the optimiser has updated ``theta`` (spec §5).

    1. synapses with θ ≤ 0 are dormant; the active ones are shrunk, θ −= lr·l1;
    2. if ``temperature`` > 0 (0 in MDGL), active θ += √(2·lr·T)·N(0,1) (drawn from ``rng``);
    3. θ = 0 outside the fixed adjacency ``mask``;
    4. every dormant position of ``mask`` (θ ≤ 0) is re-activated with θ = 1e−12.

    Hence nnz(θ > 0) == mask.sum() after every step and w = sign·θ never changes sign. Returns
    ``(new_theta, parked)`` with ``parked`` the boolean mask of synapses set to 1e−12 in this step.
    """
    theta = np.array(theta, dtype=np.float64)          # copy
    mask = np.asarray(mask, dtype=bool)
    if theta.shape != mask.shape:
        raise ValueError(f"theta shape {theta.shape} differs from mask shape {mask.shape}")
    if not (isinstance(lr, numbers.Real) and lr > 0 and math.isfinite(lr)):
        raise ValueError(f"learning rate must be a positive finite number, got {lr!r}")
    if not (isinstance(l1, numbers.Real) and l1 >= 0 and math.isfinite(l1)):
        raise ValueError(f"l1 must be a non-negative finite number, got {l1!r}")
    if not (isinstance(temperature, numbers.Real) and temperature >= 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature must be a non-negative finite number, got {temperature!r}")
    active = theta > 0
    theta[~active] = 0.0
    theta[active] -= lr * l1
    if temperature > 0:
        noise = _as_rng(rng).standard_normal(int(active.sum()))
        theta[active] += math.sqrt(2.0 * lr * temperature) * noise
    theta[~mask] = 0.0
    parked = mask & (theta <= 0)
    theta[parked] = PARKED_THETA
    return theta, parked
