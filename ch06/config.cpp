#include "ch06/config.hpp"

#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <type_traits>

#include "common/fsutil.hpp"

namespace ds::ch06 {

using nlohmann::json;

std::string DeepSeekConfig::validate() const {
  auto pos = [](int64_t v) { return v > 0; };
  if (!pos(vocab_size) || !pos(hidden_size) || !pos(num_hidden_layers) || !pos(num_attention_heads))
    return "vocab_size, hidden_size, num_hidden_layers and num_attention_heads must be positive";
  if (q_lora_rank < 0 || !pos(kv_lora_rank) || !pos(qk_nope_head_dim) || !pos(v_head_dim)) return "the MLA ranks and head sizes must be positive";
  if (qk_rope_head_dim <= 0 || qk_rope_head_dim % 2) return "qk_rope_head_dim must be a positive even number (RoPE rotates pairs)";
  if (first_k_dense_replace < num_hidden_layers || num_nextn_predict_layers > 0) {
    if (!pos(n_routed_experts) || !pos(moe_intermediate_size) || n_shared_experts < 0) return "the MoE sizes must be positive";
    if (num_experts_per_tok < 1 || num_experts_per_tok > n_routed_experts) return "num_experts_per_tok must be between 1 and n_routed_experts";
    if (n_group < 1 || n_routed_experts % n_group) return "n_routed_experts must split into n_group equal groups";
    if (topk_group < 1 || topk_group > n_group) return "topk_group must be between 1 and n_group";
    if (num_experts_per_tok > n_routed_experts / n_group * topk_group) return "num_experts_per_tok is larger than the experts in topk_group groups";
  }
  if (scoring_func != "sigmoid" && scoring_func != "softmax") return "scoring_func must be sigmoid or softmax, not '" + scoring_func + "'";
  if (first_k_dense_replace < 0 || num_nextn_predict_layers < 0) return "first_k_dense_replace and num_nextn_predict_layers cannot be negative";
  if (!pos(max_position_embeddings)) return "max_position_embeddings must be positive";
  if (!(rope_theta > 1)) return "rope_theta must be greater than 1 (RoPE's wavelengths grow as its powers)";
  if (!(rms_norm_eps > 0) || !(routed_scaling_factor > 0) || !(initializer_range >= 0))
    return "rms_norm_eps and routed_scaling_factor must be positive, initializer_range not negative";
  if (!(rope_scaling.factor >= 1) || rope_scaling.original_max_position_embeddings <= 0 || !(rope_scaling.beta_fast > 0) ||
      !(rope_scaling.beta_slow > 0))
    return "rope_scaling needs factor >= 1 and a positive original_max_position_embeddings, beta_fast and beta_slow";
  // Far above any released model (V3: 61 layers, 256 experts, hidden 7168, vocab 129280) and
  // low enough that count_parameters cannot overflow int64 (its largest terms stay below 2^60).
  constexpr int64_t kTokens = int64_t{1} << 24, kWidth = 65536, kCount = 4096;
  const struct {
    const char* name;
    int64_t value, max;
  } sizes[] = {{"vocab_size", vocab_size, kTokens}, {"max_position_embeddings", max_position_embeddings, kTokens},
               {"hidden_size", hidden_size, kWidth}, {"intermediate_size", intermediate_size, kWidth},
               {"moe_intermediate_size", moe_intermediate_size, kWidth}, {"q_lora_rank", q_lora_rank, kWidth},
               {"kv_lora_rank", kv_lora_rank, kWidth}, {"qk_nope_head_dim", qk_nope_head_dim, kWidth},
               {"qk_rope_head_dim", qk_rope_head_dim, kWidth}, {"v_head_dim", v_head_dim, kWidth},
               {"num_hidden_layers", num_hidden_layers, kCount}, {"num_nextn_predict_layers", num_nextn_predict_layers, kCount},
               {"first_k_dense_replace", first_k_dense_replace, kCount}, {"num_attention_heads", num_attention_heads, kCount},
               {"n_routed_experts", n_routed_experts, kCount}, {"n_shared_experts", n_shared_experts, kCount},
               {"num_experts_per_tok", num_experts_per_tok, kCount}, {"n_group", n_group, kCount},
               {"topk_group", topk_group, kCount}};
  for (const auto& [name, v, max] : sizes)
    if (v < 0 || v > max)
      return std::string(name) + " is " + std::to_string(v) + ", outside 0.." + std::to_string(max) + " (far beyond any DeepSeek model)";
  return "";
}

ch04::MoEModelConfig DeepSeekConfig::model_config() const {
  ch04::MoEModelConfig m;
  m.lm.vocab_size = vocab_size;
  m.lm.hidden_size = hidden_size;
  m.lm.num_layers = num_hidden_layers;
  m.lm.max_position_embeddings = max_position_embeddings;
  m.lm.norm_eps = static_cast<float>(rms_norm_eps);
  m.lm.init_std = static_cast<float>(initializer_range);
  m.mla.num_heads = num_attention_heads;
  m.mla.q_lora_rank = q_lora_rank;
  m.mla.kv_lora_rank = kv_lora_rank;
  m.mla.qk_nope_head_dim = qk_nope_head_dim;
  m.mla.qk_rope_head_dim = qk_rope_head_dim;
  m.mla.v_head_dim = v_head_dim;
  m.mla.rms_norm_eps = static_cast<float>(rms_norm_eps);
  m.mla.init_std = static_cast<float>(initializer_range);
  m.mla.rope.dim = qk_rope_head_dim;
  m.mla.rope.theta = rope_theta;
  m.mla.rope.yarn = rope_scaling;
  m.intermediate_size = intermediate_size;
  m.first_k_dense_replace = first_k_dense_replace;
  m.moe.gate.n_routed_experts = n_routed_experts;
  m.moe.gate.num_experts_per_tok = num_experts_per_tok;
  m.moe.gate.n_group = n_group;
  m.moe.gate.topk_group = topk_group;
  m.moe.gate.scoring_func = scoring_func;
  m.moe.gate.norm_topk_prob = norm_topk_prob;
  m.moe.gate.routed_scaling_factor = static_cast<float>(routed_scaling_factor);
  m.moe.moe_intermediate_size = moe_intermediate_size;
  m.moe.n_shared_experts = n_shared_experts;
  return m;
}

namespace {
DeepSeekConfig real(int64_t vocab, int64_t hidden, int64_t layers, int64_t heads, int64_t q_lora, int64_t inter, int64_t moe_inter,
                    int64_t routed, int64_t shared, int64_t k, int64_t groups, int64_t topk_groups) {
  DeepSeekConfig c;
  c.vocab_size = vocab;
  c.hidden_size = hidden;
  c.num_hidden_layers = layers;
  c.num_attention_heads = heads;
  c.q_lora_rank = q_lora;
  c.kv_lora_rank = 512;
  c.qk_nope_head_dim = 128;
  c.qk_rope_head_dim = 64;
  c.v_head_dim = 128;
  c.intermediate_size = inter;
  c.moe_intermediate_size = moe_inter;
  c.n_routed_experts = routed;
  c.n_shared_experts = shared;
  c.num_experts_per_tok = k;
  c.n_group = groups;
  c.topk_group = topk_groups;
  c.max_position_embeddings = 163840;
  c.rope_scaling.factor = 40;
  c.rope_scaling.original_max_position_embeddings = 4096;
  return c;
}
}  // namespace

std::vector<std::string> preset_names() { return {"tiny", "mini", "deepseek-v3", "deepseek-v2", "deepseek-v2-lite"}; }

DeepSeekConfig preset(const std::string& name) {
  if (name == "mini") return DeepSeekConfig{};
  if (name == "tiny") {
    DeepSeekConfig c;
    c.vocab_size = 256;
    c.hidden_size = 64;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 4;
    c.q_lora_rank = 32;
    c.kv_lora_rank = 16;
    c.qk_nope_head_dim = 16;
    c.qk_rope_head_dim = 8;
    c.v_head_dim = 16;
    c.intermediate_size = 128;
    c.moe_intermediate_size = 32;
    c.n_routed_experts = 8;
    c.n_group = 2;
    c.topk_group = 1;
    c.routed_scaling_factor = 2.5;
    c.max_position_embeddings = 128;
    return c;
  }
  // The Hugging Face config.json values of the released models.
  if (name == "deepseek-v3") {
    DeepSeekConfig c = real(129280, 7168, 61, 128, 1536, 18432, 2048, 256, 1, 8, 8, 4);
    c.routed_scaling_factor = 2.5;
    c.first_k_dense_replace = 3;
    return c;
  }
  if (name == "deepseek-v2" || name == "deepseek-v2-lite") {
    const bool lite = name == "deepseek-v2-lite";
    DeepSeekConfig c = lite ? real(102400, 2048, 27, 16, 0, 10944, 1408, 64, 2, 6, 1, 1) : real(102400, 5120, 60, 128, 1536, 12288, 1536, 160, 2, 6, 8, 3);
    c.scoring_func = "softmax";
    c.topk_method = lite ? "greedy" : "group_limited_greedy";
    c.routed_scaling_factor = lite ? 1.0 : 16.0;
    c.norm_topk_prob = false;
    c.num_nextn_predict_layers = 0;
    c.rope_scaling.mscale = c.rope_scaling.mscale_all_dim = 0.707;
    return c;
  }
  throw std::invalid_argument("unknown preset '" + name + "' (choose tiny, mini, deepseek-v3, deepseek-v2 or deepseek-v2-lite)");
}

std::string to_json(const DeepSeekConfig& c) {
  json j = {{"architectures", {"DeepseekV3ForCausalLM"}},
            {"model_type", "deepseek_v3"},
            {"vocab_size", c.vocab_size},
            {"hidden_size", c.hidden_size},
            {"num_hidden_layers", c.num_hidden_layers},
            {"num_attention_heads", c.num_attention_heads},
            {"num_key_value_heads", c.num_attention_heads},
            {"q_lora_rank", c.q_lora_rank > 0 ? json(c.q_lora_rank) : json(nullptr)},
            {"kv_lora_rank", c.kv_lora_rank},
            {"qk_nope_head_dim", c.qk_nope_head_dim},
            {"qk_rope_head_dim", c.qk_rope_head_dim},
            {"v_head_dim", c.v_head_dim},
            {"intermediate_size", c.intermediate_size},
            {"moe_intermediate_size", c.moe_intermediate_size},
            {"n_routed_experts", c.n_routed_experts},
            {"n_shared_experts", c.n_shared_experts},
            {"num_experts_per_tok", c.num_experts_per_tok},
            {"n_group", c.n_group},
            {"topk_group", c.topk_group},
            {"scoring_func", c.scoring_func},
            {"topk_method", c.topk_method},
            {"routed_scaling_factor", c.routed_scaling_factor},
            {"norm_topk_prob", c.norm_topk_prob},
            {"first_k_dense_replace", c.first_k_dense_replace},
            {"num_nextn_predict_layers", c.num_nextn_predict_layers},
            {"rope_theta", c.rope_theta},
            {"rms_norm_eps", c.rms_norm_eps},
            {"max_position_embeddings", c.max_position_embeddings},
            {"initializer_range", c.initializer_range},
            {"hidden_act", "silu"},
            {"tie_word_embeddings", false},
            {"attention_bias", false}};
  if (c.rope_scaling.factor != 1.0)
    j["rope_scaling"] = {{"type", "yarn"},
                         {"factor", c.rope_scaling.factor},
                         {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings},
                         {"beta_fast", c.rope_scaling.beta_fast},
                         {"beta_slow", c.rope_scaling.beta_slow},
                         {"mscale", c.rope_scaling.mscale},
                         {"mscale_all_dim", c.rope_scaling.mscale_all_dim}};
  else
    j["rope_scaling"] = nullptr;
  return j.dump(2) + "\n";
}

namespace {
// The JSON type is checked before the conversion: nlohmann converts a number of any kind to
// any other, and a float such as 1e22 into int64 is undefined behaviour (found by fuzz/).
template <class T>
void read(const json& j, const char* key, T& out, const std::string& source) {
  if (!j.contains(key)) throw std::runtime_error(source + " has no \"" + key + "\"");
  const json& v = j.at(key);
  bool ok = false;
  if constexpr (std::is_same_v<T, bool>)
    ok = v.is_boolean();
  else if constexpr (std::is_integral_v<T>)
    ok = v.is_number_integer() && (!v.is_number_unsigned() || v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
  else if constexpr (std::is_floating_point_v<T>)
    ok = v.is_number();
  else
    ok = v.is_string();
  if (!ok) throw std::runtime_error(source + ": \"" + key + "\" has the wrong type (" + v.dump() + ")");
  out = v.get<T>();
}
}  // namespace

DeepSeekConfig from_json(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception&) {
    throw std::runtime_error(source + " is not valid JSON");
  }
  if (!j.is_object()) throw std::runtime_error(source + " does not hold a JSON object");
  DeepSeekConfig c;
  read(j, "vocab_size", c.vocab_size, source);
  read(j, "hidden_size", c.hidden_size, source);
  read(j, "num_hidden_layers", c.num_hidden_layers, source);
  read(j, "num_attention_heads", c.num_attention_heads, source);
  c.q_lora_rank = 0;   // null or absent: queries are projected directly (V2-Lite)
  if (j.contains("q_lora_rank") && !j["q_lora_rank"].is_null()) read(j, "q_lora_rank", c.q_lora_rank, source);
  read(j, "kv_lora_rank", c.kv_lora_rank, source);
  read(j, "qk_nope_head_dim", c.qk_nope_head_dim, source);
  read(j, "qk_rope_head_dim", c.qk_rope_head_dim, source);
  read(j, "v_head_dim", c.v_head_dim, source);
  read(j, "intermediate_size", c.intermediate_size, source);
  read(j, "moe_intermediate_size", c.moe_intermediate_size, source);
  read(j, "n_routed_experts", c.n_routed_experts, source);
  read(j, "n_shared_experts", c.n_shared_experts, source);
  read(j, "num_experts_per_tok", c.num_experts_per_tok, source);
  read(j, "n_group", c.n_group, source);
  read(j, "topk_group", c.topk_group, source);
  read(j, "scoring_func", c.scoring_func, source);
  read(j, "topk_method", c.topk_method, source);
  read(j, "routed_scaling_factor", c.routed_scaling_factor, source);
  read(j, "norm_topk_prob", c.norm_topk_prob, source);
  read(j, "first_k_dense_replace", c.first_k_dense_replace, source);
  read(j, "num_nextn_predict_layers", c.num_nextn_predict_layers, source);
  read(j, "rope_theta", c.rope_theta, source);
  read(j, "rms_norm_eps", c.rms_norm_eps, source);
  read(j, "max_position_embeddings", c.max_position_embeddings, source);
  if (j.contains("initializer_range")) read(j, "initializer_range", c.initializer_range, source);
  if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) {
    const json& r = j["rope_scaling"];
    const std::string src = source + " rope_scaling";
    read(r, "factor", c.rope_scaling.factor, src);
    read(r, "original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings, src);
    if (r.contains("beta_fast")) read(r, "beta_fast", c.rope_scaling.beta_fast, src);
    if (r.contains("beta_slow")) read(r, "beta_slow", c.rope_scaling.beta_slow, src);
    if (r.contains("mscale")) read(r, "mscale", c.rope_scaling.mscale, src);
    if (r.contains("mscale_all_dim")) read(r, "mscale_all_dim", c.rope_scaling.mscale_all_dim, src);
  }
  if (const std::string bad = c.validate(); !bad.empty()) throw std::runtime_error(source + ": " + bad);
  return c;
}

DeepSeekConfig load_config(const std::string& path) { return from_json(read_text_file(path), path); }

void save_config(const std::string& path, const DeepSeekConfig& c) { write_file_atomic(path, to_json(c)); }

ParamCount count_parameters(const DeepSeekConfig& c) {
  const int64_t h = c.hidden_size, heads = c.num_attention_heads;
  const int64_t q = c.q_lora_rank > 0 ? h * c.q_lora_rank + c.q_lora_rank + c.q_lora_rank * heads * (c.qk_nope_head_dim + c.qk_rope_head_dim)
                                      : h * heads * (c.qk_nope_head_dim + c.qk_rope_head_dim);
  const int64_t attn = q + h * (c.kv_lora_rank + c.qk_rope_head_dim) + c.kv_lora_rank +
                       c.kv_lora_rank * heads * (c.qk_nope_head_dim + c.v_head_dim) + heads * c.v_head_dim * h + 2 * h;
  const int64_t expert = 3 * h * c.moe_intermediate_size;
  const int64_t moe_all = c.n_routed_experts * h + (c.n_routed_experts + c.n_shared_experts) * expert;   // the gate's bias is a buffer
  const int64_t moe_active = moe_all - (c.n_routed_experts - c.num_experts_per_tok) * expert;
  const int64_t dense = 3 * h * c.intermediate_size;
  const int64_t dense_layers = std::min(c.first_k_dense_replace, c.num_hidden_layers), moe_layers = c.num_hidden_layers - dense_layers;
  ParamCount p;
  p.mtp = c.num_nextn_predict_layers * (attn + moe_all + 2 * h * h + 3 * h);
  const int64_t mtp_active = c.num_nextn_predict_layers * (attn + moe_active + 2 * h * h + 3 * h);
  const int64_t shared = 2 * c.vocab_size * h + h;   // embedding, head, final norm
  p.total = shared + c.num_hidden_layers * attn + dense_layers * dense + moe_layers * moe_all + p.mtp;
  p.active = shared + c.num_hidden_layers * attn + dense_layers * dense + moe_layers * moe_active + mtp_active;
  return p;
}

}  // namespace ds::ch06
