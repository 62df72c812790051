"""Compiling generated C into a shared library, cached by a hash of source, flags and compiler.

Builds happen in a temporary file inside the cache folder and are renamed into place
atomically, so concurrent builds of the same model (several processes of a sweep) never see
a half-written library.
"""
import hashlib
import os
import re
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

from ...errors import BuildError


def cache_dir():
    root = os.environ.get("NEUROGEN_CACHE_DIR")
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "neurogen"


@lru_cache(maxsize=None)
def compiler_version(cc):
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BuildError(f"the C compiler '{cc}' cannot be run ({exc}); install gcc or set the 'compiler' "
                         "preference") from None
    return out.splitlines()[0] if out else cc


def compile_flags(prefs):
    flags = ["-std=c11", "-shared", "-fPIC", "-fno-math-errno", "-w"]
    opt = os.environ.get("NEUROGEN_OPT")
    if opt:
        flags.append(opt)
    elif prefs.get("debug_code"):
        flags += ["-O0", "-g"]
    elif prefs.get("optimize_code", True):
        # -ffp-contract=off keeps results equal to NumPy's (no fused multiply-adds).
        # -fno-trapping-math lets GCC compute both sides of a branch and select (if-conversion)
        # without AVX-512 masks: on AVX2 a LIF update with a refractory branch stayed scalar
        # ("control flow in loop") and took 5x longer. Values are unchanged: it only drops the
        # promise that FP exceptions are raised where the source raises them.
        flags += ["-O3", "-march=native", "-ffp-contract=off", "-fno-trapping-math"]
    else:
        flags.append("-O1")
    if prefs.get("num_threads", 1) > 1:
        flags.append("-fopenmp")
    flags += list(prefs.get("extra_cflags") or ())
    return flags


@lru_cache(maxsize=None)
def cpu_signature():
    """-march=native code only runs on the CPU it was built for: the CPU is part of the cache key."""
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
        fields = [line for line in info.splitlines() if line.startswith(("model name", "flags"))][:2]
        return "\n".join(fields)
    except OSError:
        import platform
        return platform.processor() or platform.machine()


def vector_bytes():
    """Width of the generated code's ``ng_vec``: the CPU's own vector registers.

    A vector wider than the hardware's is split by GCC piecewise, and on an AVX2-only CPU a
    64-byte ``scalar * ng_vec`` ran the dense product 4x slower than 32-byte vectors. Each lane is
    one column summed in the same order whatever the width, so the width never changes results.
    """
    flags = cpu_signature()
    return 64 if "avx512f" in flags else 32 if " avx" in flags else 16


def source_hash(source, cc, flags):
    h = hashlib.sha256()
    for part in (source, cc, compiler_version(cc), " ".join(flags), cpu_signature()):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


_ERR_RE = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?:\d+:)?\s*(?:fatal )?error:\s*(?P<msg>.*)$", re.M)


def explain_compiler_errors(stderr):
    """Turn gcc messages about user code (mapped by #line) into one readable message."""
    errors = []
    for m in _ERR_RE.finditer(stderr):
        f, line, msg = m.group("file"), m.group("line"), m.group("msg")
        if "'" in f and " " in f:            # a code string context such as "neuron population 'x' sim_code"
            errors.append(f"[{f}, line {line}] {msg}")
        else:
            errors.append(f"[generated code {Path(f).name}:{line}] {msg}")
    return errors


def compile_cached(source, command, libs, name, out_dir=None, always_rebuild=False, suffix="", ext=".c",
                   language="C"):
    """Compile ``source`` with ``command`` into a shared library named after its hash, unless the
    library exists; write through temporary files and atomic renames so concurrent builds are safe.
    Returns (library path, digest)."""
    digest = source_hash(source, command[0], command[1:])
    folder = Path(out_dir) if out_dir else cache_dir() / digest[:2]
    folder.mkdir(parents=True, exist_ok=True)
    lib = folder / f"{name}_{digest[:16]}{suffix}.so"
    if lib.exists() and not always_rebuild:
        return lib, digest
    src = folder / f"{name}_{digest[:16]}{suffix}{ext}"
    if not src.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=ext + ".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(source)
        os.replace(tmp, src)
    fd, tmp_lib = tempfile.mkstemp(dir=folder, suffix=".so.tmp")
    os.close(fd)
    proc = subprocess.run([*command, "-o", tmp_lib, str(src), *libs], capture_output=True, text=True)
    if proc.returncode != 0:
        os.unlink(tmp_lib)
        errors = explain_compiler_errors(proc.stderr)
        detail = "\n".join(errors[:5]) if errors else proc.stderr.strip()[-2000:]
        raise BuildError(f"model '{name}': the generated {language} did not compile:\n{detail}\n(source: {src})")
    os.replace(tmp_lib, lib)
    return lib, digest


def build_library(source, prefs, name, out_dir=None, always_rebuild=False):
    """Compile the generated C of a model (if not cached); return (library path, digest)."""
    from .codegen import libmvec_available
    cc = prefs.get("compiler", "gcc") or "gcc"
    libs = ["-lmvec", "-lm"] if libmvec_available() else ["-lm"]
    return compile_cached(source, [cc, *compile_flags(prefs)], libs, name, out_dir, always_rebuild)
