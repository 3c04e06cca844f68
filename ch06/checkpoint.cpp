#include "ch06/checkpoint.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "common/fsutil.hpp"
#include "common/safetensors.hpp"

namespace ds::ch06 {

namespace fs = std::filesystem;

void write_folder_atomic(const std::string& dir, const std::function<void(const std::string&)>& fill) {
  const fs::path target(dir), tmp = target.string() + ".tmp", old = target.string() + ".old";
  // Only a checkpoint (or a save's leftover) is ever replaced; claim_folder says why not otherwise.
  for (const fs::path& p : {target, tmp, old}) claim_folder(p.string(), FolderUse::Checkpoint, "the checkpoint folder");
  recover_interrupted_save(dir);
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp);
  fill(tmp.string());
  fs::remove_all(old, ec);
  if (fs::exists(target)) fs::rename(target, old);
  fs::rename(tmp, target);   // a kill -9 before this line: recover_interrupted_save puts tmp in place
  fs::remove_all(old, ec);
}

namespace {
// DeepSeek-V3's release stores each MTP module's shared embedding and output head again under the
// module's layer (model.layers.61.embed_tokens.weight, model.layers.61.shared_head.head.weight;
// README_WEIGHTS.md: "shares parameters" with the main model's).
std::vector<std::pair<std::string, std::string>> shared_copies(const DeepSeekConfig& c) {
  std::vector<std::pair<std::string, std::string>> out;   // (copy, original)
  for (int64_t k = 0; k < c.num_nextn_predict_layers; ++k) {
    const std::string layer = "model.layers." + std::to_string(c.num_hidden_layers + k);
    out.push_back({layer + ".embed_tokens.weight", "model.embed_tokens.weight"});
    out.push_back({layer + ".shared_head.head.weight", "lm_head.weight"});
  }
  return out;
}
}  // namespace

NamedTensors checkpoint_tensors(const DeepSeekConfig& cfg, NamedTensors state) {
  std::map<std::string, Tensor> by_name(state.begin(), state.end());
  for (const auto& [copy, original] : shared_copies(cfg)) {
    const auto it = by_name.find(original);
    if (it != by_name.end()) state.push_back({copy, it->second});   // a stage's partial folder may lack the original
  }
  return state;
}

NamedTensors checkpoint_tensors(const DeepSeekModel& model) { return checkpoint_tensors(model.config(), model.state_dict()); }

void write_model_files(const std::string& dir, const DeepSeekModel& model, const Tokenizer* tokenizer) {
  write_model_files(dir, model.config(), model.state_dict(), tokenizer);
}

void write_model_files(const std::string& dir, const DeepSeekConfig& cfg, const NamedTensors& state, const Tokenizer* tokenizer) {
  save_config(dir + "/config.json", cfg);
  save_safetensors(dir + "/model.safetensors", checkpoint_tensors(cfg, state), DType::F32, {{"format", "pt"}});
  if (tokenizer && tokenizer->vocab_size() > 0) tokenizer->save(dir + "/tokenizer.json");
}

LoadedModel load_model(const std::string& dir, const std::vector<std::string>& extra_prefixes) {
  recover_interrupted_save(dir);
  if (!fs::is_directory(dir)) throw std::runtime_error("checkpoint folder '" + dir + "' does not exist");
  for (const char* f : {"config.json", "model.safetensors"})
    if (!fs::exists(fs::path(dir) / f)) throw std::runtime_error("checkpoint folder '" + dir + "' has no " + f);
  const DeepSeekConfig cfg = load_config(dir + "/config.json");
  LoadedModel out;
  Rng rng(0);
  out.model = std::make_unique<DeepSeekModel>(cfg, rng);
  const SafeTensorsFile file = load_safetensors(dir + "/model.safetensors");
  std::map<std::string, Tensor> state;
  for (const std::string& name : file.names()) state[name] = file.to_finite_tensor(name);
  for (const auto& [copy, original] : shared_copies(cfg)) {   // optional; when present, equal to the shared tensor
    const auto it = state.find(copy);
    if (it == state.end()) continue;
    const auto shared = state.find(original);
    if (shared != state.end() && !(it->second.shape() == shared->second.shape() && it->second.to_vector() == shared->second.to_vector()))
      throw std::runtime_error(dir + "/model.safetensors: '" + copy + "' differs from '" + original +
                               "', but the MTP module shares that tensor with the main model");
    state.erase(it);
  }
  for (auto it = state.begin(); it != state.end();) {
    const bool extra = std::any_of(extra_prefixes.begin(), extra_prefixes.end(), [&](const std::string& p) { return it->first.starts_with(p); });
    if (!extra) {
      ++it;
      continue;
    }
    out.extra.push_back({it->first, it->second});
    it = state.erase(it);
  }
  out.model->load_state_dict(state, dir + "/model.safetensors");
  if (fs::exists(fs::path(dir) / "tokenizer.json")) {
    out.tokenizer = Tokenizer::load(dir + "/tokenizer.json");
    out.has_tokenizer = true;
    if (out.tokenizer.vocab_size() > cfg.vocab_size)
      throw std::runtime_error(dir + "/tokenizer.json has " + std::to_string(out.tokenizer.vocab_size()) + " tokens but the model only " +
                               std::to_string(cfg.vocab_size));
  }
  return out;
}

}  // namespace ds::ch06
