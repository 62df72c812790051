"""Compiling generated CUDA: nvcc for the GPU, or a C++ compiler against the host launch shim."""
import os
import shutil
import subprocess
from pathlib import Path

from ...errors import BackendUnavailableError, BuildError
from ..cpu.compiler import compile_cached

SHIM = Path(__file__).with_name("shim.h")
DEFAULT_ARCHS = ("sm_80",)


def nvcc_path():
    path = shutil.which("nvcc")
    if path is None and os.path.exists("/usr/local/cuda/bin/nvcc"):
        path = "/usr/local/cuda/bin/nvcc"
    return path


def nvcc_command(arch):
    nvcc = nvcc_path()
    if nvcc is None:
        raise BackendUnavailableError("backend='cuda' needs the CUDA compiler nvcc on the PATH to build; it was "
                                      "not found (install the CUDA toolkit)")
    arch_flag = arch if arch.startswith("sm_") else f"sm_{arch}"
    return [nvcc, "-O3", "-std=c++14", "-shared", "-Xcompiler", "-fPIC", f"-arch={arch_flag}",
            "-w", "--expt-relaxed-constexpr"]


def shim_command():
    cxx = shutil.which("g++") or shutil.which("c++")
    if cxx is None:
        raise BuildError("CUDA emulation needs a C++ compiler (g++) to build the host launch shim")
    return [cxx, "-O1", "-std=c++14", "-shared", "-fPIC", "-w", "-x", "c++", "-include", str(SHIM)]


def _compile(command, source, name, out_dir, always_rebuild, suffix):
    return compile_cached(source, command, [], name, out_dir, always_rebuild, suffix, ".cu", "CUDA")


def compile_cuda(source, name, arch="sm_80", out_dir=None, always_rebuild=False, flush_denormals=False):
    """nvcc -> shared library with the host launch loop (runs on a GPU). ``flush_denormals``:
    single-precision subnormals flushed to zero (nvcc -ftz=true; the model preference of that name)."""
    command = nvcc_command(arch) + (["-ftz=true"] if flush_denormals else [])
    return _compile(command, source, name, out_dir, always_rebuild, f"_cuda_{arch}")


def compile_emulated(source, name, out_dir=None, always_rebuild=False):
    """g++ with shim.h -> shared library that runs the same kernels thread by thread on the CPU."""
    return _compile(shim_command(), source, name, out_dir, always_rebuild, "_cudaemu")


def check_compiles(source, arch, workdir):
    """Compile ``source`` with nvcc for ``arch`` into an object file (CI check without a GPU)."""
    src = Path(workdir) / "model.cu"
    src.write_text(source)
    cmd = [c for c in nvcc_command(arch) if c != "-shared"] + ["-c", "-o", str(Path(workdir) / "model.o"), str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"nvcc -arch={arch} failed:\n{proc.stderr[-3000:]}")
