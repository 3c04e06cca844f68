#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "ch04/balance_hook.hpp"
#include "ch06/checkpoint.hpp"
#include "ch06/parallel/stage.hpp"
#include "common/autograd.hpp"
#include "common/fsutil.hpp"
#include "common/safetensors.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;
using namespace ds::ch06;

namespace {
constexpr float kLambda = 0.3f;

DeepSeekConfig stage_config() {
  DeepSeekConfig c = preset("tiny");   // with one MTP module
  c.vocab_size = 300;
  c.num_hidden_layers = 4;             // layer 0 dense, layers 1-3 and the MTP layer 4 MoE
  return c;
}

ch04::BalanceConfig v3_balancing() {
  ch04::BalanceConfig bc;
  bc.strategy = ch04::Balancing::V3;
  bc.seq_alpha = 0.05f;   // large enough to matter in the gradients
  bc.gamma = 0.01f;
  return bc;
}

Batch random_batch(uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> ids(4 * 16), tg(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    ids[i] = static_cast<int32_t>(rng.randint(300));
    tg[i] = static_cast<int32_t>(rng.randint(300));
  }
  return {IntTensor(ids, {4, 16}), IntTensor(tg, {4, 16})};
}

struct Result {
  double loss = 0;
  std::map<std::string, Tensor> grads;   // by parameter name (for stages, every copy must agree)
  std::map<std::string, std::vector<float>> biases;   // the routing biases after the bias update
};

// One training step's loss and gradients of the whole model (MTP loss + V3's balancing).
Result whole_model(const std::string& folder, const Batch& b) {
  LoadedModel lm = load_model(folder);
  ch04::BalanceHook hook(lm.model->moe_layers(), v3_balancing());
  const Tensor loss = hook.add_balance_loss(ch05::mtp_loss(lm.model->forward_all(b.inputs), b.targets, kLambda).total);
  loss.backward();
  StepStats s;
  hook.after_step(s);
  Result r;
  r.loss = loss.item();
  for (auto& [name, p] : lm.model->named_parameters()) r.grads[name] = p.grad().clone();
  for (auto& [name, t] : lm.model->named_buffers()) r.biases[name] = t.to_vector();
  return r;
}

// The same step through stages [cuts[i], cuts[i+1]) chained in one process: activations forward,
// their gradients backward, each stage's balance loss joining its own backward. With split, each
// stage's backward is B (backward_inputs) now and W (WeightGradWork::run) after every B is done,
// as a zero-bubble schedule runs them.
Result staged(const std::string& folder, const Batch& b, const std::vector<int64_t>& cuts, bool split) {
  const size_t n = cuts.size() - 1;
  std::vector<std::unique_ptr<Stage>> stages;
  std::vector<std::unique_ptr<ch04::BalanceHook>> hooks;
  for (size_t i = 0; i < n; ++i) {
    stages.push_back(Stage::load(folder, cuts[i], cuts[i + 1]));
    hooks.push_back(std::make_unique<ch04::BalanceHook>(stages.back()->moe_layers(), v3_balancing()));
  }
  std::vector<Tensor> in(n), out(n);
  out[0] = stages[0]->forward(b.inputs);
  for (size_t i = 1; i < n; ++i) out[i] = stages[i]->forward(in[i] = received(out[i - 1]));
  Result r;
  std::vector<WeightGradWork> w_work;
  for (size_t i = n; i-- > 0;) {
    std::vector<Tensor> roots, grads;
    if (stages[i]->is_last()) {
      roots.push_back(stages[i]->loss(out[i], b, kLambda).total);
    } else {
      roots.push_back(out[i]);
      grads.push_back(in[i + 1].grad());   // what the next stage sent back
    }
    const Tensor l_bal = hooks[i]->take_balance_loss();
    if (l_bal.defined()) roots.push_back(l_bal);
    for (size_t j = grads.size(); j < roots.size(); ++j) {
      grads.push_back(Tensor::ones({}));
      r.loss += roots[j].item();
    }
    const std::vector<Tensor> inputs = in[i].defined() ? std::vector<Tensor>{in[i]} : std::vector<Tensor>{};
    if (split) w_work.push_back(backward_inputs(roots, grads, inputs));
    else backward(roots, grads);
  }
  for (WeightGradWork& w : w_work) w.run();
  combine_shared_gradients(*stages.front(), *stages.back());
  for (size_t i = 0; i < n; ++i) {
    StepStats s;
    hooks[i]->after_step(s);
    for (auto& [name, p] : stages[i]->named_parameters()) {
      const Tensor g = p.grad().clone();
      if (r.grads.count(name)) CHECK_MESSAGE(test::max_abs_diff(r.grads[name], g) == 0.f, name << ": the two copies' gradients differ");
      r.grads[name] = g;
    }
    for (auto& [name, t] : stages[i]->named_buffers()) r.biases[name] = t.to_vector();
  }
  return r;
}

float max_abs(const Tensor& t) {
  float m = 0;
  for (float v : t.to_vector()) m = std::max(m, std::abs(v));
  return m;
}

std::string write_checkpoint(const test::TempDir& dir) {
  Rng rng(21);
  DeepSeekModel m(stage_config(), rng);
  const std::string folder = dir.file("ckpt");
  write_folder_atomic(folder, [&](const std::string& tmp) { write_model_files(tmp, m, nullptr); });
  return folder;
}
}  // namespace

TEST_CASE("stages: 2 and 3 stages chained in one process give the whole model's loss, gradients and bias update") {
  test::TempDir dir("ds_stage");
  const std::string folder = write_checkpoint(dir);
  const Batch b = random_batch(5);
  const Result whole = whole_model(folder, b);
  for (const std::vector<int64_t>& cuts : {std::vector<int64_t>{0, 2, 4}, std::vector<int64_t>{0, 1, 3, 4}}) {
    const Result st = staged(folder, b, cuts, false);
    CHECK(st.loss == doctest::Approx(whole.loss).epsilon(1e-6));
    REQUIRE(st.grads.size() == whole.grads.size());
    // The same sums in another order (the balance losses and the embedding's two parts are added
    // separately): equal to 1e-5 of each tensor's largest entry.
    float worst = 0;
    for (const auto& [name, g] : whole.grads) {
      REQUIRE_MESSAGE(st.grads.count(name), name);
      worst = std::max(worst, test::max_abs_diff(g, st.grads.at(name)) / std::max(max_abs(g), 1e-12f));
    }
    MESSAGE((cuts.size() - 1) << " stages: largest gradient difference relative to its tensor's largest entry: " << worst);
    CHECK(worst < 1e-5f);
    CHECK(st.biases == whole.biases);   // every stage's loads reach its own layers' bias update
    // B now and W later, through whole stages: the same gradients bit for bit.
    const Result split = staged(folder, b, cuts, true);
    for (const auto& [name, g] : st.grads) CHECK_MESSAGE(test::max_abs_diff(g, split.grads.at(name)) == 0.f, name);
  }
}

TEST_CASE("stages: load their tensors from a full checkpoint, name what is missing, save back into one checkpoint") {
  test::TempDir dir("ds_stage_io");
  const std::string folder = write_checkpoint(dir);
  auto first = Stage::load(folder, 0, 1), middle = Stage::load(folder, 1, 3), last = Stage::load(folder, 3, 4);
  CHECK(first->replica_names().empty());
  CHECK(last->replica_names() == std::vector<std::string>{"model.embed_tokens.weight"});
  CHECK(last->mtp.size() == 1);
  CHECK(middle->moe_layers().size() == 2);
  CHECK(last->moe_layers().size() == 2);   // layer 3 and the MTP module's
  const std::string out = dir.file("saved");
  save_stages(out, {first.get(), middle.get(), last.get()}, nullptr);
  CHECK(read_file(out + "/model.safetensors") == read_file(folder + "/model.safetensors"));   // the same bytes
  CHECK_NOTHROW(load_model(out));   // what ch06_generate reads
  CHECK_THROWS_AS(save_stages(out, {first.get(), last.get()}, nullptr), std::invalid_argument);   // layers 1-2 missing
  last->embed_tokens->weight.data()[0] += 1.f;
  CHECK(test::error_of([&] { save_stages(out, {first.get(), middle.get(), last.get()}, nullptr); }).find("combine_shared_gradients") !=
        std::string::npos);
  // A folder that holds only the first stage's tensors: the later stages are told what it lacks.
  const std::string partial = dir.file("partial");
  write_folder_atomic(partial, [&](const std::string& tmp) { write_model_files(tmp, stage_config(), first->state_dict(), nullptr); });
  const std::string err = test::error_of([&] { Stage::load(partial, 1, 4); });
  CHECK(err.find("lacks") != std::string::npos);
  CHECK(err.find("model.layers.1.") != std::string::npos);
  CHECK(err.find("more") != std::string::npos);
  CHECK_THROWS_AS(Stage::load(folder, 2, 2), std::invalid_argument);
  CHECK_THROWS_AS(first->forward(Tensor::zeros({1, 2, 64})), std::logic_error);
}
