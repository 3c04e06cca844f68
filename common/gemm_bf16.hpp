// The BF16 kernel behind ds::gemm's mixed-precision mode (gemm.hpp: GemmPrecision::BF16): both
// operands rounded to bfloat16 (round to nearest even), the products summed in float32, C float32,
// as DeepSeek-V3 trains its GEMMs (sec. 3.3: narrow inputs, wide accumulation, FP32 master
// weights; V3 narrows to FP8, this to BF16). The multiply-adds run in oneDNN's matmul, which has
// kernels for the CPU's BF16 dot-product instructions (AVX512_BF16's vdpbf16ps, AMX-BF16); on a
// CPU without them, or in a build without oneDNN, the mode is unavailable and says why: it is
// never emulated in float32.
#pragma once

#include <cstdint>
#include <string>

namespace ds {

// True when this build has oneDNN and the CPU has BF16 dot-product instructions.
bool bf16_gemm_available();
// Why not, in one sentence ("" when available).
std::string bf16_gemm_unavailable_reason();
// The oneDNN implementation the kernel runs (its verbose name, e.g. "brg:avx512_core_bf16"), as
// reported for the mini step's Linear shape; "" when unavailable.
std::string bf16_gemm_implementation();

// C = alpha * op(A) op(B) + beta * C with A and B rounded to BF16 first (ds::gemm's contract,
// gemm.hpp), on the calling thread only. Requires bf16_gemm_available().
void gemm_bf16_kernel(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                      const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace ds
