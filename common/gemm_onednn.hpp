// oneDNN's matmul as ds::gemm's kernel, in two roles (gemm.hpp):
//  - float32: a third back end beside Eigen and OpenBLAS (GemmBackend::OneDNN, DS_GEMM=onednn),
//    for comparison: faster than OpenBLAS in isolation on Zen 4, slower inside the training step;
//  - BF16 (GemmPrecision::BF16): both operands rounded to bfloat16 (round to nearest even), the
//    products summed in float32, C float32, as DeepSeek-V3 trains its GEMMs (sec. 3.3: narrow
//    inputs, wide accumulation, FP32 master weights; V3 narrows to FP8, this to BF16), on oneDNN's
//    kernels for the CPU's BF16 dot-product instructions (AVX512_BF16's vdpbf16ps, AMX-BF16). On a
//    CPU without them, or in a build without oneDNN, BF16 is unavailable and says why: it is never
//    emulated in float32.
// Both run on the calling thread (ds::gemm does the threading) unless set_onednn_threads says otherwise.
#pragma once

#include <cstdint>
#include <string>

namespace ds {

bool onednn_available();   // this build has oneDNN
// True when this build has oneDNN and the CPU has BF16 dot-product instructions.
bool bf16_gemm_available();
// Why not, in one sentence ("" when available).
std::string bf16_gemm_unavailable_reason();
// The oneDNN implementation the BF16 kernel runs and the instruction set under it (e.g.
// "gemm:jit on avx512_core_bf16"); "" when unavailable.
std::string bf16_gemm_implementation();

// C = alpha * op(A) op(B) + beta * C (ds::gemm's contract, gemm.hpp), with A and B rounded to
// BF16 first when bf16. bf16 requires bf16_gemm_available(), float32 onednn_available().
void gemm_onednn_kernel(bool bf16, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                        const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// Threads each oneDNN call may use (1 unless bench_ops compares the library's own threading).
void set_onednn_threads(int threads);

}  // namespace ds
