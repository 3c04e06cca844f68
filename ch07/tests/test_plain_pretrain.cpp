#include <doctest/doctest.h>

#include "ch07/plain_pretrain.hpp"

using namespace ds;
using namespace ds::ch07;

TEST_CASE("plain_text: a sum as plain text with the reversed sum, no template, no marker") {
  Problem p;
  p.task = Task::addition;
  p.numbers = {"52031", "691"};
  p.answer = "22725";
  CHECK(plain_text(p) == "52031+691=22725");
  Problem c;
  c.task = Task::countdown;
  c.answer = "4 * 1 - 2 + 2";
  c.target = std::string(1, '4');   // (assigning the literal "4" trips GCC 12's false -Wrestrict)
  CHECK(plain_text(c) == "4*1-2+2=4");
}

TEST_CASE("the base's pretraining data never holds the chat template or a marker token") {
  const TaskCodec codec{task_tokenizer(Task::addition, 320, 4), ChatTemplate::compact()};
  Rng rng(3);
  for (Task task : {Task::addition, Task::countdown}) {
    const std::vector<Problem> ps = sample_train_problems(task, task == Task::addition ? std::vector<int>{1, 2, 3} : std::vector<int>{3, 4}, 200, rng);
    for (const Problem& p : ps) {
      const std::string t = plain_text(p);
      INFO(t);
      for (const std::string& m : template_special_tokens()) CHECK(t.find(m) == std::string::npos);
      CHECK(t.find("User") == std::string::npos);
      CHECK(t.find("Assistant") == std::string::npos);
      CHECK(t.find_first_not_of("0123456789+-*=()") == std::string::npos);   // digits, operators, brackets
    }
    const Batch b = plain_batch(codec, ps);
    std::vector<int32_t> markers;
    for (const std::string& m : template_special_tokens()) markers.push_back(codec.tok.token_id(m));
    for (int32_t id : markers) REQUIRE(id >= 0);
    int64_t targets = 0;
    for (size_t i = 0; i < b.inputs.data.size(); ++i) {
      for (int32_t id : markers) {
        CHECK(b.inputs.data[i] != id);
        CHECK(b.targets.data[i] != id);
      }
      targets += b.targets.data[i] >= 0;
    }
    // Every text token and each text's end is a target; only the leading <|endoftext|> is not.
    int64_t expected = 0;
    for (const Problem& p : ps) expected += static_cast<int64_t>(codec.tok.encode(plain_text(p)).size()) + 1;
    CHECK(targets == expected);
  }
}

TEST_CASE("plain_batch: row = <|endoftext|> text <|endoftext|>, targets shifted by one") {
  const TaskCodec codec{task_tokenizer(Task::addition, 320, 4), ChatTemplate::compact()};
  Problem p;
  p.task = Task::addition;
  p.numbers = {"12", "9"};
  p.answer = "12";
  const Batch b = plain_batch(codec, {p});
  std::vector<int32_t> seq = {codec.eot()};
  for (int32_t id : codec.tok.encode("12+9=12")) seq.push_back(id);
  seq.push_back(codec.eot());
  REQUIRE(b.inputs.data.size() == seq.size() - 1);
  for (size_t j = 0; j + 1 < seq.size(); ++j) {
    CHECK(b.inputs.data[j] == seq[j]);
    CHECK(b.targets.data[j] == seq[j + 1]);
  }
}

TEST_CASE("pretrain_plain lowers the loss and plain_exact_match reads the base's own notation") {
  const TaskCodec codec{task_tokenizer(Task::addition, 300, 4), ChatTemplate::compact()};
  Rng init(2);
  ch06::DeepSeekModel model(task_model_config("tiny", codec.tok.vocab_size()), init);
  SftTrainer pre(model, post_training_config(60, 16, 5e-3f, 5e-4f));
  Rng rng(4);
  CHECK(pretrain_plain(pre, codec, Task::addition, {1}, 60, rng) == 60);
  const std::vector<double>& loss = pre.trainer->history.train.at("loss");
  CHECK(loss.back() < 0.6 * loss.front());
  const std::vector<Problem> sums = problem_set(Task::addition, 1, ch07::Split::train, 20, 1);
  const double em = plain_exact_match(model, codec, sums);
  CHECK(em >= 0.0);
  CHECK(em <= 1.0);
  CHECK_THROWS_AS(plain_exact_match(model, codec, {problem_set(Task::countdown, 3, ch07::Split::train, 1, 1)[0]}), std::invalid_argument);
}
