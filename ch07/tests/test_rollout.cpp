#include <doctest/doctest.h>

#include <cmath>

#include "ch02/score.hpp"
#include "ch07/dpo_learner.hpp"
#include "ch07/ppo_learner.hpp"
#include "ch07/rl_loop.hpp"
#include "ch07/rollout.hpp"
#include "common/autograd.hpp"

using namespace ds;
using namespace ds::ch07;

namespace {
double choose(int64_t n, int64_t k) {
  if (k < 0 || k > n) return 0;
  double c = 1;
  for (int64_t i = 1; i <= k; ++i) c = c * static_cast<double>(n - k + i) / static_cast<double>(i);
  return c;
}
TrainerConfig one_step(int64_t batch, int64_t steps = 1) {
  TrainerConfig tc;
  tc.steps = steps;
  tc.batch_size = batch;
  tc.warmup = 1;
  tc.weight_decay = 0;
  tc.progress = false;
  return tc;
}
struct Fixture {
  TaskCodec codec{task_tokenizer(Task::addition, 300, 4), ChatTemplate::compact()};
  Rng rng{11};
  ch06::DeepSeekModel model{task_model_config("tiny", codec.tok.vocab_size()), rng};
  std::vector<Problem> problems = sample_train_problems(Task::addition, {2, 3}, 3, rng);
};
}  // namespace

TEST_CASE("pass_at_k: Chen et al.'s estimator equals 1 - C(n-c, k) / C(n, k) and its edge cases") {
  for (int64_t n : {1, 5, 16})
    for (int64_t c = 0; c <= n; ++c)
      for (int64_t k = 1; k <= n; ++k) CHECK(pass_at_k(n, c, k) == doctest::Approx(1.0 - choose(n - c, k) / choose(n, k)));
  CHECK(pass_at_k(10, 3, 1) == doctest::Approx(0.3));
  CHECK(pass_at_k(10, 0, 10) == 0.0);
  CHECK(pass_at_k(10, 1, 10) == 1.0);
  CHECK_THROWS_AS(pass_at_k(4, 5, 1), std::invalid_argument);
  CHECK_THROWS_AS(pass_at_k(4, 2, 5), std::invalid_argument);
}

TEST_CASE("sample_rollouts: N x G rows, rewards from the verifier, log pi_old equals the policy's score of the samples") {
  Fixture f;
  ch02::SamplingConfig sc;
  sc.max_new_tokens = completion_budget(f.codec, f.problems);
  sc.temperature = 1.f;
  sc.seed = 4;
  const Rollouts r = sample_rollouts(f.model, f.codec, f.problems, 4, sc);
  REQUIRE(r.rows() == 12);
  CHECK(r.logprobs.shape() == Shape{12, sc.max_new_tokens});
  for (int64_t i = 0; i < r.rows(); ++i) {
    CHECK(r.prompts[static_cast<size_t>(i)] == f.codec.prompt(f.problems[static_cast<size_t>(i / 4)]));
    const Reward w = score(r.problem(i), r.texts[static_cast<size_t>(i)]);
    CHECK(w.accuracy == r.rewards[static_cast<size_t>(i)].accuracy);
  }
  CHECK(f.model.mla_mode() == ch03::MLAMode::Naive);   // sampling put the training mode back
  // On-policy, the recorded pi_old is what the training forward gives: GRPO's first ratio is 1.
  NoGradGuard ng;
  const ch02::TokenScores s = ch02::score_completions(f.model, r.prompts, r.completions);
  for (int64_t i = 0; i < r.rows(); ++i)
    for (int64_t j = 0; j < static_cast<int64_t>(r.completions[static_cast<size_t>(i)].size()); ++j)
      CHECK(r.logprobs.data()[i * r.logprobs.size(1) + j] == doctest::Approx(s.log_probs.data()[i * s.log_probs.size(1) + j]).epsilon(1e-3));
  // The same seed samples the same completions, in any split of the rows into calls.
  const Rollouts again = sample_rollouts(f.model, f.codec, f.problems, 4, sc, 5);
  CHECK(again.completions == r.completions);
}

TEST_CASE("greedy_eval: a perfect policy scores 1 (its own greedy answers), counts format and length") {
  Fixture f;
  const GreedyReport g = greedy_eval(f.model, f.codec, f.problems);
  CHECK(g.correct.size() == f.problems.size());
  CHECK(g.exact_match == 0.0);   // an untrained model does not add
  CHECK(g.mean_length > 0);
  CHECK(g.mean_length <= static_cast<double>(completion_budget(f.codec, f.problems)));
}

TEST_CASE("GRPO step: groups whose rewards are all equal teach nothing, so with beta 0 the weights do not move") {
  Fixture f;
  const TrainerConfig tc = one_step(6);
  GrpoConfig gc;
  gc.group = 2;
  gc.loss.beta = 0;
  const NamedTensors before = f.model.clone()->named_parameters();
  GrpoLearner grpo(f.model, f.codec, tc, gc);
  const RlStepReport r = grpo.step(f.problems, 1);
  CHECK(r.accuracy == 0.0);   // the untrained policy gets nothing right: every advantage is 0
  CHECK(r.mixed_groups == 0.0);
  CHECK(r.clip_low == 0.0);
  CHECK(r.clip_high == 0.0);
  const NamedTensors after = f.model.named_parameters();
  for (size_t i = 0; i < after.size(); ++i)
    for (int64_t j = 0; j < after[i].second.numel(); ++j) REQUIRE(after[i].second[j] == before[i].second[j]);
}

TEST_CASE("GRPO step with beta > 0 keeps the policy at the reference when nothing is rewarded: KL 0, ratio 1") {
  Fixture f;
  const TrainerConfig tc = one_step(6, 2);
  GrpoConfig gc;
  gc.group = 2;
  gc.loss.beta = 0.04f;
  GrpoLearner grpo(f.model, f.codec, tc, gc);
  const RlStepReport r = grpo.step(f.problems, 1);
  CHECK(r.kl == doctest::Approx(0.0).epsilon(1e-6));   // pi_theta = pi_ref at the first step (k3 KL of equal policies)
  CHECK(std::isfinite(r.loss));
}

TEST_CASE("mixed_group_picks: DAPO's filter drops groups whose rewards are all equal, keeps draw order and stops at the batch size") {
  // Draw 0: groups (1, 1) all right, (0, 1) mixed, (0, 0) all wrong. Draw 1: (0.1, 0.1) equal, (1, 0) and (0, 1) mixed.
  const std::vector<std::vector<float>> rewards{{1, 1, 0, 1, 0, 0}, {0.1f, 0.1f, 1, 0, 0, 1}};
  using Pick = std::pair<size_t, int64_t>;
  CHECK(mixed_group_picks(rewards, 2, 10) == std::vector<Pick>{{0, 1}, {1, 1}, {1, 2}});
  CHECK(mixed_group_picks(rewards, 2, 2) == std::vector<Pick>{{0, 1}, {1, 1}});   // the batch is full: the rest are not taken
  CHECK(mixed_group_picks({{1, 1, 1}}, 3, 4).empty());
  CHECK_THROWS_AS(mixed_group_picks({{1, 0, 1}}, 2, 4), std::invalid_argument);   // not whole groups
}

TEST_CASE("gather_groups: the picked groups' rows in pick order, tensors zero-padded to the widest draw") {
  Rng rng(3);
  auto draw = [&](int64_t width, float base) {
    Rollouts r;
    r.problems = sample_train_problems(Task::addition, {2}, 2, rng);
    r.group = 2;
    r.logprobs = Tensor::zeros({4, width});
    r.sampling_logprobs = Tensor::zeros({4, width});
    r.mask = Tensor::zeros({4, width});
    for (int64_t i = 0; i < 4; ++i) {
      r.prompts.push_back({static_cast<int32_t>(base) + static_cast<int32_t>(i)});
      r.completions.push_back({static_cast<int32_t>(i)});
      r.texts.push_back(std::to_string(i));
      r.rewards.push_back({static_cast<float>(i % 2), 1});
      for (int64_t j = 0; j < width; ++j) {
        r.logprobs.data()[i * width + j] = base + static_cast<float>(10 * i + j);
        r.sampling_logprobs.data()[i * width + j] = -(base + static_cast<float>(10 * i + j));
        r.mask.data()[i * width + j] = 1;
      }
    }
    return r;
  };
  const std::vector<Rollouts> draws{draw(2, 100), draw(3, 200)};
  const Rollouts g = gather_groups(draws, {{1, 0}, {0, 1}});   // draw 1's group 0 (rows 0, 1), then draw 0's group 1 (rows 2, 3)
  REQUIRE(g.rows() == 4);
  CHECK(g.group == 2);
  CHECK(problem_key(g.problems[0]) == problem_key(draws[1].problems[0]));
  CHECK(problem_key(g.problems[1]) == problem_key(draws[0].problems[1]));
  CHECK(g.prompts == std::vector<std::vector<int32_t>>{{200}, {201}, {102}, {103}});
  CHECK(g.logprobs.shape() == Shape{4, 3});
  CHECK(std::vector<float>(g.logprobs.data(), g.logprobs.data() + 12) ==
        std::vector<float>{200, 201, 202, 210, 211, 212, 120, 121, 0, 130, 131, 0});
  CHECK(g.sampling_logprobs.data()[6] == -120.f);
  CHECK(std::vector<float>(g.mask.data() + 6, g.mask.data() + 12) == std::vector<float>{1, 1, 0, 1, 1, 0});
  CHECK(g.rewards[3].accuracy == 1.f);
  CHECK_THROWS_AS(gather_groups(draws, {{2, 0}}), std::invalid_argument);
  CHECK_THROWS_AS(gather_groups(draws, {{0, 2}}), std::invalid_argument);
}

TEST_CASE("GRPO step with dynamic sampling: refills until max_draws when no group is mixed, counts every sample, learns nothing") {
  Fixture f;
  GrpoConfig gc;
  gc.prompts = 3;
  gc.group = 2;
  gc.loss.beta = 0;
  gc.dynamic_sampling = true;
  gc.max_draws = 3;
  const NamedTensors before = f.model.clone()->named_parameters();
  GrpoLearner grpo(f.model, f.codec, one_step(6), gc);
  CHECK_THROWS_AS(grpo.step(f.problems, 1), std::logic_error);   // a refill is needed and there is no prompt source
  int refills = 0;
  grpo.refill = [&](int64_t n, uint64_t seed) {
    ++refills;
    Rng rng(seed);
    return sample_train_problems(Task::addition, {2, 3}, static_cast<int>(n), rng);
  };
  const RlStepReport r = grpo.step(f.problems, 1);
  CHECK(refills == 2);                 // draws 2 and 3 of the step
  CHECK(r.samples == 3 * 3 * 2);       // every draw's samples count, though none was trained on
  CHECK(r.groups_trained == 0);
  CHECK(r.mixed_groups == 0.0);
  const NamedTensors after = f.model.named_parameters();
  for (size_t i = 0; i < after.size(); ++i)
    for (int64_t j = 0; j < after[i].second.numel(); ++j) REQUIRE(after[i].second[j] == before[i].second[j]);
  // A source with nothing left (a spent sampling budget) ends the step's drawing after the first draw.
  grpo.refill = [](int64_t, uint64_t) { return std::vector<Problem>{}; };
  CHECK(grpo.step(f.problems, 2).samples == 3 * 2);
}

TEST_CASE("GRPO step without dynamic sampling trains on its one draw and says how many samples it drew") {
  Fixture f;
  GrpoConfig gc;
  gc.prompts = 3;
  gc.group = 2;
  GrpoLearner grpo(f.model, f.codec, one_step(6), gc);
  const RlStepReport r = grpo.step(f.problems, 1);
  CHECK(r.samples == 6);
  CHECK(r.groups_trained == 3);
}

TEST_CASE("run_rl: counts the samples each step reports, stops at a sample budget, never draws an excluded prompt") {
  Fixture f;
  RlRunConfig rc;
  rc.lengths = {1};   // 44 training problems: an exclusion of most of them is tested on every draw
  rc.steps = 10;
  rc.prompts = 4;
  rc.eval_every = 100;
  rc.max_samples = 20;
  const std::vector<Problem> excluded = problem_set(Task::addition, 1, ch07::Split::train, 40, 5);
  for (const Problem& p : excluded) rc.exclude.insert(problem_key(p));
  int64_t prompts_seen = 0;
  const RlTrace t = run_rl(
      [&](const std::vector<Problem>& batch, uint64_t) {
        for (const Problem& p : batch) CHECK(rc.exclude.count(problem_key(p)) == 0);
        prompts_seen += static_cast<int64_t>(batch.size());
        RlStepReport r;
        r.samples = 7;
        return r;
      },
      f.model, f.codec, {f.problems.front()}, rc, 99);
  CHECK(t.steps == 3);   // 7, 14, 21 >= 20
  CHECK(t.drawn == 21);
  CHECK(t.samples == std::vector<double>{7, 14, 21});
  CHECK(t.eval_samples == std::vector<double>{0, 21});
  CHECK(prompts_seen == 12);
}

TEST_CASE("take_rows and row_batch: rows in the order asked, columns cut or zero-padded") {
  const Tensor x = Tensor::from({1, 2, 3, 4, 5, 6}, {3, 2});
  const Tensor y = take_rows(x, {2, 0}, 3);
  CHECK(std::vector<float>(y.data(), y.data() + 6) == std::vector<float>{5, 6, 0, 1, 2, 0});
  CHECK(row_batch({4, 1}).inputs.data == std::vector<int32_t>{4, 1});
}

TEST_CASE("preference_pairs: the first right and the first wrong sample of each mixed prompt, none for agreeing prompts") {
  Rollouts r;
  Rng rng(2);
  r.problems = sample_train_problems(Task::addition, {2}, 2, rng);
  r.group = 3;
  for (int i = 0; i < 6; ++i) {
    r.prompts.push_back({i});
    r.completions.push_back({10 + i});
  }
  r.rewards = {{0, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, {0, 0}};   // prompt 0: wrong, right, right; prompt 1: all wrong
  const std::vector<PreferencePair> p = preference_pairs(r);
  REQUIRE(p.size() == 1);
  CHECK(p[0].chosen == std::vector<int32_t>{11});
  CHECK(p[0].rejected == std::vector<int32_t>{10});
}

TEST_CASE("DPO step: at the reference the loss is log 2 and every implicit reward 0") {
  Fixture f;
  DpoLearner dpo(f.model, one_step(2), {});
  std::vector<PreferencePair> pairs;
  for (const Problem& p : f.problems) {
    std::vector<int32_t> wrong = f.codec.completion(p);
    std::swap(wrong[1], wrong[2]);
    pairs.push_back({f.codec.prompt(p), f.codec.completion(p), wrong});
  }
  dpo.set_pairs(pairs);
  const StepStats s = dpo.step({0, 2});
  CHECK(s.loss == doctest::Approx(std::log(2.0)).epsilon(1e-4));
  CHECK(s.metrics.at("margin") == doctest::Approx(0.0).epsilon(1e-4));
  CHECK_THROWS_AS(dpo.set_pairs({}), std::invalid_argument);
}

TEST_CASE("critic_values: one value per completion token, read before the token, the same for a row alone or padded in a batch") {
  Fixture f;
  Rng rng(3);
  Critic critic(f.model, rng);
  const std::vector<std::vector<int32_t>> prompts = {f.codec.prompt(f.problems[0]), f.codec.prompt(f.problems[2])};
  const std::vector<std::vector<int32_t>> completions = {{5, 6, 7}, {8}};
  NoGradGuard ng;
  const ch02::TokenScores both = critic_values(critic, prompts, completions);
  CHECK(both.log_probs.shape() == Shape{2, 3});
  CHECK(std::vector<float>(both.mask.data(), both.mask.data() + 6) == std::vector<float>{1, 1, 1, 1, 0, 0});
  for (int row = 0; row < 2; ++row) {
    const ch02::TokenScores alone = critic_values(critic, {prompts[static_cast<size_t>(row)]}, {completions[static_cast<size_t>(row)]});
    for (int64_t j = 0; j < alone.log_probs.size(1); ++j) CHECK(alone.log_probs[j] == doctest::Approx(both.log_probs[row * 3 + j]).epsilon(1e-4));
  }
  // The first value is read at the prompt's last position: V(prompt) = v_head(h[P - 1]).
  const IntTensor ids(prompts[0], {1, static_cast<int64_t>(prompts[0].size())});
  const Tensor v = critic.values(ids);
  CHECK(v[v.numel() - 1] == doctest::Approx(both.log_probs[0]).epsilon(1e-4));
}
