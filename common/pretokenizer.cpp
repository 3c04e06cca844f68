// Split's five behaviors follow tokenizers' NormalizedString::split (tokenizers/src/tokenizer/
// normalizer.rs), the matches as its Pattern::find_matches produces them.
#include "common/pretokenizer.hpp"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace ds {

using nlohmann::json;

struct PreTokenizer::Step {
  enum Kind { kSplit, kByteLevel } kind = kSplit;
  std::shared_ptr<const Regex> pattern;   // null for a ByteLevel without use_regex
  SplitBehavior behavior = SplitBehavior::Isolated;
  bool invert = false, add_prefix_space = false;
  std::string name;
};

void split_by(std::string_view piece, const Regex& pattern, SplitBehavior behavior, bool invert,
              std::vector<std::string_view>& out) {
  // [begin, end, is_match] segments covering the piece, as find_matches gives them.
  struct Seg {
    size_t b, e;
    bool match;
  };
  std::vector<Seg> segs;
  size_t prev = 0;
  for (const auto& [b, e] : pattern.find_all(piece)) {
    if (prev != b) segs.push_back({prev, b, false});
    segs.push_back({b, e, true});
    prev = e;
  }
  if (prev != piece.size()) segs.push_back({prev, piece.size(), false});
  if (invert)
    for (Seg& s : segs) s.match = !s.match;

  std::vector<Seg> kept;   // match now means "remove"
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::Removed: kept = segs; break;
    case SplitBehavior::Isolated:
      for (const Seg& s : segs) kept.push_back({s.b, s.e, false});
      break;
    case SplitBehavior::Contiguous:
      for (const Seg& s : segs) {
        if (s.match == previous_match && !kept.empty()) kept.back().e = s.e;
        else kept.push_back({s.b, s.e, false});
        previous_match = s.match;
      }
      break;
    case SplitBehavior::MergedWithPrevious:
      for (const Seg& s : segs) {
        if (s.match && !previous_match && !kept.empty()) kept.back().e = s.e;
        else kept.push_back({s.b, s.e, false});
        previous_match = s.match;
      }
      break;
    case SplitBehavior::MergedWithNext:
      for (size_t i = segs.size(); i-- > 0;) {   // from the end, then reversed
        const Seg& s = segs[i];
        if (s.match && !previous_match && !kept.empty()) kept.back().b = s.b;
        else kept.push_back({s.b, s.e, false});
        previous_match = s.match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
  }
  for (const Seg& s : kept)
    if (!s.match && s.e > s.b) out.push_back(piece.substr(s.b, s.e - s.b));
}

namespace {

SplitBehavior behavior_of(const json& j, const std::string& where) {
  const std::string b = j.is_string() ? j.get<std::string>() : j.dump();
  if (b == "Removed") return SplitBehavior::Removed;
  if (b == "Isolated") return SplitBehavior::Isolated;
  if (b == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (b == "Contiguous") return SplitBehavior::Contiguous;
  throw std::runtime_error(where + ": the Split behavior '" + b + "' is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous");
}

std::string type_of(const json& j) { return j.is_object() && j.contains("type") && j["type"].is_string() ? j["type"].get<std::string>() : j.dump(); }

bool flag(const json& j, const char* key, bool otherwise) { return j.contains(key) && j[key].is_boolean() ? j[key].get<bool>() : otherwise; }

// A pattern as tokenizer.json writes it: control and non-ASCII characters as \n, \r, \t, \uXXXX.
std::string printable(const std::string& pattern) {
  std::string out;
  for (size_t i = 0; i < pattern.size();) {
    const auto c = static_cast<unsigned char>(pattern[i]);
    if (c == '\n' || c == '\r' || c == '\t') {
      out += c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t";
      ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else {
      const size_t n = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
      uint32_t cp = c & (0x7F >> n);
      for (size_t k = 1; k < n && i + k < pattern.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(pattern[i + k]) & 0x3Fu);
      char buf[16];
      std::snprintf(buf, sizeof buf, cp > 0xFFFF ? "\\U%08X" : "\\u%04X", cp);
      out += buf;
      i += n;
    }
  }
  return out;
}

std::shared_ptr<const Regex> compiled(const std::string& pattern, const std::string& where) {
  try {
    return std::make_shared<const Regex>(pattern);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(where + ": " + e.what());
  }
}

}  // namespace

PreTokenizer PreTokenizer::gpt2() {
  static const PreTokenizer p =   // compiled once; copies share the compiled pattern
      from_json(json{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}, "PreTokenizer::gpt2");
  return p;
}

PreTokenizer PreTokenizer::from_json(const json& j, const std::string& where) {
  PreTokenizer p;
  p.json_ = j.dump();
  std::vector<json> list;
  if (type_of(j) == "Sequence") {
    if (!j.contains("pretokenizers") || !j["pretokenizers"].is_array())
      throw std::runtime_error(where + ": the Sequence pre_tokenizer has no 'pretokenizers' list");
    list.assign(j["pretokenizers"].begin(), j["pretokenizers"].end());
  } else {
    list.push_back(j);
  }
  for (const json& s : list) {
    const std::string type = type_of(s);
    auto step = std::make_shared<Step>();
    if (!p.steps_.empty() && p.steps_.back()->kind == Step::kByteLevel)
      throw std::runtime_error(where + ": the pre-tokenizer step " + type +
                               " comes after ByteLevel; this reader needs ByteLevel last, where pieces become bytes");
    if (type == "Split") {
      const json& pat = s.at("pattern");
      if (pat.contains("Regex")) {
        step->pattern = compiled(pat["Regex"].get<std::string>(), where);
        step->name = "Split /" + printable(pat["Regex"].get<std::string>()) + "/";
      } else if (pat.contains("String")) {
        step->pattern = std::make_shared<const Regex>(Regex::literal(pat["String"].get<std::string>()));
        step->name = "Split \"" + printable(pat["String"].get<std::string>()) + "\"";
      } else {
        throw std::runtime_error(where + ": a Split pattern is neither {\"Regex\": ...} nor {\"String\": ...}");
      }
      step->behavior = behavior_of(s.at("behavior"), where);
      step->invert = flag(s, "invert", false);
      step->name += " " + s["behavior"].get<std::string>() + (step->invert ? " inverted" : "");
    } else if (type == "Digits") {
      const bool each = flag(s, "individual_digits", false);
      step->pattern = compiled(each ? "\\p{N}" : "\\p{N}+", where);
      step->name = each ? "Digits (each digit alone)" : "Digits (runs of digits)";
    } else if (type == "ByteLevel") {
      step->kind = Step::kByteLevel;
      step->add_prefix_space = flag(s, "add_prefix_space", false);
      if (flag(s, "use_regex", true)) step->pattern = compiled(kGpt2Pattern, where);
      step->name = std::string("ByteLevel") + (step->pattern ? " (GPT-2's pattern)" : "") + (step->add_prefix_space ? " (a space before each piece)" : "") +
                   ": pieces become bytes";
    } else {
      throw std::runtime_error(where + ": the pre-tokenizer type " + type + " is not supported (this reader knows Sequence, Split, Digits and ByteLevel)");
    }
    p.steps_.push_back(std::move(step));
  }
  if (p.steps_.empty() || p.steps_.back()->kind != Step::kByteLevel)
    throw std::runtime_error(where + ": the pre-tokenizer has no ByteLevel step, so its vocabulary is not byte-level BPE, the only kind this reader knows");
  return p;
}

void PreTokenizer::apply(const Step& s, std::vector<std::string_view>& pieces, std::deque<std::string>& storage) const {
  std::vector<std::string_view> next;
  next.reserve(pieces.size() * 2);
  for (std::string_view piece : pieces) {
    if (s.add_prefix_space && (piece.empty() || piece[0] != ' ')) {
      std::string& spaced = storage.emplace_back(1, ' ');
      spaced.append(piece.data(), piece.size());
      piece = spaced;
    }
    if (s.pattern) split_by(piece, *s.pattern, s.behavior, s.invert, next);
    else if (!piece.empty()) next.push_back(piece);
  }
  pieces.swap(next);
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& pieces, std::deque<std::string>& storage) const {
  pieces.clear();
  if (text.empty()) return;
  pieces.push_back(text);
  for (const auto& s : steps_) apply(*s, pieces, storage);
}

std::vector<std::vector<std::string>> PreTokenizer::trace(std::string_view text) const {
  std::vector<std::vector<std::string>> out;
  std::vector<std::string_view> pieces;
  std::deque<std::string> storage;
  if (!text.empty()) pieces.push_back(text);
  for (const auto& s : steps_) {
    apply(*s, pieces, storage);
    out.emplace_back(pieces.begin(), pieces.end());
  }
  return out;
}

std::vector<std::string> PreTokenizer::step_names() const {
  std::vector<std::string> names;
  for (const auto& s : steps_) names.push_back(s->name);
  return names;
}

}  // namespace ds
