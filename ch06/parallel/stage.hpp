// A pipeline stage: the contiguous layers [begin, end) of a DeepSeekModel as a module of its own,
// so that stages can run in separate processes and exchange only activations and their
// gradients. Tensor names are the whole model's, so a stage loads its part of a checkpoint
// folder by name, and stages save back into one folder that load_model and ch06_generate read.
//
//   first stage (begin = 0):  ids [B, T] -> model.embed_tokens -> layers [0, end)     -> h [B, T, C]
//   any other stage:          h [B, T, C] received             -> layers [begin, end) -> h [B, T, C]
//   last stage (end = L):     ... then model.norm -> lm_head, and the MTP modules (layers L..L+D-1)
//                             with shared_head.norm -> lm_head: the training loss
//
// The MTP modules read Emb(t_{i+k}), so the last stage holds its own copy of model.embed_tokens:
// one weight used on two stages. DeepSeek-V3 avoids the copy by placing the shallowest layers
// (with the embedding) and the deepest (with the output head and MTP) on the same pipeline rank,
// so that the MTP module and the main model share the embedding's parameters and gradients
// physically (V3 section 3.2.3, "Shared Embedding and Output Head for Multi-Token Prediction").
// Where the two are separate stages, each copy's gradient holds only its own stage's part; the
// weight's gradient is their sum, which both copies must have before the optimizer step
// (combine_shared_gradients in one process, an all-reduce of those two tensors between the two
// ranks otherwise), so the copies take identical AdamW steps and stay equal. The global gradient
// norm must count the weight once: replica_names() lists the copy a trainer leaves out of it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ch06/model.hpp"
#include "common/dataset.hpp"
#include "common/tokenizer.hpp"

namespace ds::ch06 {

class Stage : public Module {
 public:
  // Layers [begin, end) of cfg's num_hidden_layers, freshly initialised.
  Stage(const DeepSeekConfig& cfg, int64_t begin, int64_t end, Rng& rng);
  // The stage's tensors out of a full checkpoint folder (config.json, model.safetensors); what
  // the folder lacks is named in one sentence.
  static std::unique_ptr<Stage> load(const std::string& dir, int64_t begin, int64_t end);

  bool is_first() const { return begin_ == 0; }
  bool is_last() const { return end_ == cfg_.num_hidden_layers; }
  int64_t begin() const { return begin_; }
  int64_t end() const { return end_; }
  const DeepSeekConfig& config() const { return cfg_; }

  // The first stage: ids [B, T] -> the hidden states [B, T, C] after its layers.
  Tensor forward(const IntTensor& ids);
  // Any other stage: h [B, T, C] from the previous stage -> the hidden states after its layers.
  // Pass received(h) to get the gradient to send upstream in its .grad().
  Tensor forward(const Tensor& h);
  // The last stage's training loss from its forward's output h [B, T, C]: model.norm, the main
  // head's cross-entropy and the MTP loss, L_Main + lambda / D sum_k L_MTP^k (V3 eqs. 21-25;
  // batch.inputs give the MTP modules' t_{i+k}).
  ch05::MTPLoss loss(const Tensor& h, const Batch& batch, float mtp_lambda);

  std::vector<ch04::MoE*> moe_layers();   // this stage's, the MTP modules' included
  // Parameters another stage also holds and whose gradient norm that stage counts: the last
  // stage's copy of model.embed_tokens.weight (none when this stage is also the first).
  std::vector<std::string> replica_names() const;

  std::unique_ptr<Embedding> embed_tokens;   // first stage; the last stage's copy for MTP
  std::vector<std::unique_ptr<ch02::Block>> layers;
  std::unique_ptr<RMSNorm> norm;             // last stage
  Tensor lm_head;                            // last stage, [V, C]
  std::vector<std::unique_ptr<ch05::MTPModule>> mtp;   // last stage

 private:
  Tensor run_layers(Tensor x);
  DeepSeekConfig cfg_;
  int64_t begin_, end_;
};

// h [B, T, C] as the next stage receives it: a leaf that requires grad, so that backward (or
// backward_inputs, the B of a split backward) leaves in its .grad() the gradient to send back.
Tensor received(const Tensor& h);

// Gives both copies of the shared embedding (first.embed_tokens, last.embed_tokens) the sum of
// their gradients: call after the backward of every micro-batch, before the norm and the step.
void combine_shared_gradients(Stage& first, Stage& last);

// Saves stages that together cover layers [0, L) in order as one checkpoint folder (written
// atomically): config.json, model.safetensors (in the whole model's tensor order, so the same
// bytes as DeepSeekModel's), tokenizer.json when given. The two embedding copies must be equal.
void save_stages(const std::string& dir, const std::vector<const Stage*>& stages, const Tokenizer* tokenizer);

}  // namespace ds::ch06
