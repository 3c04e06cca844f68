#include "ch06/parallel/expert_parallel.hpp"

#include <mpi.h>

#include <algorithm>
#include <array>
#include <map>
#include <stdexcept>

#include "common/autograd.hpp"
#include "common/ops.hpp"
#include "common/timer.hpp"

namespace ds::ch06 {

void EpRuntime::set_yield(std::function<void()> yield) {
  std::lock_guard<std::mutex> l(m_);
  if (yield)
    yields_[std::this_thread::get_id()] = std::move(yield);
  else
    yields_.erase(std::this_thread::get_id());
}

std::function<void()> EpRuntime::yield() const {
  std::lock_guard<std::mutex> l(m_);
  const auto it = yields_.find(std::this_thread::get_id());
  return it == yields_.end() ? std::function<void()>{} : it->second;
}

namespace {
// With sync timing, waits for every rank and books the wait apart.
void sync_point(EpRuntime& rt, MPI_Comm comm) {
  if (!rt.sync_timing) return;
  Timer t;
  MPI_Barrier(comm);
  rt.counters.wait_s += t.seconds();
}
}  // namespace

namespace {
std::vector<int> offsets(const std::vector<int>& counts) {
  std::vector<int> at(counts.size(), 0);
  for (size_t i = 1; i < counts.size(); ++i) at[i] = at[i - 1] + counts[i - 1];
  return at;
}

// Every rank learns how many rows each other rank will send it (MPI_Alltoall of the counts).
Exchange plan_exchange(const std::vector<int>& send_rows, MPI_Comm comm) {
  Exchange ex;
  ex.send = send_rows;
  ex.recv.assign(send_rows.size(), 0);
  MPI_Alltoall(ex.send.data(), 1, MPI_INT, ex.recv.data(), 1, MPI_INT, comm);
  ex.send_at = offsets(ex.send);
  ex.recv_at = offsets(ex.recv);
  return ex;
}

struct Scaled {
  std::vector<int> sc, sa, rc, ra;
};
Scaled scaled(const Exchange& ex, int64_t width) {
  auto times = [width](const std::vector<int>& v) {
    std::vector<int> out(v.size());
    for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<int>(v[i] * width);
    return out;
  };
  return {times(ex.send), times(ex.send_at), times(ex.recv), times(ex.recv_at)};
}

// Rows of `width` floats: send[send_at[d] .. + send[d]] go to rank d; recv is filled likewise.
// With a yield (EpRuntime::set_yield) the exchange is started, the yield runs, then it is waited for.
void exchange_rows(const float* send, float* recv, const Exchange& ex, int64_t width, MPI_Comm comm, const std::function<void()>& yield) {
  const Scaled s = scaled(ex, width);
  if (!yield) {
    MPI_Alltoallv(send, s.sc.data(), s.sa.data(), MPI_FLOAT, recv, s.rc.data(), s.ra.data(), MPI_FLOAT, comm);
    return;
  }
  MPI_Request req;
  MPI_Ialltoallv(send, s.sc.data(), s.sa.data(), MPI_FLOAT, recv, s.rc.data(), s.ra.data(), MPI_FLOAT, comm, &req);
  yield();   // other work while the rows are in flight
  MPI_Wait(&req, MPI_STATUS_IGNORE);
}

int64_t remote_rows(const std::vector<int>& rows, int me) {
  int64_t n = 0;
  for (size_t d = 0; d < rows.size(); ++d)
    if (static_cast<int>(d) != me) n += rows[d];
  return n;
}
}  // namespace

namespace {
int this_rank(MPI_Comm comm = MPI_COMM_WORLD) {
  int me = 0;
  MPI_Comm_rank(comm, &me);
  return me;
}
}  // namespace

Dispatch pack_dispatch(const Tensor& u, const ch04::Routing& r, const ExpertPlacement& place) {
  const int64_t n = u.size(0), c = u.size(1), k = r.experts.size(1);
  const int ranks = place.ranks;
  Dispatch d;
  d.c = c;
  d.k = k;
  d.comm = place.comm;
  d.to.resize(static_cast<size_t>(ranks));
  // The tokens bound for each rank, each once, in token order.
  for (int64_t t = 0; t < n; ++t) {
    std::vector<bool> sent(static_cast<size_t>(ranks), false);
    for (int64_t s = 0; s < k; ++s) {
      const size_t dst = static_cast<size_t>(place.owner(r.experts[t * k + s]));
      if (!sent[dst]) d.to[dst].push_back(static_cast<int32_t>(t));
      sent[dst] = true;
    }
  }
  std::vector<int> rows(static_cast<size_t>(ranks));
  for (size_t dst = 0; dst < rows.size(); ++dst) rows[dst] = static_cast<int>(d.to[dst].size());
  d.ex = plan_exchange(rows, place.comm);
  // A row: [x_t (C) | g of the slots the rank serves, 0 elsewhere (k) | their local expert id, -1 elsewhere (k)]
  const int64_t width = d.width();
  d.send.resize(static_cast<size_t>(d.ex.sent() * width));
  const float* g = r.weights.data();
  for (int dst = 0; dst < ranks; ++dst)
    for (size_t i = 0; i < d.to[static_cast<size_t>(dst)].size(); ++i) {
      const int64_t t = d.to[static_cast<size_t>(dst)][i];
      float* row = d.send.data() + (d.ex.send_at[static_cast<size_t>(dst)] + static_cast<int64_t>(i)) * width;
      std::copy(u.data() + t * c, u.data() + (t + 1) * c, row);
      for (int64_t s = 0; s < k; ++s) {
        const int64_t e = r.experts[t * k + s];
        const bool here = place.owner(e) == dst;
        row[c + s] = here ? g[t * k + s] : 0.f;
        row[c + k + s] = here ? static_cast<float>(e - dst * place.per_rank()) : -1.f;
      }
    }
  d.recv.resize(static_cast<size_t>(d.ex.received() * width));
  return d;
}

void Dispatch::exchange(const std::function<void()>& yield) { exchange_rows(send.data(), recv.data(), ex, width(), comm, yield); }

void Dispatch::start(MPI_Request* request) {
  const Scaled s = scaled(ex, width());
  counts_ = {s.sc, s.sa, s.rc, s.ra};
  MPI_Ialltoallv(send.data(), counts_[0].data(), counts_[1].data(), MPI_FLOAT, recv.data(), counts_[2].data(), counts_[3].data(), MPI_FLOAT,
                 comm, request);
}

Received Dispatch::received(int64_t per_rank) const {
  const int64_t got = ex.received(), width = c + 2 * k;
  Received out{Tensor::empty({got, c}), Tensor::empty({got * k}), std::vector<std::vector<int32_t>>(static_cast<size_t>(per_rank))};
  for (int64_t i = 0; i < got; ++i) {
    const float* row = recv.data() + i * width;
    std::copy(row, row + c, out.x.data() + i * c);
    for (int64_t s = 0; s < k; ++s) {
      out.weights.data()[i * k + s] = row[c + s];
      if (row[c + k + s] >= 0) out.slots[static_cast<size_t>(row[c + k + s])].push_back(static_cast<int32_t>(i * k + s));
    }
  }
  return out;
}

Tensor Dispatch::combined(const float* returned, int64_t n) const {
  Tensor out = Tensor::zeros({n, c});
  for (size_t dst = 0; dst < to.size(); ++dst)
    for (size_t i = 0; i < to[dst].size(); ++i) {
      const float* row = returned + (ex.send_at[dst] + static_cast<int64_t>(i)) * c;
      float* o = out.data() + to[dst][i] * c;
      for (int64_t j = 0; j < c; ++j) o[j] += row[j];
    }
  return out;
}

Tensor expert_parallel_routed_experts(const Tensor& u, const ch04::Routing& r, const ch04::ExpertWeights& local, const ExpertPlacement& place,
                                      EpRuntime& rt) {
  const int64_t n = u.size(0), c = u.size(1), k = r.experts.size(1);
  const int me = this_rank(place.comm);
  EpCounters& cnt = rt.counters;
  const std::function<void()> yield = rt.yield();
  sync_point(rt, place.comm);
  Timer timer;

  // Dispatch: each token once to every rank holding one of its experts.
  auto d = std::make_shared<Dispatch>(pack_dispatch(u, r, place));
  d->exchange(yield);
  cnt.dispatch_s += timer.seconds();
  cnt.tokens += n;
  cnt.token_copies += d->ex.sent();
  cnt.remote_copies += remote_rows(d->ex.send, me);
  cnt.bytes_sent += remote_rows(d->ex.send, me) * d->width() * static_cast<int64_t>(sizeof(float));

  // Compute: this rank's experts on the rows it received (ch04's routed_experts op).
  const double t_compute = timer.seconds();
  Received got = d->received(place.per_rank());
  d->recv = {};
  if (grad_enabled() && (u.requires_grad() || r.weights.requires_grad())) {
    got.x.requires_grad_();
    got.weights.requires_grad_();
  }
  const int64_t rows = got.x.size(0);
  const Tensor yr = rows > 0 ? ch04::routed_experts(got.x, got.weights, k, got.slots, local) : Tensor::zeros({0, c});
  cnt.compute_s += timer.seconds() - t_compute;

  // Combine: each received row's sum of g FFN(x) goes back to its token's rank.
  sync_point(rt, place.comm);
  const double t_combine = timer.seconds();
  std::vector<float> ret(static_cast<size_t>(d->ex.sent() * c));
  exchange_rows(yr.data(), ret.data(), d->ex.reversed(), c, place.comm, yield);
  Tensor out = d->combined(ret.data(), n);
  cnt.combine_s += timer.seconds() - t_combine;
  cnt.bytes_sent += remote_rows(d->ex.recv, me) * c * static_cast<int64_t>(sizeof(float));

  const Tensor xr = got.x, wr = got.weights;
  return record(out, {u, r.weights}, "expert_parallel_routed_experts", [=, &rt](const Tensor& gout, const std::vector<bool>& need, std::vector<Tensor>& gin) {
    EpCounters& bc = rt.counters;
    const std::function<void()> back_yield = rt.yield();   // the thread running the backward's
    sync_point(rt, d->comm);
    Timer bt;
    // The output gradient of each token goes where the token went.
    const Exchange& ex = d->ex;
    std::vector<float> gsend(static_cast<size_t>(ex.sent() * c));
    for (size_t dst = 0; dst < d->to.size(); ++dst)
      for (size_t i = 0; i < d->to[dst].size(); ++i)
        std::copy(gout.data() + d->to[dst][i] * c, gout.data() + (d->to[dst][i] + 1) * c, gsend.data() + (ex.send_at[dst] + static_cast<int64_t>(i)) * c);
    Tensor gr = Tensor::empty({rows, c});
    exchange_rows(gsend.data(), gr.data(), ex, c, d->comm, back_yield);
    bc.backward_dispatch_s += bt.seconds();
    // The local experts' backward: their weight gradients accumulate here; dx and dg go back.
    const double t0 = bt.seconds();
    if (rows > 0 && yr.requires_grad()) ds::backward({yr}, {gr});
    const int64_t bw = c + k;
    std::vector<float> bsend(static_cast<size_t>(rows * bw), 0.f);
    const Tensor dxr = xr.grad(), dwr = wr.grad();
    for (int64_t i = 0; i < rows; ++i) {
      if (dxr.defined()) std::copy(dxr.data() + i * c, dxr.data() + (i + 1) * c, bsend.data() + i * bw);
      if (dwr.defined()) std::copy(dwr.data() + i * k, dwr.data() + (i + 1) * k, bsend.data() + i * bw + c);
    }
    bc.backward_compute_s += bt.seconds() - t0;
    sync_point(rt, d->comm);
    const double t1 = bt.seconds();
    std::vector<float> brecv(static_cast<size_t>(ex.sent() * bw));
    exchange_rows(bsend.data(), brecv.data(), ex.reversed(), bw, d->comm, back_yield);
    Tensor dx = Tensor::zeros({n, c}), dw = Tensor::zeros({n, k});
    for (size_t dst = 0; dst < d->to.size(); ++dst)
      for (size_t i = 0; i < d->to[dst].size(); ++i) {
        const int64_t t = d->to[dst][i];
        const float* row = brecv.data() + (ex.send_at[dst] + static_cast<int64_t>(i)) * bw;
        for (int64_t j = 0; j < c; ++j) dx.data()[t * c + j] += row[j];
        for (int64_t s = 0; s < k; ++s) dw.data()[t * k + s] += row[c + s];   // 0 from ranks that do not serve the slot
      }
    if (need[0]) gin[0] = dx;
    if (need[1]) gin[1] = dw;
    bc.backward_combine_s += bt.seconds() - t1;
  });
}

ch04::ExpertWeights rank_experts(const ch04::MoE& moe, const ExpertPlacement& place, int rank) {
  ch04::ExpertWeights local;
  for (int64_t j = rank * place.per_rank(); j < (rank + 1) * place.per_rank(); ++j) {
    const ch02::SwiGLU& ex = *moe.experts[static_cast<size_t>(j)];
    local.gate_proj.push_back(ex.gate_proj.weight);
    local.up_proj.push_back(ex.up_proj.weight);
    local.down_proj.push_back(ex.down_proj.weight);
  }
  return local;
}

void install_expert_parallel(ch04::MoE& moe, int rank, int ranks, EpRuntime& rt, MPI_Comm comm) {
  const ch04::MoEConfig& mc = moe.config();
  if (mc.gate.n_routed_experts % ranks != 0)
    throw std::invalid_argument("expert parallelism over " + std::to_string(ranks) + " ranks needs n_routed_experts (" +
                                std::to_string(mc.gate.n_routed_experts) + ") to be a multiple of it");
  if (mc.capacity_factor > 0) throw std::invalid_argument("expert parallelism here routes without a capacity limit, as DeepSeek-V3 does");
  const ExpertPlacement place{mc.gate.n_routed_experts, ranks, comm};
  moe.routed_experts_fn = [local = rank_experts(moe, place, rank), place, &rt](const Tensor& u, const ch04::Routing& r) {
    return expert_parallel_routed_experts(u, r, local, place, rt);
  };
}

ExpertShard make_expert_parallel(DeepSeekModel& model, int rank, int ranks, EpRuntime& rt) {
  return make_expert_parallel(model, model.moe_layers(), rank, ranks, MPI_COMM_WORLD, rt);
}

ExpertShard make_expert_parallel(Module& holder, const std::vector<ch04::MoE*>& moe_layers, int rank, int ranks, MPI_Comm comm, EpRuntime& rt) {
  std::map<const void*, std::string> name_of;
  for (const auto& [name, p] : holder.named_parameters()) name_of[p.impl()] = name;
  ExpertShard shard;
  for (ch04::MoE* moe : moe_layers) {
    install_expert_parallel(*moe, rank, ranks, rt, comm);   // holds this rank's expert tensors
    const ExpertPlacement place{moe->config().gate.n_routed_experts, ranks};
    for (int64_t j = 0; j < place.n_experts; ++j) {
      ch02::SwiGLU& ex = *moe->experts[static_cast<size_t>(j)];
      const bool mine = place.owner(j) == rank;
      for (Linear* lin : {&ex.gate_proj, &ex.up_proj, &ex.down_proj}) {
        (mine ? shard.local : shard.remote).push_back(name_of.at(lin->weight.impl()));
        if (!mine) lin->weight = Tensor::zeros({0});   // held by another rank
      }
    }
  }
  return shard;
}

}  // namespace ds::ch06

namespace ds::ch06 {

namespace {
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double slowest(double seconds) {
  MPI_Allreduce(MPI_IN_PLACE, &seconds, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return seconds;
}

// One micro-batch through a MoE block, in the pieces the overlap rearranges.
struct MicroBatch {
  Tensor h, u, shared;   // after attention; the MoE input [N, C]; the shared experts' output
  ch04::Routing r;
  Dispatch d;
  Received got;
  Tensor y;               // this rank's experts' outputs for the rows it received
  std::vector<float> ret;
};

void attention(ch02::Block& b, ch04::MoE& moe, const Tensor& x, MicroBatch& m) {
  m.h = add(x, b.self_attn->forward(b.input_layernorm->forward(x), nullptr));
  m.u = reshape(b.post_attention_layernorm->forward(m.h), {x.numel() / x.size(-1), x.size(-1)});
  m.r = moe.gate.forward(m.u);
}

void experts(ch04::MoE& moe, const ch04::ExpertWeights& local, const ExpertPlacement& place, MicroBatch& m) {
  m.got = m.d.received(place.per_rank());
  m.y = m.got.x.size(0) > 0 ? ch04::routed_experts(m.got.x, m.got.weights, moe.config().gate.num_experts_per_tok, m.got.slots, local)
                            : Tensor::zeros({0, m.u.size(1)});
  m.ret.assign(static_cast<size_t>(m.d.ex.sent() * m.u.size(1)), 0.f);
}

void start_combine(MicroBatch& m, std::array<std::vector<int>, 4>& counts, MPI_Request* req) {
  const Exchange back = m.d.ex.reversed();
  const int64_t c = m.u.size(1);
  auto times = [c](const std::vector<int>& v) {
    std::vector<int> out(v.size());
    for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<int>(v[i] * c);
    return out;
  };
  counts = {times(back.send), times(back.send_at), times(back.recv), times(back.recv_at)};
  MPI_Ialltoallv(m.y.data(), counts[0].data(), counts[1].data(), MPI_FLOAT, m.ret.data(), counts[2].data(), counts[3].data(), MPI_FLOAT,
                 MPI_COMM_WORLD, req);
}

Tensor finish(ch04::MoE& moe, MicroBatch& m, const Tensor& x) {
  if (!m.shared.defined()) m.shared = moe.shared_experts->forward(m.u);
  return add(m.h, reshape(add(m.d.combined(m.ret.data(), m.u.size(0)), m.shared), x.shape()));
}
}  // namespace

OverlapTiming time_overlap(ch02::Block& block, const std::vector<Tensor>& micro, int reps) {
  auto* moe = dynamic_cast<ch04::MoE*>(block.mlp.get());
  if (!moe || !moe->shared_experts) throw std::invalid_argument("time_overlap needs a MoE block with shared experts");
  if (micro.size() != 2) throw std::invalid_argument("time_overlap takes two micro-batches");
  int ranks = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  const ExpertPlacement place{moe->config().gate.n_routed_experts, ranks};
  const ch04::ExpertWeights local = rank_experts(*moe, place, this_rank());
  NoGradGuard ng;
  std::vector<double> seq, ovl, att, dis, exp, com, sha;
  for (int rep = 0; rep < reps; ++rep) {
    // Sequential: every all-to-all waited for before the next piece of work.
    MPI_Barrier(MPI_COMM_WORLD);
    Timer t;
    double a = 0, d = 0, e = 0, c = 0, s = 0;
    Tensor seq_out[2];
    for (size_t i = 0; i < 2; ++i) {
      MicroBatch m;
      double t0 = t.seconds();
      attention(block, *moe, micro[i], m);
      a += t.seconds() - t0;
      t0 = t.seconds();
      m.d = pack_dispatch(m.u, m.r, place);
      m.d.exchange();
      d += t.seconds() - t0;
      t0 = t.seconds();
      experts(*moe, local, place, m);
      e += t.seconds() - t0;
      t0 = t.seconds();
      std::array<std::vector<int>, 4> counts;
      MPI_Request req;
      start_combine(m, counts, &req);
      MPI_Wait(&req, MPI_STATUS_IGNORE);
      c += t.seconds() - t0;
      t0 = t.seconds();
      m.shared = moe->shared_experts->forward(m.u);
      s += t.seconds() - t0;
      seq_out[i] = finish(*moe, m, micro[i]);
    }
    seq.push_back(slowest(t.seconds()));
    att.push_back(slowest(a));
    dis.push_back(slowest(d));
    exp.push_back(slowest(e));
    com.push_back(slowest(c));
    sha.push_back(slowest(s));

    // Overlapped: the same work, the all-to-alls in flight behind the other micro-batch's compute.
    MPI_Barrier(MPI_COMM_WORLD);
    Timer o;
    MicroBatch m0, m1;
    MPI_Request d0, d1, c0, c1;
    std::array<std::vector<int>, 4> k0, k1;
    attention(block, *moe, micro[0], m0);
    m0.d = pack_dispatch(m0.u, m0.r, place);
    m0.d.start(&d0);
    attention(block, *moe, micro[1], m1);   // hides dispatch 0
    MPI_Wait(&d0, MPI_STATUS_IGNORE);
    m1.d = pack_dispatch(m1.u, m1.r, place);
    m1.d.start(&d1);
    experts(*moe, local, place, m0);         // hides dispatch 1
    start_combine(m0, k0, &c0);
    MPI_Wait(&d1, MPI_STATUS_IGNORE);
    experts(*moe, local, place, m1);         // hides combine 0
    start_combine(m1, k1, &c1);
    m0.shared = moe->shared_experts->forward(m0.u);   // the shared experts hide combine 1
    m1.shared = moe->shared_experts->forward(m1.u);
    MPI_Wait(&c0, MPI_STATUS_IGNORE);
    MPI_Wait(&c1, MPI_STATUS_IGNORE);
    const Tensor out0 = finish(*moe, m0, micro[0]), out1 = finish(*moe, m1, micro[1]);
    ovl.push_back(slowest(o.seconds()));
    // The rearrangement changes when work runs, never what it computes.
    for (int64_t j = 0; j < out0.numel(); ++j)
      if (out0.data()[j] != seq_out[0].data()[j] || out1.data()[j] != seq_out[1].data()[j])
        throw std::logic_error("time_overlap: the overlapped block computed other numbers than the sequential one");
  }
  return {median(seq), median(ovl), median(att), median(dis), median(exp), median(com), median(sha)};
}

}  // namespace ds::ch06
