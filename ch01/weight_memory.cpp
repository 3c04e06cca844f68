#include "ch01/weight_memory.hpp"

namespace ds::ch01 {

namespace {
bool ends_with(const std::string& s, const std::string& tail) { return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0; }

// The 2-D weights V3 keeps in BF16: the embedding, the output head (and the MTP module's copies)
// and the gating modules (section 3.3.1).
bool kept_in_bf16(const WeightTensor& t) { return t.part == Part::Embedding || t.part == Part::Head || t.shared_copy || ends_with(t.name, "mlp.gate.weight"); }

int64_t blocks(int64_t n) { return (n + 127) / 128; }
}  // namespace

std::vector<StoredTensor> v3_release_layout(const std::vector<WeightTensor>& inventory) {
  std::vector<StoredTensor> out;
  for (const WeightTensor& t : inventory) {
    if (t.shape.size() == 1) {   // RMSNorm weights (BF16) and the routing bias (float32)
      out.push_back({t.name, t.shape, ends_with(t.name, "e_score_correction_bias") ? DType::F32 : DType::BF16, false});
    } else if (kept_in_bf16(t)) {
      out.push_back({t.name, t.shape, DType::BF16, false});
    } else {
      out.push_back({t.name, t.shape, DType::F8_E4M3, false});
      out.push_back({t.name + "_scale_inv", {blocks(t.shape[0]), blocks(t.shape[1])}, DType::F32, true});
    }
  }
  return out;
}

LayoutBytes layout_bytes(const std::vector<StoredTensor>& layout) {
  LayoutBytes b;
  for (const StoredTensor& t : layout) {
    b.elements += numel_of(t.shape);
    if (t.scale)
      b.scales += t.bytes();
    else if (t.dtype == DType::F8_E4M3)
      b.fp8 += t.bytes();
    else if (t.dtype == DType::BF16)
      b.bf16 += t.bytes();
    else
      b.f32 += t.bytes();
  }
  return b;
}

std::vector<WeightTensor> main_model_only(const std::vector<WeightTensor>& inventory) {
  std::vector<WeightTensor> out;
  for (const WeightTensor& t : inventory)
    if (t.part != Part::MTP) out.push_back(t);
  return out;
}

}  // namespace ds::ch01
