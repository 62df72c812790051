"""Independent vectorised NumPy model of the dendritic cortical microcircuit with Latent
Equilibrium (LE) and Phaseless Alignment Learning (PAL).

Written from ``/work/shared/specs/microcircuit_le_pal.md`` (sections 3-7); no code is taken from
the reference repositories or from neurogen. Two uses:

* a *shadow model* that tests compare the code-generated simulator against (float64, tight
  tolerances), and
* the NumPy reference side of the speed benchmark (``run_samples``).

Conventions (spec section numbers in brackets)
----------------------------------------------
* Rate model, capacitance 1, rest 0; time in ms, conductances and learning rates in 1/ms [2].
* ``dims = [n0, n1, ..., nL]``, ``L >= 2``. Level 0 is the input player, levels 1..L-1 are hidden
  layers (pyramids n_l plus interneurons n_{l+1}), level L the output layer, and the supervisor
  player has n_L neurons [6].
* Weights are stored (n_pre x n_post), pre-major [5]. Lists are indexed with the spec's level
  numbers; unused entries are ``None``:

  ======================  ===============================  =========================
  attribute               connection                       shape
  ======================  ===============================  =========================
  ``W_up[l]``, l=1..L     level l-1 -> level l (basal)     n_{l-1} x n_l
  ``B[l]``, l=1..L-1      level l+1 -> pyr l (apical down) n_{l+1} x n_l
  ``W_IP[l]``             pyr l -> interneurons l          n_l x n_{l+1}
  ``W_PI[l]``             interneurons l -> pyr l (apical) n_{l+1} x n_l
  ``D_up[l]``/``D_IP[l]``/``D_PI[l]``  low-pass increment (Delta) states of the plastic weights
  ======================  ===============================  =========================

  ``fbi`` (upper u_hat -> interneuron soma) and supervisor -> output target are one-to-one with
  g = 1 and have no stored matrix.
* Population state is exposed as dictionaries of *views* (writing into them changes the model):
  ``hidden[l]`` (V, v_B, v_A, xi, u_eff, u_dot, u_hat, r, r_last, r_B, h), ``inter[l]`` (V, v_D,
  v_down, u_hat, r, r_last, r_D), ``output`` (V, v_B, v_T, u_hat, r, r_last, r_B, h), ``input``
  and ``supervisor`` (r, r_last) [4].

Step [6]: (a) every synapse group updates its weight (plasticity first) and then transmits with the
updated weight, reading only the neuron state left by the previous step; (b) every neuron updates
from its accumulators. Plasticity (forward 5.1, p2i 5.2, i2p 5.3, PAL 5.4) and the teacher are
gated by ``learning_on``; with it off the weights *and* their Deltas are frozen, the supervisor is
disconnected (v_T = 0) and the output uses its teacher-off u_eff.

Implementation notes (all exact rewritings of the spec; results agree with a literal per-population
evaluation to a few ulps):

* All non-player neurons live in one vector of length N, ordered by *blocks*: block 1 = pyr 1;
  block l (2..L) = [pyr l (output for l = L), interneurons of hidden layer l-1]. Every neuron has a
  "basal-like" accumulator X1 (v_B / v_D / v_B) and an "apical-like" X2 (v_A / v_down / v_T), and
  u_eff = c1*X1 + c2*(X2 + xi) with per-neuron coefficients (xi is zero outside hidden pyramids).
  The forward and p2i matrices of the same presynaptic pyramid layer are stored side by side
  (``[W_up[l+1] | W_IP[l]]``, post = block l+1) and B and W_PI of a hidden layer on top of each
  other (``[B[l]; W_PI[l]]``, pre = block l+1), so each costs one matrix-vector product.
* Delta update written as Delta <- (1-k)*Delta + (k*dt*eta*e_post) (x) r_pre,last with k = dt/tau
  (for k = 1 this is exactly the latest increment); PAL as B <- (1-dt*eta*alpha)*B +
  h_pre (x) (dt*eta*xi_post).
* The high-pass filter h is computed for every neuron but exposed only for pyramids and outputs.
* ``soft_relu`` uses log1p(exp(x)) (more accurate than log(1 + exp(x)) near x = -theta).
* OU noise: N(0,1) draws come from ``np.random.default_rng(seed)``; every step consumes, for the
  hidden layers in order, n_l draws each (drawn ahead in blocks; a block of k steps is the same
  stream as k single-step draws). With ``noise_sig == 0`` nothing is drawn. ``step(xi=...)``
  replaces one step's draws by the given N(0,1) values and consumes nothing from the generator.
* Rate players (input, supervisor) [4.4]: every step r_last <- r; r <- r_last + (dt/tau_0)*(value
  - r_last), which is ``value`` exactly for tau_0 == dt. ``out_lag``/muting is not modelled (0 in all
  configs); the bias neuron is not modelled (off in all configs) - both raise if requested.
"""

from __future__ import annotations

import copy
import math

import numpy as np

__all__ = ["NumpyMicrocircuit", "yinyang_params", "DEFAULT_PARAMS"]

# Shipped yin-yang network document (FA variant), spec sections 4, 5.5 and 9.
DEFAULT_PARAMS = {
    "dt": 0.01,
    "gl": 0.03, "gb": 0.1, "ga": 0.06, "gd": 0.1, "gsom": 0.06, "gtar": 0.06,
    "highpass_tau": 0.1, "noise_sig": 0.0, "noise_tau": 0.1, "le_active": 1,
    "alpha": 1e-6,
    "eta": {"up": [50.0, 0.01], "down": [0.0, 0.0], "ip": [0.05, 0.0], "pi": [0.0, 0.0]},
    "tau_w_ff": 100.0, "tau_w_ip": 0.01, "tau_w_pi": 0.01, "tau_0": 0.01,
    "init_weights": {"up": 0.1, "down": 1.0, "ip": 0.1, "pi": 1.0},
    "start_in_self_predict": True, "set_wBackw_to_wTransp": False,
    "reinforce_self_predict": False,
    "activation_template": "sigmoid", "threshold": 15.0,
    "bias": {"on": False, "val": 0.0}, "learning_lag": 0, "out_lag": 0,
    "ulow": 0.1, "uhigh": 1.0,
}


def yinyang_params(variant="fa", **overrides):
    """Network parameters of the shipped yin-yang configs: ``fa``, ``pal``, ``noise`` (noise control:
    PAL noise with B fixed) or ``bp`` (FA values with ``set_wBackw_to_wTransp``). Returns a new dict."""
    p = copy.deepcopy(DEFAULT_PARAMS)
    if variant == "pal":
        p["noise_sig"] = 0.01
        p["eta"] = {"up": [50.0, 0.01], "down": [0.0, 0.5], "ip": [0.05, 0.0], "pi": [0.02, 0.0]}
    elif variant == "noise":
        p["noise_sig"] = 0.01
        p["eta"] = {"up": [50.0, 0.01], "down": [0.0, 0.0], "ip": [0.05, 0.0], "pi": [0.02, 0.0]}
    elif variant == "bp":
        p["set_wBackw_to_wTransp"] = True
    elif variant != "fa":
        raise ValueError(f"unknown variant {variant!r} (fa, pal, noise, bp)")
    p.update(overrides)
    return p


def _bounds(spec):
    """init_weights entry: scalar a -> (-a, a); [lo, hi] -> (lo, hi)."""
    if np.ndim(spec) == 0:
        a = float(spec)
        return -a, a
    lo, hi = spec
    return float(lo), float(hi)


class NumpyMicrocircuit:
    """Vectorised NumPy microcircuit (LE + PAL). See the module docstring for conventions."""

    # ------------------------------------------------------------------ construction
    def __init__(self, dims, params, dtype=np.float64, seed=None, weights=None):
        dims = [int(d) for d in dims]
        if len(dims) < 3 or min(dims) < 1:
            raise ValueError(f"dims must be [n0, n1, ..., nL] with L >= 2 and positive sizes, got {dims}")
        p = copy.deepcopy(DEFAULT_PARAMS)
        p.update(copy.deepcopy(dict(params)))
        eta = dict(DEFAULT_PARAMS["eta"])
        eta.update(p.get("eta", {}))
        p["eta"] = eta
        iw = dict(DEFAULT_PARAMS["init_weights"])
        iw.update(p.get("init_weights", {}))
        p["init_weights"] = iw
        bias = p.get("bias") or {}
        if bias.get("on", False):
            raise NotImplementedError("bias neuron (bias.on: true) is not modelled (off in all configs)")
        if p.get("out_lag", 0) not in (0, 0.0):
            raise NotImplementedError("out_lag != 0 (player muting) is not modelled")
        if p.get("learning_lag", 0) not in (0, 0.0):
            raise NotImplementedError("learning_lag != 0 is not modelled (phaseless training)")
        self.params = p
        self.dims = dims
        L = self.L = len(dims) - 1
        self.dtype = dt_ = np.dtype(dtype)
        self.seed = seed

        for key, need in (("up", L), ("down", L), ("ip", L - 1), ("pi", L - 1)):
            if len(eta[key]) < need:
                raise ValueError(f"eta.{key} needs at least {need} entries for dims {dims}")

        dt = self.dt = float(p["dt"])
        gl, gb, ga = float(p["gl"]), float(p["gb"]), float(p["ga"])
        gd, gsom, gtar = float(p["gd"]), float(p["gsom"]), float(p["gtar"])
        self.le = bool(p["le_active"])
        self.theta = float(p.get("threshold", 15.0))
        act = p.get("activation_template", "sigmoid")
        if act not in ("sigmoid", "soft_relu", "sigmoid_stable"):
            raise ValueError(f"unknown activation_template {act!r}")
        self.activation = act

        # ---- block layout of the neuron vector
        P = [None] * (L + 1)        # pyramid / output slices, levels 1..L
        I = [None] * L              # interneuron slices, hidden levels 1..L-1
        blk = [None] * (L + 1)      # block slices
        P[1] = blk[1] = slice(0, dims[1])
        pos = dims[1]
        for l in range(2, L + 1):
            n = dims[l]
            P[l] = slice(pos, pos + n)
            I[l - 1] = slice(pos + n, pos + 2 * n)
            blk[l] = slice(pos, pos + 2 * n)
            pos += 2 * n
        N = self.N = pos
        self._P, self._I, self._blk = P, I, blk

        # ---- per-neuron coefficients
        gtot, gtot_i, gtot_o = gl + gb + ga, gl + gd + gsom, gl + gb + gtar
        c1, c2, G, cB, kc = (np.zeros(N) for _ in range(5))
        k_ff, k_ip = dt / float(p["tau_w_ff"]), dt / float(p["tau_w_ip"])
        for l in range(1, L):
            c1[P[l]], c2[P[l]], G[P[l]], cB[P[l]] = gb / gtot, ga / gtot, gtot, gb / gtot
            kc[P[l]] = k_ff * dt * float(eta["up"][l - 1])
            c1[I[l]], c2[I[l]], G[I[l]], cB[I[l]] = gd / gtot_i, gsom / gtot_i, gtot_i, gd / (gl + gd)
            kc[I[l]] = k_ip * dt * float(eta["ip"][l - 1])
        G[P[L]], cB[P[L]] = gtot_o, gb / (gl + gb)
        kc[P[L]] = k_ff * dt * float(eta["up"][L - 1])
        c1_off, c2_off = c1.copy(), c2.copy()
        c1[P[L]], c2[P[L]] = gb / gtot_o, gtar / gtot_o          # teacher on
        c1_off[P[L]], c2_off[P[L]] = gb / (gl + gb), 0.0          # teacher off
        self._c1_on, self._c2_on = c1.astype(dt_), c2.astype(dt_)
        self._c1_off, self._c2_off = c1_off.astype(dt_), c2_off.astype(dt_)
        self._G, self._cB, self._kc = G.astype(dt_), cB.astype(dt_), kc.astype(dt_)
        self._hp_k = dt / float(p["highpass_tau"])
        self._ou_a = 1.0 - dt / float(p["noise_tau"])
        # scalars as arrays: a ufunc with an array operand avoids the per-call scalar conversion
        self._hp_k_v = np.full(N, self._hp_k, dt_)
        self._ou_a_v = np.full(N, self._ou_a, dt_)
        self._dt_v = np.full(N, dt, dt_)
        self._ones2 = np.ones(2 * N, dt_)
        self.sigma = float(p["noise_sig"])
        self._ou_s = self.sigma * math.sqrt(dt / float(p["noise_tau"]))
        self._player_k = dt / float(p["tau_0"])
        self._alpha = float(p["alpha"])

        # ---- neuron state vectors (all zero at start)
        z = lambda n=N: np.zeros(n, dt_)  # noqa: E731
        self._V, self._ueff, self._udot = z(), z(), z()
        self._phi_in, self._phi_out = z(2 * N), z(2 * N)
        self._uhat, self._argB = self._phi_in[:N], self._phi_in[N:]
        self._r, self._rB = self._phi_out[:N], self._phi_out[N:]
        self._rlast, self._h, self._X1, self._X2, self._xi = z(), z(), z(), z(), z()
        self._tmp, self._tmp2, self._E, self._KCE = z(), z(), z(), z()
        self._rin, self._rin_last = z(dims[0]), z(dims[0])
        self._rsup, self._rsup_last = z(dims[L]), z(dims[L])

        # ---- weights: fused storage + views
        self._FW = [None] * L      # FW[l], l = 0..L-1: pre level l, post block l+1
        self._FD = [None] * L
        self._AP = [None] * L      # AP[l], l = 1..L-1: [B[l]; W_PI[l]], pre block l+1, post pyr l
        self._DPI = [None] * L
        self.W_up, self.D_up = [None] * (L + 1), [None] * (L + 1)
        self.W_IP, self.D_IP = [None] * L, [None] * L
        self.B, self.W_PI, self.D_PI = [None] * L, [None] * L, [None] * L
        self._FW[0], self._FD[0] = np.zeros((dims[0], dims[1]), dt_), np.zeros((dims[0], dims[1]), dt_)
        self.W_up[1], self.D_up[1] = self._FW[0], self._FD[0]
        for l in range(1, L):
            nl, nu = dims[l], dims[l + 1]
            fw, fd = np.zeros((nl, 2 * nu), dt_), np.zeros((nl, 2 * nu), dt_)
            self._FW[l], self._FD[l] = fw, fd
            self.W_up[l + 1], self.W_IP[l] = fw[:, :nu], fw[:, nu:]
            self.D_up[l + 1], self.D_IP[l] = fd[:, :nu], fd[:, nu:]
            ap = np.zeros((2 * nu, nl), dt_)
            self._AP[l] = ap
            self.B[l], self.W_PI[l] = ap[:nu], ap[nu:]
            self._DPI[l] = self.D_PI[l] = np.zeros((nu, nl), dt_)
        self._init_weights(seed, weights)

        # W_PI frozen for the whole run when self-predicting and every eta.down is 0 (5.6)
        self.pi_frozen = bool(p["start_in_self_predict"]) and all(float(e) == 0.0 for e in eta["down"])

        # ---- noise stream
        self.rng = np.random.default_rng(seed)
        self._n_hid = sum(dims[1:L])
        self._noise_block = 1024
        self._noise_buf = np.zeros((0, N), dt_)
        self._noise_pos = 0
        self._noise_row = z()

        self._build_plans()
        self._build_views()

    def _init_weights(self, seed, weights):
        p, dims, L = self.params, self.dims, self.L
        iw = p["init_weights"]
        rs = np.random.RandomState(seed)
        sp = bool(p["start_in_self_predict"])
        lo, hi = _bounds(iw["up"])
        for l in range(1, L + 1):
            self.W_up[l][...] = rs.uniform(lo, hi, size=(dims[l - 1], dims[l]))
        lo, hi = _bounds(iw["down"])
        for l in range(1, L):
            self.B[l][...] = rs.uniform(lo, hi, size=(dims[l + 1], dims[l]))
        if not sp:
            (li, hi_i), (lp, hp) = _bounds(iw["ip"]), _bounds(iw["pi"])
            for l in range(1, L):
                self.W_IP[l][...] = rs.uniform(li, hi_i, size=(dims[l], dims[l + 1]))
                self.W_PI[l][...] = rs.uniform(lp, hp, size=(dims[l + 1], dims[l]))
        given = {}
        for key, lst, first in (("W_up", self.W_up, 1), ("B", self.B, 1),
                                ("W_IP", self.W_IP, 1), ("W_PI", self.W_PI, 1)):
            if weights is None or key not in weights or weights[key] is None:
                continue
            src = list(weights[key])
            if len(src) == len(lst) - first:       # compact list without the leading None
                src = [None] * first + src
            if len(src) != len(lst):
                raise ValueError(f"weights[{key!r}] has {len(weights[key])} entries, expected "
                                 f"{len(lst) - first} (or {len(lst)} with a leading None)")
            for l in range(first, len(lst)):
                a = np.asarray(src[l])
                if a.shape != lst[l].shape:
                    raise ValueError(f"weights[{key!r}][{l}] has shape {a.shape}, expected {lst[l].shape}")
                lst[l][...] = a
            given[key] = True
        if sp:
            for l in range(1, L):
                if "W_IP" not in given:
                    self.W_IP[l][...] = self.W_up[l + 1]
                if "W_PI" not in given:
                    self.W_PI[l][...] = -self.B[l]

    def _build_plans(self):
        """Precompute the (views, coefficients) tuples the hot loop iterates over."""
        p, dims, L, dt_ = self.params, self.dims, self.L, self.dtype
        P, I, blk = self._P, self._I, self._blk
        eta = p["eta"]
        dt = self.dt
        k_ff, k_ip, k_pi = dt / float(p["tau_w_ff"]), dt / float(p["tau_w_ip"]), dt / float(p["tau_w_pi"])
        # forward + p2i: (W, D, 1-k row, pre r_last column, post kc*e row, tmp)
        self._fw_plast = []
        self._fw_tx = []
        for l in range(L):
            pre_r = self._rin if l == 0 else self._r[P[l]]
            pre_rl = self._rin_last if l == 0 else self._rlast[P[l]]
            nu = dims[l + 1]
            omk = np.full((1, self._FW[l].shape[1]), 1.0 - k_ff)
            if l >= 1:
                omk[0, nu:] = 1.0 - k_ip
            self._fw_plast.append((self._FW[l], self._FD[l], omk.astype(dt_), pre_rl[:, None],
                                   self._KCE[blk[l + 1]][None, :], np.zeros_like(self._FW[l])))
            self._fw_tx.append((pre_r, self._FW[l], self._X1[blk[l + 1]]))
        # apical: B (PAL) and W_PI (i2p)
        self._pal = []
        self._i2p = []
        self._ap_tx = []
        self._fbi = []
        for l in range(1, L):
            nl, nu = dims[l], dims[l + 1]
            eb = float(eta["down"][l])
            if eb != 0.0:
                self._pal.append((self.B[l], np.full((1, nl), 1.0 - dt * eb * self._alpha, dt_),
                                  np.full(nl, dt * eb, dt_), self._xi[P[l]],
                                  self._h[P[l + 1]][:, None], np.zeros(nl, dt_), np.zeros((nu, nl), dt_)))
            if not self.pi_frozen:
                kcp = k_pi * dt * float(eta["pi"][l - 1])
                self._i2p.append((self.W_PI[l], self._DPI[l], np.full((1, nl), 1.0 - k_pi, dt_),
                                  np.full(nl, -kcp, dt_), self._X2[P[l]],
                                  self._rlast[I[l]][:, None], np.zeros(nl, dt_), np.zeros((nu, nl), dt_)))
            self._ap_tx.append((self._r[blk[l + 1]], self._AP[l], self._X2[P[l]]))
            self._fbi.append((self._X2[I[l]], self._uhat[P[l + 1]]))
        self._vT = self._X2[P[L]]
        self._uhat_out = self._uhat[P[L]]

    def _build_views(self):
        P, I, L = self._P, self._I, self.L
        self.hidden = [None] * L
        self.inter = [None] * L
        for l in range(1, L):
            s = P[l]
            self.hidden[l] = {
                "V": self._V[s], "v_B": self._X1[s], "v_A": self._X2[s], "xi": self._xi[s],
                "u_eff": self._ueff[s], "u_dot": self._udot[s], "u_hat": self._uhat[s],
                "r": self._r[s], "r_last": self._rlast[s], "r_B": self._rB[s], "h": self._h[s]}
            s = I[l]
            self.inter[l] = {
                "V": self._V[s], "v_D": self._X1[s], "v_down": self._X2[s], "u_hat": self._uhat[s],
                "r": self._r[s], "r_last": self._rlast[s], "r_D": self._rB[s]}
        s = P[L]
        self.output = {
            "V": self._V[s], "v_B": self._X1[s], "v_T": self._X2[s], "u_hat": self._uhat[s],
            "r": self._r[s], "r_last": self._rlast[s], "r_B": self._rB[s], "h": self._h[s]}
        self.input = {"r": self._rin, "r_last": self._rin_last}
        self.supervisor = {"r": self._rsup, "r_last": self._rsup_last}

    # ------------------------------------------------------------------ noise
    def _refill_noise(self):
        """Draw the next block of OU increments sigma*sqrt(dt/tau)*N(0,1), laid out on the neuron
        vector (zeros outside hidden pyramids)."""
        nb = self._noise_block
        Z = self.rng.standard_normal((nb, self._n_hid))
        buf = np.zeros((nb, self.N), self.dtype)
        col = 0
        for l in range(1, self.L):
            n = self.dims[l]
            buf[:, self._P[l]] = self._ou_s * Z[:, col:col + n]
            col += n
        self._noise_buf = buf
        self._noise_pos = 0

    def _row_from_normals(self, xi):
        if len(xi) == self.L:              # leading None allowed
            xi = list(xi)[1:]
        if len(xi) != self.L - 1:
            raise ValueError(f"xi needs one array per hidden layer ({self.L - 1}), got {len(xi)}")
        row = self._noise_row
        row[...] = 0
        for l in range(1, self.L):
            a = np.asarray(xi[l - 1], dtype=np.float64)
            if a.shape != (self.dims[l],):
                raise ValueError(f"xi[{l - 1}] must have shape ({self.dims[l]},), got {a.shape}")
            row[self._P[l]] = self._ou_s * a
        return row

    # ------------------------------------------------------------------ activation
    def _phi(self, x, out):
        act = self.activation
        if act == "sigmoid":
            np.negative(x, out=out)
            np.exp(out, out=out)
            out += 1.0
            np.reciprocal(out, out=out)
        elif act == "sigmoid_stable":
            np.negative(x, out=out)
            np.exp(out, out=out)
            out += 1.0
            np.reciprocal(out, out=out)
            np.copyto(out, 0.0, where=x < -self.theta)
            np.copyto(out, 1.0, where=x > self.theta)
        else:  # soft_relu
            np.exp(x, out=out)
            np.log1p(out, out=out)
            np.copyto(out, x, where=x > self.theta)
            np.copyto(out, 0.0, where=x < -self.theta)

    # ------------------------------------------------------------------ stepping
    def _run_chunk(self, n_steps, x_in, target, learning_on, xi_row=None, rec_every=0, rec=None):
        """Advance ``n_steps`` steps with the players driven towards ``x_in`` / ``target``
        (None: keep the current value). ``xi_row`` (one step only) replaces the noise increment.
        With ``rec_every`` > 0, output u_hat is written to ``rec[t // rec_every]`` after every step
        t with t % rec_every == 0."""
        learning_on = bool(learning_on)
        c1 = self._c1_on if learning_on else self._c1_off
        c2 = self._c2_on if learning_on else self._c2_off
        G, cB, kc = self._G, self._cB, self._kc
        hp_k, ou_a, dt_v, one = self._hp_k_v, self._ou_a_v, self._dt_v, self._ones2
        V, ueff, udot, uhat, argB = self._V, self._ueff, self._udot, self._uhat, self._argB
        phi_in, phi_out, r, rB, rlast, h = self._phi_in, self._phi_out, self._r, self._rB, self._rlast, self._h
        X1, X2, xi, tmp, tmp2, E, KCE = self._X1, self._X2, self._xi, self._tmp, self._tmp2, self._E, self._KCE
        rin, rin_last, rsup, rsup_last = self._rin, self._rin_last, self._rsup, self._rsup_last
        fw_plast, fw_tx, pal, i2p, ap_tx, fbi = (self._fw_plast, self._fw_tx, self._pal, self._i2p,
                                                 self._ap_tx, self._fbi)
        vT, uhat_out = self._vT, self._uhat_out
        le = self.le
        sigmoid = self.activation == "sigmoid"
        phi = self._phi
        noisy = self._ou_s != 0.0 and xi_row is None
        # xi stays exactly 0 without noise: skip its decay and its addition (x + 0 == x)
        xi_live = noisy or xi_row is not None or bool(np.any(xi))
        pk = self._player_k
        exact_player = pk == 1.0
        subtract, multiply, add, divide, dot = np.subtract, np.multiply, np.add, np.divide, np.dot
        negative, exp, reciprocal = np.negative, np.exp, np.reciprocal
        if x_in is not None:
            x_in = np.asarray(x_in, dtype=self.dtype)
        if target is not None:
            target = np.asarray(target, dtype=self.dtype)

        for t in range(n_steps):
            # ---------------- (a) synapses: plasticity, then transmission (previous-step state)
            if learning_on:
                subtract(r, rB, out=E)                   # e_post = r - r_B (r - r_D for interneurons)
                multiply(E, kc, out=KCE)                 # k * dt * eta * e_post
                for W, D, omk, pre_col, post_row, tm in fw_plast:
                    W += D                               # g <- g + Delta_old
                    D *= omk                             # (1 - k) Delta_old
                    multiply(pre_col, post_row, out=tm)  # + (k dt eta e_post) r_pre,last
                    D += tm
                for Bm, decay, dteta, xi_post, h_col, trow, tm in pal:
                    multiply(xi_post, dteta, out=trow)
                    multiply(h_col, trow, out=tm)        # dt eta xi_post h_pre
                    Bm *= decay                          # - dt eta alpha B
                    Bm += tm
                for W, D, omk, mkc, vA, pre_col, trow, tm in i2p:
                    W += D
                    D *= omk
                    multiply(vA, mkc, out=trow)          # k dt eta (-v_A)
                    multiply(pre_col, trow, out=tm)
                    D += tm
            for pre_r, W, out in fw_tx:
                dot(pre_r, W, out=out)                   # basal v_B / interneuron dendrite v_D
            for pre_r, W, out in ap_tx:
                dot(pre_r, W, out=out)                   # apical v_A = B r_up + W_PI r_I
            for dst, src in fbi:
                dst[...] = src                           # v_down = u_hat of the upper neuron
            if learning_on:
                vT[...] = rsup                           # teacher: r_sup used as a voltage
            else:
                vT.fill(0.0)

            # ---------------- (b) neurons
            if xi_live:                                  # OU noise
                xi *= ou_a
                if noisy:
                    if self._noise_pos >= self._noise_buf.shape[0]:
                        self._refill_noise()
                    xi += self._noise_buf[self._noise_pos]
                    self._noise_pos += 1
                elif xi_row is not None:
                    xi += xi_row
            subtract(r, rlast, out=tmp)                  # high-pass of the own rate
            multiply(h, hp_k, out=tmp2)
            h += tmp
            h -= tmp2
            rlast[...] = r
            if xi_live:                                  # u_eff = c1 X1 + c2 (X2 + xi)
                add(X2, xi, out=tmp)
                tmp *= c2
            else:
                multiply(X2, c2, out=tmp)
            multiply(X1, c1, out=ueff)
            ueff += tmp
            subtract(ueff, V, out=udot)                  # u_dot = G (u_eff - V)
            udot *= G
            if le:
                divide(udot, G, out=uhat)                # u_hat = V + u_dot / G (pre-update V)
                uhat += V
                multiply(udot, dt_v, out=tmp)
                V += tmp
            else:
                multiply(udot, dt_v, out=tmp)
                V += tmp
                uhat[...] = V
            multiply(cB, X1, out=argB)                   # g^_B v_B, g_d/(g_l+g_d) v_D
            if sigmoid:                                  # r = phi(u_hat), r_B = phi(arg_B)
                negative(phi_in, out=phi_out)
                exp(phi_out, out=phi_out)
                phi_out += one
                reciprocal(phi_out, out=phi_out)
            else:
                phi(phi_in, phi_out)
            # players
            if exact_player:
                if t == 0:
                    rin_last[...] = rin
                    if x_in is not None:
                        rin[...] = x_in
                    rsup_last[...] = rsup
                    if target is not None:
                        rsup[...] = target
                elif t == 1:                             # afterwards r_last == r already
                    rin_last[...] = rin
                    rsup_last[...] = rsup
            else:
                rin_last[...] = rin
                if x_in is not None:
                    rin += pk * (x_in - rin_last)
                rsup_last[...] = rsup
                if target is not None:
                    rsup += pk * (target - rsup_last)
            if rec_every and t % rec_every == 0:
                rec[t // rec_every] = uhat_out

    def step(self, x_in, target=None, learning_on=False, xi=None):
        """One time step. ``x_in``: value the input player switches to (None: hold); ``target``:
        supervisor value (None: hold its current rate); ``xi``: optional list (one array per hidden
        layer, layer order) of the **N(0,1) standard normal draws** for this step's OU update
        (the generator is then not used)."""
        row = None if xi is None else self._row_from_normals(xi)
        with np.errstate(over="ignore", under="ignore"):
            self._run_chunk(1, x_in, target, learning_on, xi_row=row)

    def run(self, n_steps, x_in, target=None, learning_on=False):
        """``n_steps`` steps with constant player values (drawn noise)."""
        with np.errstate(over="ignore", under="ignore"):
            self._run_chunk(int(n_steps), x_in, target, learning_on)

    def run_samples(self, X, T, learning_on, steps_per_sample=100, record_every=20):
        """Present the rows of ``X`` in the given order (shuffle outside), ``steps_per_sample`` steps
        each, with targets ``T``: integer labels or an exact 0/1 one-hot matrix (both turned into
        ``uhigh`` = 1.0 for the class and ``ulow`` = 0.1 elsewhere), or any other (n, n_L) array of
        target rates, used as given. Readout of spec section 7: records after steps
        s = 0, record_every, ... of each sample; the s = 0 record is dropped; prediction = argmax of
        the mean output u_hat over the remaining records; label = argmax of the target.

        Returns a dict: ``accuracy``, ``predictions``, ``labels``, ``rms_error`` (RMS of
        u_hat_out - r_sup over all records incl. s = 0), ``rms_error_used`` (records 2..),
        ``records`` (n, n_records, n_L) output u_hat."""
        X = np.ascontiguousarray(X, dtype=self.dtype)
        T = np.asarray(T)
        nL = self.dims[-1]
        if T.ndim == 2 and T.shape[0] and np.all((T == 0) | (T == 1)) and np.all(T.sum(axis=1) == 1):
            T = np.argmax(T, axis=1)                     # exact one-hot -> labels
        if T.ndim == 1:
            labels = T.astype(np.int64)
            Tm = np.full((len(T), nL), float(self.params.get("ulow", 0.1)), self.dtype)
            Tm[np.arange(len(T)), labels] = float(self.params.get("uhigh", 1.0))
        else:
            Tm = np.ascontiguousarray(T, dtype=self.dtype)
            labels = np.argmax(Tm, axis=1)
        n = X.shape[0]
        n_rec = (steps_per_sample + record_every - 1) // record_every
        recs = np.empty((n, n_rec, nL), self.dtype)
        chunk = self._run_chunk
        with np.errstate(over="ignore", under="ignore"):
            for i in range(n):
                chunk(steps_per_sample, X[i], Tm[i], learning_on, None, record_every, recs[i])
        used = recs[:, 1:, :].astype(np.float64)
        pred = np.argmax(used.mean(axis=1), axis=1)
        diff = recs.astype(np.float64) - Tm[:, None, :]
        diff_used = used - Tm[:, None, :]
        return {
            "accuracy": float(np.mean(pred == labels)) if n else float("nan"),
            "predictions": pred,
            "labels": labels,
            "rms_error": float(np.sqrt(np.mean(diff ** 2))) if n else float("nan"),
            "rms_error_used": float(np.sqrt(np.mean(diff_used ** 2))) if n else float("nan"),
            "records": recs,
        }

    # ------------------------------------------------------------------ protocol helpers
    def epoch_start(self):
        """BP baseline (``set_wBackw_to_wTransp``): B[l] <- W_up[l+1]^T and W_PI[l] <- -W_up[l+1]^T
        for every hidden layer. No-op otherwise."""
        if self.params.get("set_wBackw_to_wTransp", False):
            for l in range(1, self.L):
                self.B[l][...] = self.W_up[l + 1].T
                self.W_PI[l][...] = -self.W_up[l + 1].T

    def epoch_end(self):
        """``reinforce_self_predict``: W_IP[l] <- W_up[l+1] after a training epoch. No-op otherwise."""
        if self.params.get("reinforce_self_predict", False):
            for l in range(1, self.L):
                self.W_IP[l][...] = self.W_up[l + 1]

    def self_predict_error(self):
        """Max |W_IP[l] - W_up[l+1]| and max |W_PI[l] + B[l]| over hidden layers."""
        a = max(float(np.max(np.abs(self.W_IP[l] - self.W_up[l + 1]))) for l in range(1, self.L))
        b = max(float(np.max(np.abs(self.W_PI[l] + self.B[l]))) for l in range(1, self.L))
        return a, b

    def alignment_angles(self):
        """Angle (degrees) between W_{l+1}^T and B_l (spec section 7, math orientation, both
        n_l x n_{l+1}) for every hidden layer l = 1..L-1. In storage orientation A = W_up[l+1]
        and B~ = B[l].T."""
        out = []
        for l in range(1, self.L):
            A = self.W_up[l + 1].astype(np.float64)
            Bt = self.B[l].T.astype(np.float64)
            c = float(np.sum(A * Bt) / (np.linalg.norm(A) * np.linalg.norm(Bt)))
            out.append(math.degrees(math.acos(min(1.0, max(-1.0, c)))))
        return out

    # ------------------------------------------------------------------ state I/O
    def _state_items(self):
        items = {}
        for l in range(1, self.L):
            for k, v in self.hidden[l].items():
                items[f"pyr{l}.{k}"] = v
            for k, v in self.inter[l].items():
                items[f"int{l}.{k}"] = v
        for k, v in self.output.items():
            items[f"out.{k}"] = v
        for k, v in self.input.items():
            items[f"in.{k}"] = v
        for k, v in self.supervisor.items():
            items[f"sup.{k}"] = v
        for l in range(1, self.L + 1):
            items[f"W_up{l}"] = self.W_up[l]
            items[f"D_up{l}"] = self.D_up[l]
        for l in range(1, self.L):
            items[f"B{l}"] = self.B[l]
            items[f"W_IP{l}"] = self.W_IP[l]
            items[f"D_IP{l}"] = self.D_IP[l]
            items[f"W_PI{l}"] = self.W_PI[l]
            items[f"D_PI{l}"] = self.D_PI[l]
        return items

    def get_state(self, include_rng=True):
        """Flat dict name -> array copy ("pyr1.V", "int1.r", "out.u_hat", "in.r", "sup.r", "W_up1",
        "D_up1", "B1", "W_IP1", "D_IP1", "W_PI1", "D_PI1", ...). With ``include_rng`` also the
        pending noise block and the generator state (key "_rng", a dict), so that a run resumed
        with ``set_state`` is bitwise identical."""
        st = {k: np.array(v, copy=True) for k, v in self._state_items().items()}
        if include_rng:
            st["_noise_buf"] = self._noise_buf.copy()
            st["_noise_pos"] = np.array(self._noise_pos)
            st["_rng"] = copy.deepcopy(self.rng.bit_generator.state)
        return st

    def set_state(self, state):
        """Write the entries of ``state`` (any subset of ``get_state``'s keys) into the model."""
        items = self._state_items()
        for k, v in state.items():
            if k == "_noise_buf":
                self._noise_buf = np.array(v, dtype=self.dtype, copy=True)
            elif k == "_noise_pos":
                self._noise_pos = int(v)
            elif k == "_rng":
                self.rng.bit_generator.state = copy.deepcopy(v)
            elif k in items:
                items[k][...] = v
            else:
                raise KeyError(f"unknown state entry {k!r}")
