"""Dendritic cortical microcircuit: pyramidal, inter- and output neurons with Latent Equilibrium,
and the plasticity rules of PAL (phaseless alignment learning), as GeNN 5 code strings.

References
----------
* K. Max, L. Kriener, G. Pineda García, T. Nowotny, I. Jaras, W. Senn, M. A. Petrovici, *Learning
  efficient backprojections across cortical hierarchies in real time*, Nature Machine Intelligence
  6:619-630 (2024), arXiv:2212.10249.
* J. Sacramento, R. Ponte Costa, Y. Bengio, W. Senn, *Dendritic cortical microcircuits approximate
  the backpropagation algorithm*, NeurIPS 2018.
* P. Haider et al., *Latent Equilibrium*, NeurIPS 2021, arXiv:2110.14549.

Conventions (project spec ``microcircuit_le_pal.md``): rate model, capacitance 1, rest 0, time in
ms, conductances and learning rates in 1/ms. Every synaptic input arrives through an additional
input variable filled in the synapse phase of the same step, i.e. a weighted sum of presynaptic
values of the previous step. The transfer function ``phi`` is chosen by name
(:mod:`genn_models.activations`); options assemble the code strings (no copied model families).

Latent Equilibrium (LE): with the effective (conductance-weighted steady-state) potential
``u_eff`` and ``u_dot = g_tot (u_eff - V)``, the prospective voltage
``u_hat = V + u_dot / g_tot`` equals ``u_eff``, so the rate ``phi(u_hat)`` has no membrane lag.
Without LE, ``u_hat`` is the (lagging) soma potential V.
"""
import math

from neurogen import VarAccess, VarAccessMode, create_neuron_model, create_weight_update_model

from .activations import activation_expression

RO = VarAccessMode.READ_ONLY


def _le_update(g_tot):
    """Shared Euler / Latent Equilibrium step (spec 4.1 steps 5-6)."""
    return f"""
    const scalar u_dot = {g_tot} * (u_eff - V);
    if (le != 0.0) {{
        u_hat = V + u_dot / {g_tot};
        V += dt * u_dot;
    }}
    else {{
        V += dt * u_dot;
        u_hat = V;
    }}"""


def pyramidal_neuron(activation="sigmoid", noise=True):
    """Hidden-layer pyramidal neuron: basal ``v_B``, apical ``v_A`` and soma ``V`` (spec 4.1).

    Per step, in this order::

        v_B <- I_up;   v_A <- I_down + I_inter                  (apical potential without noise)
        xi  <- (1 - dt/tau_xi) xi + sigma sqrt(dt/tau_xi) N(0,1) (OU noise, enters the apical input)
        h   <- h + (r - r_last) - (dt/tau_hp) h;  r_last <- r   (high-passed own rate, r of last step)
        u_eff = [g_b v_B + g_a (v_A + xi)] / g_tot,   g_tot = g_l + g_b + g_a
        u_dot = g_tot (u_eff - V);  LE: u_hat = V + u_dot/g_tot, V += dt u_dot  (else V += dt u_dot, u_hat = V)
        r <- phi(u_hat);  r_B <- phi(g_b/g_tot v_B)              (basal prediction of the rate)

    ========== ======================= ================ =====
    parameter  meaning                 shipped configs  units
    ========== ======================= ================ =====
    gl         leak conductance        0.03             1/ms
    gb         basal conductance       0.1              1/ms
    ga         apical conductance      0.06             1/ms
    sigma      OU noise amplitude      0 (FA), 0.01     -
    tau_xi     OU time constant        0.1              ms
    tau_hp     high-pass time constant 0.1              ms
    le         Latent Equilibrium 0/1  1                -
    threshold  bound of piecewise phi  15               -
    ========== ======================= ================ =====

    ``noise=False`` leaves the OU update out of the generated code (sigma = 0 runs draw no random
    numbers; xi stays at its initial value 0).
    """
    phi = activation_expression(activation, "u_hat")
    phi_b = activation_expression(activation, "gb_hat * v_B")
    noise_code = "xi = (1.0 - k_xi) * xi + xi_scale * gennrand_normal();" if noise else ""
    return create_neuron_model(
        f"pyramidal_{activation}{'' if noise else '_quiet'}",
        params=["gl", "gb", "ga", "sigma", "tau_xi", "tau_hp", "le", "threshold"],
        derived_params=[("g_tot", lambda p, dt: p["gl"] + p["gb"] + p["ga"]),
                        ("gb_hat", lambda p, dt: p["gb"] / (p["gl"] + p["gb"] + p["ga"])),
                        ("k_xi", lambda p, dt: dt / p["tau_xi"]),
                        ("xi_scale", lambda p, dt: p["sigma"] * math.sqrt(dt / p["tau_xi"])),
                        ("k_hp", lambda p, dt: dt / p["tau_hp"])],
        vars=[("V", "scalar"), ("v_B", "scalar"), ("v_A", "scalar"), ("xi", "scalar"), ("u_hat", "scalar"),
              ("r", "scalar"), ("r_last", "scalar"), ("r_B", "scalar"), ("h", "scalar")],
        additional_input_vars=[("I_up", "scalar", 0.0), ("I_down", "scalar", 0.0), ("I_inter", "scalar", 0.0)],
        sim_code=f"""
    v_B = I_up;
    v_A = I_down + I_inter;
    {noise_code}
    h += (r - r_last) - k_hp * h;
    r_last = r;
    const scalar u_eff = (gb * v_B + ga * (v_A + xi)) / g_tot;{_le_update("g_tot")}
    r = {phi};
    r_B = {phi_b};
    """)


def interneuron(activation="sigmoid"):
    """Lateral interneuron (one per neuron of the next layer) with somatic nudging (spec 4.2).

    Per step::

        r_last <- r;  v_D <- I_dend;  v_down <- I_down      (I_down: upper neuron's u_hat, one-to-one)
        u_eff = (g_d v_D + g_som v_down) / g_tot,  g_tot = g_l + g_d + g_som
        Euler / LE update as the pyramidal neuron;  r <- phi(u_hat);  r_D <- phi(g_d/(g_l+g_d) v_D)

    Parameters (shipped): gl 0.03, gd 0.1, gsom 0.06 (1/ms), le 1, threshold 15.
    """
    phi = activation_expression(activation, "u_hat")
    phi_d = activation_expression(activation, "gd_hat * v_D")
    return create_neuron_model(
        f"interneuron_{activation}",
        params=["gl", "gd", "gsom", "le", "threshold"],
        derived_params=[("g_tot", lambda p, dt: p["gl"] + p["gd"] + p["gsom"]),
                        ("gd_hat", lambda p, dt: p["gd"] / (p["gl"] + p["gd"]))],
        vars=[("V", "scalar"), ("v_D", "scalar"), ("v_down", "scalar"), ("u_hat", "scalar"),
              ("r", "scalar"), ("r_last", "scalar"), ("r_D", "scalar")],
        additional_input_vars=[("I_dend", "scalar", 0.0), ("I_down", "scalar", 0.0)],
        sim_code=f"""
    r_last = r;
    v_D = I_dend;
    v_down = I_down;
    const scalar u_eff = (gd * v_D + gsom * v_down) / g_tot;{_le_update("g_tot")}
    r = {phi};
    r_D = {phi_d};
    """)


def output_neuron(activation="sigmoid"):
    """Output pyramidal neuron with switchable teacher nudging and an on-line readout (spec 4.3, 7).

    Per step::

        v_B <- I_up;  v_T <- I_target;  high-pass h as the pyramidal neuron;  r_last <- r
        teacher on  (learning_on = 1): u_eff = (g_b v_B + g_tar v_T) / (g_l + g_b + g_tar)
        teacher off (learning_on = 0): u_eff = g_b v_B / (g_l + g_b)
        u_dot = (g_l + g_b + g_tar)(u_eff - V) in both cases (reference quirk 1, harmless under LE)
        r <- phi(u_hat);  r_B <- phi(g_b/(g_l+g_b) v_B)

    Readout (spec 7, quirk 3): a step counter ``s`` runs over the ``steps_per_sample`` steps of a
    sample (aligned with the input players); ``u_acc`` restarts at s = 0 (the stale first record is
    dropped) and adds u_hat after every step s = k * rec_every, k >= 1. Recording ``u_acc`` once per
    sample (after its last step) gives the sum whose argmax is the prediction. ``e_acc`` adds
    (u_hat - I_label)^2 on the same steps, where ``I_label`` carries the supervisor's rate in every
    stage (it never nudges), for the error curve.

    Parameters (shipped): gl 0.03, gb 0.1, gtar 0.06 (1/ms), tau_hp 0.1 ms, le 1, threshold 15,
    steps_per_sample 100, rec_every 20; ``learning_on`` is made dynamic by the network.
    """
    phi = activation_expression(activation, "u_hat")
    phi_b = activation_expression(activation, "gb_hat * v_B")
    return create_neuron_model(
        f"output_{activation}",
        params=["gl", "gb", "gtar", "tau_hp", "le", "threshold", "learning_on", "steps_per_sample", "rec_every"],
        derived_params=[("g_tot", lambda p, dt: p["gl"] + p["gb"] + p["gtar"]),
                        ("gb_hat", lambda p, dt: p["gb"] / (p["gl"] + p["gb"])),
                        ("k_hp", lambda p, dt: dt / p["tau_hp"])],
        vars=[("V", "scalar"), ("v_B", "scalar"), ("v_T", "scalar"), ("u_hat", "scalar"), ("r", "scalar"),
              ("r_last", "scalar"), ("r_B", "scalar"), ("h", "scalar"), ("u_acc", "scalar"), ("e_acc", "scalar"), ("s", "int")],
        additional_input_vars=[("I_up", "scalar", 0.0), ("I_target", "scalar", 0.0), ("I_label", "scalar", 0.0)],
        sim_code=f"""
    v_B = I_up;
    v_T = I_target;
    h += (r - r_last) - k_hp * h;
    r_last = r;
    scalar u_eff;
    if (learning_on != 0.0) {{
        u_eff = (gb * v_B + gtar * v_T) / g_tot;
    }}
    else {{
        u_eff = (gb * v_B) / (gl + gb);
    }}{_le_update("g_tot")}
    r = {phi};
    r_B = {phi_b};
    if (s == 0) {{
        u_acc = 0.0;
        e_acc = 0.0;
    }}
    else if (s % (int)rec_every == 0) {{
        u_acc += u_hat;
        e_acc += (u_hat - I_label) * (u_hat - I_label);
    }}
    s = (s + 1 == (int)steps_per_sample) ? 0 : s + 1;
    """)


# ---------------------------------------------------------------------------------- synapses

def _transmit(pre_value="r_pre"):
    return f"addToPost(g * {pre_value});"


def static_continuous():
    """Static continuous synapse: every step ``addToPost(g * r_pre)`` (FA feedback, frozen weights).

    ``g`` is READ_WRITE (never written here) so that batched seeds keep their own weights."""
    return create_weight_update_model(
        "mc_static",
        vars=[("g", "scalar")],
        pre_neuron_var_refs=[("r_pre", "scalar", RO)],
        synapse_dynamics_code=_transmit())


def one_to_one_gated():
    """Transmits ``learning_on * g * x_pre``: the supervisor reaches the output target only while
    learning is on (spec 5, table)."""
    return create_weight_update_model(
        "mc_gated",
        params=["learning_on"],
        vars=[("g", "scalar", VarAccess.READ_ONLY)],
        pre_neuron_var_refs=[("r_pre", "scalar", RO)],
        synapse_dynamics_code="addToPost(learning_on * g * r_pre);")


def dendritic_prediction_rule(error="rate"):
    """Low-pass filtered dendritic-prediction-error rule (Urbanczik & Senn 2014; spec 5.1-5.3).

    Per step, while ``learning_on`` (weight *and* increment frozen otherwise)::

        g     <- g + Delta
        Delta <- Delta + k_w (dt eta e_post r_pre_last - Delta),   k_w = dt / tau_w
        then transmit addToPost(g * r_pre)

    ``r_pre`` is the presynaptic rate of the previous step, ``r_pre_last`` the one before.
    ``error="rate"``: e_post = r_post - rB_post (forward rule with the basal prediction r_B, and the
    pyramid->interneuron rule with the dendritic prediction r_D); ``error="apical"``: e_post = -vA_post
    (interneuron->pyramid rule, silencing the apical compartment).

    Parameters: eta (1/ms), tau_w (ms; 100 forward, 0.01 = dt lateral), learning_on (dynamic).
    """
    if error == "rate":
        post_refs = [("r_post", "scalar", RO), ("rB_post", "scalar", RO)]
        e_post = "(r_post - rB_post)"
    elif error == "apical":
        post_refs = [("vA_post", "scalar", RO)]
        e_post = "(-vA_post)"
    else:
        raise ValueError(f"error must be 'rate' or 'apical', got {error!r}")
    return create_weight_update_model(
        f"mc_dendritic_{error}",
        params=["eta", "tau_w", "learning_on"],
        derived_params=[("k_w", lambda p, dt: dt / p["tau_w"]),
                        ("dt_eta", lambda p, dt: dt * p["eta"])],
        vars=[("g", "scalar"), ("delta", "scalar")],
        pre_neuron_var_refs=[("r_pre", "scalar", RO), ("r_pre_last", "scalar", RO)],
        post_neuron_var_refs=post_refs,
        synapse_dynamics_code=f"""
    if (learning_on != 0.0) {{
        g += delta;
        delta += k_w * (dt_eta * {e_post} * r_pre_last - delta);
    }}
    {_transmit()}
    """)


def pal_feedback_rule():
    """PAL backward rule for the top-down weights B (spec 5.4)::

        B <- B + dt eta_bw (xi_post h_pre - alpha B)      while learning_on; then addToPost(B r_pre)

    ``xi_post`` is the apical OU noise of the receiving (lower) pyramid, ``h_pre`` the high-passed
    rate of the sending (upper) neuron; ``alpha`` is a weight decay (1e-6). Parameters: eta (1/ms),
    alpha, learning_on (dynamic).
    """
    return create_weight_update_model(
        "mc_pal",
        params=["eta", "alpha", "learning_on"],
        derived_params=[("dt_eta", lambda p, dt: dt * p["eta"])],
        vars=[("g", "scalar")],
        pre_neuron_var_refs=[("r_pre", "scalar", RO), ("h_pre", "scalar", RO)],
        post_neuron_var_refs=[("xi_post", "scalar", RO)],
        synapse_dynamics_code=f"""
    if (learning_on != 0.0) {{
        g += dt_eta * (xi_post * h_pre - alpha * g);
    }}
    {_transmit()}
    """)
