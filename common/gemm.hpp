// ds::gemm: the one function every matrix product of the core goes through (Linear, matmul,
// attention, the routed experts). Two back ends compute it by default: Eigen's own GEMM kernels
// and, where the build found it, OpenBLAS's cblas_sgemm. Which one is faster depends on the CPU
// (on an AVX2 Zen 3, OpenBLAS by 1.7x; on AVX-512 Xeons they tie), so the default is measured,
// not assumed: cmake/GemmProbe.cmake times both on this machine at configure time (gemm_probe
// below) and bakes in the faster; DS_GEMM=eigen|openblas|onednn|probe in the environment
// overrides it at run time. oneDNN's float32 matmul (gemm_onednn.hpp) is a third back end for
// comparison only (gemm_choose says why); oneDNN's BF16 kernels are the BF16 precision.
//
// Threads: the back ends run single-threaded kernels and ds::gemm does the threading itself,
// with the OpenMP threads the rest of the core uses: a large product outside a parallel region
// is cut into one block of rows (or columns) per thread; inside a parallel region (one task per
// head, per expert) or below kGemmParallelMin it stays on the calling thread. So OpenBLAS's own
// thread pool never runs beside OpenMP's (no oversubscription), whichever OpenBLAS variant
// (pthread, openmp, serial) the system links.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ds {

enum class GemmBackend { Eigen, OpenBLAS, OneDNN };

// The precision of the products: Float32 (the back end's SGEMM), or BF16: both operands rounded
// to bfloat16, float32 accumulation and output, on oneDNN's kernels for the CPU's BF16
// instructions (gemm_onednn.hpp; V3 sec. 3.3's recipe with BF16 in place of FP8).
enum class GemmPrecision { Float32, BF16 };

// C = alpha * op(A) op(B) + beta * C, every matrix row-major; op(A) is [m, k] (A itself is [k, m]
// when trans_a), op(B) is [k, n] (B is [n, k] when trans_b), C is [m, n]. lda, ldb, ldc are the
// row strides of A, B, C as stored. beta == 0 never reads C (it may hold garbage).
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// The same product in float32 whatever gemm_precision() says: attention's products, which
// DeepSeek-V3 keeps out of the narrow format (sec. 3.3.1) and which are too small here for
// oneDNN's per-call cost.
void gemm_float32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                  const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// Products of at least this many multiply-adds (m n k), outside a parallel region, are split
// over the OpenMP threads; smaller ones cost less than waking the threads.
constexpr int64_t kGemmParallelMin = int64_t{1} << 18;

GemmBackend gemm_backend();
// Switches the back end for the gemms that follow (tests, bench_ops); not while gemms run.
void set_gemm_backend(GemmBackend backend);
bool gemm_backend_available(GemmBackend backend);
std::string gemm_backend_name(GemmBackend backend);   // "eigen", "openblas", "onednn"
// Why the current back end was chosen: the configure-time probe's figures, or the DS_GEMM override.
std::string gemm_backend_origin();
// The OpenBLAS build in use ("OpenBLAS 0.3.21 ... SkylakeX", its threading), or "not linked".
std::string openblas_description();

GemmPrecision gemm_precision();
std::string gemm_precision_name(GemmPrecision precision);   // "float32", "bf16"
// Switches the precision of the gemms that follow; not while gemms run. BF16 where
// bf16_gemm_available() is false throws std::invalid_argument with the reason.
void set_gemm_precision(GemmPrecision precision);
// "float32", "bf16" or "auto" (BF16 where the CPU and build have it, else float32) as the precision
// to use; a bad name, or "bf16" where it is unavailable, throws std::invalid_argument with one sentence.
GemmPrecision parse_gemm_precision(const std::string& name);

// The practical roof: GFLOP/s of a square n x n x n product through ds::gemm on all threads at
// the current precision (the largest the machine sustains on dense, cached operands), the
// median of repeated calls over about `seconds`.
double gemm_roof_gflops(double seconds = 1.0, int64_t n = 1024);

// Threading for bench_ops' comparison only: Split (the default, above) or Library (one call, the
// back end's own threads: Eigen's OpenMP, OpenBLAS's pthread pool).
enum class GemmThreading { Split, Library };
void set_gemm_threading(GemmThreading threading, int threads);

// The probe: GFLOP/s of each available back end, single-threaded (the kernels' quality; the
// threading is the same for both), over the shapes a training step of the mini preset runs:
// Linear forward and both backward products at 1,024 tokens, an expert's, an attention band's.
// The best of several interleaved repeats per shape, so a busy machine disturbs it little.
struct GemmProbeResult {
  GemmBackend backend;
  double gflops;
};
std::vector<GemmProbeResult> gemm_probe(double seconds_per_backend = 0.25);
// The back end to use given the probe: OpenBLAS only if at least 3% faster than Eigen (a tie
// keeps Eigen, which needs no extra library); oneDNN never (see gemm.cpp).
GemmBackend gemm_choose(const std::vector<GemmProbeResult>& probe);

}  // namespace ds
