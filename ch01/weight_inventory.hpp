// Every weight tensor of a DeepSeek checkpoint, listed from config.json's shapes alone (nothing
// is built, so it works for the 671B model): the names and shapes of DeepSeek-V3's Hugging Face
// release, each tagged with the part of the model it belongs to. The parameter calculator groups
// them by part, the memory calculator stores them in each format (weight_memory.hpp).
#pragma once

#include <string>
#include <vector>

#include "common/deepseek_config.hpp"
#include "common/tensor.hpp"

namespace ds::ch01 {

// The parts the calculator reports. Attention is MLA's projections with its two inner norms
// (q_a_layernorm, kv_a_layernorm); Norms are the blocks' input/post-attention RMSNorms and
// model.norm; Gates are mlp.gate.weight and e_score_correction_bias; MTP is everything the
// MTP modules own (their embedding and head are the main model's).
enum class Part { Embedding, Attention, Norms, DenseFFN, SharedExperts, RoutedExperts, Gates, Head, MTP };
const std::vector<Part>& all_parts();
const char* part_name(Part p);   // "embedding", "attention (MLA)", "norms", ...

struct WeightTensor {
  std::string name;            // as in model.safetensors, e.g. model.layers.3.mlp.experts.7.up_proj.weight
  Shape shape;
  Part part = Part::Embedding;
  bool routed_expert = false;  // one of the n_routed_experts (a token reads num_experts_per_tok of them)
  bool shared_copy = false;    // an MTP module's stored copy of embed_tokens or lm_head: not a parameter of its own
  int64_t numel() const { return numel_of(shape); }
};

// The checkpoint's tensors in layer order: embed_tokens, model.layers.{0..L-1}, model.norm,
// lm_head, then each MTP module as layer L + k - 1 with the copies DeepSeek-V3's release stores
// (model.layers.{L+k-1}.embed_tokens.weight and .shared_head.head.weight).
std::vector<WeightTensor> weight_inventory(const DeepSeekConfig& c);

struct PartCount {
  Part part;
  int64_t params = 0, activated = 0;   // activated: what one token's forward pass reads
};
// Parameters by part: count_parameters() (common/deepseek_config.hpp) split into the parts above.
// The parts sum to its totals, and the inventory's tensors add up to the same numbers (the tests).
struct PartBreakdown {
  std::vector<PartCount> parts;    // every Part, MTP last
  int64_t main = 0, main_activated = 0, mtp = 0, mtp_activated = 0;
  int64_t total() const { return main + mtp; }
  int64_t total_activated() const { return main_activated + mtp_activated; }
  const PartCount& of(Part p) const;
};
PartBreakdown count_by_part(const DeepSeekConfig& c);

}  // namespace ds::ch01
