#include "ch01/weight_inventory.hpp"

#include <stdexcept>

namespace ds::ch01 {

const std::vector<Part>& all_parts() {
  static const std::vector<Part> parts = {Part::Embedding,     Part::Attention,     Part::Norms, Part::DenseFFN, Part::SharedExperts,
                                          Part::RoutedExperts, Part::Gates,         Part::Head,  Part::MTP};
  return parts;
}

const char* part_name(Part p) {
  switch (p) {
    case Part::Embedding: return "embedding";
    case Part::Attention: return "attention (MLA)";
    case Part::Norms: return "norms";
    case Part::DenseFFN: return "dense FFN";
    case Part::SharedExperts: return "shared experts";
    case Part::RoutedExperts: return "routed experts";
    case Part::Gates: return "gates";
    case Part::Head: return "head";
    case Part::MTP: return "MTP module";
  }
  return "?";
}

namespace {
struct Lister {
  std::vector<WeightTensor>& out;
  bool in_mtp;
  void add(const std::string& name, Shape shape, Part part, bool routed = false) {
    out.push_back({name, std::move(shape), in_mtp ? Part::MTP : part, routed, false});
  }
  // gate_proj and up_proj [inter, hidden], down_proj [hidden, inter]: one SwiGLU (V3 eq. 12's FFN).
  void swiglu(const std::string& prefix, int64_t hidden, int64_t inter, Part part, bool routed = false) {
    add(prefix + ".gate_proj.weight", {inter, hidden}, part, routed);
    add(prefix + ".up_proj.weight", {inter, hidden}, part, routed);
    add(prefix + ".down_proj.weight", {hidden, inter}, part, routed);
  }
};

// One decoder layer (or an MTP module's block): MLA (V3 eqs. 1-11; names of the Hugging Face
// release), then a dense SwiGLU before first_k_dense_replace and DeepSeekMoE from there on.
void list_block(const DeepSeekConfig& c, int64_t layer, Lister& l) {
  const std::string p = "model.layers." + std::to_string(layer) + ".";
  const int64_t h = c.hidden_size, heads = c.num_attention_heads, qk = c.qk_nope_head_dim + c.qk_rope_head_dim;
  l.add(p + "input_layernorm.weight", {h}, Part::Norms);
  if (c.q_lora_rank > 0) {
    l.add(p + "self_attn.q_a_proj.weight", {c.q_lora_rank, h}, Part::Attention);
    l.add(p + "self_attn.q_a_layernorm.weight", {c.q_lora_rank}, Part::Attention);
    l.add(p + "self_attn.q_b_proj.weight", {heads * qk, c.q_lora_rank}, Part::Attention);
  } else {
    l.add(p + "self_attn.q_proj.weight", {heads * qk, h}, Part::Attention);
  }
  l.add(p + "self_attn.kv_a_proj_with_mqa.weight", {c.kv_lora_rank + c.qk_rope_head_dim, h}, Part::Attention);
  l.add(p + "self_attn.kv_a_layernorm.weight", {c.kv_lora_rank}, Part::Attention);
  l.add(p + "self_attn.kv_b_proj.weight", {heads * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank}, Part::Attention);
  l.add(p + "self_attn.o_proj.weight", {h, heads * c.v_head_dim}, Part::Attention);
  l.add(p + "post_attention_layernorm.weight", {h}, Part::Norms);
  if (layer < c.first_k_dense_replace) {
    l.swiglu(p + "mlp", h, c.intermediate_size, Part::DenseFFN);
    return;
  }
  l.add(p + "mlp.gate.weight", {c.n_routed_experts, h}, Part::Gates);
  if (c.topk_method == "noaux_tc") l.add(p + "mlp.gate.e_score_correction_bias", {c.n_routed_experts}, Part::Gates);
  for (int64_t j = 0; j < c.n_routed_experts; ++j) l.swiglu(p + "mlp.experts." + std::to_string(j), h, c.moe_intermediate_size, Part::RoutedExperts, true);
  if (c.n_shared_experts > 0) l.swiglu(p + "mlp.shared_experts", h, c.n_shared_experts * c.moe_intermediate_size, Part::SharedExperts);
}
}  // namespace

std::vector<WeightTensor> weight_inventory(const DeepSeekConfig& c) {
  std::vector<WeightTensor> out;
  const int64_t h = c.hidden_size, v = c.vocab_size;
  Lister main{out, false};
  main.add("model.embed_tokens.weight", {v, h}, Part::Embedding);
  for (int64_t layer = 0; layer < c.num_hidden_layers; ++layer) list_block(c, layer, main);
  main.add("model.norm.weight", {h}, Part::Norms);
  main.add("lm_head.weight", {v, h}, Part::Head);
  // MTP module k is layer L + k - 1: its block plus enorm, hnorm, eh_proj [h, 2h] and
  // shared_head.norm (V3 section 2.2, README_WEIGHTS); the release also stores copies of the
  // shared embedding and head under the module's own names.
  for (int64_t k = 1; k <= c.num_nextn_predict_layers; ++k) {
    const int64_t layer = c.num_hidden_layers + k - 1;
    const std::string p = "model.layers." + std::to_string(layer) + ".";
    Lister mtp{out, true};
    out.push_back({p + "embed_tokens.weight", {v, h}, Part::MTP, false, true});
    mtp.add(p + "enorm.weight", {h}, Part::MTP);
    mtp.add(p + "hnorm.weight", {h}, Part::MTP);
    mtp.add(p + "eh_proj.weight", {h, 2 * h}, Part::MTP);
    list_block(c, layer, mtp);
    mtp.add(p + "shared_head.norm.weight", {h}, Part::MTP);
    out.push_back({p + "shared_head.head.weight", {v, h}, Part::MTP, false, true});
  }
  return out;
}

const PartCount& PartBreakdown::of(Part p) const {
  for (const PartCount& pc : parts)
    if (pc.part == p) return pc;
  throw std::logic_error("PartBreakdown has no such part");
}

// count_parameters() (common/deepseek_config.hpp) is the one count; this splits its per-layer
// parts further: a layer's attention part holds its two RMSNorms, the head holds model.norm, and a
// MoE layer's mlp is n_routed_experts + the shared experts + the router (gate.weight and, with
// noaux_tc, e_score_correction_bias), each expert a SwiGLU of width moe_intermediate_size.
PartBreakdown count_by_part(const DeepSeekConfig& c) {
  const ParamCount p = count_parameters(c);
  const int64_t h = c.hidden_size, layers = c.num_hidden_layers, moe = c.moe_layers(), dense = layers - moe;
  const int64_t expert = 3 * h * c.moe_intermediate_size;   // gate_proj, up_proj, down_proj
  const int64_t routed = moe * c.n_routed_experts * expert, shared = moe * c.n_shared_experts * expert;
  PartBreakdown b;
  const auto add = [&](Part part, int64_t params, int64_t activated) { b.parts.push_back({part, params, activated}); };
  add(Part::Embedding, p.embedding, p.embedding);
  add(Part::Attention, layers * (p.attention - 2 * h), layers * (p.attention - 2 * h));
  add(Part::Norms, layers * 2 * h + h, layers * 2 * h + h);
  add(Part::DenseFFN, dense * p.dense_mlp, dense * p.dense_mlp);
  add(Part::SharedExperts, shared, shared);
  add(Part::RoutedExperts, routed, moe * c.num_experts_per_tok * expert);   // a token runs num_experts_per_tok of them
  add(Part::Gates, moe * p.moe_mlp - routed - shared, moe * p.moe_mlp - routed - shared);
  add(Part::Head, p.head - h, p.head - h);
  add(Part::MTP, p.mtp, p.mtp_active);
  b.main = p.main();
  b.main_activated = p.main_active();
  b.mtp = p.mtp;
  b.mtp_activated = p.mtp_active;
  return b;
}

}  // namespace ds::ch01
