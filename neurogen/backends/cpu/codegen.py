"""C99 code generation for the CPU backend.

One translation unit per model. State lives in NumPy arrays owned by Python; the generated
functions receive them as ``void **ng_P`` (one slot per array) and hoist each into a local
``restrict`` pointer so element loops vectorise. Every generated identifier starts with
``ng_`` (user names may not), and every exported symbol carries the per-model prefix.

Step order (genn_api.md §9): streamed inputs; synapse dynamics; presynaptic spikes (from the
previous step); postsynaptic spikes; neuron updates (PSMs, addToPre buffers, current sources,
sim code, WU pre/post dynamics, threshold, spike code, reset); spike compaction and recording.
"""
import math

from ...code import Name, Scope
from ...errors import ModelDefinitionError
from ...groups import VarStorage
from ...rng import C_SOURCE as RNG_C_SOURCE
from .compiler import vector_bytes

PRELUDE = r"""
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <float.h>
#include <math.h>
{simd_decls}
#include <tgmath.h>
#undef I
#undef complex
#undef imaginary
#ifdef _OPENMP
#include <omp.h>
#endif
typedef {scalar} scalar;
typedef {timepoint} timepoint;
typedef void (*ng_gemm_t)(char*, char*, int*, int*, int*, scalar*, scalar*, int*, scalar*, int*, scalar*,
                          scalar*, int*);
/* vectors as wide as the CPU's registers (GCC vector extensions) for register-blocked products */
typedef scalar ng_vec __attribute__((vector_size({vector_bytes})));
#define NG_VLEN ({vector_bytes}u / sizeof(scalar))
static inline ng_vec ng_vload(const scalar* p) {{ ng_vec v; memcpy(&v, p, sizeof v); return v; }}
static inline void ng_vstore(scalar* p, ng_vec v) {{ memcpy(p, &v, sizeof v); }}
static inline ng_vec ng_vzero(void) {{ ng_vec v; memset(&v, 0, sizeof v); return v; }}
#define NG_MIN(a, b) ((a) < (b) ? (a) : (b))
#define NG_MAX(a, b) ((a) > (b) ? (a) : (b))
#define NG_ABS(x) _Generic((x), float: fabsf, double: fabs, long double: fabsl, default: llabs)(x)
/* fmax / fmin with C99's NaN rule (a NaN argument gives the other one) written as selects: GCC only
   inlines the libm calls under -ffinite-math-only, so a psi = fmax(0, 1 - |v|) in a neuron loop
   called fmaxf through the PLT for every element and kept the whole loop scalar (8x slower). */
static inline float ng_fmaxf(float a, float b) {{ return (a > b || b != b) ? a : b; }}
static inline double ng_fmaxd(double a, double b) {{ return (a > b || b != b) ? a : b; }}
static inline float ng_fminf(float a, float b) {{ return (a < b || b != b) ? a : b; }}
static inline double ng_fmind(double a, double b) {{ return (a < b || b != b) ? a : b; }}
/* preference flush_denormals: subnormal results and inputs taken as zero (SSE MXCSR FTZ | DAZ) */
#if defined(__SSE2__)
#include <xmmintrin.h>
static inline unsigned ng_flush_denormals_enter(void) {{ const unsigned c = _mm_getcsr(); _mm_setcsr(c | 0x8040u); return c; }}
static inline void ng_flush_denormals_leave(unsigned c) {{ _mm_setcsr(c); }}
#else
static inline unsigned ng_flush_denormals_enter(void) {{ return 0u; }}
static inline void ng_flush_denormals_leave(unsigned c) {{ (void)c; }}
#endif
#undef fmax
#undef fmin
#define fmax(a, b) _Generic((a) + (b), float: ng_fmaxf, default: ng_fmaxd)((a), (b))
#define fmin(a, b) _Generic((a) + (b), float: ng_fminf, default: ng_fmind)((a), (b))
"""

RNG_MACROS = r"""
#define NG_RNG_ARGS ng_k0, ng_k1, ng_stream, ng_elem, ng_step, ng_rng_n++
#define NG_RAND() ng_rand_u32(NG_RNG_ARGS)
#define NG_RAND_UNIFORM() ng_uniform_{s}(NG_RNG_ARGS)
#define NG_RAND_NORMAL() ng_normal_{s}(NG_RNG_ARGS)
#define NG_RAND_EXPONENTIAL() ng_exponential_{s}(NG_RNG_ARGS)
#define NG_RAND_LOG_NORMAL(m, sd) ng_log_normal_{s}(NG_RNG_ARGS, (m), (sd))
#define NG_RAND_GAMMA(a) ng_gamma_{s}(NG_RNG_ARGS, (a))
#define NG_RAND_BINOMIAL(n, p) ng_binomial_{s}(NG_RNG_ARGS, (n), (p))
"""
RNG_FUNCTIONS = {
    "gennrand": "NG_RAND", "gennrand_uniform": "NG_RAND_UNIFORM", "gennrand_normal": "NG_RAND_NORMAL",
    "gennrand_exponential": "NG_RAND_EXPONENTIAL", "gennrand_log_normal": "NG_RAND_LOG_NORMAL",
    "gennrand_gamma": "NG_RAND_GAMMA", "gennrand_binomial": "NG_RAND_BINOMIAL",
}
FLOAT_TYPES = ("scalar", "float", "double", "timepoint")


#: glibc's libmvec provides SIMD variants of these (since 2.35; the first five since 2.22). Declaring
#: them lets gcc vectorise element loops that call them without -ffast-math (accuracy <= 4 ulp).
LIBMVEC_FUNCTIONS = {
    (2, 22): ("sin", "cos", "exp", "log", "pow"),
    (2, 35): ("acos", "acosh", "asin", "asinh", "atan", "atanh", "atan2", "cbrt", "cosh", "erf", "erfc",
              "exp10", "exp2", "expm1", "hypot", "log10", "log1p", "log2", "sinh", "tan", "tanh"),
}


def glibc_version():
    import os
    try:
        name, version = os.confstr("CS_GNU_LIBC_VERSION").split()
        return tuple(int(x) for x in version.split(".")[:2])
    except (ValueError, OSError, AttributeError):
        return (0, 0)


def libmvec_available():
    import os
    return glibc_version() >= (2, 22) and any(
        os.path.exists(os.path.join(d, "libmvec.so")) for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64",
                                                                "/usr/lib"))


def simd_declarations():
    if not libmvec_available() or __import__("platform").machine() != "x86_64":
        return ""
    version = glibc_version()
    decls = []
    for since, names in LIBMVEC_FUNCTIONS.items():
        if version >= since:
            for n in names:
                two = n in ("pow", "atan2", "hypot")
                args_d = "double, double" if two else "double"
                args_f = "float, float" if two else "float"
                decls.append(f'__attribute__((simd("notinbranch"))) double {n}({args_d});')
                decls.append(f'__attribute__((simd("notinbranch"))) float {n}f({args_f});')
    return "\n".join(decls)


def c_literal(value, ctype, precision):
    """A C literal of ``value`` for a parameter of C type ``ctype`` (parenthesised when negative)."""
    if ctype.rstrip("*").strip() not in FLOAT_TYPES:
        return f"({int(value)})" if int(value) < 0 else str(int(value))
    v = float(value)
    single = ctype == "float" or (ctype == "scalar" and precision == "float")
    if math.isnan(v):
        return "((scalar)NAN)"
    if math.isinf(v):
        return "(INFINITY)" if v > 0 else "(-INFINITY)"
    text = repr(v) + ("f" if single else "")
    return f"({text})" if v < 0 else text


def c_ctype(ctype):
    base = ctype.rstrip("*").strip()
    return "unsigned int" if base == "unsigned" else base


class Kernel:
    """Collects the body of one generated function and the array pointers it touches."""

    def __init__(self, gen, name, signature):
        self.gen, self.name, self.signature = gen, name, signature
        self.ptrs = {}
        self.lines = []
        self.attributes = ""

    def arr(self, st):
        slot = self.gen.slot(st)
        self.ptrs[slot] = st
        return f"ng_p{slot}"

    def emit(self, text):
        self.lines.append(text)

    def render(self):
        """Emit the kernel as a body taking every array as a ``restrict`` parameter (gcc honours
        restrict reliably only on parameters; on locals it versions loops for aliasing instead of
        vectorising them) and a thin wrapper that reads the pointers from ``ng_P``."""
        import re
        match = re.match(r"static (\w+) (\w+)\(void\*\* restrict ng_P(?:, (.*))?\)$", self.signature)
        if not match:
            raise AssertionError(f"unexpected kernel signature {self.signature!r}")
        ret, name, args = match.groups()
        arg_names = [a.split()[-1] for a in args.split(",")] if args else []
        params = ([args] if args else []) + ["const int64_t* restrict ng_sizes", "uint32_t ng_k0", "uint32_t ng_k1",
                                             "void** ng_P"]
        call = [*arg_names, "(const int64_t*)ng_P[1]", "(uint32_t)((const uint64_t*)ng_P[0])[0]",
                "(uint32_t)(((const uint64_t*)ng_P[0])[0] >> 32)", "ng_P"]
        for slot, st in sorted(self.ptrs.items()):
            ct = c_ctype(st.ctype)
            params.append(f"{ct}* restrict ng_p{slot}")
            call.append(f"({ct}*)ng_P[{slot}]")
        body = [f"{self.gen.body_qualifier}{self.attributes} {ret} {name}_body({', '.join(params)}) {{",
                "    (void)ng_sizes; (void)ng_k0; (void)ng_k1; (void)ng_P;", *self.lines, "}"]
        ret_kw = "" if ret == "void" else "return "
        signature = self.gen.wrapper_qualifier + self.signature[len("static"):]
        wrapper = [f"{signature} {{", f"    {ret_kw}{name}_body({', '.join(call)});", "}", ""]
        return "\n".join(body + wrapper)


class CodeGenerator:
    """Generates the C source of one model; remembers the array slots it assigned."""

    body_qualifier = "static __attribute__((noinline))"
    wrapper_qualifier = "static"

    def __init__(self, model):
        self.m = model
        self.prec = model.precision
        self.B = model.batch_size
        self.storages = []             # slot - 2 -> VarStorage
        self._slot_of = {}
        self.size_keys = []            # index in ng_sizes -> key
        self.streams = {}
        self.internal = {}             # (group name, what) -> VarStorage
        self.cu_groups = {}

    # ------------------------------------------------------------------ slots, sizes, internals
    def slot(self, st):
        key = id(st)
        if key not in self._slot_of:
            self._slot_of[key] = len(self.storages) + 2
            self.storages.append(st)
        return self._slot_of[key]

    def size_index(self, key):
        if key not in self.size_keys:
            self.size_keys.append(key)
        return self.size_keys.index(key)

    def size_expr(self, key):
        return f"ng_sizes[{self.size_index(key)}]"

    def internal_array(self, group, what, ctype, batched, size_fn, element_dim=True):
        key = (group.name, what)
        if key not in self.internal:
            st = VarStorage(group, what, ctype, batched, size_fn, kind="internal")
            st.element_dim = element_dim
            self.internal[key] = st
        return self.internal[key]

    def stream_id(self, group, kind):
        key = (group.name, kind)
        if key not in self.streams:
            self.streams[key] = len(self.streams) + 1
        return self.streams[key]

    # ------------------------------------------------------------------ common name tables
    def lit(self, value, ctype):
        return c_literal(value, ctype, self.prec)

    def param_names(self, group, spec, params, k, what, dynamic=()):
        names = {}
        for p in spec.params:
            if p.name in dynamic:
                st = self.internal_array(group, f"dynparam:{what}:{p.name}", p.type, False, lambda: 1)
                names[p.name] = Name(f"{k.arr(st)}[0]", False, f"'{p.name}' is a parameter of {group._describe()}")
            else:
                names[p.name] = Name(self.lit(params[p.name], p.type), False,
                                     f"'{p.name}' is a parameter of {group._describe()}")
        dvals = dict(params)
        for d in spec.derived_params:
            try:
                value = d.func(dvals, self.m.dt)
            except Exception as exc:   # noqa: BLE001 - user callback: report which one failed
                raise ModelDefinitionError(f"{group._describe()}: derived parameter '{d.name}' of "
                                           f"{spec!r} failed: {exc!r}") from None
            dvals[d.name] = value
            names[d.name] = Name(self.lit(value, d.type), False,
                                 f"'{d.name}' is a derived parameter of {group._describe()}")
        return names

    def egp_names(self, group, spec, k, prefix=""):
        names = {}
        for e in spec.extra_global_params:
            st = group._storages["egp:" + prefix + e.name]
            expr = k.arr(st) if e.type.endswith("*") else f"{k.arr(st)}[0]"
            names[e.name] = Name(expr, e.type.endswith("*"), f"'{e.name}' is an extra global parameter")
        return names

    def common_names(self, extra=None):
        names = {
            "t": Name("ng_t", False, "'t' is the simulation time"),
            "dt": Name("ng_dt", False, "'dt' is the time step"),
            "batch": Name("ng_b", False, "'batch' is the batch index"),
            "num_batch": Name(str(self.B), False, "'num_batch' is the batch size"),
        }
        names.update(extra or {})
        return names

    def functions_for(self):
        return dict(RNG_FUNCTIONS)

    def scope(self, context, names, functions=None):
        f = self.functions_for()
        f.update(functions or {})
        return Scope(context, names, f, self.prec)

    @staticmethod
    def var_reason(st, group):
        return (f"variable '{st.name.split(':')[-1]}' of {group._describe()} is READ_ONLY "
                f"(read-only{' and shared across the batch' if not st.batched else ''})")

    def index(self, st, elem, n):
        """Index of element ``elem`` (instances of size ``n``) in storage ``st`` for batch ``ng_b``."""
        if not st.element_dim:
            return "ng_b" if st.batched else "0"
        if st.batched:
            return f"(size_t)ng_b * {n} + {elem}"
        return elem

    def rng_prologue(self, scope, elem_expr, stream):
        if not scope.uses_rng:
            return ""
        return (f"uint32_t ng_rng_n = 0; const uint32_t ng_stream = {stream}u; "
                f"const uint32_t ng_elem = (uint32_t)({elem_expr}); (void)ng_rng_n;")

    # ------------------------------------------------------------------ generation
    def generate(self):
        m = self.m
        out = [PRELUDE.format(scalar=m.precision, timepoint=m.time_precision, simd_decls=simd_declarations(),
                              vector_bytes=vector_bytes()),
               RNG_C_SOURCE, RNG_MACROS.format(s="f" if m.precision == "float" else "d")]
        from .kernels import KernelWriter
        kw = KernelWriter(self)
        body = kw.write_all()
        out.append(body)
        return "\n".join(out)
