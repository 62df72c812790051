"""Error-message tests (testing_practices.md §8).

Every malformed model or call must raise ONE neurogen exception (no chained traceback) whose short
message names the culprit: the offending name or value, the group, and for code strings the code
kind and line in the form ``[<group kind> '<name>' <code kind>, line N] Error at '<token>': message``.
The tests assert on the message TEXT, not only on the exception type.
"""
import re

import numpy as np
import pytest

import neurogen as ng
from neurogen import (BackendUnavailableError, BuildError, CodeError, GeNNModel,
                      ModelDefinitionError, NeurogenError, SynapseMatrixType, VarAccess, VarAccessMode)

MAX_LINES = 5       # "a short message": at most ~5 lines


# --------------------------------------------------------------------------- fixtures and helpers

@pytest.fixture(scope="module")
def _cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("neurogen_cache_errors")


@pytest.fixture(autouse=True)
def _isolated_cache(_cache_dir, monkeypatch):
    """All libraries built by this module go into a private cache, compiled at -O0 (fast)."""
    monkeypatch.setenv("NEUROGEN_CACHE_DIR", str(_cache_dir))
    monkeypatch.setenv("NEUROGEN_OPT", "-O0")


def check_message(exc, *fragments, max_lines=MAX_LINES):
    """``exc`` has a short message containing every fragment (str: substring, compiled regex: search)
    and is not chained onto another exception (a single, flat error)."""
    msg = str(exc)
    n_lines = msg.count("\n") + 1
    assert n_lines <= max_lines, f"message has {n_lines} lines (max {max_lines}):\n{msg}"
    for frag in fragments:
        if isinstance(frag, re.Pattern):
            assert frag.search(msg), f"pattern {frag.pattern!r} not found in message:\n{msg}"
        else:
            assert frag in msg, f"{frag!r} missing from message:\n{msg}"
    assert exc.__cause__ is None, f"exception is chained onto {exc.__cause__!r}"
    assert exc.__context__ is None or exc.__suppress_context__, \
        f"exception was raised while handling {exc.__context__!r} (chained traceback)"
    return msg


def code_header(group_kind, name, code_kind, line):
    return f"[{group_kind} '{name}' {code_kind}, line {line}]"


READ_ONLY_RE = re.compile(r"read[-_ ]?only", re.IGNORECASE)


def leaky(**overrides):
    """A small spiking neuron model; keyword arguments override the definition."""
    kw = dict(params=["tau"], vars=[("V", "scalar")],
              sim_code="V += (-V + Isyn) * dt / tau;",
              threshold_condition_code="V >= 1.0",
              reset_code="V = 0.0;")
    kw.update(overrides)
    return ng.create_neuron_model("Leaky", **kw)


def rate(**overrides):
    """A non-spiking (rate) neuron model: no threshold condition."""
    kw = dict(params=["tau"], vars=[("V", "scalar")], sim_code="V += (-V + Isyn) * dt / tau;")
    kw.update(overrides)
    return ng.create_neuron_model("Rate", **kw)


def model(name="err_model", **kw):
    return GeNNModel("float", name, **kw)


def add_pop(m, name="p", n=4, neuron=None, params=None, vars=None):
    return m.add_neuron_population(name, n, neuron if neuron is not None else leaky(),
                                   {"tau": 10.0} if params is None else params,
                                   {"V": 0.0} if vars is None else vars)


def static_wu(**overrides):
    kw = dict(vars=[("g", "scalar", VarAccess.READ_ONLY)], pre_spike_syn_code="addToPost(g);")
    kw.update(overrides)
    return ng.create_weight_update_model("W", **kw)


def add_syn(m, name="syn", src="p", trg="q", wu=None, wu_vars=None,
            matrix=SynapseMatrixType.DENSE, conn=None, psm="DeltaCurr"):
    wu = wu if wu is not None else static_wu()
    init = ng.init_weight_update(wu, {}, {"g": 0.5} if wu_vars is None else wu_vars)
    return m.add_synapse_population(name, matrix, src, trg, init, ng.init_postsynaptic(psm), conn)


# --------------------------------------------------------------------------- code strings: unknown names

def test_unknown_variable_reports_exact_line_in_multiline_sim_code():
    sim = "\n".join([
        "// leaky integration",
        "V += (-V + Isyn) * dt / tau;",
        "if (V > 0.5) {",
        "    /* a comment spanning",
        "       two lines */",
        "    V += Vm * dt;",
        "}",
    ])
    m = model()
    add_pop(m, "hid", neuron=leaky(sim_code=sim))
    with pytest.raises(CodeError) as ei:
        m.build()
    msg = check_message(ei.value, "unknown name 'Vm'")
    assert msg.startswith("[neuron population 'hid' sim_code, line 6] Error at 'Vm': "), msg
    assert ei.value.line == 6 and ei.value.token == "Vm"


def test_unknown_variable_message_matches_documented_format():
    m = model()
    add_pop(m, "hid", neuron=leaky(sim_code="scalar a = 1.0;\nscalar b = 2.0;\nV = Vm + a + b;"))
    with pytest.raises(CodeError) as ei:
        m.build()
    msg = check_message(ei.value)
    assert msg.startswith("[neuron population 'hid' sim_code, line 3] Error at 'Vm': unknown name 'Vm'"), msg


def _unknown_in_neuron(kind):
    def make(m):
        code = {"sim_code": "V += 1.0;\nV += undefinedThing;",
                "threshold_condition_code": "V >= 1.0 &&\n  undefinedThing > 0.0",
                "reset_code": "V = 0.0;\nV = undefinedThing;"}
        over = {kind: code[kind]}
        add_pop(m, "pop", neuron=leaky(**over))
    return make


def _unknown_in_wu(kind):
    def make(m):
        add_pop(m, "p")
        add_pop(m, "q")
        wu = static_wu(**{kind: "addToPost(g);\naddToPost(undefinedThing);" if "syn" in kind
                          else "scalar x = 1.0;\nx = undefinedThing;"})
        add_syn(m, "syn", wu=wu)
    return make


def _unknown_in_psm(m):
    add_pop(m, "p")
    add_pop(m, "q")
    psm = ng.create_postsynaptic_model("P", sim_code="injectCurrent(inSyn);\ninSyn *= undefinedThing;")
    add_syn(m, "syn", psm=psm)


def _unknown_in_cs(m):
    add_pop(m, "p")
    cs = ng.create_current_source_model("C", injection_code="injectCurrent(1.0);\ninjectCurrent(undefinedThing);")
    m.add_current_source("cs", cs, "p")


def _unknown_in_cu(m):
    p = add_pop(m, "p")
    cu = ng.create_custom_update_model("U", var_refs=[("X", "scalar")], update_code="X = 0.0;\nX = undefinedThing;")
    m.add_custom_update("cu", "Reset", cu, var_refs={"X": ng.create_var_ref(p, "V")})


@pytest.mark.parametrize("make, header", [
    (_unknown_in_neuron("sim_code"), code_header("neuron population", "pop", "sim_code", 2)),
    (_unknown_in_neuron("threshold_condition_code"),
     code_header("neuron population", "pop", "threshold_condition_code", 2)),
    (_unknown_in_neuron("reset_code"), code_header("neuron population", "pop", "reset_code", 2)),
    (_unknown_in_wu("pre_spike_syn_code"), code_header("synapse population", "syn", "pre_spike_syn_code", 2)),
    (_unknown_in_wu("post_spike_syn_code"), code_header("synapse population", "syn", "post_spike_syn_code", 2)),
    (_unknown_in_wu("synapse_dynamics_code"),
     code_header("synapse population", "syn", "synapse_dynamics_code", 2)),
    (_unknown_in_wu("pre_spike_code"), code_header("synapse population", "syn", "pre_spike_code", 2)),
    (_unknown_in_psm, "[synapse population 'syn' postsynaptic sim_code, line 2]"),
    (_unknown_in_cs, code_header("current source", "cs", "injection_code", 2)),
    (_unknown_in_cu, code_header("custom update", "cu", "update_code", 2)),
], ids=["sim", "threshold", "reset", "pre_spike_syn", "post_spike_syn", "synapse_dynamics", "pre_spike",
        "psm_sim", "injection", "update"])
def test_unknown_name_in_every_code_kind(make, header):
    m = model()
    make(m)
    with pytest.raises(CodeError) as ei:
        m.build()
    msg = check_message(ei.value, "Error at 'undefinedThing'", "'undefinedThing'")
    assert msg.startswith(header), msg


def test_name_from_another_code_kind_is_not_available():
    """addToPost exists in weight-update code, not in neuron sim_code: say so instead of 'unknown'."""
    m = model()
    add_pop(m, "p", neuron=leaky(sim_code="V += 1.0;\naddToPost(V);"))
    with pytest.raises(CodeError) as ei:
        m.build()
    check_message(ei.value, code_header("neuron population", "p", "sim_code", 2), "Error at 'addToPost'",
                  "not available")


# --------------------------------------------------------------------------- code strings: illegal writes

def test_write_to_read_only_var_in_pre_spike_syn_code():
    m = model()
    add_pop(m, "p")
    add_pop(m, "q")
    wu = static_wu(pre_spike_syn_code="addToPost(g);\ng += 0.1;")
    add_syn(m, "syn", wu=wu)
    with pytest.raises(CodeError) as ei:
        m.build()
    check_message(ei.value, code_header("synapse population", "syn", "pre_spike_syn_code", 2),
                  "Error at 'g'", "'g'", READ_ONLY_RE)


def test_write_to_read_only_neuron_var_in_sim_code():
    nm = leaky(vars=[("V", "scalar"), ("Vth", "scalar", VarAccess.READ_ONLY)],
               sim_code="V += dt;\nVth = 2.0;")
    m = model()
    add_pop(m, "p", neuron=nm, vars={"V": 0.0, "Vth": 1.0})
    with pytest.raises(CodeError) as ei:
        m.build()
    check_message(ei.value, code_header("neuron population", "p", "sim_code", 2), "Error at 'Vth'", READ_ONLY_RE)


@pytest.mark.parametrize("stmt", ["tau = 2.0;", "tau += 1.0;", "tau++;", "--tau;"])
def test_write_to_parameter(stmt):
    m = model()
    add_pop(m, "p", neuron=leaky(sim_code="V += dt;\n" + stmt))
    with pytest.raises(CodeError) as ei:
        m.build()
    check_message(ei.value, code_header("neuron population", "p", "sim_code", 2), "Error at 'tau'",
                  re.compile(r"parameter", re.I))


def test_write_to_derived_parameter():
    nm = leaky(derived_params=[("k", lambda p, dt: dt / p["tau"])], sim_code="V += k;\nk = 0.0;")
    m = model()
    add_pop(m, "p", neuron=nm)
    with pytest.raises(CodeError) as ei:
        m.build()
    check_message(ei.value, code_header("neuron population", "p", "sim_code", 2), "Error at 'k'",
                  re.compile(r"derived parameter", re.I))


@pytest.mark.parametrize("stmt, token", [("Isyn = 0.0;", "Isyn"), ("Isyn += V;", "Isyn"),
                                         ("t = 0.0;", "t"), ("dt *= 2.0;", "dt")])
def test_write_to_engine_provided_name(stmt, token):
    m = model()
    add_pop(m, "p", neuron=leaky(sim_code="V += 0.0;\n" + stmt))
    with pytest.raises(CodeError) as ei:
        m.build()
    check_message(ei.value, code_header("neuron population", "p", "sim_code", 2), f"Error at '{token}'",
                  f"'{token}'")


# --------------------------------------------------------------------------- code strings: malformed code

@pytest.mark.parametrize("code, line, token, detail", [
    ("V += 1.0;\nV *= 0.5", 2, None, re.compile(r"';'")),
    ("if (V > 0.5) {\n    V = 0.0;\n", 1, "{", re.compile(r"never closed|unbalanced|unmatched", re.I)),
    ("V = 0.0;\n}\n", 2, "}", re.compile(r"unmatched|unbalanced", re.I)),
    ("V = (V + 1.0;", 1, "(", re.compile(r"never closed|unbalanced|unmatched", re.I)),
    ("#include <math.h>\nV = 0.0;", 1, "#", re.compile(r"preprocessor", re.I)),
    ("V = 0.0;\n#define X 1", 2, "#", re.compile(r"preprocessor", re.I)),
    ("V = 0.0;\nscalar *p = &V;", 2, "&", re.compile(r"address-of", re.I)),
    ("if (V > 2.0) {\n    return;\n}", 2, "return", re.compile(r"return", re.I)),
    ("V = V.x;", 1, ".", re.compile(r"struct|member", re.I)),
    ("V = 0.0;\nV = Isyn->x;", 2, "->", re.compile(r"struct|member", re.I)),
    ("V = 017;", 1, "017", re.compile(r"octal", re.I)),
    ("V = 0.0;\nV = 0x1p3;", 2, "0x1p3", re.compile(r"hex", re.I)),
    ("struct S { int a; };\nV = 0.0;", 1, "struct", re.compile(r"struct", re.I)),
    ("scalar half(scalar x) { return x; }\nV = half(V);", 1, "half", re.compile(r"function", re.I)),
    ("V = 0.0;\ngoto end;", 2, "goto", re.compile(r"goto", re.I)),
    ("V = 1.0 @ 2.0;", 1, "@", re.compile(r"unexpected|character", re.I)),
    ("scalar V = 1.0;", 1, "V", re.compile(r"hide|shadow|already", re.I)),
    ("V = tau(1.0);", 1, "tau", re.compile(r"not a function", re.I)),
    ("V = exp;", 1, "exp", re.compile(r"function", re.I)),
    ("scalar ng_tmp = 1.0;\nV = ng_tmp;", 1, "ng_tmp", re.compile(r"reserved", re.I)),
], ids=["missing_semicolon", "unclosed_brace", "extra_brace", "unclosed_paren", "include", "define",
        "address_of", "return", "member_dot", "member_arrow", "octal", "hex_float", "struct", "user_function",
        "goto", "bad_character", "local_hides_var", "call_param", "function_as_value", "reserved_local"])
def test_malformed_sim_code(code, line, token, detail):
    m = model()
    add_pop(m, "p", neuron=leaky(sim_code=code))
    with pytest.raises(CodeError) as ei:
        m.build()
    frags = [code_header("neuron population", "p", "sim_code", line), detail]
    if token is not None:
        frags.append(f"Error at '{token}'")
    check_message(ei.value, *frags)


def test_threshold_condition_must_be_an_expression():
    m = model()
    add_pop(m, "p", neuron=leaky(threshold_condition_code="V >= 1.0;"))
    with pytest.raises(CodeError) as ei:
        m.build()
    check_message(ei.value, code_header("neuron population", "p", "threshold_condition_code", 1), "Error at ';'",
                  re.compile(r"expression", re.I))


@pytest.mark.parametrize("cond", ["(V = 0.0) > 1.0", "V++ >= 1.0", "V >= 1.0 &&\n(V *= 0.5) > 0.0"],
                         ids=["assign", "increment", "compound"])
def test_threshold_condition_must_not_write_state(cond):
    """A threshold condition is evaluated, not executed: with auto_refractory_required it runs twice per
    step (on the old and the new state), so a write hidden in it is a bug; reject it with its location."""
    m = model()
    add_pop(m, "p", neuron=leaky(threshold_condition_code=cond))
    with pytest.raises(CodeError) as ei:
        m.build()
    line = cond.count("\n") + 1
    check_message(ei.value, code_header("neuron population", "p", "threshold_condition_code", line),
                  "Error at 'V'")


def test_legacy_end_row_is_an_error():
    with pytest.raises(CodeError) as ei, pytest.warns(FutureWarning):
        ng.create_sparse_connect_init_snippet("Rows", row_build_code="addSynapse(id_pre);\n$(endRow);")
    check_message(ei.value, "'Rows'", "row_build_code", "line 2", "endRow")


# --------------------------------------------------------------------------- compile errors the checker misses

@pytest.mark.parametrize("code, line", [
    ("V += dt;\nV = exp(V, 2.0);", 2),           # tgmath exp() with two arguments
    ("V += dt;\nV = V[0];", 2),                  # subscripting a scalar
    ("V += dt;\n\nV = min(V);", 3),              # min() needs two arguments
    ("V += dt;\nV = V +* 2.0;", 2),              # dereferencing a float
    ("V += dt;\nV = (V > 0.0 ? 1.0);", 2),       # incomplete conditional expression
    ("V += dt;\nV = gennrand_gamma();", 2),      # RNG helper without its argument
    ("V += dt;\nV = gennrand_normal(1.0);", 2),  # RNG helper with a spurious argument
    ('V += dt;\nV = "abc";', 2),                # string outside printf
], ids=["exp_two_args", "subscript_scalar", "min_one_arg", "deref_float", "bad_ternary", "gamma_no_arg",
        "normal_extra_arg", "string_value"])
def test_compile_error_maps_to_code_string(code, line):
    """Whatever catches it (checker or gcc), the error names the code string and the user's line."""
    m = model("cc_err")
    add_pop(m, "p", neuron=leaky(sim_code=code))
    with pytest.raises((BuildError, CodeError)) as ei:
        m.build()
    check_message(ei.value, code_header("neuron population", "p", "sim_code", line))


def test_gcc_error_is_build_error_naming_code_string():
    """A type error only the C compiler sees comes back as BuildError in the code-string location format."""
    m = model("gcc_err")
    add_pop(m, "p", neuron=leaky(sim_code="V += dt;\nV = V[0];"))
    with pytest.raises(BuildError) as ei:
        m.build()
    check_message(ei.value, code_header("neuron population", "p", "sim_code", 2), "gcc_err")


@pytest.mark.parametrize("call, func", [("min(V)", "min"), ("gennrand_normal(1.0)", "gennrand_normal"),
                                        ("gennrand_gamma()", "gennrand_gamma")])
def test_compile_error_names_user_function_not_generated_macro(call, func):
    """The user wrote e.g. min(V); the message should talk about 'min', not the engine's internal NG_MIN macro."""
    m = model("cc_leak")
    add_pop(m, "p", neuron=leaky(sim_code=f"V += dt;\nV = {call};"))
    with pytest.raises((BuildError, CodeError)) as ei:
        m.build()
    msg = check_message(ei.value, code_header("neuron population", "p", "sim_code", 2), func)
    assert not re.search(r"\b(NG|ng)_\w+", msg.split("(source:")[0]), f"generated names leak into:\n{msg}"


# --------------------------------------------------------------------------- model-definition errors

@pytest.mark.parametrize("name", ["ng_x", "NG_state", "t", "dt", "Isyn", "id", "batch", "int", "for", "exp",
                                  "1V", "V-1", "my var"])
def test_reserved_or_invalid_variable_name(name):
    with pytest.raises(ModelDefinitionError) as ei:
        ng.create_neuron_model("Bad", vars=[(name, "scalar")], sim_code="")
    check_message(ei.value, re.compile(rf"(?<![\w]){re.escape(name)}(?![\w])"), "'Bad'",
                  re.compile(r"reserved|identifier|keyword", re.I))


@pytest.mark.parametrize("name", ["ng_g", "t"])
def test_reserved_name_for_wu_var_and_param(name):
    with pytest.raises(ModelDefinitionError) as ei:
        ng.create_weight_update_model("BadW", params=[name], pre_spike_syn_code="addToPost(1.0);")
    check_message(ei.value, re.compile(rf"(?<![\w]){name}(?![\w])"), "'BadW'", re.compile(r"reserved", re.I))


@pytest.mark.parametrize("name", ["1pop", "my pop", "a-b", "", "ng_pop", "for", "pop.x", 3])
def test_non_identifier_population_name(name):
    m = model()
    with pytest.raises(ModelDefinitionError) as ei:
        add_pop(m, name)
    check_message(ei.value, repr(name), re.compile(r"identifier|reserved|keyword", re.I))


def test_invalid_model_name():
    with pytest.raises(ModelDefinitionError) as ei:
        GeNNModel("float", "my model")
    check_message(ei.value, "'my model'", re.compile(r"identifier", re.I))


@pytest.mark.parametrize("kind", ["neuron", "synapse", "current_source", "custom_update"])
def test_duplicate_group_name(kind):
    m = model("dup_model")
    p = add_pop(m, "p")
    add_pop(m, "q")
    with pytest.raises(ModelDefinitionError) as ei:
        if kind == "neuron":
            add_pop(m, "p")
        elif kind == "synapse":
            add_syn(m, "q")
        elif kind == "current_source":
            m.add_current_source("p", "DC", "q", {"amp": 1.0})
        else:
            cu = ng.create_custom_update_model("U", var_refs=[("X", "scalar")], update_code="X = 0.0;")
            m.add_custom_update("q", "G", cu, var_refs={"X": ng.create_var_ref(p, "V")})
    check_message(ei.value, re.compile(r"'[pq]'"), re.compile(r"already|duplicate", re.I))


@pytest.mark.parametrize("size", [0, -3, 2.5, True, "10", None])
def test_bad_population_size(size):
    m = model()
    with pytest.raises(ModelDefinitionError) as ei:
        add_pop(m, "pop", n=size)
    check_message(ei.value, "'pop'", repr(size), re.compile(r"size|number", re.I))


def test_missing_parameter_value():
    m = model()
    nm = leaky(params=["tau", "bias"])
    with pytest.raises(ModelDefinitionError) as ei:
        add_pop(m, "pop", neuron=nm, params={"tau": 10.0})
    check_message(ei.value, "'bias'", "'pop'", re.compile(r"missing", re.I))


def test_missing_parameter_of_builtin_model():
    m = model()
    with pytest.raises(ModelDefinitionError) as ei:
        m.add_neuron_population("lif", 3, "LIF", {"C": 1.0}, {"V": 0.0, "RefracTime": 0.0})
    check_message(ei.value, "'lif'", "'TauM'", re.compile(r"missing", re.I))


def test_unknown_parameter():
    m = model()
    with pytest.raises(ModelDefinitionError) as ei:
        add_pop(m, "pop", params={"tau": 10.0, "tua": 3.0})
    check_message(ei.value, "'tua'", "'pop'", "'tau'", re.compile(r"unknown", re.I))


def test_parameter_given_an_array():
    m = model()
    with pytest.raises(ModelDefinitionError) as ei:
        add_pop(m, "pop", params={"tau": np.ones(4)})
    check_message(ei.value, "'tau'", "'pop'", re.compile(r"single number|variable", re.I))


def test_missing_var_initial_value():
    m = model()
    nm = leaky(vars=[("V", "scalar"), ("U", "scalar")])
    with pytest.raises(ModelDefinitionError) as ei:
        add_pop(m, "pop", neuron=nm, vars={"V": 0.0})
    check_message(ei.value, "'U'", "'pop'", re.compile(r"missing|initial", re.I))


def test_unknown_var_initial_value():
    m = model()
    with pytest.raises(ModelDefinitionError) as ei:
        add_pop(m, "pop", vars={"V": 0.0, "W": 1.0})
    check_message(ei.value, "'W'", "'pop'", re.compile(r"unknown", re.I))


def test_missing_synapse_var_initial_value():
    m = model()
    add_pop(m, "p")
    add_pop(m, "q")
    with pytest.raises(ModelDefinitionError) as ei:
        add_syn(m, "syn", wu_vars={})
    check_message(ei.value, "'g'", "'syn'", re.compile(r"missing|initial", re.I))


def test_initial_values_of_wrong_length():
    m = model()
    add_pop(m, "pop", n=10, vars={"V": np.zeros(7)})
    with pytest.raises(ModelDefinitionError) as ei:
        m.build()
        m.load()
    check_message(ei.value, "'V'", "'pop'", "7", "10")


@pytest.mark.parametrize("vtype, shown", [(float, "float"), (np.float32, "float32"), ("complex", "complex"),
                                          ("scalar[]", "scalar[]"), ("std::vector<float>", "std::vector")])
def test_wrong_var_type(vtype, shown):
    with pytest.raises(ModelDefinitionError) as ei:
        ng.create_neuron_model("Typed", vars=[("V", vtype)], sim_code="V += 1.0;")
    check_message(ei.value, "'V'", "'Typed'", shown, re.compile(r"type", re.I))


def test_wrong_var_access_enum():
    with pytest.raises(ModelDefinitionError) as ei:
        ng.create_neuron_model("Acc", vars=[("V", "scalar", VarAccessMode.READ_ONLY)], sim_code="")
    check_message(ei.value, "'V'", "'Acc'", "VarAccess")


def test_custom_update_var_needs_custom_update_access():
    with pytest.raises(ModelDefinitionError) as ei:
        ng.create_custom_update_model("CU", vars=[("m", "scalar", VarAccess.READ_ONLY)], update_code="")
    check_message(ei.value, "'m'", "'CU'", "CustomUpdateVarAccess")


def test_duplicate_name_in_model():
    with pytest.raises(ModelDefinitionError) as ei:
        ng.create_neuron_model("Dup", params=["V"], vars=[("V", "scalar")], sim_code="")
    check_message(ei.value, "V", "'Dup'", re.compile(r"more than once|duplicate", re.I))


def test_unknown_factory_keyword():
    with pytest.raises(ModelDefinitionError) as ei:
        ng.create_neuron_model("Kw", vars=[("V", "scalar")], sim_cod="V += 1.0;")
    check_message(ei.value, "sim_cod", "'Kw'", re.compile(r"unknown", re.I))


def test_unknown_preference_key():
    with pytest.raises(ModelDefinitionError) as ei:
        GeNNModel("float", "prefs", optimise_code=True)
    check_message(ei.value, "'optimise_code'", "optimize_code", re.compile(r"unknown", re.I))


@pytest.mark.parametrize("kwargs, fragment", [({"precision": "half"}, "'half'"),
                                              ({"time_precision": "long double"}, "'long double'")])
def test_bad_precision(kwargs, fragment):
    with pytest.raises(ModelDefinitionError) as ei:
        GeNNModel(model_name="prec", **kwargs)
    check_message(ei.value, fragment, re.compile(r"precision", re.I))


def test_unknown_backend():
    with pytest.raises(BackendUnavailableError) as ei:
        GeNNModel("float", "be", backend="nonesuch")
    check_message(ei.value, "'nonesuch'", "cpu")


@pytest.mark.parametrize("attr, value", [("dt", 0.0), ("dt", -0.1), ("dt", float("nan")), ("batch_size", 0),
                                         ("batch_size", 2.0), ("seed", -1)])
def test_bad_model_setting(attr, value):
    m = model()
    with pytest.raises(ModelDefinitionError) as ei:
        setattr(m, attr, value)
    check_message(ei.value, attr, repr(value))


def test_batch_size_after_populations():
    m = model()
    add_pop(m, "p")
    with pytest.raises(ModelDefinitionError) as ei:
        m.batch_size = 4
    check_message(ei.value, "batch_size", re.compile(r"before", re.I))


@pytest.mark.parametrize("adder, name, kind", [
    (lambda m: m.add_neuron_population("p", 3, "LIFF", {}, {}), "'LIFF'", "neuron"),
    (lambda m: m.add_current_source("cs", "DCC", "q", {}), "'DCC'", "current source"),
    (lambda m: add_syn(m, "s", src="q", trg="q", wu="StaticPulsee"), "'StaticPulsee'", "weight update"),
    (lambda m: add_syn(m, "s", src="q", trg="q", psm="ExpCur"), "'ExpCur'", "postsynaptic"),
    (lambda m: m.add_custom_update("cu", "G", "Transposee"), "'Transposee'", "custom update"),
    (lambda m: ng.init_var("Unifrom", {"min": 0.0, "max": 1.0}), "'Unifrom'", "var init"),
    (lambda m: ng.init_sparse_connectivity("OneToOn"), "'OneToOn'", "sparse connectivity"),
])
def test_unknown_builtin_model_name(adder, name, kind):
    m = model()
    add_pop(m, "q")
    with pytest.raises(ModelDefinitionError) as ei:
        adder(m)
    check_message(ei.value, name, kind, re.compile(r"unknown", re.I))


def test_builtin_model_suggestions_listed():
    m = model()
    with pytest.raises(ModelDefinitionError) as ei:
        m.add_neuron_population("p", 3, "LIFF", {}, {})
    check_message(ei.value, "'LIFF'", "LIF")


def test_synapse_population_with_unknown_source():
    m = model()
    add_pop(m, "q")
    with pytest.raises(ModelDefinitionError) as ei:
        add_syn(m, "syn", src="pp", trg="q")
    check_message(ei.value, "'syn'", "'pp'")


def test_init_var_missing_snippet_parameter():
    m = model()
    add_pop(m, "pop", vars={"V": ng.init_var("Uniform", {"min": 0.0})})
    with pytest.raises(ModelDefinitionError) as ei:
        m.build()
        m.load()
    check_message(ei.value, "'max'", "'pop'", "'V'")


def test_failing_derived_parameter():
    nm = leaky(derived_params=[("k", lambda p, dt: dt / p["tauX"])], sim_code="V += k;")
    m = model()
    add_pop(m, "pop", neuron=nm)
    with pytest.raises(ModelDefinitionError) as ei:
        m.build()
    check_message(ei.value, "'k'", "'pop'", "tauX")


def test_dynamic_value_of_non_dynamic_parameter():
    m = model()
    p = add_pop(m, "pop")
    with pytest.raises(ModelDefinitionError) as ei:
        p.set_dynamic_param_value("tau", 5.0)
    check_message(ei.value, "'tau'", "'pop'", "set_param_dynamic")


def test_reset_code_without_threshold():
    nm = rate(reset_code="V = 0.0;")
    m = model()
    add_pop(m, "pop", neuron=nm)
    with pytest.raises(ModelDefinitionError) as ei:
        m.build()
    check_message(ei.value, "'pop'", "reset_code", "threshold_condition_code")


# §8: "invalid parameter value set by the user (tau <= 0, negative probability): raised at set time,
# plain-language". Set time = the init_*/add_* call that receives the value (not build or load).

LIF_PARAMS = {"C": 1.0, "TauM": 20.0, "Vrest": -70.0, "Vreset": -70.0, "Vthresh": -50.0, "Ioffset": 0.0,
              "TauRefrac": 2.0}


@pytest.mark.parametrize("prob", [-0.1, 1.5])
def test_invalid_connection_probability(prob):
    m = model()
    add_pop(m, "p")
    add_pop(m, "q")
    with pytest.raises(ModelDefinitionError) as ei:
        conn = ng.init_sparse_connectivity("FixedProbability", {"prob": prob})
        add_syn(m, "syn", matrix=SynapseMatrixType.SPARSE, conn=conn)
    check_message(ei.value, "'prob'", repr(prob))


@pytest.mark.parametrize("param, value", [("TauM", -20.0), ("TauM", 0.0)])
def test_invalid_lif_parameter(param, value):
    m = model()
    with pytest.raises(ModelDefinitionError) as ei:
        m.add_neuron_population("lif", 3, "LIF", {**LIF_PARAMS, param: value}, {"V": -70.0, "RefracTime": 0.0})
    check_message(ei.value, "'lif'", f"'{param}'", repr(value))


@pytest.mark.parametrize("tau", [0.0, -5.0])
def test_invalid_synaptic_time_constant(tau):
    m = model()
    add_pop(m, "p")
    add_pop(m, "q")
    with pytest.raises(ModelDefinitionError) as ei:
        m.add_synapse_population("syn", SynapseMatrixType.DENSE, "p", "q",
                                 ng.init_weight_update(static_wu(), {}, {"g": 1.0}),
                                 ng.init_postsynaptic("ExpCurr", {"tau": tau}))
    check_message(ei.value, "'tau'", repr(tau))


# --------------------------------------------------------------------------- references

def test_var_ref_to_nonexistent_variable():
    m = model()
    p = add_pop(m, "pop")
    cu = ng.create_custom_update_model("U", var_refs=[("X", "scalar")], update_code="X = 0.0;")
    with pytest.raises(ModelDefinitionError) as ei:
        m.add_custom_update("cu", "G", cu, var_refs={"X": ng.create_var_ref(p, "W")})
        m.build()
    check_message(ei.value, "'cu'", "'X'", "'W'", "'pop'")


def test_wu_var_ref_to_nonexistent_variable():
    m = model()
    add_pop(m, "p")
    add_pop(m, "q")
    sg = add_syn(m, "syn")
    cu = ng.create_custom_update_model("U", var_refs=[("X", "scalar")], update_code="X = 0.0;")
    with pytest.raises(ModelDefinitionError) as ei:
        m.add_custom_update("cu", "G", cu, var_refs={"X": ng.create_wu_var_ref(sg, "gg")})
        m.build()
    check_message(ei.value, "'cu'", "'gg'", "'syn'")


def test_neuron_var_ref_to_nonexistent_variable_in_weight_update():
    wu = static_wu(pre_neuron_var_refs=[("V_pre", "scalar", VarAccessMode.READ_ONLY)],
                   pre_spike_syn_code="addToPost(g * V_pre);")
    m = model()
    add_pop(m, "p")
    add_pop(m, "q")
    with pytest.raises(ModelDefinitionError) as ei:
        init = ng.init_weight_update(wu, {}, {"g": 1.0}, pre_var_refs={"V_pre": "Vx"})
        m.add_synapse_population("syn", SynapseMatrixType.DENSE, "p", "q", init, ng.init_postsynaptic("DeltaCurr"))
        m.build()
    check_message(ei.value, "'syn'", "'V_pre'", "'Vx'", "'p'")


def test_var_ref_type_mismatch():
    m = model()
    p = add_pop(m, "pop")
    cu = ng.create_custom_update_model("U", var_refs=[("X", "int")], update_code="X = 0;")
    with pytest.raises(ModelDefinitionError) as ei:
        m.add_custom_update("cu", "G", cu, var_refs={"X": ng.create_var_ref(p, "V")})
        m.build()
    check_message(ei.value, "'cu'", "'X'", "'int'", "'V'", "'scalar'")


def test_var_ref_not_a_reference():
    m = model()
    add_pop(m, "pop")
    cu = ng.create_custom_update_model("U", var_refs=[("X", "scalar")], update_code="X = 0.0;")
    with pytest.raises(ModelDefinitionError) as ei:
        m.add_custom_update("cu", "G", cu, var_refs={"X": "V"})
    check_message(ei.value, "'cu'", "'X'", "create_var_ref")


def test_missing_var_ref():
    m = model()
    p = add_pop(m, "pop")
    cu = ng.create_custom_update_model("U", var_refs=[("X", "scalar"), ("Y", "scalar")], update_code="X = Y;")
    with pytest.raises(ModelDefinitionError) as ei:
        m.add_custom_update("cu", "G", cu, var_refs={"X": ng.create_var_ref(p, "V")})
    check_message(ei.value, "'cu'", "'Y'", re.compile(r"missing", re.I))


def test_custom_update_refs_of_different_sizes():
    m = model()
    a = add_pop(m, "small", n=10)
    b = add_pop(m, "large", n=20)
    cu = ng.create_custom_update_model("U", var_refs=[("X", "scalar"), ("Y", "scalar")], update_code="X = Y;")
    with pytest.raises(ModelDefinitionError) as ei:
        m.add_custom_update("cu", "G", cu, var_refs={"X": ng.create_var_ref(a, "V"),
                                                     "Y": ng.create_var_ref(b, "V")})
        m.build()
    check_message(ei.value, "'cu'", "X", "Y", "10", "20")


def test_custom_update_mixing_synapse_and_neuron_refs():
    m = model()
    p = add_pop(m, "p")
    add_pop(m, "q")
    sg = add_syn(m, "syn")
    cu = ng.create_custom_update_model("U", var_refs=[("G", "scalar"), ("V", "scalar")], update_code="G = V;")
    with pytest.raises(ModelDefinitionError) as ei:
        m.add_custom_update("cu", "G", cu, var_refs={"G": ng.create_wu_var_ref(sg, "g"),
                                                     "V": ng.create_var_ref(p, "V")})
        m.build()
    check_message(ei.value, "'cu'", re.compile(r"synapse", re.I))


def _batched_learning_model(ref_mode):
    """batch_size 2; 'syn' has a shared READ_ONLY weight g and a batched READ_WRITE gradient dg.
    The custom update references both, so it is batched (it touches the batched dg)."""
    m = model("batched_cu")
    m.batch_size = 2
    add_pop(m, "p")
    add_pop(m, "q")
    wu = static_wu(vars=[("g", "scalar", VarAccess.READ_ONLY), ("dg", "scalar")])
    sg = add_syn(m, "syn", wu=wu, wu_vars={"g": 0.5, "dg": 0.0})
    cu = ng.create_custom_update_model("Sgd", var_refs=[("w", "scalar", ref_mode), ("d", "scalar")],
                                       update_code="d *= 0.5;\nw -= 0.1 * d;" if ref_mode.writable
                                       else "d *= 0.5;\nd += w;")
    m.add_custom_update("cu", "Learn", cu, var_refs={"w": ng.create_wu_var_ref(sg, "g"),
                                                     "d": ng.create_wu_var_ref(sg, "dg")})
    return m


def test_batched_custom_update_writing_shared_weight():
    """A READ_ONLY weight is shared across the batch: a batched update may not write it via a READ_WRITE ref."""
    m = _batched_learning_model(VarAccessMode.READ_WRITE)
    with pytest.raises(ModelDefinitionError) as ei:
        m.build()
    check_message(ei.value, "'cu'", "'w'", "'g'", "'syn'", READ_ONLY_RE, re.compile(r"batch", re.I))


def test_batched_custom_update_reading_shared_weight_is_fine():
    """Control for the test above: the same update with a READ_ONLY reference builds and runs."""
    m = _batched_learning_model(VarAccessMode.READ_ONLY)
    m.build()
    m.load()
    m.custom_update("Learn")


def test_transpose_on_sparse():
    m = model()
    add_pop(m, "p")
    add_pop(m, "q")
    fwd = add_syn(m, "fwd", matrix=SynapseMatrixType.SPARSE, conn=ng.init_sparse_connectivity("OneToOne"))
    back = add_syn(m, "back", src="q", trg="p")
    with pytest.raises(ModelDefinitionError) as ei:
        m.add_custom_update("tr", "T", "Transpose", var_refs={"variable": ng.create_wu_var_ref(fwd, "g", back, "g")})
        m.build()
    check_message(ei.value, "'tr'", "DENSE", re.compile(r"transpose", re.I))


# --------------------------------------------------------------------------- unsupported features

@pytest.mark.parametrize("matrix", [t for t in SynapseMatrixType
                                    if t not in (SynapseMatrixType.DENSE, SynapseMatrixType.SPARSE)],
                         ids=lambda t: t.name)
def test_unsupported_matrix_type(matrix):
    m = model()
    add_pop(m, "p")
    add_pop(m, "q")
    with pytest.raises(ModelDefinitionError) as ei:
        add_syn(m, "syn", matrix=matrix)
    check_message(ei.value, "'syn'", matrix.name, re.compile(r"not supported", re.I))


def test_unknown_matrix_type_string():
    m = model()
    add_pop(m, "p")
    add_pop(m, "q")
    with pytest.raises(ModelDefinitionError) as ei:
        add_syn(m, "syn", matrix="DENSEST")
    check_message(ei.value, "'syn'", "'DENSEST'")


def test_add_to_post_delay_unsupported():
    m = model()
    add_pop(m, "p")
    add_pop(m, "q")
    add_syn(m, "syn", wu=static_wu(pre_spike_syn_code="addToPostDelay(g, 2);"))
    with pytest.raises(NeurogenError) as ei:
        m.build()
    check_message(ei.value, "'syn'", "pre_spike_syn_code", "addToPostDelay")


@pytest.mark.parametrize("kind", ["pre_event_syn_code", "post_event_syn_code", "pre_event_threshold_condition_code"])
def test_spike_like_events_unsupported(kind):
    with pytest.raises(ModelDefinitionError) as ei:
        ng.create_weight_update_model("Ev", vars=[("g", "scalar")], **{kind: "addToPost(g);"})
    check_message(ei.value, "'Ev'", kind, re.compile(r"not supported", re.I))


@pytest.mark.parametrize("kwargs", [{"decay_code": "inSyn *= 0.9;"},
                                    {"apply_input_code": "Isyn += inSyn;"},
                                    {"decay_code": "inSyn *= 0.9;", "apply_input_code": "Isyn += inSyn;"}],
                         ids=["decay", "apply_input", "both"])
def test_genn4_postsynaptic_code_rejected(kwargs):
    with pytest.raises(ModelDefinitionError) as ei:
        ng.create_postsynaptic_model("OldPSM", **kwargs)
    check_message(ei.value, "'OldPSM'", next(iter(kwargs)), "sim_code", "injectCurrent")


def test_custom_connectivity_update_unsupported():
    m = model()
    add_pop(m, "p")
    add_pop(m, "q")
    sg = add_syn(m, "syn", matrix=SynapseMatrixType.SPARSE, conn=ng.init_sparse_connectivity("OneToOne"))
    with pytest.raises(ModelDefinitionError) as ei:
        m.add_custom_connectivity_update("prune", "Prune", sg, None)
    check_message(ei.value, "'prune'", re.compile(r"custom connectivity update", re.I),
                  re.compile(r"not supported", re.I))


def test_custom_update_egp_refs_unsupported():
    m = model()
    p = add_pop(m, "p")
    cu = ng.create_custom_update_model("U", var_refs=[("X", "scalar")], update_code="X = 0.0;")
    with pytest.raises(ModelDefinitionError) as ei:
        m.add_custom_update("cu", "G", cu, var_refs={"X": ng.create_var_ref(p, "V")}, egp_refs={"e": object()})
    check_message(ei.value, "'cu'", "egp_refs")


# --------------------------------------------------------------------------- connectivity and spiking

def test_sparse_without_connectivity_at_load():
    m = model("sparse_noconn")
    add_pop(m, "p")
    add_pop(m, "q")
    add_syn(m, "syn", matrix=SynapseMatrixType.SPARSE)
    m.build()
    with pytest.raises(ModelDefinitionError) as ei:
        m.load()
    check_message(ei.value, "'syn'", "SPARSE", "set_sparse_connections")


def test_connectivity_init_on_dense():
    m = model()
    add_pop(m, "p")
    add_pop(m, "q")
    with pytest.raises(ModelDefinitionError) as ei:
        add_syn(m, "syn", conn=ng.init_sparse_connectivity("OneToOne"))
    check_message(ei.value, "'syn'", "SPARSE")


@pytest.mark.parametrize("pre, post, culprit", [([0, 1], [0, 4], "postsynaptic"), ([0, -1], [0, 1], "presynaptic"),
                                                ([0, 1, 2], [0, 1], "3")])
def test_bad_explicit_sparse_connections(pre, post, culprit):
    m = model()
    add_pop(m, "p")
    add_pop(m, "q")
    sg = add_syn(m, "syn", matrix=SynapseMatrixType.SPARSE)
    with pytest.raises(ModelDefinitionError) as ei:
        sg.set_sparse_connections(np.array(pre), np.array(post))
    check_message(ei.value, "'syn'", culprit)


def test_failing_max_row_length_callback():
    """A user callback that raises is reported as a neurogen error naming the population and the callback
    (like a failing derived parameter), not as a bare Python exception from inside the engine."""
    snippet = ng.create_sparse_connect_init_snippet(
        "Broken", params=["k"], row_build_code="addSynapse(id_pre % num_post);",
        calc_max_row_len_func=lambda num_pre, num_post, pars: pars["kk"])
    m = model("broken_rowlen")
    add_pop(m, "p")
    add_pop(m, "q")
    add_syn(m, "syn", matrix=SynapseMatrixType.SPARSE, conn=ng.init_sparse_connectivity(snippet, {"k": 1}))
    with pytest.raises(NeurogenError) as ei:
        m.build()
        m.load()
    check_message(ei.value, "'syn'", "calc_max_row_len_func", "kk")


def test_pre_spike_syn_code_from_non_spiking_source():
    m = model()
    add_pop(m, "rates", neuron=rate())
    add_pop(m, "q")
    add_syn(m, "syn", src="rates", trg="q")
    with pytest.raises(ModelDefinitionError) as ei:
        m.build()
    check_message(ei.value, "'syn'", "'rates'", "pre_spike_syn_code", re.compile(r"threshold|spik", re.I))


def test_post_spike_syn_code_to_non_spiking_target():
    m = model()
    add_pop(m, "p")
    add_pop(m, "rates", neuron=rate())
    wu = static_wu(vars=[("g", "scalar")], pre_spike_syn_code="addToPost(g);", post_spike_syn_code="g += 0.01;")
    add_syn(m, "syn", src="p", trg="rates", wu=wu)
    with pytest.raises(ModelDefinitionError) as ei:
        m.build()
    check_message(ei.value, "'syn'", "'rates'", "post_spike_syn_code")


def test_spike_recording_on_non_spiking_population():
    m = model()
    p = add_pop(m, "rates", neuron=rate())
    p.spike_recording_enabled = True
    with pytest.raises(ModelDefinitionError) as ei:
        m.build()
    check_message(ei.value, "'rates'", re.compile(r"spike recording", re.I), re.compile(r"threshold", re.I))


# --------------------------------------------------------------------------- lifecycle

def test_egp_used_but_not_set_before_load():
    nm = leaky(extra_global_params=[("table", "scalar*")], sim_code="V = table[id];")
    m = model("egp_unset")
    add_pop(m, "pop", neuron=nm)
    m.build()
    with pytest.raises(ModelDefinitionError) as ei:
        m.load()
    check_message(ei.value, "'table'", "'pop'", "set_init_values", re.compile(r"before load", re.I))


def test_load_without_num_recording_timesteps_while_recording():
    m = model("rec_noload")
    p = add_pop(m, "pop")
    p.spike_recording_enabled = True
    m.build()
    with pytest.raises(ModelDefinitionError) as ei:
        m.load()
    check_message(ei.value, "pop", "num_recording_timesteps")


@pytest.mark.parametrize("n", [0, -5, 2.5, True])
def test_bad_num_recording_timesteps(n):
    m = model("rec_bad")
    p = add_pop(m, "pop")
    p.spike_recording_enabled = True
    m.build()
    with pytest.raises(ModelDefinitionError) as ei:
        m.load(num_recording_timesteps=n)
    check_message(ei.value, "num_recording_timesteps", repr(n))


@pytest.mark.parametrize("stage", ["unbuilt", "built"])
def test_step_time_before_load(stage):
    m = model("step_early")
    add_pop(m, "pop")
    if stage == "built":
        m.build()
    with pytest.raises(ModelDefinitionError) as ei:
        m.step_time()
    check_message(ei.value, "step_time", "load()")


def test_load_before_build():
    m = model()
    add_pop(m, "pop")
    with pytest.raises(ModelDefinitionError) as ei:
        m.load()
    check_message(ei.value, "load()", "build()")


def test_build_empty_model():
    m = model("empty_model")
    with pytest.raises(ModelDefinitionError) as ei:
        m.build()
    check_message(ei.value, "'empty_model'", re.compile(r"no neuron populations", re.I))


def test_add_population_after_build():
    m = model("late_add")
    add_pop(m, "pop")
    m.build()
    with pytest.raises(ModelDefinitionError) as ei:
        add_pop(m, "pop2")
    check_message(ei.value, "'pop2'", "build()")


def test_values_before_load():
    m = model()
    p = add_pop(m, "pop")
    with pytest.raises(ModelDefinitionError) as ei:
        p.vars["V"].values
    check_message(ei.value, "'V'", "'pop'", "load()")


def test_unknown_custom_update_group():
    m = model("cu_group")
    p = add_pop(m, "pop")
    cu = ng.create_custom_update_model("U", var_refs=[("X", "scalar")], update_code="X = 0.0;")
    m.add_custom_update("cu", "Reset", cu, var_refs={"X": ng.create_var_ref(p, "V")})
    m.build()
    m.load()
    with pytest.raises(ModelDefinitionError) as ei:
        m.custom_update("Rest")
    check_message(ei.value, "'Rest'", "Reset")


# --------------------------------------------------------------------------- legacy syntax

def test_legacy_dollar_syntax_warns_but_works():
    with pytest.warns(FutureWarning, match=r"\$\(") as rec:
        nm = ng.create_neuron_model("Legacy", params=["rate"], vars=[("V", "scalar")],
                                    sim_code="$(V) += $(rate) * DT;".replace("DT", "$(dt)"))
    assert any("Legacy" in str(w.message) and "sim_code" in str(w.message) for w in rec), \
        [str(w.message) for w in rec]
    m = model("legacy_ok")
    pop = m.add_neuron_population("pop", 3, nm, {"rate": 2.0}, {"V": 1.0})
    m.dt = 0.5
    m.build()
    m.load()
    for _ in range(4):
        m.step_time()
    pop.vars["V"].pull_from_device()
    np.testing.assert_allclose(pop.vars["V"].values, 1.0 + 4 * 2.0 * 0.5, rtol=1e-6)


def test_legacy_keywords_warn_but_work():
    with pytest.warns(FutureWarning) as rec:
        nm = ng.create_neuron_model("LegacyKw", param_names=["rate"], var_name_types=[("V", "scalar")],
                                    sim_code="V += rate;")
    msgs = " ".join(str(w.message) for w in rec)
    assert "param_names" in msgs and "var_name_types" in msgs, msgs
    m = model("legacy_kw")
    pop = m.add_neuron_population("pop", 2, nm, {"rate": 0.25}, {"V": 0.0})
    m.build()
    m.load()
    m.step_time()
    m.step_time()
    pop.vars["V"].pull_from_device()
    np.testing.assert_allclose(pop.vars["V"].values, 0.5, rtol=1e-6)


# --------------------------------------------------------------------------- where was it created?

def test_build_error_says_where_the_population_was_created():
    """§8: every build-time error carries where the population was created in user code
    (file and line of the add_* call), like Brian2's 'object was created here'."""
    m = model()
    add_pop(m, "pop", neuron=leaky(sim_code="V = Vm;"))
    with pytest.raises(CodeError) as ei:
        m.build()
    exc = ei.value
    text = str(exc) + "\n" + "\n".join(getattr(exc, "__notes__", []))
    assert "test_errors.py" in text, f"no user-code location in the error:\n{text}"
