#include <doctest/doctest.h>

#include "ch07/chat_template.hpp"
#include "ch07/task_tokenizer.hpp"
#include "ch07/tasks.hpp"
#include "common/corpus.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;
using namespace ds::ch07;

namespace {
// The core's default corpus (stories and arithmetic lines such as "45 - 18 = 27") plus a few
// task completions: a plain BPE learns number merges from it.
std::vector<std::string> docs() {
  std::vector<std::string> d = corpus::generate_documents(3, 300);
  Rng rng(1);
  for (int k = 0; k < 200; ++k) {
    const Problem p = addition_problem(1 + k % 4, rng);
    d.push_back(ChatTemplate::compact().prompt(p.question) + format_completion(p.reasoning, p.answer));
  }
  return d;
}

bool digits_alone(const Tokenizer& tok, const std::string& text) {
  for (const int32_t id : tok.encode(text)) {
    const std::string b = tok.token_bytes(id);
    bool digit = false;
    for (const char c : b) digit = digit || (c >= '0' && c <= '9');
    if (digit && b.size() != 1) return false;
  }
  return true;
}
}  // namespace

TEST_CASE("task tokenizer: split_digits removes exactly the digit merges and keeps every id") {
  const Tokenizer plain = Tokenizer::train(docs(), 600, {"<|endoftext|>", "<think>", "</think>", "<answer>", "</answer>"});
  const std::string numbers = "Add 345 + 78 and write the sum 45 - 18 = 27 and 1000000";
  REQUIRE(count_digit_merges(plain) > 0);
  CHECK(!digits_alone(plain, numbers));   // the plain tokenizer does join digits
  const Tokenizer split = split_digits(plain);
  CHECK(count_digit_merges(split) == 0);
  CHECK(split.merges().size() == plain.merges().size() - static_cast<size_t>(count_digit_merges(plain)));
  CHECK(split.vocab_size() == plain.vocab_size());
  for (int32_t id = 0; id < plain.vocab_size(); ++id) CHECK(split.token_str(id) == plain.token_str(id));
  CHECK(digits_alone(split, numbers));
  CHECK(split.decode(split.encode(numbers)) == numbers);
  // Text without digits encodes exactly as before.
  const std::string words = "Once upon a time the little fox found a red ball.";
  CHECK(split.encode(words) == plain.encode(words));
  CHECK_THROWS_WITH_AS(check_task_tokenizer(plain), doctest::Contains("merges that join digits"), std::runtime_error);
  check_task_tokenizer(split);
  // It survives a save and load as an ordinary tokenizer.json.
  test::TempDir dir;
  split.save(dir.file("tokenizer.json"));
  const Tokenizer back = Tokenizer::load(dir.file("tokenizer.json"));
  CHECK(back.encode(numbers) == split.encode(numbers));
  CHECK(count_digit_merges(back) == 0);
}

TEST_CASE("task tokenizer: markers are one token each, digits one token each, in a real completion") {
  const Tokenizer tok = train_task_tokenizer(docs(), 500);
  check_task_tokenizer(tok);
  CHECK(count_digit_merges(tok) == 0);
  for (const auto& m : template_special_tokens()) {
    const auto ids = tok.encode(m);
    REQUIRE(ids.size() == 1);
    CHECK(ids[0] == tok.token_id(m));
  }
  Rng rng(3);
  const Problem p = addition_problem(6, rng);
  const std::string text = ChatTemplate::r1().prompt(p.question) + format_completion(p.reasoning, p.answer) + "<|endoftext|>";
  CHECK(digits_alone(tok, text));
  CHECK(tok.decode(tok.encode(text)) == text);
  int markers = 0;
  for (const int32_t id : tok.encode(format_completion(p.reasoning, p.answer)))
    for (const auto& m : template_special_tokens()) markers += id == tok.token_id(m);
  CHECK(markers == 4);
  // The reversed sum: one token per digit, so answer tokens == answer digits.
  const auto answer_ids = tok.encode(p.answer);
  CHECK(answer_ids.size() == p.answer.size());
}

TEST_CASE("task tokenizer: a tokenizer without the markers is refused in one sentence") {
  const Tokenizer tok = Tokenizer::train({"some text 12 34"}, 300);
  CHECK_THROWS_WITH_AS(check_task_tokenizer(tok),
                       "the tokenizer has no special token <think>: the chat template needs <think> as one token (add it to the tokenizer and grow the model)",
                       std::runtime_error);
}
