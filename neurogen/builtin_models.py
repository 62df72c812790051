"""Built-in models by name, with GeNN 5.4 dynamics (genn_api.md §12), written as code strings."""
import math

from scipy.stats import binom

from .models import (create_current_source_model, create_custom_update_model, create_neuron_model,
                     create_postsynaptic_model, create_sparse_connect_init_snippet, create_var_init_snippet,
                     create_weight_update_model)
from .types import VarAccess, VarAccessMode

# ----------------------------------------------------------------------------- neurons
LIF = create_neuron_model(
    "LIF",
    params=["C", "TauM", "Vrest", "Vreset", "Vthresh", "Ioffset", "TauRefrac"],
    derived_params=[("ExpTC", lambda p, dt: math.exp(-dt / p["TauM"])),
                    ("Rmembrane", lambda p, dt: p["TauM"] / p["C"])],
    vars=[("V", "scalar"), ("RefracTime", "scalar")],
    sim_code="""
    if (RefracTime <= 0.0) {
        scalar alpha = ((Isyn + Ioffset) * Rmembrane) + Vrest;
        V = alpha - (ExpTC * (alpha - V));
    }
    else {
        RefracTime -= dt;
    }
    """,
    threshold_condition_code="RefracTime <= 0.0 && V >= Vthresh",
    reset_code="""
    V = Vreset;
    RefracTime = TauRefrac;
    """)
LIF.__doc__ = """Leaky integrate-and-fire neuron, exact exponential integration of
tau_m dV/dt = -(V - Vrest) + R (Isyn + Ioffset), R = TauM / C, with absolute refractoriness."""

Poisson = create_neuron_model(
    "Poisson",
    params=["rate"],
    derived_params=[("isi", lambda p, dt: 1000.0 / (p["rate"] * dt) if p["rate"] > 0 else math.inf)],
    vars=[("timeStepToSpike", "scalar")],
    sim_code="""
    if (timeStepToSpike <= 0.0) {
        timeStepToSpike += isi * gennrand_exponential();
    }
    timeStepToSpike -= 1.0;
    """,
    threshold_condition_code="timeStepToSpike <= 0.0")

SpikeSourceArray = create_neuron_model(
    "SpikeSourceArray",
    vars=[("startSpike", "unsigned int"), ("endSpike", "unsigned int", VarAccess.READ_ONLY_DUPLICATE)],
    extra_global_params=[("spikeTimes", "scalar*")],
    threshold_condition_code="startSpike != endSpike && t >= spikeTimes[startSpike]",
    reset_code="startSpike++;")

NEURON_MODELS = {"LIF": LIF, "Poisson": Poisson, "SpikeSourceArray": SpikeSourceArray}

# ----------------------------------------------------------------------------- postsynaptic
DeltaCurr = create_postsynaptic_model("DeltaCurr", sim_code="""
    injectCurrent(inSyn);
    inSyn = 0.0;
    """)

ExpCurr = create_postsynaptic_model(
    "ExpCurr", params=["tau"],
    derived_params=[("expDecay", lambda p, dt: math.exp(-dt / p["tau"])),
                    ("init", lambda p, dt: (p["tau"] * (1.0 - math.exp(-dt / p["tau"]))) / dt)],
    sim_code="""
    injectCurrent(init * inSyn);
    inSyn *= expDecay;
    """)

ExpCond = create_postsynaptic_model(
    "ExpCond", params=["tau", "E"],
    derived_params=[("expDecay", lambda p, dt: math.exp(-dt / p["tau"]))],
    neuron_var_refs=[("V", "scalar", VarAccessMode.READ_ONLY)],
    sim_code="""
    injectCurrent(inSyn * (E - V));
    inSyn *= expDecay;
    """)

POSTSYNAPTIC_MODELS = {"DeltaCurr": DeltaCurr, "ExpCurr": ExpCurr, "ExpCond": ExpCond}

# ----------------------------------------------------------------------------- weight updates
StaticPulse = create_weight_update_model(
    "StaticPulse", vars=[("g", "scalar", VarAccess.READ_ONLY)], pre_spike_syn_code="addToPost(g);")

StaticPulseConstantWeight = create_weight_update_model(
    "StaticPulseConstantWeight", params=["g"], pre_spike_syn_code="addToPost(g);")

StaticGraded = create_weight_update_model(
    "StaticGraded", params=["Epre", "Vslope"], vars=[("g", "scalar", VarAccess.READ_ONLY)],
    pre_neuron_var_refs=[("V_pre", "scalar", VarAccessMode.READ_ONLY)],
    synapse_dynamics_code="""
    addToPost(fmax(0.0, g * tanh((V_pre - Epre) / Vslope)));
    """)

WEIGHT_UPDATE_MODELS = {"StaticPulse": StaticPulse, "StaticPulseConstantWeight": StaticPulseConstantWeight,
                        "StaticGraded": StaticGraded}

# ----------------------------------------------------------------------------- current sources
DC = create_current_source_model("DC", params=["amp"], injection_code="injectCurrent(amp);")
GaussianNoise = create_current_source_model("GaussianNoise", params=["mean", "sd"],
                                            injection_code="injectCurrent(mean + gennrand_normal() * sd);")
CURRENT_SOURCE_MODELS = {"DC": DC, "GaussianNoise": GaussianNoise}

# ----------------------------------------------------------------------------- custom updates
Transpose = create_custom_update_model(
    "Transpose", var_refs=[("variable", "scalar")], update_code="")
CUSTOM_UPDATE_MODELS = {"Transpose": Transpose}

# ----------------------------------------------------------------------------- var init
VAR_INIT_SNIPPETS = {
    "Uninitialised": create_var_init_snippet("Uninitialised"),
    "Constant": create_var_init_snippet("Constant", params=["constant"], var_init_code="value = constant;"),
    "Uniform": create_var_init_snippet("Uniform", params=["min", "max"],
                                       var_init_code="value = min + ((max - min) * gennrand_uniform());"),
    "Normal": create_var_init_snippet("Normal", params=["mean", "sd"],
                                      var_init_code="value = mean + (gennrand_normal() * sd);"),
    "NormalClipped": create_var_init_snippet(
        "NormalClipped", params=["mean", "sd", "min", "max"], var_init_code="""
        scalar normal;
        do {
            normal = mean + (gennrand_normal() * sd);
        } while (normal > max || normal < min);
        value = normal;
        """),
    "Exponential": create_var_init_snippet("Exponential", params=["lambda"],
                                           var_init_code="value = lambda * gennrand_exponential();"),
    "Gamma": create_var_init_snippet("Gamma", params=["a", "b"], var_init_code="value = b * gennrand_gamma(a);"),
    "Binomial": create_var_init_snippet("Binomial", params=[("n", "unsigned int"), "p"],
                                        var_init_code="value = gennrand_binomial(n, p);"),
}


def _binomial_max(n, p, quantile=0.9999):
    """Row length that holds with probability ``quantile`` over all rows (GeNN's rule)."""
    if p >= 1.0:
        return n
    return int(binom.ppf(quantile, n, p))


def _fixed_prob_max_row(num_pre, num_post, pars):
    return max(1, _binomial_max(num_post, pars["prob"], 0.9999 ** (1.0 / max(num_pre, 1))))


SPARSE_CONNECT_SNIPPETS = {
    "OneToOne": create_sparse_connect_init_snippet(
        "OneToOne", row_build_code="if (id_pre < num_post) { addSynapse(id_pre + id_post_begin); }",
        calc_max_row_len_func=lambda num_pre, num_post, pars: 1),
    "FixedProbability": create_sparse_connect_init_snippet(
        "FixedProbability", params=["prob"],
        derived_params=[("probLogRecip", lambda p, dt: (1.0 / math.log(1.0 - p["prob"]))
                         if 0.0 < p["prob"] < 1.0 else 0.0)],
        row_build_code="""
        if (prob >= 1.0) {
            for (unsigned int j = 0; j < num_post; j++) { addSynapse(j + id_post_begin); }
        }
        else if (prob > 0.0) {
            int prevJ = -1;
            while (1) {
                const double u = gennrand_uniform();
                prevJ += 1 + (int)(log(u) * probLogRecip);
                if (prevJ < (int)num_post) { addSynapse(prevJ + id_post_begin); }
                else { break; }
            }
        }
        """,
        calc_max_row_len_func=_fixed_prob_max_row),
    "FixedProbabilityNoAutapse": create_sparse_connect_init_snippet(
        "FixedProbabilityNoAutapse", params=["prob"],
        derived_params=[("probLogRecip", lambda p, dt: (1.0 / math.log(1.0 - p["prob"]))
                         if 0.0 < p["prob"] < 1.0 else 0.0)],
        row_build_code="""
        int prevJ = -1;
        while (1) {
            int nextJ;
            if (prob >= 1.0) { nextJ = prevJ + 1; }
            else if (prob <= 0.0) { break; }
            else {
                const double u = gennrand_uniform();
                nextJ = prevJ + 1 + (int)(log(u) * probLogRecip);
            }
            if (nextJ == (int)id_pre) { nextJ++; }
            prevJ = nextJ;
            if (prevJ < (int)num_post) { addSynapse(prevJ + id_post_begin); }
            else { break; }
        }
        """,
        calc_max_row_len_func=_fixed_prob_max_row),
    "FixedNumberPostWithReplacement": create_sparse_connect_init_snippet(
        "FixedNumberPostWithReplacement", params=[("num", "unsigned int")],
        row_build_code="""
        scalar x = 0.0;
        for (unsigned int c = num; c != 0; c--) {
            const scalar u = gennrand_uniform();
            x += (1.0 - x) * (1.0 - pow(u, 1.0 / (scalar)c));
            unsigned int j = (unsigned int)(x * num_post);
            if (j >= num_post) { j = num_post - 1; }
            addSynapse(j + id_post_begin);
        }
        """,
        calc_max_row_len_func=lambda num_pre, num_post, pars: int(pars["num"])),
}


# ----------------------------------------------------------------------------- parameter checks
_POSITIVE = (lambda v: v > 0, "must be > 0")
_NON_NEGATIVE = (lambda v: v >= 0, "must be >= 0")
_PROBABILITY = (lambda v: 0.0 <= v <= 1.0, "must be a probability in [0, 1]")
LIF.param_checks = {"C": _POSITIVE, "TauM": _POSITIVE, "TauRefrac": _NON_NEGATIVE}
Poisson.param_checks = {"rate": _NON_NEGATIVE}
ExpCurr.param_checks = {"tau": _POSITIVE}
ExpCond.param_checks = {"tau": _POSITIVE}
GaussianNoise.param_checks = {"sd": _NON_NEGATIVE}
VAR_INIT_SNIPPETS["Normal"].param_checks = {"sd": _NON_NEGATIVE}
VAR_INIT_SNIPPETS["NormalClipped"].param_checks = {"sd": _NON_NEGATIVE}
VAR_INIT_SNIPPETS["Exponential"].param_checks = {"lambda": _POSITIVE}
VAR_INIT_SNIPPETS["Gamma"].param_checks = {"a": _POSITIVE, "b": _POSITIVE}
VAR_INIT_SNIPPETS["Binomial"].param_checks = {"n": _NON_NEGATIVE, "p": _PROBABILITY}
for _name in ("FixedProbability", "FixedProbabilityNoAutapse"):
    SPARSE_CONNECT_SNIPPETS[_name].param_checks = {"prob": _PROBABILITY}
SPARSE_CONNECT_SNIPPETS["FixedNumberPostWithReplacement"].param_checks = {"num": _NON_NEGATIVE}
