r"""Recurrent LIF/ALIF spiking network (LSNN) trained with BPTT, e-prop or MDGL on evidence
accumulation, built as one neurogen model (spec ``alif_eprop_mdgl.md``; DESIGN.md section 4).

References
----------
* G. Bellec, F. Scherr, A. Subramoney, E. Hajek, D. Salaj, R. Legenstein, W. Maass, *A solution to
  the learning dilemma for recurrent networks of spiking neurons*, Nat. Commun. 11:3625 (2020). [e-prop]
* G. Bellec, D. Salaj, A. Subramoney, R. Legenstein, W. Maass, *Long short-term memory and
  learning-to-learn in networks of spiking neurons*, NeurIPS 2018. [LSNN, ALIF, DEEP R]
* Y. H. Liu, S. Smith, S. Mihalas, E. Shea-Brown, U. Suembuel, *Cell-type-specific neuromodulation
  guides synaptic credit assignment in a spiking neural network*, PNAS 118(51):e2111821118 (2021).
  [MDGL, Dale's law, fixed 10 % adjacency, the evidence-accumulation setup of Fig. 3]

One class, :class:`RecurrentSNN`; the three learning rules are options of it (``learning_rule``),
as are the feedback (``feedback="symmetric" | "random"``), the neuron form (``lsnn_scaling``), the
refractory convention (``refractory``), Dale's law (``dale``) and the loss (``loss``). The class
takes arrays (inputs (B, T, n_in), labels (B,)); it knows nothing of files, configs or datasets.

Network (spec 2, 6; defaults are the MDGL setup)
------------------------------------------------
``n_in`` inputs (streamed spike counts) -> ``n_lif`` LIF (indices 0..n_lif-1) + ``n_alif`` ALIF
neurons in one recurrent population with a per-neuron ``Beta`` (0 for LIF) -> ``n_out`` leaky
readouts (kappa = exp(-dt/tau_out)). Equations: :mod:`genn_models.alif` / :mod:`networks.snn_gradients`
module docs (Bellec form, or the LSNN form with ``lsnn_scaling=True``). Weights are shared by the
batch (READ_ONLY), the state is per trial (GeNN 5 batching).

With ``dale=True`` (default) signs, masks and initial magnitudes come from
:func:`networks.dale.mdgl_initialise`: n_E = int(0.8 N) + 1 excitatory, inhibitory neurons first
(they must all be LIF: n_I <= n_lif), inputs signed and shuffled, W_in / W_rec / W_out sparse with
``connectivity`` / ``out_connectivity`` (10 %) drawn with replacement, balanced columns, spectral
radius 1. The adjacency never changes, so every connection is a SPARSE synapse group holding
exactly the initial adjacency. With ``dale=False`` the matrices are dense and unsigned
(N(0, 1)/sqrt(fan-in), W_out N(0, 1)/sqrt(N); autapses zero). Initial magnitudes are LSNN-form
weights; in the Bellec form (``lsnn_scaling=False``) W_in and W_rec are multiplied by (1 - alpha)
and the default beta (1.8) by (1 - rho), so both forms start as the same network (spec 2.2).

How the gradients are computed, and why
---------------------------------------
* **Forward pass** (every rule): the generated neurogen model, one trial batch per load (a fresh
  load zeroes every state variable, as genn_models.alif requires between trials), the inputs
  streamed, Z, Psi (and V, A with ``record_state``) and the readout Y recorded with ``record_var``.
  BPTT and MDGL build a forward-only model (fixed-weight synapses: ``alif.feedback_synapse`` as the
  continuous input synapse, ``StaticPulse`` for the recurrent spikes) and run it in one
  ``model.run``; e-prop builds the e-prop synapses instead (see below). The recording gives the
  :class:`networks.snn_gradients.Trajectory` every offline gradient consumes; the refractory mask
  is rebuilt exactly from the spikes (a neuron is blocked for ``n_blocked`` steps after each
  spike). Tests compare it with ``snn_gradients.forward`` on the same weights and inputs
  (identical spikes).
* **e-prop** (``learning_rule="eprop"``): the online DeltaG of the generated e-prop synapses
  (``genn_models.alif``: DeltaG = sum_t L_t e_bar_t, exact, for input, recurrent and readout
  weights and the readout bias). The generated readout only knows a regression error
  E = error_scale (Y - Target). The softmax cross-entropy error is obtained from it exactly:
  the run pauses before each step t of the error window (only the final step for the MDGL loss),
  the host computes y_t = kappa y_{t-1} + W_out z_t + b from the device state, and sets
  Target = y_t - (softmax(y_t) - onehot), so that the device's E equals (pi_t - onehot)/B up to
  rounding of y_t (~1e-16). ``error_scale`` is 1/B (final-step loss) or 1/(B n_window) (window loss).
  An e-prop trial is therefore 2 + (number of error steps) native ``model.run`` calls (3 for the
  MDGL loss) instead of one; the pauses cost microseconds on the CPU backend (no copies: views).
  A rate regulariser (``reg_c`` > 0) has a learning signal constant in time,
  L_j = 2 c (f_j - f*) / (B T dt), known only after the trial: the synapses then also sum their
  unfiltered traces (``ESum += e``) and its gradient is L_j ESum_ji, batch-summed on the host.
* **BPTT**: the manual backward pass of ``snn_gradients.bptt_gradients`` on the recorded
  trajectory, run compiled (:mod:`networks.snn_adjoint`: one C loop per batch instance, weight
  gradients accumulated only at the ~1 % non-zero inputs and spikes; the NumPy function is its
  shadow in the tests, equal to 1e-10). The spec allows BPTT on the host; an on-device reverse pass
  would need the whole trajectory stored on the device anyway.
* **MDGL**: the per-neuron adjoint of spec 4.3c (``snn_gradients.mdgl_gradients(method="adjoint")``,
  run compiled like BPTT): G_pq = sum_t (L_p,t + m_p,t) e_pq,t without any T x N^2 tensor,
  computed after the trial (the learning signal L passes through the kappa-filtered readout and
  the modulatory signal m needs a_j,t+1, so a causal on-line form is not exact). The NumPy form
  equals the materialised form of the reference code to 1e-12 (tests/test_snn_gradients.py).
* **W_out and b_out** always get the exact gradient (generated readout DeltaG / DeltaBias for
  e-prop, ``snn_gradients.readout_gradients`` inside the other two).

All gradients are dE/dW of the batch-mean loss, masked to the adjacency (W_ji, post x pre).

Optimiser and Dale's law (spec 3.6, 5)
--------------------------------------
Adam (beta1 0.9, beta2 0.999, eps 1e-8, bias-corrected) on the host in NumPy, over the theta
parametrisation w = sign theta (theta > 0, dE/dtheta = sign dE/dw) with Dale's law, followed by the
MDGL modified DEEP R step (:func:`networks.dale.deep_r_step`: theta -= lr l1, theta <= 0 -> parked at
1e-12 on its initial position, nothing outside the adjacency). Host-side is fine: it runs once per
iteration on ~2 k weights (100 x 100 x 10 % + 40 x 100 x 10 % + W_out), microseconds against a
trial batch of 64 x 2000 steps; a device Adam would only pay off per step or for large networks.
The weights are pushed into the model at the next load. Training draws no random numbers (DEEP R
temperature 0), so :meth:`RecurrentSNN.get_state` (parameters, Adam moments, iteration count) is the
whole training state and a resumed run is bit-identical to an uninterrupted one.

Cost: see benchmarks/RESULTS.md (bench_eprop.py: one iteration of each rule, B = 64, T = 2000,
N = 100, float32 and float64, 1 and 2 threads, and the peak memory of whole training runs).

Losses (spec 3.4): ``loss="final"`` softmax cross-entropy at the final step (MDGL task; prediction
argmax of y_{T-1}); ``loss="window"`` per-step cross-entropy averaged over the last ``n_window``
steps (e-prop task; prediction argmax of the window-averaged logits). Both are batch means.
Optional rate regulariser (spec 3.5): E_reg = reg_c sum_j (f_j - reg_target)^2, f in spikes/ms,
default off (the MDGL stored runs used reg_c = 0.1; the public MDGL script none).
"""
import contextlib
import math
import numbers
import time

import numpy as np

from genn_models import alif
from networks import dale as _dale
from networks import snn_adjoint
from networks import snn_gradients as sg
from neurogen import GeNNModel, init_postsynaptic, init_weight_update

try:                                   # optional: keeps NumPy's BLAS pool from spinning on busy cores
    from threadpoolctl import ThreadpoolController
except ImportError:                    # pragma: no cover - threadpoolctl ships with scikit-learn stacks
    ThreadpoolController = None
_THREADPOOLS = []                      # one controller per process (scanning the libraries costs ms)

__all__ = ["RecurrentSNN", "LEARNING_RULES", "FEEDBACK", "LOSSES"]

LEARNING_RULES = ("bptt", "eprop", "mdgl")
FEEDBACK = ("symmetric", "random")
LOSSES = ("final", "window")
_MATRICES = ("in", "rec", "out")          # dale.py names, (pre, post) layout
_W_NAMES = {"in": "W_in", "rec": "W_rec", "out": "W_out"}


def _zeros_for(model, kind):
    return {v.name: 0 if v.type == "int" else 0.0 for v in getattr(model, kind)}


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _check_choice(name, value, allowed):
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(repr(a) for a in allowed)} (got {value!r})")
    return value


def _check_positive(name, value, what="number", allow_inf=False):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and value > 0 and \
        (math.isfinite(value) or (allow_inf and value == math.inf))
    if not ok:
        raise ValueError(f"{name} must be a positive {what} (got {value!r})")
    return float(value)


def _check_count(name, value, minimum=0):
    if not _is_int(value) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum} (got {value!r})")
    return int(value)


class RecurrentSNN:
    """An LSNN (LIF + ALIF, leaky readout) on neurogen, trained with BPTT, e-prop or MDGL.

    Parameters (keywords; defaults = MDGL evidence accumulation, spec 6)
    --------------------------------------------------------------------
    n_in, n_lif, n_alif, n_out : sizes (40, 50, 50, 2); LIF neurons come first.
    learning_rule : "bptt" | "eprop" | "mdgl".
    feedback : "symmetric" (B = W_out^T) | "random" (fixed B ~ N(0, 1), (n_rec, n_out)); e-prop and
        MDGL only (BPTT uses the exact gradient).
    batch_size : trials per iteration (64); the model is built for it.
    lsnn_scaling : LSNN/MDGL neuron form (True) or Bellec form (False), spec 2.1 / 2.2.
    refractory : "lsnn" | "eprop" convention of ``n_ref`` (spec 2.3; "lsnn": n_ref blocked steps).
    n_ref : refractory steps in that convention (5).
    tau_m, tau_a, tau_out : time constants in ms (20, 2000, 20); dt : step in ms (1).
    v_th : baseline threshold (0.01); gamma : pseudo-derivative dampening (0.3).
    beta : ALIF adaptation strength in the units of the chosen form (None: 1.8 LSNN, i.e.
        1.8 (1 - rho) in the Bellec form).
    dale : Dale's law with fixed signs and fixed sparse adjacency (True); e_fraction (0.8),
        connectivity (W_in, W_rec; 0.1), out_connectivity (W_out; 0.1), out_scale (W_out
        magnitudes, default 1/sqrt(N)).
    readout_scale : parametrisation of the trained readout (1.0, or "reference"): the model's W_out
        and b_out are ``readout_scale`` times the parameters Adam and DEEP R act on. The readout
        y_t = kappa y_{t-1} + W_out z_t + b_out of this module equals the MDGL (TensorFlow) reference's
        out_t = (kappa-filtered (1 - kappa) z) @ W + b with W_out = (1 - kappa) W, b_out = (1 - kappa) b
        at the final steps (its bias has no ramp), but Adam moves every parameter by ~lr per step
        whatever its scale, so the two learn differently; "reference" (= 1 - kappa) trains W and b
        as the reference does (with the same initial parameters its logits start 20x smaller).
    loss : "final" | "window"; n_window : steps of the window loss (150).
    trace : eligibility form for e-prop / MDGL, "bellec" | "lsnn" | None (the form of the neuron).
    learning_rate (2.5e-3), adam_beta1 (0.9), adam_beta2 (0.999), adam_eps (1e-8), l1 (1e-2, DEEP R).
    reg_c (0 = off), reg_target (0.01 spikes/ms = 10 Hz): rate regulariser.
    seed : initialisation seed (weights, masks, random feedback).
    precision : "double" (default; exactness) | "float"; backend, num_threads : neurogen options.
    flush_denormals : run the simulation with subnormal numbers flushed to zero (neurogen CPU
        preference; default: on for "float", off for "double"). In float32 the eligibility traces of
        synapses whose neurons stay silent decay into the subnormal range within a trial, where
        every operation is ~100x slower: flushing made e-prop iterations ~20 % faster here.
    blas_threads : NumPy BLAS threads for the host-side gradient maths (1; None leaves the pool
        alone). One thread measured 10-15x faster for BPTT/MDGL on a loaded 2-core machine
        (OpenBLAS threads spin-wait when another process holds a core); the products are small.
    record_state : also record V and A (needed only for inspection; BPTT/MDGL need Z, Psi, Y).
    model_name : name of the generated model.
    """

    def __init__(self, n_in=40, n_lif=50, n_alif=50, n_out=2, *, learning_rule="bptt", feedback="symmetric",
                 batch_size=64, lsnn_scaling=True, refractory="lsnn", n_ref=5, tau_m=20.0, tau_a=2000.0,
                 tau_out=20.0, v_th=0.01, beta=None, gamma=0.3, dt=1.0, dale=True, e_fraction=0.8,
                 connectivity=0.1, out_connectivity=0.1, out_scale=None, readout_scale=1.0, loss="final",
                 n_window=150, trace=None,
                 learning_rate=2.5e-3, adam_beta1=0.9, adam_beta2=0.999, adam_eps=1e-8, l1=1e-2, reg_c=0.0,
                 reg_target=0.01, seed=0, precision="double", backend=None, num_threads=1, blas_threads=1,
                 flush_denormals=None, record_state=True, model_name="recurrent_snn"):
        # ---------------------------------------------------------------- validation
        self.learning_rule = _check_choice("learning_rule", learning_rule, LEARNING_RULES)
        self.feedback = _check_choice("feedback", feedback, FEEDBACK)
        if learning_rule == "bptt" and feedback != "symmetric":
            raise ValueError("feedback='random' applies to e-prop and MDGL only; BPTT computes the exact gradient "
                             "(leave feedback='symmetric')")
        self.n_in = _check_count("n_in", n_in, 1)
        self.n_lif = _check_count("n_lif", n_lif, 0)
        self.n_alif = _check_count("n_alif", n_alif, 0)
        self.n_out = _check_count("n_out", n_out, 2)
        self.n_rec = self.n_lif + self.n_alif
        if self.n_rec < 1:
            raise ValueError(f"the recurrent population is empty: n_lif + n_alif must be >= 1 "
                             f"(got n_lif={n_lif}, n_alif={n_alif})")
        self.batch_size = _check_count("batch_size", batch_size, 1)
        if not isinstance(lsnn_scaling, (bool, np.bool_)):
            raise ValueError(f"lsnn_scaling must be True or False (got {lsnn_scaling!r})")
        self.lsnn_scaling = bool(lsnn_scaling)
        self.refractory = _check_choice("refractory", refractory, sg.REFRACTORY_CONVENTIONS)
        n_ref = _check_count("n_ref", n_ref, 0)
        for name, value in (("tau_m", tau_m), ("tau_a", tau_a), ("tau_out", tau_out)):
            _check_positive(name, value, "time constant in ms (np.inf: no decay)", allow_inf=True)
        dt = _check_positive("dt", dt, "time step in ms")
        v_th = _check_positive("v_th", v_th, "threshold")
        if not isinstance(gamma, numbers.Real) or not math.isfinite(gamma) or gamma < 0:
            raise ValueError(f"gamma must be a finite number >= 0 (got {gamma!r})")
        rho = math.exp(-dt / tau_a)
        alpha = math.exp(-dt / tau_m)
        if beta is None:
            beta = 1.8 if self.lsnn_scaling else 1.8 * (1.0 - rho)
        if not isinstance(beta, numbers.Real) or isinstance(beta, bool) or not math.isfinite(beta) or beta < 0:
            raise ValueError(f"beta must be a finite number >= 0 (the ALIF adaptation strength; got {beta!r})")
        self.dale = bool(dale)
        if not isinstance(e_fraction, numbers.Real) or not 0.0 < e_fraction < 1.0:
            raise ValueError(f"e_fraction (excitatory fraction) must lie strictly between 0 and 1 "
                             f"(got {e_fraction!r})")
        for name, value in (("connectivity", connectivity), ("out_connectivity", out_connectivity)):
            if not isinstance(value, numbers.Real) or not 0.0 < value <= 1.0:
                raise ValueError(f"{name} must lie in (0, 1] (got {value!r})")
        if self.dale:
            n_e = _dale.n_excitatory(self.n_rec, e_fraction)
            n_i = self.n_rec - n_e
            if n_i < 1 or n_e < 1:
                raise ValueError(f"Dale's law needs excitatory and inhibitory recurrent neurons: e_fraction="
                                 f"{e_fraction} gives {n_e} E / {n_i} I of {self.n_rec} (n_E = int(e_fraction N) + 1)")
            if n_i > self.n_lif:
                raise ValueError(f"inhibitory neurons must be LIF (MDGL cell types): e_fraction={e_fraction} gives "
                                 f"{n_i} inhibitory neurons (indices 0..{n_i - 1}) but only n_lif={self.n_lif}")
            n_e_in = _dale.n_excitatory(self.n_in, e_fraction)
            if n_e_in == self.n_in:
                raise ValueError(f"Dale's law needs at least one inhibitory input: e_fraction={e_fraction} makes "
                                 f"all {self.n_in} inputs excitatory")
        elif learning_rule == "mdgl":
            raise ValueError("learning_rule='mdgl' needs dale=True: the modulatory signal is defined by the E/I "
                             "cell types")
        self.loss = _check_choice("loss", loss, LOSSES)
        self.n_window = _check_count("n_window", n_window, 1)
        if trace is not None:
            _check_choice("trace", trace, sg.TRACE_FORMS)
        self.lr = _check_positive("learning_rate", learning_rate)
        for name, value in (("adam_beta1", adam_beta1), ("adam_beta2", adam_beta2)):
            if not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must lie in [0, 1) (got {value!r})")
        self.adam_beta1, self.adam_beta2 = float(adam_beta1), float(adam_beta2)
        self.adam_eps = _check_positive("adam_eps", adam_eps)
        if not isinstance(l1, numbers.Real) or not math.isfinite(l1) or l1 < 0:
            raise ValueError(f"l1 must be a finite number >= 0 (got {l1!r})")
        self.l1 = float(l1)
        if not isinstance(reg_c, numbers.Real) or not math.isfinite(reg_c) or reg_c < 0:
            raise ValueError(f"reg_c (rate regulariser strength) must be a finite number >= 0 (got {reg_c!r})")
        if not isinstance(reg_target, numbers.Real) or not math.isfinite(reg_target) or reg_target < 0:
            raise ValueError(f"reg_target (target rate in spikes/ms) must be a finite number >= 0 (got {reg_target!r})")
        self.reg_c, self.reg_target = float(reg_c), float(reg_target)
        if precision not in ("float", "double"):
            raise ValueError(f"precision must be 'float' or 'double' (got {precision!r})")
        self.record_state = bool(record_state)
        if blas_threads is not None and not (_is_int(blas_threads) and blas_threads >= 1):
            raise ValueError(f"blas_threads must be a positive integer or None (got {blas_threads!r})")
        self.blas_threads = blas_threads

        beta_vec = np.r_[np.zeros(self.n_lif), np.full(self.n_alif, float(beta))]
        self.params = sg.ALIFParams(self.n_in, self.n_rec, self.n_out, tau_m=float(tau_m), tau_a=float(tau_a),
                                    tau_out=float(tau_out), v_th=v_th, beta=beta_vec, gamma=float(gamma),
                                    n_ref=n_ref, refractory=self.refractory, lsnn_scaling=self.lsnn_scaling, dt=dt)
        self.trace = self.params.default_trace if trace is None else trace
        scale = 1.0 - self.params.kappa if isinstance(readout_scale, str) and readout_scale == "reference" \
            else readout_scale
        if not (isinstance(scale, numbers.Real) and math.isfinite(scale) and scale > 0):
            raise ValueError(f"readout_scale must be a positive number or 'reference' (got {readout_scale!r})")
        self.readout_scale = float(scale)

        # ---------------------------------------------------------------- initial weights
        gen = np.random.default_rng(seed)
        scale = 1.0 if self.lsnn_scaling else 1.0 - alpha         # LSNN magnitudes -> the chosen form
        if self.dale:
            init = _dale.mdgl_initialise(self.n_in, self.n_rec, self.n_out, connectivity=connectivity,
                                        out_connectivity=out_connectivity, e_fraction=e_fraction, rng=gen,
                                        out_scale=out_scale)
            self.conn = init.connectivity
            self._masks = {k: self.conn.mask(k).copy() for k in _MATRICES}
            self._signs = {k: self.conn.sign_matrix(k) for k in _MATRICES}
            w = {"in": init.w_in * scale, "rec": init.w_rec * scale, "out": init.w_out}
            self._p = {k: _dale.theta_from_weights(w[k], self._signs[k]) for k in _MATRICES}
        else:
            self.conn = None
            rec_mask = ~np.eye(self.n_rec, dtype=bool)
            self._masks = {"in": np.ones((self.n_in, self.n_rec), bool), "rec": rec_mask,
                           "out": np.ones((self.n_rec, self.n_out), bool)}
            self._signs = None
            osc = 1.0 / math.sqrt(self.n_rec) if out_scale is None else float(out_scale)
            self._p = {"in": gen.standard_normal((self.n_in, self.n_rec)) / math.sqrt(self.n_in) * scale,
                       "rec": gen.standard_normal((self.n_rec, self.n_rec)) / math.sqrt(self.n_rec) * scale * rec_mask,
                       "out": gen.standard_normal((self.n_rec, self.n_out)) * osc}
        self._p["b_out"] = np.zeros(self.n_out)
        self.B_fb = gen.standard_normal((self.n_rec, self.n_out)) if self.feedback == "random" else None
        self._m = {k: np.zeros_like(v) for k, v in self._p.items()}
        self._v = {k: np.zeros_like(v) for k, v in self._p.items()}
        self.iteration = 0
        self._last_parked = {k: np.zeros_like(self._masks[k]) for k in _MATRICES}
        self._sparse_idx = {k: np.nonzero(self._masks[k]) for k in _MATRICES}

        # ---------------------------------------------------------------- the generated model
        self.flush_denormals = (precision == "float") if flush_denormals is None else bool(flush_denormals)
        self.num_threads = num_threads
        self._build(precision, backend, num_threads, model_name)

    # ================================================================== model construction
    @property
    def online_eprop(self):
        """True when the gradients of W_in, W_rec come from the generated online e-prop synapses."""
        return self.learning_rule == "eprop"

    def _matrix_type(self, name):
        return "SPARSE" if self.dale else "DENSE"

    def _add_synapses(self, m, name, key, src, trg, wu_init):
        sg_ = m.add_synapse_population(name, self._matrix_type(key), src, trg, wu_init, init_postsynaptic("DeltaCurr"))
        if self.dale:
            pre, post = self._sparse_idx[key]
            sg_.set_sparse_connections(pre, post)
        return sg_

    def _build(self, precision, backend, num_threads, model_name):
        p = self.params
        m = GeNNModel(precision, model_name, backend=backend, num_threads=num_threads,
                      flush_denormals=self.flush_denormals)
        m.dt = p.dt
        m.batch_size = self.batch_size
        self.model = m
        inp = m.add_neuron_population("inp", p.n_in, alif.input_neuron(), {}, {"X": 0.0})
        inp.stream_var("X")
        nm = alif.alif_neuron(adaptive=True, lsnn_scaling=p.lsnn_scaling, refractory=p.refractory, beta_var=True)
        vals = _zeros_for(nm, "vars")
        vals["Beta"] = np.array(p.beta)
        rec = m.add_neuron_population("rec", p.n_rec, nm, {"tau_m": p.tau_m, "tau_a": p.tau_a, "v_th": p.v_th,
                                                          "gamma": p.gamma, "n_ref": p.n_ref}, vals)
        for v in ("Z", "Psi") + (("V", "A") if self.record_state else ()):
            rec.record_var(v)
        error_scale = 1.0 / self.batch_size / (self.n_window if self.loss == "window" else 1)
        ro = alif.readout_neuron()
        vals = _zeros_for(ro, "vars")
        out = m.add_neuron_population("out", p.n_out, ro, {"tau_out": p.tau_out, "error_scale": error_scale,
                                                          "error_start": 0, "error_end": 0}, vals)
        out.set_param_dynamic("error_start")
        out.set_param_dynamic("error_end")
        out.record_var("Y")
        self.pops = {"inp": inp, "rec": rec, "out": out}
        self.syn = {}
        if self.online_eprop:
            wprm = {"tau_m": p.tau_m, "tau_out": p.tau_out, "tau_a": p.tau_a}
            if self.trace == "lsnn":
                wprm["v_th"] = p.v_th
            post_refs = {"Psi_post": "Psi", "L_post": "L", "Beta_post": "Beta"}
            # the rate regulariser's signal is constant in time: summed traces give its gradient
            esum = self.reg_c > 0
            wu = alif.eprop_synapse("input", adaptive=True, beta_var=True, trace=self.trace,
                                    lsnn_scaling=p.lsnn_scaling, sum_traces=esum)
            self.syn["in"] = self._add_synapses(
                m, "inp_rec", "in", inp, rec,
                init_weight_update(wu, wprm, _zeros_for(wu, "vars"), _zeros_for(wu, "pre_vars"),
                                   _zeros_for(wu, "post_vars"), {"X_pre": "X"}, post_refs))
            wu = alif.eprop_synapse("recurrent", adaptive=True, beta_var=True, trace=self.trace,
                                    lsnn_scaling=p.lsnn_scaling, transmission="spike",
                                    # the sparse (Dale) adjacency has no autapses: no per-synapse test
                                    no_autapse=not self.dale,
                                    sum_traces=esum)
            self.syn["rec"] = self._add_synapses(
                m, "rec_rec", "rec", rec, rec,
                init_weight_update(wu, wprm, _zeros_for(wu, "vars"), _zeros_for(wu, "pre_vars"),
                                   _zeros_for(wu, "post_vars"), {"Z_pre": "Z"}, post_refs))
            symmetric = self.feedback == "symmetric"
        else:
            # forward only: continuous fixed-weight input synapse, spike-driven recurrent synapse
            self.syn["in"] = self._add_synapses(
                m, "inp_rec", "in", inp, rec,
                init_weight_update(alif.feedback_synapse(), {}, {"g": 0.0}, pre_var_refs={"E_pre": "X"}))
            self.syn["rec"] = self._add_synapses(m, "rec_rec", "rec", rec, rec,
                                                 init_weight_update("StaticPulse", {}, {"g": 0.0}))
            symmetric = False
        wu = alif.readout_synapse(feedback=symmetric, transmission="spike")
        self.syn["out"] = self._add_synapses(
            m, "rec_out", "out", rec, out,
            init_weight_update(wu, {"tau_out": p.tau_out}, _zeros_for(wu, "vars"), _zeros_for(wu, "pre_vars"), {},
                               {"Z_pre": "Z"}, {"E_post": "E"}))
        if symmetric:
            self.syn["out"].pre_target_var = "ISynFeedback"
        if self.online_eprop and self.feedback == "random":
            fb = m.add_synapse_population(
                "out_rec_fb", "DENSE", out, rec,
                init_weight_update(alif.feedback_synapse(), {}, {"g": self.B_fb.T.ravel()},
                                   pre_var_refs={"E_pre": "E"}),
                init_postsynaptic("DeltaCurr"))
            fb.post_target_var = "ISynFeedback"
        m.build()

    # ================================================================== weights
    def _weights_prepost(self):
        """Current model weights in (pre, post) layout, keyed "in", "rec", "out"."""
        if self.dale:
            w = {k: _dale.weights_from_theta(self._p[k], self._signs[k]) for k in _MATRICES}
        else:
            w = {k: self._p[k].copy() for k in _MATRICES}
        w["out"] = w["out"] * self.readout_scale
        return w

    def _bias(self):
        """The model's readout bias (``readout_scale`` times the trained parameter)."""
        return self._p["b_out"] * self.readout_scale

    def get_weights(self):
        """Copies of the weights in the W_ji (post, pre) convention of :mod:`networks.snn_gradients`:
        ``W_in`` (n_rec, n_in), ``W_rec`` (n_rec, n_rec), ``W_out`` (n_out, n_rec), ``b_out`` (n_out,)."""
        w = self._weights_prepost()
        out = {_W_NAMES[k]: np.ascontiguousarray(w[k].T) for k in _MATRICES}
        out["b_out"] = self._bias()
        return out

    def set_weights(self, weights):
        """Set the weights from a dict as returned by :meth:`get_weights` (all four keys). With Dale's law
        every weight must keep its presynaptic sign and lie on the fixed adjacency (raises ValueError)."""
        w = self._check_weight_dict(weights)
        for k in _MATRICES:
            wp = w[_W_NAMES[k]].T / (self.readout_scale if k == "out" else 1.0)
            if self.dale:
                outside = (wp != 0) & ~self._masks[k]
                if outside.any():
                    raise ValueError(f"{_W_NAMES[k]} has {int(outside.sum())} non-zero weights outside the fixed "
                                     "adjacency (Dale mode keeps the initial sparse connectivity)")
                bad = (self._signs[k] * wp < 0)
                if bad.any():
                    raise ValueError(f"{_W_NAMES[k]} violates Dale's law at {int(bad.sum())} synapses (a weight has "
                                     "the opposite sign of its presynaptic neuron)")
                self._p[k] = _dale.theta_from_weights(wp, self._signs[k])
            else:
                if k == "rec" and np.any(np.diagonal(wp) != 0):
                    raise ValueError("W_rec must have a zero diagonal (autapses are removed)")
                self._p[k] = wp.copy()
        self._p["b_out"] = w["b_out"] / self.readout_scale

    def _check_weight_dict(self, weights):
        shapes = {"W_in": (self.n_rec, self.n_in), "W_rec": (self.n_rec, self.n_rec),
                  "W_out": (self.n_out, self.n_rec), "b_out": (self.n_out,)}
        if not isinstance(weights, dict):
            raise ValueError(f"weights must be a dict with keys {sorted(shapes)} (got {type(weights).__name__})")
        missing, extra = set(shapes) - set(weights), set(weights) - set(shapes)
        if missing or extra:
            raise ValueError(f"weights must have exactly the keys {sorted(shapes)}"
                             f"{'; missing ' + str(sorted(missing)) if missing else ''}"
                             f"{'; unknown ' + str(sorted(extra)) if extra else ''}")
        out = {}
        for k, shape in shapes.items():
            a = np.array(weights[k], dtype=np.float64)
            if a.shape != shape:
                raise ValueError(f"{k} must have shape {shape} (got {a.shape})")
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{k} contains non-finite values")
            out[k] = a
        return out

    def dale_ok(self):
        """True when every connected synapse has its presynaptic sign (strictly: parked synapses are
        +-1e-12) and nothing outside the adjacency is non-zero. Needs ``dale=True``."""
        if not self.dale:
            raise ValueError("dale_ok() needs a network built with dale=True")
        w = self._weights_prepost()
        for k in _MATRICES:
            signed = self._signs[k] * w[k]
            if np.any(signed[self._masks[k]] <= 0) or np.any(w[k][~self._masks[k]] != 0):
                return False
        return True

    def adjacency_ok(self):
        """True when the non-zero pattern of every matrix equals the initial adjacency (dense networks:
        W_rec has a zero diagonal)."""
        w = self._weights_prepost()
        if not self.dale:
            return not np.any(np.diagonal(w["rec"]) != 0)
        return all(np.array_equal(w[k] != 0, self._masks[k]) for k in _MATRICES)

    @property
    def nnz(self):
        """Connected synapses per matrix (constant)."""
        return {k: int(self._masks[k].sum()) for k in _MATRICES}

    # ================================================================== state
    def get_state(self):
        """The whole training state (copies): parameters (theta with Dale's law, else the weights;
        (pre, post) layout), Adam moments, iteration count, and the fixed structure (masks, signs,
        random feedback) for checking. No RNG state is involved."""
        return {
            "iteration": int(self.iteration),
            "params": {k: v.copy() for k, v in self._p.items()},
            "adam_m": {k: v.copy() for k, v in self._m.items()},
            "adam_v": {k: v.copy() for k, v in self._v.items()},
            "masks": {k: v.copy() for k, v in self._masks.items()},
            "feedback_matrix": None if self.B_fb is None else self.B_fb.copy(),
            "learning_rule": self.learning_rule, "dale": self.dale,
        }

    def set_state(self, state):
        """Restore a state from :meth:`get_state` (of a network with the same structure)."""
        if not isinstance(state, dict):
            raise ValueError(f"state must be a dict from get_state() (got {type(state).__name__})")
        need = ("iteration", "params", "adam_m", "adam_v", "masks", "feedback_matrix")
        missing = [k for k in need if k not in state]
        if missing:
            raise ValueError(f"state is missing {missing} (use a dict from get_state())")
        if bool(state.get("dale", self.dale)) != self.dale:
            raise ValueError("state was saved from a network with a different dale setting")
        for k in _MATRICES:
            if not np.array_equal(np.asarray(state["masks"][k]), self._masks[k]):
                raise ValueError(f"state has a different adjacency for matrix '{k}' (another seed or size?)")
        fbm = state["feedback_matrix"]
        if (fbm is None) != (self.B_fb is None) or (fbm is not None and not np.array_equal(fbm, self.B_fb)):
            raise ValueError("state has a different random feedback matrix (another seed or feedback setting?)")
        new = {}
        for part in ("params", "adam_m", "adam_v"):
            d = state[part]
            if set(d) != set(self._p):
                raise ValueError(f"state['{part}'] must have the keys {sorted(self._p)}")
            new[part] = {}
            for k, ref in self._p.items():
                a = np.array(d[k], dtype=np.float64)
                if a.shape != ref.shape:
                    raise ValueError(f"state['{part}']['{k}'] has shape {a.shape}, expected {ref.shape}")
                new[part][k] = a
        it = state["iteration"]
        if not _is_int(it) or it < 0:
            raise ValueError(f"state['iteration'] must be an integer >= 0 (got {it!r})")
        self._p, self._m, self._v = new["params"], new["adam_m"], new["adam_v"]
        self.iteration = int(it)

    # ================================================================== simulation
    def _check_batch(self, inputs, labels):
        x = np.asarray(inputs)
        if x.ndim != 3 or x.shape[2] != self.n_in:
            raise ValueError(f"inputs must have shape (batch, T, n_in={self.n_in}) (got {x.shape})")
        if x.shape[0] != self.batch_size:
            raise ValueError(f"batch size mismatch: the network was built for batch_size={self.batch_size}, "
                             f"got inputs with {x.shape[0]} trials")
        if x.shape[1] < 1:
            raise ValueError("inputs must have at least one time step")
        if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
            raise ValueError(f"inputs must be real numbers (got dtype {x.dtype})")
        x = np.ascontiguousarray(x, dtype=np.float64)
        if not np.all(np.isfinite(x)):
            raise ValueError("inputs contain non-finite values")
        T = x.shape[1]
        if self.loss == "window" and T < self.n_window:
            raise ValueError(f"trials of {T} steps are shorter than the loss window n_window={self.n_window}")
        y = np.asarray(labels)
        if y.shape != (self.batch_size,):
            raise ValueError(f"labels must have shape (batch_size={self.batch_size},) (got {y.shape})")
        if y.size and not np.issubdtype(y.dtype, np.integer):
            if np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y)):
                y = y.astype(np.int64)
            else:
                raise ValueError(f"labels must be integers (got dtype {y.dtype})")
        if y.size and (y.min() < 0 or y.max() >= self.n_out):
            raise ValueError(f"labels must lie in 0..{self.n_out - 1} (got {y.min()}..{y.max()})")
        return x, y.astype(np.int64)

    def _load(self, n_steps):
        """Fresh state (every READ_WRITE variable zero) with the current weights."""
        m = self.model
        if m._loaded:
            m.unload()
        w = self._weights_prepost()
        for k in _MATRICES:
            vals = w[k][self._sparse_idx[k]] if self.dale else w[k].ravel()
            self.syn[k].vars["g"].set_init_values(vals)
        self.pops["out"].vars["Bias"].set_init_values(self._bias())
        m.load(num_recording_timesteps=n_steps)
        return w

    def _batched(self, arr, n):
        return np.asarray(arr).reshape(self.batch_size, n)

    def _simulate(self, x, labels, learn, full=True):
        """Run one trial batch on the generated model; returns the Trajectory (and, for online e-prop
        with ``learn``, the device gradients). ``full=False`` leaves out psi and the refractory mask
        (online e-prop's gradient comes from the device and needs neither)."""
        m, p, B = self.model, self.params, self.batch_size
        T = x.shape[1]
        online = learn and self.online_eprop
        n_steps = T + (alif.FLUSH_STEPS if online else alif.READOUT_LAG)
        w = self._load(n_steps)
        inp, rec, out = self.pops["inp"], self.pops["rec"], self.pops["out"]
        xs = np.zeros((n_steps, B, p.n_in))
        xs[:T] = x.transpose(1, 0, 2)
        inp.set_stream("X", xs if B > 1 else xs[:, 0])
        t0 = T - 1 if self.loss == "final" else T - self.n_window
        out.set_dynamic_param_value("error_start", t0)
        out.set_dynamic_param_value("error_end", T)
        if online:
            W_out_T = w["out"]                                  # (n_rec, n_out)
            b = self._bias()
            onehot = np.zeros((B, p.n_out))
            onehot[np.arange(B), labels] = 1.0
            kappa = p.kappa
            m.run(t0 + 1)                                       # GeNN steps 0..t0: Y = y_{t0-1}, Z = z_{t0}
            Y, Z, tgt = out.vars["Y"], rec.vars["Z"], out.vars["Target"]
            for _ in range(t0, T):
                Y.pull_from_device()
                Z.pull_from_device()
                y_t = kappa * self._batched(Y.view, p.n_out) + self._batched(Z.view, p.n_rec) @ W_out_T + b
                tgt.values = (y_t - (sg.softmax(y_t) - onehot)).reshape(tgt.view.shape)
                tgt.push_to_device()
                m.run(1)                                        # readout error of paper step t
            m.run(n_steps - (T + 1))                            # flush the e-prop delay lines
        else:
            m.run(n_steps)
        m.pull_recording_buffers_from_device()
        traj = self._trajectory(x, w, T, full)
        dev = self._device_gradients() if online else None
        return traj, dev

    def _recorded(self, pop, name, n, rows, as_float64=True):
        """Recorded variable as (B, T, n): a transposed view of the (T, B, n) recording (each step's
        (B, n) slice stays contiguous for the time loops of the gradient code). ``as_float64=False``
        keeps the simulation's precision (spikes are 0/1 in either)."""
        data = pop.var_recording_data(name)[1]
        if as_float64:
            data = np.asarray(data, dtype=np.float64)
        return data.reshape(data.shape[0], self.batch_size, n)[rows].transpose(1, 0, 2)

    def _trajectory(self, x, w, T, full=True):
        p = self.params
        rec, out = self.pops["rec"], self.pops["out"]
        # without `full` (online e-prop training) the spikes serve only the firing rates: float32
        # 0/1 values summed in float64 give the same rates, without a 100 MB conversion per batch
        z = self._recorded(rec, "Z", p.n_rec, slice(0, T), as_float64=full)
        psi = self._recorded(rec, "Psi", p.n_rec, slice(0, T)) if full else None
        y = self._recorded(out, "Y", p.n_out, slice(alif.READOUT_LAG, T + alif.READOUT_LAG))
        v = self._recorded(rec, "V", p.n_rec, slice(0, T)) if self.record_state else None
        a = self._recorded(rec, "A", p.n_rec, slice(0, T)) if self.record_state else None
        return sg.Trajectory(params=p, W_in=np.ascontiguousarray(w["in"].T), W_rec=np.ascontiguousarray(w["rec"].T),
                             W_out=np.ascontiguousarray(w["out"].T), b_out=self._bias(), x=x, z=z, psi=psi,
                             refractory=self._refractory_mask(z) if full else None, y=y, v=v, a=a)

    def _refractory_mask(self, z):
        """Blocked steps rebuilt from the spikes: blocked at t iff a spike in [t - n_blocked, t - 1]
        (no spike can occur while blocked, so this is exact for both conventions)."""
        nb = self.params.n_blocked
        T = z.shape[1]
        # one OR of the spikes shifted by d per blocked step d (boolean passes: faster than a
        # cumulative spike count for the few blocked steps of the conventions in use)
        spiked = z > 0
        blocked = np.zeros(z.shape, dtype=bool)
        for d in range(1, min(nb, T - 1) + 1):
            blocked[:, d:] |= spiked[:, :T - d]
        return blocked

    def _device_sums(self, var):
        """Batch sums of the synapse variable ``var`` per weight matrix (W_ji convention), for
        the matrices whose synapses have it."""
        p = self.params
        shapes = {"in": (p.n_in, p.n_rec), "rec": (p.n_rec, p.n_rec), "out": (p.n_rec, p.n_out)}
        sums = {}
        for k in _MATRICES:
            s = self.syn[k]
            if var not in s.vars:
                continue
            s.vars[var].pull_from_device()
            total = np.asarray(s.vars[var].values, dtype=np.float64).reshape(self.batch_size, -1).sum(axis=0)
            full = np.zeros(shapes[k])
            if self.dale:
                full[self._sparse_idx[k]] = total
            else:
                full[...] = total.reshape(shapes[k])
            sums[_W_NAMES[k]] = np.ascontiguousarray(full.T)
        return sums

    def _device_gradients(self):
        """(batch-summed online DeltaG of the generated synapses and the readout's DeltaBias,
        batch-summed ESum trace sums of the e-prop synapses: empty without the regulariser)."""
        G = self._device_sums("DeltaG")
        db = self.pops["out"].vars["DeltaBias"]
        db.pull_from_device()
        G["b_out"] = np.asarray(db.values, dtype=np.float64).reshape(self.batch_size, self.params.n_out).sum(axis=0)
        return G, self._device_sums("ESum")

    def _task_loss(self, traj, labels):
        if self.loss == "final":
            E, dE_dy = sg.cross_entropy_final(traj.y, labels, reduction="mean")
            pred = np.argmax(traj.y[:, -1], axis=1)
        else:
            E, dE_dy = sg.cross_entropy_window(traj.y, labels, self.n_window, reduction="mean")
            pred = sg.window_prediction(traj.y, self.n_window)
        return E, dE_dy, float(np.mean(pred == labels))

    def _gradients(self, traj, dE_dy, dev):
        fb = "symmetric" if self.feedback == "symmetric" else self.B_fb
        reg = dict(reg_c=self.reg_c, reg_target=self.reg_target)
        # BPTT and MDGL: the adjoint pass of snn_gradients, compiled (networks.snn_adjoint; the
        # NumPy functions are the tests' shadow of it)
        if self.learning_rule == "bptt":
            G, reg_loss = snn_adjoint.bptt(traj, dE_dy, num_threads=self.num_threads, **reg)
        elif self.learning_rule == "mdgl":
            G, reg_loss = snn_adjoint.mdgl(traj, dE_dy, self.conn.sign_rec, trace=self.trace, feedback=fb,
                                           num_threads=self.num_threads, **reg)
        elif dev is not None:
            G, trace_sums = dict(dev[0]), dev[1]
            reg_loss = 0.0
            if self.reg_c:
                # dE_reg/dW_ji = sum_t L_j e_ji,t with the time-constant L_j = 2 c (f_j - f*) / (B T dt)
                reg_loss, signal = sg.rate_regulariser(traj, self.reg_c, self.reg_target)
                for name in ("W_in", "W_rec"):
                    G[name] = G[name] + signal[:, None] * trace_sums[name]
        else:                                                   # pragma: no cover - not reached
            raise RuntimeError("online e-prop gradients missing")
        for k in _MATRICES:
            G[_W_NAMES[k]] = G[_W_NAMES[k]] * self._masks[k].T
        return G, reg_loss

    def _blas(self):
        if self.blas_threads is None or ThreadpoolController is None:
            return contextlib.nullcontext()
        if not _THREADPOOLS:
            _THREADPOOLS.append(ThreadpoolController())
        return _THREADPOOLS[0].limit(limits=self.blas_threads, user_api="blas")

    # ================================================================== optimiser
    def _apply(self, G):
        """Adam on the parameters (theta with Dale's law), then the modified DEEP R step."""
        grads = {}
        for k in _MATRICES:
            # dE/dparameter = readout_scale dE/dW_out for the readout (chain rule), 1 elsewhere
            gp = G[_W_NAMES[k]].T * (self.readout_scale if k == "out" else 1.0)
            grads[k] = _dale.theta_gradient(gp, self._signs[k]) if self.dale else gp * self._masks[k]
        grads["b_out"] = G["b_out"] * self.readout_scale
        self.iteration += 1
        t = self.iteration
        b1, b2 = self.adam_beta1, self.adam_beta2
        c1, c2 = 1.0 - b1 ** t, 1.0 - b2 ** t
        for k, g in grads.items():
            self._m[k] = b1 * self._m[k] + (1.0 - b1) * g
            self._v[k] = b2 * self._v[k] + (1.0 - b2) * (g * g)
            self._p[k] = self._p[k] - self.lr * (self._m[k] / c1) / (np.sqrt(self._v[k] / c2) + self.adam_eps)
        if self.dale:
            new, parked = self.conn.deep_r_step({k: self._p[k] for k in _MATRICES}, self.lr, self.l1)
            self._p.update(new)
            self._last_parked = parked
        else:
            np.fill_diagonal(self._p["rec"], 0.0)
        return {k: int(v.sum()) for k, v in self._last_parked.items()} if self.dale else {}

    # ================================================================== public API
    def train_iteration(self, inputs, labels, return_details=False):
        """One training iteration on a trial batch: simulate, compute the gradient of the chosen rule,
        Adam step (+ DEEP R). Returns a dict: ``loss`` (task loss before the update), ``reg_loss``,
        ``accuracy``, ``rates`` (per-neuron firing rates in Hz), ``rate_hz`` (mean), ``grad_norms``
        (L2 norm per parameter array and ``total``), ``parked`` (synapses parked at 1e-12 per matrix),
        ``iteration``, ``seconds`` (simulate / gradient / update / total). ``return_details`` adds
        ``gradients`` (the dE/dW used, W_ji, masked) and ``trajectory`` (the recorded forward pass)."""
        t_start = time.perf_counter()
        x, labels = self._check_batch(inputs, labels)
        traj, dev = self._simulate(x, labels, learn=True, full=return_details or not self.online_eprop)
        t_sim = time.perf_counter()
        with self._blas():
            E, dE_dy, acc = self._task_loss(traj, labels)
            G, reg_loss = self._gradients(traj, dE_dy, dev)
        t_grad = time.perf_counter()
        parked = self._apply(G)
        t_end = time.perf_counter()
        rates = traj.z.mean(axis=(0, 1), dtype=np.float64) / self.params.dt * 1000.0
        norms = {k: float(np.linalg.norm(v)) for k, v in G.items()}
        norms["total"] = float(math.sqrt(sum(v * v for v in norms.values())))
        res = {"loss": float(E), "reg_loss": float(reg_loss), "accuracy": acc, "rates": rates,
               "rate_hz": float(rates.mean()), "grad_norms": norms, "parked": parked, "iteration": self.iteration,
               "seconds": {"simulate": t_sim - t_start, "gradient": t_grad - t_sim, "update": t_end - t_grad,
                           "total": t_end - t_start}}
        if return_details:
            res["gradients"] = G
            res["trajectory"] = traj
        return res

    def evaluate(self, inputs, labels, return_trajectory=False):
        """Forward pass only (no learning): ``loss``, ``accuracy``, ``rate_hz`` (and ``trajectory``)."""
        x, labels = self._check_batch(inputs, labels)
        traj, _ = self._simulate(x, labels, learn=False)
        E, _, acc = self._task_loss(traj, labels)
        res = {"loss": float(E), "accuracy": acc,
               "rate_hz": float(traj.z.mean() / self.params.dt * 1000.0)}
        if return_trajectory:
            res["trajectory"] = traj
        return res

    def forward(self, inputs, labels=None):
        """The recorded forward pass (a :class:`networks.snn_gradients.Trajectory`) of ``inputs``."""
        if labels is None:
            labels = np.zeros(np.shape(inputs)[0] if np.ndim(inputs) == 3 else 0, dtype=np.int64)
        x, labels = self._check_batch(inputs, labels)
        return self._simulate(x, labels, learn=False)[0]

    def __repr__(self):
        conn = f"Dale, nnz {self.nnz}" if self.dale else "dense"
        return (f"RecurrentSNN({self.learning_rule}, {self.feedback} feedback, {self.n_in} in, {self.n_lif} LIF + "
                f"{self.n_alif} ALIF, {self.n_out} out, batch {self.batch_size}, "
                f"{'LSNN' if self.lsnn_scaling else 'Bellec'} form, {conn}, iteration {self.iteration})")
