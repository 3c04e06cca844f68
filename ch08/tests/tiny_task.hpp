// The chapter's tests' small world: a task tokenizer trained on 1- and 2-digit additions, their
// reference examples, and a tiny dense DeepSeek-style model of that vocabulary.
#pragma once

#include <memory>
#include <vector>

#include "ch06/model.hpp"
#include "ch07/chat_template.hpp"
#include "ch07/task_tokenizer.hpp"
#include "ch08/compare.hpp"
#include "ch08/examples.hpp"

namespace ds::test {

struct TinyTask {
  ch07::TaskCodec codec;   // the compact template and a task tokenizer trained on the training problems
  std::vector<ch07::Problem> train, test;
  std::vector<ch08::TaskExample> train_ex, test_ex;
};

inline const TinyTask& tiny_task() {
  static const TinyTask t = [] {
    TinyTask w;
    for (int len : {1, 2}) {
      auto tr = ch07::problem_set(ch07::Task::addition, len, ch07::Split::train, 30, 11);
      auto te = ch07::problem_set(ch07::Task::addition, len, ch07::Split::test, 6, 12);
      w.train.insert(w.train.end(), tr.begin(), tr.end());
      w.test.insert(w.test.end(), te.begin(), te.end());
    }
    std::vector<std::string> docs;
    for (const auto& p : w.train) docs.push_back(ch07::ChatTemplate::compact().prompt(p.question) + ch07::format_completion(p.reasoning, p.answer));
    w.codec.tok = ch07::train_task_tokenizer(docs, 300);
    for (const auto& p : w.train) w.train_ex.push_back(ch08::reference_example(w.codec, p));
    for (const auto& p : w.test) w.test_ex.push_back(ch08::reference_example(w.codec, p));
    return w;
  }();
  return t;
}

// The comparison's data from the small world: its training problems (worked and answers-only
// completions) and the first 4 test problems.
inline ch08::CompareData tiny_compare_data() {
  const TinyTask& w = tiny_task();
  ch08::CompareData d;
  d.codec = w.codec;
  d.problems = w.train;
  d.train = w.train_ex;
  for (const auto& p : w.train) d.answers.push_back(ch08::answer_example(w.codec, p));
  d.test = std::vector<ch07::Problem>(w.test.begin(), w.test.begin() + 4);
  d.test_ref = std::vector<ch08::TaskExample>(w.test_ex.begin(), w.test_ex.begin() + 4);
  return d;
}

// A 2-layer model of the task's vocabulary; moe = false gives dense SwiGLUs only.
inline std::unique_ptr<ch06::DeepSeekModel> tiny_model(uint64_t seed, bool moe = false) {
  DeepSeekConfig c = preset("tiny");
  c.vocab_size = tiny_task().codec.tok.vocab_size();
  c.num_nextn_predict_layers = 0;
  c.n_group = 1;
  c.topk_group = 1;
  if (!moe) c.first_k_dense_replace = c.num_hidden_layers;
  Rng rng(seed);
  return std::make_unique<ch06::DeepSeekModel>(c, rng);
}

}  // namespace ds::test
