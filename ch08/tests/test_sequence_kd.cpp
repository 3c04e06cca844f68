// Rejection sampling: the filter keeps exactly the right, well-formed, finished completions, and
// rejection_sample keeps exactly the samples generate() drew that pass it.
#include <doctest/doctest.h>

#include "ch02/generate.hpp"
#include "ch08/sequence_kd.hpp"
#include "ch08/tests/tiny_task.hpp"

using namespace ds;
using namespace ds::ch08;

TEST_CASE("accept_sample: the reference passes, a wrong answer, a broken format or a cut-off sample does not") {
  const auto& w = test::tiny_task();
  const ch07::Problem& p = w.train[40];   // a 2-digit sum
  std::vector<int32_t> ref = w.train_ex[40].completion;
  CHECK(accept_sample(p, ref, w.codec.tok));
  std::vector<int32_t> cut(ref.begin(), ref.end() - 1);   // no <|endoftext|>: the length limit hit
  CHECK_FALSE(accept_sample(p, cut, w.codec.tok));
  std::string wrong_answer = p.answer;
  wrong_answer[0] = wrong_answer[0] == '9' ? '8' : static_cast<char>(wrong_answer[0] + 1);
  auto wrong = w.codec.tok.encode(ch07::format_completion(p.reasoning, wrong_answer));
  wrong.push_back(w.codec.tok.eot_id());
  CHECK_FALSE(accept_sample(p, wrong, w.codec.tok));
  auto bare = w.codec.tok.encode(" <answer> " + p.answer + " </answer>");   // right, but no <think> block
  bare.push_back(w.codec.tok.eot_id());
  CHECK_FALSE(accept_sample(p, bare, w.codec.tok));
}

TEST_CASE("rejection_sample: the samples are generate()'s, the kept ones exactly those that pass, counted right") {
  const auto& w = test::tiny_task();
  auto teacher = test::tiny_model(11, true);
  const std::vector<ch07::Problem> probs(w.train.begin(), w.train.begin() + 5);
  RejectionConfig cfg;
  cfg.samples_per_prompt = 3;
  cfg.max_new_tokens = 10;
  cfg.batch = 2;   // calls cut into 2 prompts x 3 samples; the row streams keep the draws the same
  cfg.seed = 5;
  RejectionStats st;
  const auto kept = rejection_sample(*teacher, w.codec, probs, cfg, &st);
  CHECK(st.prompts == 5);
  CHECK(st.samples == 15);
  ch02::SamplingConfig sc;
  sc.max_new_tokens = 10;
  sc.temperature = cfg.temperature;
  sc.stop_tokens = {w.codec.tok.eot_id()};
  sc.seed = 5;
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& p : probs)
    for (int j = 0; j < 3; ++j) prompts.push_back(w.codec.prompt(p));
  teacher->set_mla_mode(ch03::MLAMode::Absorbed);
  const ch02::Generation g = ch02::generate(*teacher, prompts, sc);
  teacher->set_mla_mode(ch03::MLAMode::Naive);
  int64_t pass = 0;
  for (size_t i = 0; i < prompts.size(); ++i) pass += accept_sample(probs[i / 3], g.tokens[i], w.codec.tok);
  CHECK(st.accepted == pass);
  CHECK(kept.size() <= static_cast<size_t>(st.prompts_covered));
  CHECK_THROWS_AS(rejection_sample(*teacher, w.codec, probs, {.samples_per_prompt = 0}), std::invalid_argument);
}
