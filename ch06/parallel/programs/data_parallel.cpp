// ch06_data_parallel: ch06_pretrain's training spread over MPI processes, as a user outgrows one
// process: `mpirun -np 2 build/bin/ch06_data_parallel`. Each rank holds the whole model and
// trains on its share of every global batch; gradients are summed across ranks; with ZeRO-1
// (the default, as DeepSeek-V3) each rank keeps and updates AdamW's moments of its share of
// the parameters only, then the updated weights are gathered. Before training it checks the
// run against one process on the same global batches, and it writes the same checkpoints as
// ch06_pretrain (which can resume them, and which this program can resume).
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <thread>

#include "ch06/checkpoint.hpp"
#include "ch06/parallel/data_parallel.hpp"
#include "common/memory.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"

using namespace ds;
using namespace ds::ch06;

namespace {

struct Options {
  std::string preset = "mini", resume, interrupt_signal = "INT";
  int64_t checkpoint_every = 1000, corpus_kb = 1500, verify_steps = 4, interrupt_at = 0;
  bool plain = false;
};

// The largest |a - b| over the two models' parameters, and the largest |a| (for a relative figure).
std::pair<double, double> max_difference(const DeepSeekModel& a, const DeepSeekModel& b) {
  const NamedTensors pa = a.named_parameters(), pb = b.named_parameters();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < pa.size(); ++i)
    for (int64_t j = 0; j < pa[i].second.numel(); ++j) {
      diff = std::max(diff, static_cast<double>(std::fabs(pa[i].second.data()[j] - pb[i].second.data()[j])));
      scale = std::max(scale, static_cast<double>(std::fabs(pb[i].second.data()[j])));
    }
  return {diff, scale};
}

struct Verification {
  std::vector<double> step, loss_parallel, loss_single;
  double max_param_diff = 0, max_param = 0;
};

// verify_steps steps of this program's training from a fresh model against one process
// (rank 0 repeats them with ch06_pretrain's trainer on the same global batches).
Verification verify(const DeepSeekConfig& cfg, const PretrainConfig& pc, const TokenDataset& data, bool zero1, int64_t steps, uint64_t seed) {
  Verification v;
  Rng rng(seed);
  DeepSeekModel parallel(cfg, rng);
  PretrainConfig quiet = pc;
  quiet.train.progress = false;
  DataParallelTrainer dp(parallel, quiet, zero1);
  for (int64_t s = 0; s < steps; ++s) v.loss_parallel.push_back(dp.step(data).loss);
  if (mpi::rank() == 0) {
    Rng rng2(seed);
    DeepSeekModel single(cfg, rng2);
    Pretrainer p(single, quiet);
    for (int64_t s = 0; s < steps; ++s) {
      v.step.push_back(static_cast<double>(s + 1));
      v.loss_single.push_back(p.trainer.step(data).loss);
    }
    std::tie(v.max_param_diff, v.max_param) = max_difference(parallel, single);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  return v;
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
  Flags flags("ch06_data_parallel",
              "Data-parallel pretraining of the mini-DeepSeek over MPI ranks (mpirun -np 2), with ZeRO-1 sharded AdamW moments; "
              "checked against one process.");
  add_run_flags(flags, run, "ch06_data_parallel");
  tc.steps = 60;
  tc.seq_len = 64;
  tc.warmup = 10;
  tc.eval_every = 20;
  tc.eval_batches = 4;
  tc.label = "data parallel";
  flags.add_choice("--preset", o.preset, {"tiny", "mini"}, "model size (the tiny or mini preset); --quick uses tiny");
  flags.add("--steps", tc.steps, "training steps").min(1);
  flags.add("--batch", tc.batch_size, "sequences per step, the global batch over all ranks (a multiple of the ranks)").min(1);
  flags.add("--seq", tc.seq_len, "tokens per sequence").min(2);
  flags.add("--micro-batches", tc.micro_batches, "micro-batches per rank per step (gradient accumulation)").min(1);
  flags.add("--lr", tc.lr, "peak learning rate").min(0);
  flags.add("--min-lr", tc.min_lr, "final learning rate").min(0);
  flags.add("--warmup", tc.warmup, "linear warmup steps").min(0);
  flags.add("--eval-every", tc.eval_every, "validate every this many steps").min(1);
  flags.add("--eval-batches", tc.eval_batches, "validation batches per evaluation (shared among the ranks)").min(1);
  flags.add_flag("--no-zero1", o.plain, "plain data parallelism: every rank keeps all of AdamW's moments and updates every weight");
  flags.add("--verify-steps", o.verify_steps, "first train a fresh model this many steps and compare with one process (0 = skip)").min(0).max(100);
  flags.add("--checkpoint-every", o.checkpoint_every, "write <out>/checkpoint every this many steps (and at the end)").min(1);
  flags.add("--resume", o.resume, "continue the run saved in this checkpoint folder (this program's or ch06_pretrain's)");
  flags.add("--corpus-kb", o.corpus_kb, "size of the built-in procedural corpus in KB").min(10).max(100000);
  flags.add("--interrupt-at", o.interrupt_at, "send rank 0 --interrupt-signal after this step, to try the clean stop (0 = never)").min(0);
  flags.add_choice("--interrupt-signal", o.interrupt_signal, {"INT", "TERM"}, "the signal --interrupt-at sends: INT (Ctrl-C) or TERM (a scheduler's stop)");
  flags.parse(argc, argv);
  st.command = flags.command();
  if (run.quick) {
    o.preset = "tiny";
    tc.steps = std::min<int64_t>(tc.steps, 8);
    tc.batch_size = std::min<int64_t>(tc.batch_size, 4);
    tc.seq_len = std::min<int64_t>(tc.seq_len, 32);
    tc.warmup = std::min<int64_t>(tc.warmup, 2);
    tc.eval_every = std::min<int64_t>(tc.eval_every, 4);
    tc.eval_batches = std::min<int64_t>(tc.eval_batches, 2);
    o.checkpoint_every = std::min<int64_t>(o.checkpoint_every, 4);
    o.corpus_kb = std::min<int64_t>(o.corpus_kb, 150);
    o.verify_steps = std::min<int64_t>(o.verify_steps, 3);
  }
  tc.seed = run.seed;
  return st;
}

// The check's table: the same steps on the ranks and in one process (rank 0 prints).
void report_check(const Verification& v, int64_t steps, Summary& summary) {
  Table t({"step", "loss, data parallel", "loss, one process", "difference"});
  double worst = 0;
  for (size_t i = 0; i < v.step.size(); ++i) {
    t.row({fmt("%.0f", v.step[i]), fmt("%.6f", v.loss_parallel[i]), fmt("%.6f", v.loss_single[i]),
           fmt("%.2e", v.loss_parallel[i] - v.loss_single[i])});
    worst = std::max(worst, std::fabs(v.loss_parallel[i] - v.loss_single[i]));
  }
  std::printf("Check: %lld steps of %d ranks against one process on the same global batches\n", (long long)steps, mpi::size());
  t.print();
  std::printf("largest parameter difference after them: %.2e (largest parameter %.3f); float32 sums in another order\n\n",
              v.max_param_diff, v.max_param);
  summary.set("check.max_param_diff", v.max_param_diff);
  summary.set("check.max_loss_diff", worst);
  summary.set("check.steps", static_cast<double>(steps));
}

// Every rank's AdamW moments and parameters it updates, gathered on rank 0, beside one unsharded AdamW.
struct OptimizerMemory {
  std::vector<double> moments, params_owned;   // per rank
  double unsharded = 0, param_bytes = 0;
};
OptimizerMemory optimizer_memory(const DataParallelTrainer& dp, DeepSeekModel& model) {
  OptimizerMemory mem;
  mem.moments.assign(static_cast<size_t>(mpi::size()), 0);
  mem.params_owned.assign(static_cast<size_t>(mpi::size()), 0);
  const double mine = static_cast<double>(dp.optimizer_bytes()), owned = static_cast<double>(dp.owned_parameters());
  MPI_Gather(&mine, 1, MPI_DOUBLE, mem.moments.data(), 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  MPI_Gather(&owned, 1, MPI_DOUBLE, mem.params_owned.data(), 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  mem.unsharded = static_cast<double>(AdamW(model.named_parameters(), {}).state_bytes());
  mem.param_bytes = 4.0 * static_cast<double>(model.num_parameters());
  return mem;
}

// After the run (rank 0): the loss and memory plots, the table, summary.json.
void report_run(const Setup& st, const TrainHistory& h, const OptimizerMemory& mem, int64_t steps, const std::string& ckpt, Summary& summary) {
  const RunOptions& run = st.run;
  const Options& o = st.o;
  const TrainerConfig& tc = st.pc.train;
  LineChart loss{"Data-parallel training loss", "training step", "cross-entropy (nats/token)", {}};
  loss.series.push_back({"train (mean over ranks)", h.step, h.train.at("main_ce"), false, 5});
  loss.series.push_back({"validation", h.eval_step, h.val.at("main_ce")});
  loss.caption = fmt("%d ranks, each on %lld of the %lld sequences per step; the loss is the one process's on the same batches", mpi::size(),
                     (long long)(tc.batch_size / mpi::size()), (long long)tc.batch_size);
  write_line_chart(run.out + "/loss.svg", loss);
  BarChart mb{"Memory per rank: weights, gradients, AdamW moments", "", "MB", {}, {}};
  Series w{"weights", {}, {}}, g{"gradients", {}, {}}, m{"AdamW moments", {}, {}};
  mb.categories.push_back("unsharded (plain DP)");
  w.y.push_back(mem.param_bytes / 1e6);
  g.y.push_back(mem.param_bytes / 1e6);
  m.y.push_back(mem.unsharded / 1e6);
  for (int r = 0; r < mpi::size(); ++r) {
    mb.categories.push_back(fmt("%s rank %d", o.plain ? "plain DP" : "ZeRO-1", r));
    w.y.push_back(mem.param_bytes / 1e6);
    g.y.push_back(mem.param_bytes / 1e6);
    m.y.push_back(mem.moments[static_cast<size_t>(r)] / 1e6);
  }
  mb.series = {w, g, m};
  mb.caption = "Measured AdamW state of each rank: ZeRO-1 divides the moments (8 bytes per parameter) by the ranks; weights and gradients stay whole";
  write_bar_chart(run.out + "/memory.svg", mb);

  Table t({"what", "value"});
  t.row({"final validation loss (main head)", fmt("%.4f", h.final_val("main_ce"))});
  t.row({"throughput, all ranks", fmt("%.0f tokens/s (%d ranks on %u cores)", h.tokens_per_second(), mpi::size(), std::thread::hardware_concurrency())});
  for (int r = 0; r < mpi::size(); ++r)
    t.row({fmt("rank %d: parameters it updates / AdamW moments", r),
           fmt("%.2fM / %s", mem.params_owned[static_cast<size_t>(r)] / 1e6, memory::human_bytes(mem.moments[static_cast<size_t>(r)]).c_str())});
  t.row({"unsharded AdamW moments", memory::human_bytes(mem.unsharded)});
  t.print();
  summary.set("ranks", static_cast<double>(mpi::size()));
  summary.set("zero1", o.plain ? 0.0 : 1.0);
  summary.set("final_val_loss", h.final_val("main_ce"));
  summary.set("tokens_per_second", h.tokens_per_second());
  summary.set("steps", static_cast<double>(steps));
  summary.set("memory.optimizer_bytes_per_rank", mem.moments);
  summary.set("memory.optimizer_bytes_unsharded", mem.unsharded);
  summary.set("memory.parameter_bytes", mem.param_bytes);
  summary.set("checkpoint", ckpt);
  summary.write(run.out + "/summary.json");
  std::printf("\nwrote %s/{loss,memory}.svg (+ .csv), summary.json and the checkpoint %s\n", run.out.c_str(), ckpt.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  mpi::Session mpi(argc, argv);
  const bool lead = mpi::rank() == 0;
  return run_main("ch06_data_parallel", [&] {
    Setup st = parse_options(argc, argv);
    RunOptions& run = st.run;
    const Options& o = st.o;
    PretrainConfig& pc = st.pc;
    TrainerConfig& tc = pc.train;
    if (tc.batch_size % mpi::size() != 0)
      fail("ch06_data_parallel", fmt("--batch %lld does not split over %d ranks", (long long)tc.batch_size, mpi::size()));
    if ((tc.batch_size / mpi::size()) % tc.micro_batches != 0)
      fail("ch06_data_parallel", "each rank's share of --batch must be a multiple of --micro-batches");
    if (!lead) tc.progress = false;
    RunReport report = start_run(run, "ch06_data_parallel", st.command);
    if (lead)
      print_header("ch06_data_parallel",
                   fmt("%d ranks train one model on shares of each global batch; %s; the check against one process, optimizer memory per "
                       "rank, the loss",
                       mpi::size(), o.plain ? "plain data parallelism (all-reduce)" : "ZeRO-1 (reduce-scatter, sharded AdamW, all-gather)"));
    const std::string ckpt = run.out + "/checkpoint";

    std::unique_ptr<DeepSeekModel> model;
    Tokenizer tok;
    std::unique_ptr<TokenDataset> data;
    const auto docs = load_or_generate_documents("", static_cast<size_t>(o.corpus_kb) * 1000, run.seed);
    if (!o.resume.empty()) {
      LoadedModel lm = load_model(o.resume);
      if (!lm.has_tokenizer) fail("ch06_data_parallel", "the checkpoint to resume has no tokenizer.json");
      model = std::move(lm.model);
      tok = std::move(lm.tokenizer);
      data = std::make_unique<TokenDataset>(docs, tok, 0.05, run.seed);
    } else {
      CorpusData cd = corpus_dataset(docs, run.quick ? 512 : 1024, run.seed);   // deterministic: every rank builds the same
      tok = std::move(cd.tokenizer);
      data = std::make_unique<TokenDataset>(std::move(cd.dataset));
    }
    DeepSeekConfig cfg = model ? model->config() : preset(o.preset);
    cfg.vocab_size = tok.vocab_size();
    if (tc.seq_len > cfg.max_position_embeddings) fail("ch06_data_parallel", "--seq exceeds the model's max_position_embeddings");

    Summary summary;
    // 1. The check: the same steps in one process.
    if (o.verify_steps > 0 && o.resume.empty()) {
      const Verification v = verify(cfg, pc, *data, !o.plain, o.verify_steps, run.seed);
      if (lead) report_check(v, o.verify_steps, summary);
    }

    // 2. The run.
    if (!model) {
      Rng rng(run.seed);
      model = std::make_unique<DeepSeekModel>(cfg, rng);
    }
    const int64_t live_before = memory::live_bytes();
    DataParallelTrainer dp(*model, pc, !o.plain);
    const int64_t trainer_bytes = memory::live_bytes() - live_before;
    if (!o.resume.empty()) {
      dp.load(o.resume);
      if (lead) std::printf("resumed %s at step %lld of %lld\n", o.resume.c_str(), (long long)dp.step_count(), (long long)tc.steps);
    }
    const OptimizerMemory mem = optimizer_memory(dp, *model);
    if (lead) {
      std::printf("model: %s, %.2fM parameters; %d ranks x %lld sequences x %lld tokens per step; %lld steps\n", o.preset.c_str(),
                  static_cast<double>(model->num_parameters()) / 1e6, mpi::size(), (long long)(tc.batch_size / mpi::size()),
                  (long long)tc.seq_len, (long long)tc.steps);
      std::printf("AdamW moments per rank: %s (unsharded: %s); the trainer allocated %s on rank 0\n\n", memory::human_bytes(mem.moments[0]).c_str(),
                  memory::human_bytes(mem.unsharded).c_str(), memory::human_bytes(static_cast<double>(trainer_bytes)).c_str());
    }

    // SIGINT or SIGTERM on any rank (mpirun forwards both): every rank finishes its step, and all
    // agree to stop at the same one (mpi::stop_requested), save and exit 130.
    auto save = [&] { dp.save(ckpt, &tok); };
    const TrainHistory& h = dp.run(*data, [&](const StepStats& s) {
      if (s.step % o.checkpoint_every == 0 || s.step == tc.steps) save();
      if (lead && s.step == o.interrupt_at) std::raise(o.interrupt_signal == "TERM" ? SIGTERM : SIGINT);
      return !mpi::stop_requested();
    });
    if (dp.step_count() < tc.steps) {
      save();
      if (lead)
        std::printf("\ninterrupted at step %lld: checkpoint written to %s; continue with --resume %s\n", (long long)dp.step_count(),
                    ckpt.c_str(), ckpt.c_str());
      return 130;
    }
    if (!lead) return 0;

    report_run(st, h, mem, dp.step_count(), ckpt, summary);
    return 0;
  });
}
