#include "ch06/parallel/stage.hpp"

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "ch03/mla_model.hpp"
#include "ch06/checkpoint.hpp"
#include "ch06/config.hpp"
#include "common/autograd.hpp"
#include "common/ops.hpp"
#include "common/safetensors.hpp"

namespace ds::ch06 {

namespace fs = std::filesystem;

Stage::Stage(const DeepSeekConfig& cfg, int64_t begin, int64_t end, Rng& rng) : cfg_(cfg), begin_(begin), end_(end) {
  const int64_t n_layers = cfg.num_hidden_layers;
  if (begin < 0 || begin >= end || end > n_layers)
    throw std::invalid_argument("a stage needs layers [begin, end) with 0 <= begin < end <= " + std::to_string(n_layers) + ", not [" +
                                std::to_string(begin) + ", " + std::to_string(end) + ")");
  const ch04::MoEModelConfig mc = model_config(cfg);
  const ch02::LMConfig& lm = mc.lm;
  const ch02::AttentionFactory attn = ch04::moe_model_attention(mc);
  const ch02::FeedForwardFactory ffn = ch04::moe_model_feed_forward(mc);
  if (is_first() || is_last()) {
    embed_tokens = std::make_unique<Embedding>(lm.vocab_size, lm.hidden_size, rng, lm.init_std);
    register_module("model.embed_tokens", *embed_tokens);
  }
  for (int64_t i = begin; i < end; ++i) {
    layers.push_back(std::make_unique<ch02::Block>(lm, attn(i, rng), ffn(i, rng)));
    register_module("model.layers." + std::to_string(i), *layers.back());
  }
  if (!is_last()) return;
  norm = std::make_unique<RMSNorm>(lm.hidden_size, lm.norm_eps);
  register_module("model.norm", *norm);
  lm_head = Tensor::zeros({lm.vocab_size, lm.hidden_size});
  init::normal_(lm_head, rng, lm.init_std);
  register_parameter("lm_head.weight", lm_head);
  for (int64_t k = 1; k <= cfg.num_nextn_predict_layers; ++k) {
    const int64_t index = n_layers + k - 1;   // module k is layer L + k - 1, as V3's checkpoint stores it
    mtp.push_back(std::make_unique<ch05::MTPModule>(lm, attn(index, rng), ffn(index, rng), rng));
    register_module("model.layers." + std::to_string(index), *mtp.back());
  }
}

std::unique_ptr<Stage> Stage::load(const std::string& dir, int64_t begin, int64_t end) {
  for (const char* f : {"config.json", "model.safetensors"})
    if (!fs::exists(fs::path(dir) / f)) throw std::runtime_error("checkpoint folder '" + dir + "' has no " + f);
  Rng rng(0);
  auto stage = std::make_unique<Stage>(load_config(dir + "/config.json"), begin, end, rng);
  const SafeTensorsFile file = load_safetensors(dir + "/model.safetensors");
  std::vector<std::string> missing;
  for (auto& [name, t] : stage->state_dict()) {
    if (!file.has(name)) {
      missing.push_back(name);
      continue;
    }
    const Tensor stored = file.to_tensor(name);
    if (stored.shape() != t.shape())
      throw std::runtime_error(dir + "/model.safetensors: '" + name + "' has shape " + stored.shape_str() + " but the stage expects " + t.shape_str());
    t.copy_(stored);
  }
  if (!missing.empty()) {
    std::string list = missing[0];
    for (size_t i = 1; i < std::min<size_t>(missing.size(), 3); ++i) list += ", " + missing[i];
    if (missing.size() > 3) list += " and " + std::to_string(missing.size() - 3) + " more";
    throw std::runtime_error(dir + "/model.safetensors lacks " + std::to_string(missing.size()) + " tensor(s) that the stage of layers [" +
                             std::to_string(begin) + ", " + std::to_string(end) + ") needs: " + list);
  }
  return stage;
}

Tensor Stage::run_layers(Tensor x) {
  for (auto& layer : layers) x = layer->forward(x, nullptr);
  return x;
}

Tensor Stage::forward(const IntTensor& ids) {
  if (!is_first()) throw std::logic_error("only the first stage takes token ids; this one starts at layer " + std::to_string(begin_));
  if (ids.shape.size() != 2) shape_error("Stage", "ids must be [B, T]", ids.shape);
  if (ids.size(1) > cfg_.max_position_embeddings)
    throw std::length_error("Stage: " + std::to_string(ids.size(1)) + " positions exceed max_position_embeddings = " +
                            std::to_string(cfg_.max_position_embeddings));
  return run_layers(embed_tokens->forward(ids));
}

Tensor Stage::forward(const Tensor& h) {
  if (is_first()) throw std::logic_error("the first stage takes token ids, not hidden states");
  if (h.dim() != 3 || h.size(2) != cfg_.hidden_size) shape_error("Stage", "hidden states must be [B, T, hidden_size]", h.shape());
  return run_layers(h);
}

ch05::MTPLoss Stage::loss(const Tensor& h, const Batch& batch, float mtp_lambda) {
  if (!is_last()) throw std::logic_error("only the last stage has the output head; this one ends at layer " + std::to_string(end_));
  const auto out_head = [this](const Tensor& x) { return linear(x, lm_head); };
  const Tensor h_main = norm->forward(h);   // the main model's final hidden states
  const Tensor logits = out_head(h_main);
  const std::vector<Tensor> mtp_logits = ch05::mtp_logits(mtp, *embed_tokens, out_head, h_main, batch.inputs);
  return ch05::mtp_loss(logits, mtp_logits, batch.targets, mtp_lambda);
}

std::vector<ch04::MoE*> Stage::moe_layers() {
  std::vector<ch02::Block*> blocks;
  for (auto& b : layers) blocks.push_back(b.get());
  for (auto& b : mtp) blocks.push_back(b.get());
  return ch04::moe_layers(blocks);
}

std::vector<std::string> Stage::replica_names() const {
  if (is_last() && !is_first()) return {"model.embed_tokens.weight"};
  return {};
}

Tensor received(const Tensor& h) { return h.detach().requires_grad_(); }

void combine_shared_gradients(Stage& first, Stage& last) {
  if (&first == &last) return;   // one stage holds the only copy
  if (!first.is_first() || !last.is_last()) throw std::invalid_argument("combine_shared_gradients takes the first and the last stage");
  const Tensor a = first.embed_tokens->weight.grad(), b = last.embed_tokens->weight.grad();
  if (!a.defined() && !b.defined()) return;
  NoGradGuard ng;
  const Tensor sum = !a.defined() ? b.clone() : !b.defined() ? a.clone() : add(a, b);
  first.embed_tokens->weight.set_grad(sum);
  last.embed_tokens->weight.set_grad(sum.clone());   // each copy owns its gradient (later backwards add in place)
}

namespace {
// Position of a tensor in DeepSeekModel's state_dict: lm_head, the embedding, the main layers,
// model.norm, then the MTP layers (layer L + k - 1).
double model_order(const std::string& name, int64_t num_layers) {
  if (name == "lm_head.weight") return -2;
  if (name == "model.embed_tokens.weight") return -1;
  if (name == "model.norm.weight") return static_cast<double>(num_layers) - 0.5;
  const std::string prefix = "model.layers.";
  if (name.rfind(prefix, 0) == 0) return std::stod(name.substr(prefix.size(), name.find('.', prefix.size()) - prefix.size()));
  throw std::logic_error("save_stages: unexpected tensor name '" + name + "'");
}
}  // namespace

void save_stages(const std::string& dir, const std::vector<const Stage*>& stages, const Tokenizer* tokenizer) {
  if (stages.empty()) throw std::invalid_argument("save_stages: no stages");
  const DeepSeekConfig& cfg = stages[0]->config();
  int64_t next = 0;
  for (const Stage* s : stages) {
    if (s->begin() != next) throw std::invalid_argument("save_stages: the stages must cover the layers in order, but one starts at layer " +
                                                        std::to_string(s->begin()) + " where " + std::to_string(next) + " was expected");
    next = s->end();
  }
  if (next != cfg.num_hidden_layers) throw std::invalid_argument("save_stages: the stages end at layer " + std::to_string(next) + ", not at the last");
  const Stage& first = *stages.front();
  const Stage& last = *stages.back();
  if (&first != &last && first.embed_tokens->weight.to_vector() != last.embed_tokens->weight.to_vector())
    throw std::runtime_error("the first and last stages' copies of model.embed_tokens differ: combine their gradients "
                             "(combine_shared_gradients) before every optimizer step");
  NamedTensors params, buffers;
  for (const Stage* s : stages) {
    for (auto& [name, t] : s->named_parameters())
      if (!(s == &last && &first != &last && name == "model.embed_tokens.weight")) params.push_back({name, t});
    for (auto& nb : s->named_buffers()) buffers.push_back(nb);
  }
  for (NamedTensors* list : {&params, &buffers})
    std::stable_sort(list->begin(), list->end(), [&](const auto& a, const auto& b) {
      return model_order(a.first, cfg.num_hidden_layers) < model_order(b.first, cfg.num_hidden_layers);
    });
  params.insert(params.end(), buffers.begin(), buffers.end());
  write_folder_atomic(dir, [&](const std::string& tmp) { write_model_files(tmp, cfg, params, tokenizer); });
}

}  // namespace ds::ch06
