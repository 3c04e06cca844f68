#include "ch06/pretrain.hpp"

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/autograd.hpp"
#include "common/fsutil.hpp"
#include "common/ops.hpp"
#include "common/safetensors.hpp"
#include "common/timer.hpp"

namespace ds::ch06 {

using nlohmann::json;

Pretrainer::Pretrainer(DeepSeekModel& model, const PretrainConfig& cfg) : model_(model), cfg_(cfg), data_rng_(cfg.seed) {
  if (cfg.schedule != "cosine" && cfg.schedule != "wsd") throw std::invalid_argument("schedule must be cosine or wsd, not '" + cfg.schedule + "'");
  AdamWConfig ac;
  ac.lr = cfg.lr;
  ac.weight_decay = cfg.weight_decay;
  opt_ = std::make_unique<AdamW>(model.named_parameters(), ac);
  ch04::BalanceConfig bc;
  bc.strategy = ch04::Balancing::V3;
  bc.gamma = cfg.bias_gamma;
  bc.seq_alpha = cfg.seq_alpha;
  balancer_ = std::make_unique<ch04::Balancer>(model.moe_layers(), bc);
}

float Pretrainer::lr_at(int64_t step) const {
  return cfg_.schedule == "wsd" ? lr_warmup_stable_decay(step, cfg_.warmup, cfg_.steps, cfg_.lr, cfg_.min_lr)
                                : lr_warmup_cosine(step, cfg_.warmup, cfg_.steps, cfg_.lr, cfg_.min_lr);
}

StepStats Pretrainer::train_step(const Batch& batch) {
  StepStats s;
  s.lr = lr_at(step_);
  opt_->set_lr(static_cast<float>(s.lr));
  Timer timer;
  Tensor loss;
  if (model_.depth() > 0) {
    const ch05::MTPLoss l = ch05::mtp_loss(model_.forward_all(batch.inputs), batch.targets, cfg_.mtp_lambda);
    loss = l.total;
    s.main_ce = l.main.item();
    s.mtp_ce = l.depth[0];
  } else {
    loss = cross_entropy(model_.forward(batch.inputs), batch.targets);
    s.main_ce = loss.item();
  }
  const Tensor bal = balancer_->terms(batch.inputs.size(0));
  if (bal.defined()) loss = add(loss, bal);
  s.loss = loss.item();
  s.forward_s = timer.seconds();
  loss.backward();
  s.backward_s = timer.seconds() - s.forward_s;
  s.grad_norm = grad_norm(model_.parameters());
  opt_->step(clip_scale(static_cast<float>(s.grad_norm), cfg_.grad_clip));   // clipping folded into the update
  opt_->zero_grad();
  balancer_->after_step();
  s.optimizer_s = timer.seconds() - s.forward_s - s.backward_s;
  s.maxvio = balancer_->maxvio_batch().empty() ? 0.0 : balancer_->maxvio_batch().back();
  ++step_;
  return s;
}

StepStats Pretrainer::step(const TokenDataset& data) {
  const StepStats s = train_step(data.sample_batch(Split::Train, cfg_.batch_size, cfg_.seq_len, data_rng_));
  history.step.push_back(static_cast<double>(step_));
  history.loss.push_back(s.loss);
  history.main_ce.push_back(s.main_ce);
  history.mtp_ce.push_back(s.mtp_ce);
  history.lr.push_back(s.lr);
  history.grad_norm.push_back(s.grad_norm);
  history.maxvio.push_back(s.maxvio);
  const auto& loads = balancer_->load_history();
  if (!loads.empty() && !loads.back().empty()) history.expert_load.push_back(loads.back()[0]);
  return s;
}

std::pair<double, double> Pretrainer::evaluate(const TokenDataset& data) {
  NoGradGuard ng;
  double main = 0, mtp = 0, n = 0;
  for (const Batch& b : data.eval_batches(Split::Val, cfg_.batch_size, cfg_.seq_len, cfg_.eval_batches)) {
    if (model_.depth() > 0) {
      const ch05::MTPLoss l = ch05::mtp_loss(model_.forward_all(b.inputs), b.targets, cfg_.mtp_lambda);
      main += l.main.item();
      mtp += l.depth[0];
    } else {
      main += cross_entropy(model_.forward(b.inputs), b.targets).item();
    }
    n += 1;
  }
  return {main / n, mtp / n};
}

void Pretrainer::record_eval(const TokenDataset& data) {
  const auto [main, mtp] = evaluate(data);
  history.eval_step.push_back(static_cast<double>(step_));
  history.val_main.push_back(main);
  history.val_mtp.push_back(mtp);
}

void Pretrainer::save_state(const std::string& dir) const {
  save_safetensors(dir + "/optimizer.safetensors", opt_->state(), DType::F32);
  const Rng::State r = data_rng_.state();
  json j = {{"step", step_},
            {"adamw_step", opt_->step_count()},
            {"data_rng", {std::to_string(r.s[0]), std::to_string(r.s[1]), std::to_string(r.s[2]), std::to_string(r.s[3])}},
            {"data_rng_spare", r.spare},
            {"data_rng_has_spare", r.has_spare},
            {"config", {{"steps", cfg_.steps}, {"batch_size", cfg_.batch_size}, {"seq_len", cfg_.seq_len}, {"lr", cfg_.lr},
                        {"min_lr", cfg_.min_lr}, {"warmup", cfg_.warmup}, {"schedule", cfg_.schedule}, {"seed", cfg_.seed}}},
            {"history", {{"step", history.step}, {"loss", history.loss}, {"main_ce", history.main_ce}, {"mtp_ce", history.mtp_ce},
                         {"lr", history.lr}, {"grad_norm", history.grad_norm}, {"maxvio", history.maxvio},
                         {"eval_step", history.eval_step}, {"val_main", history.val_main}, {"val_mtp", history.val_mtp},
                         {"expert_load", history.expert_load}}}};
  write_file_atomic(dir + "/trainer_state.json", j.dump());
}

void Pretrainer::load_state(const std::string& dir) {
  const std::string path = dir + "/trainer_state.json";
  json j;
  try {
    j = json::parse(read_text_file(path));
    const SafeTensorsFile f = load_safetensors(dir + "/optimizer.safetensors");
    NamedTensors st;
    for (const std::string& n : f.names()) st.push_back({n, f.to_tensor(n)});
    // Resuming with another schedule or batch shape would quietly make a different run.
    const json& c = j.at("config");
    auto differs = [&](const char* key, const json& now) {
      if (c.at(key) != now)
        throw std::runtime_error(dir + " was trained with " + key + " = " + c.at(key).dump() + ", not " + now.dump() +
                                 "; resume with the same settings to continue that run");
    };
    differs("steps", cfg_.steps);
    differs("batch_size", cfg_.batch_size);
    differs("seq_len", cfg_.seq_len);
    differs("schedule", cfg_.schedule);
    differs("lr", cfg_.lr);
    differs("min_lr", cfg_.min_lr);
    differs("warmup", cfg_.warmup);
    opt_->load_state(st, j.at("adamw_step").get<int64_t>());
    step_ = j.at("step").get<int64_t>();
    Rng::State r{};
    for (int i = 0; i < 4; ++i) r.s[i] = std::stoull(j.at("data_rng").at(i).get<std::string>());
    r.spare = j.at("data_rng_spare").get<double>();
    r.has_spare = j.at("data_rng_has_spare").get<bool>();
    data_rng_.set_state(r);
    const json& h = j.at("history");
    history.step = h.at("step").get<std::vector<double>>();
    history.loss = h.at("loss").get<std::vector<double>>();
    history.main_ce = h.at("main_ce").get<std::vector<double>>();
    history.mtp_ce = h.at("mtp_ce").get<std::vector<double>>();
    history.lr = h.at("lr").get<std::vector<double>>();
    history.grad_norm = h.at("grad_norm").get<std::vector<double>>();
    history.maxvio = h.at("maxvio").get<std::vector<double>>();
    history.eval_step = h.at("eval_step").get<std::vector<double>>();
    history.val_main = h.at("val_main").get<std::vector<double>>();
    history.val_mtp = h.at("val_mtp").get<std::vector<double>>();
    history.expert_load = h.at("expert_load").get<std::vector<std::vector<double>>>();
  } catch (const json::exception& e) {
    throw std::runtime_error(path + " is damaged (" + std::string(e.what()) + ")");
  }
}

}  // namespace ds::ch06
