// FP8 mixed-precision training as DeepSeek-V3 does it (section 3.3, Figure 6), simulated: the
// three GEMMs of a linear layer (forward y = x W^T, dgrad dx = dy W, wgrad dW = dy^T x) read
// FP8-quantised operands (activations and output gradients per 1x128 tile, weights per 128x128
// block) and accumulate in float32; the master weights, their gradients and AdamW's state stay
// float32. Quantise-dequantise stands in for the FP8 GEMM; the gradient passes straight through
// the rounding (the derivative of quantisation is taken as 1, as FP8 training does).
#pragma once

#include "ch05/fp8_quant.hpp"
#include "common/nn.hpp"

namespace ds::ch05 {

struct Fp8LinearConfig {
  bool fine_grained = true;   // false: one scale per tensor (the baseline V3 improves on)
  Fp8Format format = Fp8Format::E4M3;
};

// x [..., in], w [out, in] -> [..., out], with FP8 operands in all three GEMMs.
Tensor fp8_linear(const Tensor& x, const Tensor& w, const Fp8LinearConfig& cfg = {});

// While alive, every Linear::forward in this thread runs as fp8_linear.
class Fp8Autocast {
 public:
  explicit Fp8Autocast(const Fp8LinearConfig& cfg);

 private:
  LinearOverride override_;
};

}  // namespace ds::ch05
