"""Population, synapse, current-source and custom-update groups, and their variable views.

Groups hold what the user asked for (model, parameter values, initial values) and, after
``GeNNModel.load``, expose the runtime arrays (NumPy arrays shared zero-copy with native code).
"""
import numbers

import numpy as np

from .errors import ModelDefinitionError
from .models import VarInit, VarReference, check_identifier, init_var
from .types import SynapseMatrixType, VarAccess, VarAccessDim, VarAccessMode

_INT_DTYPES = {
    "bool": np.bool_, "char": np.int8, "int8_t": np.int8, "unsigned char": np.uint8, "uint8_t": np.uint8,
    "short": np.int16, "int16_t": np.int16, "unsigned short": np.uint16, "uint16_t": np.uint16,
    "int": np.int32, "signed int": np.int32, "int32_t": np.int32, "unsigned int": np.uint32,
    "unsigned": np.uint32, "uint32_t": np.uint32, "long": np.int64, "int64_t": np.int64,
    "unsigned long": np.uint64, "uint64_t": np.uint64, "size_t": np.uint64,
}


def numpy_dtype(ctype, precision, time_precision):
    ctype = ctype.rstrip("*").strip()
    if ctype == "scalar":
        return np.dtype(np.float32 if precision == "float" else np.float64)
    if ctype == "timepoint":
        return np.dtype(np.float32 if time_precision == "float" else np.float64)
    if ctype == "float":
        return np.dtype(np.float32)
    if ctype == "double":
        return np.dtype(np.float64)
    return np.dtype(_INT_DTYPES[ctype])


class VarStorage:
    """One runtime array: a variable (or internal buffer) with its C type and shape."""

    def __init__(self, group, name, ctype, batched, size_fn, access_mode=VarAccessMode.READ_WRITE,
                 init=None, kind="var"):
        self.group, self.name, self.ctype, self.batched = group, name, ctype, batched
        self.size_fn = size_fn            # () -> elements per batch instance (known at load)
        self.access_mode = access_mode
        self.init = init
        self.kind = kind
        self.slot = None
        self.array = None
        self.user_values = None
        self.element_dim = True



class VariableView:
    """``group.vars[name]``: PyGeNN-style access to a variable's runtime values."""

    def __init__(self, group, storage):
        self._group, self._st = group, storage

    @property
    def _model(self):
        return self._group._model

    def _require_loaded(self):
        if self._st.array is None:
            raise ModelDefinitionError(f"variable '{self._st.name}' of {self._group._describe()} has no values "
                                       "until model.load() has been called")

    @property
    def view(self):
        """The runtime array itself (batch, n) when batched with batch_size > 1, else (n,)."""
        self._require_loaded()
        return self._st.array

    current_view = view

    @property
    def values(self):
        self._require_loaded()
        return self._group._user_values(self._st)

    @values.setter
    def values(self, vals):
        self.set_values(vals)

    current_values = values

    def set_values(self, vals):
        if self._st.array is None:
            self.set_init_values(vals)
        else:
            self._group._set_user_values(self._st, vals)

    def set_init_values(self, vals):
        """Set initial values (a number, a NumPy array or an ``init_var(...)``) before ``load()``."""
        if self._model._loaded:
            self._group._set_user_values(self._st, vals)
        else:
            self._st.init = _as_init(vals, f"variable '{self._st.name}' of {self._group._describe()}")

    def push_to_device(self):
        self._model._backend.push(self._st)

    def pull_from_device(self):
        self._model._backend.pull(self._st)

    def __repr__(self):
        return f"<variable {self._st.name!r} of {self._group._describe()}>"


class EGPView(VariableView):
    """``group.extra_global_params[name]``: arrays the user fills before ``load()``."""

    def set_init_values(self, vals):
        arr = np.ascontiguousarray(np.asarray(vals, dtype=numpy_dtype(self._st.ctype, self._model.precision,
                                                                     self._model.time_precision)).ravel())
        self._st.user_values = arr
        if self._model._loaded:
            self._model._backend.set_egp(self._st, arr)

    def set_values(self, vals):
        self.set_init_values(vals)


def _as_init(value, what):
    if isinstance(value, VarInit):
        return value
    if isinstance(value, (numbers.Number, np.number)) and not isinstance(value, bool):
        return init_var("Constant", {"constant": float(value)})
    if isinstance(value, bool):
        return init_var("Constant", {"constant": float(value)})
    if isinstance(value, (np.ndarray, list, tuple)):
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise ModelDefinitionError(f"{what}: initial values must be numeric, got dtype {arr.dtype}")
        return arr
    raise ModelDefinitionError(f"{what}: initial value {value!r} must be a number, a NumPy array or init_var(...)")


def positions_within_rows(lengths):
    """For ragged rows of the given lengths laid end to end: each entry's position in its row."""
    lengths = np.asarray(lengths, dtype=np.int64)
    return np.arange(lengths.sum(), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)


def _check_values(spec, values, kind, what, required=True):
    values = dict(values or {})
    names = [p.name for p in getattr(spec, kind)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ModelDefinitionError(f"{what}: unknown {kind[:-1].replace('_', ' ')} {', '.join(map(repr, unknown))} "
                                   f"(the model declares {', '.join(map(repr, names)) or 'none'})")
    if required:
        missing = [n for n in names if n not in values]
        if missing:
            raise ModelDefinitionError(f"{what}: missing value for {kind[:-1].replace('_', ' ')} "
                                       f"{', '.join(map(repr, missing))}")
    return values


def _check_params(spec, params, what):
    from .models import validate_params
    params = _check_values(spec, params, "params", what)
    validate_params(spec, params, what)
    out = {}
    for p in spec.params:
        v = params[p.name]
        if isinstance(v, (VarInit, np.ndarray, list, tuple)) or not isinstance(v, (numbers.Number, np.number)):
            raise ModelDefinitionError(f"{what}: parameter '{p.name}' must be a single number, got {v!r} "
                                       "(parameters are shared by the whole population; use a variable for "
                                       "per-neuron values)")
        out[p.name] = float(v) if p.type in ("scalar", "float", "double", "timepoint") else int(v)
    return out


class Group:
    kind = "group"

    def __init__(self, model, name, spec, params):
        check_identifier(name, f"{self.kind}")
        from .errors import user_location
        self._created_at = user_location()
        self._model = model
        self.name = name
        self.model = spec
        self.params = _check_params(spec, params, self._describe())
        self.dynamic_params = set()
        self._storages = {}            # name -> VarStorage (all runtime arrays of this group)
        self.vars = {}
        self.extra_global_params = {}
        for egp in spec.extra_global_params:
            st = VarStorage(self, egp.name, egp.type, False, None, kind="egp")
            self._storages["egp:" + egp.name] = st
            self.extra_global_params[egp.name] = EGPView(self, st)

    def _describe(self):
        return f"{self.kind} '{self.name}'"

    def set_param_dynamic(self, name, dynamic=True):
        if name not in self.params:
            raise ModelDefinitionError(f"{self._describe()}: no parameter '{name}' to make dynamic "
                                       f"(parameters: {', '.join(self.params) or 'none'})")
        self._model._check_not_built(f"set_param_dynamic('{name}')")
        (self.dynamic_params.add if dynamic else self.dynamic_params.discard)(name)

    def set_dynamic_param_value(self, name, value):
        if name not in self.dynamic_params:
            raise ModelDefinitionError(f"{self._describe()}: parameter '{name}' is not dynamic; call "
                                       f"set_param_dynamic('{name}') before build()")
        self.params[name] = float(value)
        if self._model._loaded:
            self._model._backend.set_dynamic_param(self, name, float(value))

    def _add_var(self, var, values, batched, size_fn, what_dict="vars", prefix=""):
        init = values.get(var.name)
        what = f"variable '{var.name}' of {self._describe()}"
        init = _as_init(init, what) if init is not None else None
        if init is None:
            raise ModelDefinitionError(f"{self._describe()}: missing initial value for variable '{var.name}'")
        mode = var.access.mode if hasattr(var.access, "mode") else VarAccessMode.READ_WRITE
        st = VarStorage(self, prefix + var.name, var.type, batched, size_fn, mode, init)
        self._storages[prefix + var.name] = st
        getattr(self, what_dict)[var.name] = VariableView(self, st)
        return st

    def _user_values(self, st):
        arr = st.array
        return arr.copy()

    def _set_user_values(self, st, vals):
        st.array[...] = np.asarray(vals, dtype=st.array.dtype).reshape(st.array.shape) \
            if np.ndim(vals) else vals

    def _var_dims_batched(self, access):
        return self._model.batch_size > 1 and bool(access.dims & VarAccessDim.BATCH)


class NeuronGroup(Group):
    kind = "neuron population"

    def __init__(self, model, name, num_neurons, spec, params, vars_):
        if isinstance(num_neurons, bool) or not isinstance(num_neurons, (int, np.integer)) or num_neurons <= 0:
            raise ModelDefinitionError(f"neuron population '{name}': size must be a positive integer, "
                                       f"got {num_neurons!r}")
        self.num_neurons = int(num_neurons)
        super().__init__(model, name, spec, params)
        vars_ = _check_values(spec, vars_, "vars", self._describe())
        for v in spec.vars:
            if v.access == VarAccess.READ_ONLY_SHARED_NEURON:
                st = self._add_var(v, vars_, True, lambda: 1)
                st.element_dim = False
            else:
                self._add_var(v, vars_, self._var_dims_batched(v.access), lambda: self.num_neurons)
        self.spike_recording_enabled = False
        self.incoming = []
        self.outgoing = []
        self.current_sources = []
        self.var_recording = {}
        self.streams = set()
        self.recorded_spikes = None

    @property
    def size(self):
        return self.num_neurons

    def record_var(self, name, every=1):
        """neurogen extension: record variable ``name`` every ``every`` steps during ``run``."""
        if name not in self.vars:
            raise ModelDefinitionError(f"{self._describe()}: cannot record unknown variable '{name}' "
                                       f"(variables: {', '.join(self.vars)})")
        if not isinstance(every, (int, np.integer)) or every < 1:
            raise ModelDefinitionError(f"{self._describe()}: recording interval 'every' must be a positive "
                                       f"integer, got {every!r}")
        self._model._check_not_built(f"record_var('{name}')")
        self.var_recording[name] = int(every)

    def stream_var(self, name):
        """neurogen extension: declare that variable ``name`` is overwritten each step from an array
        given later with ``set_stream(name, data)`` (inputs streamed inside ``run``)."""
        if name not in self.vars:
            raise ModelDefinitionError(f"{self._describe()}: cannot stream into unknown variable '{name}' "
                                       f"(variables: {', '.join(self.vars)})")
        self._model._check_not_built(f"stream_var('{name}')")
        self.streams.add(name)

    def set_stream(self, name, data, start_timestep=None):
        """Feed ``data[k]`` into variable ``name`` at the start of time step ``start_timestep + k``."""
        if name not in self.streams:
            raise ModelDefinitionError(f"{self._describe()}: variable '{name}' was not declared with "
                                       f"stream_var('{name}') before build()")
        self._model._backend.set_stream(self, name, data, start_timestep)

    @property
    def spike_recording_data(self):
        return self._model._backend.spike_recording_data(self)

    def var_recording_data(self, name):
        """(times, values) recorded for ``name``; values has shape (rows, batch, n) or (rows, n)."""
        return self._model._backend.var_recording_data(self, name)


class SynapseGroup(Group):
    kind = "synapse population"

    def __init__(self, model, name, matrix_type, source, target, wu, ps, conn):
        self.matrix_type = matrix_type
        self.src, self.trg = source, target
        self.wu, self.ps, self.conn = wu, ps, conn
        super().__init__(model, name, wu.model, wu.params)
        self.ps_params = _check_params(ps.model, ps.params, f"postsynaptic model of {self._describe()}")
        self.pre_vars, self.post_vars, self.psm_vars = {}, {}, {}
        self.psm_extra_global_params = {}
        self.post_target_var = "Isyn"
        self.pre_target_var = "Isyn"
        self.axonal_delay_steps = 0
        self.back_prop_delay_steps = 0
        self.max_dendritic_delay_timesteps = 1
        self.max_connections = None
        self.parallelism_hint = None
        self.num_threads_per_spike = 1
        self.narrow_sparse_ind_enabled = False
        self.row_length = self.ind = None
        self.row_stride = None
        self._user_conn = None
        self._user_order = None
        d = self._describe()
        wu_vars = _check_values(wu.model, wu.vars, "vars", d)
        for v in wu.model.vars:
            self._add_var(v, wu_vars, self._var_dims_batched(v.access), self._num_syn_slots)
        pre = _check_values(wu.model, wu.pre_vars, "pre_vars", d)
        for v in wu.model.pre_vars:
            self._add_var(v, pre, self._var_dims_batched(v.access), lambda: self.src.num_neurons, "pre_vars", "pre:")
        post = _check_values(wu.model, wu.post_vars, "post_vars", d)
        for v in wu.model.post_vars:
            self._add_var(v, post, self._var_dims_batched(v.access), lambda: self.trg.num_neurons, "post_vars",
                          "post:")
        psv = _check_values(ps.model, ps.vars, "vars", f"postsynaptic model of {d}")
        for v in ps.model.vars:
            self._add_var(v, psv, self._var_dims_batched(v.access), lambda: self.trg.num_neurons, "psm_vars", "psm:")
        for egp in ps.model.extra_global_params:
            st = VarStorage(self, "psm:" + egp.name, egp.type, False, None, kind="egp")
            self._storages["egp:psm:" + egp.name] = st
            self.psm_extra_global_params[egp.name] = EGPView(self, st)

    def _num_syn_slots(self):
        if self.matrix_type == SynapseMatrixType.DENSE:
            return self.src.num_neurons * self.trg.num_neurons
        return self.src.num_neurons * self.row_stride

    # ------------------------------------------------------------------ sparse connectivity
    def set_sparse_connections(self, pre_indices, post_indices):
        """Give SPARSE connectivity explicitly (before load); variable values then follow this order."""
        if self.matrix_type != SynapseMatrixType.SPARSE:
            raise ModelDefinitionError(f"{self._describe()}: set_sparse_connections needs SPARSE connectivity, "
                                       f"not {self.matrix_type.name}")
        pre = np.asarray(pre_indices, dtype=np.int64).ravel()
        post = np.asarray(post_indices, dtype=np.int64).ravel()
        if pre.shape != post.shape:
            raise ModelDefinitionError(f"{self._describe()}: set_sparse_connections got {pre.size} presynaptic "
                                       f"and {post.size} postsynaptic indices")
        if pre.size and (pre.min() < 0 or pre.max() >= self.src.num_neurons):
            raise ModelDefinitionError(f"{self._describe()}: presynaptic index out of range "
                                       f"[0, {self.src.num_neurons})")
        if post.size and (post.min() < 0 or post.max() >= self.trg.num_neurons):
            raise ModelDefinitionError(f"{self._describe()}: postsynaptic index out of range "
                                       f"[0, {self.trg.num_neurons})")
        self._user_conn = (pre, post)

    def _valid_slots(self):
        """Flat slot indices (row-major) of existing synapses, in the user's order when given."""
        lengths = self.row_length.astype(np.int64)
        rows = np.repeat(np.arange(self.src.num_neurons, dtype=np.int64), lengths)
        offs = positions_within_rows(lengths)
        slots = rows * self.row_stride + offs
        if self._user_order is not None:
            out = np.empty_like(slots)
            out[self._user_order] = slots
            return out
        return slots

    def get_sparse_pre_inds(self):
        self._require_sparse_loaded()
        return self._valid_slots() // self.row_stride

    def get_sparse_post_inds(self):
        self._require_sparse_loaded()
        return self.ind[self._valid_slots()].astype(np.int64)

    def _require_sparse_loaded(self):
        if self.matrix_type != SynapseMatrixType.SPARSE:
            raise ModelDefinitionError(f"{self._describe()} is {self.matrix_type.name}, not SPARSE")
        if self.row_length is None:
            raise ModelDefinitionError(f"{self._describe()}: connectivity exists only after model.load()")

    def pull_connectivity_from_device(self):
        pass

    def push_connectivity_to_device(self):
        pass

    def _user_values(self, st):
        if self.matrix_type == SynapseMatrixType.SPARSE and st.kind == "var" and st.size_fn == self._num_syn_slots:
            slots = self._valid_slots()
            return st.array[..., slots].copy()
        return st.array.copy()

    def _set_user_values(self, st, vals):
        if self.matrix_type == SynapseMatrixType.SPARSE and st.kind == "var" and st.size_fn == self._num_syn_slots:
            st.array[..., self._valid_slots()] = vals
        else:
            super()._set_user_values(st, vals)

    @property
    def weight_update_var_size(self):
        return self._num_syn_slots()


class CurrentSource(Group):
    kind = "current source"

    def __init__(self, model, name, spec, target, params, vars_, var_refs):
        super().__init__(model, name, spec, params)
        self.target = target
        vars_ = _check_values(spec, vars_, "vars", self._describe())
        for v in spec.vars:
            self._add_var(v, vars_, self._var_dims_batched(v.access), lambda: self.target.num_neurons)
        self.var_refs = _check_values(spec, var_refs, "neuron_var_refs", self._describe())

    @property
    def num_neurons(self):
        return self.target.num_neurons


class CustomUpdate(Group):
    kind = "custom update"

    def __init__(self, model, name, group_name, spec, params, vars_, var_refs):
        if not isinstance(group_name, str) or not group_name:
            raise ModelDefinitionError(f"custom update '{name}': update group name must be a non-empty string")
        self.update_group = group_name
        super().__init__(model, name, spec, params)
        d = self._describe()
        self.var_refs = _check_values(spec, var_refs, "var_refs", d)
        for rname, ref in self.var_refs.items():
            if not isinstance(ref, VarReference):
                raise ModelDefinitionError(f"{d}: reference '{rname}' must be made with create_var_ref(...) or "
                                           f"create_wu_var_ref(...), got {ref!r}")
        self._resolve_shape()
        vars_ = _check_values(spec, vars_, "vars", d)
        for v in spec.vars:
            drops = v.access.drops
            batched = self.batched and drops != "drop_batch"
            if drops == "drop_element":
                st = self._add_var(v, vars_, batched, lambda: 1)
                st.element_dim = False
            else:
                self._add_var(v, vars_, batched, self._size)

    def _ref_storage(self, rname, ref):
        d = self._describe()
        g = ref.group
        if ref.kind == "neuron":
            if not isinstance(g, Group) or ref.var_name not in g.vars or isinstance(g, SynapseGroup):
                names = ", ".join(getattr(g, "vars", {})) if isinstance(g, Group) else ""
                raise ModelDefinitionError(f"{d}: reference '{rname}' targets unknown variable '{ref.var_name}' of "
                                           f"{g._describe() if isinstance(g, Group) else repr(g)}"
                                           f"{' (variables: ' + names + ')' if names else ''}")
            return g.vars[ref.var_name]._st
        if ref.kind == "wu" and isinstance(g, CustomUpdate) and g.synapse_group is not None:
            if ref.var_name not in g.vars:   # a per-synapse variable of a custom weight update
                raise ModelDefinitionError(f"{d}: reference '{rname}' targets unknown variable '{ref.var_name}' "
                                           f"of {g._describe()}")
            return g.vars[ref.var_name]._st
        if not isinstance(g, SynapseGroup):
            raise ModelDefinitionError(f"{d}: reference '{rname}' ({ref.kind}) needs a synapse population, "
                                       f"got {g._describe() if isinstance(g, Group) else repr(g)}")
        table = {"wu": g.vars, "wu_pre": g.pre_vars, "wu_post": g.post_vars, "psm": g.psm_vars}.get(ref.kind)
        if table is None or ref.var_name not in table:
            raise ModelDefinitionError(f"{d}: reference '{rname}' targets unknown variable '{ref.var_name}' of "
                                       f"{g._describe()}")
        return table[ref.var_name]._st

    def _resolve_shape(self):
        d = self._describe()
        self.ref_storages = {n: self._ref_storage(n, r) for n, r in self.var_refs.items()}
        wu = [r for r in self.var_refs.values() if r.kind == "wu"]
        if wu:
            def synapses(r):
                return r.group.synapse_group if isinstance(r.group, CustomUpdate) else r.group
            sgs = {id(synapses(r)) for r in wu}
            if len(sgs) > 1 or len(wu) != len(self.var_refs):
                raise ModelDefinitionError(f"{d}: all references must point at variables of the same synapse "
                                           "population (a per-synapse update cannot mix in per-neuron references)")
            self.synapse_group = synapses(wu[0])
            self._size = self.synapse_group._num_syn_slots
        else:
            self.synapse_group = None
            sizes = {}
            for n, r in self.var_refs.items():
                g = r.group
                if r.kind == "neuron":
                    size = g.num_neurons if not isinstance(g, CustomUpdate) else g._size()
                elif r.kind in ("wu_pre",):
                    size = g.src.num_neurons
                else:
                    size = g.trg.num_neurons
                sizes[n] = size
            if len(set(sizes.values())) > 1:
                raise ModelDefinitionError(f"{d}: references point at groups of different sizes "
                                           f"({', '.join(f'{k}: {v}' for k, v in sizes.items())})")
            size = next(iter(sizes.values())) if sizes else None
            if size is None:
                raise ModelDefinitionError(f"{d}: a custom update needs at least one variable reference")
            self._size = lambda: size
        self.batched = any(st.batched for st in self.ref_storages.values())
        for r in self.var_refs.values():
            if r.transpose_group is not None:
                tg = r.transpose_group
                if (r.group.matrix_type != SynapseMatrixType.DENSE or not isinstance(tg, SynapseGroup)
                        or tg.matrix_type != SynapseMatrixType.DENSE):
                    raise ModelDefinitionError(f"{d}: transpose references need DENSE synapse populations")
                if tg.src is not r.group.trg or tg.trg is not r.group.src:
                    raise ModelDefinitionError(f"{d}: transpose target '{tg.name}' must connect "
                                               f"'{r.group.trg.name}' -> '{r.group.src.name}'")
                if r.transpose_var_name not in tg.vars:
                    raise ModelDefinitionError(f"{d}: transpose target '{tg.name}' has no variable "
                                               f"'{r.transpose_var_name}'")

    @property
    def num_neurons(self):
        return self._size()
