// Tokenizer files. Two layouts are read so a trained tokenizer can be checked against the
// Python tools and real GPT-2/DeepSeek files can be opened:
//  - Hugging Face tokenizer.json: "model": {"type": "BPE", "vocab": {token: id}, "merges":
//    ["a b", ...]} plus "added_tokens" (special tokens matched literally). Newer versions of
//    the `tokenizers` library write each merge as an array ["a", "b"]; both are accepted.
//  - GPT-2's original pair: vocab.json ({token: id}) and merges.txt ("#version" line, then
//    one "a b" merge per line, in rank order).
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "common/fsutil.hpp"
#include "common/json_error.hpp"
#include "common/tokenizer.hpp"

namespace ds {
namespace {

using nlohmann::json;

std::string read_file(const std::string& path, const std::string& who) {
  try {
    return read_text_file(path);
  } catch (const std::runtime_error& e) {   // "cannot read 'PATH': REASON"
    throw std::runtime_error(who + ": " + e.what());
  }
}

json parse_json(const std::string& path, const std::string& who) {
  json j = json::parse(read_file(path, who), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw std::runtime_error(who + ": '" + path + "' is not valid JSON");
  return j;
}

// Places token spellings at their ids; ids must run 0..N-1 with no gaps or clashes.
void place(std::vector<std::string>& by_id, const std::string& token, int64_t id,
           const std::string& where) {
  if (id < 0 || id > 10'000'000)
    throw std::runtime_error(where + ": the token '" + token + "' has an invalid id " +
                             std::to_string(id));
  if (by_id.size() <= static_cast<size_t>(id)) by_id.resize(id + 1);
  std::string& slot = by_id[id];
  if (!slot.empty() && slot != token)
    throw std::runtime_error(where + ": id " + std::to_string(id) + " is given to both '" + slot +
                             "' and '" + token + "'");
  slot = token;
}

// A token's id as written in the file. Checked before converting: nlohmann turns a float
// such as 1.8e20 into int64 with undefined behaviour (found by fuzz/).
int64_t id_of(const json& id, const std::string& token, const std::string& where) {
  if (!id.is_number_integer())
    throw std::runtime_error(where + ": the id of '" + token + "' is not an integer");
  return id.get<int64_t>();
}

void check_no_gaps(const std::vector<std::string>& by_id, const std::string& where) {
  for (size_t id = 0; id < by_id.size(); ++id)
    if (by_id[id].empty())
      throw std::runtime_error(where + ": no token has id " + std::to_string(id) +
                               " (ids must run from 0 to the vocabulary size - 1)");
}

std::pair<std::string, std::string> split_merge(const std::string& line, const std::string& what) {
  const size_t sp = line.find(' ');
  if (sp == std::string::npos || sp == 0 || sp + 1 == line.size() ||
      line.find(' ', sp + 1) != std::string::npos)
    throw std::runtime_error(what + " ('" + line + "') is not two tokens separated by one space");
  return {line.substr(0, sp), line.substr(sp + 1)};
}

}  // namespace

void Tokenizer::save(const std::string& path) const {
  using ordered = nlohmann::ordered_json;   // keeps keys in the order written
  ordered added = ordered::array();
  for (const auto& s : specials_)
    added.push_back({{"id", token_id(s)},
                     {"content", s},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  // ordered_json's object is a vector of pairs. Appending to it keeps id order and skips the
  // duplicate-key scan that operator[] does on every insert (quadratic for 50k tokens).
  ordered vocab = ordered::object();
  auto& entries = vocab.get_ref<ordered::object_t&>();
  for (size_t id = 0; id < vocab_.size(); ++id) entries.emplace_back(vocab_[id], id);
  ordered merges = ordered::array();
  for (const auto& [a, b] : merges_) merges.push_back(vocab_[a] + " " + vocab_[b]);
  const ordered byte_level = {{"type", "ByteLevel"},
                              {"add_prefix_space", false},
                              {"trim_offsets", true},
                              {"use_regex", true}};
  ordered j;
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  j["added_tokens"] = added;
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = byte_level;
  j["post_processor"] = nullptr;
  j["decoder"] = byte_level;
  j["model"] = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"vocab", vocab},
                {"merges", merges}};
  std::string text;
  try {
    text = j.dump(2);
  } catch (const nlohmann::json::exception&) {
    throw std::runtime_error("Tokenizer::save: a special token is not valid UTF-8, so '" + path +
                             "' cannot be written as JSON");
  }
  // A temporary file renamed over path: an interrupted save never leaves half a file.
  try {
    write_file_atomic(path, text + "\n");
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string("Tokenizer::save: ") + e.what());
  }
}

Tokenizer Tokenizer::load(const std::string& path) {
  const std::string where = "Tokenizer::load('" + path + "')";
  const json j = parse_json(path, "Tokenizer::load");
  std::vector<std::string> by_id, specials;
  std::vector<std::pair<std::string, std::string>> merges;
  try {
    const json& model = j.at("model");
    if (model.contains("type") && model["type"] != "BPE")
      throw std::runtime_error(where + ": the model type is " + model["type"].dump() + ", not BPE");
    if (!model.at("vocab").is_object())
      throw std::runtime_error(where + ": model.vocab is not a JSON object");
    for (const auto& [token, id] : model["vocab"].items())
      place(by_id, token, id_of(id, token, where), where);
    if (j.contains("added_tokens") && j["added_tokens"].is_array()) {
      for (const json& t : j["added_tokens"]) {
        const auto content = t.at("content").get<std::string>();
        place(by_id, content, id_of(t.at("id"), content, where), where);
        specials.push_back(content);
      }
    }
    const json& ms = model.at("merges");
    for (size_t k = 0; k < ms.size(); ++k) {
      const std::string what = where + ": merge " + std::to_string(k + 1);
      // Each merge is "a b" or ["a", "b"]: anything else (a number, an object) is named here.
      const bool pair = ms[k].is_array() && ms[k].size() == 2 && ms[k][0].is_string() && ms[k][1].is_string();
      if (!pair && !ms[k].is_string())
        throw std::runtime_error(what + " is " + ms[k].dump().substr(0, 40) + ", not a string \"a b\" or a pair [\"a\", \"b\"] of token strings");
      if (pair)
        merges.emplace_back(ms[k][0].get<std::string>(), ms[k][1].get<std::string>());
      else
        merges.push_back(split_merge(ms[k].get<std::string>(), what));
    }
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(where + ": the file does not have the tokenizer.json layout (" +
                             std::string(e.what()) + ")");
  }
  check_no_gaps(by_id, where);
  return from_parts(std::move(by_id), merges, specials, where);
}

Tokenizer Tokenizer::load_gpt2(const std::string& vocab_json, const std::string& merges_txt,
                               const std::vector<std::string>& special_tokens) {
  const std::string where = "Tokenizer::load_gpt2('" + vocab_json + "', '" + merges_txt + "')";
  const json vocab = parse_json(vocab_json, "Tokenizer::load_gpt2");
  if (!vocab.is_object())
    throw std::runtime_error(where + ": '" + vocab_json + "' is not a JSON object of token: id");
  std::vector<std::string> by_id;
  for (const auto& [token, id] : vocab.items()) {
    place(by_id, token, id_of(id, token, where), where);
  }
  check_no_gaps(by_id, where);

  std::istringstream lines(read_file(merges_txt, "Tokenizer::load_gpt2"));
  std::vector<std::pair<std::string, std::string>> merges;
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (number == 1 && line.rfind("#version", 0) == 0)) continue;
    merges.push_back(
        split_merge(line, where + ": line " + std::to_string(number) + " of merges.txt"));
  }
  std::vector<std::string> specials;   // only those this vocabulary has
  for (const auto& s : special_tokens)
    if (vocab.contains(s)) specials.push_back(s);
  return from_parts(std::move(by_id), merges, specials, where);
}

}  // namespace ds
