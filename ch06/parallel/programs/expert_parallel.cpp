// ch06_expert_parallel: the routed experts spread over MPI processes, as DeepSeek-V3 spreads
// its 256 experts over GPUs and nodes: `mpirun -np 2 build/bin/ch06_expert_parallel` (or
// `-np 4 --oversubscribe`). Each rank holds n_routed_experts / EP of every MoE layer's experts;
// tokens travel to them with MPI_Alltoallv and back. It shows
//   1. a check: expert-parallel training steps against one process on the same batches;
//   2. node-limited routing (ranks as nodes: n_group = ranks, topk_group = M): bytes sent per
//      token, all-to-all time and the validation loss after a short run, M = 1..EP;
//   3. the overlap DualPipe exists for: dispatch, expert compute and combine timed, one
//      micro-batch's attention run while another's all-to-all is in flight, and the measured
//      figures fed into the pipeline simulator's F&B chunk.
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "ch06/parallel/data_parallel.hpp"
#include "ch06/parallel/expert_parallel.hpp"
#include "ch06/parallel/pipeline_sim.hpp"
#include "common/autograd.hpp"
#include "common/memory.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"
#include "common/timer.hpp"

using namespace ds;
using namespace ds::ch06;

namespace {
struct Options {
  std::string preset = "mini";
  int64_t verify_steps = 3, overlap_reps = 10, pp = 4, pipeline_micro = 16;
  bool zero1 = true;
};

// One training run with node-limit M (0 = unlimited: one group).
struct LimitRun {
  std::string label;
  int64_t m = 0;
  double bytes_per_token = 0;       // forward dispatch bytes to other ranks per routed token
  double ranks_per_token = 0;       // destinations per token, itself included
  double a2a_s_per_step = 0;        // dispatch + combine, forward and backward, slowest rank (after a barrier)
  double wait_s_per_step = 0;       // in those barriers: waiting for the slower rank
  double compute_s_per_step = 0;    // the experts, forward and backward
  double step_s = 0;
  double final_val = 0;
  std::vector<double> eval_step, val;
  int64_t steps_done = 0;
  bool interrupted = false;   // SIGINT or SIGTERM on some rank stopped it after its last full step
};

DeepSeekConfig limited(DeepSeekConfig cfg, int ranks, int64_t m) {
  cfg.n_group = m > 0 ? ranks : 1;
  cfg.topk_group = m > 0 ? m : 1;
  return cfg;
}

LimitRun train_limited(const DeepSeekConfig& base, const PretrainConfig& pc, const TokenDataset& data, int64_t m, uint64_t seed) {
  const int ranks = mpi::size();
  LimitRun run;
  run.m = m;
  run.label = m > 0 ? fmt("M = %lld", (long long)m) : "unlimited";
  Rng rng(seed);
  EpRuntime rt;   // outlives the model's expert-parallel layers
  rt.sync_timing = true;
  DeepSeekModel model(limited(base, ranks, m), rng);
  const ExpertShard shard = make_expert_parallel(model, mpi::rank(), ranks, rt);
  PretrainConfig p = pc;
  p.train.label = "EP, " + run.label;
  DataParallelTrainer trainer(model, p, true, shard.local, shard.remote);
  // SIGINT or SIGTERM on any rank: every rank finishes the step and all stop at the same one.
  const TrainHistory& h = trainer.run(data, [](const StepStats&) { return !mpi::stop_requested(); });
  run.steps_done = trainer.step_count();
  run.interrupted = run.steps_done < p.train.steps;
  const EpCounters c = rt.counters;
  const double steps = static_cast<double>(std::max<int64_t>(1, trainer.step_count()));
  // Forward dispatch bytes only: x plus its routing metadata per row sent away.
  const double width = static_cast<double>(base.hidden_size + 2 * base.num_experts_per_tok) * 4.0;
  run.bytes_per_token = static_cast<double>(c.remote_copies) * width / std::max<double>(1.0, static_cast<double>(c.tokens));
  run.ranks_per_token = static_cast<double>(c.token_copies) / std::max<double>(1.0, static_cast<double>(c.tokens));
  run.a2a_s_per_step = mpi::allreduce_max(c.dispatch_s + c.combine_s + c.backward_dispatch_s + c.backward_combine_s) / steps;
  run.compute_s_per_step = mpi::allreduce_max(c.compute_s + c.backward_compute_s) / steps;
  run.wait_s_per_step = mpi::allreduce_max(c.wait_s) / steps;
  run.step_s = mpi::allreduce_max(h.seconds) / steps;
  run.final_val = h.final_val("main_ce");
  run.eval_step = h.eval_step;
  run.val = h.val.at("main_ce");
  return run;
}

// A stop during the node-limited runs: the finished runs' figures go to summary.json (this
// program keeps no checkpoint: its runs are measurements), rank 0 says where; every rank exits 130.
int report_interrupted(const std::vector<LimitRun>& runs, const std::string& out, Summary& summary) {
  const LimitRun& cut = runs.back();
  for (const LimitRun& r : runs) {
    const std::string key = r.m > 0 ? fmt("limit.M%lld", (long long)r.m) : "limit.unlimited";
    summary.set(key + ".steps", static_cast<double>(r.steps_done));
    summary.set(key + ".final_val_loss", r.final_val);
  }
  summary.set("interrupted", 1.0);
  if (mpi::rank() == 0) {
    summary.write(out + "/summary.json");
    std::printf("\ninterrupted during the %s run after step %lld: every rank stopped; the runs so far are in %s/summary.json "
                "(this program keeps no checkpoint)\n", cut.label.c_str(), (long long)cut.steps_done, out.c_str());
  }
  return 130;
}

// The first MoE block's input for a batch: the embeddings through the dense blocks before it.
std::pair<size_t, Tensor> moe_block_input(DeepSeekModel& model, const IntTensor& ids) {
  NoGradGuard ng;
  Tensor h = model.main->embed_tokens.forward(ids);
  for (size_t i = 0; i < model.main->layers.size(); ++i) {
    if (dynamic_cast<ch04::MoE*>(model.main->layers[i]->mlp.get())) return {i, h};
    h = model.main->layers[i]->forward(h, nullptr);
  }
  throw std::invalid_argument("the model has no MoE block");
}

// F, B and W of one MoE block for one micro-batch (B: input gradients, W: weight gradients,
// as a split backward runs them), slowest rank, medians over reps.
Durations time_chunks(ch02::Block& block, const Tensor& x, int reps) {
  std::vector<double> f, b, w;
  Rng rng(9);
  Tensor gout = Tensor::zeros(x.shape());
  init::normal_(gout, rng, 1.f);
  for (int rep = 0; rep < reps; ++rep) {
    Tensor in = x.clone();
    in.requires_grad_();
    MPI_Barrier(MPI_COMM_WORLD);
    Timer t;
    const Tensor out = block.forward(in, nullptr);
    f.push_back(mpi::allreduce_max(t.seconds()));
    MPI_Barrier(MPI_COMM_WORLD);
    Timer tb;
    WeightGradWork work = backward_inputs({out}, {gout}, {in});
    b.push_back(mpi::allreduce_max(tb.seconds()));
    MPI_Barrier(MPI_COMM_WORLD);
    Timer tw;
    work.run();
    w.push_back(mpi::allreduce_max(tw.seconds()));
    block.zero_grad();
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  Durations d;
  d.F = median(f);
  d.W = median(w);
  d.B = median(b) + d.W;   // V3 Table 2's B is the full backward
  d.FB = d.F + d.B;
  return d;
}
// The flags, bound to the run's settings; --quick shrinks them to seconds.
struct Setup {
  std::string command;   // as typed, for the run's page
  RunOptions run;
  Options o;
  PretrainConfig pc;
};
Setup parse_options(int argc, char** argv) {
  Setup st;
  RunOptions& run = st.run;
  Options& o = st.o;
  TrainerConfig& tc = st.pc.train;
  run.threads = 1;   // one rank per core
  Flags flags("ch06_expert_parallel",
              "Expert parallelism over MPI ranks (mpirun -np 2): all-to-all dispatch and combine, node-limited routing, and the "
              "compute/communication overlap DualPipe exists for.");
  add_run_flags(flags, run, "ch06_expert_parallel");
  tc.steps = 30;
  tc.batch_size = 8;
  tc.seq_len = 64;
  tc.warmup = 10;
  tc.eval_every = 6;
  tc.eval_batches = 4;
  flags.add_choice("--preset", o.preset, {"tiny", "mini"}, "model size (the tiny or mini preset); --quick uses tiny");
  flags.add("--steps", tc.steps, "training steps of each node-limited routing run").min(1);
  flags.add("--batch", tc.batch_size, "sequences per step, the global batch over all ranks (a multiple of the ranks)").min(1);
  flags.add("--seq", tc.seq_len, "tokens per sequence").min(2);
  flags.add("--lr", tc.lr, "peak learning rate").min(0);
  flags.add("--eval-every", tc.eval_every, "validate every this many steps").min(1);
  flags.add("--eval-batches", tc.eval_batches, "validation batches per evaluation").min(1);
  flags.add("--verify-steps", o.verify_steps, "expert-parallel steps checked against one process first (0 = skip)").min(0).max(100);
  flags.add("--overlap-reps", o.overlap_reps, "repetitions of each overlap timing (the median is reported)").min(1).max(1000);
  flags.add("--pp", o.pp, "pipeline stages of the simulated DualPipe step (even)").min(2).max(64);
  flags.add("--pipeline-micro", o.pipeline_micro, "micro-batches of the simulated DualPipe step (at least 2 x --pp)").min(2).max(1024);
  flags.parse(argc, argv);
  st.command = flags.command();
  if (run.quick) {
    o.preset = "tiny";
    tc.steps = std::min<int64_t>(tc.steps, 4);
    tc.batch_size = std::min<int64_t>(tc.batch_size, 2 * mpi::size());   // two micro-batches of one sequence per rank
    tc.seq_len = std::min<int64_t>(tc.seq_len, 16);
    tc.warmup = std::min<int64_t>(tc.warmup, 1);
    tc.eval_every = std::min<int64_t>(tc.eval_every, 2);
    tc.eval_batches = std::min<int64_t>(tc.eval_batches, 2);
    o.verify_steps = std::min<int64_t>(o.verify_steps, 2);
    o.overlap_reps = std::min<int64_t>(o.overlap_reps, 2);
  }
  tc.seed = run.seed;
  return st;
}

// 1. The check: expert-parallel steps against one process on the same global batches.
void check_against_one_process(const Setup& st, const DeepSeekConfig& cfg, const TokenDataset& data, Summary& summary) {
  [[maybe_unused]] const RunOptions& run = st.run;
  [[maybe_unused]] const Options& o = st.o;
  [[maybe_unused]] const PretrainConfig& pc = st.pc;
  [[maybe_unused]] const TrainerConfig& tc = pc.train;
  const int ranks = mpi::size();
  [[maybe_unused]] const bool lead = mpi::rank() == 0;
  if (o.verify_steps > 0) {
    PretrainConfig quiet = pc;
    quiet.train.progress = false;
    Rng r1(run.seed), r2(run.seed);
    EpRuntime rt;
    DeepSeekModel single(cfg, r1), parallel(cfg, r2);
    Pretrainer p(single, quiet);
    const ExpertShard shard = make_expert_parallel(parallel, mpi::rank(), ranks, rt);
    DataParallelTrainer ep(parallel, quiet, o.zero1, shard.local, shard.remote);
    Table t({"step", "loss, expert parallel", "loss, one process", "difference"});
    for (int64_t s = 0; s < o.verify_steps; ++s) {
      const double a = ep.step(data).loss, b = p.trainer.step(data).loss;   // every rank runs the one-process reference too
      t.row({fmt("%lld", (long long)(s + 1)), fmt("%.6f", a), fmt("%.6f", b), fmt("%.2e", a - b)});
    }
    const NamedTensors want = single.state_dict();
    const NamedTensors have = parallel.state_dict();
    double worst = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      if (have[i].second.numel() == 0) continue;   // another rank's expert
      for (int64_t j = 0; j < want[i].second.numel(); ++j)
        worst = std::max(worst, static_cast<double>(std::fabs(want[i].second.data()[j] - have[i].second.data()[j])));
    }
    worst = mpi::allreduce_max(worst);
    const double held = 4.0 * static_cast<double>(parallel.num_parameters()), whole = 4.0 * static_cast<double>(single.num_parameters());
    if (lead) {
      std::printf("Check: %lld expert-parallel steps (ZeRO-1 for the replicated weights) against one process on the same global batches\n",
                  (long long)o.verify_steps);
      t.print();
      std::printf("largest difference of any weight or routing bias, over all ranks: %.2e\n", worst);
      std::printf("weights held by rank 0: %s of the model's %s (its %lld experts per MoE layer, and everything else)\n\n",
                  memory::human_bytes(held).c_str(), memory::human_bytes(whole).c_str(), (long long)(cfg.n_routed_experts / ranks));
    }
    summary.set("check.max_param_diff", worst);
    summary.set("memory.weights_bytes_rank0", held);
    summary.set("memory.weights_bytes_whole", whole);
  }
}

// 2. Node-limited routing: M = 1..EP ranks per token, and unlimited; 130 when a signal stopped it.
int node_limited_routing(const Setup& st, const DeepSeekConfig& cfg, const TokenDataset& data, Summary& summary) {
  [[maybe_unused]] const RunOptions& run = st.run;
  [[maybe_unused]] const Options& o = st.o;
  [[maybe_unused]] const PretrainConfig& pc = st.pc;
  [[maybe_unused]] const TrainerConfig& tc = pc.train;
  const int ranks = mpi::size();
  [[maybe_unused]] const bool lead = mpi::rank() == 0;
  std::vector<int64_t> limits;
  for (int64_t m = 1; m <= ranks; ++m)
    if (cfg.num_experts_per_tok <= m * cfg.n_routed_experts / ranks) limits.push_back(m);
  limits.push_back(0);
  std::vector<LimitRun> runs;
  for (int64_t m : limits) {
    runs.push_back(train_limited(cfg, pc, data, m, run.seed));
    if (runs.back().interrupted) return report_interrupted(runs, run.out, summary);
  }
  if (lead) {
    std::printf("\nNode-limited routing (ranks as nodes: n_group = %d, topk_group = M), %lld steps each, %s\n", ranks,
                (long long)tc.steps, mpi::placement().c_str());
    Table t({"routing", "ranks per token", "dispatch bytes per token", "all-to-all ms per step", "waiting ms per step", "experts ms per step",
             "step ms", "validation loss"});
    for (const LimitRun& r : runs)
      t.row({r.label, fmt("%.2f", r.ranks_per_token), fmt("%.0f", r.bytes_per_token), fmt("%.1f", 1e3 * r.a2a_s_per_step),
             fmt("%.1f", 1e3 * r.wait_s_per_step), fmt("%.1f", 1e3 * r.compute_s_per_step), fmt("%.1f", 1e3 * r.step_s),
             fmt("%.4f", r.final_val)});
    std::printf("(each all-to-all timed after a barrier; the barrier's time, waiting for the slower rank, is the waiting column)\n");
    t.print();
    BarChart bytes{"Dispatch traffic per token by node limit", "routing", "bytes sent to other ranks per token", {}, {}};
    BarChart a2a{"All-to-all time per training step by node limit", "routing", "ms per step (slowest rank)", {}, {}};
    Series b{"bytes per token", {}, {}}, at{"all-to-all (dispatch + combine, forward + backward)", {}, {}},
        ex{"expert compute (forward + backward)", {}, {}};
    LineChart val{"Validation loss with and without the node limit", "training step", "cross-entropy (nats/token)", {}};
    for (const LimitRun& r : runs) {
      bytes.categories.push_back(r.label);
      a2a.categories.push_back(r.label);
      b.y.push_back(r.bytes_per_token);
      at.y.push_back(1e3 * r.a2a_s_per_step);
      ex.y.push_back(1e3 * r.compute_s_per_step);
      val.series.push_back({r.label, r.eval_step, r.val, r.m == 0});   // dashed: unlimited equals M = EP
    }
    bytes.series = {b};
    bytes.caption = fmt("Each token crosses to a rank once however many of its %lld experts live there; M caps the ranks (V3: 4 nodes)",
                        (long long)cfg.num_experts_per_tok);
    a2a.series = {at, ex};
    a2a.caption = fmt("%s of one machine (shared memory): the copy is cheap next to a real network", mpi::placement().c_str());
    val.caption = "Same data and seed in every run: what the node limit costs in validation loss";
    write_bar_chart(run.out + "/limit_bytes.svg", bytes);
    write_bar_chart(run.out + "/limit_time.svg", a2a);
    write_line_chart(run.out + "/limit_val_loss.svg", val);
    for (const LimitRun& r : runs) {
      const std::string key = r.m > 0 ? fmt("limit.M%lld", (long long)r.m) : "limit.unlimited";
      summary.set(key + ".bytes_per_token", r.bytes_per_token);
      summary.set(key + ".ranks_per_token", r.ranks_per_token);
      summary.set(key + ".a2a_ms_per_step", 1e3 * r.a2a_s_per_step);
      summary.set(key + ".wait_ms_per_step", 1e3 * r.wait_s_per_step);
      summary.set(key + ".final_val_loss", r.final_val);
    }
  }
  return 0;
}

// 3. Overlap, on the first MoE block of a fresh model, two micro-batches of this rank's share,
// and the DualPipe step simulated from the measured chunks.
void overlap_and_prediction(const Setup& st, const DeepSeekConfig& cfg, const TokenDataset& data, Summary& summary) {
  [[maybe_unused]] const RunOptions& run = st.run;
  [[maybe_unused]] const Options& o = st.o;
  [[maybe_unused]] const PretrainConfig& pc = st.pc;
  [[maybe_unused]] const TrainerConfig& tc = pc.train;
  const int ranks = mpi::size();
  [[maybe_unused]] const bool lead = mpi::rank() == 0;
  Rng rng(run.seed);
  EpRuntime rt;
  DeepSeekModel model(cfg, rng);
  make_expert_parallel(model, mpi::rank(), ranks, rt);
  Rng batch_rng(run.seed + 1 + static_cast<uint64_t>(mpi::rank()));
  const int64_t rows = tc.batch_size / ranks / 2;
  std::vector<Tensor> micro;
  size_t block_index = 0;
  for (int i = 0; i < 2; ++i) {
    const Batch b = data.sample_batch(Split::Train, rows, tc.seq_len, batch_rng);
    auto [idx, x] = moe_block_input(model, b.inputs);
    block_index = idx;
    micro.push_back(x);
  }
  ch02::Block& block = *model.main->layers[block_index];
  const OverlapTiming ov = time_overlap(block, micro, static_cast<int>(o.overlap_reps));
  rt.counters = EpCounters{};   // time_chunks' all-to-alls only
  Durations d = time_chunks(block, micro[0], static_cast<int>(o.overlap_reps));
  const EpCounters c = rt.counters;
  const double reps = static_cast<double>(o.overlap_reps);
  const double comm_f = mpi::allreduce_max(c.dispatch_s + c.combine_s) / reps, comm_b = mpi::allreduce_max(c.backward_dispatch_s + c.backward_combine_s) / reps;
  const double comm_seq = ov.dispatch_s + ov.combine_s;
  const double hidden = comm_seq > 0 ? std::clamp((ov.sequential_s - ov.overlapped_s) / comm_seq, 0.0, 1.0) : 0.0;
  Durations measured = d, serial = d, ideal = d;
  // An F&B chunk runs a forward and a backward side by side: at best max(F, B) (the simulator's
  // bound), at worst F + B; the all-to-all it hides is what makes it shorter than F + B.
  const double floor = std::max(d.F, d.B);
  measured.FB = std::max(floor, d.F + d.B - hidden * (comm_f + comm_b));
  ideal.FB = std::max(floor, d.F + d.B - (comm_f + comm_b));
  const Schedule dual = make_schedule(ScheduleKind::DualPipe, static_cast<int>(o.pp), static_cast<int>(o.pipeline_micro));
  const double t_serial = simulate(dual, serial).makespan, t_measured = simulate(dual, measured).makespan, t_ideal = simulate(dual, ideal).makespan;
  if (lead) {
    std::printf("\nOverlap on MoE block %zu, two micro-batches of %lld x %lld tokens per rank (forward, slowest rank, median of %lld, %s)\n",
                block_index, (long long)rows, (long long)tc.seq_len, (long long)o.overlap_reps, mpi::placement().c_str());
    Table t({"piece (both micro-batches)", "ms"});
    t.row({"attention + norms + gate", fmt("%.2f", 1e3 * ov.attention_s)});
    t.row({"dispatch all-to-all", fmt("%.2f", 1e3 * ov.dispatch_s)});
    t.row({"routed experts (this rank's)", fmt("%.2f", 1e3 * ov.experts_s)});
    t.row({"combine all-to-all", fmt("%.2f", 1e3 * ov.combine_s)});
    t.row({"shared expert", fmt("%.2f", 1e3 * ov.shared_s)});
    t.row({"sequential block, both micro-batches", fmt("%.2f", 1e3 * ov.sequential_s)});
    t.row({"overlapped (MPI_Ialltoallv behind the other's compute)", fmt("%.2f", 1e3 * ov.overlapped_s)});
    t.row({"time saved", fmt("%.2f (%.0f%% of the all-to-all time)", 1e3 * (ov.sequential_s - ov.overlapped_s), 100 * hidden)});
    t.print();
    std::printf("\nOne micro-batch through the block with gradients: F %.2f ms, B %.2f ms (W %.2f of it); all-to-all %.2f ms in F, %.2f in B\n",
                1e3 * d.F, 1e3 * d.B, 1e3 * d.W, 1e3 * comm_f, 1e3 * comm_b);
    Table p({"DualPipe step, simulated (PP " + std::to_string(o.pp) + ", " + std::to_string(o.pipeline_micro) + " micro-batches)", "F&B chunk ms",
             "step ms"});
    p.row({"F&B not overlapped (F + B)", fmt("%.2f", 1e3 * serial.FB), fmt("%.1f", 1e3 * t_serial)});
    p.row({"F&B with the overlap measured here", fmt("%.2f", 1e3 * measured.FB), fmt("%.1f", 1e3 * t_measured)});
    p.row({"F&B with the all-to-all fully hidden (V3's aim)", fmt("%.2f", 1e3 * ideal.FB), fmt("%.1f", 1e3 * t_ideal)});
    p.print();
    BarChart pieces{"One MoE block, two micro-batches: where the forward time goes", "", "ms (slowest rank)",
                    {"attention+gate", "dispatch", "experts", "combine", "shared expert", "sequential total", "overlapped total"},
                    {{"ms", {}, {1e3 * ov.attention_s, 1e3 * ov.dispatch_s, 1e3 * ov.experts_s, 1e3 * ov.combine_s, 1e3 * ov.shared_s,
                                 1e3 * ov.sequential_s, 1e3 * ov.overlapped_s}}}};
    pieces.caption = "Overlapped: micro-batch 1's attention runs while micro-batch 0's dispatch is in flight (MPI_Ialltoallv); " + mpi::placement();
    write_bar_chart(run.out + "/overlap.svg", pieces);
    BarChart sim{"Simulated DualPipe step from the measured chunk times",
                 "F&B chunk",
                 "step ms",
                 {"F + B (no overlap)", "measured overlap", "all-to-all hidden"},
                 {{"step ms", {}, {1e3 * t_serial, 1e3 * t_measured, 1e3 * t_ideal}}}};
    sim.caption = fmt("pipeline_sim.hpp with F %.2f, B %.2f, W %.2f ms measured on one MoE block; only the F&B chunk differs", 1e3 * d.F, 1e3 * d.B, 1e3 * d.W);
    write_bar_chart(run.out + "/dualpipe_prediction.svg", sim);
    summary.set("overlap.sequential_ms", 1e3 * ov.sequential_s);
    summary.set("overlap.overlapped_ms", 1e3 * ov.overlapped_s);
    summary.set("overlap.hidden_fraction", hidden);
    summary.set("chunk.F_ms", 1e3 * d.F);
    summary.set("chunk.B_ms", 1e3 * d.B);
    summary.set("chunk.W_ms", 1e3 * d.W);
    summary.set("chunk.FB_measured_ms", 1e3 * measured.FB);
    summary.set("dualpipe.step_ms_no_overlap", 1e3 * t_serial);
    summary.set("dualpipe.step_ms_measured_overlap", 1e3 * t_measured);
    summary.set("dualpipe.step_ms_hidden", 1e3 * t_ideal);
    summary.write(run.out + "/summary.json");
    std::printf("\nwrote %s/{limit_bytes,limit_time,limit_val_loss,overlap,dualpipe_prediction}.svg (+ .csv) and summary.json\n", run.out.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  mpi::Session mpi(argc, argv);
  const bool lead = mpi::rank() == 0;
  return run_main("ch06_expert_parallel", [&] {
    Setup st = parse_options(argc, argv);
    RunOptions& run = st.run;
    Options& o = st.o;
    TrainerConfig& tc = st.pc.train;
    if (tc.batch_size % (2 * mpi::size()) != 0)
      fail("ch06_expert_parallel", fmt("--batch %lld must split into 2 micro-batches on each of %d ranks", (long long)tc.batch_size, mpi::size()));
    if (o.pp % 2 != 0 || o.pipeline_micro < 2 * o.pp) fail("ch06_expert_parallel", "DualPipe needs an even --pp and --pipeline-micro >= 2 x --pp");
    if (!lead) tc.progress = false;
    RunReport report = start_run(run, "ch06_expert_parallel", st.command);
    const int ranks = mpi::size();
    DeepSeekConfig cfg = preset(o.preset);
    if (cfg.n_routed_experts % ranks != 0)
      fail("ch06_expert_parallel", fmt("%lld routed experts do not split over %d ranks", (long long)cfg.n_routed_experts, ranks));
    if (lead)
      print_header("ch06_expert_parallel", fmt("%d ranks each hold %lld of the %lld routed experts of every MoE layer; tokens travel by all-to-all. "
                                               "The check against one process, node-limited routing, and the overlap",
                                               ranks, (long long)(cfg.n_routed_experts / ranks), (long long)cfg.n_routed_experts));
    const auto docs = load_or_generate_documents("", static_cast<size_t>(run.quick ? 150 : 1000) * 1000, run.seed);
    const CorpusData cd = corpus_dataset(docs, run.quick ? 512 : 1024, run.seed);
    const TokenDataset& data = cd.dataset;
    cfg.vocab_size = cd.tokenizer.vocab_size();
    Summary summary;
    summary.set("ranks", static_cast<double>(ranks));

    if (o.verify_steps > 0) check_against_one_process(st, cfg, data, summary);
    if (const int rc = node_limited_routing(st, cfg, data, summary); rc != 0) return rc;
    overlap_and_prediction(st, cfg, data, summary);
    return 0;
  });
}
