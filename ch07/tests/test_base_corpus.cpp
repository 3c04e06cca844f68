#include <doctest/doctest.h>

#include "ch07/base_corpus.hpp"
#include "ch07/grpo_learner.hpp"
#include "ch07/plain_pretrain.hpp"
#include "ch07/task_tokenizer.hpp"

using namespace ds;
using namespace ds::ch07;

namespace {
Problem sum_345_78() {
  Rng rng(1);
  Problem p = addition_problem(3, rng);
  p.numbers = {"345", "78"};
  p.reasoning = "5+8=13, 4+7+1=12, 3+1=4";
  p.answer = "324";
  p.target = "423";
  p.question = "Add 345 + 78 and write the sum least significant digit first";
  return p;
}
}  // namespace

TEST_CASE("the base corpus: sums plainly, worked in the textbook, tags only around unrelated text, never the template") {
  Rng rng(5);
  int plain = 0, textbook = 0, tagged = 0;
  for (int i = 0; i < 600; ++i) {
    const std::string d = corpus_doc(CorpusMix{}, {1, 2, 3, 4}, {}, rng);
    INFO(d);
    CHECK(d.find("User") == std::string::npos);
    CHECK(d.find("Assistant") == std::string::npos);
    CHECK(d.find("A conversation") == std::string::npos);
    bool marker = false;
    for (const std::string& m : template_special_tokens()) marker = marker || d.find(m) != std::string::npos;
    const bool sum = d.find('+') != std::string::npos || d.find(" plus ") != std::string::npos || d.find("The sum of") != std::string::npos;
    CHECK_FALSE((marker && sum));   // no addition is ever inside (or beside) a tag
    tagged += marker;
    textbook += d.find("Column by column") != std::string::npos;
    plain += sum && d.find("Column by column") == std::string::npos;
  }
  CHECK(plain > 80);   // the shares of CorpusMix{}: 0.2, 0.45, 0.35
  CHECK(textbook > 200);
  CHECK(tagged > 140);
}

TEST_CASE("the corpus's sums come from the training split and skip excluded problems, and the textbook's worked form") {
  // One-digit sums: 44 of the 55 are training problems. Exclude those with a 7; none may appear.
  std::set<std::string> exclude;
  Rng rng(9);
  for (int i = 0; i < 400; ++i) {
    const Problem p = sample_problem(Task::addition, 1, ch07::Split::train, rng);
    if (p.numbers[0] == "7" || p.numbers[1] == "7") exclude.insert(problem_key(p));
  }
  REQUIRE(!exclude.empty());
  Rng draw(3);
  for (int i = 0; i < 300; ++i) {
    const std::string d = corpus_doc(CorpusMix{0, 1, 0}, {1}, exclude, draw);
    const size_t add = d.find("Add ");
    REQUIRE(add != std::string::npos);
    Problem q;
    q.task = Task::addition;
    q.numbers = {d.substr(add + 4, 1), d.substr(add + 8, 1)};
    q.target = std::to_string(std::stoi(q.numbers[0]) + std::stoi(q.numbers[1]));
    INFO(d);
    CHECK(split_of(q) == ch07::Split::train);
    CHECK(exclude.count(problem_key(q)) == 0);
  }
  const Problem p = sum_345_78();
  CHECK(textbook_solution(p) == "Column by column from the ones: 5+8=13, 4+7+1=12, 3+1=4. The digits from the ones: 324.");
  Rng r2(4);
  CHECK(textbook_doc(p, r2).find(p.question + ". " + textbook_solution(p)) != std::string::npos);
}

TEST_CASE("writes_worked_solution: a well-formed completion whose <think> has one column sum per column") {
  const Problem p = sum_345_78();
  CHECK(writes_worked_solution(p, format_completion(textbook_solution(p), "324")));
  CHECK(writes_worked_solution(p, format_completion(p.reasoning, "999")));   // worked, even if the answer is wrong
  CHECK_FALSE(writes_worked_solution(p, format_completion("5+8=13, 4+7+1=12", "324")));   // two columns of three
  CHECK_FALSE(writes_worked_solution(p, format_completion("it is easy", "324")));
  CHECK_FALSE(writes_worked_solution(p, " <answer> 324 </answer>"));
  CHECK_FALSE(writes_worked_solution(p, textbook_solution(p)));   // no tags: not R1-Zero's format
}

TEST_CASE("textbook_language_share: the textbook's words and column sums count, prose does not") {
  const Problem p = sum_345_78();
  CHECK(textbook_language_share(format_completion(textbook_solution(p), "324")) == doctest::Approx(1.0));
  CHECK(textbook_language_share(format_completion("5+8=13, the note on the door gives", "3")) == doctest::Approx(3.0 / 7.0));
  CHECK(textbook_language_share(" <answer> 324 </answer>") == 0.0);
}

TEST_CASE("r1_zero_template: R1's instruction in short, then User/Assistant, and the corpus tokenizer has the markers") {
  const std::string prompt = r1_zero_template().prompt("Add 1 + 2 and write the sum least significant digit first");
  CHECK(prompt.find("<think> </think>") != std::string::npos);
  CHECK(prompt.find("<answer> </answer>") != std::string::npos);
  CHECK(prompt.substr(prompt.size() - 12) == ". Assistant:");
  const Tokenizer tok = corpus_tokenizer(300);
  CHECK_NOTHROW(check_task_tokenizer(tok));
}

TEST_CASE("document_batch: <|endoftext|> document <|endoftext|>, every token after the first a target") {
  const TaskCodec codec{corpus_tokenizer(300), r1_zero_template()};
  const std::vector<std::string> docs = {"Quiz. What do bees make? <answer> honey </answer>", "12+5=17"};
  const Batch b = document_batch(codec, docs);
  int64_t targets = 0;
  for (int32_t t : b.targets.data) targets += t >= 0;
  int64_t expected = 0;
  for (const std::string& d : docs) expected += static_cast<int64_t>(codec.tok.encode(d).size()) + 1;
  CHECK(targets == expected);
  CHECK(b.inputs.data[0] == codec.eot());
}

TEST_CASE("row_rewards with an extra reward adds it to accuracy + format_weight x format") {
  const Problem p = sum_345_78();
  Rollouts r;
  r.problems = {p};
  r.group = 2;
  r.texts = {format_completion(textbook_solution(p), "324") + "<|endoftext|>", " <answer> 324 </answer><|endoftext|>"};
  r.completions = {{1}, {2}};
  r.rewards = {score(p, r.texts[0]), score(p, r.texts[1])};
  GrpoConfig gc;
  gc.format_weight = 0.5f;
  CHECK(row_rewards(r, gc) == std::vector<float>{1.5f, 1.0f});
  gc.extra_reward = [](const Problem&, std::string_view c) { return static_cast<float>(textbook_language_share(c)); };
  CHECK(row_rewards(r, gc) == std::vector<float>{2.5f, 1.0f});
}
