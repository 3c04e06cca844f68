#include "ch07/task_tokenizer.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "ch07/chat_template.hpp"
#include "common/fsutil.hpp"

namespace ds::ch07 {
namespace {

bool has_digit(const std::string& bytes) {
  return std::any_of(bytes.begin(), bytes.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A file in the temp directory, removed when this goes out of scope.
struct TempFile {
  std::string path;
  TempFile() {
    static std::atomic<int> counter{0};
    path = (std::filesystem::temp_directory_path() /
            ("ds_ch07_tokenizer_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".json"))
               .string();
  }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
};

}  // namespace

int count_digit_merges(const Tokenizer& tok) {
  int n = 0;
  for (const auto& [a, b] : tok.merges()) n += has_digit(tok.token_bytes(a) + tok.token_bytes(b));
  return n;
}

Tokenizer split_digits(const Tokenizer& tok) {
  if (count_digit_merges(tok) == 0) return tok;
  // The core's Tokenizer is assembled (and checked) only by its loaders, so the edit goes
  // through its own tokenizer.json: drop the digit merges, load the result.
  TempFile file;
  tok.save(file.path);
  nlohmann::json j = nlohmann::json::parse(read_text_file(file.path));
  nlohmann::json kept = nlohmann::json::array();
  const auto& merges = tok.merges();
  for (size_t k = 0; k < merges.size(); ++k)
    if (!has_digit(tok.token_bytes(merges[k].first) + tok.token_bytes(merges[k].second))) kept.push_back(j["model"]["merges"][k]);
  j["model"]["merges"] = kept;
  write_file_atomic(file.path, j.dump());
  return Tokenizer::load(file.path);
}

Tokenizer train_task_tokenizer(const std::vector<std::string>& docs, int vocab_size) {
  std::vector<std::string> no_digits;
  no_digits.reserve(docs.size());
  for (const auto& d : docs) {
    std::string s;
    std::copy_if(d.begin(), d.end(), std::back_inserter(s), [](char c) { return c < '0' || c > '9'; });
    no_digits.push_back(std::move(s));
  }
  std::vector<std::string> specials = {std::string(kEndOfText)};
  for (auto& m : template_special_tokens()) specials.push_back(std::move(m));
  return split_digits(Tokenizer::train(no_digits, vocab_size, specials));
}

void check_task_tokenizer(const Tokenizer& tok) {
  for (const auto& m : template_special_tokens()) {
    const auto& sp = tok.special_tokens();
    if (std::find(sp.begin(), sp.end(), m) == sp.end())
      throw std::runtime_error("the tokenizer has no special token " + m + ": the chat template needs " + m +
                               " as one token (add it to the tokenizer and grow the model)");
  }
  if (count_digit_merges(tok) > 0)
    throw std::runtime_error("the tokenizer has " + std::to_string(count_digit_merges(tok)) +
                             " merges that join digits, so numbers would not be one token per digit (use split_digits)");
}

}  // namespace ds::ch07
