#include <doctest/doctest.h>

#include <map>

#include "ch01/weight_memory.hpp"
#include "ch05/fp8_quant.hpp"
#include "ch06/checkpoint.hpp"
#include "common/safetensors.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;
using namespace ds::ch01;

namespace {
const StoredTensor& find(const std::vector<StoredTensor>& layout, const std::string& name) {
  for (const StoredTensor& t : layout)
    if (t.name == name) return t;
  FAIL("no tensor " << name);
  throw 0;
}
}  // namespace

TEST_CASE("weight memory: DeepSeek-V3's release layout, FP8 weights with 128x128 block scales, 685B stored numbers") {
  const std::vector<WeightTensor> inv = weight_inventory(preset("deepseek-v3"));
  const std::vector<StoredTensor> layout = v3_release_layout(inv);
  CHECK(find(layout, "model.embed_tokens.weight").dtype == DType::BF16);
  CHECK(find(layout, "lm_head.weight").dtype == DType::BF16);
  CHECK(find(layout, "model.layers.3.mlp.gate.weight").dtype == DType::BF16);
  CHECK(find(layout, "model.layers.3.mlp.gate.e_score_correction_bias").dtype == DType::F32);
  CHECK(find(layout, "model.layers.0.input_layernorm.weight").dtype == DType::BF16);
  CHECK(find(layout, "model.layers.61.shared_head.head.weight").dtype == DType::BF16);
  CHECK(find(layout, "model.layers.3.mlp.experts.7.up_proj.weight").dtype == DType::F8_E4M3);
  // [576, 7168] -> ceil(576 / 128) x 7168 / 128 blocks: the partial block is padded (README_WEIGHTS).
  CHECK(find(layout, "model.layers.0.self_attn.kv_a_proj_with_mqa.weight_scale_inv").shape == Shape{5, 56});
  CHECK(find(layout, "model.layers.0.self_attn.q_b_proj.weight_scale_inv").shape == Shape{192, 12});

  const LayoutBytes all = layout_bytes(layout);
  // Every FP8 byte is one parameter; the rest of the parameters are BF16 or float32.
  int64_t params = 0, copies = 0;
  for (const WeightTensor& t : inv) (t.shared_copy ? copies : params) += t.numel();
  CHECK(params == 682636487424LL);
  CHECK(all.fp8 + all.bf16 / 2 + all.f32 / 4 == params + copies);
  CHECK(all.elements == params + copies + all.scales / 4);
  // V3's README: "The total size of DeepSeek-V3 models on Hugging Face is 685B" (the numbers stored).
  CHECK(std::llround(static_cast<double>(all.elements) / 1e9) == 685);
  // FP8 with scales and a few BF16 tensors: a little over one byte per parameter.
  CHECK(static_cast<double>(all.total()) / static_cast<double>(params) > 1.0);
  CHECK(static_cast<double>(all.total()) / static_cast<double>(params) < 1.01);
  CHECK(layout_bytes(v3_release_layout(main_model_only(inv))).total() < all.total());
}

TEST_CASE("weight memory: the layout is what ch05's FP8 checkpoint writer stores for a model") {
  Rng rng(3);
  const ch06::DeepSeekModel model(preset("tiny"), rng);
  test::TempDir dir("ds_ch01_fp8");
  ch05::save_fp8_checkpoint(dir.file("m.safetensors"), ch06::checkpoint_tensors(model));
  const SafeTensorsFile f = load_safetensors(dir.file("m.safetensors"));
  const std::vector<StoredTensor> layout = v3_release_layout(weight_inventory(preset("tiny")));
  CHECK(f.size() == layout.size());
  for (const StoredTensor& t : layout) {
    INFO(t.name);
    REQUIRE(f.has(t.name));
    CHECK(f.get(t.name).shape == t.shape);
    // ch05 keeps the 1-D tensors in float32; V3's release stores its RMSNorm weights in BF16.
    if (t.shape.size() == 2) CHECK(f.get(t.name).dtype == t.dtype);
    if (t.shape.size() == 1) CHECK(f.get(t.name).dtype == DType::F32);
  }
}
