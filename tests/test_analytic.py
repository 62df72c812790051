"""Analytic and closed-form tests of the built-in models (genn_api.md §9, §12).

Inputs are designed so the answer is known before running: spike step indices from the closed
form of LIF's discrete update, the exponential synaptic current after one spike, Poisson
statistics, and the Euler solution of a leaky integrator over a dt sweep.
"""
import math

import numpy as np
import pytest
from scipy import stats

from neurogen import (GeNNModel, create_neuron_model, init_postsynaptic, init_weight_update)

PRECISIONS = ["double", "float"]


def _dtype(precision):
    return np.float64 if precision == "double" else np.float32


def _eps(precision):
    return float(np.finfo(_dtype(precision)).eps)


# A non-spiking probe that stores the total input of each step and integrates the charge.
integrator_model = create_neuron_model(
    "input_probe",
    vars=[("Iin", "scalar"), ("Q", "scalar")],
    sim_code="""
    Iin = Isyn;
    Q += Isyn * dt;
    """)


# ============================================================================ LIF under DC

LIF_BASE = {"C": 0.25, "TauM": 10.0, "Vrest": -65.0, "Vreset": -70.0, "Vthresh": -50.0,
            "Ioffset": 0.0, "TauRefrac": 2.0}
# (DC amplitude, Ioffset, TauRefrac); the first case is subthreshold (never spikes)
LIF_CASES = [(0.3, 0.0, 2.0), (0.5, 0.0, 2.0), (0.8, 0.0, 3.0), (1.5, 0.0, 2.0), (0.2, 0.45, 3.0)]
LIF_V0 = np.array([-65.0, -55.0])
LIF_T_MS = 120.0


def lif_closed_form_spike_steps(amp, ioffset, tau_refrac, v0, dt, n_steps, precision):
    """Spike step indices from the closed form of V_{k+1} = a - ExpTC (a - V_k).

    V_k = a - ExpTC^k (a - V_0): the first k with V_k >= Vthresh is ceil(ln q / ln ExpTC) with
    q = (a - Vthresh) / (a - V_0); the step producing V_k is k - 1 steps after integration starts.
    After a spike, RefracTime = TauRefrac is decremented by dt (in the model's precision) for m steps
    until it is <= 0, V staying at Vreset; integration restarts the step after.
    """
    p = LIF_BASE
    a = (amp + ioffset) * (p["TauM"] / p["C"]) + p["Vrest"]
    ln_e = -dt / p["TauM"]
    if a <= p["Vthresh"]:
        return [], None

    def steps_to_cross(v_start):
        k_real = math.log((a - p["Vthresh"]) / (a - v_start)) / ln_e
        return max(1, math.ceil(k_real)), k_real

    f = _dtype(precision)
    r, m = f(tau_refrac), 0
    while r > f(0.0):
        r = f(r - f(dt))
        m += 1
    k0, k0_real = steps_to_cross(v0)
    k, k_real = steps_to_cross(p["Vreset"])
    margin = min(abs(k0_real - round(k0_real)), abs(k_real - round(k_real)))
    steps, s = [], k0 - 1
    while s < n_steps:
        steps.append(s)
        s += m + k
    return steps, margin


def lif_iterate(amp, ioffset, tau_refrac, v0, dt, n_steps, precision):
    """Operation-by-operation shadow of GeNN's LIF (§12) in the model's precision."""
    f = _dtype(precision)
    p = LIF_BASE
    exp_tc, r_m = f(math.exp(-dt / p["TauM"])), f(p["TauM"] / p["C"])
    V, refrac = f(v0), f(0.0)
    vs, spikes = np.empty(n_steps, f), []
    for n in range(n_steps):
        isyn = f(0.0) + f(amp)
        if refrac <= f(0.0):
            alpha = ((isyn + f(ioffset)) * r_m) + f(p["Vrest"])
            V = alpha - exp_tc * (alpha - V)
        else:
            refrac = refrac - f(dt)
        if refrac <= f(0.0) and V >= f(p["Vthresh"]):
            spikes.append(n)
            V, refrac = f(p["Vreset"]), f(tau_refrac)
        vs[n] = V
    return vs, spikes


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("dt", [1.0, 0.5, 0.25, 0.2, 0.125, 0.1])
def test_lif_dc_spike_steps_closed_form(dt, precision):
    n_steps = int(round(LIF_T_MS / dt))
    model = GeNNModel(precision, "lif_dc")
    model.dt = dt
    pops = []
    for c, (amp, ioffset, tref) in enumerate(LIF_CASES):
        pop = model.add_neuron_population(f"lif{c}", len(LIF_V0), "LIF",
                                          {**LIF_BASE, "Ioffset": ioffset, "TauRefrac": tref},
                                          {"V": LIF_V0, "RefracTime": 0.0})
        model.add_current_source(f"dc{c}", "DC", pop, {"amp": amp})
        pop.spike_recording_enabled = True
        pops.append(pop)
    model.build()
    model.load(num_recording_timesteps=n_steps)
    v_trace = np.empty((len(pops), n_steps, len(LIF_V0)))
    for n in range(n_steps):
        model.step_time()
        for c, pop in enumerate(pops):
            pop.vars["V"].pull_from_device()
            v_trace[c, n] = pop.vars["V"].values
    model.pull_recording_buffers_from_device()

    n_spiking = 0
    for c, (amp, ioffset, tref) in enumerate(LIF_CASES):
        times, ids = pops[c].spike_recording_data[0]
        for i, v0 in enumerate(LIF_V0):
            what = f"amp={amp}, Ioffset={ioffset}, TauRefrac={tref}, V0={v0}, dt={dt}, {precision}"
            got = np.round(np.asarray(times)[np.asarray(ids) == i] / dt).astype(np.int64)
            # 1. operation-by-operation shadow: identical spikes and bitwise identical V
            vs, it_steps = lif_iterate(amp, ioffset, tref, v0, dt, n_steps, precision)
            np.testing.assert_array_equal(got, it_steps, err_msg=f"spike steps vs discrete map ({what})")
            np.testing.assert_array_equal(v_trace[c, :, i].astype(_dtype(precision)), vs,
                                          err_msg=f"V trajectory vs discrete map ({what})")
            # recorded times are the time at the start of the crossing step (§12)
            np.testing.assert_array_equal(np.asarray(times)[np.asarray(ids) == i], np.array(it_steps) * dt)
            # 2. closed form (float64 only: in float32 the rounding of ExpTC and V, accumulated over
            #    up to TauM/dt steps, is larger than the design margin of some threshold crossings)
            if precision == "double":
                cf_steps, margin = lif_closed_form_spike_steps(amp, ioffset, tref, v0, dt, n_steps, precision)
                if margin is not None:
                    assert margin > 1e-3, f"test design: crossing too close to a step boundary ({what})"
                np.testing.assert_array_equal(got, cf_steps, err_msg=f"spike steps vs closed form ({what})")
            n_spiking += len(got) > 0
    assert n_spiking == 2 * (len(LIF_CASES) - 1)      # every suprathreshold case spiked, the other did not


def test_lif_dc_voltage_closed_form_float64():
    """Between spikes V_k = a - ExpTC^k (a - V_0) to rounding (horizon <= TauM/dt steps)."""
    dt, amp = 0.1, 0.3                                   # subthreshold: a = -53 mV, never spikes
    model = GeNNModel("double", "lif_dc_v")
    model.dt = dt
    pop = model.add_neuron_population("lif", 3, "LIF", LIF_BASE, {"V": np.array([-70.0, -60.0, -50.5]),
                                                                   "RefracTime": 0.0})
    model.add_current_source("dc", "DC", pop, {"amp": amp})
    model.build()
    model.load()
    a = amp * LIF_BASE["TauM"] / LIF_BASE["C"] + LIF_BASE["Vrest"]
    e = math.exp(-dt / LIF_BASE["TauM"])
    v0 = pop.vars["V"].values.copy()
    for k in range(1, 1001):
        model.step_time()
        pop.vars["V"].pull_from_device()
        expected = a - e ** k * (a - v0)
        # rounding of each step is contracted by ExpTC: total error <= ~4 eps |a| TauM/dt
        np.testing.assert_allclose(pop.vars["V"].values, expected, rtol=1e-12, atol=0)


# ============================================================================ ExpCurr / DeltaCurr

SPIKE_TIME = 1.05        # ms, half-way between steps: emitted in step 11 at dt = 0.1
WEIGHTS = np.array([0.5, 1.0, -2.0])


@pytest.mark.parametrize("precision", PRECISIONS)
def test_expcurr_and_deltacurr_after_one_spike(precision):
    dt, tau, n_steps = 0.1, 5.0, 600
    f = _dtype(precision)
    model = GeNNModel(precision, "psm_impulse")
    model.dt = dt
    src = model.add_neuron_population("src", 1, "SpikeSourceArray", {}, {"startSpike": 0, "endSpike": 1})
    src.extra_global_params["spikeTimes"].set_init_values(np.array([SPIKE_TIME]))
    src.spike_recording_enabled = True
    probes = {}
    for psm, params in (("ExpCurr", {"tau": tau}), ("DeltaCurr", {})):
        probe = model.add_neuron_population(f"probe_{psm}", WEIGHTS.size, integrator_model, {},
                                            {"Iin": 0.0, "Q": 0.0})
        model.add_synapse_population(f"syn_{psm}", "DENSE", src, probe,
                                     init_weight_update("StaticPulse", {}, {"g": WEIGHTS}),
                                     init_postsynaptic(psm, params))
        probes[psm] = probe
    model.build()
    model.load(num_recording_timesteps=n_steps)
    cur = {k: np.empty((n_steps, WEIGHTS.size)) for k in probes}
    for n in range(n_steps):
        model.step_time()
        for k, p in probes.items():
            p.vars["Iin"].pull_from_device()
            cur[k][n] = p.vars["Iin"].values
    model.pull_recording_buffers_from_device()
    times, _ = src.spike_recording_data[0]
    s = int(math.ceil(SPIKE_TIME / dt))
    np.testing.assert_array_equal(times, [s * dt])

    # ---- ExpCurr: inSyn = w expDecay^k, injected current init * inSyn from step s+1 on
    exp_decay, init = math.exp(-dt / tau), tau * (1.0 - math.exp(-dt / tau)) / dt
    k = np.arange(n_steps) - (s + 1)
    closed = np.where(k[:, None] >= 0, init * WEIGHTS[None, :] * exp_decay ** np.maximum(k, 0)[:, None], 0.0)
    # operation-by-operation shadow in the model precision: bitwise
    shadow = np.zeros((n_steps, WEIGHTS.size), f)
    in_syn = np.zeros(WEIGHTS.size, f)
    for n in range(n_steps):
        if n == s + 1:
            in_syn = in_syn + WEIGHTS.astype(f)
        shadow[n] = f(0.0) + f(init) * in_syn
        in_syn = in_syn * f(exp_decay)
    np.testing.assert_array_equal(cur["ExpCurr"].astype(f), shadow)
    # closed form: float64 to 1e-12 (k*eps growth, k <= 600); float32 min(2*k*eps32, 1e-4) (the
    # rounded expDecay is raised to the k-th power: relative error k*eps32; cap keeps it meaningful)
    rtol = 1e-12 if precision == "double" else min(2 * n_steps * _eps("float"), 1e-4)
    np.testing.assert_allclose(cur["ExpCurr"], closed, rtol=rtol, atol=0)
    # unit charge: sum_k init w expDecay^k dt = w tau (1 - expDecay^K)
    probes["ExpCurr"].vars["Q"].pull_from_device()
    K = n_steps - (s + 1)
    np.testing.assert_allclose(probes["ExpCurr"].vars["Q"].values, WEIGHTS * tau * (1 - exp_decay ** K),
                               rtol=1e-12 if precision == "double" else 1e-5)

    # ---- DeltaCurr: the whole weight in step s+1 only
    expected = np.zeros((n_steps, WEIGHTS.size))
    expected[s + 1] = WEIGHTS
    np.testing.assert_array_equal(cur["DeltaCurr"], expected.astype(f))
    probes["DeltaCurr"].vars["Q"].pull_from_device()
    np.testing.assert_array_equal(probes["DeltaCurr"].vars["Q"].values, (WEIGHTS.astype(f) * f(dt)))


def test_spike_source_array_emits_at_most_one_spike_per_step():
    """Threshold t >= spikeTimes[startSpike], reset startSpike++ (§12): a burst is spread over steps."""
    dt = 0.1
    model = GeNNModel("double", "ssa_burst")
    model.dt = dt
    times = np.array([0.45, 0.47, 0.49, 3.05, 3.05, 7.0 + 0.05])   # neuron 0: 3 spikes in one step, then 1
    ssa = model.add_neuron_population("ssa", 2, "SpikeSourceArray", {},
                                      {"startSpike": np.array([0, 4]), "endSpike": np.array([4, 6])})
    ssa.extra_global_params["spikeTimes"].set_init_values(times)
    ssa.spike_recording_enabled = True
    model.build()
    model.load(num_recording_timesteps=100)
    model.run(100)
    model.pull_recording_buffers_from_device()
    t, i = ssa.spike_recording_data[0]
    steps = np.round(np.asarray(t) / dt).astype(int)
    got = sorted(zip(steps.tolist(), np.asarray(i).tolist()))
    # neuron 0: 0.45, 0.47, 0.49 -> steps 5, 6, 7; 3.05 -> 31.  neuron 1: 3.05 -> 31, 7.05 -> 71
    assert got == [(5, 0), (6, 0), (7, 0), (31, 0), (31, 1), (71, 1)]


# ============================================================================ Poisson statistics

@pytest.mark.flaky
def test_poisson_rate_statistics():
    """Poisson(20 Hz): counts ~ Poisson(N rate T), Fano ~ 1, exponential ISIs (4 sigma / KS alpha=1e-4).

    Few neurons over a long window (400 spikes each), so that the window truncation (gaps that fit
    in a finite window are shorter on average, by ~1/spikes per neuron) stays far below the 4 sigma
    bounds.
    """
    n, rate, dt, t_ms = 100, 20.0, 0.1, 20000.0
    n_steps = int(round(t_ms / dt))
    model = GeNNModel("double", "poisson_stats")
    model.dt = dt
    model.seed = 20240611
    pop = model.add_neuron_population("poi", n, "Poisson", {"rate": rate}, {"timeStepToSpike": 0.0})
    pop.spike_recording_enabled = True
    model.build()
    model.load(num_recording_timesteps=n_steps)
    model.run(n_steps)
    model.pull_recording_buffers_from_device()
    times, ids = pop.spike_recording_data[0]
    times, ids = np.asarray(times), np.asarray(ids)

    expected = n * rate * t_ms / 1000.0
    assert abs(times.size - expected) < 4 * math.sqrt(expected), (times.size, expected)
    counts = np.bincount(ids, minlength=n)
    fano = counts.var(ddof=1) / counts.mean()
    assert abs(fano - 1.0) < 4 * math.sqrt(2.0 / (n - 1)), fano

    isis = []
    for i in range(n):
        ti = np.sort(times[ids == i])
        isis.append(np.diff(ti))
    isis = np.concatenate(isis)
    mean_isi = 1000.0 / rate
    assert abs(isis.mean() - mean_isi) < 4 * mean_isi / math.sqrt(isis.size), isis.mean()
    cv = isis.std() / isis.mean()
    assert abs(cv - 1.0) < 0.05, cv
    assert isis.min() >= dt - 1e-9                       # at most one spike per step
    # KS against the exponential; the dt lattice shifts the CDF by <= dt / mean_isi = 0.002
    d, p = stats.kstest(isis, "expon", args=(0.0, mean_isi))
    assert p > 1e-4, (d, p)


# ============================================================================ leaky integrator dt sweep

leaky_model = create_neuron_model(
    "leaky_integrator",
    params=["tau"],
    vars=[("x", "scalar")],
    sim_code="x += (dt / tau) * (Isyn - x);")


@pytest.mark.parametrize("precision", PRECISIONS)
def test_leaky_integrator_euler_closed_form_dt_sweep(precision):
    """x_k = x_inf (1 - (1 - dt/tau)^k) for dt = 2^0 ... 2^-6 ms (exactly representable)."""
    tau, x_inf, t_ms = 8.0, 3.0, 24.0
    f = _dtype(precision)
    eps = _eps(precision)
    for e in range(0, 7):
        dt = 2.0 ** -e
        n_steps = int(t_ms / dt)
        model = GeNNModel(precision, "leaky_sweep")
        model.dt = dt
        pop = model.add_neuron_population("leaky", 1, leaky_model, {"tau": tau}, {"x": 0.0})
        model.add_current_source("drive", "DC", pop, {"amp": x_inf})
        model.build()
        model.load()
        xs = np.empty(n_steps)
        for n in range(n_steps):
            model.step_time()
            pop.vars["x"].pull_from_device()
            xs[n] = pop.vars["x"].values[0]
        k = np.arange(1, n_steps + 1)
        closed = x_inf * (1.0 - (1.0 - dt / tau) ** k)
        # horizon-dependent tolerance: each step rounds by ~2 eps |x|, contracted by (1 - dt/tau), so the
        # error after k steps is <= ~4 eps x_inf min(k, tau/dt). float32 is additionally capped at 1e-3
        # (the worst case here is 4 * 512 * eps32 = 2.4e-4) so the bound stays meaningful.
        tol = 4.0 * eps * x_inf * np.minimum(k, tau / dt) + eps * x_inf
        if precision == "float":
            tol = np.minimum(tol, 1e-3 * x_inf)
        err = np.abs(xs - closed)
        assert np.all(err <= tol), (f"dt=2^-{e}: worst error {err.max():.3e} at step {np.argmax(err - tol) + 1}, "
                                    f"tolerance there {tol[np.argmax(err - tol)]:.3e}")
        # and bitwise equal to the explicit Euler iteration in the model precision
        x, ref = f(0.0), np.empty(n_steps, f)
        for n in range(n_steps):
            x = x + (f(dt) / f(tau)) * ((f(0.0) + f(x_inf)) - x)
            ref[n] = x
        np.testing.assert_array_equal(xs.astype(f), ref, err_msg=f"dt=2^-{e}")
