#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "common/corpus.hpp"
#include "common/regex.hpp"
#include "common/rng.hpp"
#include "common/tokenizer.hpp"
#include "common/utf8.hpp"
#include "test_helpers.hpp"

using namespace ds;
using test::error_of;
namespace fs = std::filesystem;

namespace {


fs::path temp_dir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("ds_test_tokenizer_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

const std::vector<std::string> kMultilingual = {"天地玄黄，宇宙洪荒。",
                                                "Γειά σου Κόσμε! Καλημέρα.",
                                                "emoji 🙂🚀👩‍👩‍👧 and café",
                                                "Привет, мир",
                                                "naïve façade — “quotes” ‘single’",
                                                "mixed 中文 and English 123",
                                                "tabs\tand\r\nwindows\n\nlines   ",
                                                "   leading spaces",
                                                "don't we'll I'm they're it's",
                                                ""};

// One tokenizer trained on the procedural stories, shared by tests.
const Tokenizer& story_tokenizer() {
  static const Tokenizer tok = [] {
    std::vector<std::string> docs = corpus::generate_documents(1, 400);
    return Tokenizer::train(docs, 512);
  }();
  return tok;
}

}  // namespace

TEST_CASE("tokenizer: bytes_to_unicode is GPT-2's printable byte map") {
  const auto& b2u = bytes_to_unicode();
  CHECK(std::set<std::string>(b2u.begin(), b2u.end()).size() == 256);
  CHECK(b2u['a'] == "a");
  CHECK(b2u['!'] == "!");
  CHECK(b2u[' '] == "Ġ");   // U+0120: the 33rd moved byte
  CHECK(b2u['\n'] == "Ċ");   // U+010A
  CHECK(b2u[0] == "Ā");   // U+0100: the first moved byte
  CHECK(b2u[0xAD] == "Ń");   // U+0143: the soft hyphen, the last moved byte
  CHECK(b2u[0xE9] == "é");   // Latin-1 letters keep their own character
}

TEST_CASE("tokenizer: the pre-tokenizer splits like GPT-2's regex and covers the text") {
  using V = std::vector<std::string_view>;
  CHECK(pretokenize("Hello world's  end\n") == V{"Hello", " world", "'s", " ", " end", "\n"});
  CHECK(pretokenize("don't 123+45=  x") == V{"don", "'t", " 123", "+", "45", "=", " ", " x"});
  CHECK(pretokenize("a\n\nb") == V{"a", "\n", "\n", "b"});
  CHECK(pretokenize("Hi!! \"ok\"") == V{"Hi", "!!", " \"", "ok", "\""});
  CHECK(pretokenize("x\tY  ") == V{"x", "\t", "Y", "  "});
  CHECK(pretokenize("café 中文") == V{"café", " 中文"});
  CHECK(pretokenize("").empty());
  std::string joined;
  for (auto p : pretokenize("  many   spaces\t\tand\n  lines\n")) joined += p;
  CHECK(joined == "  many   spaces\t\tand\n  lines\n");
}

TEST_CASE("tokenizer: training merges the most frequent pair first, ties by smaller ids") {
  // Words: "ab", " ab" x2, " cd". Pair counts: (a,b)=3, (Ġ,a)=2, (Ġ,c)=1, (c,d)=1.
  const Tokenizer tok = Tokenizer::train({"ab ab ab cd"}, 256 + 3 + 1);
  REQUIRE(tok.merges().size() == 3);
  auto merge_str = [&](size_t k) {
    return tok.token_str(tok.merges()[k].first) + " " + tok.token_str(tok.merges()[k].second);
  };
  CHECK(merge_str(0) == "a b");
  CHECK(merge_str(1) == "Ġ ab");
  CHECK(merge_str(2) == "Ġ c");   // (Ġ=32, c=99) beats (c=99, d=100)
  CHECK(tok.vocab_size() == 260);
  CHECK(tok.eot_id() == 259);   // special tokens take the last ids
  CHECK(tok.token_id("Ġab") == 257);
  CHECK(tok.encode("ab ab") == std::vector<int32_t>{256, 257});
}

// The textbook algorithm: recount every pair of every word after each merge. Slow, but
// obviously right; the incremental trainer must pick exactly the same merges.
std::vector<std::string> naive_merges(const std::vector<std::string>& docs, int n_merges) {
  std::map<std::string, int64_t> counts;
  for (const auto& d : docs)
    for (auto w : pretokenize(d)) ++counts[std::string(w)];
  std::vector<std::pair<std::vector<std::string>, int64_t>> words;
  for (const auto& [w, c] : counts) {
    std::vector<std::string> symbols;
    for (const char ch : w) symbols.push_back(bytes_to_unicode()[static_cast<unsigned char>(ch)]);
    words.emplace_back(symbols, c);
  }
  std::map<std::string, int> id = {};
  for (int b = 0; b < 256; ++b) id[bytes_to_unicode()[b]] = b;
  std::vector<std::string> merges;
  for (int k = 0; k < n_merges; ++k) {
    std::map<std::pair<int, int>, int64_t> pairs;   // by ids, so ties go to the smaller ids
    for (const auto& [s, c] : words)
      for (size_t i = 0; i + 1 < s.size(); ++i) pairs[{id[s[i]], id[s[i + 1]]}] += c;
    std::pair<int, int> best{-1, -1};
    int64_t best_count = 0;
    for (const auto& [p, c] : pairs)
      if (c > best_count) best = p, best_count = c;
    if (best_count == 0) break;
    std::string left, right;
    for (const auto& [t, i] : id) {
      if (i == best.first) left = t;
      if (i == best.second) right = t;
    }
    merges.push_back(left + " " + right);
    id.emplace(left + right, static_cast<int>(id.size()));
    for (auto& [s, c] : words) {
      std::vector<std::string> out;
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == left && s[i + 1] == right)
          out.push_back(left + right), ++i;
        else
          out.push_back(s[i]);
      }
      s = out;
    }
  }
  return merges;
}

TEST_CASE("tokenizer: incremental training picks the same merges as the textbook algorithm") {
  std::vector<std::string> docs = corpus::generate_documents(12, 40);
  Rng rng(4);
  for (int d = 0; d < 30; ++d) {   // runs like "aaaa" stress overlapping pairs
    std::string s;
    for (int i = 0; i < 60; ++i) s += "ab  "[rng.randint(4)];
    docs.push_back(s);
  }
  const int n_merges = 120;
  const Tokenizer tok = Tokenizer::train(docs, 256 + n_merges + 1);
  std::vector<std::string> got;
  for (const auto& [a, b] : tok.merges()) got.push_back(tok.token_str(a) + " " + tok.token_str(b));
  CHECK(got == naive_merges(docs, static_cast<int>(tok.merges().size())));
  CHECK(tok.merges().size() == n_merges);
}

TEST_CASE("tokenizer: training reaches vocab_size, is deterministic, and compresses") {
  const std::vector<std::string> docs = corpus::generate_documents(3, 300);
  const Tokenizer a = Tokenizer::train(docs, 400), b = Tokenizer::train(docs, 400);
  CHECK(a.vocab_size() == 400);
  CHECK(a.merges() == b.merges());
  CHECK(a.token_id("<|endoftext|>") == 399);
  std::string text;
  for (const auto& d : docs) text += d;
  const auto ids = a.encode(text);
  CHECK(ids.size() * 3 < text.size() * 2);   // 143 merges already pack 1.5+ bytes per token
  // A tiny corpus runs out of pairs: training stops early instead of inventing tokens.
  const Tokenizer small = Tokenizer::train({"abc"}, 1000);
  CHECK(small.vocab_size() == 256 + 2 + 1);
}

TEST_CASE("tokenizer: decode_bytes(encode(s)) == s for random bytes, decode(encode(s)) == s for multilingual text") {
  const Tokenizer& tok = story_tokenizer();
  Rng rng(5);
  for (int trial = 0; trial < 300; ++trial) {
    std::string s(static_cast<size_t>(rng.randint(200)), '\0');
    for (char& c : s) c = static_cast<char>(rng.randint(256));   // includes invalid UTF-8
    CHECK(tok.decode_bytes(tok.encode(s)) == s);
    CHECK(tok.decode(tok.encode(s)) == valid_utf8(s));   // as Hugging Face's decode: U+FFFD for what is not UTF-8
  }
  const Tokenizer multi = Tokenizer::train(kMultilingual, 2000);
  CHECK(multi.vocab_size() < 2000);
  for (const auto& s : kMultilingual) {
    CHECK(tok.decode(tok.encode(s)) == s);
    const auto ids = multi.encode(s);
    CHECK(multi.decode(ids) == s);
    // Trained to exhaustion, every word it saw is one token, in any script.
    CHECK(ids.size() == pretokenize(s).size());
  }
  const std::string story = corpus::make_document(99, 0).text;
  CHECK(tok.decode(tok.encode(story)) == story);
}

TEST_CASE("tokenizer: special tokens written in text become one id") {
  const Tokenizer& tok = story_tokenizer();
  const int32_t eot = tok.eot_id();
  REQUIRE(eot == 511);
  const auto ids = tok.encode("Hi<|endoftext|><|endoftext|>there");
  CHECK(std::count(ids.begin(), ids.end(), eot) == 2);
  CHECK(tok.decode(ids) == "Hi<|endoftext|><|endoftext|>there");
  const auto partial = tok.encode("<|endoftext| <|endoftext");
  CHECK(std::count(partial.begin(), partial.end(), eot) == 0);
  CHECK(tok.decode(partial) == "<|endoftext| <|endoftext");
  const Tokenizer two = Tokenizer::train({"hello world"}, 300, {"<|endoftext|>", "<|pad|>"});
  const auto mixed = two.encode("a<|pad|>b<|endoftext|>");
  CHECK(mixed == std::vector<int32_t>{'a', two.token_id("<|pad|>"), 'b', two.eot_id()});
}

TEST_CASE("tokenizer: special tokens added after training get the next ids, encode as one id and survive tokenizer.json") {
  Tokenizer tok = story_tokenizer();
  const std::string text = "<|User|>What is 2 + 3?<|Assistant|><think>2 + 3 = 5</think><answer>5</answer><|endoftext|>";
  const auto plain = tok.encode(text);
  const std::vector<std::string> added = {"<think>", "</think>", "<answer>", "</answer>", "<|User|>", "<|Assistant|>"};
  const auto ids = tok.add_special_tokens(added);
  CHECK(ids == std::vector<int32_t>{512, 513, 514, 515, 516, 517});
  CHECK(tok.vocab_size() == 518);
  CHECK(tok.eot_id() == 511);
  CHECK(tok.add_special_tokens({"<think>", "<|endoftext|>"}) == std::vector<int32_t>{512, 511});   // already special: same ids
  CHECK(tok.vocab_size() == 518);
  const auto enc = tok.encode(text);
  CHECK(enc.size() < plain.size());
  CHECK(enc.front() == 516);
  for (int32_t id : ids) CHECK(std::count(enc.begin(), enc.end(), id) == 1);
  CHECK(tok.decode(enc) == text);
  CHECK(tok.encode("the cat") == story_tokenizer().encode("the cat"));   // ordinary text is unchanged
  CHECK(error_of([&] { tok.add_special_tokens({"a"}); }).find("already an ordinary token") != std::string::npos);
  CHECK(error_of([&] { tok.add_special_tokens({""}); }).find("empty string") != std::string::npos);

  const fs::path dir = temp_dir("added");
  const std::string path = (dir / "tokenizer.json").string();
  tok.save(path);
  const nlohmann::json j = nlohmann::json::parse(std::ifstream(path));
  CHECK(j["added_tokens"].size() == 7);
  CHECK(j["added_tokens"][1]["content"] == "<think>");
  CHECK(j["added_tokens"][1]["id"] == 512);
  CHECK(j["added_tokens"][6]["special"] == true);
  const Tokenizer back = Tokenizer::load(path);
  CHECK(back.vocab_size() == 518);
  CHECK(back.encode(text) == enc);
  fs::remove_all(dir);
}

TEST_CASE("tokenizer: encoding is word by word, and a copy (empty cache) agrees") {
  const Tokenizer& tok = story_tokenizer();
  const std::string text = corpus::generate_text(11, 3000);
  const auto whole = tok.encode(text);
  const Tokenizer copy = tok;
  CHECK(copy.encode(text) == whole);
  std::vector<int32_t> pieces;
  const std::string first_doc = text.substr(0, text.find("<|endoftext|>"));
  for (auto w : pretokenize(first_doc)) {
    const auto ids = tok.encode(w);
    pieces.insert(pieces.end(), ids.begin(), ids.end());
  }
  CHECK(pieces == tok.encode(first_doc));
  CHECK_THROWS_AS(tok.decode({0, 512}), std::out_of_range);
  CHECK_THROWS_AS(tok.token_str(-1), std::out_of_range);
  CHECK(tok.token_id("no such token") == -1);
  CHECK(tok.token_bytes(tok.token_id("Ġ")) == " ");
}

TEST_CASE("tokenizer: tokenizer.json round trip in the Hugging Face layout") {
  const Tokenizer& tok = story_tokenizer();
  const fs::path dir = temp_dir("json");
  const std::string path = (dir / "tokenizer.json").string();
  tok.save(path);
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}) ==
        1);   // no temp left

  const nlohmann::json j = nlohmann::json::parse(std::ifstream(path));
  CHECK(j["version"] == "1.0");
  CHECK(j["model"]["type"] == "BPE");
  CHECK(j["model"]["vocab"].size() == 512);
  CHECK(j["model"]["vocab"]["Ġ"] == 32);
  CHECK(j["model"]["merges"].size() == tok.merges().size());
  CHECK(j["model"]["merges"][0].is_string());
  CHECK(j["added_tokens"][0]["content"] == "<|endoftext|>");
  CHECK(j["added_tokens"][0]["id"] == 511);
  CHECK(j["added_tokens"][0]["special"] == true);
  CHECK(j["pre_tokenizer"]["type"] == "ByteLevel");
  CHECK(j["decoder"]["type"] == "ByteLevel");

  const Tokenizer back = Tokenizer::load(path);
  CHECK(back.vocab_size() == tok.vocab_size());
  CHECK(back.merges() == tok.merges());
  const std::string text = corpus::generate_text(2, 5000) + kMultilingual[2];
  CHECK(back.encode(text) == tok.encode(text));

  // Newer `tokenizers` versions write each merge as ["a", "b"].
  nlohmann::json newer = j;
  for (auto& m : newer["model"]["merges"]) {
    const std::string s = m;
    m = nlohmann::json::array({s.substr(0, s.find(' ')), s.substr(s.find(' ') + 1)});
  }
  write_text(dir / "newer.json", newer.dump());
  CHECK(Tokenizer::load((dir / "newer.json").string()).encode(text) == tok.encode(text));
  fs::remove_all(dir);
}

TEST_CASE("tokenizer: GPT-2 vocab.json + merges.txt") {
  const fs::path dir = temp_dir("gpt2");
  write_text(dir / "vocab.json",
             R"({"h": 0, "e": 1, "l": 2, "o": 3, "Ġ": 4, "he": 5, "ll": 6, "hell": 7,
                 "hello": 8, "Ġhello": 9, "<|endoftext|>": 10})");
  write_text(dir / "merges.txt", "#version: 0.2\nh e\nl l\nhe ll\nhell o\nĠ hello\n");
  const Tokenizer tok =
      Tokenizer::load_gpt2((dir / "vocab.json").string(), (dir / "merges.txt").string());
  CHECK(tok.vocab_size() == 11);
  CHECK(tok.encode("hello") == std::vector<int32_t>{8});
  CHECK(tok.encode("hello hello") == std::vector<int32_t>{8, 9});
  CHECK(tok.encode("hell") == std::vector<int32_t>{7});
  CHECK(tok.encode("oleh") == std::vector<int32_t>{3, 2, 1, 0});
  CHECK(tok.encode("hello<|endoftext|>") == std::vector<int32_t>{8, 10});
  CHECK(tok.decode({9, 10, 5}) == " hello<|endoftext|>he");
  CHECK(error_of([&] { tok.encode("x"); }) ==
        "Tokenizer::encode: the vocabulary has no token for byte 0x78, so this text cannot be "
        "encoded");
  fs::remove_all(dir);
}

TEST_CASE("tokenizer: bad files and arguments give one clear sentence") {
  const fs::path dir = temp_dir("errors");
  const std::string missing = (dir / "missing.json").string();
  CHECK(error_of([&] { Tokenizer::load(missing); }) ==
        "Tokenizer::load: cannot read '" + missing + "': No such file or directory");

  write_text(dir / "bad.json", "{\"model\": {\"vocab\": ");
  CHECK(error_of([&] { Tokenizer::load((dir / "bad.json").string()); }) ==
        "Tokenizer::load: '" + (dir / "bad.json").string() + "' is not valid JSON");

  const std::string unknown = (dir / "unknown.json").string();
  write_text(unknown, R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2},
                          "merges": ["a b", "a q"]}})");
  CHECK(error_of([&] { Tokenizer::load(unknown); }) ==
        "Tokenizer::load('" + unknown +
            "'): merge 2 ('a q') names a token that is not in the vocabulary");

  const std::string number = (dir / "number.json").string();   // a merge that is not text: named, not a library type error
  write_text(number, R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b", 12]}})");
  CHECK(error_of([&] { Tokenizer::load(number); }) ==
        "Tokenizer::load('" + number + "'): merge 2 is 12, not a string \"a b\" or a pair [\"a\", \"b\"] of token strings");
  write_text(number, R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", 1]]}})");
  CHECK(error_of([&] { Tokenizer::load(number); }).find("merge 1 is [\"a\",1], not a string") != std::string::npos);
  write_text(number, R"({"model": {"type": "BPE", "vocab": {"a": "zero"}, "merges": []}})");
  CHECK(error_of([&] { Tokenizer::load(number); }).find("json.exception") == std::string::npos);

  const std::string gap = (dir / "gap.json").string();
  write_text(gap, R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 2}, "merges": []}})");
  CHECK(error_of([&] { Tokenizer::load(gap); }).find("no token has id 1") != std::string::npos);

  const std::string wordpiece = (dir / "wp.json").string();
  write_text(wordpiece, R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}})");
  CHECK(error_of([&] { Tokenizer::load(wordpiece); }) ==
        "Tokenizer::load('" + wordpiece + "'): the model type is \"WordPiece\", not BPE");

  const std::string no_model = (dir / "nomodel.json").string();
  write_text(no_model, R"({"version": "1.0"})");
  CHECK(error_of([&] {
          Tokenizer::load(no_model);
        }).find("does not have the tokenizer.json layout") != std::string::npos);

  write_text(dir / "vocab.json", R"({"a": 0, "b": 1})");
  write_text(dir / "merges.txt", "#version: 0.2\na b c\n");
  CHECK(error_of([&] {
          Tokenizer::load_gpt2((dir / "vocab.json").string(), (dir / "merges.txt").string());
        }).find("line 2 of merges.txt ('a b c') is not two tokens separated by one space") !=
        std::string::npos);

  CHECK(error_of([] { Tokenizer::train({"abc"}, 256); }) ==
        "Tokenizer::train: vocab_size 256 is smaller than the 256 byte tokens plus 1 special "
        "token(s)");
  CHECK(error_of([] {
          Tokenizer::train({"abc"}, 300, {"<s>", "<s>"});
        }) == "Tokenizer::train: the special token '<s>' is listed twice");
  CHECK(error_of([&] {
          story_tokenizer().save((dir / "no_dir" / "t.json").string());
        }).rfind("Tokenizer::save: cannot write", 0) == 0);
  fs::remove_all(dir);
}

TEST_CASE("tokenizer: Split's five behaviors and invert cut as Hugging Face's SplitDelimiterBehavior does") {
  // The example of tokenizers' documentation: "the-final--countdown" split on "-".
  using V = std::vector<std::string_view>;
  const Regex dash = Regex::literal("-");
  const auto cut = [&](SplitBehavior b, bool invert) {
    V out;
    split_by("the-final--countdown", dash, b, invert, out);
    return out;
  };
  CHECK(cut(SplitBehavior::Removed, false) == V{"the", "final", "countdown"});
  CHECK(cut(SplitBehavior::Isolated, false) == V{"the", "-", "final", "-", "-", "countdown"});
  CHECK(cut(SplitBehavior::MergedWithPrevious, false) == V{"the-", "final-", "-", "countdown"});
  CHECK(cut(SplitBehavior::MergedWithNext, false) == V{"the", "-final", "-", "-countdown"});
  CHECK(cut(SplitBehavior::Contiguous, false) == V{"the", "-", "final", "--", "countdown"});
  CHECK(cut(SplitBehavior::Removed, true) == V{"-", "-", "-"});   // inverted: the words are the delimiters
  CHECK(cut(SplitBehavior::MergedWithNext, true) == V{"the-", "final-", "-", "countdown"});
  V digits;
  split_by("a1234b", Regex("\\p{N}{1,3}"), SplitBehavior::Isolated, false, digits);
  CHECK(digits == V{"a", "123", "4", "b"});
  V astral;   // a range above U+FFFF and a property class: what std::regex cannot do
  split_by("x𠀀𠀁y", Regex("[\\x{20000}-\\x{2A6DF}]+"), SplitBehavior::Isolated, false, astral);
  CHECK(astral == V{"x", "𠀀𠀁", "y"});
}

TEST_CASE("tokenizer: tokenizer.json parts this reader does not know are refused in one sentence naming them") {
  const fs::path dir = temp_dir("refused");
  const std::string base = R"("model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]})";
  const auto error_for = [&](const std::string& extra) {
    const std::string p = (dir / "t.json").string();
    write_text(p, "{" + base + ", " + extra + "}");
    const std::string e = error_of([&] { Tokenizer::load(p); });
    const std::string prefix = "Tokenizer::load('" + p + "'): ";
    return e.rfind(prefix, 0) == 0 ? e.substr(prefix.size()) : e;
  };
  CHECK(error_for(R"("normalizer": {"type": "NFC"})") == "the normalizer type \"NFC\" is not supported (this reader knows null and Sequence)");
  CHECK(error_for(R"("normalizer": {"type": "Sequence", "normalizers": [{"type": "Lowercase"}]})") ==
        "the normalizer type \"Lowercase\" is not supported (this reader knows null and Sequence)");
  CHECK(error_for(R"("pre_tokenizer": {"type": "Metaspace"})") ==
        "the pre-tokenizer type Metaspace is not supported (this reader knows Sequence, Split, Digits and ByteLevel)");
  CHECK(error_for(R"("pre_tokenizer": {"type": "Digits"})") ==
        "the pre-tokenizer has no ByteLevel step, so its vocabulary is not byte-level BPE, the only kind this reader knows");
  CHECK(error_for(R"("pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "ByteLevel"}, {"type": "Digits"}]})") ==
        "the pre-tokenizer step Digits comes after ByteLevel; this reader needs ByteLevel last, where pieces become bytes");
  const std::string sideways = R"("pre_tokenizer": {"type": "Sequence", "pretokenizers": [)"
                               R"({"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Sideways"}, {"type": "ByteLevel"}]})";
  CHECK(error_for(sideways) == "the Split behavior 'Sideways' is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous");
  const std::string unclosed = R"("pre_tokenizer": {"type": "Sequence", "pretokenizers": [)"
                               R"({"type": "Split", "pattern": {"Regex": "(a"}, "behavior": "Isolated"}, {"type": "ByteLevel"}]})";
  CHECK(error_for(unclosed) == "the regex '(a' does not compile: missing closing parenthesis at offset 2");
  CHECK(error_for(R"("post_processor": {"type": "BertProcessing"})") ==
        "the post_processor type \"BertProcessing\" is not supported (this reader knows ByteLevel, TemplateProcessing and Sequence)");
  CHECK(error_for(R"("decoder": {"type": "WordPiece"})") == "the decoder type \"WordPiece\" is not supported (this reader knows ByteLevel)");
  CHECK(error_for(R"("decoder": null)") == "the decoder type null is not supported (this reader knows ByteLevel)");
  CHECK(error_for(R"("truncation": {"max_length": 8})") == "truncation is set, which this reader does not support");
  CHECK(error_for(R"("added_tokens": [{"id": 3, "content": "<x>", "single_word": true}])") ==
        "the added token '<x>' is single_word, which this reader does not support");
  fs::remove_all(dir);
}

TEST_CASE("tokenizer: added tokens' lstrip, rstrip and normalized, ignore_merges and TemplateProcessing follow the file") {
  const fs::path dir = temp_dir("added");
  const std::string p = (dir / "t.json").string();
  // Vocabulary: the bytes a, b, space (Ġ), "ab", "abb"; merges a+b only, so "abb" is reachable
  // only through ignore_merges.
  write_text(p, R"({"added_tokens": [{"id": 5, "content": "<L>", "lstrip": true, "special": true},
                                     {"id": 6, "content": "<R>", "rstrip": true, "special": false, "normalized": true},
                                     {"id": 7, "content": "<s>", "special": true}],
    "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                       "special_tokens": {"<s>": {"id": "<s>", "ids": [7], "tokens": ["<s>"]}}},
    "model": {"type": "BPE", "ignore_merges": true, "vocab": {"a": 0, "b": 1, "Ġ": 2, "ab": 3, "abb": 4}, "merges": ["a b"]}})");
  const Tokenizer t = Tokenizer::load(p);
  CHECK(t.encode("ab  <L>b") == std::vector<int32_t>{3, 5, 1});        // <L> takes the spaces before it
  CHECK(t.encode("a<R>  b") == std::vector<int32_t>{0, 6, 1});         // <R> the spaces after it
  CHECK(t.encode("abb") == std::vector<int32_t>{4});                   // ignore_merges: a whole-piece token wins
  CHECK(t.encode("ab", true) == std::vector<int32_t>{7, 3});           // the template's <s> first
  CHECK(t.added_tokens()[1].normalized);
  CHECK_FALSE(t.added_tokens()[1].special);
  // save() keeps what was read.
  t.save((dir / "back.json").string());
  const Tokenizer back = Tokenizer::load((dir / "back.json").string());
  CHECK(back.encode("ab  <L>b") == t.encode("ab  <L>b"));
  CHECK(back.encode("abb") == std::vector<int32_t>{4});
  CHECK(back.encode("ab", true) == std::vector<int32_t>{7, 3});
  fs::remove_all(dir);
}
