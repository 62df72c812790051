/* Host-side launch shim: compiles neurogen's generated CUDA with a C++ compiler and runs every
 * kernel on the CPU, thread after thread in index order. Used by the tests to execute the CUDA
 * kernel logic on machines without a GPU and compare it with the CPU backend. */
#ifndef NG_CUDA_SHIM_H
#define NG_CUDA_SHIM_H
#define NG_CUDA_SHIM 1
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
struct ng_dim3 { unsigned int x, y, z; };
static ng_dim3 threadIdx, blockIdx, blockDim, gridDim;
typedef int cudaError_t;
enum { cudaSuccess = 0 };
enum cudaMemcpyKind { cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3 };
static inline cudaError_t cudaMalloc(void** p, size_t n) { *p = calloc(n ? n : 1, 1); return *p ? 0 : 2; }
static inline cudaError_t cudaFree(void* p) { free(p); return 0; }
static inline cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) { memcpy(d, s, n); return 0; }
static inline cudaError_t cudaMemset(void* d, int v, size_t n) { memset(d, v, n); return 0; }
static inline cudaError_t cudaDeviceSynchronize() { return 0; }
static inline cudaError_t cudaGetLastError() { return 0; }
static inline const char* cudaGetErrorString(cudaError_t) { return "shim"; }
static inline cudaError_t cudaGetDeviceCount(int* n) { *n = 1; return 0; }
static inline float atomicAdd(float* p, float v) { float old = *p; *p = old + v; return old; }
static inline double atomicAdd(double* p, double v) { double old = *p; *p = old + v; return old; }
template <typename K, typename... A>
static void ng_shim_launch(K kernel, int64_t threads, unsigned int block, A... args) {
    const unsigned int blocks = (unsigned int)((threads + block - 1) / block);
    gridDim.x = blocks; blockDim.x = block; gridDim.y = gridDim.z = blockDim.y = blockDim.z = 1;
    for (unsigned int b = 0; b < blocks; b++) {
        blockIdx.x = b;
        for (unsigned int t = 0; t < block; t++) { threadIdx.x = t; kernel(args...); }
    }
}
#define NG_LAUNCH(kernel, threads, ...) \
    do { const int64_t ng_nt = (threads); if (ng_nt > 0) ng_shim_launch(kernel, ng_nt, NG_BLOCK, __VA_ARGS__); } while (0)
#endif
