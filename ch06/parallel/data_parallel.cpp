#include "ch06/parallel/data_parallel.hpp"

#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <numeric>
#include <set>
#include <stdexcept>

#include "ch04/balance_rules.hpp"
#include "ch06/checkpoint.hpp"
#include "common/autograd.hpp"
#include "common/fsutil.hpp"
#include "common/memory.hpp"
#include "common/progress.hpp"
#include "common/safetensors.hpp"
#include "common/timer.hpp"

namespace ds::ch06 {

namespace {
// params' gradients (zeros where undefined) laid end to end in `order`.
std::vector<float> flat_grads(const NamedTensors& params, const std::vector<size_t>& order) {
  size_t n = 0;
  for (size_t i : order) n += static_cast<size_t>(params[i].second.numel());
  std::vector<float> flat(n, 0.f);
  size_t at = 0;
  for (size_t i : order) {
    const Tensor g = params[i].second.grad();
    const size_t m = static_cast<size_t>(params[i].second.numel());
    if (g.defined()) std::copy(g.data(), g.data() + m, flat.begin() + static_cast<std::ptrdiff_t>(at));
    at += m;
  }
  return flat;
}

// Sets .grad of params[order[...]] from a flat buffer, scaled.
void set_grads(const NamedTensors& params, const std::vector<size_t>& order, const float* flat, float scale) {
  size_t at = 0;
  for (size_t i : order) {
    Tensor p = params[i].second;   // a handle: the gradient lands on the parameter
    Tensor g = Tensor::empty(p.shape());
    for (int64_t j = 0; j < p.numel(); ++j) g.data()[j] = flat[at + static_cast<size_t>(j)] * scale;
    p.set_grad(g);
    at += static_cast<size_t>(p.numel());
  }
}
}  // namespace

void allreduce_mean_grads(const std::vector<Tensor>& params) {
  NamedTensors named;
  std::vector<size_t> order;
  for (size_t i = 0; i < params.size(); ++i) {
    named.push_back({"", params[i]});
    order.push_back(i);
  }
  std::vector<float> flat = flat_grads(named, order);
  mpi::allreduce_sum(flat);
  set_grads(named, order, flat.data(), 1.f / static_cast<float>(mpi::size()));
}

std::vector<int> zero1_owners(const NamedTensors& params, int ranks) {
  std::vector<size_t> by_size(params.size());
  std::iota(by_size.begin(), by_size.end(), 0);
  std::stable_sort(by_size.begin(), by_size.end(), [&](size_t a, size_t b) { return params[a].second.numel() > params[b].second.numel(); });
  std::vector<int64_t> load(static_cast<size_t>(ranks), 0);
  std::vector<int> owner(params.size(), 0);
  for (size_t i : by_size) {
    const int r = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
    owner[i] = r;
    load[static_cast<size_t>(r)] += params[i].second.numel();
  }
  return owner;
}

GlobalBalanceHook::GlobalBalanceHook(std::vector<ch04::MoE*> layers, float gamma) : layers_(std::move(layers)), gamma_(gamma) {
  for (ch04::MoE* m : layers_) {
    step_load_.emplace_back(static_cast<size_t>(m->config().gate.n_routed_experts), 0.0);
    m->attach(this);
  }
}

GlobalBalanceHook::~GlobalBalanceHook() {
  for (ch04::MoE* m : layers_) m->detach(this);
}

void GlobalBalanceHook::on_routing(const ch04::MoE& layer, const ch04::Routing& r, int64_t, int64_t) {
  if (!grad_enabled()) return;
  const size_t i = static_cast<size_t>(std::find(layers_.begin(), layers_.end(), &layer) - layers_.begin());
  const std::vector<double> load = ch04::expert_load(r.experts, static_cast<int64_t>(step_load_.at(i).size()));
  for (size_t j = 0; j < load.size(); ++j) step_load_[i][j] += load[j];
}

void GlobalBalanceHook::after_step(StepStats& s) {
  double vio = 0;
  std::vector<std::vector<int64_t>> counts;
  for (size_t i = 0; i < layers_.size(); ++i) {
    std::vector<double>& load = step_load_[i];
    mpi::allreduce_sum(load);   // Load_i of the whole global batch
    if (layers_[i]->gate.has_bias()) ch04::update_bias(layers_[i]->gate, load, gamma_);
    vio += ch04::max_violation(load);
    counts.emplace_back(load.begin(), load.end());
    std::fill(load.begin(), load.end(), 0.0);
  }
  s.metrics.add("maxvio", layers_.empty() ? 0.0 : vio / static_cast<double>(layers_.size()));
  load_history_.push_back(std::move(counts));
}

void GlobalBalanceHook::load_state(const nlohmann::json& state) {
  load_history_ = state.at("load").get<std::vector<std::vector<std::vector<int64_t>>>>();
  for (const auto& step : load_history_)
    if (step.size() != layers_.size()) throw std::runtime_error("the saved expert loads are of another number of MoE layers");
}

ch04::BalanceConfig loss_only_balancing(const DeepSeekModel&, const PretrainConfig& cfg) {
  ch04::BalanceConfig bc;
  bc.strategy = ch04::Balancing::SeqAux;   // V3's and V2's sequence-wise loss alike; the bias moves in GlobalBalanceHook
  bc.seq_alpha = cfg.seq_alpha;
  return bc;
}

namespace {
NamedTensors select(const NamedTensors& all, const std::vector<std::string>& names, bool keep) {
  const std::set<std::string> set(names.begin(), names.end());
  NamedTensors out;
  for (const auto& nt : all)
    if (set.count(nt.first) == static_cast<size_t>(keep)) out.push_back(nt);
  return out;
}
}  // namespace

DataParallelTrainer::DataParallelTrainer(DeepSeekModel& model, const PretrainConfig& cfg, bool zero1, const std::vector<std::string>& rank_local,
                                         const std::vector<std::string>& excluded)
    : model_(model),
      cfg_(cfg),
      zero1_(zero1),
      params_(select(select(model.named_parameters(), rank_local, false), excluded, false)),
      local_(select(model.named_parameters(), rank_local, true)),
      balance_loss_(model.moe_layers(), loss_only_balancing(model, cfg)),
      balance_(model.moe_layers(), cfg.bias_gamma),
      loss_(ch04::with_balance_loss(ch05::mtp_training_loss(model, cfg.mtp_lambda), balance_loss_)),
      sampler_(cfg.train.seed) {
  const int ranks = mpi::size(), me = mpi::rank();
  if (cfg.train.batch_size % ranks != 0)
    throw std::invalid_argument("the global batch of " + std::to_string(cfg.train.batch_size) + " sequences must split evenly over " +
                                std::to_string(ranks) + " ranks");
  if ((cfg.train.batch_size / ranks) % cfg.train.micro_batches != 0)
    throw std::invalid_argument("each rank's " + std::to_string(cfg.train.batch_size / ranks) + " sequences must split evenly into " +
                                std::to_string(cfg.train.micro_batches) + " micro-batches");
  owner_ = zero1 ? zero1_owners(params_, ranks) : std::vector<int>(params_.size(), -1);
  counts_.assign(static_cast<size_t>(ranks), 0);
  NamedTensors mine;
  for (int r = 0; r < ranks; ++r)
    for (size_t i = 0; i < params_.size(); ++i)
      if (owner_[i] == r || (!zero1 && r == 0)) {
        order_.push_back(i);
        counts_[static_cast<size_t>(r)] += static_cast<int>(params_[i].second.numel());
      }
  for (size_t i = 0; i < params_.size(); ++i)
    if (!zero1 || owner_[i] == me) mine.push_back(params_[i]);
  mine.insert(mine.end(), local_.begin(), local_.end());
  TrainerConfig tc = cfg.train;
  tc.progress = false;
  trainer_ = std::make_unique<Trainer>(mine, tc, LossFn{});
  trainer_->add_hook(balance_);
}

DataParallelTrainer::~DataParallelTrainer() = default;

int64_t DataParallelTrainer::optimizer_bytes() const { return trainer_->optimizer().state_bytes(); }

int64_t DataParallelTrainer::owned_parameters() const {
  int64_t n = 0;
  for (const auto& [name, p] : local_) n += p.numel();
  for (size_t i = 0; i < params_.size(); ++i)
    if (!zero1_ || owner_[i] == mpi::rank()) n += params_[i].second.numel();
  return n;
}

StepStats DataParallelTrainer::train_step(const Batch& global_batch) {
  const int ranks = mpi::size(), me = mpi::rank();
  StepStats s;
  const int64_t live = memory::live_bytes();
  memory::reset_peak();
  Timer timer;
  const Batch mine = split_batch(global_batch, ranks)[static_cast<size_t>(me)];
  const std::vector<Batch> micro = split_batch(mine, cfg_.train.micro_batches);
  const double k = static_cast<double>(micro.size());
  std::vector<double> sums;   // loss, then the metrics in order, for the mean over ranks
  Metrics local;
  for (const Batch& mb : micro) {
    const double t0 = timer.seconds();
    const Loss l = loss_(mb);
    const double t1 = timer.seconds();
    backward({l.value}, {Tensor::full(l.value.shape(), static_cast<float>(1.0 / k))});
    s.forward_s += t1 - t0;
    s.backward_s += timer.seconds() - t1;
    local.add("loss", l.value.item() / k);
    for (const auto& [name, v] : l.metrics.items()) local.add(name, v / k);
  }
  for (const auto& [name, v] : local.items()) sums.push_back(v);
  mpi::allreduce_sum(sums);
  for (size_t i = 0; i < sums.size(); ++i) {
    const auto& name = local.items()[i].first;
    if (name == "loss") s.loss = sums[i] / ranks;
    else s.metrics.add(name, sums[i] / ranks);
  }

  const double t_opt = timer.seconds();
  std::vector<float> flat = flat_grads(params_, order_);
  const float mean = 1.f / static_cast<float>(ranks);
  double sq = 0;
  if (zero1_) {
    // Each owner receives the sum of its parameters' gradients (ZeRO's reduce-scatter).
    std::vector<float> shard(static_cast<size_t>(counts_[static_cast<size_t>(me)]));
    MPI_Reduce_scatter(flat.data(), shard.data(), counts_.data(), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    std::vector<size_t> owned;
    for (size_t i : order_)
      if (owner_[i] == me) owned.push_back(i);
    set_grads(params_, owned, shard.data(), mean);
    for (size_t i = 0; i < params_.size(); ++i)
      if (owner_[i] != me) Tensor(params_[i].second).zero_grad();
  } else {
    mpi::allreduce_sum(flat);
    set_grads(params_, order_, flat.data(), mean);
  }
  // A rank's own experts' gradients hold the sum over every rank's mean loss: / ranks for the mean.
  std::vector<Tensor> own_experts;
  for (auto [name, p] : local_) {
    const Tensor g = p.grad();
    Tensor scaled = Tensor::zeros(p.shape());   // an expert no token reached has a zero gradient, as in one process
    if (g.defined())
      for (int64_t j = 0; j < p.numel(); ++j) scaled.data()[j] = g.data()[j] * mean;
    p.set_grad(scaled);
    own_experts.push_back(p);
  }
  // The global norm: each replicated gradient counted once (by its owner, or by rank 0), plus
  // every rank's own experts.
  std::vector<Tensor> counted = own_experts;
  for (size_t i = 0; i < params_.size(); ++i)
    if (zero1_ ? owner_[i] == me : me == 0) counted.push_back(params_[i].second);
  sq = mpi::allreduce_sum(ds::grad_sq_norm(counted));
  trainer_->optimizer_step(std::sqrt(sq), s);
  if (zero1_) {
    // Every rank gets every owner's updated weights (ZeRO's all-gather).
    std::vector<int> displs(static_cast<size_t>(ranks), 0);
    for (int r = 1; r < ranks; ++r) displs[static_cast<size_t>(r)] = displs[static_cast<size_t>(r - 1)] + counts_[static_cast<size_t>(r - 1)];
    std::vector<float> weights(flat.size());
    float* at = weights.data() + displs[static_cast<size_t>(me)];
    for (size_t i : order_)
      if (owner_[i] == me) at = std::copy(params_[i].second.data(), params_[i].second.data() + params_[i].second.numel(), at);
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, weights.data(), counts_.data(), displs.data(), MPI_FLOAT, MPI_COMM_WORLD);
    size_t pos = 0;
    for (size_t i : order_) {
      const Tensor& p = params_[i].second;
      std::copy(weights.begin() + static_cast<std::ptrdiff_t>(pos), weights.begin() + static_cast<std::ptrdiff_t>(pos + static_cast<size_t>(p.numel())),
                p.data());
      pos += static_cast<size_t>(p.numel());
    }
  }
  model_.zero_grad();
  s.optimizer_s = timer.seconds() - t_opt;
  s.peak_bytes = memory::peak_bytes() - live;
  return s;
}

StepStats DataParallelTrainer::step(const TokenDataset& data) {
  Timer timer;
  const TrainerConfig& tc = cfg_.train;
  const StepStats s = train_step(data.sample_batch(Split::Train, tc.batch_size, tc.seq_len, sampler_));
  trainer_->history.seconds += timer.seconds();
  trainer_->history.tokens += tc.batch_size * tc.seq_len;
  trainer_->record(s);
  return s;
}

Metrics DataParallelTrainer::evaluate(const TokenDataset& data) const {
  const TrainerConfig& tc = cfg_.train;
  const std::vector<Batch> all = data.eval_batches(Split::Val, tc.batch_size, tc.seq_len, tc.eval_batches);
  const int ranks = mpi::size();
  if (static_cast<int>(all.size()) < ranks) return ds::evaluate(loss_, all);   // too few to share: every rank does all
  std::vector<Batch> mine;
  double tokens = 0;
  for (size_t b = static_cast<size_t>(mpi::rank()); b < all.size(); b += static_cast<size_t>(ranks)) {
    mine.push_back(all[b]);
    tokens += static_cast<double>(all[b].targets.numel());
  }
  const Metrics m = ds::evaluate(loss_, mine);   // token-weighted means of this rank's batches
  std::vector<double> sums;
  for (const auto& [name, v] : m.items()) sums.push_back(v * tokens);
  sums.push_back(tokens);
  mpi::allreduce_sum(sums);
  Metrics out;
  for (size_t i = 0; i < m.items().size(); ++i) out.add(m.items()[i].first, sums[i] / sums.back());
  return out;
}

const TrainHistory& DataParallelTrainer::run(const TokenDataset& data, const std::function<bool(const StepStats&)>& on_step) {
  TrainHistory& h = trainer_->history;
  const TrainerConfig& tc = cfg_.train;
  auto record_eval = [&] {
    const Metrics m = evaluate(data);
    h.eval_step.push_back(static_cast<double>(trainer_->step_count()));
    for (const auto& [name, v] : m.items()) h.val[name].push_back(v);
  };
  if (h.eval_step.empty()) record_eval();
  Progress bar(tc.steps, tc.label, tc.progress && mpi::rank() == 0);
  while (trainer_->step_count() < tc.steps) {
    const StepStats s = step(data);
    const int64_t done = trainer_->step_count();
    if (done % tc.eval_every == 0 || done == tc.steps) record_eval();
    std::vector<std::pair<std::string, double>> shown = {{"loss", s.loss}};
    for (const auto& m : s.metrics.items()) shown.push_back(m);
    if (h.eval_step.size() > 1) shown.push_back({"val", h.val.at("loss").back()});
    bar.update(done, shown, tc.batch_size * tc.seq_len);
    // Every rank must agree to go on (a Ctrl-C may reach one rank only).
    const bool go = !on_step || on_step(s);
    if (mpi::allreduce_sum(go ? 0.0 : 1.0) > 0) break;
  }
  bar.finish();
  return h;
}

void DataParallelTrainer::save(const std::string& dir, const Tokenizer* tokenizer) {
  // Gather the moments of every parameter on rank 0, in the reduce-scatter layout.
  if (!local_.empty()) throw std::logic_error("DataParallelTrainer::save: checkpoints of an expert-parallel run are not written here");
  const int ranks = mpi::size(), me = mpi::rank();
  const NamedTensors local = trainer_->optimizer().state();   // exp_avg.* then exp_avg_sq.* of the owned parameters
  std::map<std::string, Tensor> moments(local.begin(), local.end());
  if (zero1_) {
    std::vector<float> send;
    for (const char* prefix : {"exp_avg.", "exp_avg_sq."})
      for (size_t i : order_)
        if (owner_[i] == me) {
          const Tensor& t = moments.at(prefix + params_[i].first);
          send.insert(send.end(), t.data(), t.data() + t.numel());
        }
    std::vector<int> counts(static_cast<size_t>(ranks)), displs(static_cast<size_t>(ranks), 0);
    for (int r = 0; r < ranks; ++r) counts[static_cast<size_t>(r)] = 2 * counts_[static_cast<size_t>(r)];
    for (int r = 1; r < ranks; ++r) displs[static_cast<size_t>(r)] = displs[static_cast<size_t>(r - 1)] + counts[static_cast<size_t>(r - 1)];
    std::vector<float> all(me == 0 ? static_cast<size_t>(displs.back() + counts.back()) : 0);
    MPI_Gatherv(send.data(), static_cast<int>(send.size()), MPI_FLOAT, all.data(), counts.data(), displs.data(), MPI_FLOAT, 0, MPI_COMM_WORLD);
    if (me == 0) {
      for (int r = 0; r < ranks; ++r) {
        const float* at = all.data() + displs[static_cast<size_t>(r)];
        for (const char* prefix : {"exp_avg.", "exp_avg_sq."})
          for (size_t i : order_)
            if (owner_[i] == r) {
              Tensor t = Tensor::empty(params_[i].second.shape());
              std::copy(at, at + t.numel(), t.data());
              at += t.numel();
              moments[prefix + params_[i].first] = t;
            }
      }
    }
  }
  if (me == 0) {
    NamedTensors full;   // AdamW::state()'s order for the whole model
    for (const char* prefix : {"exp_avg.", "exp_avg_sq."})
      for (const auto& [name, p] : params_) full.push_back({prefix + name, moments.at(prefix + name)});
    write_folder_atomic(dir, [&](const std::string& tmp) {
      write_model_files(tmp, model_, tokenizer);
      trainer_->save_state(tmp);
      save_safetensors(tmp + "/optimizer.safetensors", full, DType::F32);
      // The data sampler is this trainer's, not the shard trainer's.
      nlohmann::json j = nlohmann::json::parse(read_text_file(tmp + "/trainer_state.json"));
      const Rng::State r = sampler_.state();
      j["data_rng"] = {std::to_string(r.s[0]), std::to_string(r.s[1]), std::to_string(r.s[2]), std::to_string(r.s[3])};
      j["data_rng_spare"] = r.spare;
      j["data_rng_has_spare"] = r.has_spare;
      write_file_atomic(tmp + "/trainer_state.json", j.dump());
    });
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

void DataParallelTrainer::load(const std::string& dir) {
  trainer_->load_state(dir);   // the owned parameters' moments (the file holds all), step, history, hooks
  const nlohmann::json j = nlohmann::json::parse(read_text_file(dir + "/trainer_state.json"));
  Rng::State r{};
  for (int i = 0; i < 4; ++i) r.s[i] = std::stoull(j.at("data_rng").at(i).get<std::string>());
  r.spare = j.at("data_rng_spare").get<double>();
  r.has_spare = j.at("data_rng_has_spare").get<bool>();
  sampler_.set_state(r);
}

}  // namespace ds::ch06
