"""Counter-based random numbers shared by every neurogen backend.

All random numbers drawn by generated code (CPU C99 now, CUDA later) and by
the Python side come from the **Philox4x32-10** counter-based generator of
Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy as 1, 2, 3",
Proc. SC 2011 (International Conference for High Performance Computing,
Networking, Storage and Analysis), doi:10.1145/2063384.2063405.

Why counter-based
-----------------
A counter-based generator is a pure function ``block = philox(counter, key)``:
there is no per-thread state to seed, advance, store or split.  Every draw is
addressed by *what* it is for (population, element, time step, draw index),
not by *which* thread or device computes it, so a simulation gives
bit-identical random numbers (integer and uniform draws, and transcendental
transforms up to libm rounding) whether it runs single-threaded, on many CPU
threads, on a GPU with any block size, or here in NumPy.  Nothing needs to be
kept in memory between steps and any draw can be recomputed later for
checking.

Counter layout
--------------
Every draw evaluates one (or several) Philox4x32-10 blocks with

==========  ==================================================================
``c0``      ``elem`` -- element index within the population *including* the
            batch offset (uint32)
``c1``      ``n | (sub << 24)`` -- ``n`` is the draw index within this element
            and step (must be < 2**24); ``sub`` is a sub-draw index (< 256)
            for algorithms that need several blocks for one variate (gamma
            rejection loop); ordinary draws use ``sub = 0``
``c2``      ``step`` -- the low 32 bits of the simulation time step
``c3``      ``stream`` -- a uint32 chosen by the engine that identifies the
            population and the kind of code (neuron update, synapse init, ...)
``k0, k1``  the low and high 32 bits of the 64-bit seed
==========  ==================================================================

Because ``n`` and ``sub`` share ``c1``, ``n`` is *not* masked: the engine must
keep ``n < 2**24``.  Two different distributions drawn with the same
(stream, elem, step, n) use the same block and are therefore dependent; the
engine gives each draw in a code snippet its own ``n``.

Word to floating-point conversions (both never return 0 or 1)
--------------------------------------------------------------
* float:  ``u = ((v0 >> 9) + 0.5f) * 2**-23``.  23 random bits plus one half;
  the sum is exact in binary32 so ``u`` lies on the grid ``(k + 1/2)/2**23``,
  ``2**-24 <= u <= 1 - 2**-24``.  (Keeping 24 bits, ``((v0>>8) + 0.5f) *
  2**-24``, is *not* exact in binary32 -- ``2**24 - 1 + 0.5`` needs 25 bits --
  and rounds the top word to exactly 1.0, so the 23-bit form is used.)
* double: ``x = (v0 << 20) | (v1 >> 12)`` (52 bits: all of ``v0`` and the top
  20 bits of ``v1``), ``u = (x + 0.5) * 2**-52``, exact in binary64, so
  ``2**-53 <= u <= 1 - 2**-53``.

Distributions
-------------
* ``rand_u32``: word ``v0`` of the block (``sub = 0``).
* ``uniform``: as above from ``v0`` (float) or ``v0, v1`` (double).
* ``normal``: Box-Muller, cosine branch only, from one block: float uses
  ``u1 = U(v0)``, ``u2 = U(v1)``; double uses ``u1 = U(v0, v1)``,
  ``u2 = U(v2, v3)``; ``z = sqrt(-2 log u1) * cos(2 pi u2)``.
* ``exponential``: ``-log(uniform)``.
* ``log_normal``: ``exp(mean + sd * normal)``.
* ``gamma(a)``: Marsaglia & Tsang (ACM TOMS 26(3), 2000).  For ``a < 1`` it
  draws ``Gamma(a + 1) * U**(1/a)`` where ``U`` is the uniform of block
  ``sub = 0``.  Rejection-loop iteration ``i = 1, 2, ...`` uses, for float,
  block ``sub = i`` (normal from ``v0, v1`` as above, acceptance uniform
  ``U(v2)``); for double, block ``sub = 2i - 1`` for the normal and block
  ``sub = 2i`` for the acceptance uniform ``U(v0, v1)``.  The loop is capped at
  127 iterations (acceptance probability is > 0.95 per iteration for every
  ``a``, so the cap is never reached in practice); if it were reached the
  result would be ``d = a' - 1/3`` (the value for ``x = 0``).  ``a <= 0`` or
  NaN gives 0.
* ``binomial(nTrials, p)``: exact sequential-search *inversion* with one
  uniform.  With ``p' = min(p, 1 - p)`` (results for ``p > 1/2`` are mirrored,
  ``X = n - Binomial(n, 1 - p)``):

  - if ``n p' < 10``: classical BINV: start at ``k = 0`` with
    ``f(0) = exp(n log1p(-p'))`` and walk up the CDF with the recurrence
    ``f(k) = f(k-1) ((n + 1) s / k - s)``, ``s = p'/(1 - p')``, subtracting
    from one uniform ``U(v0)`` (float) / ``U(v0, v1)`` (double) until it is
    exhausted; computed in the working precision.
  - otherwise: *modal* inversion, always in double: start at the mode
    ``m = floor((n + 1) p')`` with ``f(m)`` from a Stirling-series
    log-factorial, then visit ``m+1, m-1, m+2, m-2, ...`` with the
    ratio recurrences subtracting from one double uniform ``U(v0, v1)``.
    Each ``k`` is visited exactly once, so the result has the binomial
    distribution up to the rounding of ``f`` (relative error about
    ``n log(n) * 1e-16``); the expected number of steps is about
    ``1.6 sqrt(n p q)``.

  Both use block ``sub = 0`` only.  ``p <= 0`` (or NaN) gives 0, ``p >= 1``
  gives ``n``.

C and NumPy agreement
---------------------
:data:`C_SOURCE` is C99 that expects ``<stdint.h>`` and ``<math.h>`` to be
included already (the engine prelude does so).  Every function is declared
with ``NG_RNG_FN`` (default ``static inline``; the CUDA backend predefines it
as ``__device__ __forceinline__``).  It calls the precision-specific libm
functions explicitly (``logf``/``log`` ...), never type-generic ones.

The NumPy functions below compute exactly the same streams vectorised over
arrays of counters.  Integer outputs and uniforms are bit-identical to the C.
Normal, exponential and log-normal outputs go through ``log``/``cos``/``exp``,
whose last bit depends on the math library: the C code uses the platform libm
(or CUDA's device library), NumPy uses its own (often SIMD) implementations,
so these agree only to within a few units in the last place (ulp).  To keep
the float32 results as close as possible to the (nearly correctly rounded)
glibc ``logf``/``cosf``/``expf``, the NumPy float32 path evaluates each
transcendental function in float64 and rounds once to float32; every other
operation is done in float32 exactly as in the C.  The scalar-loop NumPy
gamma and binomial use Python's :mod:`math` (the platform libm) in double.
"""

from __future__ import annotations

import math
import os

import numpy as np

__all__ = [
    "C_SOURCE",
    "PHILOX_M0",
    "PHILOX_M1",
    "PHILOX_W0",
    "PHILOX_W1",
    "GAMMA_MAX_ITER",
    "BINOMIAL_INV_THRESHOLD",
    "split_seed",
    "seed_from_os",
    "philox4x32_10",
    "counter_c1",
    "uniform_from_words",
    "rand_u32",
    "uniform",
    "normal",
    "exponential",
    "log_normal",
    "gamma",
    "binomial",
]

PHILOX_M0 = 0xD2511F53
PHILOX_M1 = 0xCD9E8D57
PHILOX_W0 = 0x9E3779B9
PHILOX_W1 = 0xBB67AE85

#: maximum number of Marsaglia-Tsang rejection iterations (sub indices stay < 256)
GAMMA_MAX_ITER = 127
#: binomial uses plain BINV inversion below this value of n*min(p, 1-p)
BINOMIAL_INV_THRESHOLD = 10.0

_MASK32 = 0xFFFFFFFF
_MASK64 = 0xFFFFFFFFFFFFFFFF

# ---------------------------------------------------------------------------
# C99 source
# ---------------------------------------------------------------------------

C_SOURCE = r"""
/* ---- neurogen counter-based RNG: Philox4x32-10 (Salmon et al., SC 2011) ----
 * counter: c0 = elem, c1 = n | (sub << 24), c2 = step (low 32 bits),
 *          c3 = stream;  key: k0, k1 = low, high 32 bits of the 64-bit seed.
 * Expects <stdint.h> and <math.h>. */
#ifndef NG_RNG_FN
#define NG_RNG_FN static inline
#endif

typedef struct { uint32_t v[4]; } ng_u32x4;

NG_RNG_FN ng_u32x4 ng_philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2,
                                    uint32_t c3, uint32_t k0, uint32_t k1)
{
    ng_u32x4 r;
    int i;
    for (i = 0; i < 10; ++i) {
        const uint64_t p0 = (uint64_t)0xD2511F53u * (uint64_t)c0;
        const uint64_t p1 = (uint64_t)0xCD9E8D57u * (uint64_t)c2;
        const uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        const uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    r.v[0] = c0; r.v[1] = c1; r.v[2] = c2; r.v[3] = c3;
    return r;
}

NG_RNG_FN ng_u32x4 ng_rng_block(uint32_t k0, uint32_t k1, uint32_t stream,
                                uint32_t elem, uint32_t step, uint32_t n,
                                uint32_t sub)
{
    return ng_philox4x32_10(elem, n | (sub << 24), step, stream, k0, k1);
}

/* (0,1) from one word: 23 bits + 1/2, exact in binary32 */
NG_RNG_FN float ng_rng_u01_f(uint32_t w)
{
    return ((float)(w >> 9) + 0.5f) * 1.1920928955078125e-07f; /* 2^-23 */
}

/* (0,1) from two words: 52 bits + 1/2, exact in binary64 */
NG_RNG_FN double ng_rng_u01_d(uint32_t a, uint32_t b)
{
    const uint64_t x = ((uint64_t)a << 20) | (uint64_t)(b >> 12);
    return ((double)x + 0.5) * 2.220446049250313080847263336181640625e-16; /* 2^-52 */
}

NG_RNG_FN float ng_rng_box_muller_f(uint32_t a, uint32_t b)
{
    const float u1 = ng_rng_u01_f(a);
    const float u2 = ng_rng_u01_f(b);
    const float r = sqrtf(-2.0f * logf(u1));
    const float t = 6.28318548202514648438f * u2; /* (float)(2 pi) */
    return r * cosf(t);
}

NG_RNG_FN double ng_rng_box_muller_d(uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    const double u1 = ng_rng_u01_d(a, b);
    const double u2 = ng_rng_u01_d(c, d);
    const double r = sqrt(-2.0 * log(u1));
    const double t = 6.28318530717958623200 * u2; /* (double)(2 pi) */
    return r * cos(t);
}

NG_RNG_FN uint32_t ng_rand_u32(uint32_t k0, uint32_t k1, uint32_t stream,
                               uint32_t elem, uint32_t step, uint32_t n)
{
    return ng_rng_block(k0, k1, stream, elem, step, n, 0u).v[0];
}

NG_RNG_FN float ng_uniform_f(uint32_t k0, uint32_t k1, uint32_t stream,
                             uint32_t elem, uint32_t step, uint32_t n)
{
    const ng_u32x4 b = ng_rng_block(k0, k1, stream, elem, step, n, 0u);
    return ng_rng_u01_f(b.v[0]);
}

NG_RNG_FN double ng_uniform_d(uint32_t k0, uint32_t k1, uint32_t stream,
                              uint32_t elem, uint32_t step, uint32_t n)
{
    const ng_u32x4 b = ng_rng_block(k0, k1, stream, elem, step, n, 0u);
    return ng_rng_u01_d(b.v[0], b.v[1]);
}

NG_RNG_FN float ng_normal_f(uint32_t k0, uint32_t k1, uint32_t stream,
                            uint32_t elem, uint32_t step, uint32_t n)
{
    const ng_u32x4 b = ng_rng_block(k0, k1, stream, elem, step, n, 0u);
    return ng_rng_box_muller_f(b.v[0], b.v[1]);
}

NG_RNG_FN double ng_normal_d(uint32_t k0, uint32_t k1, uint32_t stream,
                             uint32_t elem, uint32_t step, uint32_t n)
{
    const ng_u32x4 b = ng_rng_block(k0, k1, stream, elem, step, n, 0u);
    return ng_rng_box_muller_d(b.v[0], b.v[1], b.v[2], b.v[3]);
}

NG_RNG_FN float ng_exponential_f(uint32_t k0, uint32_t k1, uint32_t stream,
                                 uint32_t elem, uint32_t step, uint32_t n)
{
    return -logf(ng_uniform_f(k0, k1, stream, elem, step, n));
}

NG_RNG_FN double ng_exponential_d(uint32_t k0, uint32_t k1, uint32_t stream,
                                  uint32_t elem, uint32_t step, uint32_t n)
{
    return -log(ng_uniform_d(k0, k1, stream, elem, step, n));
}

NG_RNG_FN float ng_log_normal_f(uint32_t k0, uint32_t k1, uint32_t stream,
                                uint32_t elem, uint32_t step, uint32_t n,
                                float mean, float sd)
{
    return expf(mean + sd * ng_normal_f(k0, k1, stream, elem, step, n));
}

NG_RNG_FN double ng_log_normal_d(uint32_t k0, uint32_t k1, uint32_t stream,
                                 uint32_t elem, uint32_t step, uint32_t n,
                                 double mean, double sd)
{
    return exp(mean + sd * ng_normal_d(k0, k1, stream, elem, step, n));
}

/* Gamma(a, 1): Marsaglia & Tsang (2000); a < 1 via Gamma(a+1) * U^(1/a).
 * Iteration i uses block sub = i (normal from v0,v1; acceptance U from v2). */
NG_RNG_FN float ng_gamma_f(uint32_t k0, uint32_t k1, uint32_t stream,
                           uint32_t elem, uint32_t step, uint32_t n, float a)
{
    const int boost = a < 1.0f;
    const float aa = boost ? a + 1.0f : a;
    const float d = aa - 1.0f / 3.0f;
    const float c = (1.0f / 3.0f) / sqrtf(d);
    float res = d;
    uint32_t i;
    if (!(a > 0.0f)) return 0.0f;
    for (i = 1u; i <= 127u; ++i) {
        const ng_u32x4 b = ng_rng_block(k0, k1, stream, elem, step, n, i);
        const float x = ng_rng_box_muller_f(b.v[0], b.v[1]);
        float v = 1.0f + c * x;
        if (v > 0.0f) {
            const float u = ng_rng_u01_f(b.v[2]);
            const float x2 = x * x;
            v = v * v * v;
            if (u < 1.0f - 0.0331f * x2 * x2 ||
                logf(u) < 0.5f * x2 + d * (1.0f - v + logf(v))) {
                res = d * v;
                break;
            }
        }
    }
    if (boost) {
        const ng_u32x4 b = ng_rng_block(k0, k1, stream, elem, step, n, 0u);
        res *= expf(logf(ng_rng_u01_f(b.v[0])) / a);
    }
    return res;
}

/* As ng_gamma_f; iteration i uses block sub = 2i-1 (normal from v0..v3)
 * and block sub = 2i (acceptance U from v0,v1). */
NG_RNG_FN double ng_gamma_d(uint32_t k0, uint32_t k1, uint32_t stream,
                            uint32_t elem, uint32_t step, uint32_t n, double a)
{
    const int boost = a < 1.0;
    const double aa = boost ? a + 1.0 : a;
    const double d = aa - 1.0 / 3.0;
    const double c = (1.0 / 3.0) / sqrt(d);
    double res = d;
    uint32_t i;
    if (!(a > 0.0)) return 0.0;
    for (i = 1u; i <= 127u; ++i) {
        const ng_u32x4 b = ng_rng_block(k0, k1, stream, elem, step, n, 2u * i - 1u);
        const double x = ng_rng_box_muller_d(b.v[0], b.v[1], b.v[2], b.v[3]);
        double v = 1.0 + c * x;
        if (v > 0.0) {
            const ng_u32x4 b2 = ng_rng_block(k0, k1, stream, elem, step, n, 2u * i);
            const double u = ng_rng_u01_d(b2.v[0], b2.v[1]);
            const double x2 = x * x;
            v = v * v * v;
            if (u < 1.0 - 0.0331 * x2 * x2 ||
                log(u) < 0.5 * x2 + d * (1.0 - v + log(v))) {
                res = d * v;
                break;
            }
        }
    }
    if (boost) {
        const ng_u32x4 b = ng_rng_block(k0, k1, stream, elem, step, n, 0u);
        res *= exp(log(ng_rng_u01_d(b.v[0], b.v[1])) / a);
    }
    return res;
}

/* log(k!) in double: exact product for k < 16, Stirling series otherwise
 * (absolute error < 1e-13 there). */
NG_RNG_FN double ng_rng_log_factorial(double k)
{
    if (k < 16.0) {
        double f = 1.0, i;
        for (i = 2.0; i <= k; i += 1.0) f *= i;
        return log(f);
    } else {
        const double r = 1.0 / k, r2 = r * r;
        return (k + 0.5) * log(k) - k + 0.91893853320467274178 /* log(2 pi)/2 */
               + r * (1.0 / 12.0 - r2 * (1.0 / 360.0 - r2 * (1.0 / 1260.0 - r2 / 1680.0)));
    }
}

/* Binomial by modal sequential-search inversion (double, 0 < p <= 1/2). */
NG_RNG_FN unsigned int ng_rng_binomial_modal(unsigned int nTrials, double p, double u)
{
    const double q = 1.0 - p;
    const double s = p / q;
    const double nd = (double)nTrials;
    const double m = floor((nd + 1.0) * p);
    const double fm = exp(ng_rng_log_factorial(nd) - ng_rng_log_factorial(m)
                          - ng_rng_log_factorial(nd - m)
                          + m * log(p) + (nd - m) * log1p(-p));
    double lo = m, hi = m, flo = fm, fhi = fm;
    u -= fm;
    if (u <= 0.0) return (unsigned int)m;
    for (;;) {
        int moved = 0;
        if (hi < nd && fhi > 1e-300) {
            fhi *= (nd - hi) / (hi + 1.0) * s;
            hi += 1.0;
            u -= fhi;
            if (u <= 0.0) return (unsigned int)hi;
            moved = 1;
        }
        if (lo > 0.0 && flo > 1e-300) {
            flo *= lo / ((nd - lo + 1.0) * s);
            lo -= 1.0;
            u -= flo;
            if (u <= 0.0) return (unsigned int)lo;
            moved = 1;
        }
        if (!moved) return (unsigned int)m; /* rounding residue only */
    }
}

NG_RNG_FN unsigned int ng_binomial_f(uint32_t k0, uint32_t k1, uint32_t stream,
                                     uint32_t elem, uint32_t step, uint32_t n,
                                     unsigned int nTrials, float p)
{
    const ng_u32x4 b = ng_rng_block(k0, k1, stream, elem, step, n, 0u);
    const int flip = p > 0.5f;
    const float pp = flip ? 1.0f - p : p;
    unsigned int x;
    if (!(p > 0.0f)) return 0u;
    if (p >= 1.0f) return nTrials;
    if ((float)nTrials * pp < 10.0f) {
        const float q = 1.0f - pp;
        const float s = pp / q;
        const float a = ((float)nTrials + 1.0f) * s;
        float r = expf((float)nTrials * log1pf(-pp));
        float u = ng_rng_u01_f(b.v[0]);
        x = 0u;
        while (u > r && x < nTrials && r > 0.0f) {
            u -= r;
            ++x;
            r *= a / (float)x - s;
        }
    } else {
        x = ng_rng_binomial_modal(nTrials, (double)pp, ng_rng_u01_d(b.v[0], b.v[1]));
    }
    return flip ? nTrials - x : x;
}

NG_RNG_FN unsigned int ng_binomial_d(uint32_t k0, uint32_t k1, uint32_t stream,
                                     uint32_t elem, uint32_t step, uint32_t n,
                                     unsigned int nTrials, double p)
{
    const ng_u32x4 b = ng_rng_block(k0, k1, stream, elem, step, n, 0u);
    const int flip = p > 0.5;
    const double pp = flip ? 1.0 - p : p;
    const double u0 = ng_rng_u01_d(b.v[0], b.v[1]);
    unsigned int x;
    if (!(p > 0.0)) return 0u;
    if (p >= 1.0) return nTrials;
    if ((double)nTrials * pp < 10.0) {
        const double q = 1.0 - pp;
        const double s = pp / q;
        const double a = ((double)nTrials + 1.0) * s;
        double r = exp((double)nTrials * log1p(-pp));
        double u = u0;
        x = 0u;
        while (u > r && x < nTrials && r > 0.0) {
            u -= r;
            ++x;
            r *= a / (double)x - s;
        }
    } else {
        x = ng_rng_binomial_modal(nTrials, pp, u0);
    }
    return flip ? nTrials - x : x;
}
/* ---- end neurogen RNG ---- */
"""

# ---------------------------------------------------------------------------
# Seeds
# ---------------------------------------------------------------------------


def split_seed(seed: int) -> tuple[int, int]:
    """Split a 64-bit seed into the Philox key ``(k0, k1)`` (low, high words).

    The seed is reduced modulo 2**64 first (so a negative int64 seed maps to
    its two's-complement bit pattern).
    """
    s = int(seed) & _MASK64
    return s & _MASK32, s >> 32


def seed_from_os() -> int:
    """A nonzero 64-bit seed from ``os.urandom``."""
    while True:
        s = int.from_bytes(os.urandom(8), "little")
        if s != 0:
            return s


# ---------------------------------------------------------------------------
# Philox4x32-10 in NumPy
# ---------------------------------------------------------------------------


def _u32(x) -> np.ndarray:
    """Array of uint32 from ints / arrays, reducing modulo 2**32."""
    a = np.asarray(x)
    if a.dtype == np.uint32:
        return a
    if a.dtype == np.uint64:
        return (a & np.uint64(_MASK32)).astype(np.uint32)
    if a.dtype.kind in "iub":
        return (a.astype(np.int64) & _MASK32).astype(np.uint32)
    if a.dtype.kind == "O":
        return np.vectorize(lambda v: int(v) & _MASK32, otypes=[np.uint32])(a)
    raise TypeError(f"counter/key values must be integers, got dtype {a.dtype}")


def philox4x32_10(c0, c1, c2, c3, k0, k1) -> np.ndarray:
    """Philox4x32-10 of counters ``(c0, c1, c2, c3)`` under key ``(k0, k1)``.

    All arguments are broadcast together (ints or integer arrays, reduced
    modulo 2**32).  Returns a uint32 array of shape ``broadcast_shape + (4,)``.
    """
    c0, c1, c2, c3, k0, k1 = np.broadcast_arrays(
        *(_u32(v) for v in (c0, c1, c2, c3, k0, k1)))
    m32 = np.uint64(_MASK32)
    x0 = c0.astype(np.uint64)
    x1 = c1.astype(np.uint64)
    x2 = c2.astype(np.uint64)
    x3 = c3.astype(np.uint64)
    key0 = k0.astype(np.uint64)
    key1 = k1.astype(np.uint64)
    m0, m1 = np.uint64(PHILOX_M0), np.uint64(PHILOX_M1)
    w0, w1 = np.uint64(PHILOX_W0), np.uint64(PHILOX_W1)
    s32 = np.uint64(32)
    for _ in range(10):
        p0 = m0 * x0          # < 2**64: no overflow
        p1 = m1 * x2
        n0 = (p1 >> s32) ^ x1 ^ key0
        n2 = (p0 >> s32) ^ x3 ^ key1
        x1 = p1 & m32
        x3 = p0 & m32
        x0, x2 = n0, n2
        key0 = (key0 + w0) & m32
        key1 = (key1 + w1) & m32
    out = np.stack([x0, x1, x2, x3], axis=-1).astype(np.uint32)
    return out


def counter_c1(n, sub=0) -> np.ndarray:
    """The ``c1`` counter word ``n | (sub << 24)`` (uint32)."""
    n = _u32(n).astype(np.uint64)
    sub = _u32(sub).astype(np.uint64)
    return ((n | (sub << np.uint64(24))) & np.uint64(_MASK32)).astype(np.uint32)


def _block(seed, stream, elem, step, n, sub=0) -> np.ndarray:
    k0, k1 = split_seed(seed)
    return philox4x32_10(elem, counter_c1(n, sub), step, stream, k0, k1)


# ---------------------------------------------------------------------------
# Word -> floating point
# ---------------------------------------------------------------------------

_TWO_M23_F = np.float32(2.0 ** -23)
_TWO_M52 = 2.0 ** -52
_TWO_PI_F = np.float32(6.28318548202514648438)   # (float)(2 pi), 0x40C90FDB
_TWO_PI_D = 6.28318530717958623200               # (double)(2 pi)


def _check_dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _u01_f(w) -> np.ndarray:
    w = np.asarray(w, dtype=np.uint32)
    return ((w >> np.uint32(9)).astype(np.float32) + np.float32(0.5)) * _TWO_M23_F


def _u01_d(a, b) -> np.ndarray:
    a = np.asarray(a, dtype=np.uint32).astype(np.uint64)
    b = np.asarray(b, dtype=np.uint32).astype(np.uint64)
    x = (a << np.uint64(20)) | (b >> np.uint64(12))
    return (x.astype(np.float64) + 0.5) * _TWO_M52


def uniform_from_words(v0, v1=0, dtype=np.float32) -> np.ndarray:
    """The (0, 1) conversion applied to Philox words (see module docstring).

    float32 uses ``v0`` only; float64 uses ``v0`` (high) and ``v1`` (low).
    """
    dt = _check_dtype(dtype)
    if dt == np.float32:
        return _u01_f(v0)
    return _u01_d(v0, v1)


# float32 transcendental functions: evaluate in float64, round once (see docstring)
def _logf(x):
    return np.log(x.astype(np.float64)).astype(np.float32)


def _cosf(x):
    return np.cos(x.astype(np.float64)).astype(np.float32)


def _expf(x):
    return np.exp(x.astype(np.float64)).astype(np.float32)


def _box_muller_f(a, b):
    u1 = _u01_f(a)
    u2 = _u01_f(b)
    r = np.sqrt(np.float32(-2.0) * _logf(u1))
    t = _TWO_PI_F * u2
    return r * _cosf(t)


def _box_muller_d(a, b, c, d):
    u1 = _u01_d(a, b)
    u2 = _u01_d(c, d)
    r = np.sqrt(-2.0 * np.log(u1))
    return r * np.cos(_TWO_PI_D * u2)


# ---------------------------------------------------------------------------
# Vectorised draws
# ---------------------------------------------------------------------------


def rand_u32(seed: int, stream: int, elem, step, n) -> np.ndarray:
    """Word ``v0`` of the block: a uniform uint32 (same as C ``ng_rand_u32``)."""
    return _block(seed, stream, elem, step, n)[..., 0]


def uniform(seed: int, stream: int, elem, step, n, dtype=np.float32) -> np.ndarray:
    """Uniform on the open interval (0, 1) (C ``ng_uniform_f`` / ``_d``)."""
    dt = _check_dtype(dtype)
    v = _block(seed, stream, elem, step, n)
    if dt == np.float32:
        return _u01_f(v[..., 0])
    return _u01_d(v[..., 0], v[..., 1])


def normal(seed: int, stream: int, elem, step, n, dtype=np.float32) -> np.ndarray:
    """Standard normal, Box-Muller cosine branch (C ``ng_normal_f`` / ``_d``)."""
    dt = _check_dtype(dtype)
    v = _block(seed, stream, elem, step, n)
    if dt == np.float32:
        return _box_muller_f(v[..., 0], v[..., 1])
    return _box_muller_d(v[..., 0], v[..., 1], v[..., 2], v[..., 3])


def exponential(seed: int, stream: int, elem, step, n, dtype=np.float32) -> np.ndarray:
    """Exponential with rate 1, ``-log(uniform)`` (C ``ng_exponential_f`` / ``_d``)."""
    dt = _check_dtype(dtype)
    u = uniform(seed, stream, elem, step, n, dt)
    if dt == np.float32:
        return -_logf(u)
    return -np.log(u)


def log_normal(seed: int, stream: int, elem, step, n, dtype=np.float32,
               mean=0.0, sd=1.0) -> np.ndarray:
    """``exp(mean + sd * normal)`` (C ``ng_log_normal_f`` / ``_d``)."""
    dt = _check_dtype(dtype)
    z = normal(seed, stream, elem, step, n, dt)
    if dt == np.float32:
        return _expf(np.float32(mean) + np.float32(sd) * z)
    return np.exp(np.float64(mean) + np.float64(sd) * z)


# ---------------------------------------------------------------------------
# Scalar-loop gamma and binomial (mirror the C; for tests and host-side use)
# ---------------------------------------------------------------------------


def _scalar_counters(seed, stream, elem, step, n):
    k0, k1 = split_seed(seed)
    e, s, nn = np.broadcast_arrays(_u32(elem), _u32(step), _u32(n))
    return k0, k1, int(stream) & _MASK32, e, s, nn


def _gamma_one_d(k0, k1, stream, elem, step, n, a):
    if not a > 0.0:
        return 0.0
    boost = a < 1.0
    aa = a + 1.0 if boost else a
    d = aa - 1.0 / 3.0
    c = (1.0 / 3.0) / math.sqrt(d)
    res = d
    for i in range(1, GAMMA_MAX_ITER + 1):
        b = philox4x32_10(elem, n | ((2 * i - 1) << 24), step, stream, k0, k1)
        u1 = float(_u01_d(b[0], b[1]))
        u2 = float(_u01_d(b[2], b[3]))
        x = math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI_D * u2)
        v = 1.0 + c * x
        if v > 0.0:
            b2 = philox4x32_10(elem, n | ((2 * i) << 24), step, stream, k0, k1)
            u = float(_u01_d(b2[0], b2[1]))
            x2 = x * x
            v = v * v * v
            if u < 1.0 - 0.0331 * x2 * x2 or \
                    math.log(u) < 0.5 * x2 + d * (1.0 - v + math.log(v)):
                res = d * v
                break
    if boost:
        b = philox4x32_10(elem, n, step, stream, k0, k1)
        res *= math.exp(math.log(float(_u01_d(b[0], b[1]))) / a)
    return res


def _gamma_one_f(k0, k1, stream, elem, step, n, a):
    f32 = np.float32
    a = f32(a)
    if not a > 0:
        return f32(0.0)
    boost = a < f32(1.0)
    aa = a + f32(1.0) if boost else a
    d = aa - f32(1.0) / f32(3.0)
    c = (f32(1.0) / f32(3.0)) / np.sqrt(d)
    res = d
    for i in range(1, GAMMA_MAX_ITER + 1):
        b = philox4x32_10(elem, n | (i << 24), step, stream, k0, k1)
        x = _box_muller_f(b[0], b[1])
        v = f32(1.0) + c * x
        if v > 0:
            u = _u01_f(b[2])
            x2 = x * x
            v = v * v * v
            if u < f32(1.0) - f32(0.0331) * x2 * x2 or \
                    _logf(u) < f32(0.5) * x2 + d * (f32(1.0) - v + _logf(v)):
                res = d * v
                break
    if boost:
        b = philox4x32_10(elem, n, step, stream, k0, k1)
        res = res * _expf(_logf(_u01_f(b[0])) / a)
    return f32(res)


def gamma(seed: int, stream: int, elem, step, n, dtype=np.float32, a=1.0) -> np.ndarray:
    """Gamma(a, scale 1), Marsaglia-Tsang, mirroring C ``ng_gamma_f`` / ``_d``.

    A plain scalar loop (slow); agreement with the C is to within libm
    rounding, which can very rarely flip a rejection decision.
    """
    dt = _check_dtype(dtype)
    k0, k1, st, e, s, nn = _scalar_counters(seed, stream, elem, step, n)
    out = np.empty(e.shape, dtype=dt)
    fn = _gamma_one_f if dt == np.float32 else _gamma_one_d
    for idx in np.ndindex(e.shape):
        out[idx] = fn(k0, k1, st, int(e[idx]), int(s[idx]), int(nn[idx]), a)
    return out


def _log_factorial(k: float) -> float:
    if k < 16.0:
        f = 1.0
        i = 2.0
        while i <= k:
            f *= i
            i += 1.0
        return math.log(f)
    r = 1.0 / k
    r2 = r * r
    return ((k + 0.5) * math.log(k) - k + 0.91893853320467274178
            + r * (1.0 / 12.0 - r2 * (1.0 / 360.0 - r2 * (1.0 / 1260.0 - r2 / 1680.0))))


def _binomial_modal(n_trials: int, p: float, u: float) -> int:
    q = 1.0 - p
    s = p / q
    nd = float(n_trials)
    m = math.floor((nd + 1.0) * p)
    fm = math.exp(_log_factorial(nd) - _log_factorial(m) - _log_factorial(nd - m)
                  + m * math.log(p) + (nd - m) * math.log1p(-p))
    lo = hi = float(m)
    flo = fhi = fm
    u -= fm
    if u <= 0.0:
        return int(m)
    while True:
        moved = False
        if hi < nd and fhi > 1e-300:
            fhi *= (nd - hi) / (hi + 1.0) * s
            hi += 1.0
            u -= fhi
            if u <= 0.0:
                return int(hi)
            moved = True
        if lo > 0.0 and flo > 1e-300:
            flo *= lo / ((nd - lo + 1.0) * s)
            lo -= 1.0
            u -= flo
            if u <= 0.0:
                return int(lo)
            moved = True
        if not moved:
            return int(m)


def _binomial_one(k0, k1, stream, elem, step, n, n_trials, p, f32):
    b = philox4x32_10(elem, n, step, stream, k0, k1)
    if f32:
        F = np.float32
        p = F(p)
        if not p > 0:
            return 0
        if p >= F(1.0):
            return n_trials
        flip = p > F(0.5)
        pp = F(1.0) - p if flip else p
        if F(n_trials) * pp < F(BINOMIAL_INV_THRESHOLD):
            q = F(1.0) - pp
            s = pp / q
            a = (F(n_trials) + F(1.0)) * s
            r = _expf(F(n_trials) * np.log1p(np.float64(-pp)).astype(F))
            u = _u01_f(b[0])
            x = 0
            while u > r and x < n_trials and r > 0:
                u = u - r
                x += 1
                r = r * (a / F(x) - s)
        else:
            x = _binomial_modal(n_trials, float(pp), float(_u01_d(b[0], b[1])))
    else:
        p = float(p)
        if not p > 0.0:
            return 0
        if p >= 1.0:
            return n_trials
        flip = p > 0.5
        pp = 1.0 - p if flip else p
        if n_trials * pp < BINOMIAL_INV_THRESHOLD:
            q = 1.0 - pp
            s = pp / q
            a = (n_trials + 1.0) * s
            r = math.exp(n_trials * math.log1p(-pp))
            u = float(_u01_d(b[0], b[1]))
            x = 0
            while u > r and x < n_trials and r > 0.0:
                u -= r
                x += 1
                r *= a / x - s
        else:
            x = _binomial_modal(n_trials, pp, float(_u01_d(b[0], b[1])))
    return n_trials - x if flip else x


def binomial(seed: int, stream: int, elem, step, n, dtype=np.float32,
             num_trials: int = 1, p=0.5) -> np.ndarray:
    """Binomial(num_trials, p) as uint32, mirroring C ``ng_binomial_f`` / ``_d``.

    ``dtype`` selects which C variant is mirrored (the precision of ``p`` and
    of the small-mean inversion).  A plain scalar loop; agreement with the C
    is to within libm rounding, which can very rarely shift a result by one.
    """
    dt = _check_dtype(dtype)
    k0, k1, st, e, s, nn = _scalar_counters(seed, stream, elem, step, n)
    nt = int(num_trials) & _MASK32
    out = np.empty(e.shape, dtype=np.uint32)
    for idx in np.ndindex(e.shape):
        out[idx] = _binomial_one(k0, k1, st, int(e[idx]), int(s[idx]), int(nn[idx]),
                                 nt, p, dt == np.float32)
    return out
