r"""Recurrent LIF / ALIF spiking networks with a leaky readout, trained online with e-prop.

GeNN 5 code strings for the models of project spec ``alif_eprop_mdgl.md`` (sections 2, 3, 8),
with exactly the numerical conventions of the NumPy reference :mod:`networks.snn_gradients`
(``forward`` and ``eprop_gradients``), which the tests use as the shadow.

References
----------
* G. Bellec, F. Scherr, A. Subramoney, E. Hajek, D. Salaj, R. Legenstein, W. Maass, *A solution to
  the learning dilemma for recurrent networks of spiking neurons*, Nat. Commun. 11:3625 (2020).
  [e-prop, eligibility traces, ALIF neuron in the form of spec 2.1]
* G. Bellec, D. Salaj, A. Subramoney, R. Legenstein, W. Maass, *Long short-term memory and
  learning-to-learn in networks of spiking neurons*, NeurIPS 2018. [LSNN scaling, spec 2.2]
* Y. H. Liu, S. Smith, S. Mihalas, E. Shea-Brown, U. Suembuel, *Cell-type-specific neuromodulation
  guides synaptic credit assignment in a spiking neural network*, PNAS 118(51):e2111821118 (2021).
  [LSNN form with the full 2x2 eligibility Jacobian, spec 3.3]
* J. C. Knight, T. Nowotny, *Efficient GPU training of LSNNs using eProp*, NICE 2022 (the GeNN /
  mlGeNN mapping of e-prop onto weight-update models that this module follows, spec 8).

Neuron (paper time t, dt = 1 ms; s_in = 1, s_a = 1 in the Bellec form, s_in = 1 - alpha,
s_a = 1 - rho with ``lsnn_scaling``)::

    v_t   = alpha v_{t-1} + s_in (sum_i W^in_ji x_i,t + sum_i W^rec_ji z_i,t-1) - v_th z_j,t-1
    a_t   = rho a_{t-1} + s_a z_{t-1}                 (ALIF only; A_t = v_th + beta a_t)
    v~_t  = (v_t - v_th - beta a_t) / v_th
    z_t   = 1 if v~_t > 0 and not refractory, else 0  (strict: v~ = 0 does not spike)
    psi_t = (gamma / v_th) max(0, 1 - |v~_t|), 0 while refractory
    y_k,t = kappa y_k,t-1 + sum_j W^out_kj z_j,t + b_k                  (readout, spec 2.5)

alpha = exp(-dt/tau_m), rho = exp(-dt/tau_a), kappa = exp(-dt/tau_out). Reset subtracts the
baseline threshold v_th one step after the spike; the voltage integrates while refractory.

Mapping onto GeNN steps (genn_api.md section 9: synapse phase, then neuron phase)
---------------------------------------------------------------------------------
Every input reaches its target through a synapse in the synapse phase, which reads the neuron
state left by the previous step, so each hop costs one step:

* input -> recurrent: ``addToPost(g * X_pre)`` with X streamed into the input population at the
  start of the step: x_t arrives in step t (no delay, as in the equations);
* recurrent -> recurrent: ``addToPost(g * Z_pre)`` (continuous) or ``addToPost(g)`` on a spike:
  z_{t-1} arrives in step t, the one-step delay of the equations;
* recurrent -> readout: z_t arrives in step t + 1, so the readout of GeNN step n shows the paper's
  y_{n-1} (:data:`READOUT_LAG` = 1). The readout adds its bias from its second step on (a step
  counter ``Step``, reset with the trial), and the target must be streamed one step late
  (``set_stream("Target", y_star, start_timestep=trial_start + 1)``);
* readout error E -> recurrent learning signal L: ``addToPre(g * E_post)`` (symmetric feedback,
  B = W_out^T) or a feedback synapse ``addToPost(b * E_pre)`` (fixed random B) into the additional
  input ``ISynFeedback``; the neuron stores it as ``L``. L_t = sum_k B_jk E_k,t is therefore held by
  the neuron after step t + 2 and seen by synapse dynamics in step t + 3.

The e-prop synapse therefore runs :data:`EPROP_LAG` = 3 steps behind the network: in step s it
processes the paper's step t = s - 3, reading psi_t and the presynaptic trace from short delay
lines (WU post/pre variables shifted in ``post_dynamics_code`` / ``pre_dynamics_code``). The
result is the exact online sum of Bellec et al. (eq. 1 with the partial learning signal), not an
approximation: after T + :data:`FLUSH_STEPS` steps, DeltaG = sum_{t<T} L_t e_bar_t for every
batch instance. The extra steps need no input; the readout's error window (``error_end = T``)
keeps errors of t >= T out of the sums.

e-prop (spec 3.2, Bellec form; u_t = x_t for input synapses, u_t = z_{t-1} for recurrent ones)::

    eps^v_t   = s_in zbar_t,       zbar_t = alpha zbar_{t-1} + u_t          (per presynaptic neuron)
    e_t       = psi_t (eps^v_t - beta eps^a_t)
    eps^a_t+1 = s_a psi_t eps^v_t + (rho - s_a beta psi_t) eps^a_t          (ALIF only)
    e_bar_t   = kappa e_bar_{t-1} + e_t                                     (spec 10 quirk 6: kappa)
    DeltaG   += L_t e_bar_t
    readout:  DeltaG_kj += E_k,t zbar^kappa_j,t,   DeltaBias_k += E_k,t sum_{s<=t} kappa^(t-s)

with E_t = error_scale (y_t - y*_t) inside the error window (= dE/dy_t of
``snn_gradients.mse_loss``: error_scale 1 for ``reduction="sum"``, 1/B for ``"mean"``) and
L_t = sum_k B_jk E_k,t. These are gradients (dE/dW), not updates: an optimiser applies
-eta DeltaG. ``trace="lsnn"`` (spec 3.3) keeps the full 2x2 Jacobian per synapse::

    eps^v_t   = (alpha - v_th psi_{t-1}) eps^v_{t-1} + v_th beta psi_{t-1} eps^a_{t-1} + s_in u_t
    eps^a_t   = s_a psi_{t-1} eps^v_{t-1} + (rho - s_a beta psi_{t-1}) eps^a_{t-1}

Refractoriness (spec 2.3; ``n_ref`` in the convention's own units, as in ``ALIFParams``):

* ``"eprop"``: counter r <- clip(r + n_ref z - 1, 0, n_ref) after the spike test; refractory
  while the old r > 0 (n_ref - 1 blocked steps);
* ``"lsnn"``: r <- n_ref if z_{t-1} else max(r - 1, 0) before the spike test; refractory while
  r > 0 (n_ref blocked steps).

Variables of a recurrent neuron: ``V``, ``A`` (ALIF), ``Z`` (0/1 spike of this step), ``Psi``,
``RefracCount`` (int), ``L`` (learning signal, see above), ``Beta`` (with ``beta_var``: per-neuron
READ_ONLY beta, so that one population can mix LIF (0) and ALIF neurons). Batch state is
duplicated per batch instance; weights ``g`` and ``Bias`` are READ_ONLY (shared).

A new trial needs every READ_WRITE variable (neurons, synapses, WU pre/post delay lines, readout
``Step``) back at zero; the gradients ``DeltaG`` / ``DeltaBias`` are zeroed after use
(:func:`batch_reduce` with ``zero=True``).
"""
import math

from neurogen import (CustomUpdateVarAccess, VarAccess, VarAccessMode, create_custom_update_model,
                      create_neuron_model, create_weight_update_model)

RO = VarAccessMode.READ_ONLY
RW = VarAccessMode.READ_WRITE

#: the readout of GeNN step n shows the paper's y_{n-1}
READOUT_LAG = 1
#: an e-prop synapse processes the paper's step t in GeNN step t + EPROP_LAG
EPROP_LAG = 3
#: steps to run after the last input step for the online sums to be complete
FLUSH_STEPS = EPROP_LAG

REFRACTORY_CONVENTIONS = ("eprop", "lsnn")
TRACE_FORMS = ("bellec", "lsnn")


def _check_option(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed} (got {value!r})")


def _decay(tau_name):
    """Derived parameter exp(-dt/tau) (tau = inf gives 1)."""
    return lambda p, dt: math.exp(-dt / p[tau_name])


def _scales(lsnn_scaling):
    """Derived s_in (input scale) and s_a (adaptation increment) of spec 2.1 / 2.2."""
    if lsnn_scaling:
        return [("s_in", lambda p, dt: 1.0 - math.exp(-dt / p["tau_m"])),
                ("s_a", lambda p, dt: 1.0 - math.exp(-dt / p["tau_a"]))]
    return [("s_in", lambda p, dt: 1.0), ("s_a", lambda p, dt: 1.0)]


def _shift(names, new_value):
    """Delay-line code: names[k] <- names[k-1] (oldest first), names[0] <- new_value."""
    lines = [f"{names[k]} = {names[k - 1]};" for k in range(len(names) - 1, 0, -1)]
    lines.append(f"{names[0]} = {new_value};")
    return "\n".join(lines)


# ============================================================================ neurons

def alif_neuron(adaptive=True, lsnn_scaling=False, refractory="eprop", beta_var=False):
    """Recurrent LIF (``adaptive=False``) or ALIF neuron of spec 2.1 / 2.2 (see module doc).

    Per step (``zPrev`` = Z of the previous step; Isyn = recurrent + input current, ISynFeedback =
    learning signal input)::

        V <- alpha V + s_in Isyn - v_th zPrev
        A <- rho A + s_a zPrev                                   (ALIF)
        [lsnn]  RefracCount <- zPrev ? n_ref : max(RefracCount - 1, 0)
        refractory = RefracCount > 0
        v~ = (V - v_th - beta A) / v_th
        Z <- (v~ > 0 and not refractory);  Psi <- refractory ? 0 : (gamma / v_th) max(0, 1 - |v~|)
        [eprop] RefracCount <- clip(RefracCount + n_ref Z - 1, 0, n_ref)
        L <- ISynFeedback

    A spike is emitted when Z = 1 (no reset code: the reset is the -v_th zPrev term).

    ========== ============================================ ===================== =====
    parameter  meaning                                      defaults (spec 6)     units
    ========== ============================================ ===================== =====
    tau_m      membrane time constant                       20                    ms
    tau_a      adaptation time constant (ALIF)              2000                  ms
    v_th       baseline threshold                           0.6 (e-prop), 0.01    -
    beta       adaptation strength (ALIF, not beta_var)     0.0174 / 1.8 (LSNN)   -
    gamma      pseudo-derivative dampening                  0.3                   -
    n_ref      refractory steps, convention ``refractory``  5                     steps
    ========== ============================================ ===================== =====

    ``lsnn_scaling`` scales the input by 1 - alpha and the adaptation increment by 1 - rho
    (W_Bellec = (1 - alpha) W_LSNN, beta_Bellec = (1 - rho) beta_LSNN). ``beta_var`` replaces the
    parameter beta by a READ_ONLY per-neuron variable ``Beta`` (requires ``adaptive``).
    """
    _check_option("refractory", refractory, REFRACTORY_CONVENTIONS)
    if beta_var and not adaptive:
        raise ValueError("beta_var needs adaptive=True (a LIF neuron has no adaptation)")
    params = ["tau_m", "v_th", "gamma", ("n_ref", "int")]
    derived = [("alpha", _decay("tau_m")), ("psi_scale", lambda p, dt: p["gamma"] / p["v_th"])]
    vars_ = [("V", "scalar"), ("Z", "scalar"), ("Psi", "scalar"), ("RefracCount", "int"), ("L", "scalar")]
    if adaptive:
        params.insert(1, "tau_a")
        if not beta_var:
            params.append("beta")
        derived += [("rho", _decay("tau_a"))]
        vars_.insert(1, ("A", "scalar"))
        if beta_var:
            vars_.append(("Beta", "scalar", VarAccess.READ_ONLY))
    if lsnn_scaling:
        derived.append(("s_in", lambda p, dt: 1.0 - math.exp(-dt / p["tau_m"])))
        if adaptive:
            derived.append(("s_a", lambda p, dt: 1.0 - math.exp(-dt / p["tau_a"])))
    drive = "s_in * Isyn" if lsnn_scaling else "Isyn"
    code = ["const scalar zPrev = Z;",
            f"V = alpha * V + {drive} - v_th * zPrev;"]
    if adaptive:
        code.append(f"A = rho * A + {'s_a * zPrev' if lsnn_scaling else 'zPrev'};")
    if refractory == "lsnn":
        code.append("RefracCount = (zPrev != 0.0) ? n_ref : ((RefracCount > 0) ? RefracCount - 1 : 0);")
    code.append("const bool refractory = RefracCount > 0;")
    if adaptive:
        code.append(f"const scalar vScaled = (V - v_th - {'Beta' if beta_var else 'beta'} * A) / v_th;")
    else:
        code.append("const scalar vScaled = (V - v_th) / v_th;")
    code += ["Z = (vScaled > 0.0 && !refractory) ? 1.0 : 0.0;",
             "Psi = refractory ? 0.0 : psi_scale * fmax(0.0, 1.0 - fabs(vScaled));"]
    if refractory == "eprop":
        code += ["const int newCount = RefracCount + ((Z != 0.0) ? n_ref : 0) - 1;",
                 "RefracCount = (newCount < 0) ? 0 : ((newCount > n_ref) ? n_ref : newCount);"]
    code.append("L = ISynFeedback;")
    name = (f"{'alif' if adaptive else 'lif'}_{'lsnn' if lsnn_scaling else 'bellec'}_{refractory}"
            f"{'_betavar' if beta_var else ''}")
    return create_neuron_model(
        name, params=params, derived_params=derived, vars=vars_,
        additional_input_vars=[("ISynFeedback", "scalar", 0.0)],
        sim_code="\n".join(code),
        threshold_condition_code="Z != 0.0")


def lif_neuron(**options):
    """:func:`alif_neuron` with ``adaptive=False``."""
    return alif_neuron(adaptive=False, **options)


def input_neuron():
    """Input population: one variable ``X`` (spike counts or rates per step), streamed from an array
    with ``pop.stream_var("X")`` / ``pop.set_stream("X", x)``; no dynamics, no spikes."""
    return create_neuron_model("eprop_input", vars=[("X", "scalar")])


def readout_neuron():
    """Leaky readout with a per-step regression error (spec 2.5, paper form).

    Per step (``Step`` counts steps since the trial began; the readout lags by one step, see the
    module doc, so in GeNN step n it computes the paper's y_{n-1}, t = Step - 1)::

        on = Step > 0
        Y <- kappa Y + Isyn + on Bias                 (Isyn = sum_j W_out_kj z_j,t)
        BFilter <- kappa BFilter + on                 (sum_{s<=t} kappa^(t-s): the bias trace)
        E <- error_scale (Y - Target) if error_start <= t < error_end else 0
        DeltaBias += E BFilter                        (exact dE/db of the filtered readout)
        Step <- Step + 1

    ``Target`` is streamed one step late (row k = y*_k at step trial_start + 1 + k).

    ============ ================================================= =====
    parameter    meaning                                           units
    ============ ================================================= =====
    tau_out      readout time constant (20 in every spec setup)    ms
    error_scale  1 (loss summed over the batch) or 1/B (mean)      -
    error_start  first paper step with an error (int)              steps
    error_end    first paper step without an error (int; set T)    steps
    ============ ================================================= =====

    Variables: Y, E, Target (streamed), Step (int), Bias (READ_ONLY, trained), DeltaBias, BFilter.
    A softmax / cross-entropy error needs reductions across the readout neurons in every step and
    is not part of this model.
    """
    return create_neuron_model(
        "eprop_readout",
        params=["tau_out", "error_scale", ("error_start", "int"), ("error_end", "int")],
        derived_params=[("kappa", _decay("tau_out"))],
        vars=[("Y", "scalar"), ("E", "scalar"), ("Target", "scalar"), ("Step", "int"),
              ("Bias", "scalar", VarAccess.READ_ONLY), ("DeltaBias", "scalar"), ("BFilter", "scalar")],
        sim_code="""
    const scalar on = (Step > 0) ? 1.0 : 0.0;
    Y = kappa * Y + Isyn + on * Bias;
    BFilter = kappa * BFilter + on;
    const int tPaper = Step - 1;
    E = (tPaper >= error_start && tPaper < error_end) ? error_scale * (Y - Target) : 0.0;
    DeltaBias += E * BFilter;
    Step += 1;
    """)


# ============================================================================ synapses

def eprop_synapse(presynaptic="recurrent", adaptive=True, beta_var=False, trace="bellec",
                  lsnn_scaling=False, transmission="continuous", no_autapse=False, sum_traces=False):
    """e-prop weight update for input -> recurrent or recurrent -> recurrent connections (spec 3.2,
    3.3, 8), exact online form with :data:`EPROP_LAG` (see module doc).

    In GeNN step s the synapse transmits (``addToPost(g * X_pre)`` for inputs;
    ``addToPost(g * Z_pre)`` every step, or ``addToPost(g)`` on a presynaptic spike with
    ``transmission="spike"``, for recurrent connections) and processes the paper's step
    t = s - 3::

        Bellec trace:  epsV = s_in ZFilter_d      (d = 2 for inputs, 3 for recurrent: zbar of u_t)
                       e = psi (epsV - beta EpsA);  EpsA <- s_a psi epsV + (rho - s_a beta psi) EpsA
        LSNN trace:    epsV = EpsV + s_in U_d;  e = psi (epsV - beta EpsA)
                       EpsV <- (alpha - v_th psi) epsV + v_th beta psi EpsA
                       EpsA <- s_a psi epsV + (rho - s_a beta psi) EpsA
        EBar <- kappa EBar + e;   DeltaG += L_post EBar

    with psi = Psi_2 = psi_t (post delay line Psi_0..Psi_2 of the neuron's Psi). LIF targets
    (``adaptive=False``) have no EpsA. ``no_autapse`` leaves DeltaG of id_pre == id_post at zero
    (for a dense recurrent group within one population; the weight there must be 0).
    ``sum_traces`` adds ``ESum += e`` (the unfiltered traces summed over the trial): a learning
    signal that is constant in time, such as the rate regulariser's 2 c (f_j - f*) / (B T dt),
    then gives its gradient after the trial as L_j ESum_ji, online and without a second pass.

    References: pre ``X_pre`` (input; map to the input population's ``X``) or ``Z_pre``
    (recurrent; map to ``Z``); post ``Psi_post`` -> ``Psi``, ``L_post`` -> ``L`` and, with
    ``beta_var``, ``Beta_post`` -> ``Beta``.

    =========== =============================================== =====
    parameter   meaning                                         units
    =========== =============================================== =====
    tau_m       postsynaptic membrane time constant (alpha)     ms
    tau_out     readout time constant (kappa of e_bar)          ms
    tau_a       adaptation time constant (ALIF targets)         ms
    beta        adaptation strength (ALIF targets, not beta_var) -
    v_th        threshold (``trace="lsnn"`` only)               -
    =========== =============================================== =====

    Variables: ``g`` (READ_ONLY weight), ``EBar``, ``DeltaG`` (+ ``EpsA`` for ALIF targets,
    ``EpsV`` for the LSNN trace); pre variables ``ZFilter``, ``ZFilter_1``.. (Bellec) or
    ``U_0``.. (LSNN trace); post variables ``Psi_0``, ``Psi_1``, ``Psi_2``. All zero at trial start.
    """
    _check_option("presynaptic", presynaptic, ("input", "recurrent"))
    _check_option("trace", trace, TRACE_FORMS)
    _check_option("transmission", transmission, ("continuous", "spike"))
    if beta_var and not adaptive:
        raise ValueError("beta_var needs adaptive=True")
    if presynaptic == "input" and transmission == "spike":
        raise ValueError("input synapses transmit the streamed value X every step (transmission='continuous')")
    recurrent = presynaptic == "recurrent"
    act = "Z_pre" if recurrent else "X_pre"
    # In the synapse phase of step s the neurons hold the state after step s - 1. Paper step
    # t = s - EPROP_LAG needs psi_t (EPROP_LAG - 1 steps old) and the trace of u_t: u_t = x_t
    # for inputs (EPROP_LAG - 1 steps old), u_t = z_{t-1} for recurrent synapses (EPROP_LAG).
    d = EPROP_LAG - 1 + (1 if recurrent else 0)
    psi_lag = EPROP_LAG - 1
    beta = "Beta_post" if beta_var else "beta"

    params = ["tau_m", "tau_out"]
    derived = [("alpha", _decay("tau_m")), ("kappa", _decay("tau_out"))]
    if adaptive:
        params.append("tau_a")
        if not beta_var:
            params.append("beta")
        derived.append(("rho", _decay("tau_a")))
    if trace == "lsnn":
        params.append("v_th")
    derived += _scales(lsnn_scaling) if adaptive else _scales(lsnn_scaling)[:1]
    s_in = "s_in * " if lsnn_scaling else ""
    s_a = "s_a * " if lsnn_scaling else ""

    vars_ = [("g", "scalar", VarAccess.READ_ONLY), ("EBar", "scalar"), ("DeltaG", "scalar")]
    if sum_traces:
        vars_.append(("ESum", "scalar"))
    if adaptive:
        vars_.insert(1, ("EpsA", "scalar"))
    if trace == "lsnn":
        vars_.insert(1, ("EpsV", "scalar"))
    if trace == "bellec":
        pre_names = ["ZFilter"] + [f"ZFilter_{k}" for k in range(1, d + 1)]
        pre_code = (_shift(pre_names[1:], "ZFilter") + "\n" if d else "") + f"ZFilter = alpha * ZFilter + {act};"
    else:
        pre_names = [f"U_{k}" for k in range(d + 1)]
        pre_code = _shift(pre_names, act)
    post_names = [f"Psi_{k}" for k in range(psi_lag + 1)]
    post_code = _shift(post_names, "Psi_post")

    code = []
    if transmission == "continuous" and recurrent:
        code.append(f"addToPost(g * {act});")
    elif transmission == "continuous":
        # inputs are spike counts, zero in ~99 % of steps: skipping the zero terms leaves every
        # sum unchanged (x + 0 = x) and saves the read-modify-write of the target's input per
        # synapse (a third of the input synapses' time); the branch is the same for a whole row
        code.append(f"if ({act} != 0.0) {{\n    addToPost(g * {act});\n}}")
    # initialisers of declarations are parenthesised: neurogen's translator reads a name that
    # follows "*" at the top level of a declaration as a further declarator ("scalar a = b * c;"
    # is taken to declare c) and rejects model names there
    code.append(f"const scalar psi = {post_names[-1]};")
    if trace == "bellec":
        code.append(f"const scalar epsV = ({s_in}{pre_names[-1]});")
    else:
        code.append(f"const scalar epsV = (EpsV + {s_in}{pre_names[-1]});")
    if adaptive:
        code.append(f"const scalar e = (psi * (epsV - {beta} * EpsA));")
    else:
        code.append("const scalar e = (psi * epsV);")
    if trace == "lsnn":
        if adaptive:
            code.append(f"EpsV = (alpha - v_th * psi) * epsV + v_th * {beta} * psi * EpsA;")
        else:
            code.append("EpsV = (alpha - v_th * psi) * epsV;")
    if adaptive:
        code.append(f"EpsA = {s_a}psi * epsV + (rho - {s_a}{beta} * psi) * EpsA;")
    code.append("EBar = kappa * EBar + e;")
    learn = "DeltaG += L_post * EBar;" + (" ESum += e;" if sum_traces else "")
    if no_autapse:
        code.append(f"if (id_pre != id_post) {{\n    {learn}\n}}")
    else:
        code.append(learn)

    post_refs = [("Psi_post", "scalar", RO), ("L_post", "scalar", RO)]
    if beta_var:
        post_refs.append(("Beta_post", "scalar", RO))
    name = (f"eprop_{presynaptic}_{'alif' if adaptive else 'lif'}_{trace}{'_lsnn' if lsnn_scaling else ''}"
            f"{'_betavar' if beta_var else ''}_{transmission}{'_noautapse' if no_autapse else ''}"
            f"{'_esum' if sum_traces else ''}")
    return create_weight_update_model(
        name, params=params, derived_params=derived, vars=vars_,
        pre_vars=[(n, "scalar") for n in pre_names], post_vars=[(n, "scalar") for n in post_names],
        pre_neuron_var_refs=[(act, "scalar", RO)], post_neuron_var_refs=post_refs,
        pre_dynamics_code=pre_code, post_dynamics_code=post_code,
        pre_spike_syn_code="addToPost(g);" if transmission == "spike" else None,
        synapse_dynamics_code="\n".join(code))


def readout_synapse(feedback=True, transmission="continuous"):
    """Recurrent -> readout connection with the exact readout gradient (spec 3.4)::

        addToPost(g * Z_pre)                (or addToPost(g) on a spike: z_t reaches y in step t + 1)
        addToPre(g * E_post)                (``feedback=True``: symmetric e-prop, B = W_out^T, into the
                                             presynaptic neuron's ISynFeedback: set
                                             ``sg.pre_target_var = "ISynFeedback"``)
        DeltaG += E_post ZOut_1             (dE/dW_out_kj = sum_t E_k,t zbar^kappa_j,t)

    ``E_post`` in step s is the readout error of the paper's step s - 2 (readout lag 1 + one hop);
    the pre variables ``ZOut`` (kappa-filtered spikes, updated after each step) and its one-step
    delay ``ZOut_1`` align the trace with it.

    Parameter: ``tau_out`` (ms). References: ``Z_pre`` -> ``Z``, ``E_post`` -> ``E``.
    Variables: ``g`` (READ_ONLY), ``DeltaG``; pre variables ``ZOut``, ``ZOut_1``.
    """
    _check_option("transmission", transmission, ("continuous", "spike"))
    code = []
    if transmission == "continuous":
        code.append("addToPost(g * Z_pre);")
    if feedback:
        code.append("addToPre(g * E_post);")
    code.append("DeltaG += E_post * ZOut_1;")
    return create_weight_update_model(
        f"eprop_readout_{'symfb' if feedback else 'nofb'}_{transmission}",
        params=["tau_out"], derived_params=[("kappa", _decay("tau_out"))],
        vars=[("g", "scalar", VarAccess.READ_ONLY), ("DeltaG", "scalar")],
        pre_vars=[("ZOut", "scalar"), ("ZOut_1", "scalar")],
        pre_neuron_var_refs=[("Z_pre", "scalar", RO)], post_neuron_var_refs=[("E_post", "scalar", RO)],
        pre_dynamics_code="ZOut_1 = ZOut;\nZOut = kappa * ZOut + Z_pre;",
        pre_spike_syn_code="addToPost(g);" if transmission == "spike" else None,
        synapse_dynamics_code="\n".join(code))


def feedback_synapse():
    """Readout -> recurrent feedback with fixed weights (random e-prop, spec 3.4): every step
    ``addToPost(g * E_pre)``; set ``sg.post_target_var = "ISynFeedback"``. ``g`` (READ_ONLY) holds
    B_jk for the synapse k -> j. Reference ``E_pre`` -> the readout's ``E``."""
    return create_weight_update_model(
        "eprop_feedback", vars=[("g", "scalar", VarAccess.READ_ONLY)],
        pre_neuron_var_refs=[("E_pre", "scalar", RO)],
        synapse_dynamics_code="addToPost(g * E_pre);")


# ============================================================================ custom updates

def batch_reduce(zero=True):
    """Custom update summing a per-batch gradient over the batch: ``Sum = DeltaG`` into a
    REDUCE_BATCH_SUM variable ``Sum`` (no batch dimension); ``zero`` also clears ``DeltaG``
    (READ_WRITE reference) for the next trial. Reference ``DeltaG`` -> a synapse group's DeltaG
    (``create_wu_var_ref``) or the readout's DeltaBias (``create_var_ref``)."""
    return create_custom_update_model(
        f"eprop_batch_reduce{'_zero' if zero else ''}",
        vars=[("Sum", "scalar", CustomUpdateVarAccess.REDUCE_BATCH_SUM)],
        var_refs=[("DeltaG", "scalar", RW if zero else RO)],
        update_code="Sum = DeltaG;\nDeltaG = 0.0;" if zero else "Sum = DeltaG;")
