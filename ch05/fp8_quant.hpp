// Fine-grained FP8 quantisation as DeepSeek-V3 does it (section 3.3.2, Figure 7): one scale per
// 1x128 tile of activations (per token, per 128 channels) and per 128x128 block of weights, so
// an outlier only costs precision to the 128 (or 16,384) numbers that share its scale, instead of
// to the whole tensor. scale = amax / 448: the block's largest magnitude lands on E4M3's largest
// value (amax clamped at 1e-4 as V3's kernel.py does, so an all-zero block has a scale too). Also V3's checkpoint layout for FP8 weights, and its
// accumulation-precision problem.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ch05/fp8.hpp"
#include "common/nn.hpp"

namespace ds::ch05 {

// Tile128x1 (128 rows of one column) is how V3 scales the operands of the weight-gradient GEMM,
// whose inner dimension is the tokens: scales run along the inner dimension of every GEMM
// (section 3.3.2), so activations stored as 1x128 tiles are re-quantised to 128x1 tiles for the
// backward pass (section 3.5.2).
enum class Granularity { PerTensor, Tile1x128, Tile128x1, Block128x128 };
std::string granularity_name(Granularity g);   // "per-tensor", "1x128", "128x1", "128x128"

// x [R, C] as FP8 codes plus one float32 scale per block (the dequantisation multiplier, which
// V3's checkpoint calls weight_scale_inv): value = decode(code) * scale of its block.
struct Fp8Tensor {
  Shape shape;
  Fp8Format format = Fp8Format::E4M3;
  int64_t block_rows = 1, block_cols = 1;   // 1x128, 128x1, 128x128, or the whole tensor
  std::vector<uint8_t> codes;
  std::vector<float> scales;                // [ceil(R / block_rows), ceil(C / block_cols)]
  int64_t scale_rows() const;
  int64_t scale_cols() const;
};

Fp8Tensor quantize(const Tensor& x, Granularity g, Fp8Format f = Fp8Format::E4M3);
Tensor dequantize(const Fp8Tensor& q);
// quantize then dequantize: what the FP8 GEMM sees, in float32.
Tensor fake_quantize(const Tensor& x, Granularity g, Fp8Format f = Fp8Format::E4M3);

// DeepSeek-V3's FP8 checkpoint layout: each 2-D weight as F8_E4M3 "<name>" plus float32
// "<name>_scale_inv" of shape [ceil(out/128), ceil(in/128)], except embed_tokens, lm_head (and the
// MTP module's copies of them) and mlp.gate.weight, which the release keeps in BF16; the other
// tensors (norms, the routing bias) stay float32.
void save_fp8_checkpoint(const std::string& path, const NamedTensors& tensors);
// Reads such a file back to float32 tensors, dequantising every weight that has a scale.
NamedTensors load_fp8_checkpoint(const std::string& path);

// How the limited accumulator drops the bits below its precision. Truncate is the default: an
// adder that aligns the smaller addend to the larger one's exponent shifts its low bits out, and
// that one-sided error, growing with K, is what brings the error to V3's ~2% at K = 4096 (3%
// here); NearestEven shows how much smaller unbiased rounding errors would stay.
enum class AccumulatorRounding { Truncate, NearestEven };

// One dot product of length K as an FP8 GEMM computes it: the products of E4M3 values are
// exact, the running sum keeps only `accumulator_bits` mantissa bits after every addition
// (V3 section 3.3.2 found H800 tensor cores keep about 14), and with promote_every = N_C > 0 the
// partial sum moves into an FP32 accumulator every N_C products (V3's fix, N_C = 128).
// A model of the hardware, not its exact circuit (NVIDIA does not publish it).
double fp8_dot(const float* a, const float* b, int64_t k, int accumulator_bits, int64_t promote_every,
               AccumulatorRounding rounding = AccumulatorRounding::Truncate);

}  // namespace ds::ch05
