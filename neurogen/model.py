"""``GeNNModel``: the PyGeNN-5-shaped container of populations, synapses and custom updates."""
import numbers
import os

import numpy as np

from .errors import ModelDefinitionError, NeurogenError, add_note
from .groups import CurrentSource, CustomUpdate, NeuronGroup, SynapseGroup
from .models import (ModelSpec, PostsynapticInit, SparseConnectivityInit, WeightUpdateInit,
                     _resolve, check_identifier, init_postsynaptic, init_weight_update)
from .types import SUPPORTED_MATRIX_TYPES, SynapseMatrixType

#: Preferences accepted by every backend (GeNN names where they exist).
KNOWN_PREFERENCES = {
    "optimize_code": True, "debug_code": False, "num_threads": 1, "compiler": "gcc",
    "extra_cflags": (), "generate_line_info": False, "use_blas": None,
    # neurogen CPU preference: run steps with subnormal floats flushed to zero (FTZ/DAZ). Off by
    # default (results as IEEE arithmetic, as NumPy); float32 traces that decay for thousands of
    # steps reach the subnormal range, where each operation costs ~100 cycles on x86
    "flush_denormals": False,
    # CUDA-only preferences, accepted for script compatibility
    "manual_device_id": None, "device_select_method": None, "block_size_select_method": None,
    "manual_block_sizes": None, "constant_cache_overhead": None, "show_ptx_info": False,
    "enable_nvtx": False, "enable_nccl_reductions": False,
    # neurogen CUDA preferences: target architecture for nvcc (default: the GPU's, else sm_80), and
    # running the generated CUDA on the CPU through a launch shim (for testing without a GPU)
    "cuda_arch": None, "cuda_emulation": False,
}


class GeNNModel:
    """A network of populations, generated to native code and simulated step by step or in runs."""

    def __init__(self, precision="float", model_name="GeNNModel", backend=None, time_precision=None,
                 genn_log_level=None, code_gen_log_level=None, transpiler_log_level=None,
                 runtime_log_level=None, backend_log_level=None, **preferences):
        if precision not in ("float", "double"):
            raise ModelDefinitionError(f"precision must be 'float' or 'double', got {precision!r}")
        if time_precision not in (None, "float", "double"):
            raise ModelDefinitionError(f"time_precision must be None, 'float' or 'double', got {time_precision!r}")
        check_identifier(model_name, "model")
        unknown = sorted(set(preferences) - set(KNOWN_PREFERENCES))
        if unknown:
            raise ModelDefinitionError(f"unknown preference(s) {', '.join(map(repr, unknown))}; accepted: "
                                       f"{', '.join(sorted(KNOWN_PREFERENCES))}")
        self.precision = precision
        self.time_precision = time_precision or precision
        self.model_name = model_name
        self.name = model_name
        self.preferences = {**KNOWN_PREFERENCES, **preferences}
        if backend is None and os.environ.get("NEUROGEN_BACKEND"):
            backend = os.environ["NEUROGEN_BACKEND"]        # run unchanged scripts on another backend
        if "cuda_emulation" not in preferences and os.environ.get("NEUROGEN_CUDA_EMULATION") == "1":
            self.preferences["cuda_emulation"] = True
        self._backend_name = self._choose_backend(backend)
        if self._backend_name == "cuda":
            for pref, cpu_only in (("num_threads", lambda v: v > 1), ("use_blas", lambda v: v is True)):
                if cpu_only(self.preferences[pref]):
                    raise ModelDefinitionError(f"preference {pref}={self.preferences[pref]!r} is not supported by "
                                               "the CUDA backend (it is a CPU backend option)")
        self._dt = 0.1
        self._batch_size = 1
        self._seed = 0
        self.timing_enabled = False
        self.neuron_populations = {}
        self.synapse_populations = {}
        self.current_sources = {}
        self.custom_updates = {}
        self._names = {}
        self._built = False
        self._loaded = False
        self._backend = None
        self.timestep = 0
        self.effective_seed = None

    # ------------------------------------------------------------------ settings
    @staticmethod
    def _choose_backend(backend):
        from .backends import available_backend, check_backend
        if backend is None:
            return available_backend()
        return check_backend(backend)

    @property
    def backend_name(self):
        return self._backend_name

    def _check_not_built(self, what):
        if self._built:
            raise ModelDefinitionError(f"{what} must happen before model.build() (the model is already built)")

    @property
    def dt(self):
        return self._dt

    @dt.setter
    def dt(self, value):
        self._check_not_built("setting dt")
        if not isinstance(value, numbers.Real) or not value > 0 or not np.isfinite(value):
            raise ModelDefinitionError(f"dt must be a positive number of milliseconds, got {value!r}")
        self._dt = float(value)

    @property
    def batch_size(self):
        return self._batch_size

    @batch_size.setter
    def batch_size(self, value):
        self._check_not_built("setting batch_size")
        if self.neuron_populations:
            raise ModelDefinitionError("batch_size must be set before adding populations")
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ModelDefinitionError(f"batch_size must be a positive integer, got {value!r}")
        self._batch_size = int(value)

    @property
    def seed(self):
        return self._seed

    @seed.setter
    def seed(self, value):
        self._check_not_built("setting seed")
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < 2 ** 64:
            raise ModelDefinitionError(f"seed must be an integer in [0, 2**64), got {value!r}")
        self._seed = int(value)

    @property
    def t(self):
        return self.timestep * self._dt

    # ------------------------------------------------------------------ adding groups
    def _register(self, name, group):
        if name in self._names:
            raise ModelDefinitionError(f"a group named '{name}' already exists in model '{self.model_name}'")
        self._names[name] = group

    def _lookup_pop(self, pop, what):
        if isinstance(pop, str):
            if pop not in self.neuron_populations:
                raise ModelDefinitionError(f"{what}: no neuron population named '{pop}' "
                                           f"(populations: {', '.join(self.neuron_populations) or 'none'})")
            return self.neuron_populations[pop]
        if not isinstance(pop, NeuronGroup) or pop._model is not self:
            raise ModelDefinitionError(f"{what}: {pop!r} is not a neuron population of this model")
        return pop

    def add_neuron_population(self, pop_name, num_neurons, neuron, params=None, vars=None):
        self._check_not_built(f"add_neuron_population('{pop_name}')")
        spec = _resolve(neuron, "neuron", "NEURON_MODELS")
        group = NeuronGroup(self, pop_name, num_neurons, spec, params, vars)
        self._register(pop_name, group)
        self.neuron_populations[pop_name] = group
        return group

    def add_synapse_population(self, pop_name, matrix_type, source, target, weight_update_init,
                               postsynaptic_init, connectivity_init=None):
        self._check_not_built(f"add_synapse_population('{pop_name}')")
        what = f"synapse population '{pop_name}'"
        if isinstance(matrix_type, str):
            try:
                matrix_type = SynapseMatrixType[matrix_type.upper()]
            except KeyError:
                raise ModelDefinitionError(f"{what}: unknown matrix type {matrix_type!r}") from None
        if not isinstance(matrix_type, SynapseMatrixType):
            raise ModelDefinitionError(f"{what}: matrix_type must be a SynapseMatrixType, got {matrix_type!r}")
        if matrix_type not in SUPPORTED_MATRIX_TYPES:
            raise ModelDefinitionError(f"{what}: matrix type {matrix_type.name} is not supported by neurogen "
                                       f"(supported: {', '.join(m.name for m in SUPPORTED_MATRIX_TYPES)})")
        src = self._lookup_pop(source, what)
        trg = self._lookup_pop(target, what)
        if isinstance(weight_update_init, (ModelSpec, str)):
            weight_update_init = init_weight_update(weight_update_init)
        if isinstance(postsynaptic_init, (ModelSpec, str)):
            postsynaptic_init = init_postsynaptic(postsynaptic_init)
        if not isinstance(weight_update_init, WeightUpdateInit):
            raise ModelDefinitionError(f"{what}: weight_update_init must come from init_weight_update(...)")
        if not isinstance(postsynaptic_init, PostsynapticInit):
            raise ModelDefinitionError(f"{what}: postsynaptic_init must come from init_postsynaptic(...)")
        if matrix_type == SynapseMatrixType.SPARSE:
            if connectivity_init is not None and not isinstance(connectivity_init, SparseConnectivityInit):
                raise ModelDefinitionError(f"{what}: connectivity_init must come from init_sparse_connectivity(...)")
        elif connectivity_init is not None:
            raise ModelDefinitionError(f"{what}: connectivity_init is only used with SPARSE connectivity")
        group = SynapseGroup(self, pop_name, matrix_type, src, trg, weight_update_init, postsynaptic_init,
                             connectivity_init)
        self._register(pop_name, group)
        src.outgoing.append(group)
        trg.incoming.append(group)
        self.synapse_populations[pop_name] = group
        return group

    def add_current_source(self, cs_name, current_source_model, pop, params=None, vars=None, var_refs=None):
        self._check_not_built(f"add_current_source('{cs_name}')")
        spec = _resolve(current_source_model, "current source", "CURRENT_SOURCE_MODELS")
        target = self._lookup_pop(pop, f"current source '{cs_name}'")
        cs = CurrentSource(self, cs_name, spec, target, params, vars, var_refs)
        self._register(cs_name, cs)
        target.current_sources.append(cs)
        self.current_sources[cs_name] = cs
        return cs

    def add_custom_update(self, cu_name, group_name, custom_update_model, params=None, vars=None,
                          var_refs=None, egp_refs=None):
        self._check_not_built(f"add_custom_update('{cu_name}')")
        if egp_refs:
            raise ModelDefinitionError(f"custom update '{cu_name}': egp_refs are not supported by neurogen yet")
        spec = _resolve(custom_update_model, "custom update", "CUSTOM_UPDATE_MODELS")
        cu = CustomUpdate(self, cu_name, group_name, spec, params, vars, var_refs)
        self._register(cu_name, cu)
        self.custom_updates[cu_name] = cu
        return cu

    def add_custom_connectivity_update(self, cu_name, *args, **kwargs):
        raise ModelDefinitionError(f"custom connectivity update '{cu_name}': custom connectivity updates are not "
                                   "supported by neurogen yet")

    # ------------------------------------------------------------------ lifecycle
    def build(self, path_to_model=None, always_rebuild=False, never_rebuild=False):
        """Check every code string, generate native code and compile it (cached by content hash)."""
        from .backends import make_backend
        if self._built:
            return
        if not self.neuron_populations:
            raise ModelDefinitionError(f"model '{self.model_name}' has no neuron populations to build")
        self._backend = make_backend(self._backend_name, self)
        try:
            self._backend.build(path_to_model, always_rebuild, never_rebuild)
        except NeurogenError as exc:
            self._note_creation_sites(exc)
            raise
        self._built = True

    def _note_creation_sites(self, exc):
        """Say where in user code the groups named in a build error were created."""
        text = str(exc)
        for name, group in self._names.items():
            if f"'{name}'" in text and getattr(group, "_created_at", None):
                add_note(exc, f"{group.kind} '{name}' was created at {group._created_at}")

    def load(self, num_recording_timesteps=None):
        """Allocate and initialise all state; ``num_recording_timesteps`` sizes the recording buffers."""
        if not self._built:
            raise ModelDefinitionError("model.load() needs model.build() first")
        if self._loaded:
            raise ModelDefinitionError("model is already loaded; call unload() first")
        if num_recording_timesteps is not None and (
                isinstance(num_recording_timesteps, bool)
                or not isinstance(num_recording_timesteps, (int, np.integer)) or num_recording_timesteps < 1):
            raise ModelDefinitionError(f"num_recording_timesteps must be a positive integer, got "
                                       f"{num_recording_timesteps!r}")
        needs_rec = any(p.spike_recording_enabled or p.var_recording for p in self.neuron_populations.values())
        if needs_rec and num_recording_timesteps is None:
            raise ModelDefinitionError("recording is enabled on "
                                       + ", ".join(n for n, p in self.neuron_populations.items()
                                                   if p.spike_recording_enabled or p.var_recording)
                                       + " but load() was called without num_recording_timesteps")
        self.timestep = 0
        self._backend.load(num_recording_timesteps)
        self._loaded = True

    def unload(self):
        if self._backend is not None and self._loaded:
            self._backend.unload()
        self._loaded = False

    def _require_loaded(self, what):
        if not self._loaded:
            raise ModelDefinitionError(f"{what} needs model.load() first")

    def step_time(self):
        """Advance the simulation by one time step."""
        self._require_loaded("step_time()")
        self._backend.run(1)

    def run(self, n_steps):
        """neurogen extension: advance ``n_steps`` time steps in one native call."""
        self._require_loaded("run()")
        if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 0:
            raise ModelDefinitionError(f"run() needs a non-negative integer number of steps, got {n_steps!r}")
        if n_steps:
            self._backend.run(int(n_steps))

    def custom_update(self, name):
        self._require_loaded(f"custom_update('{name}')")
        groups = {cu.update_group for cu in self.custom_updates.values()}
        if name not in groups:
            raise ModelDefinitionError(f"no custom update group named '{name}' "
                                       f"(groups: {', '.join(sorted(groups)) or 'none'})")
        self._backend.custom_update(name)

    def pull_recording_buffers_from_device(self):
        self._require_loaded("pull_recording_buffers_from_device()")
        self._backend.pull_recording()

    # GeNN-compatible timers (neurogen does not time individual phases yet)
    neuron_update_time = presynaptic_update_time = postsynaptic_update_time = 0.0
    synapse_dynamics_time = init_time = init_sparse_time = 0.0
