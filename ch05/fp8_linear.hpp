// FP8 mixed-precision training as DeepSeek-V3 does it (section 3.3.1, Figure 6), simulated: the
// three GEMMs of a linear layer (Fprop y = x W^T, Dgrad dx = dy W, Wgrad dW = dy^T x) read
// FP8-quantised operands and accumulate in float32; the master weights, their gradients and
// AdamW's state stay float32. Every operand is scaled along its GEMM's inner dimension
// (section 3.3.2): x and dy per 1x128 tile (per token, 128 channels) in Fprop and Dgrad, W per
// 128x128 block in both, and in Wgrad, whose inner dimension is the tokens, x and dy per 128x1
// tile (128 tokens of one channel; V3 re-quantises the stored 1x128 FP8 activations into those,
// section 3.5.2). Quantise-dequantise stands in for the FP8 GEMM; the gradient passes straight
// through the rounding (its derivative is taken as 1, as FP8 training does).
#pragma once

#include "ch05/fp8_quant.hpp"
#include "common/nn.hpp"

namespace ds::ch05 {

struct Fp8LinearConfig {
  bool fine_grained = true;   // false: one scale per tensor (the baseline V3 improves on)
  Fp8Format format = Fp8Format::E4M3;
  bool quantize = true;       // false: the same op with the rounding switched off (gradient checks)
};

// x [..., in], w [out, in] -> [..., out], with FP8 operands in all three GEMMs.
Tensor fp8_linear(const Tensor& x, const Tensor& w, const Fp8LinearConfig& cfg = {});

// The baseline V3 measures FP8 against (Appendix B.1): BF16 training, here the same three
// GEMMs with every operand rounded to bfloat16 (no scales: BF16 has float32's range).
Tensor bf16_linear(const Tensor& x, const Tensor& w);

// While alive, every Linear::forward in this thread runs as fp8_linear (common/nn.hpp's
// LinearOverride; Transformer Engine's fp8_autocast plays this role in PyTorch).
class Fp8Autocast {
 public:
  explicit Fp8Autocast(const Fp8LinearConfig& cfg);

 private:
  LinearOverride override_;
};

}  // namespace ds::ch05
