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

// One entry of added_tokens. single_word (match only between non-word characters) is refused:
// neither GPT-2's nor DeepSeek's files use it, and a reader that ignored it would encode wrongly.
AddedToken added_token(const json& t, const std::string& content, const std::string& where) {
  const auto flag = [&](const char* key, bool otherwise) {
    if (!t.contains(key) || t[key].is_null()) return otherwise;
    if (!t[key].is_boolean()) throw std::runtime_error(where + ": the added token '" + content + "' has a " + key + " that is not true or false");
    return t[key].get<bool>();
  };
  if (flag("single_word", false)) throw std::runtime_error(where + ": the added token '" + content + "' is single_word, which this reader does not support");
  AddedToken a{content};
  a.special = flag("special", true);
  a.lstrip = flag("lstrip", false);
  a.rstrip = flag("rstrip", false);
  a.normalized = flag("normalized", false);
  return a;
}

std::string type_name(const json& j) { return j.is_object() && j.contains("type") ? j["type"].dump() : j.dump(); }

// What tokenizer.json says besides the vocabulary, merges and added tokens.
struct Parts {
  PreTokenizer pre = PreTokenizer::gpt2();
  bool ignore_merges = false, byte_fallback = false;
  std::string unk_token, normalizer = "null", post_processor = "null";
  std::vector<std::string> before, after;   // TemplateProcessing's special tokens around $A
};

// The normalizer may be absent, null or an empty Sequence: the identity.
void read_normalizer(const json& n, const std::string& where) {
  if (n.is_null()) return;
  if (n.is_object() && n.value("type", "") == "Sequence" && n.contains("normalizers") && n["normalizers"].is_array()) {
    for (const json& inner : n["normalizers"]) read_normalizer(inner, where);
    return;
  }
  throw std::runtime_error(where + ": the normalizer type " + type_name(n) + " is not supported (this reader knows null and Sequence)");
}

// TemplateProcessing's "single" template, e.g. [<s>, $A]: the special tokens before and after A.
void read_template(const json& p, Parts& parts, const std::string& where) {
  bool seen_a = false;
  for (const json& item : p.at("single")) {
    if (item.contains("Sequence")) {
      if (seen_a || item["Sequence"].at("id") != "A")
        throw std::runtime_error(where + ": a TemplateProcessing single template other than [specials, $A, specials] is not supported");
      seen_a = true;
    } else {
      const std::string name = item.at("SpecialToken").at("id").get<std::string>();
      const json& ids = p.at("special_tokens").at(name).at("tokens");
      for (const json& tok : ids) (seen_a ? parts.after : parts.before).push_back(tok.get<std::string>());
    }
  }
  if (!seen_a) throw std::runtime_error(where + ": the TemplateProcessing single template has no $A");
}

void read_post_processor(const json& p, Parts& parts, const std::string& where) {
  if (p.is_null()) return;
  const std::string type = p.is_object() ? p.value("type", "") : "";
  if (type == "ByteLevel") return;   // it moves offsets only; the ids stay as they are
  if (type == "TemplateProcessing") return read_template(p, parts, where);
  if (type == "Sequence" && p.contains("processors") && p["processors"].is_array()) {
    for (const json& inner : p["processors"]) read_post_processor(inner, parts, where);
    return;
  }
  throw std::runtime_error(where + ": the post_processor type " + type_name(p) +
                           " is not supported (this reader knows ByteLevel, TemplateProcessing and Sequence)");
}

Parts read_parts(const json& j, const std::string& where) {
  Parts parts;
  for (const char* key : {"truncation", "padding"})
    if (j.contains(key) && !j[key].is_null()) throw std::runtime_error(where + ": " + key + " is set, which this reader does not support");
  if (j.contains("normalizer")) {
    read_normalizer(j["normalizer"], where);
    parts.normalizer = j["normalizer"].dump();
  }
  if (j.contains("pre_tokenizer")) {
    if (j["pre_tokenizer"].is_null())
      throw std::runtime_error(where + ": the pre_tokenizer is null, so the vocabulary is not byte-level BPE, the only kind this reader knows");
    parts.pre = PreTokenizer::from_json(j["pre_tokenizer"], where);
  }
  if (j.contains("post_processor")) {
    read_post_processor(j["post_processor"], parts, where);
    parts.post_processor = j["post_processor"].dump();
  }
  if (j.contains("decoder") && type_name(j["decoder"]) != "\"ByteLevel\"")
    throw std::runtime_error(where + ": the decoder type " + type_name(j["decoder"]) + " is not supported (this reader knows ByteLevel)");
  const json& model = j.at("model");
  const auto set = [&](const char* key) { return model.contains(key) && !model[key].is_null(); };
  if (set("dropout") && model["dropout"] != 0)
    throw std::runtime_error(where + ": the BPE model has dropout " + model["dropout"].dump() + ", which this reader does not support");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (set(key) && model[key] != "") throw std::runtime_error(where + ": the BPE model's " + key + " is set, which this reader does not support");
  parts.ignore_merges = set("ignore_merges") && model["ignore_merges"].get<bool>();
  parts.byte_fallback = set("byte_fallback") && model["byte_fallback"].get<bool>();
  if (set("unk_token")) parts.unk_token = model["unk_token"].get<std::string>();
  return parts;
}

int32_t template_id(const Tokenizer& t, const std::string& token, const std::string& where) {
  const int32_t id = t.token_id(token);
  if (id < 0) throw std::runtime_error(where + ": the post_processor's token '" + token + "' is not in the vocabulary");
  return id;
}

}  // namespace

void Tokenizer::save(const std::string& path) const {
  using ordered = nlohmann::ordered_json;   // keeps keys in the order written
  ordered added = ordered::array();
  for (const auto& a : added_)
    added.push_back({{"id", token_id(a.content)},
                     {"content", a.content},
                     {"single_word", false},
                     {"lstrip", a.lstrip},
                     {"rstrip", a.rstrip},
                     {"normalized", a.normalized},
                     {"special", a.special}});
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
  j["normalizer"] = ordered::parse(normalizer_json_);
  j["pre_tokenizer"] = ordered::parse(pre_.json_text());
  j["post_processor"] = ordered::parse(post_processor_json_);
  j["decoder"] = byte_level;
  j["model"] = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", unk_id_ >= 0 ? ordered(vocab_[unk_id_]) : ordered(nullptr)},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"fuse_unk", false},
                {"byte_fallback", byte_fallback_},
                {"ignore_merges", ignore_merges_},
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
  std::vector<std::string> by_id;
  std::vector<AddedToken> added;
  std::vector<std::pair<std::string, std::string>> merges;
  Parts parts;
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
        added.push_back(added_token(t, content, where));
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
    parts = read_parts(j, where);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(where + ": the file does not have the tokenizer.json layout (" +
                             std::string(e.what()) + ")");
  }
  check_no_gaps(by_id, where);
  Tokenizer t = from_parts(std::move(by_id), merges, added, where);
  t.pre_ = std::move(parts.pre);
  t.ignore_merges_ = parts.ignore_merges;
  t.byte_fallback_ = parts.byte_fallback;
  if (!parts.unk_token.empty()) {
    t.unk_id_ = t.token_id(parts.unk_token);
    if (t.unk_id_ < 0) throw std::runtime_error(where + ": the unk_token '" + parts.unk_token + "' is not in the vocabulary");
  }
  t.normalizer_json_ = parts.normalizer;
  t.post_processor_json_ = parts.post_processor;
  std::vector<int32_t> before, after;
  for (const auto& s : parts.before) before.push_back(template_id(t, s, where));
  for (const auto& s : parts.after) after.push_back(template_id(t, s, where));
  t.set_template(std::move(before), std::move(after));
  return t;
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
  return from_parts(std::move(by_id), merges, as_added(specials), where);
}

}  // namespace ds
