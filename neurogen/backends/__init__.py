"""Backends: the CPU (C99) backend and the CUDA backend, chosen by capability, not by name."""
from ..errors import BackendUnavailableError

def check_backend(name):
    if name in ("single_threaded_cpu", "cpu", "openmp"):
        return "cpu"
    if name == "cuda":
        # building needs only nvcc (checked at build); loading needs a GPU (checked at load)
        return "cuda"
    raise BackendUnavailableError(f"unknown backend {name!r} (available: cpu, single_threaded_cpu, cuda)")


def available_backend():
    """GeNN's rule: CUDA when it can run here (a GPU and nvcc), else the CPU."""
    from .cuda import cuda_available
    return "cuda" if cuda_available()[0] else "cpu"


def make_backend(name, model):
    if name == "cpu":
        from .cpu import CPUBackend
        return CPUBackend(model)
    from .cuda import CUDABackend
    return CUDABackend(model)
