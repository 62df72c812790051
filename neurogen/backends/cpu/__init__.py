"""CPU backend: generated C99, compiled with the system compiler, loaded with ctypes.

All state lives in NumPy arrays owned here and shared zero-copy with the library through one
table of pointers (``ng_P``); ``push``/``pull`` are no-ops, as on GeNN's CPU backends.
"""
import ctypes
import math
import os

import numpy as np

from ...errors import ModelDefinitionError, NeurogenError
from ...groups import SynapseGroup, numpy_dtype, positions_within_rows
from ...models import VarInit
from ...rng import seed_from_os
from ...types import SynapseMatrixType
from .codegen import CodeGenerator
from .compiler import build_library


def _finish_source(source):
    """Resolve ``//@@RESTORE_LINE`` markers into ``#line`` directives and add the symbol prefix."""
    lines = source.split("\n")
    for i, line in enumerate(lines):
        if line == "//@@RESTORE_LINE":
            lines[i] = f'#line {i + 2} "neurogen_generated.c"'
    source = "\n".join(lines)
    import hashlib
    prefix = "ng_" + hashlib.sha256(source.encode()).hexdigest()[:12]
    return source.replace("NGPREFIX", prefix), prefix


def blas_function(name):
    """Address of a BLAS routine from SciPy's bundled OpenBLAS (no linking, no system BLAS needed)."""
    from scipy.linalg import cython_blas
    capsule = cython_blas.__pyx_capi__[name]
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_ptr = ctypes.pythonapi.PyCapsule_GetPointer
    get_ptr.restype, get_ptr.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    return get_ptr(capsule, get_name(capsule))


class caller_affinity_kept:
    """OpenMP binds the calling thread to one core (OMP_PROC_BIND): give it back its CPU mask after
    each run, so that threads the caller starts later (BLAS pools, ...) are not pinned with it."""

    def __init__(self, active):
        self.active = active and hasattr(os, "sched_getaffinity")

    def __enter__(self):
        if self.active:
            self.mask = os.sched_getaffinity(0)

    def __exit__(self, *exc):
        if self.active:
            os.sched_setaffinity(0, self.mask)


class single_threaded_blas:
    """While our own threads run, OpenBLAS must not start its pool too (two spinning pools)."""

    _lib = None

    def __init__(self, active):
        self.active = active

    @classmethod
    def _openblas(cls):
        if cls._lib is None:
            import glob
            import scipy
            libs = glob.glob(os.path.join(os.path.dirname(scipy.__file__), "..", "scipy.libs", "*openblas*"))
            cls._lib = ctypes.CDLL(libs[0]) if libs else False
        return cls._lib

    def __enter__(self):
        lib = self._openblas() if self.active else None
        self.saved = None
        if lib and hasattr(lib, "scipy_openblas_get_num_threads"):
            self.saved = lib.scipy_openblas_get_num_threads()
            lib.scipy_openblas_set_num_threads(1)

    def __exit__(self, *exc):
        if self.saved is not None:
            self._openblas().scipy_openblas_set_num_threads(self.saved)


class CPUBackend:
    name = "cpu"
    #: capability answers (backends are queried, never switched on by name)
    supports_batching = True
    supports_threads = True
    device_memory = False

    def __init__(self, model):
        self.m = model
        self.lib = None
        self.num_recording_timesteps = 0
        self._stream_len = {}
        self._stream_start = {}

    # ------------------------------------------------------------------ build
    def build(self, path_to_model=None, always_rebuild=False, never_rebuild=False):
        m = self.m
        self.gen = CodeGenerator(m)
        source, self.prefix = _finish_source(self.gen.generate())
        self.source = source
        out_dir = None
        if path_to_model is not None:
            out_dir = os.path.join(path_to_model, f"{m.model_name}_CODE")
        self.lib_path, self.digest = build_library(source, m.preferences, m.model_name, out_dir, always_rebuild)

    # ------------------------------------------------------------------ sizes used by generated code
    def col_stride(self, sg):
        return sg._col_stride

    def var_recording_rows(self, pop, name):
        return max(1, math.ceil(self.num_recording_timesteps / pop.var_recording[name]))

    def stream_length(self, pop, name):
        return self._stream_len.get((pop.name, name), 0)

    # ------------------------------------------------------------------ load
    def load(self, num_recording_timesteps):
        m, gen = self.m, self.gen
        threaded = m.preferences["num_threads"] > 1
        if threaded:
            # keep each thread on its core so its share of the weights stays in its own L2
            os.environ.setdefault("OMP_PROC_BIND", "true")
        with caller_affinity_kept(threaded):       # libgomp binds the loading thread as it loads
            self.lib = ctypes.CDLL(str(self.lib_path))
        for fn in ("run", "init_var", "init_conn"):
            f = getattr(self.lib, f"{self.prefix}_{fn}")
            f.restype = ctypes.c_int
        self._run = getattr(self.lib, f"{self.prefix}_run")
        self._run.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64]
        self.num_recording_timesteps = int(num_recording_timesteps or 0)
        self.uses_blas = any(st.kind == "blas" for st in gen.storages)
        seed = m.seed if m.seed else seed_from_os()
        m.effective_seed = seed
        self.seed_arr = np.array([seed], dtype=np.uint64)
        self.sizes = np.zeros(max(1, len(gen.size_keys)), dtype=np.int64)
        self.P = np.zeros(len(gen.storages) + 2, dtype=np.uintp)
        self.P[0] = self.seed_arr.ctypes.data
        self.P[1] = self.sizes.ctypes.data
        self._set_size("num_recording_timesteps", max(1, self.num_recording_timesteps))
        for pop in m.neuron_populations.values():
            for name in pop.var_recording:
                self._set_size(f"recrows:{pop.name}:{name}", self.var_recording_rows(pop, name))
            for name in pop.streams:
                self._set_size(f"stream_start:{pop.name}:{name}", 0)
                self._set_size(f"stream_len:{pop.name}:{name}", 0)
        # 1. sparse connectivity decides the size of sparse synapse variables
        for sg in m.synapse_populations.values():
            if sg.matrix_type == SynapseMatrixType.SPARSE:
                self._init_connectivity(sg)
                if (sg.name, "col_length") in gen.internal:
                    self._build_columns(sg)
        # 2. allocate every array
        for st in self._all_storages():
            self._allocate(st)
        # 3. initial values
        for st in self._all_storages():
            self._initialise(st)

    def _set_size(self, key, value):
        if key in self.gen.size_keys:
            self.sizes[self.gen.size_keys.index(key)] = value

    def _all_storages(self):
        seen = set()
        for group in list(self.m.neuron_populations.values()) + list(self.m.synapse_populations.values()) + \
                list(self.m.current_sources.values()) + list(self.m.custom_updates.values()):
            for st in group._storages.values():
                if id(st) not in seen:
                    seen.add(id(st))
                    yield st
        for st in self.gen.storages:
            if id(st) not in seen:
                seen.add(id(st))
                yield st

    def _shape(self, st):
        n = st.size_fn() if st.size_fn is not None else 1
        B = self.m.batch_size
        if st.batched and B > 1:
            return (B, n) if st.element_dim else (B,)
        if st.batched and st.kind == "internal":
            return (B * n,) if st.element_dim else (B,)
        return (n,) if st.element_dim else (1,)

    def _dtype(self, st):
        return numpy_dtype(st.ctype, self.m.precision, self.m.time_precision)

    def _bind(self, st, array):
        st.array = array
        slot = self.gen._slot_of.get(id(st))
        if slot is not None:
            self.P[slot] = array.ctypes.data if array.size else 0

    def _allocate(self, st):
        if st.kind == "blas":
            st.array = np.zeros(1, dtype=np.uintp)
            self.P[self.gen._slot_of[id(st)]] = blas_function("sgemm" if self.m.precision == "float" else "dgemm")
            return
        if st.kind == "egp":
            if st.user_values is None:
                if id(st) in self.gen._slot_of and st.ctype.endswith("*"):
                    raise ModelDefinitionError(
                        f"extra global parameter '{st.name.split(':')[-1]}' of {st.group._describe()} has no values:"
                        f" call extra_global_params['{st.name.split(':')[-1]}'].set_init_values(...) before load()")
                arr = np.zeros(0 if st.ctype.endswith("*") else 1, dtype=self._dtype(st))
            else:
                arr = np.ascontiguousarray(st.user_values, dtype=self._dtype(st))
            self._bind(st, arr)
            return
        if st.array is not None and st.kind == "internal" and st.name in ("row_length", "ind", "col_length", "remap"):
            self._bind(st, st.array)
            return
        self._bind(st, np.zeros(self._shape(st), dtype=self._dtype(st)))

    def _initialise(self, st):
        if st.kind == "internal":
            if st.name.startswith("dynparam:"):
                st.array[0] = st.group.params[st.name.split(":")[-1]]
            elif st.name == "st":                      # no spike yet
                st.array.fill(-np.inf)
            return
        if st.kind != "var":
            return
        init = st.init
        what = f"variable '{st.name.split(':')[-1]}' of {st.group._describe()}"
        if isinstance(init, VarInit):
            case = self.gen.var_init_cases.get(id(st))
            if case is not None:                      # generated initialisation code
                if getattr(self.lib, f"{self.prefix}_init_var")(ctypes.c_void_p(self.P.ctypes.data), case) != 0:
                    raise NeurogenError(f"{what}: initialisation failed")
            elif init.snippet.class_name == "Constant":   # the generator leaves Constant to us
                if "constant" not in init.params:
                    raise ModelDefinitionError(f"{what}: init_var('Constant') needs parameter 'constant'")
                st.array.fill(init.params["constant"])
            return                                    # Uninitialised: stays zero
        arr = np.asarray(init)
        g = st.group
        if isinstance(g, SynapseGroup) and g.matrix_type == SynapseMatrixType.SPARSE and \
                st.size_fn == g._num_syn_slots:
            slots = g._valid_slots()
            if arr.shape[-1:] != (slots.size,) and arr.size != 1:
                raise ModelDefinitionError(f"{what}: got {arr.shape[-1] if arr.ndim else 1} initial values, "
                                           f"expected one per synapse ({slots.size})")
            st.array[..., slots] = arr
            return
        target = st.array
        n_elem = target.shape[-1]
        if arr.size not in (1, n_elem, target.size):
            raise ModelDefinitionError(f"{what}: got {arr.size} initial values, expected {n_elem}"
                                       f"{f' or {target.size} (batch x elements)' if target.size != n_elem else ''}")
        target[...] = arr.reshape(target.shape) if arr.size == target.size else arr.reshape(-1)[0] \
            if arr.size == 1 else arr.reshape(-1)

    # ------------------------------------------------------------------ sparse connectivity
    def _ind_dtype(self, sg):
        st = self.gen.internal.get((sg.name, "ind"))
        return self._dtype(st) if st is not None else np.dtype(np.uint32)

    def _init_connectivity(self, sg):
        npre, npost = sg.src.num_neurons, sg.trg.num_neurons
        ind_dtype = self._ind_dtype(sg)
        if sg._user_conn is not None:
            pre, post = sg._user_conn
            order = np.lexsort((post, pre))          # rows, each sorted by target
            row_length = np.bincount(pre, minlength=npre).astype(np.uint32)
            stride = max(1, int(row_length.max()) if row_length.size else 1)
            ind = np.zeros(npre * stride, dtype=ind_dtype)
            ind[pre[order] * stride + positions_within_rows(row_length)] = post[order]
            sg._user_order = order
        elif sg.conn is not None:
            func = sg.conn.snippet.calc_max_row_len_func
            try:
                stride = int(func(npre, npost, sg.conn.params)) if func else npost
            except Exception as exc:  # noqa: BLE001 - user callback: report which one failed
                raise ModelDefinitionError(f"synapse population '{sg.name}': calc_max_row_len_func of "
                                           f"'{sg.conn.snippet.class_name}' failed: {exc!r}") from None
            stride = max(1, min(stride, npost))
            while True:
                row_length = np.zeros(npre, dtype=np.uint32)
                ind = np.zeros(npre * stride, dtype=ind_dtype)
                self._bind_conn(sg, row_length, ind, stride)
                case = self.gen.conn_init_cases.index(sg)
                rc = getattr(self.lib, f"{self.prefix}_init_conn")(ctypes.c_void_p(self.P.ctypes.data), case)
                if rc == 0:
                    break
                if stride >= npost:
                    raise NeurogenError(f"synapse population '{sg.name}': row build code added more than "
                                        f"num_post={npost} synapses to a row")
                stride = npost
            # rows sorted by target (threads deliver spikes into their own target ranges)
            rows = ind.reshape(npre, stride)
            padding = np.arange(stride) >= row_length[:, None]
            rows[padding] = np.iinfo(ind.dtype).max
            rows.sort(axis=1)
            rows[padding] = 0
            actual = max(1, int(row_length.max()))
            if actual < stride:
                ind = rows[:, :actual].copy().ravel()
                stride = actual
            sg._user_order = None
        else:
            raise ModelDefinitionError(f"synapse population '{sg.name}' is SPARSE but has no connectivity: pass "
                                       "init_sparse_connectivity(...) or call set_sparse_connections(pre, post) "
                                       "before load()")
        self._bind_conn(sg, row_length, ind, stride)

    def _bind_conn(self, sg, row_length, ind, stride):
        sg.row_length, sg.ind, sg.row_stride = row_length, ind, stride
        self._set_size(f"stride:{sg.name}", stride)
        for what, arr in (("row_length", row_length), ("ind", ind)):
            st = self.gen.internal.get((sg.name, what))
            if st is not None:
                self._bind(st, arr)

    def _build_columns(self, sg):
        slots = sg._valid_slots()
        slots = np.sort(slots)
        posts = sg.ind[slots].astype(np.int64)
        order = np.argsort(posts, kind="stable")
        col_len = np.bincount(posts, minlength=sg.trg.num_neurons).astype(np.uint32)
        cstride = max(1, int(col_len.max()) if col_len.size else 1)
        sg._col_stride = cstride
        remap = np.zeros(sg.trg.num_neurons * cstride, dtype=np.uint32)
        remap[posts[order] * cstride + positions_within_rows(col_len)] = slots[order]
        self._set_size(f"colstride:{sg.name}", cstride)
        self._bind(self.gen.internal[sg.name, "col_length"], col_len)
        self._bind(self.gen.internal[sg.name, "remap"], remap)

    # ------------------------------------------------------------------ running
    def run(self, n_steps):
        # OpenBLAS stays single-threaded inside runs: each row block's GEMM is then the same call
        # for any thread count (bit-identical results), and no second thread pool spins beside ours
        with single_threaded_blas(self.uses_blas), caller_affinity_kept(self.m.preferences["num_threads"] > 1):
            rc = self._run(ctypes.c_void_p(self.P.ctypes.data), self.m.timestep, n_steps)
        if rc != 0:
            raise NeurogenError(f"model '{self.m.model_name}': simulation failed with code {rc}")
        self.m.timestep += n_steps

    def custom_update(self, name):
        f = getattr(self.lib, f"{self.prefix}_cu_{name}")
        f.argtypes = [ctypes.c_void_p, ctypes.c_int64]
        f(ctypes.c_void_p(self.P.ctypes.data), self.m.timestep)

    def unload(self):
        self.lib = None

    # ------------------------------------------------------------------ host/device (no-ops on the CPU)
    def push(self, st):
        pass

    def pull(self, st):
        pass

    def pull_recording(self):
        pass

    def set_egp(self, st, arr):
        self._bind(st, arr)

    def set_dynamic_param(self, group, name, value):
        for (gname, what), st in self.gen.internal.items():
            if gname == group.name and what.startswith("dynparam:") and what.endswith(":" + name):
                st.array[0] = value

    def set_stream(self, pop, name, data, start_timestep):
        st = pop.vars[name]._st
        n_elem = st.array.size
        arr = np.ascontiguousarray(np.asarray(data, dtype=st.array.dtype))
        if arr.size % n_elem or arr.ndim < 1:
            raise ModelDefinitionError(f"stream for variable '{name}' of {pop._describe()}: data of shape "
                                       f"{np.shape(data)} is not a whole number of rows of {st.array.shape}")
        rows = arr.size // n_elem
        arr = arr.reshape(rows, n_elem)
        self._stream_len[(pop.name, name)] = rows
        start = self.m.timestep if start_timestep is None else int(start_timestep)
        self._set_size(f"stream_start:{pop.name}:{name}", start)
        self._set_size(f"stream_len:{pop.name}:{name}", rows)
        self._bind(self.gen.internal[pop.name, f"stream:{name}"], arr)

    # ------------------------------------------------------------------ recordings
    def spike_recording_data(self, pop):
        if not pop.spike_recording_enabled:
            raise ModelDefinitionError(f"{pop._describe()}: spike recording is not enabled "
                                       "(set spike_recording_enabled = True before build())")
        nrec = self.num_recording_timesteps
        B = self.m.batch_size
        N = pop.num_neurons
        words = (N + 31) // 32
        rec = self.gen.internal[pop.name, "spike_rec"].array.reshape(nrec, B, words)
        T = self.m.timestep
        steps = np.arange(max(0, T - nrec), T)
        rows = rec[steps % nrec]
        out = []
        for b in range(B):
            bits = np.unpackbits(rows[:, b, :].copy().view(np.uint8), axis=1, bitorder="little")[:, :N]
            r, ids = np.nonzero(bits)
            out.append((steps[r] * self.m.dt, ids.astype(np.int64)))
        return out

    def var_recording_data(self, pop, name):
        if name not in pop.var_recording:
            raise ModelDefinitionError(f"{pop._describe()}: variable '{name}' is not recorded "
                                       f"(call record_var('{name}') before build())")
        every = pop.var_recording[name]
        rows = self.var_recording_rows(pop, name)
        st = pop.vars[name]._st
        buf = self.gen.internal[pop.name, f"rec:{name}"].array.reshape((rows,) + st.array.shape)
        done = self.m.timestep // every
        ks = np.arange(max(1, done - rows + 1), done + 1)
        # integer-array indexing already returns a new array (no second copy: a (2000, 64, 100)
        # recording is 51 MB)
        return ks * every * self.m.dt, buf[(ks - 1) % rows]
