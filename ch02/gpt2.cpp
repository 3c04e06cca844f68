#include "ch02/gpt2.hpp"

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "ch02/attention.hpp"
#include "common/autograd.hpp"
#include "common/fsutil.hpp"
#include "common/ops.hpp"
#include "common/safetensors.hpp"

namespace ds::ch02 {

namespace {
using json = nlohmann::json;

std::string need_file(const std::string& dir, const std::string& name) {
  const std::string p = (std::filesystem::path(dir) / name).string();
  if (!std::filesystem::is_regular_file(p)) throw std::runtime_error("GPT-2 checkpoint '" + dir + "' has no " + name);
  return p;
}

int64_t get_int(const json& c, const std::string& path, std::initializer_list<const char*> keys) {
  for (const char* k : keys)
    if (c.contains(k) && c[k].is_number_integer()) return c[k].get<int64_t>();
  throw std::runtime_error(path + " has no integer '" + *keys.begin() + "'");
}

LMConfig read_config(const std::string& path, int64_t& heads, int64_t& inner) {
  json c;
  try {
    c = json::parse(read_text_file(path));
  } catch (const json::exception& e) {
    throw std::runtime_error(path + " is not valid JSON: " + e.what());
  }
  const std::string act = c.value("activation_function", "gelu_new");
  if (act != "gelu_new" && act != "gelu_pytorch_tanh")
    throw std::runtime_error(path + ": activation_function '" + act + "' is not GPT-2's tanh GELU (gelu_new)");
  LMConfig cfg;
  cfg.vocab_size = get_int(c, path, {"vocab_size"});
  cfg.hidden_size = get_int(c, path, {"n_embd"});
  cfg.num_layers = get_int(c, path, {"n_layer"});
  cfg.max_position_embeddings = get_int(c, path, {"n_positions", "n_ctx"});
  cfg.norm = NormKind::LayerNorm;
  cfg.norm_eps = c.value("layer_norm_epsilon", 1e-5f);
  cfg.learned_positions = true;
  cfg.tie_word_embeddings = true;
  heads = get_int(c, path, {"n_head"});
  inner = c.contains("n_inner") && c["n_inner"].is_number_integer() ? c["n_inner"].get<int64_t>() : 4 * cfg.hidden_size;
  return cfg;
}

// Conv1D stores [in, out]; Linear wants [out, in]. cols [c0, c1) of the [in, out] matrix.
Tensor conv1d_to_linear(const Tensor& w, int64_t c0, int64_t c1) {
  NoGradGuard ng;
  return transpose(slice(w, 1, c0, c1), 0, 1);
}

// The checkpoint's tensors mapped onto the skeleton's names.
std::map<std::string, Tensor> map_weights(const SafeTensorsFile& f, const LMConfig& cfg) {
  std::map<std::string, Tensor> raw;
  std::set<std::string> seen;
  for (const auto& name : f.names()) {
    const std::string n = name.rfind("transformer.", 0) == 0 ? name.substr(12) : name;
    if (n.size() > 10 && (n.ends_with(".attn.bias") || n.ends_with(".attn.masked_bias"))) continue;   // causal-mask buffers
    if (n == "lm_head.weight") continue;   // tied to wte
    raw[n] = f.to_tensor(name);
  }
  auto take = [&](const std::string& n) -> const Tensor& {
    auto it = raw.find(n);
    if (it == raw.end()) throw std::runtime_error(f.path() + " has no tensor '" + n + "'");
    seen.insert(n);
    return it->second;
  };
  const int64_t c = cfg.hidden_size;
  std::map<std::string, Tensor> out;
  out["model.embed_tokens.weight"] = take("wte.weight");
  out["model.embed_positions"] = take("wpe.weight");
  for (int64_t i = 0; i < cfg.num_layers; ++i) {
    const std::string h = "h." + std::to_string(i) + ".", m = "model.layers." + std::to_string(i) + ".";
    for (const char* p : {"weight", "bias"}) {
      out[m + "input_layernorm." + p] = take(h + "ln_1." + p);
      out[m + "post_attention_layernorm." + p] = take(h + "ln_2." + p);
    }
    const Tensor& qkv = take(h + "attn.c_attn.weight");
    const Tensor& qkv_b = take(h + "attn.c_attn.bias");
    if (qkv.shape() != Shape{c, 3 * c})
      throw std::runtime_error(f.path() + ": '" + h + "attn.c_attn.weight' has shape " + qkv.shape_str() + ", expected " + shape_str({c, 3 * c}));
    const char* names[] = {"q_proj", "k_proj", "v_proj"};
    for (int64_t j = 0; j < 3; ++j) {
      out[m + "self_attn." + names[j] + ".weight"] = conv1d_to_linear(qkv, j * c, (j + 1) * c);
      out[m + "self_attn." + names[j] + ".bias"] = slice(qkv_b, 0, j * c, (j + 1) * c);
    }
    const Tensor& o = take(h + "attn.c_proj.weight");
    out[m + "self_attn.o_proj.weight"] = conv1d_to_linear(o, 0, o.size(1));
    out[m + "self_attn.o_proj.bias"] = take(h + "attn.c_proj.bias");
    for (const char* p : {"c_fc", "c_proj"}) {
      const Tensor& w = take(h + "mlp." + p + ".weight");
      out[m + "mlp." + p + ".weight"] = conv1d_to_linear(w, 0, w.size(1));
      out[m + "mlp." + p + ".bias"] = take(h + "mlp." + p + ".bias");
    }
  }
  for (const char* p : {"weight", "bias"}) out[std::string("model.norm.") + p] = take(std::string("ln_f.") + p);
  for (const auto& [n, t] : raw)
    if (!seen.count(n)) throw std::runtime_error(f.path() + " has a tensor '" + n + "' that GPT-2 does not use");
  return out;
}
}  // namespace

GPT2 load_gpt2(const std::string& dir) {
  if (!std::filesystem::is_directory(dir)) throw std::runtime_error("GPT-2 checkpoint folder '" + dir + "' does not exist");
  int64_t heads = 0, inner = 0;
  const LMConfig cfg = read_config(need_file(dir, "config.json"), heads, inner);
  AttentionConfig ac;
  ac.hidden_size = cfg.hidden_size;
  ac.num_heads = ac.num_kv_heads = heads;
  ac.bias = true;
  Rng rng(0);   // the weights are overwritten below
  auto model = std::make_unique<TransformerLM>(
      cfg, [ac](int64_t, Rng& r) { return std::make_unique<MultiHeadAttention>(ac, r); },
      [&cfg, inner](int64_t, Rng& r) { return std::make_unique<GeluMLP>(cfg.hidden_size, inner, r); }, rng);
  const std::string st = need_file(dir, "model.safetensors");
  model->load_state_dict(map_weights(load_safetensors(st), cfg), st);
  return {std::move(model), Tokenizer::load_gpt2(need_file(dir, "vocab.json"), need_file(dir, "merges.txt"))};
}

}  // namespace ds::ch02
