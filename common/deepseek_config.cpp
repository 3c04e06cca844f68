#include "common/deepseek_config.hpp"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <type_traits>

#include "common/fsutil.hpp"

namespace ds {

using nlohmann::json;

namespace {
bool known_topk_method(const std::string& m) { return m == "greedy" || m == "group_limited_greedy" || m == "noaux_tc"; }
}  // namespace

std::string DeepSeekConfig::validate() const {
  auto pos = [](int64_t v) { return v > 0; };
  if (!pos(vocab_size) || !pos(hidden_size) || !pos(num_hidden_layers) || !pos(num_attention_heads))
    return "vocab_size, hidden_size, num_hidden_layers and num_attention_heads must be positive";
  if (q_lora_rank < 0 || !pos(kv_lora_rank) || !pos(qk_nope_head_dim) || !pos(v_head_dim)) return "the MLA ranks and head sizes must be positive";
  if (qk_rope_head_dim <= 0 || qk_rope_head_dim % 2) return "qk_rope_head_dim must be a positive even number (RoPE rotates pairs)";
  if (first_k_dense_replace < 0 || num_nextn_predict_layers < 0) return "first_k_dense_replace and num_nextn_predict_layers cannot be negative";
  if (first_k_dense_replace > num_hidden_layers)
    return "first_k_dense_replace (" + std::to_string(first_k_dense_replace) + ") is larger than num_hidden_layers (" + std::to_string(num_hidden_layers) +
           "): it counts the leading dense layers, so set it to at most " + std::to_string(num_hidden_layers);
  if (scoring_func != "sigmoid" && scoring_func != "softmax") return "scoring_func must be sigmoid or softmax, not '" + scoring_func + "'";
  if (!known_topk_method(topk_method))
    return "topk_method must be greedy (V2-Lite), group_limited_greedy (V2) or noaux_tc (V3), not '" + topk_method + "'";
  if (first_k_dense_replace < num_hidden_layers + num_nextn_predict_layers) {
    if (!pos(n_routed_experts) || !pos(moe_intermediate_size) || n_shared_experts < 0) return "the MoE sizes must be positive";
    if (num_experts_per_tok < 1 || num_experts_per_tok > n_routed_experts) return "num_experts_per_tok must be between 1 and n_routed_experts";
    if (n_group < 1 || n_routed_experts % n_group) return "n_routed_experts must split into n_group equal groups";
    if (topk_group < 1 || topk_group > n_group) return "topk_group must be between 1 and n_group";
    if (num_experts_per_tok > n_routed_experts / n_group * topk_group) return "num_experts_per_tok is larger than the experts in topk_group groups";
    if (topk_method == "noaux_tc" && n_group > 1 && n_routed_experts / n_group < 2)
      return "noaux_tc scores a group by its two best experts, so every group needs at least 2";
  }
  if (!pos(max_position_embeddings)) return "max_position_embeddings must be positive";
  if (!(rope_theta > 1)) return "rope_theta must be greater than 1 (RoPE's wavelengths grow as its powers)";
  if (!(rms_norm_eps > 0) || !(routed_scaling_factor > 0) || !(initializer_range >= 0))
    return "rms_norm_eps and routed_scaling_factor must be positive, initializer_range not negative";
  if (!(rope_scaling.factor >= 1) || rope_scaling.original_max_position_embeddings <= 0 || !(rope_scaling.beta_fast > 0) ||
      !(rope_scaling.beta_slow > 0))
    return "rope_scaling needs factor >= 1 and a positive original_max_position_embeddings, beta_fast and beta_slow";
  // Far above any released model (V3: 61 layers, 256 experts, hidden 7168, vocab 129280) and
  // low enough that count_parameters cannot overflow int64 (its largest terms stay below 2^60);
  // without a bound an accepted config.json could overflow it (undefined behaviour).
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

int64_t DeepSeekConfig::moe_layers() const { return num_hidden_layers - std::min(first_k_dense_replace, num_hidden_layers); }

std::vector<std::string> preset_names() { return {"tiny", "mini", "deepseek-v3", "deepseek-v2", "deepseek-v2-lite"}; }

namespace {
// The released config.json files on Hugging Face (deepseek-ai/DeepSeek-V3, DeepSeek-V2,
// DeepSeek-V2-Lite); DeepSeek-V3's inference/configs/config_671B, 236B and 16B hold the same shapes.
DeepSeekConfig deepseek_v3() {
  DeepSeekConfig c;
  c.vocab_size = 129280;
  c.hidden_size = 7168;
  c.num_hidden_layers = 61;
  c.num_attention_heads = 128;
  c.q_lora_rank = 1536;
  c.kv_lora_rank = 512;
  c.qk_nope_head_dim = 128;
  c.qk_rope_head_dim = 64;
  c.v_head_dim = 128;
  c.intermediate_size = 18432;
  c.moe_intermediate_size = 2048;
  c.n_routed_experts = 256;
  c.n_shared_experts = 1;
  c.num_experts_per_tok = 8;
  c.n_group = 8;
  c.topk_group = 4;
  c.scoring_func = "sigmoid";
  c.topk_method = "noaux_tc";
  c.routed_scaling_factor = 2.5;
  c.norm_topk_prob = true;
  c.first_k_dense_replace = 3;
  c.num_nextn_predict_layers = 1;
  c.max_position_embeddings = 163840;
  c.rope_scaling = {.factor = 40, .original_max_position_embeddings = 4096, .beta_fast = 32, .beta_slow = 1, .mscale = 1.0, .mscale_all_dim = 1.0};
  return c;
}

DeepSeekConfig deepseek_v2() {
  DeepSeekConfig c = deepseek_v3();   // the same MLA shapes
  c.vocab_size = 102400;
  c.hidden_size = 5120;
  c.num_hidden_layers = 60;
  c.intermediate_size = 12288;
  c.moe_intermediate_size = 1536;
  c.n_routed_experts = 160;
  c.n_shared_experts = 2;
  c.num_experts_per_tok = 6;
  c.n_group = 8;
  c.topk_group = 3;
  c.scoring_func = "softmax";
  c.topk_method = "group_limited_greedy";
  c.routed_scaling_factor = 16.0;
  c.norm_topk_prob = false;
  c.first_k_dense_replace = 1;
  c.num_nextn_predict_layers = 0;
  c.rope_scaling.mscale = c.rope_scaling.mscale_all_dim = 0.707;
  return c;
}

DeepSeekConfig deepseek_v2_lite() {
  DeepSeekConfig c = deepseek_v2();
  c.hidden_size = 2048;
  c.num_hidden_layers = 27;
  c.num_attention_heads = 16;
  c.q_lora_rank = 0;   // "q_lora_rank": null
  c.intermediate_size = 10944;
  c.moe_intermediate_size = 1408;
  c.n_routed_experts = 64;
  c.n_group = 1;
  c.topk_group = 1;
  c.topk_method = "greedy";
  c.routed_scaling_factor = 1.0;
  return c;
}

DeepSeekConfig tiny() {
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
}  // namespace

DeepSeekConfig preset(const std::string& name) {
  if (name == "mini") return DeepSeekConfig{};
  if (name == "tiny") return tiny();
  if (name == "deepseek-v3") return deepseek_v3();
  if (name == "deepseek-v2") return deepseek_v2();
  if (name == "deepseek-v2-lite") return deepseek_v2_lite();
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
template <class T>
void read_optional(const json& j, const char* key, T& out, const std::string& source) {
  if (j.contains(key) && !j.at(key).is_null()) read(j, key, out, source);
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
  c.q_lora_rank = 0;
  read_optional(j, "q_lora_rank", c.q_lora_rank, source);
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
  c.num_nextn_predict_layers = 0;   // absent from V2's config.json: no MTP module
  read_optional(j, "num_nextn_predict_layers", c.num_nextn_predict_layers, source);
  read(j, "rope_theta", c.rope_theta, source);
  read(j, "rms_norm_eps", c.rms_norm_eps, source);
  read(j, "max_position_embeddings", c.max_position_embeddings, source);
  read_optional(j, "initializer_range", c.initializer_range, source);
  if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) {
    const json& r = j["rope_scaling"];
    const std::string src = source + " rope_scaling";
    read(r, "factor", c.rope_scaling.factor, src);
    read(r, "original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings, src);
    read_optional(r, "beta_fast", c.rope_scaling.beta_fast, src);
    read_optional(r, "beta_slow", c.rope_scaling.beta_slow, src);
    read_optional(r, "mscale", c.rope_scaling.mscale, src);
    read_optional(r, "mscale_all_dim", c.rope_scaling.mscale_all_dim, src);
  }
  if (const std::string bad = c.validate(); !bad.empty()) throw std::runtime_error(source + ": " + bad);
  return c;
}

DeepSeekConfig load_config(const std::string& path) { return from_json(read_text_file(path), path); }

void save_config(const std::string& path, const DeepSeekConfig& c) { write_file_atomic(path, to_json(c)); }

namespace {
// One layer's self_attn (MLA, V3 eqs. 1-11): q_a_proj, q_a_layernorm, q_b_proj (or q_proj without
// q_lora_rank), kv_a_proj_with_mqa, kv_a_layernorm, kv_b_proj, o_proj.
int64_t mla_parameters(const DeepSeekConfig& c) {
  const int64_t h = c.hidden_size, heads = c.num_attention_heads, qk_head = c.qk_nope_head_dim + c.qk_rope_head_dim;
  const int64_t q = c.q_lora_rank > 0 ? h * c.q_lora_rank + c.q_lora_rank + c.q_lora_rank * heads * qk_head : h * heads * qk_head;
  const int64_t kv = h * (c.kv_lora_rank + c.qk_rope_head_dim) + c.kv_lora_rank + c.kv_lora_rank * heads * (c.qk_nope_head_dim + c.v_head_dim);
  const int64_t o = heads * c.v_head_dim * h;
  return q + kv + o;
}

int64_t swiglu_parameters(int64_t hidden, int64_t inter) { return 3 * hidden * inter; }   // gate_proj, up_proj, down_proj

// One layer's mlp, all of it and what one token reads: a dense SwiGLU, or DeepSeekMoE's gate
// (weight, plus e_score_correction_bias under noaux_tc), shared experts and routed experts.
struct Counted {
  int64_t all, active;
};
Counted mlp_parameters(const DeepSeekConfig& c, int64_t layer) {
  const int64_t h = c.hidden_size;
  if (layer < c.first_k_dense_replace) {
    const int64_t dense = swiglu_parameters(h, c.intermediate_size);
    return {dense, dense};
  }
  const int64_t gate = c.n_routed_experts * h + (c.topk_method == "noaux_tc" ? c.n_routed_experts : 0);
  const int64_t shared = swiglu_parameters(h, c.n_shared_experts * c.moe_intermediate_size);
  const int64_t expert = swiglu_parameters(h, c.moe_intermediate_size);
  return {gate + shared + c.n_routed_experts * expert, gate + shared + c.num_experts_per_tok * expert};
}

// input_layernorm, self_attn, post_attention_layernorm, mlp.
Counted block_parameters(const DeepSeekConfig& c, int64_t layer) {
  const int64_t attn = mla_parameters(c) + 2 * c.hidden_size;
  const Counted mlp = mlp_parameters(c, layer);
  return {attn + mlp.all, attn + mlp.active};
}
}  // namespace

ParamCount count_parameters(const DeepSeekConfig& c) {
  const int64_t h = c.hidden_size;
  ParamCount p;
  p.embedding = c.vocab_size * h;
  p.head = h + c.vocab_size * h;
  p.attention = mla_parameters(c) + 2 * h;
  p.dense_mlp = swiglu_parameters(h, c.intermediate_size);
  const Counted moe = mlp_parameters(c, std::max(c.first_k_dense_replace, c.num_hidden_layers));
  p.moe_mlp = moe.all;
  p.moe_mlp_active = moe.active;
  p.total = p.active = p.embedding + p.head;
  for (int64_t layer = 0; layer < c.num_hidden_layers; ++layer) {
    const Counted b = block_parameters(c, layer);
    p.total += b.all;
    p.active += b.active;
  }
  // MTP module k is layer num_hidden_layers + k - 1: a block plus enorm, hnorm, eh_proj and
  // shared_head.norm (V3 section 2.2); its embedding and head are the main model's.
  for (int64_t k = 1; k <= c.num_nextn_predict_layers; ++k) {
    const Counted b = block_parameters(c, c.num_hidden_layers + k - 1);
    const int64_t own = 2 * h + 2 * h * h + h;
    p.mtp += b.all + own;
    p.mtp_active += b.active + own;
  }
  p.total += p.mtp;
  p.active += p.mtp_active;
  return p;
}

}  // namespace ds

namespace ds {

double training_bytes_floor(const DeepSeekConfig& c, int64_t batch, int64_t micro_batches, int64_t seq_len) {
  const double params = static_cast<double>(count_parameters(c).total);
  const double b = static_cast<double>(batch), t = static_cast<double>(seq_len);
  const double tokens = b / static_cast<double>(std::max<int64_t>(micro_batches, 1)) * t;   // one micro-batch's
  const double layers = static_cast<double>(c.num_hidden_layers + c.num_nextn_predict_layers);
  const double per_layer = 4.0 * (4.0 * static_cast<double>(c.hidden_size) + static_cast<double>(c.num_attention_heads) * t);
  const double heads = 1.0 + static_cast<double>(c.num_nextn_predict_layers);
  return 16.0 * params + 8.0 * b * t + tokens * (layers * per_layer + heads * 8.0 * static_cast<double>(c.vocab_size));
}

}  // namespace ds
