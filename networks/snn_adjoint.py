r"""The per-neuron adjoint pass of BPTT and MDGL in compiled C (the fast path of RecurrentSNN).

:mod:`networks.snn_gradients` is the NumPy statement of these gradients and the tests' shadow; its
reverse time loop runs ~2,000 Python iterations of (B, n) array operations and materialises
(B, T, n) float64 arrays for the learning signals and dE/dv (~100 MB each at B = 64, T = 2000), then
two dense products with the inputs and spikes, which are ~99 % zeros. Here one C loop per batch
instance does the same recursion with O(n) state and accumulates the weight gradients only at the
non-zero inputs and spikes. MDGL's gradient phase went from ~0.5 s to ~0.03 s per iteration.

For one batch instance, t = T-1 .. 0 (all adjoint quantities zero at t = T)::

    L_t   = F^T dy_t                          (F: (n_out, n) feedback; dy: filtered readout adjoint)
    g_t   = L_t + c                           (c: constant direct signal, e.g. the rate regulariser)
            [t < T-1:] + M^T a_{t+1}          (MDGL modulation, a_t = L_t psi_t; M = s_in W_mod)
                       + W^T dv_{t+1}         (BPTT recurrent path; W = s_in W_rec)
                       - v_th dv_{t+1}        (reset path)
                       + s_a da_{t+1}         (adaptation path)
    dv_t  = alpha dv_{t+1} + psi_t g_t,    da_t = rho da_{t+1} - beta psi_t g_t
    dE/dW_in  += dv_t x_t^T,   dE/dW_rec += dv_t z_{t-1}^T        (times s_in, W_rec diagonal 0)

This is :func:`snn_gradients._local_backward` followed by :func:`snn_gradients._grads_from_dv`
(the sums run in a different order: results agree to rounding, ~1e-16 relative). Batch instances
are independent: with ``num_threads`` > 1 they are split over OpenMP threads, each writing its own
partial gradient, and the partials are summed in batch order, so results do not depend on the
thread count.
"""
import ctypes

import numpy as np

from . import snn_gradients as sg

C_SOURCE = r"""
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* x[b, t, i] lives at x + b * sb + t * st + i (strides in elements) */
typedef struct { const double* p; int64_t sb, st; } ng_view;

/* one step of the element-wise recursion (restrict pointers: a vectorised loop over neurons) */
static void ng_adjoint_step(int64_t N, const double* restrict ps, const double* restrict g, const double* restrict L,
                            const double* restrict dv, const double* restrict da, const double* restrict beta,
                            double alpha, double rho, double* restrict dv_new, double* restrict da_new,
                            double* restrict a_new) {
    for (int64_t j = 0; j < N; j++) {
        const double pg = ps[j] * g[j];
        dv_new[j] = alpha * dv[j] + pg;
        da_new[j] = rho * da[j] - beta[j] * pg;
        a_new[j] = L[j] * ps[j];
    }
}

/* g += u @ M for a sparse M given by rows (row r: columns idx[ptr[r]..ptr[r+1]) and values).
   Scattering each non-zero u_r along its row keeps no long chain of dependent additions (a
   gather per column made every addition wait for the one before: 4x slower) and skips u_r = 0. */
static void ng_adjoint_scatter(int64_t N, const double* restrict u, const int64_t* ptr, const int32_t* idx,
                               const double* val, double* restrict g) {
    for (int64_t r = 0; r < N; r++) {
        const double ur = u[r];
        if (ur == 0.0) continue;
        for (int64_t e = ptr[r]; e < ptr[r + 1]; e++) g[idx[e]] += val[e] * ur;
    }
}

/* g = L [+ a @ M + dv @ W - v_th dv + s_a da] [+ c] */
static void ng_adjoint_signal(int64_t N, int later, const double* restrict L, const double* restrict a,
                              const double* restrict dv, const double* restrict da, const double* restrict c,
                              const int64_t* mod_ptr, const int32_t* mod_idx, const double* mod_val,
                              const int64_t* rec_ptr, const int32_t* rec_idx, const double* rec_val,
                              double v_th, double s_a, int reset, int adaptation, double* restrict g) {
    for (int64_t j = 0; j < N; j++) g[j] = L[j];
    if (later) {
        if (mod_ptr) ng_adjoint_scatter(N, a, mod_ptr, mod_idx, mod_val, g);
        if (rec_ptr) ng_adjoint_scatter(N, dv, rec_ptr, rec_idx, rec_val, g);
        if (reset) for (int64_t j = 0; j < N; j++) g[j] -= v_th * dv[j];
        if (adaptation) for (int64_t j = 0; j < N; j++) g[j] += s_a * da[j];
    }
    if (c) for (int64_t j = 0; j < N; j++) g[j] += c[j];
}

/* G^T rows of the non-zero drives: Gt[i, :] += u_i dv */
static void ng_adjoint_accumulate(int64_t N, int64_t n, const double* restrict u, const double* restrict dv,
                                  double* restrict Gt) {
    for (int64_t i = 0; i < n; i++) {
        const double ui = u[i];
        if (ui != 0.0) {
            double* restrict row = Gt + i * N;
            for (int64_t j = 0; j < N; j++) row[j] += ui * dv[j];
        }
    }
}

static void ng_adjoint_one(int64_t b, int64_t T, int64_t N, int64_t n_in, int64_t n_out,
                           ng_view psi, ng_view dy, ng_view x, ng_view z, const double* F, const double* c,
                           const int64_t* mod_ptr, const int32_t* mod_idx, const double* mod_val,
                           const int64_t* rec_ptr, const int32_t* rec_idx, const double* rec_val,
                           double alpha, double rho, double s_a, double v_th, const double* beta,
                           int reset, int adaptation, double* work, double* Gt) {
    double *dv = work, *dv_new = work + N, *da = work + 2 * N, *da_new = work + 3 * N;
    double *a = work + 4 * N, *a_new = work + 5 * N, *L = work + 6 * N, *g = work + 7 * N;
    memset(work, 0, sizeof(double) * 8 * (size_t)N);
    for (int64_t t = T - 1; t >= 0; t--) {
        const double* d = dy.p + b * dy.sb + t * dy.st;
        for (int64_t j = 0; j < N; j++) L[j] = 0.0;
        for (int64_t k = 0; k < n_out; k++) {
            const double dk = d[k];
            const double* restrict Fk = F + k * N;
            for (int64_t j = 0; j < N; j++) L[j] += dk * Fk[j];
        }
        ng_adjoint_signal(N, t < T - 1, L, a, dv, da, c, mod_ptr, mod_idx, mod_val, rec_ptr, rec_idx, rec_val,
                          v_th, s_a, reset, adaptation, g);
        ng_adjoint_step(N, psi.p + b * psi.sb + t * psi.st, g, L, dv, da, beta, alpha, rho, dv_new, da_new, a_new);
        double* s;
        s = dv; dv = dv_new; dv_new = s;
        s = da; da = da_new; da_new = s;
        s = a; a = a_new; a_new = s;
        /* weight gradients at the non-zero presynaptic drives: x_t and z_{t-1} */
        ng_adjoint_accumulate(N, n_in, x.p + b * x.sb + t * x.st, dv, Gt);
        if (t >= 1) ng_adjoint_accumulate(N, N, z.p + b * z.sb + (t - 1) * z.st, dv, Gt + n_in * N);
    }
}

int ng_snn_adjoint(int64_t B, int64_t T, int64_t N, int64_t n_in, int64_t n_out,
                   const double* psi, int64_t psi_sb, int64_t psi_st,
                   const double* dy, int64_t dy_sb, int64_t dy_st,
                   const double* x, int64_t x_sb, int64_t x_st,
                   const double* z, int64_t z_sb, int64_t z_st,
                   const double* F, const double* c,
                   const int64_t* mod_ptr, const int32_t* mod_idx, const double* mod_val,
                   const int64_t* rec_ptr, const int32_t* rec_idx, const double* rec_val,
                   double alpha, double rho, double s_a, double v_th, const double* beta,
                   int reset, int adaptation, double* G_part, int num_threads) {
    const ng_view vpsi = {psi, psi_sb, psi_st}, vdy = {dy, dy_sb, dy_st}, vx = {x, x_sb, x_st}, vz = {z, z_sb, z_st};
    const size_t part = (size_t)(n_in + N) * (size_t)N;
    int failed = 0;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(num_threads) reduction(|:failed)
#endif
    for (int64_t b = 0; b < B; b++) {
        double* work = (double*)malloc(sizeof(double) * 8 * (size_t)N);
        if (!work) { failed = 1; continue; }
        ng_adjoint_one(b, T, N, n_in, n_out, vpsi, vdy, vx, vz, F, c, mod_ptr, mod_idx, mod_val,
                       rec_ptr, rec_idx, rec_val, alpha, rho, s_a, v_th, beta, reset, adaptation,
                       work, G_part + (size_t)b * part);
        free(work);
    }
    (void)num_threads;
    return failed;
}
"""

_LIB = {}


def _library(num_threads):
    """Compile (once per flag set, cached on disk by content hash like generated models)."""
    from neurogen.backends.cpu.compiler import compile_cached, compile_flags
    openmp = num_threads > 1
    if openmp not in _LIB:
        flags = compile_flags({"num_threads": 2 if openmp else 1})
        path, _ = compile_cached(C_SOURCE, ["gcc", *flags], ["-lm"], "snn_adjoint")
        lib = ctypes.CDLL(str(path))
        fn = lib.ng_snn_adjoint
        fn.restype = ctypes.c_int
        _LIB[openmp] = (lib, fn)
    return _LIB[openmp][1]


def _view(a, name, shape):
    """(pointer, batch stride, time stride) of a float64 (B, T, n) array whose last axis is contiguous."""
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (got {a.shape})")
    if a.dtype != np.float64 or a.strides[2] != 8 or a.strides[0] % 8 or a.strides[1] % 8:
        a = np.ascontiguousarray(a, dtype=np.float64)
    return a, a.strides[0] // 8, a.strides[1] // 8


def _rows(M, n):
    """Row lists of a (n, n) matrix: for row r the columns j with M[r, j] != 0 and their values."""
    if M is None:
        return None, None, None
    M = np.asarray(M, dtype=np.float64)
    if M.shape != (n, n):
        raise ValueError(f"matrix must have shape ({n}, {n}) (got {M.shape})")
    rows, cols = np.nonzero(M)                       # row-major order: by row, columns ascending
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=ptr[1:])
    return ptr, cols.astype(np.int32), np.ascontiguousarray(M[rows, cols])


def weight_gradients(traj, dy, F, *, direct=None, modulation=None, recurrent=None, reset=True,
                     adaptation=True, num_threads=1):
    """(dE/dW_in, dE/dW_rec) of the adjoint recursion in the module doc for trajectory ``traj``.

    dy : (B, T, n_out) filtered readout adjoint; F : (n_out, n_rec) (L_t = F^T dy_t);
    direct : (n_rec,) constant signal or None; modulation : (n_rec, n_rec) M with m_t = a_{t+1} @ M
    or None; recurrent : (n_rec, n_rec) W with the term dv_{t+1} @ W or None.
    """
    p = traj.params
    B, T, N = traj.z.shape
    n_in, n_out = p.n_in, p.n_out
    psi, psi_sb, psi_st = _view(traj.psi, "psi", (B, T, N))
    z, z_sb, z_st = _view(traj.z, "z", (B, T, N))
    x, x_sb, x_st = _view(traj.x, "x", (B, T, n_in))
    dy, dy_sb, dy_st = _view(dy, "dy", (B, T, n_out))
    F = np.ascontiguousarray(F, dtype=np.float64)
    if F.shape != (n_out, N):
        raise ValueError(f"F must have shape ({n_out}, {N}) (got {F.shape})")
    c = None if direct is None else np.ascontiguousarray(np.broadcast_to(direct, (N,)), dtype=np.float64)
    mp, mr, mv = _rows(modulation, N)
    rp, rr, rv = _rows(recurrent, N)
    beta = np.ascontiguousarray(np.broadcast_to(p.beta, (N,)), dtype=np.float64)
    G_part = np.zeros((B, n_in + N, N))
    dp = ctypes.POINTER(ctypes.c_double)

    def ptr(a, kind=ctypes.c_double):
        return None if a is None else a.ctypes.data_as(ctypes.POINTER(kind))

    fn = _library(num_threads)
    rc = fn(ctypes.c_int64(B), ctypes.c_int64(T), ctypes.c_int64(N), ctypes.c_int64(n_in), ctypes.c_int64(n_out),
            ptr(psi), ctypes.c_int64(psi_sb), ctypes.c_int64(psi_st),
            ptr(dy), ctypes.c_int64(dy_sb), ctypes.c_int64(dy_st),
            ptr(x), ctypes.c_int64(x_sb), ctypes.c_int64(x_st),
            ptr(z), ctypes.c_int64(z_sb), ctypes.c_int64(z_st),
            ptr(F), ptr(c),
            ptr(mp, ctypes.c_int64), ptr(mr, ctypes.c_int32), ptr(mv),
            ptr(rp, ctypes.c_int64), ptr(rr, ctypes.c_int32), ptr(rv),
            ctypes.c_double(p.alpha), ctypes.c_double(p.rho), ctypes.c_double(p.s_a), ctypes.c_double(p.v_th),
            ptr(beta), ctypes.c_int(int(bool(reset))), ctypes.c_int(int(bool(adaptation))),
            G_part.ctypes.data_as(dp), ctypes.c_int(int(num_threads)))
    if rc:
        raise MemoryError("snn_adjoint: out of memory for the per-instance work buffers")
    G = G_part.sum(axis=0) * p.s_in                   # summed in batch order: thread-count independent
    G_in = np.ascontiguousarray(G[:n_in].T)
    G_rec = np.ascontiguousarray(G[n_in:].T)
    np.fill_diagonal(G_rec, 0.0)
    return G_in, G_rec


def bptt(traj, dE_dy, *, reg_c=0.0, reg_target=0.01, num_threads=1):
    """:func:`snn_gradients.bptt_gradients` (no stopped paths, no kept signals) on the compiled
    pass: returns (gradients dict W_in / W_rec / W_out / b_out, regulariser loss)."""
    p = traj.params
    dW_out, db_out, dy = sg.readout_gradients(traj, dE_dy)
    reg_loss, direct = (sg.rate_regulariser(traj, reg_c, reg_target) if reg_c else (0.0, None))
    G_in, G_rec = weight_gradients(traj, dy, traj.W_out, direct=direct, recurrent=p.s_in * traj.W_rec,
                                   reset=True, adaptation=True, num_threads=num_threads)
    return {"W_in": G_in, "W_rec": G_rec, "W_out": dW_out, "b_out": db_out}, reg_loss


def mdgl(traj, dE_dy, sign, *, trace=None, feedback="symmetric", modulation="EI", reg_c=0.0, reg_target=0.01,
         num_threads=1):
    """:func:`snn_gradients.mdgl_gradients` (``method="adjoint"``) on the compiled pass: returns
    (gradients dict W_in / W_rec / W_out / b_out, regulariser loss)."""
    p = traj.params
    trace = sg._resolve_trace(p, trace)
    sign = sg._check_sign(sign, p.n_rec)
    dW_out, db_out, dy = sg.readout_gradients(traj, dE_dy)
    _, _, W_mod = sg.modulation_weights(traj.W_rec, sign, modulation)
    reg_loss, direct = (sg.rate_regulariser(traj, reg_c, reg_target) if reg_c else (0.0, None))
    G_in, G_rec = weight_gradients(traj, dy, sg._feedback_matrix(traj, feedback).T, direct=direct,
                                   modulation=p.s_in * W_mod, reset=trace == "lsnn", adaptation=True,
                                   num_threads=num_threads)
    return {"W_in": G_in, "W_rec": G_rec, "W_out": dW_out, "b_out": db_out}, reg_loss
