// Checkpoint folders in the layout of DeepSeek-V3's Hugging Face release: config.json,
// model.safetensors (DeepSeek-V3's tensor names), tokenizer.json; a training checkpoint adds
// optimizer.safetensors (AdamW's moments) and trainer_state.json (step, data RNG, history).
// A folder is written next to its destination and renamed into place, so an interrupted save
// leaves the previous checkpoint intact.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ch06/model.hpp"
#include "common/tokenizer.hpp"

namespace ds::ch06 {

// Writes dir/ atomically: `fill(tmp)` writes the files into a temporary sibling folder, which
// then replaces dir.
void write_folder_atomic(const std::string& dir, const std::function<void(const std::string& tmp)>& fill);

// The tensors of model.safetensors: the model's state dict plus, as DeepSeek-V3's release stores
// them, each MTP module's copies of the shared embedding and head
// (model.layers.{num_hidden_layers + k}.embed_tokens.weight and .shared_head.head.weight).
NamedTensors checkpoint_tensors(const DeepSeekModel& model);
NamedTensors checkpoint_tensors(const DeepSeekConfig& cfg, NamedTensors state);

// config.json + model.safetensors + tokenizer.json (when the tokenizer is not empty) into `dir`
// (an existing folder; used inside write_folder_atomic).
void write_model_files(const std::string& dir, const DeepSeekModel& model, const Tokenizer* tokenizer);
// The same from a config and the tensors in DeepSeekModel's state_dict order (pipeline stages).
void write_model_files(const std::string& dir, const DeepSeekConfig& cfg, const NamedTensors& state, const Tokenizer* tokenizer);

struct LoadedModel {
  std::unique_ptr<DeepSeekModel> model;
  Tokenizer tokenizer;   // empty when the folder has no tokenizer.json
  bool has_tokenizer = false;
  NamedTensors extra;    // tensors under the caller's extra_prefixes (e.g. ch07's critic head), not in the model
};
// Reads config.json, builds the model and loads model.safetensors, checking every name and
// shape; the first problem becomes one std::runtime_error sentence naming the folder. The MTP
// modules' copies of the embedding and head may be absent; present, they must equal the originals.
// Tensors whose names start with one of extra_prefixes go to LoadedModel::extra (a later
// chapter's head stored in the same file); any other name the model lacks is refused.
LoadedModel load_model(const std::string& dir, const std::vector<std::string>& extra_prefixes = {});

}  // namespace ds::ch06
