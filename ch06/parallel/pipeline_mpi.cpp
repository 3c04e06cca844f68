#include "ch06/parallel/pipeline_mpi.hpp"

#include <omp.h>

#include <cmath>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "ch06/parallel/expert_parallel.hpp"
#include "common/memory.hpp"
#include "common/mpi.hpp"
#include "common/ops.hpp"

namespace ds::ch06 {

std::vector<std::pair<int64_t, int64_t>> stage_layers(int64_t num_layers, int stages) {
  if (stages < 1 || num_layers < stages)
    throw std::invalid_argument(std::to_string(stages) + " pipeline stages need at least as many layers, but the model has " +
                                std::to_string(num_layers));
  std::vector<std::pair<int64_t, int64_t>> cuts;
  for (int i = 0; i < stages; ++i) cuts.push_back({num_layers * i / stages, num_layers * (i + 1) / stages});
  return cuts;
}

namespace {

std::vector<int> directions(const Schedule& s) { return s.kind == ScheduleKind::DualPipe ? std::vector<int>{0, 1} : std::vector<int>{0}; }

// Messages on one (source, destination) pair are told apart by what they carry.
int tag_of(const Schedule& s, const Transfer& t) {
  return ((static_cast<int>(t.grad) * 2 + t.of.direction) * s.pp + t.of.stage) * s.micro_batches + t.of.mb;
}

// The blocks of a stage in Stage::moe_layers() order, with their layer index in the whole model.
std::vector<int64_t> moe_layer_indices(Stage& st) {
  std::vector<int64_t> out;
  for (size_t j = 0; j < st.layers.size(); ++j)
    if (!ch04::moe_layers({st.layers[j].get()}).empty()) out.push_back(st.begin() + static_cast<int64_t>(j));
  for (size_t k = 0; k < st.mtp.size(); ++k)
    if (!ch04::moe_layers({st.mtp[k].get()}).empty()) out.push_back(st.config().num_hidden_layers + static_cast<int64_t>(k));
  return out;
}

}  // namespace

PipelineRank::PipelineRank(const Schedule& s, const DeepSeekConfig& cfg, const PretrainConfig& pc, int ep)
    : s_(s), cfg_(cfg), pc_(pc), rank_(mpi::rank() / std::max(ep, 1)), ep_(ep), ep_rank_(mpi::rank() % std::max(ep, 1)),
      cuts_(stage_layers(cfg.num_hidden_layers, s.pp)) {
  if (ep < 1) throw std::invalid_argument("the expert-parallel group size must be at least 1");
  if (mpi::size() != s.ranks * ep)
    throw std::invalid_argument(schedule_title(s.kind) + " with " + std::to_string(s.pp) + " stages runs on " + std::to_string(s.ranks) +
                                " pipeline ranks x EP " + std::to_string(ep) + " = " + std::to_string(s.ranks * ep) +
                                " processes, but mpirun started " + std::to_string(mpi::size()));
  if (pc.train.micro_batches != s.micro_batches || pc.train.batch_size % (s.micro_batches * ep) != 0)
    throw std::invalid_argument("the trainer must cut each batch into the schedule's " + std::to_string(s.micro_batches) + " micro-batches of " +
                                std::to_string(ep) + " equal EP shares each");
  if (ep > 1) {
    if (cfg.n_routed_experts % ep != 0)
      throw std::invalid_argument("expert parallelism over " + std::to_string(ep) + " ranks needs n_routed_experts (" +
                                  std::to_string(cfg.n_routed_experts) + ") to be a multiple of it");
    MPI_Comm_split(MPI_COMM_WORLD, rank_, ep_rank_, &ep_comm_);     // this pipeline rank's EP group
    MPI_Comm_split(MPI_COMM_WORLD, ep_rank_, rank_, &pipe_comm_);   // the pipeline of this EP index
  }
  // Which rank holds each stage, and the names of every stage's tensors.
  Rng rng(0);
  std::map<std::string, std::set<int>> holders;
  std::map<std::string, int64_t> numel;
  std::set<std::string> param_names;
  stages_.resize(static_cast<size_t>(s.chunks_per_rank()));
  for (int st = 0; st < s.pp; ++st) {
    const auto [b, e] = cuts_[static_cast<size_t>(st)];
    auto stage = std::make_unique<Stage>(cfg, b, e, rng);
    if (ep > 1) {   // every stage, held here or not: which names are routed experts, and whose
      const ExpertShard shard = make_expert_parallel(*stage, stage->moe_layers(), ep_rank_, ep_, ep_comm_, ep_rt_);
      experts_.insert(shard.local.begin(), shard.local.end());
      experts_.insert(shard.remote.begin(), shard.remote.end());
      remote_.insert(shard.remote.begin(), shard.remote.end());
    }
    for (const auto& [name, t] : stage->named_parameters()) param_names.insert(name);
    int local = -1;   // a rank holds a stage at most once
    for (int dir : directions(s)) {
      const Chunk c{0, st, dir};
      const int r = s.rank_of(c);
      for (const auto& [name, t] : stage->state_dict()) {
        if (remote_.count(name)) continue;   // held by another EP index
        holders[name].insert(r);
        numel[name] = t.numel();
      }
      if (r == rank_) local = s.local_chunk(c);
    }
    if (local >= 0) stages_[static_cast<size_t>(local)] = std::move(stage);
  }
  for (const auto& [name, ranks] : holders) {
    owner_[name] = *ranks.begin();
    if (!param_names.count(name)) continue;
    const Replicated r{name, numel[name], ranks.count(rank_) > 0};
    if (experts_.count(name)) {
      if (ranks.size() > 1) expert_copies_.push_back(r);   // summed over this EP index's pipeline only
    } else if (ranks.size() > 1 || ep > 1) {
      replicated_.push_back(r);   // summed over every process
    }
  }
  // One rank holding both ends (DualPipe's first and last ranks) keeps one embedding: the MTP
  // modules share it physically, as V3 places them (section 3.2.3).
  Embedding* embed = nullptr;
  for (auto& st : stages_) {
    if (!st->embed_tokens) continue;
    if (embed) st->embed_tokens->weight = embed->weight;
    else embed = st->embed_tokens.get();
  }
  NamedTensors params;
  std::vector<std::string> replicas;
  std::vector<ch04::MoE*> moe;
  for (auto& st : stages_) {
    for (auto& [name, t] : st->named_parameters()) {
      if (params_.count(name) || remote_.count(name)) continue;
      params_[name] = t;
      params.push_back({name, t});
      // Counted in the norm by its owner: the lowest pipeline rank holding it, EP index 0 for a replicated weight.
      if (owner_.at(name) != rank_ || (ep_rank_ != 0 && !experts_.count(name))) replicas.push_back(name);
    }
    for (ch04::MoE* m : st->moe_layers()) moe.push_back(m);
    for (int64_t i : moe_layer_indices(*st)) moe_global_.push_back(i);
  }
  balance_ = std::make_unique<ch04::BalanceHook>(moe, pretrain_balancing(cfg, pc));
  trainer_ = std::make_unique<Trainer>(params, pc.train, LossFn{}, replicas);
  trainer_->add_hook(*balance_);
}

PipelineRank::~PipelineRank() {
  for (MPI_Comm* c : {&ep_comm_, &pipe_comm_})
    if (*c != MPI_COMM_NULL) MPI_Comm_free(c);
}

PipelineRank::Slot& PipelineRank::slot(const Chunk& c) { return slots_[{c.direction, c.stage, c.mb}]; }

Stage& PipelineRank::stage_of(const Chunk& c) { return *stages_.at(static_cast<size_t>(s_.local_chunk(c))); }

void PipelineRank::post(const std::vector<Transfer>& comm) {
  if (comm.empty()) return;
  const int64_t rows = pc_.train.batch_size / (s_.micro_batches * ep_);
  const auto process = [&](int peer) { return peer * ep_ + ep_rank_; };   // the peer's process of this EP index
  mpi::Requests req;
  std::vector<std::vector<float>> sent;
  sent.reserve(comm.size());
  std::vector<std::pair<const Transfer*, Tensor>> received_here;
  for (const Transfer& t : comm) {
    if (t.send) {
      const Slot& sl = slot(t.of);
      const Tensor data = t.grad ? sl.in.grad() : sl.out;
      if (!data.defined()) throw std::logic_error("nothing to send for " + format_op(s_, Op{t.grad ? OpKind::B : OpKind::F, t.of, t.of, false, {}}));
      sent.push_back(data.to_vector());
      req.isend(sent.back().data(), static_cast<int64_t>(sent.back().size()), process(t.peer), tag_of(s_, t));
    } else {
      Tensor buf = Tensor::empty({rows, pc_.train.seq_len, cfg_.hidden_size});
      req.irecv(buf.data(), buf.numel(), process(t.peer), tag_of(s_, t));
      received_here.push_back({&t, buf});
    }
  }
  req.wait();
  for (const Transfer& t : comm)
    if (t.send && t.grad) slot(t.of).in = Tensor();   // sent upstream: the activation's last use
  for (auto& [t, buf] : received_here) {
    const Chunk& of = t->of;
    if (t->grad) slot({of.mb, of.stage - 1, of.direction}).grad_out = buf;   // for the stage before B's
    else slot({of.mb, of.stage + 1, of.direction}).act = buf;                // for the stage after F's
  }
}

void PipelineRank::forward(const Chunk& c, const std::vector<Batch>& micro) {
  Slot& sl = slot(c);
  Stage& st = stage_of(c);
  const Batch& mb = micro.at(static_cast<size_t>(c.mb));
  if (trace_) trace_->set_micro_batch(c.mb, ep_rank_ * mb.inputs.size(0));
  Tensor out;
  if (c.stage == 0) {
    out = st.forward(mb.inputs);
  } else {
    Tensor act = sl.act;
    if (!act.defined()) act = slot({c.mb, c.stage - 1, c.direction}).out;   // the stage before runs here (DualPipeV's turn)
    if (!act.defined()) throw std::logic_error("no input activation for " + format_op(s_, Op{OpKind::F, c, {}, false, {}}));
    sl.in = received(act);
    sl.act = Tensor();
    out = st.forward(sl.in);
  }
  if (st.is_last()) {
    const ch05::MTPLoss l = st.loss(out, mb, pc_.mtp_lambda);
    sl.loss = l.total;
    main_ce_ += l.main.item() / (s_.micro_batches * ep_);
    mtp_ce_ += (l.depth.empty() ? 0.0 : l.depth[0]) / (s_.micro_batches * ep_);
  }
  sl.bal = balance_->take_balance_loss();   // this micro-batch's (the MTP modules' included), for its own backward
  sl.out = out;
}

void PipelineRank::backward(const Chunk& c, bool split) {
  Slot& sl = slot(c);
  // d(mean over micro-batches), each the mean of its EP shares' means
  const float inv_m = 1.f / static_cast<float>(s_.micro_batches * ep_);
  std::vector<Tensor> roots, grads;
  if (stage_of(c).is_last()) {
    roots.push_back(sl.loss);
    grads.push_back(Tensor::full(sl.loss.shape(), inv_m));
    step_loss_ += sl.loss.item() * inv_m;
  } else {
    Tensor g = sl.grad_out;
    if (!g.defined()) {   // the stage after runs here
      Slot& next = slot({c.mb, c.stage + 1, c.direction});
      g = next.in.grad();
      next.in = Tensor();
    }
    if (!g.defined()) throw std::logic_error("no output gradient for " + format_op(s_, Op{OpKind::B, {}, c, split, {}}));
    roots.push_back(sl.out);
    grads.push_back(g);
  }
  if (sl.bal.defined()) {
    roots.push_back(sl.bal);
    grads.push_back(Tensor::full(sl.bal.shape(), inv_m));
    step_loss_ += sl.bal.item() * inv_m;
  }
  const std::vector<Tensor> inputs = sl.in.defined() ? std::vector<Tensor>{sl.in} : std::vector<Tensor>{};
  if (split) sl.w = backward_inputs(roots, grads, inputs);
  else ds::backward(roots, grads);
  sl.out = sl.loss = sl.bal = sl.grad_out = Tensor();
}

StepStats PipelineRank::step(const TokenDataset& data, StepRecord& rec) {
  const Batch batch = trainer_->next_batch(data);
  std::vector<Batch> micro = split_batch(batch, s_.micro_batches);
  if (ep_ > 1)
    for (Batch& mb : micro) mb = split_batch(mb, ep_)[static_cast<size_t>(ep_rank_)];   // this EP rank's share
  step_loss_ = main_ce_ = mtp_ce_ = 0;
  slots_.clear();
  rec = StepRecord{};
  if (trace_) trace_->begin_step(trainer_->step_count() + 1);
  mpi::barrier();
  const double t0 = mpi::wtime();
  const double live0 = static_cast<double>(memory::live_bytes());
  const auto live = [&] { return static_cast<double>(memory::live_bytes()) - live0; };
  const auto a2a = [this] {
    const EpCounters& c = ep_rt_.counters;
    return c.dispatch_s + c.combine_s + c.backward_dispatch_s + c.backward_combine_s;
  };
  for (const Op& op : s_.programs.at(static_cast<size_t>(rank_)).ops) {
    const double posted = mpi::wtime();
    post(op.comm);
    const double start = mpi::wtime();
    rec.wait.push_back(start - posted);
    rec.live.push_back({start - t0, live()});
    const double a2a0 = a2a();
    switch (op.kind) {
      case OpKind::F: forward(op.f, micro); break;
      case OpKind::B: backward(op.b, op.split); break;
      case OpKind::W:
        slot(op.b).w.run();
        slot(op.b).w = WeightGradWork();
        break;
      case OpKind::FB:
        if (overlap_) {
          overlapped(op, micro);
        } else {
          forward(op.f, micro);
          backward(op.b, op.split);
        }
        break;
    }
    const double end = mpi::wtime();
    rec.spans.push_back({start - t0, end - t0});
    rec.all_to_all.push_back(a2a() - a2a0);
    rec.live.push_back({end - t0, live()});
  }
  post(s_.programs.at(static_cast<size_t>(rank_)).tail);
  rec.end = mpi::wtime() - t0;
  slots_.clear();

  combine_gradients();
  combine_loads();
  std::vector<double> sums = {step_loss_, main_ce_, mtp_ce_, trainer_->grad_sq_norm()};
  mpi::allreduce_sum(sums);
  StepStats s;
  s.loss = sums[0];
  s.metrics.add("main_ce", sums[1]);
  s.metrics.add("mtp_ce", sums[2]);
  trainer_->optimizer_step(std::sqrt(sums[3]), s);
  trainer_->record(s);
  trainer_->history.tokens += pc_.train.batch_size * pc_.train.seq_len;
  trainer_->history.seconds += mpi::wtime() - t0;
  return s;
}

void PipelineRank::trace_routing(const std::string& path) {
  std::vector<ch04::MoE*> layers;
  for (auto& st : stages_)
    for (ch04::MoE* m : st->moe_layers()) layers.push_back(m);   // the order moe_global_ was built in
  trace_ = std::make_unique<RoutingTrace>(layers, moe_global_, path);
}

void PipelineRank::set_overlap(bool on) {
  if (on && ep_ < 2) throw std::invalid_argument("the overlapped F&B chunk hides expert all-to-alls: it needs expert parallelism (--ep 2 or more)");
  int level = 0;
  MPI_Query_thread(&level);
  if (on && level < MPI_THREAD_SERIALIZED)
    throw std::invalid_argument("the overlapped F&B chunk needs an MPI library that allows serialized threads (MPI_THREAD_SERIALIZED)");
  overlap_ = on;
}

namespace {
// Two threads taking turns on one core: one runs while the other waits for its turn.
class Turns {
 public:
  void wait_turn(int me) {
    std::unique_lock<std::mutex> l(m_);
    cv_.wait(l, [&] { return turn_ == me || done_[1 - me]; });
  }
  void pass(int me) {   // to the other, and back when it passes again (or has finished)
    std::unique_lock<std::mutex> l(m_);
    if (done_[1 - me]) return;
    turn_ = 1 - me;
    cv_.notify_all();
    cv_.wait(l, [&] { return turn_ == me || done_[1 - me]; });
  }
  void finish(int me) {
    std::lock_guard<std::mutex> l(m_);
    done_[me] = true;
    turn_ = 1 - me;
    cv_.notify_all();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  int turn_ = 0;
  bool done_[2] = {false, false};
};
}  // namespace

void PipelineRank::overlapped(const Op& fb, const std::vector<Batch>& micro) {
  // Every EP rank of this pipeline rank runs the same two halves with the same hand-overs, so
  // they start their all-to-alls on the EP group in the same order, as MPI requires.
  Turns turns;
  std::exception_ptr failed[2];
  const int threads = omp_get_max_threads();
  std::thread back([&] {
    omp_set_num_threads(threads);
    turns.wait_turn(1);
    ep_rt_.set_yield([&] { turns.pass(1); });
    try {
      backward(fb.b, fb.split);
    } catch (...) {
      failed[1] = std::current_exception();
    }
    ep_rt_.set_yield({});
    turns.finish(1);
  });
  ep_rt_.set_yield([&] { turns.pass(0); });
  try {
    forward(fb.f, micro);
  } catch (...) {
    failed[0] = std::current_exception();
  }
  ep_rt_.set_yield({});
  turns.finish(0);
  back.join();
  for (const std::exception_ptr& e : failed)
    if (e) std::rethrow_exception(e);
}

void PipelineRank::combine_gradients() {
  sum_gradients(replicated_, params_, MPI_COMM_WORLD);
  if (ep_ == 1) return;
  sum_gradients(expert_copies_, params_, pipe_comm_);
  // An expert no token reached on this rank has a zero gradient, as in one process (where the
  // routed-experts op covers every expert), so AdamW still decays it and applies its momentum.
  for (auto& [name, p] : params_)
    if (experts_.count(name) && !p.grad().defined()) p.set_grad(Tensor::zeros(p.shape()));
}

void PipelineRank::sum_gradients(const std::vector<Replicated>& list, std::map<std::string, Tensor>& params, MPI_Comm comm) {
  int64_t total = 0;
  for (const Replicated& r : list) total += r.numel;
  if (total == 0) return;
  std::vector<float> buf(static_cast<size_t>(total), 0.f);
  int64_t at = 0;
  for (const Replicated& r : list) {
    if (r.held) {
      const Tensor g = params.at(r.name).grad();
      if (g.defined()) std::memcpy(buf.data() + at, g.data(), static_cast<size_t>(r.numel) * sizeof(float));
    }
    at += r.numel;
  }
  MPI_Allreduce(MPI_IN_PLACE, buf.data(), static_cast<int>(buf.size()), MPI_FLOAT, MPI_SUM, comm);   // every copy's part, added up
  at = 0;
  for (const Replicated& r : list) {
    if (r.held) {
      Tensor& p = params.at(r.name);
      p.set_grad(Tensor::from(std::vector<float>(buf.begin() + at, buf.begin() + at + r.numel), p.shape()));
    }
    at += r.numel;
  }
}

void PipelineRank::combine_loads() {
  const int64_t experts = cfg_.n_routed_experts;
  const int64_t layers = cfg_.num_hidden_layers + cfg_.num_nextn_predict_layers;
  std::vector<double> buf(static_cast<size_t>(layers * experts), 0.0);
  std::vector<std::vector<double>>& load = balance_->step_load();
  for (size_t i = 0; i < moe_global_.size(); ++i)
    for (int64_t e = 0; e < experts; ++e) buf[static_cast<size_t>(moe_global_[i] * experts + e)] += load[i][static_cast<size_t>(e)];
  mpi::allreduce_sum(buf);
  for (size_t i = 0; i < moe_global_.size(); ++i)
    for (int64_t e = 0; e < experts; ++e) load[i][static_cast<size_t>(e)] = buf[static_cast<size_t>(moe_global_[i] * experts + e)];
}

}  // namespace ds::ch06
