"""Acceptance: PyGeNN 5 scripts run on neurogen with only the import changed.

The two scripts in ``tests/pygenn_scripts`` are plain PyGeNN 5 code (``from pygenn import ...``).
Each test reads the script text, rewrites the import to ``neurogen``, executes it and compares
its results with an independent NumPy re-implementation ("shadow model") of GeNN 5's semantics,
written here from genn_api.md §9 (step order) and §12 (built-in model dynamics):

* a spike emitted in step n is delivered (``pre_spike_syn_code`` / ``post_spike_syn_code``) in
  the synapse update of step n+1, and the ``addToPost`` input reaches the neuron in that same
  step's neuron update;
* ``synapse_dynamics_code`` in step n reads the neuron state left by step n-1 and its
  ``addToPost`` reaches the postsynaptic neuron in step n;
* in the neuron update: Isyn <- 0 and additional inputs <- their initial value, then the
  postsynaptic models, then current sources, then the neuron's ``sim_code``, then the WU
  ``pre/post_dynamics_code``, then the threshold test, the WU ``pre/post_spike_code`` and reset;
* custom updates run between steps, only when called.

The shadows never import neurogen; they run in the model's precision, operation by operation,
so that spike times can be compared exactly in both precisions.
"""
from pathlib import Path

import numpy as np
import pytest

SCRIPTS = Path(__file__).parent / "pygenn_scripts"


def load_pygenn_script(name):
    """Execute a PyGeNN 5 script with ``pygenn`` replaced by ``neurogen``; return its namespace."""
    path = SCRIPTS / name
    text = path.read_text()
    assert "from pygenn import" in text and "neurogen" not in text, "the script must be plain PyGeNN 5 code"
    text = text.replace("from pygenn import", "from neurogen import").replace("import pygenn",
                                                                            "import neurogen as pygenn")
    namespace = {"__name__": f"pygenn_script_{path.stem}", "__file__": str(path)}
    exec(compile(text, str(path), "exec"), namespace)
    return namespace


def _dtype(precision):
    return np.float64 if precision == "double" else np.float32


def assert_close(actual, expected, rtol, what):
    """Relative comparison against the magnitude of the whole trace (values cross zero)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert np.all(np.isfinite(actual)), f"{what}: non-finite values from neurogen"
    scale = max(np.abs(expected).max(), 1e-300)
    err = np.abs(actual - expected)
    worst = np.unravel_index(np.argmax(err), err.shape) if err.size else ()
    assert err.max(initial=0.0) <= rtol * scale, (
        f"{what}: max |neurogen - shadow| = {err.max():.3e} > {rtol:.1e} * {scale:.3e} "
        f"at index {worst}: neurogen {actual[worst]!r}, shadow {expected[worst]!r}")


# ============================================================================ STDP + LIF shadow

def shadow_stdp_lif(ns, inputs, precision, weight_every=50):
    """GeNN 5 semantics of tests/pygenn_scripts/stdp_lif.py, re-implemented with explicit loops."""
    f = _dtype(precision)
    c = lambda v: f(v)                                   # noqa: E731 - cast a Python constant to the model type
    dt, n_pre, n_post, n_steps = ns["DT"], ns["N_PRE"], ns["N_POST"], ns["N_STEPS"]
    lp, sp = ns["LIF_PARAMS"], ns["STDP_PARAMS"]
    alpha = c(dt / lp["TauM"])                           # derived param, evaluated in double then cast
    vrest, vreset, vthresh, rm, tref = (c(lp[k]) for k in ("Vrest", "Vreset", "Vthresh", "Rm", "TauRefrac"))
    tau = ns["TAU_SYN"]
    exp_decay = c(np.exp(-dt / tau))
    init = c(tau * (1.0 - np.exp(-dt / tau)) / dt)
    amp = c(ns["DC_AMP"])
    d_plus, d_minus = c(np.exp(-dt / sp["tauPlus"])), c(np.exp(-dt / sp["tauMinus"]))
    a_plus, a_minus, w_min, w_max = (c(sp[k]) for k in ("aPlus", "aMinus", "wMin", "wMax"))
    dt_c = c(dt)

    spike_times = inputs["spike_times"].astype(f)
    start = inputs["start"].astype(np.int64).copy()
    end = inputs["end"].astype(np.int64)
    g = inputs["g0"].astype(f).copy()
    V = inputs["V0"].astype(f).copy()
    refrac = np.zeros(n_post, f)
    in_syn = np.zeros(n_post, f)
    x = np.zeros(n_pre, f)
    y = np.zeros(n_post, f)

    pre_prev, post_prev = [], []                          # spikes emitted in the previous step
    pre_rec, post_rec = [], []
    v_trace = np.empty((n_steps, n_post), f)
    g_trace = []
    for n in range(n_steps):
        t = c(n) * dt_c
        # ---- synapse update: presynaptic spikes of step n-1, then postsynaptic spikes of step n-1
        for i in pre_prev:
            for j in range(n_post):
                in_syn[j] = in_syn[j] + g[i, j]
                g[i, j] = max(w_min, g[i, j] - a_minus * y[j])
        for j in post_prev:
            for i in range(n_pre):
                g[i, j] = min(w_max, g[i, j] + a_plus * x[i])
        # ---- neuron update, presynaptic spike sources
        pre_now = []
        for i in range(n_pre):
            x[i] = x[i] * d_plus                           # pre_dynamics_code
            if start[i] != end[i] and t >= spike_times[start[i]]:
                pre_now.append(i)
                x[i] = x[i] + c(1.0)                       # pre_spike_code
                start[i] += 1                              # reset
        # ---- neuron update, postsynaptic LIFs
        post_now = []
        for j in range(n_post):
            isyn = c(0.0) + init * in_syn[j]               # ExpCurr
            in_syn[j] = in_syn[j] * exp_decay
            isyn = isyn + amp                              # DC current source
            if refrac[j] > c(0.0):
                refrac[j] = refrac[j] - dt_c
            else:
                V[j] = V[j] + alpha * ((vrest - V[j]) + rm * isyn)
            y[j] = y[j] * d_minus                          # post_dynamics_code
            if refrac[j] <= c(0.0) and V[j] >= vthresh:
                post_now.append(j)
                y[j] = y[j] + c(1.0)                       # post_spike_code
                V[j] = vreset
                refrac[j] = tref
        pre_rec += [(n, i) for i in pre_now]
        post_rec += [(n, j) for j in post_now]
        pre_prev, post_prev = pre_now, post_now
        v_trace[n] = V
        if (n + 1) % weight_every == 0:
            g_trace.append(g.copy())

    def as_arrays(rec):
        steps = np.array([s for s, _ in rec], dtype=np.int64)
        ids = np.array([i for _, i in rec], dtype=np.int64)
        return steps * dt, ids

    pre_t, pre_i = as_arrays(pre_rec)
    post_t, post_i = as_arrays(post_rec)
    return {"pre_times": pre_t, "pre_ids": pre_i, "post_times": post_t, "post_ids": post_i,
            "V": v_trace, "g_trace": np.array(g_trace), "x": x, "y": y}


# Tolerances: float64 -> 1e-12 relative (exactness test; only the order of simultaneous additions
# into inSyn may legitimately differ).  float32 -> min(64 * eps32, 1e-5): the shadow runs in float32
# operation by operation, so differences come only from a different summation order of simultaneous
# inputs (a few ulp each), carried for ~TauM/dt steps by the leak; the cap keeps the float32 check
# meaningful instead of scaling with an unbounded factor of epsilon.
RTOL = {"double": 1e-12, "float": min(64 * float(np.finfo(np.float32).eps), 1e-5)}


@pytest.mark.parametrize("precision", ["double", "float"])
def test_stdp_lif_script_matches_shadow(precision):
    ns = load_pygenn_script("stdp_lif.py")
    res = ns["run"](precision)
    ref = shadow_stdp_lif(ns, res["inputs"], precision)

    # the test is only meaningful if both sides spike and the rule both potentiates and depresses
    assert ref["pre_times"].size > 50 and ref["post_times"].size > 50
    g0 = res["inputs"]["g0"]
    assert (ref["g_trace"][-1] > g0 + 1e-3).any() and (ref["g_trace"][-1] < g0 - 1e-3).any()

    for side in ("pre", "post"):
        np.testing.assert_array_equal(res[f"{side}_ids"], ref[f"{side}_ids"], err_msg=f"{side} spike ids")
        np.testing.assert_array_equal(res[f"{side}_times"], ref[f"{side}_times"], err_msg=f"{side} spike times")
    rtol = RTOL[precision]
    assert_close(res["V"], ref["V"], rtol, "post V trajectory")
    assert_close(res["g_trace"], ref["g_trace"], rtol, "weight trajectory g")
    assert_close(res["x"], ref["x"], rtol, "presynaptic trace x")
    assert_close(res["y"], ref["y"], rtol, "postsynaptic trace y")


# ============================================================================ rate network shadow

def shadow_rate_network(ns, inputs, precision):
    """GeNN 5 semantics of tests/pygenn_scripts/rate_network.py (batch instances kept separate)."""
    f = _dtype(precision)
    c = lambda v: f(v)                                   # noqa: E731
    B, ni, nh, no, n_steps = ns["BATCH"], ns["N_INP"], ns["N_HID"], ns["N_OUT"], ns["N_STEPS"]
    dt = c(ns["DT"])
    freq = c(ns["INP_PARAMS"]["freq"])
    tau, leak = c(ns["HID_PARAMS"]["tau"]), c(ns["HID_PARAMS"]["leak"])
    tau_out = c(ns["OUT_PARAMS"]["tauOut"])
    eta, decay = c(ns["HEBB_PARAMS"]["eta"]), c(ns["HEBB_PARAMS"]["decay"])
    coupling = c(ns["APPLY_PARAMS"]["coupling"])
    factor = c(ns["SCALE_PARAMS"]["factor"])
    ifb_init = c(ns["IFB_INIT"])

    amp = inputs["amp"].astype(f)                        # READ_ONLY: shared by the batch
    ph = inputs["ph0"].astype(f).copy()
    r_inp = np.zeros((B, ni), f)
    x = inputs["x0"].astype(f).copy()
    r_hid = np.zeros((B, nh), f)
    y = np.zeros((B, no), f)
    g_in = inputs["w_in"].astype(f).copy()               # READ_ONLY: shared
    g_fb = inputs["w_fb"].astype(f).copy()               # READ_ONLY: shared
    g_out = np.repeat(inputs["w_out"].astype(f)[None], B, axis=0)   # READ_WRITE: one copy per batch
    rec_r = np.empty((n_steps, B, nh), f)
    rec_y = np.empty((n_steps, B, no), f)
    rsums = []

    for n in range(n_steps):
        in_hid = np.zeros((B, nh), f)
        in_fb = np.zeros((B, nh), f)
        in_out = np.zeros((B, no), f)
        for b in range(B):
            # ---- synapse dynamics: every synapse, reading the neuron state of step n-1
            for i in range(ni):
                for j in range(nh):
                    in_hid[b, j] = in_hid[b, j] + g_in[i, j] * r_inp[b, i]
            for k in range(no):
                for j in range(nh):
                    in_fb[b, j] = in_fb[b, j] + g_fb[k, j] * y[b, k]
            for i in range(nh):
                for j in range(no):
                    in_out[b, j] = in_out[b, j] + g_out[b, i, j] * r_hid[b, i]
                    g_out[b, i, j] = g_out[b, i, j] + ((eta * r_hid[b, i] * y[b, j]) - (decay * g_out[b, i, j]))
            # ---- neuron update (DeltaCurr injects inSyn; the additional input restarts at IFB_INIT)
            for i in range(ni):
                ph[b, i] = ph[b, i] + freq * dt
                if ph[b, i] >= c(1.0):
                    ph[b, i] = ph[b, i] - c(1.0)
                r_inp[b, i] = amp[i] * ph[b, i]
            for j in range(nh):
                isyn = c(0.0) + in_hid[b, j]
                ifb = ifb_init + in_fb[b, j]
                x[b, j] = x[b, j] + (dt / tau) * ((isyn + ifb) - x[b, j])
                r_hid[b, j] = x[b, j] if x[b, j] > c(0.0) else leak * x[b, j]
            for k in range(no):
                isyn = c(0.0) + in_out[b, k]
                y[b, k] = y[b, k] + (dt / tau_out) * (isyn - y[b, k])
        rec_r[n] = r_hid
        rec_y[n] = y
        # ---- custom updates between steps
        ts = n + 1
        if ts % ns["REDUCE_EVERY"] == 0:
            rsum = np.zeros(nh, f)
            for b in range(B):
                rsum = rsum + r_hid[b]
            rsums.append(rsum)
            for b in range(B):
                x[b] = x[b] - coupling * rsum
        if ts % ns["SCALE_EVERY"] == 0:
            g_in = g_in * factor
    return {"r_hid": rec_r, "y_out": rec_y, "rsum": np.array(rsums), "x_final": x, "g_in": g_in, "g_out": g_out}


# float64: 1e-12 relative to the trace magnitude (the engine may order the dense sums differently,
# e.g. a GEMV lowering; each step then differs by a few ulp).  float32: min(256 * eps32, 1e-4) -- the
# same reordering costs ~N_in * eps32 per step and the leaky units (tau/dt = 10..16 steps) and the
# out->hid feedback loop carry it forward; capped so the bound stays meaningful.
RATE_RTOL = {"double": 1e-12, "float": min(256 * float(np.finfo(np.float32).eps), 1e-4)}


@pytest.mark.parametrize("precision", ["double", "float"])
def test_rate_network_script_matches_shadow(precision):
    ns = load_pygenn_script("rate_network.py")
    res = ns["run"](precision)
    ref = shadow_rate_network(ns, res["inputs"], precision)

    # sanity of the design: the batch instances differ, the feedback and the reduction matter
    assert np.abs(ref["r_hid"][:, 0] - ref["r_hid"][:, 1]).max() > 1e-2
    assert np.all(np.isfinite(ref["r_hid"])) and np.abs(ref["r_hid"]).max() < 100

    rtol = RATE_RTOL[precision]
    assert_close(res["r_hid"], ref["r_hid"], rtol, "hidden rates r (per step, per batch)")
    assert_close(res["y_out"], ref["y_out"], rtol, "readout y (per step, per batch)")
    assert_close(res["rsum"], ref["rsum"], rtol, "REDUCE_BATCH_SUM custom-update result")
    assert_close(res["x_final"], ref["x_final"], rtol, "final hidden x")
    assert_close(res["g_in"], ref["g_in"], rtol, "scaled shared weights inp2hid.g")
    assert_close(res["g_out"], ref["g_out"], rtol, "per-batch Hebbian weights hid2out.g")


def test_scripts_are_plain_pygenn():
    """The scripts must stay portable: no neurogen-only names or extensions are used."""
    for name in ("stdp_lif.py", "rate_network.py"):
        text = (SCRIPTS / name).read_text()
        assert "from pygenn import" in text
        for extension in ("neurogen", "record_var", "stream_var", "set_stream", "var_recording_data",
                          "num_threads", ".run("):
            assert extension not in text, f"{name} uses the neurogen-only feature {extension!r}"
