#include <doctest/doctest.h>

#include <cmath>

#include "common/autograd.hpp"
#include "common/fsutil.hpp"
#include "common/ops.hpp"
#include "common/trainer.hpp"
#include "test_helpers.hpp"

using namespace ds;

namespace {
// The smallest language model: logits = Emb(ids) W^T, next-token cross-entropy.
struct TinyLM {
  Tensor embed, head;
  TinyLM(int64_t vocab, int64_t dim, uint64_t seed) {
    embed = test::rnd({vocab, dim}, seed, 0.5f).requires_grad_();
    head = test::rnd({vocab, dim}, seed + 1, 0.5f).requires_grad_();
  }
  NamedTensors params() const { return {{"embed", embed}, {"head", head}}; }
  LossFn loss() const {
    return [e = embed, h = head](const Batch& b) {
      Loss l{cross_entropy(linear(embedding(e, b.inputs), h), b.targets), {}};
      l.metrics.add("rows", static_cast<double>(b.inputs.size(0)));
      return l;
    };
  }
};

Batch random_batch(int64_t b, int64_t t, int64_t vocab, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> ids(static_cast<size_t>(b * t)), tg(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    ids[i] = static_cast<int32_t>(rng.randint(vocab));
    tg[i] = static_cast<int32_t>(rng.randint(vocab));
  }
  return {IntTensor(ids, {b, t}), IntTensor(tg, {b, t})};
}

// Records the order in which hooks run and what they see.
struct Recorder : TrainerHook {
  Recorder(std::string n, std::vector<std::string>& log) : name(std::move(n)), log(log) {}
  void before_step(StepStats& s) override { log.push_back(name + ".before " + std::to_string(s.step)); }
  void after_step(StepStats& s) override {
    log.push_back(name + ".after " + std::to_string(s.step));
    s.metrics.add(name + ".calls", ++calls);
  }
  std::string key() const override { return name; }
  nlohmann::json state() const override { return {{"calls", calls}}; }
  void load_state(const nlohmann::json& j) override { calls = j.at("calls").get<int>(); }
  std::string name;
  std::vector<std::string>& log;
  int calls = 0;
};

TokenDataset tiny_dataset() {
  std::vector<int32_t> train(4000), val(600);
  Rng rng(5);
  for (auto& t : train) t = static_cast<int32_t>(rng.randint(20));
  for (auto& t : val) t = static_cast<int32_t>(rng.randint(20));
  return TokenDataset(train, val);
}
}  // namespace

TEST_CASE("trainer: one step equals the plain loop (backward, clip_scale, AdamW at the schedule's lr), bit for bit") {
  const Batch b = random_batch(4, 6, 20, 1);
  TrainerConfig tc;
  tc.steps = 10;
  tc.warmup = 3;
  tc.grad_clip = 0.5f;   // active: the gradients here are larger
  TinyLM a(20, 8, 2), m(20, 8, 2);
  Trainer trainer(a.params(), tc, a.loss());
  AdamWConfig ac;
  ac.lr = tc.lr;
  ac.weight_decay = tc.weight_decay;
  AdamW opt(m.params(), ac);
  for (int64_t step = 0; step < 3; ++step) {
    const StepStats s = trainer.train_step(b);
    const Tensor l = m.loss()(b).value;
    l.backward();
    const float norm = grad_norm({m.embed, m.head});
    opt.set_lr(lr_warmup_cosine(step, tc.warmup, tc.steps, tc.lr, tc.min_lr));
    opt.step(clip_scale(norm, tc.grad_clip));
    opt.zero_grad();
    CHECK(s.loss == l.item());
    CHECK(static_cast<float>(s.grad_norm) == norm);
    CHECK(s.step == step + 1);
    CHECK(s.metrics.at("rows") == 4);
  }
  CHECK(test::max_abs_diff(a.embed, m.embed) == 0.f);
  CHECK(test::max_abs_diff(a.head, m.head) == 0.f);
}

TEST_CASE("trainer: k micro-batches of B/k accumulate the gradient of one batch of B") {
  const Batch b = random_batch(8, 5, 20, 3);
  auto grads_after = [&](int64_t micro) {
    TinyLM m(20, 8, 4);
    TrainerConfig tc;
    tc.batch_size = 8;
    tc.micro_batches = micro;
    Trainer trainer(m.params(), tc, m.loss());
    std::vector<Tensor> g;
    struct Capture : TrainerHook {
      TinyLM* m;
      std::vector<Tensor>* g;
      void before_step(StepStats&) override { *g = {m->embed.grad().clone(), m->head.grad().clone()}; }
    } cap;
    cap.m = &m;
    cap.g = &g;
    trainer.add_hook(cap);
    const StepStats s = trainer.train_step(b);
    CHECK(s.metrics.at("rows") == doctest::Approx(8.0 / static_cast<double>(micro)));   // metrics: mean over micro-batches
    g.push_back(Tensor::scalar(static_cast<float>(s.loss)));
    return g;
  };
  const auto one = grads_after(1), four = grads_after(4), eight = grads_after(8);
  for (size_t i = 0; i < one.size(); ++i) {
    CHECK(test::max_abs_diff(one[i], four[i]) < 1e-6f);
    CHECK(test::max_abs_diff(one[i], eight[i]) < 1e-6f);
  }
  CHECK_THROWS_AS(split_batch(b, 3), std::invalid_argument);
  const std::vector<Batch> parts = split_batch(b, 4);
  CHECK(parts[1].inputs.shape == Shape{2, 5});
  CHECK(parts[1].targets[3] == b.targets[13]);
}

TEST_CASE("trainer: the global norm from outside, replicas counted once") {
  // Two "stages", each with its own trainer over half the parameters, and a replica of one weight
  // on the second stage: the step must equal one trainer over the whole model.
  const Batch b = random_batch(4, 6, 20, 5);
  TrainerConfig tc;
  tc.grad_clip = 0.5f;
  TinyLM whole(20, 8, 6), split(20, 8, 6);
  Trainer one(whole.params(), tc, whole.loss());
  const StepStats s1 = one.train_step(b);

  Tensor replica = split.embed.clone().requires_grad_();   // the second stage's copy of embed
  Trainer first({{"embed", split.embed}}, tc, {});
  Trainer second({{"head", split.head}, {"embed", replica}}, tc, {}, {"embed"});
  split.loss()(b).value.backward();
  replica.set_grad(split.embed.grad().clone());   // what combining the shared gradient leaves in both copies
  const double norm = std::sqrt(first.grad_sq_norm() + second.grad_sq_norm());
  CHECK(norm == doctest::Approx(s1.grad_norm).epsilon(1e-6));
  CHECK(second.grad_sq_norm() == doctest::Approx(grad_sq_norm({split.head})));   // the replica is left out
  StepStats s2, s3;
  first.optimizer_step(norm, s2);
  second.optimizer_step(norm, s3);
  CHECK(test::max_abs_diff(whole.embed, split.embed) < 1e-7f);
  CHECK(test::max_abs_diff(whole.head, split.head) < 1e-7f);
  CHECK(test::max_abs_diff(replica, split.embed) == 0.f);   // the copies take identical steps
  CHECK_THROWS_AS(Trainer(whole.params(), tc, {}, {"nope"}), std::invalid_argument);
  CHECK_THROWS_AS(first.train_step(b), std::logic_error);   // made without a loss function
}

TEST_CASE("trainer: hooks run in order around the step, run() evaluates at 0, every eval_every and at the end") {
  const TokenDataset data = tiny_dataset();
  TinyLM m(20, 8, 7);
  TrainerConfig tc;
  tc.steps = 5;
  tc.batch_size = 2;
  tc.seq_len = 8;
  tc.eval_every = 2;
  tc.eval_batches = 2;
  tc.progress = false;
  Trainer trainer(m.params(), tc, m.loss());
  std::vector<std::string> log;
  Recorder a("a", log), b("b", log);
  trainer.add_hook(a);
  trainer.add_hook(b);
  int calls = 0;
  const TrainHistory& h = trainer.run(data, [&](const StepStats& s) {
    ++calls;
    return s.step < 4;
  });   // stop after step 4
  CHECK(calls == 4);
  CHECK(trainer.step_count() == 4);
  CHECK(std::vector<std::string>(log.begin(), log.begin() + 4) == std::vector<std::string>{"a.before 1", "b.before 1", "a.after 1", "b.after 1"});
  CHECK(h.eval_step == std::vector<double>{0, 2, 4});
  CHECK(h.train.at("loss").size() == 4);
  CHECK(h.train.at("a.calls") == std::vector<double>{1, 2, 3, 4});
  CHECK(h.val.count("rows") == 1);
  trainer.run(data);   // continues to the end without evaluating step 0 again
  CHECK(h.eval_step == std::vector<double>{0, 2, 4, 5});
  CHECK(h.step.size() == 5);
}

TEST_CASE("trainer: saved and resumed, the run continues bit for bit, another schedule is refused") {
  const TokenDataset data = tiny_dataset();
  TrainerConfig tc;
  tc.steps = 6;
  tc.batch_size = 2;
  tc.seq_len = 8;
  tc.warmup = 2;
  tc.progress = false;
  std::vector<std::string> log;
  std::vector<double> straight;
  {
    TinyLM m(20, 8, 8);
    Trainer t(m.params(), tc, m.loss());
    for (int i = 0; i < 6; ++i) straight.push_back(t.step(data).loss);
  }
  test::TempDir dir("ds_trainer");
  std::vector<double> resumed;
  TinyLM m(20, 8, 8);
  {
    Trainer t(m.params(), tc, m.loss());
    Recorder hook("counter", log);
    t.add_hook(hook);
    for (int i = 0; i < 2; ++i) resumed.push_back(t.step(data).loss);
    t.record_eval(data);
    t.save_state(dir.path.string());
  }
  Trainer t(m.params(), tc, m.loss());   // the weights live on in m, as a checkpoint's model.safetensors would hold them
  Recorder hook("counter", log);
  t.add_hook(hook);
  t.load_state(dir.path.string());
  CHECK(hook.calls == 2);
  CHECK(t.step_count() == 2);
  CHECK(t.history.eval_step == std::vector<double>{2});
  for (int i = 2; i < 6; ++i) resumed.push_back(t.step(data).loss);
  CHECK(resumed == straight);
  TrainerConfig other = tc;
  other.schedule = "wsd";
  Trainer t2(m.params(), other, m.loss());
  CHECK(test::error_of([&] { t2.load_state(dir.path.string()); }).find("schedule") != std::string::npos);
  CHECK_THROWS_AS(Trainer(m.params(), [] { TrainerConfig c; c.batch_size = 8; c.micro_batches = 3; return c; }(), m.loss()), std::invalid_argument);
}

TEST_CASE("evaluate: the token-weighted mean of the loss and its metrics, with gradients off") {
  const std::vector<Batch> batches = {random_batch(2, 4, 10, 1), random_batch(1, 4, 10, 2)};
  const LossFn loss = [](const Batch& b) {
    CHECK_FALSE(grad_enabled());
    Loss l{Tensor::scalar(static_cast<float>(b.inputs.size(0))), {}};
    l.metrics.add("twice", 2.0 * static_cast<double>(b.inputs.size(0)));
    return l;
  };
  const Metrics m = evaluate(loss, batches);
  CHECK(m.at("loss") == doctest::Approx((2.0 * 8 + 1.0 * 4) / 12));
  CHECK(m.at("twice") == doctest::Approx(2 * (2.0 * 8 + 1.0 * 4) / 12));
  CHECK_THROWS_AS(m.at("missing"), std::out_of_range);
  CHECK_THROWS_AS(evaluate(loss, {}), std::invalid_argument);
}

TEST_CASE("trainer: a non-finite loss or gradient norm stops the run naming the step and the last checkpoint, before AdamW moves a weight") {
  const TokenDataset data = tiny_dataset();
  TrainerConfig tc;
  tc.steps = 50;
  tc.batch_size = 2;
  tc.seq_len = 8;
  tc.warmup = 0;
  tc.lr = 1e30f;   // far past the reader's --lr 1e10: this small model's logits overflow within a few steps
  tc.progress = false;
  TinyLM m(20, 8, 3);
  Trainer t(m.params(), tc, m.loss());
  test::TempDir dir("ds_diverge");
  t.step(data);
  std::filesystem::create_directories(dir.path / "checkpoint.tmp");
  t.save_state(dir.path.string() + "/checkpoint.tmp");   // as write_folder_atomic fills it
  std::string e;
  int64_t finished = 1;
  try {
    for (int i = 0; i < 49; ++i, ++finished) t.step(data);
  } catch (const std::runtime_error& err) {
    e = err.what();
  }
  INFO(e);
  REQUIRE(e.find("training diverged at step " + std::to_string(finished + 1) + ": ") == 0);
  CHECK(t.step_count() == finished);   // the diverged step never reached AdamW
  CHECK(e.find("saved at step 1, is " + dir.path.string() + "/checkpoint ") != std::string::npos);
  TinyLM fresh(20, 8, 3);
  Trainer never_saved(fresh.params(), tc, [](const Batch&) { return Loss{Tensor::full({1}, NAN).requires_grad_(), {}}; });
  CHECK(test::error_of([&] { never_saved.step(data); }).find("step 1: the loss became nan; no checkpoint was saved before it") != std::string::npos);
  StepStats s;
  CHECK(test::error_of([&] { never_saved.optimizer_step(INFINITY, s); }).find("the gradient norm became inf") != std::string::npos);
}

TEST_CASE("trainer: a resume with other run settings is refused naming the flag, a damaged trainer_state.json is one sentence") {
  const TokenDataset data = tiny_dataset();
  TrainerConfig tc;
  tc.steps = 12;
  tc.batch_size = 2;
  tc.seq_len = 8;
  tc.progress = false;
  TinyLM m(20, 8, 8);
  test::TempDir dir("ds_resume_settings");
  const std::string d = dir.path.string();
  {
    Trainer t(m.params(), tc, m.loss());
    t.add_run_settings({{"--seed", 7}, {"--data", "a.txt"}});
    t.step(data);
    t.save_state(d);
  }
  auto resume_error = [&](const TrainerConfig& c, const nlohmann::json& settings) {
    Trainer t(m.params(), c, m.loss());
    t.add_run_settings(settings);
    return test::error_of([&] { t.load_state(d); });
  };
  CHECK(resume_error(tc, {{"--seed", 7}, {"--data", "a.txt"}}) == "(no std::runtime_error)");
  CHECK(resume_error(tc, {{"--seed", 8}, {"--data", "a.txt"}}).find("was trained with --seed 7, not 8") != std::string::npos);
  CHECK(resume_error(tc, {{"--seed", 7}, {"--data", "b.txt"}}).find("was trained with --data 'a.txt', not 'b.txt'") != std::string::npos);
  TrainerConfig longer = tc;
  longer.steps = 14;
  CHECK(resume_error(longer, {}).find("resume with --steps 12, or start a new run for 14 steps") != std::string::npos);
  TrainerConfig bigger = tc;
  bigger.batch_size = 4;
  CHECK(resume_error(bigger, {}).find("--batch 2, not 4") != std::string::npos);

  const std::string state = read_text_file(d + "/trainer_state.json");
  auto damaged = [&](const std::string& text) {
    write_file_atomic(d + "/trainer_state.json", std::string_view(text));
    const std::string e = resume_error(tc, {});
    INFO(e);
    CHECK(e.find("trainer_state.json is damaged") != std::string::npos);
    CHECK(e.find("json.exception") == std::string::npos);
    CHECK(e.find("stoull") == std::string::npos);
  };
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = state;
    const size_t at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
  };
  damaged(replaced("\"step\":1", "\"step\":-1"));
  damaged(replaced("\"step\":1", "\"step\":\"one\""));
  damaged(replaced("\"data_rng\":[\"", "\"data_rng\":[\"x"));
  damaged("{not json");
  damaged("[]");
}
