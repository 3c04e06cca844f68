// ch06_pipeline_train: the mini-DeepSeek trained with pipeline parallelism on real processes.
// `mpirun -np 2 ./build/bin/ch06_pipeline_train` runs every schedule that fits two ranks (GPipe,
// 1F1B, ZB1P and DualPipe on 2 stages, DualPipeV on 4 stages folded onto 2 ranks), each from the
// same initial weights for the same steps: each rank executes its op list from
// pipeline_schedule.hpp with MPI point-to-point, records when each op really ran, and rank 0
// draws the measured Gantt chart beside the simulator's, fed with the op durations measured on
// this run. `--reference` (one process, no mpirun needed) trains the same model on the same
// batches with the plain single-process trainer: the pipelined runs must end with its weights.
// `--ep 2` (e.g. mpirun -np 4 --oversubscribe ... --ep 2) adds expert parallelism: each pipeline
// rank is two processes sharing its micro-batches' tokens and its MoE layers' routed experts
// (pipeline_mpi.hpp's PP x EP), and the measured step is set beside the simulator's prediction
// with the F&B chunk run in sequence and with its expert all-to-alls hidden.
#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>

#include "ch06/checkpoint.hpp"
#include "ch06/parallel/pipeline_mpi.hpp"
#include "ch06/parallel/pipeline_op_times.hpp"
#include "ch06/parallel/pipeline_report.hpp"
#include "ch06/parallel/pipeline_sim.hpp"
#include "common/memory.hpp"
#include "common/mpi.hpp"
#include "common/plot.hpp"
#include "common/progress.hpp"
#include "common/run.hpp"

using namespace ds;
using namespace ds::ch06;
namespace fs = std::filesystem;

namespace {

const char* kProgram = "ch06_pipeline_train";

struct Options {
  std::string preset = "mini", schedules = "gpipe,1f1b,zb1p,dualpipe,dualpipev", resume;
  int64_t layers = 0, corpus_kb = 300, checkpoint_every = 0, interrupt_at = 0;
  int interrupt_rank = 0, vocab = 512, ep = 1;
  bool reference = false, no_overlap = false, trace_routing = false;
};

// One activation message's one-way time between process 0 and process `other` (pipeline ranks 0
// and 1), half a round trip, best of 20.
double measure_latency(int64_t floats, int other) {
  if (mpi::size() <= other || (mpi::rank() != 0 && mpi::rank() != other)) {
    mpi::barrier();
    return mpi::allreduce_max(0.0);
  }
  std::vector<float> buf(static_cast<size_t>(floats), 1.f);
  const int peer = mpi::rank() == 0 ? other : 0;
  double best = 1e9;
  for (int i = 0; i < 20; ++i) {
    const double t0 = mpi::wtime();
    mpi::Requests r;
    if (mpi::rank() == 0) {
      r.isend(buf.data(), floats, peer, 7);
      r.wait();
      r.irecv(buf.data(), floats, peer, 8);
      r.wait();
    } else {
      r.irecv(buf.data(), floats, peer, 7);
      r.wait();
      r.isend(buf.data(), floats, peer, 8);
      r.wait();
    }
    best = std::min(best, (mpi::wtime() - t0) / 2);
  }
  mpi::barrier();
  return mpi::allreduce_max(mpi::rank() == 0 ? best : 0.0);
}

// Live tensor bytes through one training step of one micro-batch, layer by layer: the model cut
// into one-layer stages chained in this process, memory read after every stage's forward and
// backward (the activations each layer saves for backward pile up, then go as backward passes).
LineChart memory_through_step(const DeepSeekConfig& cfg, const PretrainConfig& pc, const Batch& b, std::vector<std::string>& events) {
  Rng rng(1);
  std::vector<std::unique_ptr<Stage>> stages;
  for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) stages.push_back(std::make_unique<Stage>(cfg, i, i + 1, rng));
  const double base = static_cast<double>(memory::live_bytes());
  Series s{"every tensor above the weights", {}, {}}, grads{"weight gradients", {}, {}, true}, acts{"activations (the rest)", {}, {}};
  const auto mark = [&](const std::string& what) {
    double g = 0;
    for (const auto& st : stages)
      for (const auto& [name, p] : st->named_parameters())
        if (p.grad().defined()) g += 4.0 * static_cast<double>(p.numel());
    const double live = static_cast<double>(memory::live_bytes()) - base;
    events.push_back(what);
    const double at = static_cast<double>(s.x.size());
    for (Series* x : {&s, &grads, &acts}) x->x.push_back(at);
    s.y.push_back(live / 1e6);
    grads.y.push_back(g / 1e6);
    acts.y.push_back((live - g) / 1e6);
  };
  mark("start");
  std::vector<Tensor> in(stages.size()), out(stages.size());
  for (size_t i = 0; i < stages.size(); ++i) {
    out[i] = i == 0 ? stages[0]->forward(b.inputs) : stages[i]->forward(in[i] = received(out[i - 1]));
    mark("forward layer " + std::to_string(i));
  }
  Tensor loss = stages.back()->loss(out.back(), b, pc.mtp_lambda).total;
  mark("loss (norm, head, MTP)");
  for (size_t i = stages.size(); i-- > 0;) {
    if (i + 1 == stages.size()) backward({loss}, {Tensor::ones({})});
    else backward({out[i]}, {in[i + 1].grad()});
    out[i] = Tensor();
    loss = Tensor();
    if (i + 1 < stages.size()) in[i + 1] = Tensor();
    mark("backward layer " + std::to_string(i));
  }
  LineChart c{fmt("Live tensor memory through one step of one micro-batch (%lld x %lld tokens), %lld layers", (long long)b.inputs.size(0),
                  (long long)b.inputs.size(1), (long long)cfg.num_hidden_layers),
              "event (forward of layer 0, 1, ..., the loss, backward of the last layer, ..., layer 0)", "MB above the weights", {s, grads, acts}};
  c.caption = "Each layer's forward saves its activations for backward (rising); backward frees them layer by layer (falling) while "
              "it builds the weight gradients, which stay until the optimizer step.";
  return c;
}

// Bad settings: every rank finds the same problem before any message, so each ends normally
// (MPI_Finalize included) with status 1 and rank 0 says why in one sentence.
struct Refused : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
[[noreturn]] void refuse(const std::string& sentence) { throw Refused(sentence); }

std::vector<ScheduleKind> parse_list(const std::string& list) {
  std::vector<ScheduleKind> out;
  std::stringstream ss(list);
  try {
    for (std::string item; std::getline(ss, item, ',');) out.push_back(parse_schedule(item));
  } catch (const std::invalid_argument& e) {
    refuse(e.what());
  }
  if (out.empty()) refuse("--schedules is empty");
  return out;
}

// The single-process run on the same batches: the plain trainer with M micro-batches.
int run_reference(const RunOptions& run, const Options& o, const DeepSeekConfig& cfg, PretrainConfig pc, const TokenDataset& data, const Tokenizer& tok) {
  Rng rng(run.seed);
  DeepSeekModel model(cfg, rng);
  Pretrainer p(model, pc);
  std::unique_ptr<RoutingTrace> trace;
  if (o.trace_routing) {
    fs::create_directories(run.out + "/reference");
    std::vector<ch04::MoE*> layers;
    std::vector<int64_t> index;   // each MoE layer's index in the model, the MTP modules' after the main layers
    for (size_t j = 0; j < model.main->layers.size() + model.mtp.size(); ++j) {
      ch02::Block* b = j < model.main->layers.size() ? model.main->layers[j].get() : model.mtp[j - model.main->layers.size()].get();
      for (ch04::MoE* m : ch04::moe_layers({b})) {
        layers.push_back(m);
        index.push_back(static_cast<int64_t>(j));
      }
    }
    trace = std::make_unique<RoutingTrace>(layers, index, run.out + "/reference/routing_0.txt");
  }
  Progress bar(pc.train.steps, "reference", true);
  std::vector<double> losses;
  for (int64_t i = 0; i < pc.train.steps; ++i) {
    if (trace) trace->begin_step(i + 1);
    const StepStats s = p.trainer.step(data);
    losses.push_back(s.loss);
    bar.update(s.step, {{"loss", s.loss}}, pc.train.batch_size * pc.train.seq_len);
  }
  bar.finish();
  const std::string ckpt = run.out + "/reference/checkpoint";
  write_folder_atomic(ckpt, [&](const std::string& tmp) {
    write_model_files(tmp, model, &tok);
    p.trainer.save_state(tmp);
  });
  Summary summary;
  summary.set("reference.loss", losses);
  summary.set("reference.checkpoint", ckpt);
  summary.write(run.out + "/summary.json");
  std::printf("single-process run: %lld steps, loss %.4f -> %.4f; checkpoint %s\n", (long long)pc.train.steps, losses.front(), losses.back(),
              ckpt.c_str());
  return 0;
}

// What one schedule's training leaves for its report, by mode (0: F&B in sequence, 1: overlapped).
struct ScheduleRun {
  OpTimes times[2];
  StepRecord last[2];
  std::vector<double> makespans[2];   // every step's after the first (ms), the slowest process's
  std::vector<double> loss;
  bool interrupted = false;
};

// Trains one schedule to tc.steps (or Ctrl-C), checkpointing into ckpt through rank 0's `whole`.
// With `ab`, odd steps run F&B overlapped: the same numbers, so one run times both modes.
ScheduleRun train_schedule(PipelineRank& pr, const Schedule& s, const Options& o, const TrainerConfig& tc, const CorpusData& cd,
                           const std::string& ckpt, DeepSeekModel& whole, bool ab) {
  Progress bar(tc.steps, schedule_name(s.kind), mpi::rank() == 0);
  ScheduleRun r;
  StepRecord rec;
  const auto& ops = s.programs[static_cast<size_t>(pr.rank())].ops;
  while (pr.trainer().step_count() < tc.steps) {
    const int mode = ab && pr.trainer().step_count() % 2 == 1 ? 1 : 0;
    pr.set_overlap(mode == 1);
    const StepStats st = pr.step(cd.dataset, rec);
    r.loss.push_back(st.loss);
    const double step_ms = mpi::allreduce_max(rec.end * 1e3);
    if (st.step > 1 || tc.steps == 1) {   // the first step warms the allocator and caches up; in ms
      for (size_t i = 0; i < ops.size(); ++i)
        r.times[mode].add(ops[i], (rec.spans[i].end - rec.spans[i].start) * 1e3, rec.all_to_all[i] * 1e3);
      r.makespans[mode].push_back(step_ms);
    }
    r.last[mode] = rec;
    bar.update(st.step, {{"loss", st.loss}, {"makespan_ms", rec.end * 1e3}}, tc.batch_size * tc.seq_len);
    if (st.step == o.interrupt_at && mpi::rank() == o.interrupt_rank) std::raise(SIGINT);
    r.interrupted = mpi::stop_requested();
    if (r.interrupted || st.step == tc.steps || (o.checkpoint_every > 0 && st.step % o.checkpoint_every == 0))
      pr.save(ckpt, mpi::rank() == 0 ? &whole : nullptr, &cd.tokenizer);
    if (r.interrupted) break;
  }
  bar.finish();
  return r;
}

// One mode's figures: every rank joins the gathers; rank 0 draws the measured Gantt chart beside
// the simulator's and the live memory per rank, fills the summary and returns the result.
std::optional<ScheduleResult> report_mode(const Schedule& s, ScheduleRun& r, int mode, int ep, double latency, const std::string& out,
                                          const std::string& ckpt, double& hidden_in_sequence, Summary& summary) {
  ScheduleResult res;
  res.name = schedule_name(s.kind) + (mode == 1 ? "_overlap" : "");
  res.title = schedule_title(s.kind) + (mode == 1 ? ", F&B overlapped" : "");
  res.loss = r.loss;
  OpTimes& tm = r.times[mode];
  tm.gather();   // all ranks' ops together, into the simulator
  const Durations d_ms = tm.durations(latency * 1e3);
  const std::vector<StepRecord> all = gather_records(r.last[mode]);
  if (mpi::rank() != 0) return std::nullopt;

  // The Gantt chart's lanes are pipeline ranks: with EP, each drawn from its EP index 0.
  std::vector<std::vector<OpSpan>> spans;
  double end = 0;
  for (size_t w = 0; w < all.size(); ++w) {
    end = std::max(end, all[w].end * 1e3);
    if (w % static_cast<size_t>(ep) != 0) continue;
    std::vector<OpSpan> ms;
    for (const OpSpan& x : all[w].spans) ms.push_back({x.start * 1e3, x.end * 1e3});
    spans.push_back(ms);
  }
  const Timeline measured = timeline_from_spans(s, spans, end);
  const Timeline predicted = simulate(s, d_ms, SendWait::BeforeNextOp);
  res.measured_makespan = measured.makespan;
  res.predicted_makespan = predicted.makespan;
  res.measured_bubble = measured.max_bubble();
  res.predicted_bubble = predicted.max_bubble();
  res.median_makespan = OpTimes::median_of(r.makespans[mode]);
  // An overlapped step's all-to-all times include the other half's turns: its ideal is
  // the one predicted from the in-sequence steps.
  if (mode == 0) hidden_in_sequence = simulate(s, tm.hidden(latency * 1e3), SendWait::BeforeNextOp).makespan;
  res.hidden_makespan = hidden_in_sequence;
  res.d = d_ms;
  res.a2a_f = tm.a2a_f();
  res.a2a_b = tm.a2a_b();
  res.a2a_fb = tm.a2a_fb();
  Gantt g = measured_beside_simulated(
      s, measured, predicted,
      fmt("%s, %d stages on %d ranks%s, M = %d, last step: measured makespan %.0f ms, simulated %.0f ms", res.title.c_str(), s.pp,
          s.ranks, ep > 1 ? fmt(" x EP %d", ep).c_str() : "", s.micro_batches, measured.makespan, predicted.makespan));
  g.caption = fmt("Each rank's measured ops (real start and end, %s) above the simulator's "
                  "replay of the same op list with this run's mean durations: F %.1f, B %.1f, W %.1f, F&B %.1f ms, transfer %.2f ms.",
                  mpi::placement().c_str(), d_ms.F, d_ms.B, d_ms.W, d_ms.FB, d_ms.latency);
  write_gantt(out + "/gantt_" + res.name + ".svg", g);
  LineChart mem{fmt("%s: live tensor memory per rank through the last step (above the step's start)", res.title.c_str()), "time (ms)",
                "MB", {}};
  for (size_t r = 0; r < all.size(); ++r) {
    Series ser{"rank " + std::to_string(r), {}, {}};
    double peak = 0;
    for (const auto& [t, b] : all[r].live) {
      ser.x.push_back(t * 1e3);
      ser.y.push_back(b / 1e6);
      peak = std::max(peak, b / 1e6);
    }
    res.peak_mb.push_back(peak);
    mem.series.push_back(ser);
  }
  mem.caption = "Sampled at each op's start and end: activations saved for backward rise with each forward a rank runs and fall "
                "with each backward (or W); the weight gradients, built by the first backward, stay until the optimizer step.";
  write_line_chart(out + "/memory_" + res.name + ".svg", mem);

  const std::string key = "schedules." + res.name;
  summary.set(key + ".loss", res.loss);
  summary.set(key + ".measured_makespan_ms", res.measured_makespan);
  summary.set(key + ".measured_makespan_median_ms", res.median_makespan);
  summary.set(key + ".measured_steps", static_cast<double>(r.makespans[mode].size()));
  summary.set(key + ".predicted_makespan_fb_hidden_ms", res.hidden_makespan);
  summary.set(key + ".all_to_all_ms", std::vector<double>{res.a2a_f, res.a2a_b, res.a2a_fb});
  summary.set(key + ".predicted_makespan_ms", res.predicted_makespan);
  summary.set(key + ".measured_bubble_ms", measured.bubble);
  summary.set(key + ".predicted_bubble_ms", predicted.bubble);
  summary.set(key + ".durations_ms", std::vector<double>{d_ms.F, d_ms.B, d_ms.W, d_ms.FB, d_ms.latency});
  summary.set(key + ".peak_live_mb", res.peak_mb);
  summary.set(key + ".simulated_peak_activations", static_cast<double>(predicted.max_peak_activations()));
  summary.set(key + ".checkpoint", ckpt);
  return res;
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
  PretrainConfig& pc = st.pc;
  TrainerConfig& tc = pc.train;
  run.threads = 1;   // one core per rank
  Flags flags(kProgram, "Pipeline-parallel training of the mini-DeepSeek on MPI ranks (mpirun -np 2 or 4): every schedule's op lists executed, "
                        "measured Gantt charts beside simulated ones, checkpoints ch06_generate reads.");
  add_run_flags(flags, run, kProgram);
  tc.steps = 4;
  tc.batch_size = 8;
  tc.seq_len = 64;
  tc.micro_batches = 0;   // 2 x ranks: the fewest DualPipe accepts
  tc.warmup = 2;
  tc.label = "pipeline";
  flags.add("--schedules", o.schedules, "comma-separated: gpipe, 1f1b, zb1p, dualpipe, dualpipev (those that do not fit the ranks are left out)");
  flags.add_choice("--preset", o.preset, {"tiny", "mini"}, "model size (the tiny or mini preset); --quick uses tiny with 4 layers");
  flags.add("--layers", o.layers, "num_hidden_layers (0 = the preset's); DualPipeV needs 2 x ranks").min(0).max(64);
  flags.add("--steps", tc.steps, "optimizer steps per schedule").min(1);
  flags.add("--lr", tc.lr, "peak learning rate (warmed up, then cosine decay over --steps)").min(0);
  flags.add("--warmup", tc.warmup, "linear warmup steps").min(0);
  flags.add("--seq", tc.seq_len, "tokens per sequence").min(2);
  flags.add("--batch", tc.batch_size, "sequences per step (the global batch)").min(1);
  flags.add("--micro-batches", tc.micro_batches, "micro-batches M per step (0 = 2 x ranks; DualPipe: even, >= 2 x ranks; DualPipeV: >= 2 x ranks)")
      .min(0);
  flags.add("--mtp-lambda", pc.mtp_lambda, "weight of the MTP loss (V3: 0.3)").min(0);
  flags.add("--corpus-kb", o.corpus_kb, "size of the built-in procedural corpus in KB").min(10).max(100000);
  flags.add("--vocab", o.vocab, "BPE vocabulary size").min(260).max(8192);
  flags.add("--checkpoint-every", o.checkpoint_every, "also checkpoint every this many steps (0 = only at the end or on Ctrl-C)").min(0);
  flags.add("--resume", o.resume, "continue the run saved in this checkpoint folder (one schedule, the same -np and --micro-batches)");
  flags.add_flag("--reference", o.reference, "train single-process (no mpirun) on the same batches instead: the weights pipelines must match");
  flags.add("--interrupt-at", o.interrupt_at, "Ctrl-C (SIGINT) one rank after this step, to try the clean stop of all ranks (0 = never)").min(0);
  flags.add("--interrupt-rank", o.interrupt_rank, "the rank --interrupt-at interrupts").min(0);
  flags.add("--ep", o.ep, "expert parallelism: processes per pipeline rank, sharing its tokens and routed experts (mpirun -np PP x EP)")
      .min(1)
      .max(64);
  flags.add_flag("--trace-routing", o.trace_routing,
                 "write every training token's chosen experts and routing margin per MoE layer to OUT/<schedule>/routing_<process>.txt "
                 "(OUT/reference/routing_0.txt with --reference), to compare runs token by token");
  flags.add_flag("--no-overlap", o.no_overlap,
                 "with --ep: every step runs F&B in sequence (by default DualPipe's and DualPipeV's even steps interleave F&B's "
                 "halves at the expert all-to-alls, and both kinds of step are timed)");
  flags.parse(argc, argv);
  st.command = flags.command();
  if (run.quick) {
    o.preset = "tiny";
    if (o.layers == 0) o.layers = 4;
    tc.steps = std::min<int64_t>(tc.steps, 3);
    tc.batch_size = std::min<int64_t>(tc.batch_size, 8);
    tc.seq_len = std::min<int64_t>(tc.seq_len, 16);
    o.corpus_kb = std::min<int64_t>(o.corpus_kb, 60);
    o.vocab = std::min(o.vocab, 300);
  }
  tc.seed = run.seed;
  return st;
}

// The schedules of the list that fit pp_ranks ranks and the model's layers: GPipe, 1F1B, ZB1P and
// DualPipe with one stage per rank, DualPipeV two; those left out, with why, in left_out.
std::vector<Schedule> fitting_schedules(const Options& o, const DeepSeekConfig& cfg, int pp_ranks, int micro_batches, std::vector<std::string>& left_out) {
  std::vector<Schedule> schedules;
  if (!o.reference) {
    for (ScheduleKind k : parse_list(o.schedules)) {
      const int pp = k == ScheduleKind::DualPipeV ? 2 * pp_ranks : pp_ranks;
      try {
        if (pp > cfg.num_hidden_layers)
          throw std::invalid_argument(fmt("it needs %d stages but the model has %lld layers (--layers)", pp, (long long)cfg.num_hidden_layers));
        schedules.push_back(make_schedule(k, pp, micro_batches));
      } catch (const std::invalid_argument& e) {
        left_out.push_back(schedule_title(k) + ": " + e.what());
      }
    }
    if (schedules.empty()) refuse("no schedule fits: " + left_out.front());
    if (!o.resume.empty() && schedules.size() != 1) refuse("--resume continues one schedule: name it with --schedules");
  }
  return schedules;
}

// Every rank resumes its part of the checkpoint, or all refuse with the first rank's reason.
void resume_all(PipelineRank& pr, const std::string& dir) {
  std::string err;   // agreed on by all ranks, so that none waits for one that gave up
  try {
    pr.resume(dir);
  } catch (const std::exception& e) {
    err = e.what();
  }
  if (mpi::allreduce_max(err.empty() ? 0.0 : 1.0) > 0) refuse(err.empty() ? "another rank could not resume " + dir : err);
  std::printf("resumed %s at step %lld\n", dir.c_str(), (long long)pr.trainer().step_count());
}

// Every rank stopped after the same step and the checkpoint was written: rank 0 says where.
void report_interrupted(const Options& o, int64_t step, const std::string& name, const std::string& ckpt) {
  if (o.ep > 1)
    std::printf("\ninterrupted at step %lld: every process stopped after writing %s (a --ep run does not resume; ch06_generate "
                "reads the checkpoint)\n",
                (long long)step, ckpt.c_str());
  else
    std::printf("\ninterrupted at step %lld: every rank stopped after writing %s; continue with --schedules %s --resume %s\n",
                (long long)step, ckpt.c_str(), name.c_str(), ckpt.c_str());
}

// After every schedule (rank 0): the schedules against the simulator and each other, the PP x EP
// step, memory through one step, summary.json.
void report_run(const Setup& st, const std::vector<ScheduleResult>& results, const DeepSeekConfig& cfg, const CorpusData& cd, int pp_ranks,
                double latency, Summary& summary, RunReport& page) {
  const RunOptions& run = st.run;
  const Options& o = st.o;
  const PretrainConfig& pc = st.pc;
  const TrainerConfig& tc = pc.train;
  const int world = mpi::size();
  const double spread = report_schedules(results, world, o.ep, page, mpi::placement());
  if (o.ep > 1) {
    report_ep_step(results, pp_ranks, o.ep, tc.steps, page, mpi::placement());
    summary.set("ep", o.ep);
  }
  std::vector<std::string> events;
  Rng probe_rng(run.seed);
  const Batch probe = split_batch(cd.dataset.sample_batch(Split::Train, tc.batch_size, tc.seq_len, probe_rng), tc.micro_batches)[0];
  const LineChart step_mem = memory_through_step(cfg, pc, probe, events);
  page.plot("memory_step.svg", step_mem);
  summary.set("memory_step_mb", step_mem.series[0].y);
  summary.set("ranks", world);
  summary.set("latency_ms", latency * 1e3);
  summary.set("loss_spread", spread);
  page.write(summary);
  std::printf("\nwrote %s/{gantt,memory}_<schedule>.svg, makespan.svg, bubble.svg, memory_peak.svg, memory_step.svg, loss.svg%s (+ .csv), "
              "summary.json and a checkpoint per schedule (<schedule>/checkpoint, ch06_generate reads it)\n",
              run.out.c_str(), o.ep > 1 ? ", ep_step.svg" : "");
}

}  // namespace

int main(int argc, char** argv) {
  mpi::Session session(argc, argv);
  const int rank = mpi::rank(), world = mpi::size();
  if (rank != 0 && !std::freopen("/dev/null", "w", stdout)) return 1;   // rank 0 speaks for all
  const int rc = run_main(kProgram, [&]() -> int {
    try {
      Setup st = parse_options(argc, argv);
      RunOptions& run = st.run;
      Options& o = st.o;
      PretrainConfig& pc = st.pc;
      TrainerConfig& tc = pc.train;
      if (o.reference && world != 1) refuse("--reference trains in one process: run it without mpirun (or with -np 1)");
      if (o.reference) o.ep = 1;
      if (world % o.ep != 0) refuse(fmt("--ep %d needs a multiple of %d processes, but mpirun started %d", o.ep, o.ep, world));
      const int pp_ranks = world / o.ep;   // pipeline ranks
      if (!o.reference && pp_ranks < 2)
        refuse(o.ep > 1 ? fmt("pipeline parallelism with --ep %d needs at least %d processes (2 pipeline ranks)", o.ep, 2 * o.ep)
                        : "pipeline parallelism needs at least 2 ranks: run it as mpirun -np 2 " + std::string(argv[0]));
      if (tc.micro_batches == 0) tc.micro_batches = 2 * std::max(pp_ranks, 2);
      if (tc.batch_size % (tc.micro_batches * o.ep) != 0)
        refuse(o.ep > 1 ? "--batch must be a multiple of --micro-batches x --ep (each EP rank takes an equal share of every micro-batch)"
                        : "--batch must be a multiple of --micro-batches");

      DeepSeekConfig cfg = preset(o.preset);
      if (o.layers > 0) cfg.num_hidden_layers = o.layers;
      std::vector<std::string> left_out;
      const std::vector<Schedule> schedules =
          o.reference ? std::vector<Schedule>{} : fitting_schedules(o, cfg, pp_ranks, static_cast<int>(tc.micro_batches), left_out);
      RunReport report = start_run(run, kProgram, st.command);
      print_header(kProgram, o.reference ? "the single-process reference run: the weights every pipelined run must end with"
                                         : "each schedule's op lists executed by MPI ranks, each holding its stages of the model; per schedule "
                                           "the measured Gantt chart\nbeside the simulator's (fed the durations measured here), live memory per "
                                           "rank through a step, and the losses, equal across schedules.");
      // Data and tokenizer: the same on every rank and in the reference run (deterministic in the seed).
      const auto docs = load_or_generate_documents("", static_cast<size_t>(o.corpus_kb) * 1000, run.seed);
      CorpusData cd = corpus_dataset(docs, o.vocab, run.seed);
      cfg.vocab_size = cd.tokenizer.vocab_size();
      if (tc.seq_len > cfg.max_position_embeddings) refuse("--seq exceeds the model's max_position_embeddings");
      if (o.reference) return run_reference(run, o, cfg, pc, cd.dataset, cd.tokenizer);
      if (o.ep > 1 && cfg.n_routed_experts % o.ep != 0)
        refuse(fmt("--ep %d needs n_routed_experts (%lld) to be a multiple of it", o.ep, (long long)cfg.n_routed_experts));

      const ParamCount pcount = count_parameters(cfg);
      if (o.ep > 1)
        std::printf("PP x EP: %d pipeline ranks x %d expert-parallel processes each (process w is EP index w %% %d of pipeline rank w / %d); "
                    "each EP process takes 1/%d of every micro-batch's sequences and %lld of every MoE layer's %lld routed experts\n",
                    pp_ranks, o.ep, o.ep, o.ep, o.ep, (long long)(cfg.n_routed_experts / o.ep), (long long)cfg.n_routed_experts);
      std::printf(
          "%s (one thread each), model %s with %lld layers (%.2fM parameters), batch %lld x %lld tokens in M = %lld micro-batches, "
          "%lld steps per schedule\n",
          mpi::placement().c_str(), o.preset.c_str(), (long long)cfg.num_hidden_layers, pcount.total / 1e6, (long long)tc.batch_size, (long long)tc.seq_len,
          (long long)tc.micro_batches, (long long)tc.steps);
      for (const std::string& l : left_out) std::printf("left out: %s\n", l.c_str());
      const int64_t rows = tc.batch_size / (tc.micro_batches * o.ep);
      const double latency = measure_latency(rows * tc.seq_len * cfg.hidden_size, o.ep);
      std::printf("one activation message (%lld x %lld x %lld floats) between pipeline ranks 0 and 1: %.3f ms one way\n\n", (long long)rows,
                  (long long)tc.seq_len, (long long)cfg.hidden_size, latency * 1e3);

      Summary summary;
      std::vector<ScheduleResult> results;
      // Every rank builds the reference's initial model; each schedule starts from its weights, and
      // rank 0 writes the checkpoints through it.
      Rng init_rng(run.seed);
      DeepSeekModel whole(cfg, init_rng);
      NamedTensors init;
      for (const auto& [name, t] : whole.state_dict()) init.push_back({name, t.clone()});
      for (const Schedule& s : schedules) {
        const std::string name = schedule_name(s.kind), ckpt = run.out + "/" + name + "/checkpoint";
        // With EP, a schedule with F&B chunks alternates: odd steps run F&B in sequence, even
        // steps overlapped. Both give the same numbers, so it is one training run, and the two
        // are timed side by side under the same load.
        const bool ab = o.ep > 1 && !o.no_overlap && o.resume.empty() && has_fb(s) && tc.steps >= 3;
        PipelineRank pr(s, cfg, pc, o.ep);
        if (o.trace_routing) {
          fs::create_directories(run.out + "/" + name);
          pr.trace_routing(fmt("%s/%s/routing_%d.txt", run.out.c_str(), name.c_str(), rank));
        }
        if (o.resume.empty()) pr.load_weights(init);
        else resume_all(pr, o.resume);
        ScheduleRun r = train_schedule(pr, s, o, tc, cd, ckpt, whole, ab);
        if (r.interrupted) {
          report_interrupted(o, pr.trainer().step_count(), name, ckpt);
          return 130;
        }
        double hidden_in_sequence = 0;
        for (int mode = 0; mode < (ab ? 2 : 1); ++mode) {
          if (auto res = report_mode(s, r, mode, o.ep, latency, run.out, ckpt, hidden_in_sequence, summary)) results.push_back(*res);
        }
      }
      if (rank != 0) return 0;

      report_run(st, results, cfg, cd, pp_ranks, latency, summary, report);
      return 0;
    } catch (const Refused&) {
      if (rank == 0) throw;   // run_main prints it
      return 1;
    } catch (const std::exception& e) {
      if (world > 1) mpi::abort_all(e.what());   // the other ranks would wait for this one forever
      throw;
    }
  });
  return rc;
}
