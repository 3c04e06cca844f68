#include "ch01/tokenizer_tour.hpp"

#include <cstdio>

#include "common/rng.hpp"
#include "common/run.hpp"
#include "common/utf8.hpp"

namespace ds::ch01 {

std::string shown(const std::string& bytes) {
  const bool text = is_valid_utf8(bytes);
  std::string s;
  for (char ch : bytes) {
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '\n')
      s += "\\n";
    else if (ch == '\t')
      s += "\\t";
    else if (ch == '"' || ch == '\\') {
      s += '\\';
      s += ch;
    }
    else if (u < 0x20 || (!text && u >= 0x80))
      s += fmt("\\x%02x", u);
    else
      s += ch;
  }
  return "\"" + s + "\"";
}

void print_tokenizer_steps(const Tokenizer& tok, const std::string& name, const std::string& prompt) {
  std::printf("The prompt through %s's tokenizer (%d tokens, %zu added ones such as %s):\n", name.c_str(), tok.vocab_size(),
              tok.added_tokens().size(), tok.special_tokens().empty() ? "-" : tok.special_tokens()[0].c_str());
  const std::vector<std::string> names = tok.pre_tokenizer().step_names();
  const auto steps = tok.pre_tokenizer().trace(prompt);
  for (size_t i = 0; i < steps.size(); ++i) {
    std::string pieces;
    for (const std::string& p : steps[i]) {
      if (!pieces.empty()) pieces += ' ';
      pieces += shown(p);
    }
    std::printf("  pre-tokenizer step %zu, %s:\n    %s\n", i + 1, names[i].c_str(), pieces.c_str());
  }
  const std::vector<int32_t> ids = tok.encode(prompt, true);
  std::printf("  BPE merges each piece's bytes into tokens; with the special tokens the template adds, %zu ids:\n", ids.size());
  Table t({"position", "id", "vocabulary spelling", "text"});
  for (size_t i = 0; i < ids.size(); ++i) t.row({std::to_string(i), std::to_string(ids[i]), tok.token_str(ids[i]), shown(tok.token_bytes(ids[i]))});
  t.print();
  std::printf("\n");
}

std::vector<TextSample> comparison_samples(uint64_t seed) {
  std::vector<TextSample> s;
  s.push_back({"English",
               "The river rose slowly through the night, and by morning the lower fields were under water. Farmers moved their animals "
               "to the hills, carried sacks of grain into the attics, and waited. Nobody in the village could remember a flood like it, "
               "although the old records in the church described one almost two hundred years earlier. When the water finally went down, "
               "it left a layer of dark, rich mud that made the next harvest the best anyone had seen.",
               true});
  s.push_back({"Chinese",
               "河水在夜里慢慢上涨，到了早晨，低处的田地都被淹没了。农民们把牲畜赶到山上，把一袋袋粮食搬进阁楼，然后等待。"
               "村里没有人记得有过这样的洪水，不过教堂里的旧记录描述过大约两百年前的一次。洪水终于退去以后，留下了一层黑色的肥沃淤泥，"
               "第二年的收成是大家见过最好的。",
               false});
  s.push_back({"code",
               "def moving_average(values, window):\n"
               "    if window <= 0:\n"
               "        raise ValueError(\"window must be positive\")\n"
               "    out = []\n"
               "    total = 0.0\n"
               "    for i, v in enumerate(values):\n"
               "        total += v\n"
               "        if i >= window:\n"
               "            total -= values[i - window]\n"
               "        out.append(total / min(i + 1, window))\n"
               "    return out\n\n"
               "for (size_t i = 0; i < n; ++i) {\n"
               "  sum[i] = a[i] * b[i] + c;\n"
               "}\n",
               true});
  Rng rng(seed);
  std::string numbers;
  for (int i = 0; i < 60; ++i) {
    const int digits = 1 + static_cast<int>(rng.uniform() * 12);
    std::string n;
    n += static_cast<char>('1' + static_cast<int>(rng.uniform() * 9));
    const bool decimal = i % 5 == 4 && digits > 2;   // some decimals, two places
    for (int d = 1; d < digits; ++d) {
      if (decimal && d == digits - 2) n += '.';
      n += static_cast<char>('0' + static_cast<int>(rng.uniform() * 10));
    }
    if (!numbers.empty()) numbers += ' ';
    numbers += n;
  }
  s.push_back({"numbers", numbers, true});
  return s;
}

TokenCount count_tokens(const Tokenizer& tok, const TextSample& s) {
  TokenCount c;
  bool in_word = false;
  for (const unsigned char ch : s.text) {
    if ((ch & 0xC0) != 0x80) ++c.characters;   // a code point starts here
    const bool space = ch == ' ' || ch == '\n' || ch == '\t';
    if (!space && !in_word) ++c.words;
    in_word = !space;
  }
  if (!s.has_words) c.words = 0;
  c.tokens = static_cast<int64_t>(tok.encode(s.text).size());
  return c;
}

std::string token_split(const Tokenizer& tok, const std::string& text) {
  std::string out;
  for (const int32_t id : tok.encode(text)) {
    if (!out.empty()) out += '|';
    out += tok.token_bytes(id);
  }
  return out;
}

}  // namespace ds::ch01
