"""Per-kernel time breakdown of a loaded neurogen CPU model (profiling aid, benchmark-side only).

``perf`` is not available on this machine, so this takes the generated C source of a *loaded*
model (``model._backend.source``), wraps every kernel call inside the exported ``<prefix>_run``
loop with a clock read (thread 0's view, so time spent waiting in a kernel's closing barrier
counts towards that kernel), compiles that copy with the engine's own flags into a private
library and runs it on the model's own state table. Nothing under neurogen/ is touched; the model
state simply advances by the profiled steps.

    from kernel_profile import kernel_breakdown
    rows, total_us = kernel_breakdown(model, steps=2000)   # [(kernel call, µs/step)], µs/step
"""
import ctypes
import os
import re
import subprocess
import tempfile
import time

PROF_HEADER = r"""
#include <time.h>
double NG_PROF_SYM[256];
static inline double ng_prof_now(void) {
    struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
#ifdef _OPENMP
#define NG_PROF_MASTER (omp_get_thread_num() == 0)
#else
#define NG_PROF_MASTER 1
#endif
"""


def instrument(source, prefix):
    """Return (instrumented source, [kernel call labels])."""
    m = re.search(r"int %s_run\(void\*\* ng_P, int64_t ng_start, int64_t ng_n\) \{" % re.escape(prefix), source)
    if not m:
        raise RuntimeError("could not find the run function in the generated source")
    start = m.end()
    end = source.index("\n}\n", start)
    body = source[start:end].split("\n")
    labels, out, i = [], [], 0
    call_re = re.compile(r"^\s*(ng_\w+)\(ng_P, ng_ts\);\s*$")
    while i < len(body):
        line = body[i]
        pragma = None
        if line.strip().startswith("#pragma omp single") and i + 1 < len(body) and call_re.match(body[i + 1]):
            pragma, line = line, body[i + 1]
            i += 1
        cm = call_re.match(line)
        if cm:
            k = len(labels)
            labels.append(cm.group(1) + (" [omp single]" if pragma else ""))
            out.append("{ const double ng_pt0 = ng_prof_now();")
            if pragma:
                out.append(pragma)
            out.append(line)
            out.append(f"if (NG_PROF_MASTER) NG_PROF_SYM[{k}] += ng_prof_now() - ng_pt0; }}")
        else:
            out.append(line)
        i += 1
    inst = source[:start] + "\n".join(out) + source[end:]
    # after the prelude's includes (omp.h is included there when compiled with -fopenmp)
    anchor = inst.index("typedef ")
    sym = f"{prefix}_prof"
    inst = inst[:anchor] + PROF_HEADER.replace("NG_PROF_SYM", sym) + inst[anchor:]
    # clock_gettime under -std=c11 needs POSIX declarations, before any header is included
    inst = "#define _POSIX_C_SOURCE 200809L\n" + inst
    return inst.replace("NG_PROF_SYM", sym), labels


def kernel_breakdown(model, steps=2000, keep_source=None):
    """Run ``steps`` steps of the instrumented copy; return ([(label, µs/step)], total µs/step)."""
    from neurogen.backends.cpu.compiler import compile_flags
    be = model._backend
    src, labels = instrument(be.source, be.prefix)
    flags = [f for f in compile_flags(model.preferences)]
    with tempfile.TemporaryDirectory(prefix="neurogen_kprof_") as d:
        c = os.path.join(d, "prof.c")
        so = os.path.join(d, "prof.so")
        with open(c, "w") as f:
            f.write(src)
        if keep_source:
            with open(keep_source, "w") as f:
                f.write(src)
        p = subprocess.run(["gcc", *flags, "-o", so, c, "-lm"], capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError("instrumented source did not compile:\n" + p.stderr[-2000:])
        lib = ctypes.CDLL(so)
    run = getattr(lib, f"{be.prefix}_run")
    run.restype = ctypes.c_int
    run.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64]
    prof = (ctypes.c_double * 256).in_dll(lib, f"{be.prefix}_prof")
    try:
        from neurogen.backends.cpu import single_threaded_blas
        guard = single_threaded_blas(model.preferences["num_threads"] > 1 and getattr(be, "uses_blas", False))
    except ImportError:
        import contextlib
        guard = contextlib.nullcontext()
    with guard:
        run(ctypes.c_void_p(be.P.ctypes.data), model.timestep, 200)       # warm-up
        for k in range(len(labels)):
            prof[k] = 0.0
        t0 = time.perf_counter()
        rc = run(ctypes.c_void_p(be.P.ctypes.data), model.timestep + 200, steps)
        total = time.perf_counter() - t0
    if rc:
        raise RuntimeError(f"instrumented run failed with code {rc}")
    model.timestep += 200 + steps
    rows = [(labels[k], prof[k] / steps * 1e6) for k in range(len(labels))]
    return rows, total / steps * 1e6


def format_rows(rows, total):
    acc = sum(t for _, t in rows)
    lines = [f"      {label:<44s} {t:8.2f} µs/step ({t / total * 100:4.1f} %)" for label, t in rows]
    lines.append(f"      {'(loop + timer overhead)':<44s} {total - acc:8.2f} µs/step")
    lines.append(f"      {'total (instrumented run)':<44s} {total:8.2f} µs/step")
    return "\n".join(lines)
