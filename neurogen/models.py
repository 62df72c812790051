"""Model-definition factories, initialisers and references, mirroring PyGeNN 5.

A *model* (neuron, weight update, postsynaptic, current source, custom update, var-init or
sparse-connectivity snippet) is a description: parameter names, variables with their access,
and GeNN code strings. Populations bind values to it in ``GeNNModel.add_*``.
"""
import re
import warnings
from dataclasses import dataclass, field

import numpy as np

from .code import upgrade_code
from .errors import ModelDefinitionError
from .types import CustomUpdateVarAccess, VarAccess, VarAccessMode

_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED_NAMES = {
    "t", "dt", "id", "batch", "num_batch", "Isyn", "inSyn", "id_pre", "id_post", "id_syn",
    "num_neurons", "num_pre", "num_post", "st", "st_pre", "st_post", "prev_st_pre", "prev_st_post",
    "value", "scalar", "timepoint", "addToPost", "addToPre", "injectCurrent", "addSynapse",
    "id_post_begin", "row_length", "set_pre", "set_post",
}
C_TYPES = {
    "scalar", "timepoint", "float", "double", "bool", "char", "int", "unsigned int", "unsigned",
    "short", "unsigned short", "long", "unsigned long", "int8_t", "int16_t", "int32_t", "int64_t",
    "uint8_t", "uint16_t", "uint32_t", "uint64_t", "size_t", "signed int", "unsigned char",
}


def check_identifier(name, what):
    """Names become C identifiers: they must be C identifiers and outside the reserved namespace."""
    from .code.translate import KEYWORDS, MATH_FUNCTIONS, QUALIFIERS, TYPE_WORDS, UNSUPPORTED
    if not isinstance(name, str) or not _IDENT_RE.match(name):
        raise ModelDefinitionError(f"{what} name {name!r} is not a valid C identifier "
                                   "(letters, digits and '_', not starting with a digit)")
    if name.lower().startswith("ng_"):
        raise ModelDefinitionError(f"{what} name {name!r} starts with 'ng_', which is reserved for generated code")
    if name in KEYWORDS or name in TYPE_WORDS or name in QUALIFIERS or name in UNSUPPORTED \
            or name in MATH_FUNCTIONS:
        raise ModelDefinitionError(f"{what} name {name!r} is a C keyword, type or function name")


def _check_type(type_, what):
    if isinstance(type_, type) or isinstance(type_, np.dtype):
        raise ModelDefinitionError(f"{what} has type {type_!r}; give the C type as a string, e.g. 'scalar'")
    t = " ".join(str(type_).split())
    if t.endswith("*"):
        base = t[:-1].strip()
        if base in C_TYPES:
            return base + "*"
    if t not in C_TYPES:
        raise ModelDefinitionError(f"{what} has unsupported type {type_!r} "
                                   f"(supported: {', '.join(sorted(C_TYPES))})")
    return t


@dataclass
class Var:
    name: str
    type: str
    access: object = VarAccess.READ_WRITE


@dataclass
class Param:
    name: str
    type: str = "scalar"


@dataclass
class DerivedParam:
    name: str
    func: object
    type: str = "scalar"


@dataclass
class VarRefSpec:
    name: str
    type: str
    access: VarAccessMode = VarAccessMode.READ_WRITE


@dataclass
class ModelSpec:
    """A model description returned by every ``create_*`` factory."""
    kind: str
    class_name: str
    params: list = field(default_factory=list)
    derived_params: list = field(default_factory=list)
    vars: list = field(default_factory=list)
    pre_vars: list = field(default_factory=list)
    post_vars: list = field(default_factory=list)
    extra_global_params: list = field(default_factory=list)
    var_refs: list = field(default_factory=list)          # custom updates
    neuron_var_refs: list = field(default_factory=list)   # PSM / current source
    pre_neuron_var_refs: list = field(default_factory=list)
    post_neuron_var_refs: list = field(default_factory=list)
    psm_var_refs: list = field(default_factory=list)
    additional_input_vars: list = field(default_factory=list)
    code: dict = field(default_factory=dict)
    auto_refractory_required: bool = False
    calc_max_row_len_func: object = None
    calc_max_col_len_func: object = None
    #: name -> (predicate, plain-language requirement), checked when the user gives the value
    param_checks: dict = field(default_factory=dict)

    def __hash__(self):
        return id(self)

    def param_names(self):
        return [p.name for p in self.params]

    def all_names(self):
        groups = [self.params, self.derived_params, self.vars, self.pre_vars, self.post_vars,
                  self.extra_global_params, self.var_refs, self.neuron_var_refs,
                  self.pre_neuron_var_refs, self.post_neuron_var_refs, self.psm_var_refs,
                  self.additional_input_vars]
        return [x.name for g in groups for x in g]

    def __repr__(self):
        return f"<{self.kind} model {self.class_name!r}>"


def _params(params, what):
    out = []
    for p in params or []:
        if isinstance(p, str):
            out.append(Param(p))
        elif isinstance(p, (tuple, list)) and len(p) == 2:
            out.append(Param(p[0], _check_type(p[1], f"{what} parameter {p[0]!r}")))
        else:
            raise ModelDefinitionError(f"{what}: parameter {p!r} must be a name or a (name, type) pair")
        check_identifier(out[-1].name, f"{what} parameter")
    return out


def _derived(derived, what):
    out = []
    for d in derived or []:
        if not isinstance(d, (tuple, list)) or len(d) not in (2, 3) or not callable(d[1]):
            raise ModelDefinitionError(f"{what}: derived parameter {d!r} must be (name, function(pars, dt)[, type])")
        check_identifier(d[0], f"{what} derived parameter")
        out.append(DerivedParam(d[0], d[1], _check_type(d[2], f"{what} derived parameter") if len(d) == 3 else "scalar"))
    return out


def _vars(vars_, what, access_enum=VarAccess, default=VarAccess.READ_WRITE):
    out = []
    for v in vars_ or []:
        if not isinstance(v, (tuple, list)) or len(v) not in (2, 3):
            raise ModelDefinitionError(f"{what}: variable {v!r} must be (name, type) or (name, type, access)")
        access = v[2] if len(v) == 3 else default
        if not isinstance(access, access_enum):
            raise ModelDefinitionError(f"{what}: variable {v[0]!r} has access {access!r}; "
                                       f"expected a {access_enum.__name__} value")
        check_identifier(v[0], f"{what} variable")
        out.append(Var(v[0], _check_type(v[1], f"{what} variable {v[0]!r}"), access))
    return out


def _refs(refs, what):
    out = []
    for r in refs or []:
        if not isinstance(r, (tuple, list)) or len(r) not in (2, 3):
            raise ModelDefinitionError(f"{what}: reference {r!r} must be (name, type[, VarAccessMode])")
        mode = r[2] if len(r) == 3 else VarAccessMode.READ_WRITE
        if not isinstance(mode, VarAccessMode):
            raise ModelDefinitionError(f"{what}: reference {r[0]!r} has mode {mode!r}; expected a VarAccessMode")
        check_identifier(r[0], f"{what} reference")
        out.append(VarRefSpec(r[0], _check_type(r[1], f"{what} reference {r[0]!r}"), mode))
    return out


def _egps(egps, what):
    out = []
    for e in egps or []:
        if not isinstance(e, (tuple, list)) or len(e) != 2:
            raise ModelDefinitionError(f"{what}: extra global parameter {e!r} must be (name, type)")
        check_identifier(e[0], f"{what} extra global parameter")
        out.append(Param(e[0], _check_type(e[1], f"{what} extra global parameter {e[0]!r}")))
    return out


def _legacy(kwargs, mapping, what):
    out = {}
    for old, new in mapping.items():
        if old in kwargs:
            warnings.warn(f"{what}: keyword '{old}' is deprecated; use '{new}'", FutureWarning, stacklevel=3)
            value = kwargs.pop(old)
            if old == "var_name_types":
                value = list(value)
            out[new] = value
    if kwargs:
        raise ModelDefinitionError(f"{what}: unknown keyword(s) {', '.join(sorted(kwargs))}")
    return out


def _finish(spec, code_kinds):
    what = f"{spec.kind} model {spec.class_name!r}"
    for key, code in code_kinds.items():
        if code is not None:
            spec.code[key] = upgrade_code(code, f"{what} {key}")
    names = spec.all_names()
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ModelDefinitionError(f"{what}: name(s) {', '.join(sorted(dup))} declared more than once")
    bad = sorted(set(names) & RESERVED_NAMES)
    if bad:
        raise ModelDefinitionError(f"{what}: name(s) {', '.join(map(repr, bad))} are reserved (provided by the "
                                   "engine)")
    return spec


def create_neuron_model(class_name, params=None, vars=None, derived_params=None, sim_code=None,
                        threshold_condition_code=None, reset_code=None, extra_global_params=None,
                        additional_input_vars=None, auto_refractory_required=False, **legacy):
    """Define a neuron model (GeNN 5 ``create_neuron_model``)."""
    what = f"neuron model {class_name!r}"
    lk = _legacy(legacy, {"param_names": "params", "var_name_types": "vars"}, what)
    params = lk.get("params", params)
    vars = lk.get("vars", vars)
    aiv = []
    for a in additional_input_vars or []:
        if not isinstance(a, (tuple, list)) or len(a) != 3:
            raise ModelDefinitionError(f"{what}: additional input variable {a!r} must be (name, type, initial value)")
        check_identifier(a[0], f"{what} additional input variable")
        aiv.append(Var(a[0], _check_type(a[1], f"{what} additional input variable"), float(a[2])))
    spec = ModelSpec("neuron", class_name, _params(params, what), _derived(derived_params, what),
                     _vars(vars, what), extra_global_params=_egps(extra_global_params, what),
                     additional_input_vars=aiv, auto_refractory_required=bool(auto_refractory_required))
    return _finish(spec, {"sim_code": sim_code, "threshold_condition_code": threshold_condition_code,
                          "reset_code": reset_code})


_WU_CODE = ("pre_spike_syn_code", "post_spike_syn_code", "synapse_dynamics_code", "pre_spike_code",
            "post_spike_code", "pre_dynamics_code", "post_dynamics_code", "pre_event_syn_code",
            "post_event_syn_code", "pre_event_threshold_condition_code",
            "post_event_threshold_condition_code")


def create_weight_update_model(class_name, params=None, vars=None, pre_vars=None, post_vars=None,
                               pre_neuron_var_refs=None, post_neuron_var_refs=None, psm_var_refs=None,
                               derived_params=None, extra_global_params=None, **code_and_legacy):
    """Define a weight-update model (GeNN 5 ``create_weight_update_model``)."""
    what = f"weight update model {class_name!r}"
    code = {k: code_and_legacy.pop(k) for k in list(code_and_legacy) if k in _WU_CODE}
    lk = _legacy(code_and_legacy, {"param_names": "params", "var_name_types": "vars",
                                   "pre_var_name_types": "pre_vars", "post_var_name_types": "post_vars",
                                   "sim_code": "pre_spike_syn_code", "learn_post_code": "post_spike_syn_code",
                                   "event_code": "pre_event_syn_code"}, what)
    for key in ("pre_spike_syn_code", "post_spike_syn_code", "pre_event_syn_code"):
        if key in lk:
            code[key] = lk.pop(key)
    params = lk.get("params", params)
    spec = ModelSpec("weight update", class_name, _params(params, what), _derived(derived_params, what),
                     _vars(lk.get("vars", vars), what), _vars(lk.get("pre_vars", pre_vars), what),
                     _vars(lk.get("post_vars", post_vars), what), _egps(extra_global_params, what),
                     pre_neuron_var_refs=_refs(pre_neuron_var_refs, what),
                     post_neuron_var_refs=_refs(post_neuron_var_refs, what),
                     psm_var_refs=_refs(psm_var_refs, what))
    for key in ("pre_event_syn_code", "post_event_syn_code", "pre_event_threshold_condition_code",
                "post_event_threshold_condition_code"):
        if code.get(key):
            raise ModelDefinitionError(f"{what}: {key} (spike-like events) is not supported by neurogen yet")
    return _finish(spec, code)


def create_postsynaptic_model(class_name, params=None, vars=None, neuron_var_refs=None, derived_params=None,
                              sim_code=None, extra_global_params=None, **legacy):
    """Define a postsynaptic model (GeNN 5 ``create_postsynaptic_model``)."""
    what = f"postsynaptic model {class_name!r}"
    if "decay_code" in legacy or "apply_input_code" in legacy:
        raise ModelDefinitionError(f"{what}: the GeNN 4 pair decay_code/apply_input_code is not supported; "
                                   "write one sim_code calling injectCurrent(x) and updating inSyn")
    lk = _legacy(legacy, {"param_names": "params", "var_name_types": "vars"}, what)
    spec = ModelSpec("postsynaptic", class_name, _params(lk.get("params", params), what),
                     _derived(derived_params, what), _vars(lk.get("vars", vars), what),
                     extra_global_params=_egps(extra_global_params, what),
                     neuron_var_refs=_refs(neuron_var_refs, what))
    return _finish(spec, {"sim_code": sim_code})


def create_current_source_model(class_name, params=None, vars=None, neuron_var_refs=None, derived_params=None,
                                injection_code=None, extra_global_params=None, **legacy):
    """Define a current source model (GeNN 5 ``create_current_source_model``)."""
    what = f"current source model {class_name!r}"
    lk = _legacy(legacy, {"param_names": "params", "var_name_types": "vars"}, what)
    spec = ModelSpec("current source", class_name, _params(lk.get("params", params), what),
                     _derived(derived_params, what), _vars(lk.get("vars", vars), what),
                     extra_global_params=_egps(extra_global_params, what),
                     neuron_var_refs=_refs(neuron_var_refs, what))
    return _finish(spec, {"injection_code": injection_code})


def create_custom_update_model(class_name, params=None, vars=None, derived_params=None, var_refs=None,
                               update_code=None, extra_global_params=None, extra_global_param_refs=None,
                               **legacy):
    """Define a custom update (GeNN 5 ``create_custom_update_model``)."""
    what = f"custom update model {class_name!r}"
    lk = _legacy(legacy, {"param_names": "params", "var_name_types": "vars"}, what)
    if extra_global_param_refs:
        raise ModelDefinitionError(f"{what}: extra_global_param_refs are not supported by neurogen yet")
    spec = ModelSpec("custom update", class_name, _params(lk.get("params", params), what),
                     _derived(derived_params, what),
                     _vars(lk.get("vars", vars), what, CustomUpdateVarAccess, CustomUpdateVarAccess.READ_WRITE),
                     extra_global_params=_egps(extra_global_params, what), var_refs=_refs(var_refs, what))
    return _finish(spec, {"update_code": update_code})


def create_var_init_snippet(class_name, params=None, derived_params=None, var_init_code=None,
                            extra_global_params=None, **legacy):
    """Define a variable initialisation snippet: ``var_init_code`` assigns ``value``."""
    what = f"var init snippet {class_name!r}"
    lk = _legacy(legacy, {"param_names": "params"}, what)
    spec = ModelSpec("var init", class_name, _params(lk.get("params", params), what),
                     _derived(derived_params, what), extra_global_params=_egps(extra_global_params, what))
    return _finish(spec, {"var_init_code": var_init_code})


def create_sparse_connect_init_snippet(class_name, params=None, derived_params=None, row_build_code=None,
                                       col_build_code=None, calc_max_row_len_func=None,
                                       calc_max_col_len_func=None, calc_kernel_size_func=None,
                                       extra_global_params=None, **legacy):
    """Define a sparse connectivity snippet: ``row_build_code`` runs once per row and calls addSynapse(j)."""
    what = f"sparse connectivity snippet {class_name!r}"
    lk = _legacy(legacy, {"param_names": "params"}, what)
    if col_build_code:
        raise ModelDefinitionError(f"{what}: col_build_code is not supported by neurogen yet; use row_build_code")
    spec = ModelSpec("sparse connectivity", class_name, _params(lk.get("params", params), what),
                     _derived(derived_params, what), extra_global_params=_egps(extra_global_params, what),
                     calc_max_row_len_func=calc_max_row_len_func, calc_max_col_len_func=calc_max_col_len_func)
    return _finish(spec, {"row_build_code": row_build_code})


# --------------------------------------------------------------------------- initialisers

@dataclass
class VarInit:
    snippet: ModelSpec
    params: dict


@dataclass
class SparseConnectivityInit:
    snippet: ModelSpec
    params: dict


@dataclass
class WeightUpdateInit:
    model: ModelSpec
    params: dict
    vars: dict
    pre_vars: dict
    post_vars: dict
    pre_var_refs: dict
    post_var_refs: dict
    psm_var_refs: dict


@dataclass
class PostsynapticInit:
    model: ModelSpec
    params: dict
    vars: dict
    var_refs: dict


def _resolve(model, kind, registry_name):
    if isinstance(model, ModelSpec):
        if model.kind != kind:
            raise ModelDefinitionError(f"expected a {kind} model, got {model!r}")
        return model
    if isinstance(model, str):
        from . import builtin_models
        table = getattr(builtin_models, registry_name)
        if model not in table:
            raise ModelDefinitionError(f"unknown built-in {kind} model {model!r} "
                                       f"(available: {', '.join(sorted(table))})")
        return table[model]
    raise ModelDefinitionError(f"expected a {kind} model or the name of a built-in one, got {model!r}")


def validate_params(spec, params, what):
    """Reject values a model cannot use (tau <= 0, probabilities outside [0, 1]) when they are set."""
    for name, (ok, requirement) in spec.param_checks.items():
        if name in params:
            value = params[name]
            try:
                good = bool(ok(float(value)))
            except (TypeError, ValueError):
                good = False
            if not good:
                raise ModelDefinitionError(f"{what}: parameter '{name}' of {spec.class_name} {requirement}, "
                                           f"got {value!r}")


def init_var(snippet, params=None):
    """Initialise a variable with a var-init snippet (object or built-in name)."""
    spec = _resolve(snippet, "var init", "VAR_INIT_SNIPPETS")
    validate_params(spec, dict(params or {}), f"init_var('{spec.class_name}')")
    return VarInit(spec, dict(params or {}))


def init_sparse_connectivity(snippet, params=None):
    spec = _resolve(snippet, "sparse connectivity", "SPARSE_CONNECT_SNIPPETS")
    validate_params(spec, dict(params or {}), f"init_sparse_connectivity('{spec.class_name}')")
    return SparseConnectivityInit(spec, dict(params or {}))


def init_weight_update(snippet, params=None, vars=None, pre_vars=None, post_vars=None,
                       pre_var_refs=None, post_var_refs=None, psm_var_refs=None):
    return WeightUpdateInit(_resolve(snippet, "weight update", "WEIGHT_UPDATE_MODELS"), dict(params or {}),
                            dict(vars or {}), dict(pre_vars or {}), dict(post_vars or {}),
                            dict(pre_var_refs or {}), dict(post_var_refs or {}), dict(psm_var_refs or {}))


def init_postsynaptic(snippet, params=None, vars=None, var_refs=None):
    spec = _resolve(snippet, "postsynaptic", "POSTSYNAPTIC_MODELS")
    validate_params(spec, dict(params or {}), f"init_postsynaptic('{spec.class_name}')")
    return PostsynapticInit(spec, dict(params or {}), dict(vars or {}), dict(var_refs or {}))


# --------------------------------------------------------------------------- references

@dataclass
class VarReference:
    """A reference to a variable of a group (``create_var_ref`` and friends)."""
    group: object
    var_name: str
    kind: str = "neuron"            # 'neuron' (element-wise vars) or 'wu' (per-synapse vars)
    transpose_group: object = None
    transpose_var_name: str = None


def create_var_ref(group, var_name):
    """Reference a variable of a neuron group, current source or custom update."""
    return VarReference(group, var_name, "neuron")


def create_psm_var_ref(sg, var_name):
    return VarReference(sg, var_name, "psm")


def create_wu_pre_var_ref(sg, var_name):
    return VarReference(sg, var_name, "wu_pre")


def create_wu_post_var_ref(sg, var_name):
    return VarReference(sg, var_name, "wu_post")


def create_wu_var_ref(sg, var_name, transpose_sg=None, transpose_var_name=None):
    """Reference a per-synapse variable; with a transpose group the update writes its transpose there."""
    return VarReference(sg, var_name, "wu", transpose_sg, transpose_var_name)


def create_out_post_var_ref(sg):
    return VarReference(sg, "inSyn", "out_post")
