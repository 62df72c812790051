"""CUDA backend (not implemented yet: see issue 5). Only the availability probe lives here."""
import shutil


def cuda_available():
    try:
        import cupy  # noqa: F401
    except ImportError:
        return False, "CuPy is not installed (pip install .[cuda])"
    try:
        import cupy
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return False, "no NVIDIA GPU was found"
    except Exception as exc:  # noqa: BLE001 - any CUDA runtime failure means "no GPU"
        return False, f"no usable NVIDIA GPU ({exc})"
    return False, "the CUDA backend is not implemented yet"


def nvcc_path():
    return shutil.which("nvcc")


class CUDABackend:
    def __init__(self, model):
        raise NotImplementedError("the CUDA backend is not implemented yet")
