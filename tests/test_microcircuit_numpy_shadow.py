"""Validation of the NumPy microcircuit shadow model (tests/shadows/microcircuit_numpy.py) against
the small faithful tests of /work/shared/specs/microcircuit_le_pal.md section 12 (MC-T1, T2, T3, T4,
T7) and against a deliberately literal, per-population re-evaluation of the spec's equations.

Other tests compare the code-generated simulator against this shadow; these tests make sure the
shadow itself follows the spec. All float64 unless stated.
"""
import math

import numpy as np
import pytest

from shadows.microcircuit_numpy import NumpyMicrocircuit, yinyang_params


def deep_eta(L, up=(50.0, 1.0, 0.01), down=0.5, ip=0.05, pi=0.02):
    """eta lists of the right lengths for a net with L weight layers (the shipped configs are L = 2)."""
    return {"up": [up[0]] + [up[1]] * (L - 2) + [up[2]], "down": [0.0] + [down] * (L - 1),
            "ip": [ip] * (L - 1) + [0.0], "pi": [pi] * (L - 1) + [0.0]}


def yy_inputs(n, rng):
    """Yin-yang-like input rates (x, y, 1 - x, 1 - y)."""
    xy = rng.uniform(0.0, 1.0, size=(n, 2))
    return np.hstack([xy, 1.0 - xy])


# ----------------------------------------------------------------------------------------------
# Literal reference: the spec's equations evaluated population by population, with the
# Delta / PAL / high-pass / OU formulas written exactly as printed in sections 4 and 5.
# ----------------------------------------------------------------------------------------------
class LiteralMicrocircuit:
    def __init__(self, model):
        p = model.params
        self.p, self.dims, self.L = p, model.dims, model.L
        st = model.get_state(include_rng=False)
        L = self.L
        self.W = [None] + [st[f"W_up{l}"].copy() for l in range(1, L + 1)]
        self.D = [None] + [st[f"D_up{l}"].copy() for l in range(1, L + 1)]
        self.B = [None] + [st[f"B{l}"].copy() for l in range(1, L)]
        self.WIP = [None] + [st[f"W_IP{l}"].copy() for l in range(1, L)]
        self.DIP = [None] + [st[f"D_IP{l}"].copy() for l in range(1, L)]
        self.WPI = [None] + [st[f"W_PI{l}"].copy() for l in range(1, L)]
        self.DPI = [None] + [st[f"D_PI{l}"].copy() for l in range(1, L)]
        self.pyr = [None] + [{k: st[f"pyr{l}.{k}"].copy() for k in model.hidden[l]} for l in range(1, L)]
        self.int = [None] + [{k: st[f"int{l}.{k}"].copy() for k in model.inter[l]} for l in range(1, L)]
        self.out = {k: st[f"out.{k}"].copy() for k in model.output}
        self.inp = {k: st[f"in.{k}"].copy() for k in model.input}
        self.sup = {k: st[f"sup.{k}"].copy() for k in model.supervisor}
        self.pi_frozen = bool(p["start_in_self_predict"]) and all(e == 0 for e in p["eta"]["down"])

    def phi(self, x):
        th = float(self.p.get("threshold", 15))
        act = self.p["activation_template"]
        with np.errstate(over="ignore"):
            if act == "sigmoid":
                return 1.0 / (1.0 + np.exp(-x))
            if act == "sigmoid_stable":
                return np.where(x < -th, 0.0, np.where(x > th, 1.0, 1.0 / (1.0 + np.exp(-x))))
            return np.where(x < -th, 0.0, np.where(x > th, x, np.log1p(np.exp(x))))

    def level(self, l):
        if l == 0:
            return self.inp
        return self.out if l == self.L else self.pyr[l]

    def step(self, x, target, learning_on, normals):
        p, L, dt = self.p, self.L, self.p["dt"]
        eta = p["eta"]
        gl, gb, ga, gd, gsom, gtar = (p[k] for k in ("gl", "gb", "ga", "gd", "gsom", "gtar"))
        # (a) synapses: plasticity with the previous step's neuron state, then transmission
        if learning_on:
            for l in range(1, L + 1):
                post, pre = self.level(l), self.level(l - 1)
                e = post["r"] - post["r_B"]
                D_old = self.D[l]
                self.W[l] = self.W[l] + D_old
                self.D[l] = D_old + (dt / p["tau_w_ff"]) * (
                    dt * eta["up"][l - 1] * np.outer(pre["r_last"], e) - D_old)
            for l in range(1, L):
                e = self.int[l]["r"] - self.int[l]["r_D"]
                D_old = self.DIP[l]
                self.WIP[l] = self.WIP[l] + D_old
                self.DIP[l] = D_old + (dt / p["tau_w_ip"]) * (
                    dt * eta["ip"][l - 1] * np.outer(self.pyr[l]["r_last"], e) - D_old)
                if not self.pi_frozen:
                    e = -self.pyr[l]["v_A"]
                    D_old = self.DPI[l]
                    self.WPI[l] = self.WPI[l] + D_old
                    self.DPI[l] = D_old + (dt / p["tau_w_pi"]) * (
                        dt * eta["pi"][l - 1] * np.outer(self.int[l]["r_last"], e) - D_old)
                h_pre = self.level(l + 1)["h"]
                self.B[l] = self.B[l] + dt * eta["down"][l] * (
                    np.outer(h_pre, self.pyr[l]["xi"]) - p["alpha"] * self.B[l])
        I_up = [None] + [self.level(l - 1)["r"] @ self.W[l] for l in range(1, L + 1)]
        I_dend = [None] + [self.pyr[l]["r"] @ self.WIP[l] for l in range(1, L)]
        I_down = [None] + [self.level(l + 1)["r"] @ self.B[l] for l in range(1, L)]
        I_inter = [None] + [self.int[l]["r"] @ self.WPI[l] for l in range(1, L)]
        I_fbi = [None] + [self.level(l + 1)["u_hat"].copy() for l in range(1, L)]
        I_target = self.sup["r"].copy() if learning_on else np.zeros_like(self.sup["r"])
        le = bool(p["le_active"])

        def euler(s, gtot):
            s["u_dot"] = gtot * (s["u_eff"] - s["V"])
            if le:
                s["u_hat"] = s["V"] + s["u_dot"] / gtot
                s["V"] = s["V"] + dt * s["u_dot"]
            else:
                s["V"] = s["V"] + dt * s["u_dot"]
                s["u_hat"] = s["V"].copy()

        def highpass(s):
            s["h"] = s["h"] + (s["r"] - s["r_last"]) - (dt / p["highpass_tau"]) * s["h"]
            s["r_last"] = s["r"].copy()

        # (b) neurons, order of section 4
        gtot = gl + gb + ga
        for l in range(1, L):                                   # 4.1 hidden pyramids
            s = self.pyr[l]
            s["v_B"] = I_up[l]
            s["v_A"] = I_down[l] + I_inter[l]
            a = dt / p["noise_tau"]
            s["xi"] = (1 - a) * s["xi"] + p["noise_sig"] * math.sqrt(a) * normals[l - 1]
            highpass(s)
            s["u_eff"] = (gb * s["v_B"] + ga * (s["v_A"] + s["xi"])) / gtot
            euler(s, gtot)
            s["r"] = self.phi(s["u_hat"])
            s["r_B"] = self.phi(gb / gtot * s["v_B"])
        gtot_i = gl + gd + gsom
        for l in range(1, L):                                   # 4.2 interneurons
            s = self.int[l]
            s["r_last"] = s["r"].copy()
            s["v_D"] = I_dend[l]
            s["v_down"] = I_fbi[l]
            s["u_eff"] = (gd * s["v_D"] + gsom * s["v_down"]) / gtot_i
            euler(s, gtot_i)
            s["r"] = self.phi(s["u_hat"])
            s["r_D"] = self.phi(gd / (gl + gd) * s["v_D"])
        s = self.out                                            # 4.3 output
        s["v_B"] = I_up[L]
        s["v_T"] = I_target
        highpass(s)
        if learning_on:
            s["u_eff"] = (gb * s["v_B"] + gtar * s["v_T"]) / (gl + gb + gtar)
        else:
            s["u_eff"] = gb * s["v_B"] / (gl + gb)
        euler(s, gl + gb + gtar)
        s["r"] = self.phi(s["u_hat"])
        s["r_B"] = self.phi(gb / (gl + gb) * s["v_B"])
        for pl, val in ((self.inp, x), (self.sup, target)):     # 4.4 players (tau_0 = dt)
            pl["r_last"] = pl["r"].copy()
            if val is not None:
                pl["r"] = pl["r_last"] + (dt / p["tau_0"]) * (np.asarray(val, float) - pl["r_last"])

    def state(self):
        st = {}
        for l in range(1, self.L):
            st.update({f"pyr{l}.{k}": v for k, v in self.pyr[l].items()})
            st.update({f"int{l}.{k}": v for k, v in self.int[l].items() if k in
                       ("V", "v_D", "v_down", "u_hat", "r", "r_last", "r_D")})
            st.update({f"B{l}": self.B[l], f"W_IP{l}": self.WIP[l], f"D_IP{l}": self.DIP[l],
                       f"W_PI{l}": self.WPI[l], f"D_PI{l}": self.DPI[l]})
        st.update({f"out.{k}": v for k, v in self.out.items() if k not in ("u_eff", "u_dot")})
        st.update({f"in.{k}": v for k, v in self.inp.items()})
        st.update({f"sup.{k}": v for k, v in self.sup.items()})
        for l in range(1, self.L + 1):
            st.update({f"W_up{l}": self.W[l], f"D_up{l}": self.D[l]})
        return st


def _all_rules_params(**over):
    """Every rule active and fast, so that 80 steps move every weight and Delta visibly."""
    p = yinyang_params("pal")
    p.update(noise_sig=0.1, tau_w_ff=0.05, start_in_self_predict=False, alpha=0.5,
             eta={"up": [5.0, 2.0, 1.0], "down": [0.0, 20.0, 20.0], "ip": [3.0, 3.0], "pi": [3.0, 3.0]})
    p.update(over)
    return p


@pytest.mark.parametrize("dims,over", [
    ([4, 30, 3], {}),
    ([3, 5, 4, 2], {}),
    ([3, 5, 4, 2], {"activation_template": "soft_relu"}),
    ([4, 6, 3], {"activation_template": "sigmoid_stable", "le_active": 0}),
    ([4, 30, 3], {"start_in_self_predict": True, "eta": {"up": [5.0, 2.0], "down": [0.0, 0.0],
                                                         "ip": [3.0, 0.0], "pi": [3.0, 0.0]}}),
])
def test_vectorised_model_matches_literal_equations(dims, over):
    """All state, weights and Deltas agree with the literal evaluation over 80 steps with input
    switches every 10 steps, learning on/off/on, identical OU normals (rules 5.1-5.4, 5.6 freeze)."""
    p = _all_rules_params(**over)
    m = NumpyMicrocircuit(dims, p, seed=7, weights=None)
    # start from a non-trivial state so nothing is trivially zero
    rng = np.random.default_rng(3)
    init = {k: rng.uniform(-0.5, 0.5, v.shape) for k, v in m.get_state(include_rng=False).items()
            if not k.startswith(("W_", "B", "D_"))}
    m.set_state(init)
    ref = LiteralMicrocircuit(m)
    w0 = m.get_state(include_rng=False)
    X = rng.uniform(0, 1, size=(8, dims[0]))
    T = np.full((8, dims[-1]), 0.1)
    T[np.arange(8), rng.integers(0, dims[-1], 8)] = 1.0
    worst = 0.0
    for t in range(80):
        lo = t < 50 or t >= 65
        x = X[t // 10] if t % 10 == 0 else None
        tg = T[t // 10] if t % 10 == 0 else None
        normals = [rng.standard_normal(n) for n in dims[1:-1]]
        m.step(x, tg, learning_on=lo, xi=normals)
        ref.step(x, tg, lo, normals)
        got, want = m.get_state(include_rng=False), ref.state()
        for k, v in want.items():
            err = np.max(np.abs(got[k] - v), initial=0.0)
            scale = max(1.0, float(np.max(np.abs(v), initial=0.0)))
            worst = max(worst, err / scale)
            assert err <= 1e-12 * scale, f"step {t}: {k} differs by {err:.3g}"
    assert worst < 1e-12
    w1 = m.get_state(include_rng=False)
    changed = {k: float(np.max(np.abs(w1[k] - w0[k]))) for k in w0 if k.startswith(("W_", "B", "D_"))}
    for k, d in changed.items():
        if (k.startswith(("W_PI", "D_PI")) and m.pi_frozen) or (k.startswith("B") and
                                                                 not any(p["eta"]["down"])):
            assert d == 0.0, k
        else:
            assert d > 1e-6, f"{k} did not move ({d})"


# ----------------------------------------------------------------------------------------------
# MC-T1: LE identity and the closed-form V_k
# ----------------------------------------------------------------------------------------------
def test_mc_t1_le_identity_random_state():
    for dims in ([4, 30, 3], [3, 5, 4, 2]):
        p = yinyang_params("pal", eta=deep_eta(len(dims) - 1))
        m = NumpyMicrocircuit(dims, p, seed=11)
        rng = np.random.default_rng(5)
        m.set_state({k: rng.uniform(-2, 2, v.shape) for k, v in m.get_state(include_rng=False).items()
                     if not k.startswith(("W_", "B", "D_"))})
        for lo in (True, False):
            V_before = m._V.copy()
            m.step(rng.uniform(0, 1, dims[0]), rng.uniform(0, 1, dims[-1]), learning_on=lo)
            scale = np.maximum(np.abs(m._ueff), np.abs(V_before))
            assert np.all(np.abs(m._uhat - m._ueff) <= 1e-14 * scale)
            for l in range(1, m.L):
                h = m.hidden[l]
                assert np.max(np.abs(h["u_hat"] - h["u_eff"])) <= 1e-14 * np.max(scale)


def test_mc_t1_closed_form_voltage():
    """Constant u_eff (network at its fixed point, learning off): V_k = u_eff (1 - (1 - dt g_tot)^k)
    from V_0 = 0 for hidden pyramids, interneurons and outputs (output g_tot keeps g_tar, quirk 1)."""
    p = yinyang_params("fa", start_in_self_predict=False)
    m = NumpyMicrocircuit([4, 30, 3], p, seed=123456)
    x = np.array([0.3, 0.6, 0.7, 0.4])
    m.run(400, x, np.array([1.0, 0.1, 0.1]), learning_on=False)
    u_inf = m._ueff.copy()
    m._V[...] = 0.0
    dt = p["dt"]
    G = np.concatenate([np.full(30, p["gl"] + p["gb"] + p["ga"]),
                        np.full(3, p["gl"] + p["gb"] + p["gtar"]),
                        np.full(3, p["gl"] + p["gd"] + p["gsom"])])
    assert np.allclose(m._G, G, rtol=0, atol=1e-15)
    for k in range(1, 501):
        m.step(None, None, learning_on=False)
        assert np.max(np.abs(m._ueff - u_inf)) <= 1e-15
        if k in (1, 2, 10, 100, 500):
            closed = u_inf * (1.0 - (1.0 - dt * G) ** k)
            assert np.allclose(m._V, closed, rtol=1e-12, atol=1e-15), k


def test_le_off_uses_new_voltage():
    p = yinyang_params("fa", le_active=0)
    m = NumpyMicrocircuit([4, 30, 3], p, seed=1)
    for _ in range(5):
        m.step(np.array([0.2, 0.9, 0.8, 0.1]), np.array([0.1, 1.0, 0.1]), learning_on=True)
    assert np.array_equal(m._uhat, m._V)
    assert np.array_equal(m.output["r"], 1.0 / (1.0 + np.exp(-m.output["V"])))


# ----------------------------------------------------------------------------------------------
# MC-T2: hop delays (section 6 table), hand-computed
# ----------------------------------------------------------------------------------------------
def test_mc_t2_hop_delays():
    """Input impulse given at step n (the player holds it from step n on); the first step at which
    each quantity differs from an unperturbed copy: hidden basal n+1, output basal n+2, interneuron
    dendrite n+2, interneuron soma n+3, hidden apical n+3; high-pass h one step after the rate
    (hidden n+2, output n+3)."""
    p = yinyang_params("fa", start_in_self_predict=False)
    a = NumpyMicrocircuit([4, 30, 3], p, seed=2)
    x0 = np.array([0.3, 0.6, 0.7, 0.4])
    a.run(50, x0, np.array([1.0, 0.1, 0.1]), learning_on=False)
    b = NumpyMicrocircuit([4, 30, 3], p, seed=2)
    b.set_state(a.get_state())
    n = 0                                           # the impulse step (relative)
    probes = {"hidden basal": lambda m: m.hidden[1]["v_B"], "output basal": lambda m: m.output["v_B"],
              "interneuron dendrite": lambda m: m.inter[1]["v_D"],
              "interneuron soma": lambda m: m.inter[1]["v_down"],
              "hidden apical": lambda m: m.hidden[1]["v_A"],
              "hidden rate": lambda m: m.hidden[1]["r"], "output rate": lambda m: m.output["r"],
              "hidden h": lambda m: m.hidden[1]["h"], "output h": lambda m: m.output["h"]}
    expected = {"hidden basal": 1, "output basal": 2, "interneuron dendrite": 2,
                "interneuron soma": 3, "hidden apical": 3, "hidden rate": 1, "output rate": 2,
                "hidden h": 2, "output h": 3}
    first = {}
    x1 = x0.copy()
    x1[0] += 0.25                                    # impulse change of one input
    for t in range(8):
        a.step(x0, None, learning_on=False)
        b.step(x1 if t == n else None, None, learning_on=False)
        for name, f in probes.items():
            if name not in first and not np.array_equal(f(a), f(b)):
                first[name] = t - n
    assert first == expected


# ----------------------------------------------------------------------------------------------
# MC-T3: self-predicting cancellation
# ----------------------------------------------------------------------------------------------
def test_mc_t3_self_predicting_cancellation():
    p = yinyang_params("fa")                         # start_in_self_predict, sigma = 0
    m = NumpyMicrocircuit([4, 30, 3], p, seed=123456)
    assert m.self_predict_error() == (0.0, 0.0)
    X = yy_inputs(20, np.random.default_rng(0))
    worst = {"v_A": 0.0, "rI-rout": 0.0, "rI-rD": 0.0, "rP-rB": 0.0}
    w0 = m.get_state(include_rng=False)
    for x in X:
        for k in range(10):
            m.step(x if k == 0 else None, None, learning_on=False)
            if k >= 9:
                worst["v_A"] = max(worst["v_A"], np.max(np.abs(m.hidden[1]["v_A"])))
                worst["rI-rout"] = max(worst["rI-rout"], np.max(np.abs(m.inter[1]["r"] - m.output["r"])))
                worst["rI-rD"] = max(worst["rI-rD"], np.max(np.abs(m.inter[1]["r"] - m.inter[1]["r_D"])))
                worst["rP-rB"] = max(worst["rP-rB"], np.max(np.abs(m.hidden[1]["r"] - m.hidden[1]["r_B"])))
    assert worst["v_A"] < 1e-8, worst
    for k in ("rI-rout", "rI-rD", "rP-rB"):
        assert worst[k] < 1e-8, worst
    # learning off: weights and Deltas frozen (debug_mode check)
    w1 = m.get_state(include_rng=False)
    for k in w0:
        if k.startswith(("W_", "B", "D_")):
            assert np.array_equal(w0[k], w1[k]), k


# ----------------------------------------------------------------------------------------------
# MC-T4: OU statistics and high-pass step response
# ----------------------------------------------------------------------------------------------
def test_mc_t4_ou_statistics():
    p = yinyang_params("pal", noise_sig=0.01, noise_tau=0.1)
    m = NumpyMicrocircuit([1, 1, 1], p, seed=2024)
    n = 100_000
    xs = np.empty(n)
    xi = m.hidden[1]["xi"]
    x = np.array([0.5])
    for t in range(n):
        m.step(x, None, learning_on=False)
        xs[t] = xi[0]
    xs = xs[200:]                                    # drop the start-up transient (xi_0 = 0)
    std_expected = 0.01 / math.sqrt(2.0 - 0.1)
    assert abs(xs.std() / std_expected - 1.0) < 0.03
    c = xs - xs.mean()
    rho1 = float(np.dot(c[:-1], c[1:]) / np.dot(c, c))
    assert abs(rho1 - 0.9) < 0.01


def test_mc_t4_highpass_unit_step():
    """Rate step at step m (a clean step: feedback weights zeroed): h jumps by exactly the step
    one step later and then decays by (1 - dt/tau_hp) = 0.9 per step; normalised to a unit step."""
    p = yinyang_params("fa", start_in_self_predict=False)
    m = NumpyMicrocircuit([1, 1, 1], p, seed=3)
    m.B[1][...] = 0.0
    m.W_PI[1][...] = 0.0
    m.W_up[1][...] = 2.0
    m.W_up[2][...] = 1.5
    m.run(500, np.array([0.0]), None, learning_on=False)
    assert np.max(np.abs(m.hidden[1]["h"])) < 1e-20 and np.max(np.abs(m.output["h"])) < 1e-20
    hist_r, hist_h, hist_ro, hist_ho = [], [], [], []
    for t in range(30):
        m.step(np.array([1.0]) if t == 0 else None, None, learning_on=False)
        hist_r.append(m.hidden[1]["r"][0]); hist_h.append(m.hidden[1]["h"][0])
        hist_ro.append(m.output["r"][0]); hist_ho.append(m.output["h"][0])
    for r, h, t_step in ((hist_r, hist_h, 1), (hist_ro, hist_ho, 2)):
        r, h = np.array(r), np.array(h)
        jump = r[t_step] - r[t_step - 1]
        assert jump > 0.05 and np.all(np.diff(r)[t_step:] == 0.0)   # clean step at t_step
        assert np.all(np.abs(h[:t_step + 1]) < 1e-20)
        unit = h[t_step + 1:] / jump
        assert unit[0] == pytest.approx(1.0, abs=1e-15)
        assert np.allclose(unit, 0.9 ** np.arange(len(unit)), rtol=1e-12, atol=0)


# ----------------------------------------------------------------------------------------------
# MC-T7: BP mode
# ----------------------------------------------------------------------------------------------
def test_mc_t7_bp_mode():
    for dims in ([4, 30, 3], [3, 6, 5, 2]):
        p = yinyang_params("bp", eta=deep_eta(len(dims) - 1, down=0.0, pi=0.0))
        m = NumpyMicrocircuit(dims, p, seed=123457)
        rng = np.random.default_rng(1)
        X = rng.uniform(0, 1, size=(30, dims[0]))
        labels = rng.integers(0, dims[-1], 30)
        for epoch in range(2):
            m.epoch_start()
            for l in range(1, m.L):
                assert np.array_equal(m.B[l], m.W_up[l + 1].T)
                assert np.array_equal(m.W_PI[l], -m.W_up[l + 1].T)
            assert all(a < 1e-5 for a in m.alignment_angles())
            m.run_samples(X, labels, learning_on=True)
            assert all(a > 1e-4 for a in m.alignment_angles())   # W moved, B did not
        assert m.pi_frozen


# ----------------------------------------------------------------------------------------------
# Protocol helpers: initialisation, W_PI freeze, readout, checkpoint/resume
# ----------------------------------------------------------------------------------------------
def test_initialisation_draw_order_and_injection():
    p = yinyang_params("pal", start_in_self_predict=False, init_weights={"up": 0.1, "down": 1,
                                                                           "ip": [0.0, 0.2], "pi": 1})
    m = NumpyMicrocircuit([4, 30, 3], p, seed=123456)
    rs = np.random.RandomState(123456)
    assert np.array_equal(m.W_up[1], rs.uniform(-0.1, 0.1, (4, 30)))
    assert np.array_equal(m.W_up[2], rs.uniform(-0.1, 0.1, (30, 3)))
    assert np.array_equal(m.B[1], rs.uniform(-1, 1, (3, 30)))
    assert np.array_equal(m.W_IP[1], rs.uniform(0.0, 0.2, (30, 3)))
    assert np.array_equal(m.W_PI[1], rs.uniform(-1, 1, (3, 30)))
    sp = NumpyMicrocircuit([4, 30, 3], yinyang_params("pal"), seed=123456)
    assert np.array_equal(sp.W_up[2], m.W_up[2]) and np.array_equal(sp.B[1], m.B[1])
    assert np.array_equal(sp.W_IP[1], sp.W_up[2]) and np.array_equal(sp.W_PI[1], -sp.B[1])
    inj = NumpyMicrocircuit([4, 30, 3], yinyang_params("pal"), seed=1,
                            weights={"W_up": [m.W_up[1], m.W_up[2]], "B": [None, m.B[1]]})
    assert np.array_equal(inj.W_up[1], m.W_up[1]) and np.array_equal(inj.B[1], m.B[1])
    assert np.array_equal(inj.W_IP[1], m.W_up[2]) and np.array_equal(inj.W_PI[1], -m.B[1])
    f32 = NumpyMicrocircuit([4, 30, 3], yinyang_params("pal"), dtype=np.float32, seed=123456)
    assert f32.W_up[1].dtype == np.float32 and np.array_equal(f32.W_up[1], m.W_up[1].astype(np.float32))


def test_wpi_frozen_rule():
    X = yy_inputs(5, np.random.default_rng(0))
    lab = np.array([0, 1, 2, 0, 1])
    noise = NumpyMicrocircuit([4, 30, 3], yinyang_params("noise"), seed=5)   # eta.pi 0.02, eta.down 0
    w = noise.W_PI[1].copy()
    noise.run_samples(X, lab, learning_on=True)
    assert noise.pi_frozen and np.array_equal(w, noise.W_PI[1])
    pal = NumpyMicrocircuit([4, 30, 3], yinyang_params("pal"), seed=5)
    w, b = pal.W_PI[1].copy(), pal.B[1].copy()
    pal.run_samples(X, lab, learning_on=True)
    assert not pal.pi_frozen and not np.array_equal(w, pal.W_PI[1]) and not np.array_equal(b, pal.B[1])


def test_run_samples_readout_matches_step_loop():
    p = yinyang_params("pal")
    X = yy_inputs(4, np.random.default_rng(1))
    lab = np.array([2, 0, 1, 1])
    a = NumpyMicrocircuit([4, 30, 3], p, seed=9)
    b = NumpyMicrocircuit([4, 30, 3], p, seed=9)
    res = a.run_samples(X, lab, learning_on=False)
    recs = np.empty((4, 5, 3))
    T = np.full((4, 3), 0.1)
    T[np.arange(4), lab] = 1.0
    for i in range(4):
        for s in range(100):
            b.step(X[i] if s == 0 else None, T[i] if s == 0 else None, learning_on=False)
            if s % 20 == 0:
                recs[i, s // 20] = b.output["u_hat"]
    assert np.array_equal(res["records"], recs)
    sa, sb = a.get_state(), b.get_state()
    for k in sa:
        if k != "_rng":
            assert np.array_equal(sa[k], sb[k]), k
    assert np.array_equal(res["predictions"], np.argmax(recs[:, 1:].mean(axis=1), axis=1))
    assert np.array_equal(res["labels"], lab)
    assert res["accuracy"] == np.mean(res["predictions"] == lab)
    assert res["rms_error"] == pytest.approx(np.sqrt(np.mean((recs - T[:, None]) ** 2)), rel=1e-14)


def test_checkpoint_resume_bitwise():
    p = yinyang_params("pal")
    X = yy_inputs(6, np.random.default_rng(2))
    lab = np.array([0, 1, 2, 2, 1, 0])
    a = NumpyMicrocircuit([4, 30, 3], p, seed=4)
    a.run_samples(X, lab, learning_on=True)
    b = NumpyMicrocircuit([4, 30, 3], p, seed=4)
    b.run_samples(X[:3], lab[:3], learning_on=True)
    c = NumpyMicrocircuit([4, 30, 3], p, seed=99)
    c.set_state(b.get_state())
    c.run_samples(X[3:], lab[3:], learning_on=True)
    sa, sc = a.get_state(), c.get_state()
    for k in sa:
        if k != "_rng":
            assert np.array_equal(sa[k], sc[k]), k


def test_float32_tracks_float64():
    p = yinyang_params("fa")
    X = yy_inputs(20, np.random.default_rng(3))
    lab = np.random.default_rng(4).integers(0, 3, 20)
    m64 = NumpyMicrocircuit([4, 30, 3], p, seed=123456)
    m32 = NumpyMicrocircuit([4, 30, 3], p, dtype=np.float32, seed=123456)
    r64 = m64.run_samples(X, lab, learning_on=True)
    r32 = m32.run_samples(X, lab, learning_on=True)
    assert m32.output["u_hat"].dtype == np.float32
    assert np.allclose(r32["records"], r64["records"], rtol=1e-4, atol=1e-5)
    assert np.allclose(m32.W_up[1], m64.W_up[1], rtol=1e-3, atol=1e-6)
