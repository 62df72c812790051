"""Backends: the CPU (C99) backend and the CUDA backend, chosen by capability, not by name."""
from ..errors import BackendUnavailableError

BACKENDS = ("single_threaded_cpu", "cpu", "cuda")


def check_backend(name):
    if name in ("single_threaded_cpu", "cpu", "openmp"):
        return "cpu"
    if name == "cuda":
        from .cuda import cuda_available
        ok, why = cuda_available()
        if not ok:
            raise BackendUnavailableError(f"backend='cuda' cannot run here: {why}")
        return "cuda"
    raise BackendUnavailableError(f"unknown backend {name!r} (available: cpu, single_threaded_cpu, cuda)")


def available_backend():
    try:
        from .cuda import cuda_available
        if cuda_available()[0]:
            return "cuda"
    except ImportError:
        pass
    return "cpu"


def make_backend(name, model):
    if name == "cpu":
        from .cpu import CPUBackend
        return CPUBackend(model)
    from .cuda import CUDABackend
    return CUDABackend(model)
