// What the weights of a DeepSeek model take in memory: every parameter in one format (FP32, BF16,
// FP8), and the mix DeepSeek-V3 is actually released in (README_WEIGHTS, "FP8 Weight
// Documentation"; V3 section 3.3): 2-D weights in FP8 E4M3 with one float32 dequantisation scale
// per 128x128 block (`<name>_scale_inv`, [ceil(out/128), ceil(in/128)], a partial block padded);
// the embedding, the output head (and the MTP module's copies of both) and the routers'
// mlp.gate.weight in BF16, because section 3.3.1 keeps them in higher precision; RMSNorm weights
// in BF16 and e_score_correction_bias in float32, as inference/model.py declares them.
#pragma once

#include <string>
#include <vector>

#include "ch01/weight_inventory.hpp"
#include "common/dtype.hpp"

namespace ds::ch01 {

struct StoredTensor {
  std::string name;
  Shape shape;
  DType dtype = DType::F32;
  bool scale = false;   // a weight's 128x128 block scales
  int64_t bytes() const { return numel_of(shape) * dtype_size(dtype); }
};

// The tensors as DeepSeek-V3's release stores them, in inventory order, each FP8 weight
// followed by its scales.
std::vector<StoredTensor> v3_release_layout(const std::vector<WeightTensor>& inventory);

// Bytes of a layout by kind.
struct LayoutBytes {
  int64_t fp8 = 0, bf16 = 0, f32 = 0, scales = 0;   // scales are float32 too, counted apart
  int64_t elements = 0;                             // every stored number, scales included
  int64_t total() const { return fp8 + bf16 + f32 + scales; }
};
LayoutBytes layout_bytes(const std::vector<StoredTensor>& layout);

// The inventory without the MTP modules (the main model, DeepSeek-V3's "671B").
std::vector<WeightTensor> main_model_only(const std::vector<WeightTensor>& inventory);

}  // namespace ds::ch01
