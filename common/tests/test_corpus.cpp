#include <doctest/doctest.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "common/corpus.hpp"
#include "test_helpers.hpp"

using namespace ds;
using test::error_of;
using namespace ds::corpus;
namespace fs = std::filesystem;

namespace {


std::vector<std::string> lower_words(const std::string& text) {
  std::vector<std::string> words;
  std::string w;
  for (const char c : text + " ") {
    if (std::isalpha(static_cast<unsigned char>(c))) {
      w += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!w.empty()) {
      words.push_back(w);
      w.clear();
    }
  }
  return words;
}

}  // namespace

TEST_CASE("corpus: the same seed gives the same documents, a longer run extends a shorter") {
  const auto a = generate_documents(7, 50), b = generate_documents(7, 80),
             c = generate_documents(8, 50);
  REQUIRE(a.size() == 50);
  CHECK(std::equal(a.begin(), a.end(), b.begin()));
  CHECK(a != c);
  CHECK(make_document(7, 3).text == a[3]);
}

TEST_CASE("corpus: stories are well-formed, 3 to 8 sentences, about 1 in 5 is arithmetic") {
  int arithmetic = 0;
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    const Document d = make_document(1, i);
    CHECK(!d.text.empty());
    CHECK(d.text.find("<|endoftext|>") == std::string::npos);
    CHECK(d.text.find("\n\n") == std::string::npos);   // blank lines would split a document
    if (d.arithmetic) {
      ++arithmetic;
      continue;
    }
    INFO(d.text);
    CHECK(d.sentences >= 3);
    CHECK(d.sentences <= 8);
    CHECK(d.text.find_first_of("{}") == std::string::npos);   // every slot was filled
    CHECK(std::isupper(static_cast<unsigned char>(d.text[0])));
    CHECK(std::string(".!?\"").find(d.text.back()) != std::string::npos);
    CHECK(d.text.find(d.characters[0].name) != std::string::npos);
  }
  CHECK(arithmetic > n * 15 / 100);
  CHECK(arithmetic < n * 25 / 100);
}

TEST_CASE("corpus: arithmetic lines are always correct") {
  int lines = 0;
  std::set<char> ops;
  for (int i = 0; i < 1000; ++i) {
    const Document d = make_document(2, i);
    if (!d.arithmetic) continue;
    std::istringstream in(d.text);
    std::string line;
    int count = 0;
    while (std::getline(in, line)) {
      std::istringstream parse(line);
      long a, b, c;
      char op, eq;
      REQUIRE_MESSAGE(static_cast<bool>(parse >> a >> op >> b >> eq >> c), line);
      CHECK(eq == '=');
      const long expect = op == '+' ? a + b : op == '-' ? a - b : a * b;
      CHECK_MESSAGE(c == expect, line);
      CHECK(c >= 0);
      ops.insert(op);
      ++count;
    }
    CHECK(count == d.sentences);
    CHECK(count >= 3);
    CHECK(count <= 8);
    lines += count;
  }
  CHECK(lines > 500);
  CHECK(ops == std::set<char>{'+', '-', '*'});
}

TEST_CASE("corpus: a character's pronouns never change within a story") {
  const std::set<std::string> third_person = {"she",  "her",   "herself",   "he",
                                              "him",  "his",   "himself",   "they",
                                              "them", "their", "themselves"};
  int checked = 0, they_heroes = 0;
  for (int i = 0; i < 3000; ++i) {
    const Document d = make_document(3, i);
    if (d.arithmetic) continue;
    std::set<std::string> allowed;
    for (const Character& c : d.characters) {
      const PronounSet& p = pronoun_set(c.pronoun);
      allowed.insert({p.subject, p.object, p.possessive, p.reflexive});
    }
    INFO(d.text);
    for (const std::string& w : lower_words(d.text))
      if (third_person.count(w)) CHECK_MESSAGE(allowed.count(w), "unexpected pronoun: " << w);
    // Verb agreement: "they were", never "they was" or "she were".
    const auto words = lower_words(d.text);
    for (size_t k = 0; k + 1 < words.size(); ++k) {
      if (words[k] == "they") CHECK(words[k + 1] != "was");
      if (words[k] == "she" || words[k] == "he") CHECK(words[k + 1] != "were");
    }
    if (d.characters[0].pronoun == Pronoun::They) ++they_heroes;
    ++checked;
  }
  CHECK(checked > 2000);
  CHECK(they_heroes > 200);
}

TEST_CASE("corpus: enough variety that documents do not repeat") {
  const int n = 5000;
  std::set<std::string> texts, heroes;
  for (int i = 0; i < n; ++i) {
    const Document d = make_document(4, i);
    texts.insert(d.text);
    if (!d.arithmetic) heroes.insert(d.characters[0].name);
  }
  CHECK(texts.size() > n * 995 / 1000);
  CHECK(heroes.size() >= 95);
}

TEST_CASE("corpus: generate_text joins documents with <|endoftext|>") {
  const std::string text = generate_text(5, 20000);
  CHECK(text.size() >= 20000);
  CHECK(text.size() < 21000);
  const auto docs = split_documents(text);
  CHECK(docs == generate_documents(5, docs.size()));
  CHECK(generate_text(5, 0) == docs[0]);   // at least one document
}

TEST_CASE("corpus: split_documents on blank lines, or on <|endoftext|> when present") {
  using V = std::vector<std::string>;
  CHECK(split_documents("one\ntwo\n\nthree\r\n  \r\nfour\n\n\n") == V{"one\ntwo", "three", "four"});
  CHECK(split_documents("a\n\nb<|endoftext|>  c <|endoftext|><|endoftext|>") == V{"a\n\nb", "c"});
  CHECK(split_documents(" \n\n \t ").empty());
  CHECK(split_documents("single") == V{"single"});
}

TEST_CASE("corpus: load_documents reads any text file, bad files give one sentence") {
  const fs::path dir = fs::temp_directory_path() / ("ds_test_corpus_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string good = (dir / "good.txt").string();
  std::ofstream(good, std::ios::binary) << "\xEF\xBB\xBFПривет, мир.\n\n天地玄黄\nsecond line\n";
  CHECK(load_documents(good) == std::vector<std::string>{"Привет, мир.", "天地玄黄\nsecond line"});

  const std::string missing = (dir / "missing.txt").string();
  CHECK(error_of([&] { load_documents(missing); }) ==
        "load_documents: cannot read '" + missing + "': No such file or directory");
  const std::string empty = (dir / "empty.txt").string();
  std::ofstream(empty) << "\n  \n";
  CHECK(error_of([&] { load_documents(empty); }) ==
        "load_documents: '" + empty + "' contains no text");
  CHECK(error_of([&] { load_documents(dir.string()); }).rfind("load_documents: cannot read", 0) ==
        0);
  fs::remove_all(dir);
}
