#include "common/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <stdexcept>

#include "common/autograd.hpp"
#include "common/fsutil.hpp"
#include "common/json_error.hpp"
#include "common/memory.hpp"
#include "common/progress.hpp"
#include "common/safetensors.hpp"
#include "common/timer.hpp"

namespace ds {

using nlohmann::json;

TrainerConfig program_train_config(int64_t steps, uint64_t seed, int64_t evals) {
  TrainerConfig tc;
  tc.steps = steps;
  tc.seq_len = 128;
  tc.eval_every = std::max<int64_t>(steps / std::max<int64_t>(evals, 1), 1);
  tc.seed = seed;
  return tc;
}

void Metrics::add(const std::string& name, double value) {
  for (auto& [n, v] : items_)
    if (n == name) {
      v += value;
      return;
    }
  items_.push_back({name, value});
}

bool Metrics::has(const std::string& name) const {
  return std::any_of(items_.begin(), items_.end(), [&](const auto& it) { return it.first == name; });
}

double Metrics::at(const std::string& name) const {
  for (const auto& [n, v] : items_)
    if (n == name) return v;
  throw std::out_of_range("no metric named '" + name + "'");
}

Metrics evaluate(const LossFn& loss, const std::vector<Batch>& batches) {
  if (batches.empty()) throw std::invalid_argument("evaluate: there are no validation batches");
  NoGradGuard ng;
  Metrics sum;
  double tokens = 0;
  for (const Batch& b : batches) {
    const double n = static_cast<double>(b.targets.numel());
    const Loss l = loss(b);
    sum.add("loss", l.value.item() * n);
    for (const auto& [name, v] : l.metrics.items()) sum.add(name, v * n);
    tokens += n;
  }
  Metrics mean;
  for (const auto& [name, v] : sum.items()) mean.add(name, v / tokens);
  return mean;
}

std::vector<Batch> split_batch(const Batch& batch, int64_t parts) {
  const int64_t b = batch.inputs.size(0), t = batch.inputs.size(1);
  if (parts < 1 || b % parts != 0)
    throw std::invalid_argument("a batch of " + std::to_string(b) + " sequences does not split into " + std::to_string(parts) + " micro-batches");
  if (parts == 1) return {batch};
  const int64_t rows = b / parts;
  auto block = [&](const IntTensor& x, int64_t p) {
    const auto first = x.data.begin() + p * rows * t;
    return IntTensor(std::vector<int32_t>(first, first + rows * t), {rows, t});
  };
  std::vector<Batch> out;
  for (int64_t p = 0; p < parts; ++p) out.push_back({block(batch.inputs, p), block(batch.targets, p)});
  return out;
}

double TrainHistory::final_val(const std::string& name) const { return val.at(name).back(); }

double TrainHistory::best_val(const std::string& name) const {
  const std::vector<double>& v = val.at(name);
  return *std::min_element(v.begin(), v.end());
}

double TrainHistory::tokens_per_second() const { return seconds > 0 ? static_cast<double>(tokens) / seconds : 0.0; }

Trainer::Trainer(NamedTensors params, const TrainerConfig& cfg, LossFn loss, std::vector<std::string> replicas)
    : params_(std::move(params)), cfg_(cfg), loss_(std::move(loss)), data_rng_(cfg.seed) {
  if (cfg.schedule != "cosine" && cfg.schedule != "wsd") throw std::invalid_argument("schedule must be cosine or wsd, not '" + cfg.schedule + "'");
  if (cfg.micro_batches < 1 || cfg.batch_size % cfg.micro_batches != 0)
    throw std::invalid_argument("the batch of " + std::to_string(cfg.batch_size) + " sequences must split evenly into " +
                                std::to_string(cfg.micro_batches) + " micro-batches");
  const std::set<std::string> rep(replicas.begin(), replicas.end());
  size_t found = 0;
  for (const auto& [name, p] : params_) {
    if (rep.count(name)) ++found;
    else norm_params_.push_back(p);
  }
  if (found != rep.size()) throw std::invalid_argument("Trainer: a replica named is not among the parameters");
  AdamWConfig ac;
  ac.lr = cfg.lr;
  ac.weight_decay = cfg.weight_decay;
  opt_ = std::make_unique<AdamW>(params_, ac);
}

void Trainer::add_hook(TrainerHook& hook) { hooks_.push_back(&hook); }

float Trainer::lr_at(int64_t step) const {
  return cfg_.schedule == "wsd" ? lr_warmup_stable_decay(step, cfg_.warmup, cfg_.steps, cfg_.lr, cfg_.min_lr)
                                : lr_warmup_cosine(step, cfg_.warmup, cfg_.steps, cfg_.lr, cfg_.min_lr);
}

double Trainer::grad_sq_norm() const { return ds::grad_sq_norm(norm_params_); }

void Trainer::diverged(int64_t step, const std::string& what) const {
  const std::string last = last_saved_.empty() ? "no checkpoint was saved before it"
                                               : "the last checkpoint, saved at step " + std::to_string(last_saved_step_) + ", is " + last_saved_;
  throw std::runtime_error("training diverged at step " + std::to_string(step) + ": " + what + "; " + last +
                           " (a lower --lr, or a smaller learning rate for this loss, keeps it finite)");
}

void Trainer::optimizer_step(double global_norm, StepStats& s) {
  if (!std::isfinite(global_norm)) diverged(step_ + 1, "the gradient norm became " + std::to_string(global_norm));
  s.lr = lr_at(step_);
  s.grad_norm = global_norm;
  s.step = step_ + 1;
  for (TrainerHook* h : hooks_) h->before_step(s);
  opt_->set_lr(static_cast<float>(s.lr));
  opt_->step(clip_scale(static_cast<float>(global_norm), cfg_.grad_clip));   // clipping folded into the update
  opt_->zero_grad();
  ++step_;
  for (TrainerHook* h : hooks_) h->after_step(s);
}

StepStats Trainer::train_step(const Batch& batch) {
  if (!loss_) throw std::logic_error("Trainer::train_step: this trainer was made without a loss function");
  StepStats s;
  const int64_t live = memory::live_bytes();
  memory::reset_peak();
  Timer timer;
  const std::vector<Batch> micro = split_batch(batch, cfg_.micro_batches);
  const double k = static_cast<double>(micro.size());
  for (const Batch& mb : micro) {
    const double t0 = timer.seconds();
    const Loss l = loss_(mb);
    if (l.value.numel() != 1) shape_error("Trainer", "the loss function must return a scalar", l.value.shape());
    const double t1 = timer.seconds();
    backward({l.value}, {Tensor::full(l.value.shape(), static_cast<float>(1.0 / k))});   // d(loss / k)
    s.forward_s += t1 - t0;
    s.backward_s += timer.seconds() - t1;
    s.loss += l.value.item() / k;
    for (const auto& [name, v] : l.metrics.items()) s.metrics.add(name, v / k);
  }
  if (!std::isfinite(s.loss)) diverged(step_ + 1, "the loss became " + std::to_string(s.loss));
  const double t_opt = timer.seconds();
  optimizer_step(std::sqrt(grad_sq_norm()), s);
  s.optimizer_s = timer.seconds() - t_opt;
  s.peak_bytes = memory::peak_bytes() - live;
  return s;
}

void Trainer::record(const StepStats& s) {
  history.step.push_back(static_cast<double>(s.step));
  history.train["loss"].push_back(s.loss);
  history.train["lr"].push_back(s.lr);
  history.train["grad_norm"].push_back(s.grad_norm);
  for (const auto& [name, v] : s.metrics.items()) history.train[name].push_back(v);
}

Batch Trainer::next_batch(const TokenDataset& data) { return data.sample_batch(Split::Train, cfg_.batch_size, cfg_.seq_len, data_rng_); }

StepStats Trainer::step(const TokenDataset& data) {
  Timer timer;
  const StepStats s = train_step(next_batch(data));
  history.seconds += timer.seconds();
  history.tokens += cfg_.batch_size * cfg_.seq_len;
  record(s);
  return s;
}

Metrics Trainer::evaluate(const TokenDataset& data) const {
  if (!loss_) throw std::logic_error("Trainer::evaluate: this trainer was made without a loss function");
  return ds::evaluate(loss_, data.eval_batches(Split::Val, cfg_.batch_size, cfg_.seq_len, cfg_.eval_batches));
}

void Trainer::record_eval(const TokenDataset& data) {
  const Metrics m = evaluate(data);
  history.eval_step.push_back(static_cast<double>(step_));
  for (const auto& [name, v] : m.items()) history.val[name].push_back(v);
}

const TrainHistory& Trainer::run(const TokenDataset& data, const std::function<bool(const StepStats&)>& on_step) {
  if (history.eval_step.empty()) record_eval(data);
  Progress bar(cfg_.steps, cfg_.label, cfg_.progress);
  while (step_ < cfg_.steps) {
    const StepStats s = step(data);
    if (step_ % cfg_.eval_every == 0 || step_ == cfg_.steps) record_eval(data);
    std::vector<std::pair<std::string, double>> shown = {{"loss", s.loss}};
    for (const auto& m : s.metrics.items()) shown.push_back(m);
    // the step-0 loss of an untrained model would only mislead
    if (history.eval_step.size() > 1) shown.push_back({"val", history.val.at("loss").back()});
    bar.update(step_, shown, cfg_.batch_size * cfg_.seq_len);
    if (on_step && !on_step(s)) break;
  }
  bar.finish();
  return history;
}

void Trainer::save_state(const std::string& dir) const {
  save_safetensors(dir + "/optimizer.safetensors", opt_->state(), DType::F32);
  const Rng::State r = data_rng_.state();
  json hooks = json::object();
  for (const TrainerHook* h : hooks_)
    if (!h->key().empty()) hooks[h->key()] = h->state();
  const json j = {
      {"step", step_},
      {"adamw_step", opt_->step_count()},
      {"data_rng", {std::to_string(r.s[0]), std::to_string(r.s[1]), std::to_string(r.s[2]), std::to_string(r.s[3])}},
      {"data_rng_spare", r.spare},
      {"data_rng_has_spare", r.has_spare},
      {"config", {{"steps", cfg_.steps}, {"batch_size", cfg_.batch_size}, {"seq_len", cfg_.seq_len}, {"lr", cfg_.lr}, {"min_lr", cfg_.min_lr},
                  {"warmup", cfg_.warmup}, {"schedule", cfg_.schedule}, {"seed", cfg_.seed}}},
      {"history", {{"step", history.step}, {"train", history.train}, {"eval_step", history.eval_step}, {"val", history.val}}},
      {"hooks", hooks},
      {"run", run_settings_}};
  write_file_atomic(dir + "/trainer_state.json", j.dump());
  const std::string tail = ".tmp";   // ch06's write_folder_atomic fills DIR.tmp, then renames it to DIR
  last_saved_ = dir.size() > tail.size() && dir.compare(dir.size() - tail.size(), tail.size(), tail) == 0 ? dir.substr(0, dir.size() - tail.size()) : dir;
  last_saved_step_ = step_;
}

namespace {
// The flag that sets each saved TrainerConfig field, for the refusal sentence.
const char* flag_of(const std::string& key) {
  static const std::map<std::string, const char*> flags = {{"steps", "--steps"}, {"batch_size", "--batch"}, {"seq_len", "--seq"},
                                                           {"schedule", "--schedule"}, {"lr", "--lr"}, {"min_lr", "--min-lr"},
                                                           {"warmup", "--warmup"}};
  const auto it = flags.find(key);
  return it == flags.end() ? "" : it->second;
}

std::string shown(const json& v) {
  if (v.is_string()) return "'" + v.get<std::string>() + "'";
  if (!v.is_number_float()) return v.dump();
  char buf[32];   // a float flag's value as the reader typed it (0.3, not 0.30000001192092896)
  std::snprintf(buf, sizeof buf, "%.6g", v.get<double>());
  return buf;
}

// A saved RNG word: a decimal string of a uint64.
uint64_t rng_word(const json& v) {
  const std::string t = v.get<std::string>();
  if (t.empty() || t.size() > 20 || t.find_first_not_of("0123456789") != std::string::npos)
    throw std::invalid_argument("data_rng holds '" + t + "', not a number");
  try {
    return std::stoull(t);
  } catch (const std::out_of_range&) {
    throw std::invalid_argument("data_rng holds '" + t + "', more than 64 bits");
  }
}
}  // namespace

void Trainer::load_state(const std::string& dir) {
  recover_interrupted_save(dir);
  const std::string path = dir + "/trainer_state.json";
  try {
    const json j = json::parse(read_text_file(path));
    // Resuming with another schedule or batch shape would quietly make a different run.
    const json& c = j.at("config");
    auto same = [&](const char* key, const json& now) {
      if (c.at(key) == now) return;
      if (std::string(key) == "steps")
        throw std::runtime_error(dir + " is a run of --steps " + c.at(key).dump() +
                                 ", and its learning-rate schedule is fixed by that length: resume with --steps " + c.at(key).dump() +
                                 ", or start a new run for " + now.dump() + " steps");
      throw std::runtime_error(dir + " was trained with " + flag_of(key) + " " + shown(c.at(key)) + ", not " + shown(now) +
                               "; resume with the same settings to continue that run");
    };
    if (j.contains("run") && j.at("run").is_object())
      for (const auto& [flag, now] : run_settings_.items())
        if (j.at("run").contains(flag) && j.at("run").at(flag) != now)
          throw std::runtime_error(dir + " was trained with " + flag + " " + shown(j.at("run").at(flag)) + ", not " + shown(now) +
                                   "; resume with the same " + flag + " (another one makes a different run)");
    same("steps", cfg_.steps);
    same("batch_size", cfg_.batch_size);
    same("seq_len", cfg_.seq_len);
    same("schedule", cfg_.schedule);
    same("lr", cfg_.lr);
    same("min_lr", cfg_.min_lr);
    same("warmup", cfg_.warmup);
    const SafeTensorsFile f = load_safetensors(dir + "/optimizer.safetensors");
    NamedTensors moments;
    for (const std::string& n : f.names()) moments.push_back({n, f.to_finite_tensor(n)});
    const int64_t step = j.at("step").get<int64_t>(), adamw_step = j.at("adamw_step").get<int64_t>();
    if (step < 0 || step > cfg_.steps || adamw_step < 0)
      throw std::invalid_argument("its step " + std::to_string(step) + " is not between 0 and --steps " + std::to_string(cfg_.steps));
    opt_->load_state(moments, adamw_step);
    step_ = step;
    Rng::State r{};
    for (int i = 0; i < 4; ++i) r.s[i] = rng_word(j.at("data_rng").at(i));
    r.spare = j.at("data_rng_spare").get<double>();
    r.has_spare = j.at("data_rng_has_spare").get<bool>();
    data_rng_.set_state(r);
    const json& h = j.at("history");
    history.step = h.at("step").get<std::vector<double>>();
    history.train = h.at("train").get<std::map<std::string, std::vector<double>>>();
    history.eval_step = h.at("eval_step").get<std::vector<double>>();
    history.val = h.at("val").get<std::map<std::string, std::vector<double>>>();
    for (TrainerHook* hook : hooks_) {
      if (hook->key().empty()) continue;
      if (!j.at("hooks").contains(hook->key())) throw std::runtime_error(path + " has no state for the training hook '" + hook->key() + "'");
      hook->load_state(j.at("hooks").at(hook->key()));
    }
  } catch (const json::exception& e) {
    throw std::runtime_error(path + " is damaged or from an older version (" + json_error_text(e) + "); resume from another checkpoint");
  } catch (const std::logic_error& e) {   // a step out of range, an RNG word that is not a uint64
    throw std::runtime_error(path + " is damaged (" + std::string(e.what()) + "); resume from another checkpoint");
  }
}

}  // namespace ds
