#include "ch06/checkpoint.hpp"

#include <filesystem>
#include <map>
#include <stdexcept>

#include "common/safetensors.hpp"

namespace ds::ch06 {

namespace fs = std::filesystem;

void write_folder_atomic(const std::string& dir, const std::function<void(const std::string&)>& fill) {
  const fs::path target(dir), tmp = target.string() + ".tmp", old = target.string() + ".old";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp);
  fill(tmp.string());
  fs::remove_all(old, ec);
  if (fs::exists(target)) fs::rename(target, old);
  fs::rename(tmp, target);
  fs::remove_all(old, ec);
}

void write_model_files(const std::string& dir, const DeepSeekModel& model, const Tokenizer* tokenizer) {
  write_model_files(dir, model.config(), model.state_dict(), tokenizer);
}

void write_model_files(const std::string& dir, const DeepSeekConfig& cfg, const NamedTensors& state, const Tokenizer* tokenizer) {
  save_config(dir + "/config.json", cfg);
  save_safetensors(dir + "/model.safetensors", state, DType::F32, {{"format", "pt"}});
  if (tokenizer && tokenizer->vocab_size() > 0) tokenizer->save(dir + "/tokenizer.json");
}

LoadedModel load_model(const std::string& dir) {
  if (!fs::is_directory(dir)) throw std::runtime_error("checkpoint folder '" + dir + "' does not exist");
  for (const char* f : {"config.json", "model.safetensors"})
    if (!fs::exists(fs::path(dir) / f)) throw std::runtime_error("checkpoint folder '" + dir + "' has no " + f);
  const DeepSeekConfig cfg = load_config(dir + "/config.json");
  LoadedModel out;
  Rng rng(0);
  out.model = std::make_unique<DeepSeekModel>(cfg, rng);
  const SafeTensorsFile file = load_safetensors(dir + "/model.safetensors");
  std::map<std::string, Tensor> state;
  for (const std::string& name : file.names()) state[name] = file.to_tensor(name);
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
