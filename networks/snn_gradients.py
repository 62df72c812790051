r"""Mathematical core of recurrent ALIF spiking networks trained with BPTT, e-prop and MDGL.

Vectorised float64 NumPy (loops over time only), written from the equations of the project spec
``alif_eprop_mdgl.md`` (sections 2-5, 11); no code is taken from the reference repositories.

References
----------
* G. Bellec, F. Scherr, A. Subramoney, E. Hajek, D. Salaj, R. Legenstein, W. Maass, *A solution to
  the learning dilemma for recurrent networks of spiking neurons*, Nat. Commun. 11:3625 (2020).
  [e-prop, eligibility traces, the Bellec neuron form]
* Y. H. Liu, S. Smith, S. Mihalas, E. Shea-Brown, U. Suembuel, *Cell-type-specific neuromodulation
  guides synaptic credit assignment in a spiking neural network*, PNAS 118(51):e2111821118 (2021).
  [MDGL, the LSNN neuron form with the full 2x2 eligibility Jacobian]

Conventions
-----------
Matrices follow the spec's W_ji (post, pre) indexing: ``W_in`` (n_rec, n_in), ``W_rec``
(n_rec, n_rec), ``W_out`` (n_out, n_rec), ``b_out`` (n_out,). Time series are (B, T, ...) with
steps t = 0..T-1 and all states zero before t = 0 (z_{-1} = v_{-1} = a_{-1} = y_{-1} = 0).
With s_in = 1, s_a = 1 in the Bellec form (spec 2.1) and s_in = 1 - alpha, s_a = 1 - rho with
``lsnn_scaling`` (spec 2.2), one step is::

    v_t   = alpha v_{t-1} + s_in (W_in x_t + W_rec z_{t-1}) - v_th z_{t-1}     (reset: baseline v_th)
    a_t   = rho a_{t-1} + s_a z_{t-1}                  (``a`` of Bellec = ``b`` of LSNN/MDGL)
    A_t   = v_th + beta a_t,        v~_t = (v_t - A_t) / v_th
    z_t   = H(v~_t) (1 - r_t)       (H(0) = 0; r_t = 1 while refractory, spec 2.3)
    psi_t = (gamma / v_th) max(0, 1 - |v~_t|) (1 - r_t)          (pseudo-derivative dz_t/dv_t)
    y_t   = kappa y_{t-1} + W_out z_t + b_out                     (readout, paper form, spec 2.5)

alpha = exp(-dt/tau_m), rho = exp(-dt/tau_a), kappa = exp(-dt/tau_out). The readout is the paper
form: the bias enters every step and is filtered with the spikes (y_t contains
b (1 - kappa^{t+1}) / (1 - kappa)); the TF-repo form W_out z_bar differs only by a (1 - kappa)
scale of W_out and b, so no second form is offered.

With ``smooth=k`` the Heaviside is replaced by a sigmoid, z_t = sigma(k v~_t)(1 - r_t) and
psi_t = (k / v_th) sigma'(k v~_t)(1 - r_t) (the exact derivative); refractoriness is still driven
by the hard threshold events (v~_t > 0 while not refractory), so that the mask is piecewise
constant and finite differences of this smooth model are well defined.

Gradients of one neuron's state h = (v, a) obey the 2x2 Jacobian (the factor c_r selects whether
the reset is part of it)::

    dh_{t+1}/dh_t = [[alpha - c_r v_th psi_t,   c_r v_th beta psi_t     ],
                     [s_a psi_t,                rho - s_a beta psi_t    ]]

* trace ``"bellec"`` (spec 3.2): c_r = 0, the reset is dropped from the eligibility (and must then
  be carried by the learning signal for exactness).
* trace ``"lsnn"`` (spec 3.3, MDGL repository): c_r = 1, the full Jacobian.

Eligibility of synapse p <- q with presynaptic drive u_q,t (z_{q,t-1} recurrent, x_{q,t} input)::

    eps_t = J_{t-1} eps_{t-1} + (s_in u_q,t, 0),   e_pq,t = psi_p,t (eps^v_t - beta_p eps^a_t)

which for c_r = 0 reduces to eps^v_t = s_in z_bar_{q,t-1} (z_bar_t = alpha z_bar_{t-1} + z_t) and
eps^a_{t+1} = s_a psi_t eps^v_t + (rho - s_a beta psi_t) eps^a_t, the e-prop form of Bellec et al.
Factorisation (Bellec et al. eq. 1): dE/dW_pq = sum_t L_p,t e_pq,t is exact when L_p,t is dE/dz_p,t
through every path that is not inside the trace (readout, recurrence, and for ``"bellec"`` traces
also the neuron's own reset); :meth:`BPTTGradients.learning_signal` returns exactly that signal.

Refractory conventions (spec 2.3): ``n_ref`` is read in the convention named by ``refractory``:
``"lsnn"`` blocks t+1..t+n_ref after a spike at t (n_ref blocked steps), ``"eprop"`` uses the
counter r <- clip(r + n_ref z - 1, 0, n_ref) and blocks n_ref - 1 steps.
:attr:`ALIFParams.n_blocked` gives the number of blocked steps (the project-level quantity) and
:func:`n_ref_from_blocked` converts back. The refractory mask is a non-differentiable function of
past spikes; every gradient treats it as the forward pass does (a constant mask, psi = 0 inside).
"""
from dataclasses import dataclass
import math
import numbers

import numpy as np

__all__ = [
    "ALIFParams", "Trajectory", "Gradients", "BPTTGradients", "EpropGradients", "MDGLGradients",
    "forward", "softmax", "cross_entropy_final", "cross_entropy_window", "window_prediction",
    "mse_loss", "readout_gradients", "bptt_gradients", "eprop_gradients", "mdgl_gradients",
    "mdgl_gradients_materialised", "eligibility_traces", "cell_types", "modulatory_table",
    "finite_difference_gradient", "rate_regulariser", "n_ref_from_blocked", "CELL_TYPES",
    "REFRACTORY_CONVENTIONS", "TRACE_FORMS",
]

REFRACTORY_CONVENTIONS = ("lsnn", "eprop")
TRACE_FORMS = ("bellec", "lsnn")
STOP_PATHS = ("recurrent", "reset", "adaptation")
#: MDGL cell types (spec 4.1): E/I x regular(LIF)/adaptive(ALIF) x internal/output; I cells are LIF.
CELL_TYPES = ("E_LIF_internal", "E_LIF_output", "E_ALIF_internal", "E_ALIF_output",
              "I_LIF_internal", "I_LIF_output")


# ============================================================================ parameters

def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclass(eq=False)
class ALIFParams:
    """Parameters of a recurrent ALIF network with a leaky readout (spec 2, 6).

    ``beta`` is per recurrent neuron (a scalar is broadcast); beta = 0 makes a LIF neuron.
    ``n_ref`` is counted in the convention ``refractory`` ("lsnn" | "eprop", spec 2.3).
    ``lsnn_scaling`` selects the LSNN/MDGL form (inputs scaled by 1 - alpha, adaptation
    increment 1 - rho); conversion: W_Bellec = (1 - alpha) W_LSNN, beta_Bellec = (1 - rho) beta_LSNN.
    Time constants are in ms (``dt`` too); ``np.inf`` is allowed (no decay).
    """
    n_in: int
    n_rec: int
    n_out: int
    tau_m: float = 20.0
    tau_a: float = 2000.0
    tau_out: float = 20.0
    v_th: float = 0.6
    beta: np.ndarray = 0.0
    gamma: float = 0.3
    n_ref: int = 5
    refractory: str = "eprop"
    lsnn_scaling: bool = False
    dt: float = 1.0

    def __post_init__(self):
        self.validate()

    def validate(self):
        """Check every field; raise ValueError with one clear sentence. Normalises ``beta``."""
        for name in ("n_in", "n_rec", "n_out"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"ALIFParams.{name} must be a positive integer (got {value!r})")
        for name in ("tau_m", "tau_a", "tau_out"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or math.isnan(value) or value <= 0:
                raise ValueError(f"ALIFParams.{name} must be a positive time constant in ms "
                                 f"(got {value!r}); use np.inf for no decay")
        if not isinstance(self.dt, numbers.Real) or not math.isfinite(self.dt) or self.dt <= 0:
            raise ValueError(f"ALIFParams.dt must be a positive finite time step in ms (got {self.dt!r})")
        if not isinstance(self.v_th, numbers.Real) or not math.isfinite(self.v_th) or self.v_th <= 0:
            raise ValueError(f"ALIFParams.v_th must be a positive finite threshold (got {self.v_th!r})")
        if not isinstance(self.gamma, numbers.Real) or not math.isfinite(self.gamma) or self.gamma < 0:
            raise ValueError(f"ALIFParams.gamma must be a finite number >= 0 (got {self.gamma!r})")
        if not _is_int(self.n_ref) or self.n_ref < 0:
            raise ValueError(f"ALIFParams.n_ref must be an integer >= 0 (got {self.n_ref!r})")
        if self.refractory not in REFRACTORY_CONVENTIONS:
            raise ValueError(f"ALIFParams.refractory must be one of {REFRACTORY_CONVENTIONS} "
                             f"(got {self.refractory!r})")
        if not isinstance(self.lsnn_scaling, (bool, np.bool_)):
            raise ValueError(f"ALIFParams.lsnn_scaling must be True or False (got {self.lsnn_scaling!r})")
        try:
            beta = np.array(self.beta, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"ALIFParams.beta must be a number or an array of n_rec = {self.n_rec} "
                             f"numbers (got {self.beta!r})") from None
        if beta.ndim == 0:
            beta = np.full(self.n_rec, float(beta))
        if beta.shape != (self.n_rec,):
            raise ValueError(f"ALIFParams.beta must have one entry per recurrent neuron: expected "
                             f"length {self.n_rec}, got shape {beta.shape}")
        if not np.all(np.isfinite(beta)):
            raise ValueError("ALIFParams.beta must be finite")
        if np.any(beta < 0):
            raise ValueError(f"ALIFParams.beta must be >= 0 (0 = LIF); negative at neurons "
                             f"{np.flatnonzero(beta < 0).tolist()}")
        beta.flags.writeable = False
        self.beta = beta
        return self

    # --- derived constants
    @property
    def alpha(self):
        return math.exp(-self.dt / self.tau_m)

    @property
    def rho(self):
        return math.exp(-self.dt / self.tau_a)

    @property
    def kappa(self):
        return math.exp(-self.dt / self.tau_out)

    @property
    def s_in(self):
        """Input scale: 1 (Bellec) or 1 - alpha (LSNN)."""
        return 1.0 - self.alpha if self.lsnn_scaling else 1.0

    @property
    def s_a(self):
        """Adaptation increment per spike: 1 (Bellec) or 1 - rho (LSNN)."""
        return 1.0 - self.rho if self.lsnn_scaling else 1.0

    @property
    def n_blocked(self):
        """Number of steps blocked after a spike (n_ref for "lsnn", max(n_ref - 1, 0) for "eprop")."""
        return self.n_ref if self.refractory == "lsnn" else max(self.n_ref - 1, 0)

    @property
    def is_alif(self):
        return self.beta != 0

    @property
    def default_trace(self):
        """Eligibility form matching the neuron form: "lsnn" (spec 3.3) or "bellec" (spec 3.2)."""
        return "lsnn" if self.lsnn_scaling else "bellec"


def n_ref_from_blocked(n_blocked, refractory):
    """``n_ref`` in convention ``refractory`` that blocks ``n_blocked`` steps after each spike."""
    if not _is_int(n_blocked) or n_blocked < 0:
        raise ValueError(f"n_blocked must be an integer >= 0 (got {n_blocked!r})")
    if refractory not in REFRACTORY_CONVENTIONS:
        raise ValueError(f"refractory must be one of {REFRACTORY_CONVENTIONS} (got {refractory!r})")
    return n_blocked if refractory == "lsnn" else n_blocked + 1


# ============================================================================ forward pass

@dataclass(eq=False)
class Trajectory:
    """Recorded forward pass; arrays are (B, T, n_rec) unless stated.

    ``v`` membrane, ``a`` adaptation (the LSNN ``b``; ``None`` if ``record_state=False``),
    ``z`` spikes (float 0/1, or sigmoid values when smooth), ``psi`` pseudo-derivative,
    ``refractory`` (bool) mask, ``ref_count`` remaining blocked steps including t (int16; None if
    not recorded), ``y`` readout (B, T, n_out), ``x`` input (B, T, n_in). The weights (copies) and the
    parameters are kept so that gradient functions need only the trajectory.
    """
    params: ALIFParams
    W_in: np.ndarray
    W_rec: np.ndarray
    W_out: np.ndarray
    b_out: np.ndarray
    x: np.ndarray
    z: np.ndarray
    psi: np.ndarray
    refractory: np.ndarray
    y: np.ndarray
    v: np.ndarray = None
    a: np.ndarray = None
    ref_count: np.ndarray = None
    smooth: float = None

    @property
    def b(self):
        """LSNN/MDGL name of the adaptation variable."""
        return self.a

    @property
    def threshold(self):
        """A_t = v_th + beta a_t (needs ``record_state``)."""
        if self.a is None:
            raise ValueError("the trajectory was recorded with record_state=False; no threshold")
        return self.params.v_th + self.params.beta * self.a

    @property
    def v_scaled(self):
        """v~_t = (v_t - A_t) / v_th (needs ``record_state``)."""
        if self.v is None:
            raise ValueError("the trajectory was recorded with record_state=False; no v_scaled")
        return (self.v - self.threshold) / self.params.v_th

    @property
    def shape(self):
        return self.z.shape


def _as_matrix(name, value, shape):
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric array of shape {shape}") from None
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (got {arr.shape})")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values")
    return arr


def _check_weights(params, W_in, W_rec, W_out, b_out):
    params.validate()
    n_in, n, n_out = params.n_in, params.n_rec, params.n_out
    W_in = _as_matrix("W_in", W_in, (n, n_in))
    W_rec = _as_matrix("W_rec", W_rec, (n, n))
    W_out = _as_matrix("W_out", W_out, (n_out, n))
    b_out = _as_matrix("b_out", b_out, (n_out,))
    diag = np.flatnonzero(np.diagonal(W_rec) != 0)
    if diag.size:
        raise ValueError(f"W_rec has non-zero diagonal entries (autapses) at neurons "
                         f"{diag[:10].tolist()}{' ...' if diag.size > 10 else ''}; autapses must be zero")
    return W_in, W_rec, W_out, b_out


def _sigmoid(u):
    # overflow-free logistic function
    out = np.empty_like(u)
    pos = u >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-u[pos]))
    e = np.exp(u[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def forward(params, W_in, W_rec, W_out, b_out, x, *, smooth=None, record_state=True):
    """Simulate a batch ``x`` (B, T, n_in) and return a :class:`Trajectory` (see module doc).

    ``smooth=k`` (k > 0) replaces H by sigma(k v~) and psi by its exact derivative (for finite
    difference checks). ``record_state=False`` keeps only what gradients need (z, psi, refractory
    mask, y) to save memory. Raises ValueError for bad shapes, non-finite values or autapses.
    """
    W_in, W_rec, W_out, b_out = _check_weights(params, W_in, W_rec, W_out, b_out)
    x = np.array(x, dtype=np.float64)
    if x.ndim != 3 or x.shape[2] != params.n_in or x.shape[1] < 1 or x.shape[0] < 1:
        raise ValueError(f"x must have shape (batch, T, n_in={params.n_in}) with batch, T >= 1 "
                         f"(got {x.shape})")
    if not np.all(np.isfinite(x)):
        raise ValueError("x contains non-finite values")
    if smooth is not None:
        if not isinstance(smooth, numbers.Real) or not math.isfinite(smooth) or smooth <= 0:
            raise ValueError(f"smooth must be a positive finite sigmoid steepness (got {smooth!r})")
        smooth = float(smooth)
    B, T, _ = x.shape
    n = params.n_rec
    alpha, rho, kappa = params.alpha, params.rho, params.kappa
    s_in, s_a, v_th, beta = params.s_in, params.s_a, params.v_th, params.beta
    psi_scale = params.gamma / v_th
    n_ref, eprop_counter = params.n_ref, params.refractory == "eprop"

    z_rec = np.zeros((B, T, n))
    psi_rec = np.zeros((B, T, n))
    ref_rec = np.zeros((B, T, n), dtype=bool)
    y_rec = np.zeros((B, T, params.n_out))
    v_rec = np.zeros((B, T, n)) if record_state else None
    a_rec = np.zeros((B, T, n)) if record_state else None
    cnt_rec = np.zeros((B, T, n), dtype=np.int16) if record_state else None

    W_in_s = (s_in * W_in).T
    W_rec_s = (s_in * W_rec).T
    W_out_T = W_out.T
    v = np.zeros((B, n))
    a = np.zeros((B, n))
    z_prev = np.zeros((B, n))
    event_prev = np.zeros((B, n), dtype=bool)
    counter = np.zeros((B, n), dtype=np.int64)
    y = np.zeros((B, params.n_out))
    for t in range(T):
        v = alpha * v + x[:, t] @ W_in_s + z_prev @ W_rec_s - v_th * z_prev
        a = rho * a + s_a * z_prev
        if eprop_counter:                                # refractory while the old counter r > 0
            blocked_left = counter
        else:                                            # blocked if a spike in the last n_ref steps
            counter = np.where(event_prev, n_ref, np.maximum(counter - 1, 0))
            blocked_left = counter
        refr = blocked_left > 0
        free = ~refr
        vs = (v - v_th - beta * a) / v_th
        event = (vs > 0) & free
        if smooth is None:
            z = event.astype(np.float64)
            psi = psi_scale * np.maximum(0.0, 1.0 - np.abs(vs)) * free
        else:
            sig = _sigmoid(smooth * vs)
            z = sig * free
            psi = (smooth / v_th) * sig * (1.0 - sig) * free
        if eprop_counter:
            ref_now = counter.copy()
            counter = np.clip(counter + n_ref * event - 1, 0, n_ref)
        else:
            ref_now = counter
        y = kappa * y + z @ W_out_T + b_out
        z_rec[:, t], psi_rec[:, t], ref_rec[:, t], y_rec[:, t] = z, psi, refr, y
        if record_state:
            v_rec[:, t], a_rec[:, t], cnt_rec[:, t] = v, a, ref_now
        z_prev, event_prev = z, event
    return Trajectory(params=params, W_in=W_in, W_rec=W_rec, W_out=W_out, b_out=b_out, x=x,
                      z=z_rec, psi=psi_rec, refractory=ref_rec, y=y_rec, v=v_rec, a=a_rec,
                      ref_count=cnt_rec, smooth=smooth)


# ============================================================================ losses

def softmax(y, axis=-1):
    """Numerically stable softmax."""
    e = np.exp(y - np.max(y, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _check_labels(y, labels):
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 3:
        raise ValueError(f"y must have shape (batch, T, n_out) (got {y.shape})")
    labels = np.asarray(labels)
    if labels.shape != (y.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be an integer array of shape ({y.shape[0]},) (got {labels.shape}, "
                         f"{labels.dtype})")
    if labels.size and (labels.min() < 0 or labels.max() >= y.shape[2]):
        raise ValueError(f"labels must lie in 0..{y.shape[2] - 1}")
    return y, labels


def _reduction_scale(reduction, batch):
    if reduction == "mean":
        return 1.0 / batch
    if reduction == "sum":
        return 1.0
    raise ValueError(f"reduction must be 'mean' or 'sum' (got {reduction!r})")


def cross_entropy_final(y, labels, reduction="mean"):
    """Softmax cross-entropy of the final-step logits (MDGL task, spec 3.4).

    E = sum_b -log pi_{b, label_b, T-1} (times 1/B for ``"mean"``); dE/dy_{T-1} = pi - onehot.
    Returns (E, dE_dy) with dE_dy of y's shape (zero before the final step).
    """
    y, labels = _check_labels(y, labels)
    B, T, K = y.shape
    scale = _reduction_scale(reduction, B)
    p = softmax(y[:, -1])
    logp = y[:, -1] - np.max(y[:, -1], axis=1, keepdims=True)
    logp = logp - np.log(np.sum(np.exp(logp), axis=1, keepdims=True))
    E = -scale * float(np.sum(logp[np.arange(B), labels]))
    dE_dy = np.zeros_like(y)
    dE_dy[:, -1] = p
    dE_dy[np.arange(B), -1, labels] -= 1.0
    dE_dy *= scale
    return E, dE_dy


def cross_entropy_window(y, labels, n_window=150, reduction="mean"):
    """Per-step softmax cross-entropy averaged over the last ``n_window`` steps (e-prop task).

    E = (1/n_window) sum_{t >= T - n_window} sum_b -log pi_{b, label_b, t} (times 1/B for
    ``"mean"``); dE/dy_t = (pi_t - onehot) / n_window inside the window. The prediction is
    :func:`window_prediction` (argmax of the window-averaged logits). Returns (E, dE_dy).
    """
    y, labels = _check_labels(y, labels)
    B, T, K = y.shape
    if not _is_int(n_window) or not 1 <= n_window <= T:
        raise ValueError(f"n_window must be an integer in 1..T={T} (got {n_window!r})")
    scale = _reduction_scale(reduction, B) / n_window
    yw = y[:, T - n_window:]
    logp = yw - np.max(yw, axis=2, keepdims=True)
    logp = logp - np.log(np.sum(np.exp(logp), axis=2, keepdims=True))
    E = -scale * float(np.sum(logp[np.arange(B), :, labels]))
    dE_dy = np.zeros_like(y)
    g = np.exp(logp)
    g[np.arange(B), :, labels] -= 1.0
    dE_dy[:, T - n_window:] = scale * g
    return E, dE_dy


def window_prediction(y, n_window=150):
    """argmax over classes of the logits averaged over the last ``n_window`` steps, shape (B,)."""
    y = np.asarray(y, dtype=np.float64)
    return np.argmax(y[:, -n_window:].mean(axis=1), axis=1)


def mse_loss(y, target, mask=None, reduction="sum"):
    """Regression loss E = 0.5 sum (y - y*)^2 [mask] (1/B for "mean"); returns (E, dE/dy)."""
    y = np.asarray(y, dtype=np.float64)
    target = np.broadcast_to(np.asarray(target, dtype=np.float64), y.shape)
    diff = y - target
    if mask is not None:
        diff = diff * np.broadcast_to(np.asarray(mask, dtype=np.float64), y.shape)
    scale = _reduction_scale(reduction, y.shape[0])
    return 0.5 * scale * float(np.sum(diff * diff)), scale * diff


# ============================================================================ shared pieces

def _check_dE_dy(traj, dE_dy):
    dE_dy = np.asarray(dE_dy, dtype=np.float64)
    if dE_dy.shape != traj.y.shape:
        raise ValueError(f"dE_dy must have the readout's shape {traj.y.shape} (got {dE_dy.shape})")
    return dE_dy


def _resolve_trace(params, trace):
    trace = params.default_trace if trace is None else trace
    if trace not in TRACE_FORMS:
        raise ValueError(f"trace must be one of {TRACE_FORMS} or None (got {trace!r})")
    return trace


def _feedback_matrix(traj, feedback):
    """(n_rec, n_out) feedback matrix B: W_out^T ("symmetric") or a given array."""
    p = traj.params
    if isinstance(feedback, str):
        if feedback != "symmetric":
            raise ValueError(f"feedback must be 'symmetric' or an array of shape ({p.n_rec}, {p.n_out}) "
                             f"(got {feedback!r})")
        return traj.W_out.T
    return _as_matrix("feedback", feedback, (p.n_rec, p.n_out))


def _filter_backward(g, kappa):
    """delta_t = g_t + kappa delta_{t+1} along axis 1 (the adjoint of the readout filter)."""
    out = np.empty_like(g)
    acc = np.zeros_like(g[:, 0])
    for t in range(g.shape[1] - 1, -1, -1):
        acc = g[:, t] + kappa * acc
        out[:, t] = acc
    return out


def readout_gradients(traj, dE_dy):
    """Exact readout gradients and the filtered readout adjoint.

    delta_y_t = dE/dy_t + kappa delta_y_{t+1} (total dE/dy_t through the readout recursion);
    dE/dW_out = sum_t delta_y_t z_t^T (= sum_t dE/dy_t z_bar_t^T with z_bar the kappa-filtered
    spikes), dE/db_out = sum_t delta_y_t. Summed over the batch. Returns (dW_out, db_out, delta_y).
    """
    dE_dy = _check_dE_dy(traj, dE_dy)
    dy = _filter_backward(dE_dy, traj.params.kappa)
    dW_out = np.zeros_like(traj.W_out)
    for b in range(dy.shape[0]):
        dW_out += dy[b].T @ traj.z[b]
    return dW_out, dy.sum(axis=(0, 1)), dy


def rate_regulariser(traj, c, target=0.01):
    """Firing-rate regulariser (spec 3.5): E_reg = c sum_j (f_j - f*)^2.

    f_j = mean over batch and time of z_j / dt (spikes per ms; 10 Hz = 0.01). Returns
    (E_reg, dE_reg/dz) where dE_reg/dz_j,t = 2 c (f_j - f*) / (B T dt), shape (n_rec,), the same for
    every batch entry and step (a direct, unfiltered learning signal).
    """
    if not isinstance(c, numbers.Real) or not math.isfinite(c) or c < 0:
        raise ValueError(f"the rate regulariser strength c must be a finite number >= 0 (got {c!r})")
    B, T, n = traj.z.shape
    dt = traj.params.dt
    rate = traj.z.mean(axis=(0, 1), dtype=np.float64) / dt     # float32 spikes: exact 0/1 sums
    diff = rate - target
    return float(c * np.sum(diff * diff)), 2.0 * c * diff / (B * T * dt)


def _presyn(traj):
    """Presynaptic drive u_t = [x_t, z_{t-1}] of every synapse, (B, T, n_in + n_rec)."""
    B, T, n = traj.z.shape
    zp = np.zeros_like(traj.z)
    zp[:, 1:] = traj.z[:, :-1]
    return np.concatenate([traj.x, zp], axis=2)


def _split(G, params):
    """Split a (n_rec, n_in + n_rec) gradient into W_in and W_rec parts; zero the diagonal."""
    G_in = np.ascontiguousarray(G[:, :params.n_in])
    G_rec = np.ascontiguousarray(G[:, params.n_in:])
    np.fill_diagonal(G_rec, 0.0)
    return G_in, G_rec


def _as_index(idx, n):
    """Contiguous index array -> slice (cheaper views), else the array."""
    if idx.size and np.all(np.diff(idx) == 1):
        return slice(int(idx[0]), int(idx[-1]) + 1)
    return idx


def _local_backward(params, psi, direct=None, dy=None, W_out=None, W_rec=None, reset=True,
                    adaptation=True, keep=False):
    """Reverse pass over time of the per-neuron adjoint (vectorised over batch and neurons).

    dz_t  = direct_t + W_out^T dy_t + s_in W_rec^T dv_{t+1} - [reset] v_th dv_{t+1}
            + [adaptation] s_a da_{t+1}             (absent terms: arguments None / False)
    dv_t  = alpha dv_{t+1} + psi_t dz_t
    da_t  = rho da_{t+1} - beta psi_t dz_t
    Returns (dv, da, dz); da and dz are None unless ``keep``.
    """
    B, T, n = psi.shape
    alpha, rho, s_in, s_a, v_th, beta = (params.alpha, params.rho, params.s_in, params.s_a,
                                         params.v_th, params.beta)
    dv = np.empty((B, T, n))
    da = np.empty((B, T, n)) if keep else None
    dz = np.empty((B, T, n)) if keep else None
    W_rec_s = None if W_rec is None else s_in * W_rec
    dv_next = np.zeros((B, n))
    da_next = np.zeros((B, n))
    for t in range(T - 1, -1, -1):
        g = np.zeros((B, n)) if direct is None else direct[:, t].copy()
        if dy is not None:
            g += dy[:, t] @ W_out
        if t < T - 1:
            if W_rec_s is not None:
                g += dv_next @ W_rec_s
            if reset:
                g -= v_th * dv_next
            if adaptation:
                g += s_a * da_next
        if keep:
            dz[:, t] = g
        pg = psi[:, t] * g
        dv_next = alpha * dv_next + pg
        da_next = rho * da_next - beta * pg
        dv[:, t] = dv_next
        if keep:
            da[:, t] = da_next
    return dv, da, dz


def _grads_from_dv(traj, dv):
    """dE/dW_in = s_in sum dv_t x_t^T, dE/dW_rec = s_in sum dv_t z_{t-1}^T (diag 0), batch-summed."""
    p = traj.params
    B = dv.shape[0]
    G_in = np.zeros((p.n_rec, p.n_in))
    G_rec = np.zeros((p.n_rec, p.n_rec))
    for b in range(B):
        G_in += dv[b].T @ traj.x[b]
        G_rec += dv[b, 1:].T @ traj.z[b, :-1]
    G_in *= p.s_in
    G_rec *= p.s_in
    np.fill_diagonal(G_rec, 0.0)
    return G_in, G_rec


# ============================================================================ results

@dataclass(eq=False)
class Gradients:
    """dE/dW for the four parameter arrays (batch-summed; W_rec diagonal zero). Dense: entries
    outside a sparse adjacency are the gradient a new synapse would see; mask them as needed."""
    W_in: np.ndarray
    W_rec: np.ndarray
    W_out: np.ndarray
    b_out: np.ndarray

    def as_dict(self):
        return {"W_in": self.W_in, "W_rec": self.W_rec, "W_out": self.W_out, "b_out": self.b_out}


@dataclass(eq=False)
class BPTTGradients(Gradients):
    """BPTT result. ``dE_dz`` is the total derivative dE/dz_t through every path (readout,
    recurrence, reset, adaptation; minus stopped ones), ``dE_dv``, ``dE_da`` the state adjoints,
    ``reg_loss`` the rate-regulariser value, ``stop`` the stopped paths."""
    dE_dz: np.ndarray = None
    dE_dv: np.ndarray = None
    dE_da: np.ndarray = None
    reg_loss: float = 0.0
    stop: tuple = ()
    params: ALIFParams = None

    def learning_signal(self, trace=None):
        """Total learning signal for the eligibility form ``trace`` (spec 3.1):

        L_t = dE/dz_t minus the paths the trace already contains: the own adaptation
        (s_a dE/da_{t+1}) and, for ``"lsnn"`` traces, the own reset (-v_th dE/dv_{t+1}).
        sum_t L_t e_t then equals the BPTT gradient exactly (Bellec et al. 2020, eq. 1).
        """
        trace = _resolve_trace(self.params, trace)
        if self.dE_dz is None or self.dE_da is None:
            raise ValueError("learning signals need bptt_gradients(..., keep_signals=True)")
        L = self.dE_dz.copy()
        if "adaptation" not in self.stop:
            L[:, :-1] -= self.params.s_a * self.dE_da[:, 1:]
        if trace == "lsnn" and "reset" not in self.stop:
            L[:, :-1] += self.params.v_th * self.dE_dv[:, 1:]
        return L


@dataclass(eq=False)
class EpropGradients(Gradients):
    """e-prop result: the learning signal that was used (for "partial" the per-step B dE/dy_t that
    multiplies the kappa-filtered traces; otherwise the signal applied to unfiltered traces,
    without the regulariser term), the regulariser value and the mean firing rates (spikes/ms)."""
    learning_signal: np.ndarray = None
    reg_loss: float = 0.0
    rates: np.ndarray = None


@dataclass(eq=False)
class MDGLGradients(Gradients):
    """MDGL result: ``L`` = dE/dz (partial, through the filtered readout), ``m`` the one-hop
    modulatory signal, ``table`` w_bar[pre family, post family], ``family`` (0 = E, 1 = I),
    ``W_mod`` the modulatory matrix (m_p = s_in sum_j W_mod[j, p] a_{j,t+1}), ``cell_type``."""
    L: np.ndarray = None
    m: np.ndarray = None
    table: np.ndarray = None
    family: np.ndarray = None
    W_mod: np.ndarray = None
    cell_type: np.ndarray = None
    reg_loss: float = 0.0
    traces: np.ndarray = None


# ============================================================================ BPTT

def bptt_gradients(traj, dE_dy, *, stop=(), reg_c=0.0, reg_target=0.01, keep_signals=True):
    """Exact gradient of the surrogate model by a manual backward pass over ``traj``.

    The spike nonlinearity is differentiated through psi at every spike (psi = 0 while
    refractory; the refractory mask itself is treated as a constant, as in the forward pass).
    Adjoint recursion (t = T-1..0, all quantities zero at t = T)::

        delta_y_t = dE/dy_t + kappa delta_y_{t+1}
        dE/dz_t   = W_out^T delta_y_t + s_in W_rec^T dv_{t+1} - v_th dv_{t+1} + s_a da_{t+1}
                    [+ rate-regulariser term 2 c (f - f*) / (B T dt)]
        dv_t      = alpha dv_{t+1} + psi_t dE/dz_t,     da_t = rho da_{t+1} - beta psi_t dE/dz_t
        dE/dW_in  = s_in sum_t dv_t x_t^T,  dE/dW_rec = s_in sum_t dv_t z_{t-1}^T (diag 0),
        dE/dW_out = sum_t delta_y_t z_t^T,  dE/db_out = sum_t delta_y_t

    ``stop`` is a subset of ("recurrent", "reset", "adaptation"): gradients through z_{t-1} in that
    path are stopped (AL-T3: ("recurrent", "reset") reproduces e-prop with the partial signal and
    Bellec traces; ("recurrent",) with "lsnn" traces). ``keep_signals`` keeps dE/dz and dE/da
    (needed for :meth:`BPTTGradients.learning_signal`). For a trajectory from
    ``forward(..., smooth=k)`` psi is the sigmoid's derivative, so the same pass is the exact
    gradient of the smooth model (checked against :func:`finite_difference_gradient`).
    Returns :class:`BPTTGradients`.
    """
    if isinstance(stop, str):
        stop = (stop,)
    stop = tuple(stop)
    bad = [s for s in stop if s not in STOP_PATHS]
    if bad:
        raise ValueError(f"stop may only contain {STOP_PATHS} (got {bad})")
    p = traj.params
    dW_out, db_out, dy = readout_gradients(traj, dE_dy)
    reg_loss, direct = 0.0, None
    if reg_c:
        reg_loss, g_reg = rate_regulariser(traj, reg_c, reg_target)
        direct = np.broadcast_to(g_reg, traj.z.shape)
    dv, da, dz = _local_backward(p, traj.psi, direct=direct, dy=dy, W_out=traj.W_out,
                                 W_rec=None if "recurrent" in stop else traj.W_rec,
                                 reset="reset" not in stop, adaptation="adaptation" not in stop,
                                 keep=keep_signals)
    G_in, G_rec = _grads_from_dv(traj, dv)
    return BPTTGradients(W_in=G_in, W_rec=G_rec, W_out=dW_out, b_out=db_out, dE_dz=dz,
                         dE_dv=dv if keep_signals else None, dE_da=da, reg_loss=reg_loss,
                         stop=stop, params=p)


# ============================================================================ eligibility traces

def _eligibility_accumulate(traj, signal, trace, filtered, reg_signal=None):
    """Forward eligibility recursion with O(B N (n_in + N)) state; returns G (n_rec, n_in + n_rec).

    G = sum_{b,t} signal_t * (e_bar_t if filtered else e_t) + reg_signal * sum_{b,t} e_t, with
    e_bar_t = kappa e_bar_{t-1} + e_t. For ``"bellec"`` traces eps^v depends on the presynaptic
    neuron only (s_in times the alpha-filtered drive); eps^a is kept for ALIF rows only (for LIF
    rows beta = 0 removes it from e and, in "lsnn" traces, from eps^v).
    """
    p = traj.params
    B, T, n = traj.z.shape
    Q = p.n_in + n
    alpha, rho, kappa, s_in, s_a, v_th = p.alpha, p.rho, p.kappa, p.s_in, p.s_a, p.v_th
    full_v = trace == "lsnn"
    alif_idx = np.flatnonzero(p.is_alif)
    alif = _as_index(alif_idx, n)
    n_a = alif_idx.size
    beta_a = p.beta[alif_idx]
    ev = np.zeros((B, n if full_v else 1, Q))
    ea = np.zeros((B, n_a, Q))
    ebar = np.zeros((B, n, Q)) if filtered else None
    acc = np.zeros((B, n, Q))
    e_sum = np.zeros((B, n, Q)) if reg_signal is not None else None
    e = np.empty((B, n, Q))
    tmp = np.empty((B, n, Q))
    tmp_a = np.empty((B, n_a, Q))
    psi_prev = np.zeros((B, n))
    u = np.empty((B, Q))
    for t in range(T):
        u[:, :p.n_in] = traj.x[:, t]
        if t:
            u[:, p.n_in:] = traj.z[:, t - 1]
        else:
            u[:, p.n_in:] = 0.0
        pa = psi_prev[:, alif]                                    # (B, n_a)
        # eps^a_t = s_a psi_{t-1} eps^v_{t-1} + (rho - s_a beta psi_{t-1}) eps^a_{t-1}
        if n_a:
            if full_v:   # eps^v_t gets + v_th beta psi_{t-1} eps^a_{t-1} (the old eps^a)
                ea_contrib = (v_th * beta_a * pa)[:, :, None] * ea
            ev_a = ev[:, alif] if full_v else ev
            np.multiply((s_a * pa)[:, :, None], ev_a, out=tmp_a)
            ea *= (rho - s_a * beta_a * pa)[:, :, None]
            ea += tmp_a
        # eps^v_t = (alpha - c_r v_th psi_{t-1}) eps^v_{t-1} [+ c_r v_th beta psi_{t-1} eps^a_{t-1}] + s_in u_t
        if full_v:
            ev *= (alpha - v_th * psi_prev)[:, :, None]
            if n_a:
                ev[:, alif] += ea_contrib
        else:
            ev *= alpha
        ev += s_in * u[:, None, :]
        psi = traj.psi[:, t]
        # e_t = psi_t (eps^v_t - beta eps^a_t)
        np.multiply(psi[:, :, None], ev, out=e)
        if n_a:
            e[:, alif] -= (beta_a * psi[:, alif])[:, :, None] * ea
        if filtered:
            ebar *= kappa
            ebar += e
            np.multiply(signal[:, t][:, :, None], ebar, out=tmp)
        else:
            np.multiply(signal[:, t][:, :, None], e, out=tmp)
        acc += tmp
        if e_sum is not None:
            e_sum += e
        psi_prev = psi
    G = acc.sum(axis=0)
    if e_sum is not None:
        G += reg_signal[:, None] * e_sum.sum(axis=0)
    return G


def eligibility_traces(traj, trace=None):
    """Materialised eligibility traces e[B, T, n_rec, n_in + n_rec] (columns: inputs, then
    recurrent presynaptic neurons), computed with the explicit 2x2 Jacobian per synapse.
    Memory B T N (n_in + N) floats: for small tests only."""
    p = traj.params
    trace = _resolve_trace(p, trace)
    c_r = 1.0 if trace == "lsnn" else 0.0
    B, T, n = traj.z.shape
    Q = p.n_in + n
    u = _presyn(traj)
    beta = p.beta[None, :, None]
    e = np.empty((B, T, n, Q))
    ev = np.zeros((B, n, Q))
    ea = np.zeros((B, n, Q))
    psi_prev = np.zeros((B, n, 1))
    for t in range(T):
        A11 = p.alpha - c_r * p.v_th * psi_prev
        A12 = c_r * p.v_th * beta * psi_prev
        A21 = p.s_a * psi_prev
        A22 = p.rho - p.s_a * beta * psi_prev
        ev, ea = A11 * ev + A12 * ea + p.s_in * u[:, t][:, None, :], A21 * ev + A22 * ea
        psi = traj.psi[:, t][:, :, None]
        e[:, t] = psi * ev - psi * beta * ea
        psi_prev = psi
    return e


# ============================================================================ e-prop

def eprop_gradients(traj, dE_dy, *, learning_signal="partial", feedback="symmetric", trace=None,
                    filtered=None, method="forward", reg_c=0.0, reg_target=0.01):
    """e-prop gradient (Bellec et al. 2020): dE/dW_pq ~ sum_t L_p,t e_bar_pq,t; readout exact.

    ``learning_signal``:
      * ``"partial"``: L_p,t = sum_k B_pk dE/dy_k,t (for cross-entropy, B (pi_t - pi*_t)) with
        kappa-filtered traces e_bar_t = kappa e_bar_{t-1} + e_t (spec 3.4); B = W_out^T for
        ``feedback="symmetric"``, else the given (n_rec, n_out) array (random e-prop).
      * ``"total"``: L = :meth:`BPTTGradients.learning_signal` (the exact dE/dz outside the trace),
        unfiltered traces; the result equals BPTT (AL-T2). The regulariser is then part of L.
      * an array (B, T, n_rec): used as given, with unfiltered traces unless ``filtered=True``.
    ``trace`` "bellec" (spec 3.2) | "lsnn" (spec 3.3) | None (= the params' form).
    ``method="forward"`` accumulates G = sum_t L_t e_bar_t online with O(B N (n_in + N)) state and
    no (T, N, N) tensor; ``method="adjoint"`` computes the same sum by the per-neuron adjoint of
    spec 4.3c (faster; L is backward-filtered by kappa when the traces are filtered).
    ``reg_c`` > 0 adds the rate regulariser (spec 3.5) as the direct signal
    2 c (f_j - f*) / (B T dt) on unfiltered traces.
    """
    p = traj.params
    trace = _resolve_trace(p, trace)
    if method not in ("forward", "adjoint"):
        raise ValueError(f"method must be 'forward' or 'adjoint' (got {method!r})")
    dW_out, db_out, dy = readout_gradients(traj, dE_dy)
    reg_loss, reg_signal = 0.0, None
    if isinstance(learning_signal, str):
        if learning_signal == "partial":
            Bfb = _feedback_matrix(traj, feedback)
            signal = _check_dE_dy(traj, dE_dy) @ Bfb.T
            filtered = True if filtered is None else filtered
        elif learning_signal == "total":
            bp = bptt_gradients(traj, dE_dy, reg_c=reg_c, reg_target=reg_target, keep_signals=True)
            signal = bp.learning_signal(trace)
            reg_loss = bp.reg_loss
            filtered = False if filtered is None else filtered
            if filtered:
                raise ValueError("the total learning signal already contains the readout filter; "
                                 "use filtered=False")
        else:
            raise ValueError(f"learning_signal must be 'partial', 'total' or an array of shape "
                             f"{traj.z.shape} (got {learning_signal!r})")
    else:
        signal = np.asarray(learning_signal, dtype=np.float64)
        if signal.shape != traj.z.shape:
            raise ValueError(f"a learning-signal array must have shape {traj.z.shape} (got {signal.shape})")
        filtered = False if filtered is None else filtered
    if reg_c and not (isinstance(learning_signal, str) and learning_signal == "total"):
        reg_loss, reg_signal = rate_regulariser(traj, reg_c, reg_target)
    if method == "forward":
        G = _eligibility_accumulate(traj, signal, trace, filtered, reg_signal)
        G_in, G_rec = _split(G, p)
    else:
        direct = _filter_backward(signal, p.kappa) if filtered else signal
        if reg_signal is not None:
            direct = direct + reg_signal
        dv, _, _ = _local_backward(p, traj.psi, direct=direct, reset=trace == "lsnn", adaptation=True)
        G_in, G_rec = _grads_from_dv(traj, dv)
    return EpropGradients(W_in=G_in, W_rec=G_rec, W_out=dW_out, b_out=db_out,
                          learning_signal=signal, reg_loss=reg_loss,
                          rates=traj.z.mean(axis=(0, 1)) / p.dt)


# ============================================================================ MDGL

def cell_types(sign, beta, W_out):
    """MDGL cell-type codes (spec 4.1), indices into :data:`CELL_TYPES`:
    0 E-LIF-internal, 1 E-LIF-output, 2 E-ALIF-internal, 3 E-ALIF-output, 4 I-LIF-internal,
    5 I-LIF-output. "output" = has a non-zero W_out synapse; I cells must be LIF."""
    sign = _check_sign(sign, np.size(beta))
    beta = np.asarray(beta, dtype=np.float64)
    W_out = np.asarray(W_out, dtype=np.float64)
    if W_out.ndim != 2 or W_out.shape[1] != sign.size:
        raise ValueError(f"W_out must have shape (n_out, {sign.size}) (got {W_out.shape})")
    bad = np.flatnonzero((sign < 0) & (beta != 0))
    if bad.size:
        raise ValueError(f"inhibitory neurons must be LIF (beta = 0) in the MDGL cell types; "
                         f"ALIF inhibitory at {bad.tolist()}")
    out = np.any(W_out != 0, axis=0).astype(np.int64)
    adaptive = (beta != 0).astype(np.int64)
    return np.where(sign > 0, 2 * adaptive + out, 4 + out)


def _check_sign(sign, n):
    sign = np.asarray(sign)
    if sign.shape != (n,):
        raise ValueError(f"sign must have one entry per recurrent neuron: expected shape ({n},), got {sign.shape}")
    if not np.all((sign == 1) | (sign == -1)):
        raise ValueError("sign entries must be +1 (excitatory) or -1 (inhibitory)")
    return sign.astype(np.int64)


def modulatory_table(W_rec, family, n_family=2):
    """w_bar[f_pre, f_post] = mean of the non-zero W_rec[post, pre] entries of the block from
    presynaptic family f_pre to postsynaptic family f_post (signed; 0 for an empty block)."""
    W_rec = np.asarray(W_rec, dtype=np.float64)
    table = np.zeros((n_family, n_family))
    for f_pre in range(n_family):
        for f_post in range(n_family):
            block = W_rec[np.ix_(family == f_post, family == f_pre)]
            nz = block[block != 0]
            table[f_pre, f_post] = nz.mean() if nz.size else 0.0
    return table


def modulation_weights(W_rec, sign, modulation="EI"):
    """(table, family, W_mod[j, p]) of MDGL's modulatory signal: W_mod is the type-specific mean
    weight w_bar[family(p), family(j)] on the adjacency of W_rec (``"EI"``, mode 3) or W_rec itself
    (``"exact"``, mode 2; table None). family: 0 = E, 1 = I (from ``sign``)."""
    family = (np.asarray(sign) < 0).astype(np.int64)
    if modulation == "EI":
        table = modulatory_table(W_rec, family, 2)
        return table, family, table[family[None, :], family[:, None]] * (W_rec != 0)
    if modulation == "exact":
        return None, family, W_rec
    raise ValueError(f"modulation must be 'EI' (MDGL, mode 3) or 'exact' (MDGLbca, mode 2) "
                     f"(got {modulation!r})")


def _mdgl_signals(traj, dE_dy, sign, cell_type, modulation, feedback):
    p = traj.params
    sign = _check_sign(sign, p.n_rec)
    if cell_type is not None:
        cell_type = np.asarray(cell_type)
        if cell_type.shape != (p.n_rec,) or not np.issubdtype(cell_type.dtype, np.integer):
            raise ValueError(f"cell_type must be an integer array of shape ({p.n_rec},)")
        if np.any((cell_type < 0) | (cell_type >= len(CELL_TYPES))):
            raise ValueError(f"cell_type codes must lie in 0..{len(CELL_TYPES) - 1} (see CELL_TYPES)")
        if np.any((cell_type >= 4) != (sign < 0)):
            raise ValueError("cell_type and sign disagree on which neurons are inhibitory")
    dW_out, db_out, dy = readout_gradients(traj, dE_dy)
    L = dy @ _feedback_matrix(traj, feedback).T          # dE/dz (partial) through the filtered readout
    table, family, W_mod = modulation_weights(traj.W_rec, sign, modulation)
    a = L * traj.psi                                   # secreted credit a_j,t = L_j,t psi_j,t
    m = np.zeros_like(L)
    m[:, :-1] = a[:, 1:] @ (p.s_in * W_mod)            # m_p,t = s_in sum_j W_mod[j, p] a_j,t+1
    del a
    return dW_out, db_out, L, m, table, family, W_mod, cell_type


def mdgl_gradients(traj, dE_dy, sign, *, cell_type=None, method="adjoint", modulation="EI",
                   trace=None, feedback="symmetric", reg_c=0.0, reg_target=0.01):
    """MDGL (Liu et al. 2021, ``NP_mode = 3``, spec 4): dE/dW_pq ~ sum_t (L_p,t + m_p,t) e_pq,t.

    * L_p,t = dE/dz_p,t through the kappa-filtered readout (symmetric feedback by default).
    * a_j,t = L_j,t psi_j,t; m_p,t = s_in sum_beta w_bar[type(p), beta] sum_{j in beta, p->j} a_j,t+1
      (one hop, one step; s_in = 1 - alpha in the LSNN form, 1 in the Bellec form). The 2x2 table
      w_bar (E/I families from ``sign``) is the mean of the non-zero W_rec entries per block.
      ``modulation="exact"`` uses W_jp itself (MDGLbca, mode 2).
    * e: unfiltered traces of form ``trace`` (default "lsnn" for LSNN params, spec 3.3).
    ``method``: "adjoint" (spec 4.3c, default): g_s = c_s lambda_s + J_s^T g_{s+1} per neuron with
    c_s = (psi_s, -beta psi_s), G_pq = s_in sum_s g_s[v] u_q,s; O(B T N) memory.
    "replay" (spec 4.3b): a second forward pass of the eligibility recursion with O(B N^2) state.
    ``reg_c``: the rate regulariser's direct signal is added on unfiltered traces (not modulated).
    ``cell_type`` (codes of :func:`cell_types`) is checked against ``sign`` and returned.
    W_out and b_out get the exact gradient.
    """
    p = traj.params
    trace = _resolve_trace(p, trace)
    if method not in ("adjoint", "replay"):
        raise ValueError(f"method must be 'adjoint' or 'replay' (got {method!r})")
    dW_out, db_out, L, m, table, family, W_mod, cell_type = _mdgl_signals(
        traj, dE_dy, sign, cell_type, modulation, feedback)
    lam = L + m
    reg_loss = 0.0
    if reg_c:
        reg_loss, g_reg = rate_regulariser(traj, reg_c, reg_target)
        lam = lam + g_reg
    if method == "adjoint":
        dv, _, _ = _local_backward(p, traj.psi, direct=lam, reset=trace == "lsnn", adaptation=True)
        G_in, G_rec = _grads_from_dv(traj, dv)
    else:
        G_in, G_rec = _split(_eligibility_accumulate(traj, lam, trace, filtered=False), p)
    return MDGLGradients(W_in=G_in, W_rec=G_rec, W_out=dW_out, b_out=db_out, L=L, m=m, table=table,
                         family=family, W_mod=W_mod, cell_type=cell_type, reg_loss=reg_loss)


def mdgl_gradients_materialised(traj, dE_dy, sign, *, cell_type=None, modulation="EI", trace=None,
                                feedback="symmetric", reg_c=0.0, reg_target=0.01, return_traces=False):
    """MDGL as the reference code computes it: e[B, T, N, n_in + N] stored explicitly, then
    G = sum_{b,t} lambda_t e_t (spec 4.3 "materialised"). For small tests only."""
    p = traj.params
    trace = _resolve_trace(p, trace)
    dW_out, db_out, L, m, table, family, W_mod, cell_type = _mdgl_signals(
        traj, dE_dy, sign, cell_type, modulation, feedback)
    lam = L + m
    reg_loss = 0.0
    if reg_c:
        reg_loss, g_reg = rate_regulariser(traj, reg_c, reg_target)
        lam = lam + g_reg
    e = eligibility_traces(traj, trace)
    G_in, G_rec = _split(np.einsum("btp,btpq->pq", lam, e), p)
    return MDGLGradients(W_in=G_in, W_rec=G_rec, W_out=dW_out, b_out=db_out, L=L, m=m, table=table,
                         family=family, W_mod=W_mod, cell_type=cell_type, reg_loss=reg_loss,
                         traces=e if return_traces else None)


# ============================================================================ finite differences

def finite_difference_gradient(params, W_in, W_rec, W_out, b_out, x, loss_fn, which, index=None, *,
                               eps=1e-6, smooth=None, reg_c=0.0, reg_target=0.01):
    """Central differences (E(w + eps) - E(w - eps)) / (2 eps) of E = loss_fn(y) [+ E_reg].

    ``loss_fn(y)`` returns E or (E, dE_dy). ``which`` in {"W_in", "W_rec", "W_out", "b_out"};
    ``index`` a list of index tuples (None: every entry; the W_rec diagonal is skipped and 0).
    Through the Heaviside only W_out and b_out have meaningful differences; for W_in / W_rec pass
    ``smooth=k`` (the sigmoid model of :func:`forward`). Raises RuntimeError if a perturbation
    changes the (hard-threshold) refractory mask, which would make the difference meaningless.
    """
    names = ("W_in", "W_rec", "W_out", "b_out")
    if which not in names:
        raise ValueError(f"which must be one of {names} (got {which!r})")
    if which in ("W_in", "W_rec") and smooth is None:
        raise ValueError("finite differences through the Heaviside are zero almost everywhere; "
                         "pass smooth=k to differentiate W_in or W_rec")
    weights = dict(zip(names, _check_weights(params, W_in, W_rec, W_out, b_out)))

    def energy(ws):
        traj = forward(params, ws["W_in"], ws["W_rec"], ws["W_out"], ws["b_out"], x, smooth=smooth,
                       record_state=False)
        E = loss_fn(traj.y)
        E = E[0] if isinstance(E, tuple) else E
        if reg_c:
            E += rate_regulariser(traj, reg_c, reg_target)[0]
        return float(E), traj.refractory

    _, mask0 = energy(weights)
    target = weights[which]
    all_entries = index is None
    if all_entries:
        index = list(np.ndindex(*target.shape))
    out = np.zeros(len(index))
    for k, idx in enumerate(index):
        idx = tuple(np.atleast_1d(idx))
        if which == "W_rec" and idx[0] == idx[1]:
            continue
        vals = []
        for sgn in (1.0, -1.0):
            ws = dict(weights)
            w = target.copy()
            w[idx] += sgn * eps
            ws[which] = w
            E, mask = energy(ws)
            if not np.array_equal(mask, mask0):
                raise RuntimeError(f"perturbing {which}{list(idx)} by {sgn * eps:g} changed the "
                                   f"refractory mask; use a smaller eps")
            vals.append(E)
        out[k] = (vals[0] - vals[1]) / (2.0 * eps)
    return out.reshape(target.shape) if all_entries else out
