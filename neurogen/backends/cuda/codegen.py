"""CUDA code generation: the CPU backend's per-element code bodies inside CUDA kernels.

The kernel writer of the CPU backend builds every element's code (translated code strings,
variable loads and stores, postsynaptic models, spike handling); this writer reuses all of it
and only replaces the loop nests with a mapping of elements onto GPU threads:

| kernel | one thread per | notes |
| --- | --- | --- |
| neuron update | (batch, neuron) | same body as the CPU loop |
| spike compaction and recording | batch instance | sequential, deterministic spike order |
| dense presynaptic spikes, dense synapse dynamics | (batch, postsynaptic neuron) | loops over spikes / rows in the CPU's order: no atomics |
| sparse presynaptic spikes, sparse synapse dynamics | (batch, presynaptic row) | addToPost with atomicAdd |
| postsynaptic spikes | (batch, presynaptic neuron) dense / (batch, post spike) sparse | |
| custom update | element (batch reductions loop over the batch inside) | |

The host code (``run``) launches the kernels of each step in GeNN's order with no Python in the
loop. Variables are initialised on the host by the CPU backend's generated code (the same
Philox streams) and copied to the device. The generated source compiles with nvcc, or with a
C++ compiler against ``shim.h``, which runs each kernel thread after thread on the CPU.
"""
from ..cpu.codegen import CodeGenerator
from ..cpu.kernels import KernelWriter
from ...rng import C_SOURCE as RNG_C_SOURCE
from ..cpu.codegen import RNG_MACROS

BLOCK_SIZE = 128

PRELUDE = r"""
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <stdio.h>
#include <float.h>
#include <math.h>
#ifndef NG_CUDA_SHIM
#include <cuda_runtime.h>
#define NG_LAUNCH(kernel, threads, ...) \
    do {{ const int64_t ng_nt = (threads); \
         if (ng_nt > 0) kernel<<<(unsigned int)((ng_nt + NG_BLOCK - 1) / NG_BLOCK), NG_BLOCK>>>(__VA_ARGS__); }} while (0)
#endif
#define NG_BLOCK {block}
#define restrict __restrict__
typedef {scalar} scalar;
typedef {timepoint} timepoint;
typedef void (*ng_gemm_t)(char*, char*, int*, int*, int*, scalar*, scalar*, int*, scalar*, int*, scalar*,
                          scalar*, int*);
#define NG_MIN(a, b) ((a) < (b) ? (a) : (b))
#define NG_MAX(a, b) ((a) > (b) ? (a) : (b))
static __device__ __forceinline__ float ng_abs(float x) {{ return fabsf(x); }}
static __device__ __forceinline__ double ng_abs(double x) {{ return fabs(x); }}
static __device__ __forceinline__ long long ng_abs(long long x) {{ return x < 0 ? -x : x; }}
static __device__ __forceinline__ int ng_abs(int x) {{ return x < 0 ? -x : x; }}
#define NG_ABS(x) ng_abs(x)
#define NG_RNG_FN static __device__ __forceinline__
"""

HOST_API = r"""
extern "C" void* NGPREFIX_dev_alloc(size_t n) { void* p = 0; if (cudaMalloc(&p, n ? n : 1) != cudaSuccess) return 0; return p; }
extern "C" int NGPREFIX_dev_free(void* p) { return (int)cudaFree(p); }
extern "C" int NGPREFIX_h2d(void* d, const void* h, size_t n) { return n ? (int)cudaMemcpy(d, h, n, cudaMemcpyHostToDevice) : 0; }
extern "C" int NGPREFIX_d2h(void* h, const void* d, size_t n) { return n ? (int)cudaMemcpy(h, d, n, cudaMemcpyDeviceToHost) : 0; }
extern "C" int NGPREFIX_device_count(void) { int n = 0; if (cudaGetDeviceCount(&n) != cudaSuccess) return 0; return n; }
static int ng_finish(void) {
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) e = cudaDeviceSynchronize();
    if (e != cudaSuccess) { fprintf(stderr, "neurogen CUDA error: %s\n", cudaGetErrorString(e)); return (int)e; }
    return 0;
}
"""


class CUDACodeGenerator(CodeGenerator):
    body_qualifier = "static __device__ __noinline__"
    wrapper_qualifier = "static __global__"

    def generate(self):
        m = self.m
        out = [PRELUDE.format(scalar=m.precision, timepoint=m.time_precision, block=BLOCK_SIZE),
               RNG_C_SOURCE, RNG_MACROS.format(s="f" if m.precision == "float" else "d")]
        out.append(CUDAKernelWriter(self).write_all())
        return "\n".join(out)


def _thread_index(total):
    """Lines computing the global thread index ng_gid and leaving threads beyond ``total``."""
    lines = ["    const int64_t ng_gid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;",
             f"    if (ng_gid >= (int64_t)({total})) return;"]
    return lines


class CUDAKernelWriter(KernelWriter):
    """The CPU writer with loops replaced by thread indices and launches by ``NG_LAUNCH``."""

    def call(self, kernel, threads, timestep="ng_ts"):
        return f"NG_LAUNCH({kernel}, {threads}, ng_P, {timestep});"

    def element_loop(self, k, N):
        B = self.B
        self._neuron_parallel = False
        return (_thread_index(f"{B} * {N}")
                + [f"    const int ng_b = (int)(ng_gid / {N}); const uint32_t ng_i = (uint32_t)(ng_gid % {N});",
                   "    {"], ["    }"])

    def atomic_outputs(self, sg, kind, sparse):
        row_threads = sparse if kind != "post_spike_syn_code" else not sparse
        # threads own a postsynaptic neuron (dense pre/dynamics, sparse post) or a presynaptic row
        return (row_threads, not row_threads)

    def synapse_loops(self, sg, kind, k, sparse, lines, defs, inner, code, scope):
        B = self.B
        src, trg = sg.src, sg.trg
        npre, npost = src.num_neurons, trg.num_neurons
        lines += defs
        g = self.g
        if kind == "post_spike_syn_code":
            cnt, spk = self.spike_arrays(trg)
            if sparse:
                col_len = g.internal_array(sg, "col_length", "uint32_t", False, lambda: npost)
                remap = g.internal_array(sg, "remap", "uint32_t", False,
                                         lambda: npost * self.m._backend.col_stride(sg))
                cstride = g.size_expr(f"colstride:{sg.name}")
                threads = f"{B} * {npost}"
                lines += _thread_index(threads) + [
                    f"    const int ng_b = (int)(ng_gid / {npost}); const uint32_t ng_k = (uint32_t)(ng_gid % {npost});",
                    f"    if (ng_k >= {k.arr(cnt)}[ng_b]) return;",
                    f"    const uint32_t ng_ipost = {k.arr(spk)}[(size_t)ng_b * {npost}u + ng_k];",
                    f"    const uint32_t ng_cl = {k.arr(col_len)}[ng_ipost];",
                    "    for (uint32_t ng_s = 0; ng_s < ng_cl; ng_s++) {",
                    f"    const size_t ng_isyn = {k.arr(remap)}[(size_t)ng_ipost * {cstride} + ng_s];",
                    "    const uint32_t ng_ipre = (uint32_t)(ng_isyn / ng_stride);", inner, "    }"]
            else:
                threads = f"{B} * {npre}"
                lines += _thread_index(threads) + [
                    f"    const int ng_b = (int)(ng_gid / {npre}); const uint32_t ng_ipre = (uint32_t)(ng_gid % {npre});",
                    f"    const uint32_t ng_cnt = {k.arr(cnt)}[ng_b];",
                    "    for (uint32_t ng_k = 0; ng_k < ng_cnt; ng_k++) {",
                    f"    const uint32_t ng_ipost = {k.arr(spk)}[(size_t)ng_b * {npost}u + ng_k];",
                    f"    const size_t ng_isyn = (size_t)ng_ipre * {npost}u + ng_ipost;", inner, "    }"]
        elif sparse:
            # one thread per presynaptic row (a spiking one for spike code)
            threads = f"{B} * {npre}"
            lines += _thread_index(threads)
            if kind == "pre_spike_syn_code":
                cnt, spk = self.spike_arrays(src)
                lines += [f"    const int ng_b = (int)(ng_gid / {npre}); const uint32_t ng_k = (uint32_t)(ng_gid % {npre});",
                          f"    if (ng_k >= {k.arr(cnt)}[ng_b]) return;",
                          f"    const uint32_t ng_ipre = {k.arr(spk)}[(size_t)ng_b * {npre}u + ng_k];"]
            else:
                lines += [f"    const int ng_b = (int)(ng_gid / {npre}); const uint32_t ng_ipre = (uint32_t)(ng_gid % {npre});"]
            lines += self.row_loop(k, sg, True, inner)
        else:
            # one thread per postsynaptic neuron, looping over spikes / rows in the CPU's order
            threads = f"{B} * {npost}"
            lines += _thread_index(threads) + [
                f"    const int ng_b = (int)(ng_gid / {npost}); const uint32_t ng_ipost = (uint32_t)(ng_gid % {npost});"]
            if kind == "pre_spike_syn_code":
                cnt, spk = self.spike_arrays(src)
                lines += [f"    const uint32_t ng_cnt = {k.arr(cnt)}[ng_b];",
                          "    for (uint32_t ng_k = 0; ng_k < ng_cnt; ng_k++) {",
                          f"    const uint32_t ng_ipre = {k.arr(spk)}[(size_t)ng_b * {npre}u + ng_k];"]
            else:
                lines += [f"    for (uint32_t ng_ipre = 0; ng_ipre < {npre}u; ng_ipre++) {{"]
            lines += [f"    const size_t ng_isyn = (size_t)ng_ipre * {npost}u + ng_ipost;", inner, "    }"]
        self.finish_synapse_kernel(k, sg, kind, lines, parallel=False, threads=threads)

    def batch_loop(self):
        return _thread_index(str(self.B)) + ["    const int ng_b = (int)ng_gid;", "    {"], ["    }"]

    @staticmethod
    def copy_elements(dst, dst_offset, src, src_offset, n):
        return _thread_index(str(n)) + [f"    {dst}[{dst_offset} + ng_gid] = {src}[{src_offset} + ng_gid];"]

    def custom_update_loops(self, k, batch_red, neuron_red, n_expr, nb, red_init, body, ops, st_lines):
        if batch_red:
            return _thread_index(n_expr) + ["    const size_t ng_i = (size_t)ng_gid;", *red_init,
                                                 f"    for (int ng_b = 0; ng_b < {nb}; ng_b++) {{", body, ops, "    }",
                                                 "    { const int ng_b = 0; (void)ng_b;", st_lines, "    }"]
        if neuron_red:
            return _thread_index(str(nb)) + ["    const int ng_b = (int)ng_gid;", *red_init,
                                                  f"    for (size_t ng_i = 0; ng_i < (size_t){n_expr}; ng_i++) {{",
                                                  body, ops, "    }",
                                                  "    { const size_t ng_i = 0; (void)ng_i;", st_lines, "    }"]
        return _thread_index(f"(int64_t){nb} * (int64_t)({n_expr})") + [
            f"    const int ng_b = (int)(ng_gid / (int64_t)({n_expr})); const size_t ng_i = (size_t)(ng_gid % (int64_t)({n_expr}));",
            "    do {", body, "    } while (0);"]

    def assemble(self):
        g = self.g
        self.exports = [HOST_API]
        step = ["    " + call for _, call in self.ordered_step_calls()]
        self.exports.append(
            'extern "C" int NGPREFIX_run(void** ng_P, const int64_t* ng_hsizes, int64_t ng_start, int64_t ng_n) {\n'
            "    (void)ng_hsizes;\n"
            "    for (int64_t ng_s = 0; ng_s < ng_n; ng_s++) {\n"
            "    const int64_t ng_ts = ng_start + ng_s;\n" + "\n".join(step).replace("ng_sizes", "ng_hsizes")
            + "\n    }\n    return ng_finish();\n}\n")
        for grp, calls in g.cu_groups.items():
            self.exports.append(
                f'extern "C" int NGPREFIX_cu_{grp}(void** ng_P, const int64_t* ng_hsizes, int64_t ng_timestep) {{\n'
                "    (void)ng_hsizes;\n    " + "\n    ".join(calls).replace("ng_sizes", "ng_hsizes")
                + "\n    return ng_finish();\n}\n")
        header = f"#define ng_dt ((timepoint){g.lit(self.m.dt, 'timepoint')})\n"
        return header + "\n".join(self.static_functions) + "\n" + "\n".join(self.exports)
