"""CUDA backend: the same model definitions generated to CUDA, compiled with nvcc.

``GeNNModel(..., backend="cuda")`` builds without a GPU (CI checks that the CUDA compiles);
``load()`` needs an NVIDIA GPU. The preference ``cuda_emulation=True`` compiles the same CUDA
source against a host launch shim instead, so the kernels run (slowly, one thread after another)
on the CPU: the test suite uses it to compare the CUDA kernel logic with the CPU backend.
"""
import ctypes
import os
import tempfile

import numpy as np

from ...errors import BackendUnavailableError, NeurogenError
from ..cpu import CPUBackend, _finish_source
from .codegen import CUDACodeGenerator
from ..cpu.compiler import cache_dir
from .compiler import check_compiles, compile_cuda, compile_emulated, nvcc_path


def nvcc_check(source, digest, arch):
    """Compile ``source`` with nvcc for ``arch`` once per source (a marker file remembers success)."""
    marker = cache_dir() / "nvcc_checked" / f"{digest}_{arch}.ok"
    if marker.exists():
        return
    with tempfile.TemporaryDirectory() as work:
        check_compiles(source, arch, work)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()


def gpu_count():
    """Number of NVIDIA GPUs visible through the driver (0 when there is no driver)."""
    for name in ("libcuda.so.1", "libcuda.so"):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        if lib.cuInit(0) != 0:
            return 0
        n = ctypes.c_int(0)
        if lib.cuDeviceGetCount(ctypes.byref(n)) != 0:
            return 0
        return n.value
    return 0


def cuda_available():
    """(True, '') when CUDA models can run here, else (False, reason)."""
    if gpu_count() < 1:
        return False, "no NVIDIA GPU was found (the CUDA driver libcuda.so.1 is missing or reports no device)"
    if nvcc_path() is None:
        return False, "the CUDA compiler nvcc was not found on the PATH"
    return True, ""


def device_arch():
    """sm_XY of GPU 0, from the driver; sm_80 when it cannot be asked."""
    try:
        lib = ctypes.CDLL("libcuda.so.1")
        lib.cuInit(0)
        major, minor = ctypes.c_int(), ctypes.c_int()
        dev = ctypes.c_int()
        lib.cuDeviceGet(ctypes.byref(dev), 0)
        lib.cuDeviceGetAttribute(ctypes.byref(major), 75, dev)   # COMPUTE_CAPABILITY_MAJOR
        lib.cuDeviceGetAttribute(ctypes.byref(minor), 76, dev)   # COMPUTE_CAPABILITY_MINOR
        return f"sm_{major.value}{minor.value}"
    except OSError:
        return "sm_80"


class CUDABackend(CPUBackend):
    """Device arrays mirror the CPU backend's host arrays; push/pull copy between them."""
    name = "cuda"
    device_memory = True
    supports_threads = False

    def __init__(self, model):
        super().__init__(model)
        self.emulate = bool(model.preferences.get("cuda_emulation"))
        self.dev = {}

    def build(self, path_to_model=None, always_rebuild=False, never_rebuild=False):
        m = self.m
        super().build(path_to_model, always_rebuild, never_rebuild)      # host library: initialisation
        self.cuda_gen = CUDACodeGenerator(m)
        self.cuda_source, self.cuda_prefix = _finish_source(self.cuda_gen.generate())
        out_dir = os.path.join(path_to_model, f"{m.model_name}_CODE") if path_to_model is not None else None
        if self.emulate:
            self.cuda_lib_path, digest = compile_emulated(self.cuda_source, m.model_name, out_dir, always_rebuild)
        else:
            arch = m.preferences.get("cuda_arch") or (device_arch() if gpu_count() else "sm_80")
            self.cuda_lib_path, digest = compile_cuda(self.cuda_source, m.model_name, arch, out_dir, always_rebuild,
                                                      bool(m.preferences.get("flush_denormals")))
        for arch in filter(None, os.environ.get("NEUROGEN_NVCC_CHECK", "").split(",")):
            nvcc_check(self.cuda_source, digest, arch.strip())

    def load(self, num_recording_timesteps):
        if not self.emulate and gpu_count() < 1:
            raise BackendUnavailableError("backend='cuda' cannot load the model: no NVIDIA GPU was found on this "
                                          "machine (build() works without one; use backend='cpu' to run here)")
        super().load(num_recording_timesteps)
        lib = ctypes.CDLL(str(self.cuda_lib_path))
        self.clib = lib
        p = self.cuda_prefix
        self._alloc = getattr(lib, f"{p}_dev_alloc")
        self._alloc.restype, self._alloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
        self._free = getattr(lib, f"{p}_dev_free")
        self._free.argtypes = [ctypes.c_void_p]
        self._h2d = getattr(lib, f"{p}_h2d")
        self._h2d.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
        self._d2h = getattr(lib, f"{p}_d2h")
        self._d2h.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
        self._crun = getattr(lib, f"{p}_run")
        self._crun.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64]
        gen = self.cuda_gen
        self.dP_host = np.zeros(len(gen.storages) + 2, dtype=np.uintp)
        self.dP = self._device_buffer(self.dP_host.nbytes)
        self.d_seed = self._device_buffer(self.seed_arr.nbytes)
        self._check(self._h2d(self.d_seed, self.seed_arr.ctypes.data, self.seed_arr.nbytes), "copy seed")
        self.d_sizes = self._device_buffer(max(8, len(gen.size_keys) * 8))
        self.hsizes = np.zeros(max(1, len(gen.size_keys)), dtype=np.int64)
        self.dP_host[0], self.dP_host[1] = self.d_seed, self.d_sizes
        for slot, st in enumerate(gen.storages, start=2):
            host = self._host_array(st)
            self.dev[self._key(st)] = (st, host, self._device_buffer(host.nbytes), slot)
        self._sync_sizes()
        for st, host, dptr, slot in self.dev.values():
            self.dP_host[slot] = dptr
            self._check(self._h2d(dptr, host.ctypes.data, host.nbytes), f"copy {st.name}")
        self._push_table()

    # ------------------------------------------------------------------ device memory
    def _device_buffer(self, nbytes):
        ptr = self._alloc(max(1, nbytes))
        if not ptr:
            raise NeurogenError(f"model '{self.m.model_name}': could not allocate {nbytes} bytes of GPU memory")
        return ptr

    @staticmethod
    def _check(rc, what):
        if rc != 0:
            raise NeurogenError(f"CUDA error {rc} during {what}")

    def _host_array(self, st):
        """The host array the CPU backend keeps for the same variable or internal buffer."""
        if st.kind == "internal":
            cpu = self.gen.internal.get((st.group.name, st.name))
            if cpu is not None and cpu.array is not None:
                st.array = cpu.array
                return cpu.array
            self._allocate(st)
            return st.array
        return st.array

    def _push_table(self):
        self._check(self._h2d(self.dP, self.dP_host.ctypes.data, self.dP_host.nbytes), "copy pointer table")

    def _sync_sizes(self):
        for i, key in enumerate(self.cuda_gen.size_keys):
            if key in self.gen.size_keys:
                self.hsizes[i] = self.sizes[self.gen.size_keys.index(key)]
        self._check(self._h2d(self.d_sizes, self.hsizes.ctypes.data, self.hsizes.nbytes), "copy sizes")

    @staticmethod
    def _key(st):
        """The CPU and CUDA generators each make their own internal buffers: match them by owner,
        kind and name (a user variable may share a name with an internal buffer)."""
        return st.group.name, st.kind, st.name

    def _entry(self, st):
        return self.dev.get(self._key(st))

    def push(self, st):
        entry = self._entry(st)
        if entry is not None:
            _, _, dptr, _ = entry
            self._check(self._h2d(dptr, st.array.ctypes.data, st.array.nbytes), f"push {st.name}")

    def pull(self, st):
        entry = self._entry(st)
        if entry is not None:
            _, _, dptr, _ = entry
            self._check(self._d2h(st.array.ctypes.data, dptr, st.array.nbytes), f"pull {st.name}")

    def pull_recording(self):
        for st, host, dptr, _ in self.dev.values():
            if st.kind == "internal" and (st.name == "spike_rec" or st.name.startswith("rec:")):
                self._check(self._d2h(host.ctypes.data, dptr, host.nbytes), f"pull {st.name}")

    def _rebind_device(self, st, array):
        entry = self._entry(st)
        if entry is None:
            return
        old_st, _, dptr, slot = entry
        self._free(dptr)
        dptr = self._device_buffer(array.nbytes)
        self.dev[self._key(old_st)] = (old_st, array, dptr, slot)
        old_st.array = array
        self.dP_host[slot] = dptr
        self._check(self._h2d(dptr, array.ctypes.data, array.nbytes), f"copy {st.name}")
        self._push_table()

    # ------------------------------------------------------------------ running
    def run(self, n_steps):
        rc = self._crun(self.dP, self.hsizes.ctypes.data, self.m.timestep, n_steps)
        if rc != 0:
            raise NeurogenError(f"model '{self.m.model_name}': CUDA simulation failed with error {rc}")
        self.m.timestep += n_steps

    def custom_update(self, name):
        f = getattr(self.clib, f"{self.cuda_prefix}_cu_{name}")
        f.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
        rc = f(self.dP, self.hsizes.ctypes.data, self.m.timestep)
        if rc != 0:
            raise NeurogenError(f"custom update group '{name}' failed with CUDA error {rc}")

    def set_egp(self, st, arr):
        super().set_egp(st, arr)
        self._rebind_device(st, arr)

    def set_dynamic_param(self, group, name, value):
        super().set_dynamic_param(group, name, value)
        for (gname, what), st in self.cuda_gen.internal.items():
            if gname == group.name and what.startswith("dynparam:") and what.endswith(":" + name):
                st.array[0] = value
                self.push(st)

    def set_stream(self, pop, name, data, start_timestep):
        super().set_stream(pop, name, data, start_timestep)
        cpu_st = self.gen.internal[pop.name, f"stream:{name}"]
        self._rebind_device(self.cuda_gen.internal[pop.name, f"stream:{name}"], cpu_st.array)
        self._sync_sizes()

    def unload(self):
        for st, host, dptr, slot in self.dev.values():
            self._free(dptr)
        self.dev = {}
        super().unload()
