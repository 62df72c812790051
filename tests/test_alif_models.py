"""Generated LIF / ALIF / readout / e-prop models (genn_models.alif) against the NumPy shadow
networks.snn_gradients (spec alif_eprop_mdgl.md, AL-T1, AL-T5, AL-T7).

* AL-T1: single LIF / ALIF neurons under constant input, both scalings and both refractory
  conventions: the generated forward pass equals ``snn_gradients.forward`` (spike steps identical,
  floats to 1e-12), plus the closed forms of the spec (voltage before the first spike, threshold
  jump after it, refractory gap).
* Recurrent network (5 Poisson-count inputs, 4 LIF + 4 ALIF, 2 readouts, T = 120, batch 3):
  spikes, V, A, Psi and the readout y recorded every step equal ``forward``.
* AL-T5: the online DeltaG of the generated e-prop synapses (input, recurrent, readout weights
  and readout bias) after T + FLUSH_STEPS steps equals ``snn_gradients.eprop_gradients`` with the
  partial learning signal (symmetric and random feedback) to 1e-12 relative (float64) and 1e-5
  (float32).
* AL-T7: the REDUCE_BATCH_SUM of DeltaG over a batch of 3 equals the sum of three batch-1 runs.

Two layouts are covered: ``split`` (separate LIF and ALIF populations, mlGeNN style: 2 input, 4
recurrent and 2 readout synapse groups) and ``mixed`` (one population with a per-neuron ``Beta``
variable).
"""
import time

import numpy as np
import pytest

from genn_models import alif
from networks import snn_gradients as sg
from neurogen import GeNNModel, create_var_ref, create_wu_var_ref, init_postsynaptic, init_weight_update

N_IN, N_LIF, N_ALIF, N_OUT = 5, 4, 4, 2
N_REC = N_LIF + N_ALIF
T = 120
BATCH = 3


# ============================================================================ helpers

def zeros_for(model, kind):
    return {v.name: 0 if v.type == "int" else 0.0 for v in getattr(model, kind)}


def rel_err(a, b):
    """max |a - b| / max |b| (norm-wise relative error)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.max(np.abs(b))
    assert scale > 0, "test design: reference must be non-zero"
    return float(np.max(np.abs(a - b)) / scale)


def batched(values, B):
    """Recorded (rows, [B,] n) -> (rows, B, n)."""
    values = np.asarray(values)
    return values[:, None, :] if B == 1 else values


def network_params(lsnn, refractory):
    beta = np.r_[np.zeros(N_LIF), np.full(N_ALIF, 0.07)]
    rho = np.exp(-1.0 / 500.0)
    return sg.ALIFParams(N_IN, N_REC, N_OUT, tau_m=20.0, tau_a=500.0, tau_out=20.0, v_th=0.62,
                         beta=beta / (1.0 - rho) if lsnn else beta, gamma=0.3, n_ref=3,
                         refractory=refractory, lsnn_scaling=lsnn)


def network_data(p, seed, B=BATCH, steps=T):
    rng = np.random.default_rng(seed)
    sc = 1.0 / (1.0 - p.alpha) if p.lsnn_scaling else 1.0
    W_in = rng.normal(0.25, 0.3, (N_REC, N_IN)) * sc
    W_rec = rng.normal(0.0, 0.3, (N_REC, N_REC)) * sc
    np.fill_diagonal(W_rec, 0.0)
    W_out = rng.normal(0.0, 1.0, (N_OUT, N_REC))
    b_out = rng.normal(0.0, 0.1, N_OUT)
    B_fb = rng.normal(0.0, 1.0, (N_REC, N_OUT))
    x = rng.poisson(0.1, (B, steps, N_IN)).astype(np.float64)
    tt = np.arange(steps)
    target = np.stack([np.sin(2 * np.pi * tt / 60.0 + ph) for ph in (0.0, 1.0)], axis=1)
    target = np.broadcast_to(target, (B, steps, N_OUT)) + rng.normal(0, 0.1, (B, steps, N_OUT))
    return dict(W_in=W_in, W_rec=W_rec, W_out=W_out, b_out=b_out, B_fb=B_fb, x=x, target=target)


class Net:
    """The generated network of one configuration, built once; ``run`` simulates one batch."""

    def __init__(self, p, d, *, layout="split", feedback="symmetric", trace="bellec", transmission="continuous",
                 precision="double", B=BATCH, steps=T, error_scale=1.0, name="alifnet"):
        self.p, self.B, self.steps = p, B, steps
        beta = p.beta
        m = GeNNModel(precision, name)
        m.dt = p.dt
        m.batch_size = B
        self.model = m
        lsnn, refr = bool(p.lsnn_scaling), p.refractory
        if layout == "split":
            lif_idx, alif_idx = np.flatnonzero(beta == 0), np.flatnonzero(beta != 0)
            assert np.ptp(beta[alif_idx]) == 0, "split layout: one beta per population"
            groups = [("lif", lif_idx, False), ("alif", alif_idx, True)]
        else:
            groups = [("rec", np.arange(p.n_rec), True)]
        self.groups = groups
        inp = m.add_neuron_population("inp", p.n_in, alif.input_neuron(), {}, {"X": 0.0})
        inp.stream_var("X")
        out = m.add_neuron_population(
            "out", p.n_out, alif.readout_neuron(),
            {"tau_out": p.tau_out, "error_scale": error_scale, "error_start": 0, "error_end": steps},
            {"Y": 0.0, "E": 0.0, "Target": 0.0, "Step": 0, "Bias": d["b_out"], "DeltaBias": 0.0, "BFilter": 0.0})
        out.stream_var("Target")
        out.record_var("Y")
        self.inp, self.out = inp, out
        self.pops = {}
        for gname, idx, adaptive in groups:
            mixed = layout == "mixed"
            nm = alif.alif_neuron(adaptive=adaptive, lsnn_scaling=lsnn, refractory=refr, beta_var=mixed)
            params = {"tau_m": p.tau_m, "v_th": p.v_th, "gamma": p.gamma, "n_ref": p.n_ref}
            vals = zeros_for(nm, "vars")
            if adaptive:
                params["tau_a"] = p.tau_a
                if mixed:
                    vals["Beta"] = beta[idx]
                else:
                    params["beta"] = float(beta[idx[0]])
            pop = m.add_neuron_population(gname, len(idx), nm, params, vals)
            pop.spike_recording_enabled = True
            for v in ("V", "Z", "Psi") + (("A",) if adaptive else ()):
                pop.record_var(v)
            self.pops[gname] = pop
        self.syn = {}

        def wu_params(adaptive, idx_post):
            prm = {"tau_m": p.tau_m, "tau_out": p.tau_out}
            if adaptive:
                prm["tau_a"] = p.tau_a
                if layout == "split":
                    prm["beta"] = float(beta[idx_post[0]])
            if trace == "lsnn":
                prm["v_th"] = p.v_th
            return prm

        def post_refs(adaptive):
            r = {"Psi_post": "Psi", "L_post": "L"}
            if layout == "mixed":
                r["Beta_post"] = "Beta"
            return r

        for gname, idx, adaptive in groups:
            post = self.pops[gname]
            wu = alif.eprop_synapse("input", adaptive=adaptive, beta_var=layout == "mixed", trace=trace,
                                    lsnn_scaling=lsnn)
            vals = zeros_for(wu, "vars")
            vals["g"] = d["W_in"][idx].T.ravel()
            self.syn["in", gname] = m.add_synapse_population(
                f"inp_{gname}", "DENSE", inp, post,
                init_weight_update(wu, wu_params(adaptive, idx), vals, zeros_for(wu, "pre_vars"),
                                   zeros_for(wu, "post_vars"), {"X_pre": "X"}, post_refs(adaptive)),
                init_postsynaptic("DeltaCurr"))
            for sname, sidx, _ in groups:
                wu = alif.eprop_synapse("recurrent", adaptive=adaptive, beta_var=layout == "mixed", trace=trace,
                                        lsnn_scaling=lsnn, transmission=transmission, no_autapse=sname == gname)
                vals = zeros_for(wu, "vars")
                vals["g"] = d["W_rec"][np.ix_(idx, sidx)].T.ravel()
                self.syn[sname, gname] = m.add_synapse_population(
                    f"{sname}_{gname}", "DENSE", self.pops[sname], post,
                    init_weight_update(wu, wu_params(adaptive, idx), vals, zeros_for(wu, "pre_vars"),
                                       zeros_for(wu, "post_vars"), {"Z_pre": "Z"}, post_refs(adaptive)),
                    init_postsynaptic("DeltaCurr"))
            wu = alif.readout_synapse(feedback=feedback == "symmetric", transmission=transmission)
            vals = zeros_for(wu, "vars")
            vals["g"] = d["W_out"][:, idx].T.ravel()
            s = m.add_synapse_population(
                f"{gname}_out", "DENSE", post, out,
                init_weight_update(wu, {"tau_out": p.tau_out}, vals, zeros_for(wu, "pre_vars"), {},
                                   {"Z_pre": "Z"}, {"E_post": "E"}),
                init_postsynaptic("DeltaCurr"))
            s.pre_target_var = "ISynFeedback"
            self.syn[gname, "out"] = s
            if feedback != "symmetric":
                fb = m.add_synapse_population(
                    f"out_{gname}_fb", "DENSE", out, post,
                    init_weight_update(alif.feedback_synapse(), {}, {"g": d["B_fb"][idx].T.ravel()},
                                       pre_var_refs={"E_pre": "E"}),
                    init_postsynaptic("DeltaCurr"))
                fb.post_target_var = "ISynFeedback"
        # batch sums of every gradient (AL-T7)
        self.reduce = {}
        for key, s in self.syn.items():
            self.reduce[key] = m.add_custom_update(f"sum_{s.name}", "Reduce", alif.batch_reduce(), {},
                                                   {"Sum": 0.0}, {"DeltaG": create_wu_var_ref(s, "DeltaG")})
        self.reduce["bias"] = m.add_custom_update("sum_bias", "Reduce", alif.batch_reduce(), {}, {"Sum": 0.0},
                                                  {"DeltaG": create_var_ref(out, "DeltaBias")})
        m.build()
        self.loaded = False

    def run(self, x, target):
        """Load (fresh state), stream one batch, run T + FLUSH_STEPS steps; return recordings and the
        per-batch gradients (B, post, pre) in the W_ji convention."""
        m, p, B, steps = self.model, self.p, self.B, self.steps
        n_steps = steps + alif.FLUSH_STEPS
        if self.loaded:
            m.unload()
        m.load(num_recording_timesteps=n_steps)
        self.loaded = True
        xs = np.concatenate([x, np.zeros((B, alif.FLUSH_STEPS, p.n_in))], axis=1).transpose(1, 0, 2)
        self.inp.set_stream("X", xs if B > 1 else xs[:, 0])
        ts = np.ascontiguousarray(np.asarray(target).transpose(1, 0, 2))
        self.out.set_stream("Target", ts if B > 1 else ts[:, 0], start_timestep=1)
        t0 = time.perf_counter()
        m.run(n_steps)
        self.run_time = time.perf_counter() - t0
        m.pull_recording_buffers_from_device()
        rec = {k: np.zeros((B, steps, p.n_rec)) for k in ("V", "Z", "Psi", "A")}
        for gname, idx, adaptive in self.groups:
            pop = self.pops[gname]
            for k in ("V", "Z", "Psi") + (("A",) if adaptive else ()):
                rec[k][:, :, idx] = batched(pop.var_recording_data(k)[1], B)[:steps].transpose(1, 0, 2)
        rec["y"] = batched(self.out.var_recording_data("Y")[1], B)[alif.READOUT_LAG:steps + alif.READOUT_LAG] \
            .transpose(1, 0, 2)
        grads = {"W_in": np.zeros((B, p.n_rec, p.n_in)), "W_rec": np.zeros((B, p.n_rec, p.n_rec)),
                 "W_out": np.zeros((B, p.n_out, p.n_rec))}
        idx_of = {g: i for g, i, _ in self.groups}
        idx_of["in"], idx_of["out"] = np.arange(p.n_in), np.arange(p.n_out)
        for (src, trg), s in self.syn.items():
            s.vars["DeltaG"].pull_from_device()
            dg = np.asarray(s.vars["DeltaG"].values, dtype=np.float64)
            dg = dg.reshape(B, len(idx_of[src]), len(idx_of[trg])).transpose(0, 2, 1)
            key = "W_in" if src == "in" else ("W_out" if trg == "out" else "W_rec")
            grads[key][np.ix_(np.arange(B), idx_of[trg], idx_of[src])] = dg
        self.out.vars["DeltaBias"].pull_from_device()
        grads["b_out"] = np.asarray(self.out.vars["DeltaBias"].values, dtype=np.float64).reshape(B, p.n_out)
        return rec, grads

    def reduced(self):
        """Run the REDUCE_BATCH_SUM custom updates; batch-summed gradients (W_ji convention)."""
        p = self.p
        self.model.custom_update("Reduce")
        out = {"W_in": np.zeros((p.n_rec, p.n_in)), "W_rec": np.zeros((p.n_rec, p.n_rec)),
               "W_out": np.zeros((p.n_out, p.n_rec))}
        idx_of = {g: i for g, i, _ in self.groups}
        idx_of["in"], idx_of["out"] = np.arange(p.n_in), np.arange(p.n_out)
        for (src, trg), s in self.syn.items():
            cu = self.reduce[src, trg]
            cu.vars["Sum"].pull_from_device()
            v = np.asarray(cu.vars["Sum"].values, dtype=np.float64).reshape(len(idx_of[src]), len(idx_of[trg])).T
            key = "W_in" if src == "in" else ("W_out" if trg == "out" else "W_rec")
            out[key][np.ix_(idx_of[trg], idx_of[src])] = v
        self.reduce["bias"].vars["Sum"].pull_from_device()
        out["b_out"] = np.asarray(self.reduce["bias"].vars["Sum"].values, dtype=np.float64).reshape(p.n_out)
        return out


def shadow(p, d, feedback, trace, error_scale=1.0, x=None, target=None):
    x = d["x"] if x is None else x
    target = d["target"] if target is None else target
    traj = sg.forward(p, d["W_in"], d["W_rec"], d["W_out"], d["b_out"], x)
    _, dE_dy = sg.mse_loss(traj.y, target, reduction="sum")
    dE_dy = error_scale * dE_dy
    G = sg.eprop_gradients(traj, dE_dy, learning_signal="partial",
                           feedback="symmetric" if feedback == "symmetric" else d["B_fb"], trace=trace)
    return traj, G


def check_forward(rec, traj, tol=1e-12):
    assert traj.z.sum() > 20, "test design: the network should spike"
    np.testing.assert_array_equal(rec["Z"], traj.z, err_msg="spikes differ")
    for k, ref in (("V", traj.v), ("Psi", traj.psi), ("y", traj.y)):
        np.testing.assert_allclose(rec[k], ref, rtol=tol, atol=tol * max(1.0, np.max(np.abs(ref))), err_msg=k)
    alif_cols = traj.params.beta != 0
    np.testing.assert_allclose(rec["A"][:, :, alif_cols], traj.a[:, :, alif_cols], rtol=tol, atol=tol, err_msg="A")


def check_grads(grads, G, tol):
    for k in ("W_in", "W_rec", "W_out", "b_out"):
        e = rel_err(grads[k], getattr(G, k))
        assert e <= tol, f"{k}: relative error {e:.3g} > {tol:g}"


# ============================================================================ AL-T1

T1_STEPS = 300
T1_INPUTS = np.array([0.045, 0.08, 0.2])          # Bellec-form input per step (LSNN: / (1 - alpha))


@pytest.fixture(scope="module")
def single_neurons():
    """One model with a population of three neurons (three constant inputs) per variant."""
    variants = [(adaptive, lsnn, refr) for adaptive in (False, True) for lsnn in (False, True)
                for refr in ("eprop", "lsnn")]
    m = GeNNModel("double", "alif_t1")
    m.dt = 1.0
    pops = {}
    for adaptive, lsnn, refr in variants:
        p = sg.ALIFParams(1, 1, 1, tau_m=20.0, tau_a=50.0, v_th=0.6, beta=0.2 if adaptive else 0.0,
                          n_ref=3, refractory=refr, lsnn_scaling=lsnn)
        if lsnn:
            p = sg.ALIFParams(1, 1, 1, tau_m=20.0, tau_a=50.0, v_th=0.6,
                              beta=0.2 / (1 - p.rho) if adaptive else 0.0, n_ref=3, refractory=refr,
                              lsnn_scaling=True)
        I = T1_INPUTS / p.s_in
        name = f"n{int(adaptive)}{int(lsnn)}{refr}"
        nm = alif.alif_neuron(adaptive=adaptive, lsnn_scaling=lsnn, refractory=refr)
        params = {"tau_m": p.tau_m, "v_th": p.v_th, "gamma": p.gamma, "n_ref": p.n_ref}
        if adaptive:
            params.update(tau_a=p.tau_a, beta=float(p.beta[0]))
        pop = m.add_neuron_population(name, 3, nm, params, zeros_for(nm, "vars"))
        src = m.add_neuron_population(f"{name}_in", 3, alif.input_neuron(), {}, {"X": I})
        m.add_synapse_population(f"{name}_syn", "DENSE", src, pop,
                                 init_weight_update(alif.feedback_synapse(), {}, {"g": np.eye(3).ravel()},
                                                    pre_var_refs={"E_pre": "X"}),
                                 init_postsynaptic("DeltaCurr"))
        for v in ("V", "Z", "Psi") + (("A",) if adaptive else ()):
            pop.record_var(v)
        pop.record_var("RefracCount")
        pops[adaptive, lsnn, refr] = (pop, p, I)
    m.build()
    m.load(num_recording_timesteps=T1_STEPS)
    m.run(T1_STEPS)
    m.pull_recording_buffers_from_device()
    return pops


@pytest.mark.parametrize("refr", ["eprop", "lsnn"])
@pytest.mark.parametrize("lsnn", [False, True], ids=["bellec", "lsnn_scaling"])
@pytest.mark.parametrize("adaptive", [False, True], ids=["LIF", "ALIF"])
def test_al_t1_single_neuron(single_neurons, adaptive, lsnn, refr):
    pop, p, I = single_neurons[adaptive, lsnn, refr]
    for k, amp in enumerate(I):
        traj = sg.forward(p, [[amp]], [[0.0]], [[0.0]], [0.0], np.ones((1, T1_STEPS, 1)))
        z = pop.var_recording_data("Z")[1][:, k]
        np.testing.assert_array_equal(z, traj.z[0, :, 0], err_msg=f"input {amp}: spike steps")
        for v, ref in (("V", traj.v), ("Psi", traj.psi)) + ((("A", traj.a),) if adaptive else ()):
            np.testing.assert_allclose(pop.var_recording_data(v)[1][:, k], ref[0, :, 0], rtol=1e-12, atol=1e-13,
                                       err_msg=f"input {amp}: {v}")
        spikes = np.flatnonzero(z)
        assert len(spikes) >= 2, "test design: every input should drive at least two spikes"
        # closed forms (spec AL-T1): v_t = s_in I (1 - alpha^(t+1)) / (1 - alpha) until the first spike
        t = np.arange(spikes[0] + 1)
        v = pop.var_recording_data("V")[1][:, k]
        v_closed = p.s_in * amp * (1 - p.alpha ** (t + 1)) / (1 - p.alpha)
        np.testing.assert_allclose(v[t], v_closed, rtol=1e-12)
        assert v_closed[-1] > p.v_th and (len(t) == 1 or v_closed[-2] <= p.v_th)
        # reset subtracts exactly v_th one step later
        t1 = spikes[0] + 1
        assert abs(v[t1] - (p.alpha * v[t1 - 1] + p.s_in * amp - p.v_th)) < 1e-13
        # threshold after one spike: v_th + beta s_a, decaying by rho per step
        if adaptive:
            a = pop.var_recording_data("A")[1][:, k]
            np.testing.assert_allclose(p.v_th + p.beta[0] * a[t1], p.v_th + p.beta[0] * p.s_a, rtol=1e-14)
            if t1 + 1 < T1_STEPS and not z[t1]:
                assert abs(a[t1 + 1] - p.rho * a[t1]) < 1e-15
        # refractory gap: at least n_blocked steps between spikes, and Psi = 0 inside
        assert np.min(np.diff(spikes)) >= p.n_blocked + 1
        psi = pop.var_recording_data("Psi")[1][:, k]
        for s in spikes:
            assert np.all(psi[s + 1:s + 1 + p.n_blocked] == 0)


# ============================================================================ network: forward and AL-T5

CONFIGS = {
    # name: (lsnn_scaling, refractory, layout, feedback, trace, transmission, error_scale)
    "bellec_split_sym": (False, "eprop", "split", "symmetric", "bellec", "continuous", 1.0),
    "bellec_mixed_random": (False, "lsnn", "mixed", "random", "bellec", "spike", 1.0),
    "lsnn_split_lsnntrace_random": (True, "lsnn", "split", "random", "lsnn", "spike", 1.0 / BATCH),
    "lsnn_mixed_bellectrace_sym": (True, "eprop", "mixed", "symmetric", "bellec", "continuous", 1.0 / BATCH),
}


@pytest.mark.parametrize("config", list(CONFIGS))
def test_network_forward_and_eprop_float64(config):
    lsnn, refr, layout, feedback, trace, transmission, scale = CONFIGS[config]
    p = network_params(lsnn, refr)
    d = network_data(p, seed=11)
    net = Net(p, d, layout=layout, feedback=feedback, trace=trace, transmission=transmission,
              error_scale=scale, name=f"alif_{config}")
    rec, grads = net.run(d["x"], d["target"])
    traj, G = shadow(p, d, feedback, trace, scale)
    check_forward(rec, traj)
    assert np.count_nonzero(G.W_rec) > N_REC * (N_REC - 1) // 2
    summed = {k: v.sum(axis=0) for k, v in grads.items()}
    check_grads(summed, G, 1e-12)
    # the REDUCE_BATCH_SUM custom update gives the same sums and zeroes DeltaG
    red = net.reduced()
    for k in summed:
        assert rel_err(red[k], summed[k]) <= 1e-14, k
    for s in net.syn.values():
        s.vars["DeltaG"].pull_from_device()
        assert not np.any(s.vars["DeltaG"].values)
    # the gradients are those of the loss: a per-batch e-prop sum for each batch instance
    for b in range(BATCH):
        _, Gb = shadow(p, d, feedback, trace, scale, x=d["x"][b:b + 1], target=d["target"][b:b + 1])
        check_grads({k: v[b] for k, v in grads.items()}, Gb, 1e-12)


@pytest.mark.parametrize("config", ["bellec_split_sym", "lsnn_mixed_bellectrace_sym"])
def test_eprop_float32(config):
    lsnn, refr, layout, feedback, trace, transmission, scale = CONFIGS[config]
    p = network_params(lsnn, refr)
    d = network_data(p, seed=11)
    # the float32 model sees float32-rounded weights and inputs; the shadow uses the same values
    d32 = {k: np.asarray(v, dtype=np.float32).astype(np.float64) for k, v in d.items()}
    net = Net(p, d32, layout=layout, feedback=feedback, trace=trace, transmission=transmission,
              precision="float", error_scale=scale, name=f"alif32_{config}")
    rec, grads = net.run(d32["x"], d32["target"])
    traj, G = shadow(p, d32, feedback, trace, scale)
    np.testing.assert_array_equal(rec["Z"], traj.z, err_msg="float32 spikes differ")
    np.testing.assert_allclose(rec["V"], traj.v, rtol=1e-4, atol=1e-4)
    check_grads({k: v.sum(axis=0) for k, v in grads.items()}, G, 1e-5)


def test_al_t7_batch_invariance():
    """Batch 3 (REDUCE_BATCH_SUM) == sum of three batch-1 runs of the same trials and weights."""
    p = network_params(False, "eprop")
    d = network_data(p, seed=5)
    net3 = Net(p, d, B=3, name="alif_b3")
    net3.run(d["x"], d["target"])
    g3 = net3.reduced()
    net1 = Net(p, d, B=1, name="alif_b1")
    g1 = {k: np.zeros_like(v) for k, v in g3.items()}
    for b in range(3):
        net1.run(d["x"][b:b + 1], d["target"][b:b + 1])
        for k, v in net1.reduced().items():
            g1[k] += v
    for k in g3:
        assert np.max(np.abs(g3[k] - g1[k])) <= 1e-13 * max(1.0, np.max(np.abs(g1[k]))), k
        assert np.any(g3[k] != 0), k


# ============================================================================ timing (on demand)

@pytest.mark.slow
def test_eprop_iteration_time():
    """B = 64, N = 100 (50 LIF + 50 ALIF), 40 inputs: 200 steps, extrapolated to T = 2000."""
    global N_IN, N_LIF, N_ALIF, N_REC
    saved = N_IN, N_LIF, N_ALIF, N_REC
    try:
        N_IN, N_LIF, N_ALIF = 40, 50, 50
        N_REC = N_LIF + N_ALIF
        p = network_params(False, "eprop")
        for layout in ("split", "mixed"):
            d = network_data(p, seed=1, B=64, steps=200)
            d["W_in"] *= 0.2
            d["W_rec"] *= 0.1
            net = Net(p, d, layout=layout, B=64, steps=200, name=f"alif_bench_{layout}")
            net.run(d["x"], d["target"])
            per_step = net.run_time / (200 + alif.FLUSH_STEPS)
            print(f"\n{layout}: {per_step * 1e3:.3f} ms/step -> T=2000: {per_step * 2000:.2f} s/iteration")
    finally:
        N_IN, N_LIF, N_ALIF, N_REC = saved
