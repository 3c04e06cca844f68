// ch06_pretrain: the repository's main job. Trains the mini-DeepSeek (MLA, DeepSeekMoE with
// auxiliary-loss-free balancing, MTP) on the built-in corpus or --data FILE, with periodic
// validation, plots, checkpoints in Hugging Face layout every N steps, a clean Ctrl-C (it
// saves, then exits) and exact resume (--resume DIR).
#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "ch02/generate.hpp"
#include "ch06/checkpoint.hpp"
#include "ch06/pretrain.hpp"
#include "common/memory.hpp"
#include "common/plot.hpp"
#include "common/interrupt.hpp"
#include "common/run.hpp"
#include "common/trainer_flags.hpp"

using namespace ds;
using namespace ds::ch06;
namespace fs = std::filesystem;

namespace {

struct Options {
  std::string preset = "mini", config_path, resume, data_path, prompt = "Once upon a time";
  int64_t checkpoint_every = 500, sample_tokens = 80, corpus_kb = 3000, interrupt_at = 0;
  float temperature = 0.8f;
  int64_t top_k = 40;
  bool recompute = false;
};

// Memory of training, from the tensor accounting: what the weights, their gradients and AdamW's
// moments hold, and the peak a step reaches above the weights and moments (the activations
// saved for backward plus the gradients being built).
struct MemoryReport {
  double params = 0, grads = 0, optimizer = 0, activations = 0;
};

void write_plots(RunReport& report, const TrainHistory& h, const std::vector<std::vector<double>>& expert_load, const MemoryReport& mem) {
  const std::vector<double>& mtp = h.train.at("mtp_ce");
  const bool has_mtp = !mtp.empty() && mtp.back() > 0;
  // Per-step training losses are noisy: a centred mean over ~2% of the run, the raw curve faint behind.
  const int window = std::max(1, static_cast<int>(h.step.size() / 50));
  const std::vector<double>& main_ce = h.train.at("main_ce");
  LineChart loss{"Training and validation loss (main head and MTP module)", "training step", "cross-entropy (nats/token)", {}};
  loss.series.push_back({"train, main head", h.step, main_ce, false, window});
  if (has_mtp) loss.series.push_back({"train, MTP (t_{i+2})", h.step, mtp, false, window});
  loss.series.push_back({"validation, main head", h.eval_step, h.val.at("main_ce"), true});
  if (h.val.at("mtp_ce").back() > 0) loss.series.push_back({"validation, MTP", h.eval_step, h.val.at("mtp_ce"), true});
  loss.logy = true;   // the first 100 steps fall from 7 to 1; the rest of the run is below 1
  loss.caption = fmt("Whether the model generalises: the dashed validation loss (main head %.3f at the end) should follow the %s"
                     "training loss (%.3f over the last 5%% of steps); a validation curve turning up while training falls would be "
                     "overfitting.",
                     h.final_val("main_ce"), window > 1 ? "smoothed " : "", tail_mean(main_ce, 0.05));
  report.plot("loss.svg", loss);
  LineChart lr{"Learning rate", "training step", "learning rate", {{"lr", h.step, h.train.at("lr")}}};
  const std::vector<double>& lrs = h.train.at("lr");
  lr.caption = fmt("The schedule the run followed: a linear warm-up to the peak %.2g, then the decay to %.2g at the last step.",
                   *std::max_element(lrs.begin(), lrs.end()), lrs.back());
  report.plot("lr.svg", lr);
  const std::vector<double>& vio = h.train.at("maxvio");
  LineChart maxvio{"MaxVio_batch (mean over MoE layers)", "training step", "MaxVio", {{"MaxVio_batch", h.step, vio, false, window}}};
  maxvio.caption = fmt("How far the busiest expert's load exceeds the mean, as a fraction of it: %.2f at the first step, %.2f over the "
                       "last 5%% of steps; 0 is perfectly even, and the balancing should hold it low.",
                       vio.empty() ? 0.0 : vio.front(), tail_mean(vio, 0.05));
  report.plot("maxvio.svg", maxvio);
  if (!expert_load.empty()) {
    Heatmap load = ch04::load_heatmap(expert_load, "Expert load share over training, first MoE layer");
    load.caption = fmt("Each row is one routed expert's share of the routed slots per step: evenly balanced, every row would sit at "
                       "1/%zu = %.3f; look for experts that stay bright or dark.",
                       expert_load[0].size(), 1.0 / static_cast<double>(expert_load[0].size()));
    report.plot("expert_load.svg", load);
  }
  BarChart mb{"Training memory (tensor accounting)", "", "MB",
              {"parameters", "gradients", "AdamW moments", "step peak above weights + moments"},
              {{"MB", {}, {mem.params / 1e6, mem.grads / 1e6, mem.optimizer / 1e6, mem.activations / 1e6}}}};
  const double fixed = mem.params + mem.grads + mem.optimizer;
  mb.caption = fmt("AdamW's two moments cost twice the weights (%.1f MB against %.1f MB); the activations a step keeps for its backward "
                   "add %.1f MB, %s the weights, gradients and moments together.",
                   mem.optimizer / 1e6, mem.params / 1e6, mem.activations / 1e6, mem.activations > fixed ? "more than" : "less than");
  report.plot("memory.svg", mb);
}

std::string sample_text(DeepSeekModel& model, const Tokenizer& tok, const Options& o, uint64_t seed) {
  model.set_mla_mode(ch03::MLAMode::Absorbed);
  ch02::SamplingConfig sc;
  sc.max_new_tokens = o.sample_tokens;
  sc.temperature = o.temperature;
  sc.top_k = o.top_k;
  if (tok.eot_id() >= 0) sc.stop_tokens = {tok.eot_id()};
  sc.seed = seed;
  const auto g = ch02::generate(model, {tok.encode(o.prompt)}, sc, true);
  model.set_mla_mode(ch03::MLAMode::Naive);
  return o.prompt + tok.decode(g.tokens[0]);
}

// Model, tokenizer and data: fresh, or from the checkpoint being resumed.
struct Setup {
  std::unique_ptr<DeepSeekModel> model;
  Tokenizer tok;
  std::unique_ptr<TokenDataset> data;
};

Setup load_or_build(const Options& o, const TrainerConfig& tc, const RunOptions& run) {
  Setup s;
  check_training_fits(planned_model(o.preset, o.config_path, o.resume), tc);   // before the corpus and the model are built
  const auto docs = load_or_generate_documents(o.data_path, static_cast<size_t>(o.corpus_kb) * 1000, run.seed);
  if (!o.resume.empty()) {
    LoadedModel lm = load_model(o.resume);
    if (!lm.has_tokenizer) fail("ch06_pretrain", "the checkpoint to resume has no tokenizer.json");
    s.model = std::move(lm.model);
    check_resume_config(o.config_path, s.model->config());
    s.tok = std::move(lm.tokenizer);
    s.data = std::make_unique<TokenDataset>(docs, s.tok, 0.05, run.seed);   // the split corpus_dataset made
  } else {
    CorpusData cd = corpus_dataset(docs, run.quick ? 512 : 1024, run.seed);
    s.tok = std::move(cd.tokenizer);
    s.data = std::make_unique<TokenDataset>(std::move(cd.dataset));
    DeepSeekConfig cfg = o.config_path.empty() ? preset(o.preset) : load_config(o.config_path);
    cfg.vocab_size = s.tok.vocab_size();
    if (tc.seq_len > cfg.max_position_embeddings) fail("ch06_pretrain", "--seq exceeds the model's max_position_embeddings");
    Rng rng(run.seed);
    s.model = std::make_unique<DeepSeekModel>(cfg, rng);
  }
  if (tc.batch_size % tc.micro_batches != 0) fail("ch06_pretrain", "--batch must be a multiple of --micro-batches");
  s.model->set_recompute(o.recompute);   // a training setting, not saved with the model
  return s;
}

void print_plan(const Setup& s, const Options& o, const TrainerConfig& tc, const std::string& ckpt) {
  const ParamCount pcount = count_parameters(s.model->config());
  std::printf("model: %s, %.2fM parameters (%.2fM in the MTP module), %.2fM active per token; %lld training tokens, %lld validation\n",
              o.config_path.empty() ? o.preset.c_str() : o.config_path.c_str(), pcount.total / 1e6, pcount.mtp / 1e6, pcount.active / 1e6,
              (long long)s.data->num_tokens(Split::Train), (long long)s.data->num_tokens(Split::Val));
  std::printf("steps %lld x batch %lld x %lld tokens, lr %.2g -> %.2g (%s, warmup %lld), checkpoints every %lld steps in %s\n\n",
              (long long)tc.steps, (long long)tc.batch_size, (long long)tc.seq_len, tc.lr, tc.min_lr, tc.schedule.c_str(),
              (long long)tc.warmup, (long long)o.checkpoint_every, ckpt.c_str());
}

// The plots, the table, the sample and summary.json of a finished run.
void report_run(RunReport& report, Setup& s, Pretrainer& p, const MemoryReport& mem, const Options& o, const RunOptions& run,
                const std::string& ckpt) {
  const TrainHistory& h = p.trainer.history;
  write_plots(report, h, p.balance.load_shares(0), mem);
  Table t({"what", "value"});
  t.row({"final validation loss (main head)", fmt("%.4f (perplexity %.2f)", h.final_val("main_ce"), std::exp(h.final_val("main_ce")))});
  if (s.model->depth() > 0) t.row({"final validation loss (MTP, t_{i+2})", fmt("%.4f", h.final_val("mtp_ce"))});
  t.row({"final MaxVio_batch", fmt("%.3f", h.train.at("maxvio").back())});
  t.row({"training throughput", fmt("%.0f tokens/s (%d threads)", h.tokens_per_second(), run.threads)});
  const StepUtilisation util = step_utilisation(s.model->config(), p.trainer.config().seq_len, h.tokens_per_second());
  t.row({"share of the machine (model FLOPs / GEMM roof)", describe(util)});
  t.row({"model FLOPs per token", util.formula});
  t.row({"memory: parameters / gradients / AdamW / step peak above them",
         memory::human_bytes(mem.params) + " / " + memory::human_bytes(mem.grads) + " / " + memory::human_bytes(mem.optimizer) + " / " +
             memory::human_bytes(mem.activations)});
  t.print();
  const std::string sample = o.sample_tokens > 0 ? sample_text(*s.model, s.tok, o, run.seed) : "";
  if (!sample.empty()) std::printf("\nSample (temperature %.2g, top-k %lld):\n%s\n", o.temperature, (long long)o.top_k, sample.c_str());
  Summary summary;
  summary.set("final_val_loss", h.final_val("main_ce"));
  summary.set("final_val_loss_mtp", h.final_val("mtp_ce"));
  summary.set("final_maxvio_batch", h.train.at("maxvio").back());
  summary.set("tokens_per_second", h.tokens_per_second());
  summary.set("steps", static_cast<double>(p.trainer.step_count()));
  summary.set("parameters", static_cast<double>(count_parameters(s.model->config()).total));
  summary.set("checkpoint", ckpt);
  summary.set("sample", sample);
  summary.set("memory.parameters_bytes", mem.params);
  summary.set("memory.optimizer_bytes", mem.optimizer);
  summary.set("memory.peak_activation_bytes", mem.activations);
  summary.set("recompute", o.recompute ? 1.0 : 0.0);
  add_to_summary(summary, util);
  report.write(summary);
  std::printf("\nwrote %s/{loss,lr,maxvio,expert_load,memory}.svg (+ .csv), summary.json and the checkpoint %s\n", report.dir().c_str(),
              ckpt.c_str());
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("ch06_pretrain", [&] {
    Flags flags("ch06_pretrain", "Pretrain the mini-DeepSeek: MLA + DeepSeekMoE + MTP, checkpoints in Hugging Face layout, exact resume.");
    RunOptions run;
    add_run_flags(flags, run, "ch06_pretrain");
    Options o;
    PretrainConfig pc;
    TrainerConfig& tc = pc.train;
    tc.steps = 2400;   // 2.5M tokens: val loss 0.608 where 3,500 steps gave 0.594-0.602, in 31% less time (ch06/README.md)
    flags.add_choice("--preset", o.preset, {"tiny", "mini"}, "model size (common/deepseek_config.hpp's presets)").quick("tiny");
    flags.add("--config", o.config_path, "a config.json to train instead of the preset (vocab_size is set by the tokenizer)");
    add_trainer_flags(flags, tc, {.steps = 12, .batch = 4, .seq = 32, .warmup = 2, .eval_every = 6, .eval_batches = 2});
    flags.add("--mtp-lambda", pc.mtp_lambda, "weight of the MTP loss (V3: 0.3, later 0.1)").min(0);
    flags.add("--gamma", pc.bias_gamma, "bias update speed of auxiliary-loss-free balancing (V3: 0.001)").min(0);
    flags.add("--seq-alpha", pc.seq_alpha, "weight of the sequence-wise balance loss (V3: 0.0001)").min(0);
    flags.add("--checkpoint-every", o.checkpoint_every, "write <out>/checkpoint every this many steps (and at the end)").min(1).quick(5);
    flags.add("--resume", o.resume, "continue the training run saved in this checkpoint folder");
    flags.add("--data", o.data_path, "train on this UTF-8 text file (documents split on blank lines or <|endoftext|>)");
    flags.add("--corpus-kb", o.corpus_kb, "size of the built-in procedural corpus in KB").min(10).max(100000).quick(150);
    flags.add("--prompt", o.prompt, "prompt of the sample printed at the end");
    flags.add("--sample-tokens", o.sample_tokens, "tokens of that sample").min(0).max(1000).quick(16);
    flags.add("--temperature", o.temperature, "sampling temperature of the sample (0 = greedy)").min(0);
    flags.add("--top-k", o.top_k, "top-k of the sample (0 = off)").min(0);
    flags.add_flag("--recompute", o.recompute,
                   "recompute every block's RMSNorms and the MLA up-projections in backward instead of keeping their outputs (V3 "
                   "section 3.2.3): less memory, a little more time");
    flags.add("--interrupt-at", o.interrupt_at, "send this process Ctrl-C (SIGINT) after this step, to try the clean stop (0 = never)").min(0);
    flags.add_choice("--precision", pc.precision, {"float32", "bf16", "auto"},
                     "GEMM precision: float32, bf16 (BF16 inputs, float32 accumulation, weights and AdamW state) or auto (bf16 where the CPU "
                     "has BF16 instructions)");
    flags.parse(argc, argv);
    tc.seed = run.seed;
    if (o.sample_tokens > 0 && o.prompt.empty())
      fail("ch06_pretrain", "--prompt is empty: the sample at the end continues a prompt, so give it some text (or --sample-tokens 0)");
    RunReport report = start_run(run, flags);
    print_header("ch06_pretrain", "the mini-DeepSeek pretraining run: loss, balance, memory, checkpoints, a sample");
    const std::string ckpt = run.out + "/checkpoint";
    Setup s = load_or_build(o, tc, run);
    Pretrainer p(*s.model, pc);
    Trainer& trainer = p.trainer;
    add_data_settings(trainer, run.seed, o.data_path, o.corpus_kb);
    if (!o.resume.empty()) {
      trainer.load_state(o.resume);
      std::printf("resumed %s at step %lld of %lld\n", o.resume.c_str(), (long long)trainer.step_count(), (long long)tc.steps);
    }
    std::printf("%s\n", apply_precision(pc.precision).c_str());
    print_plan(s, o, tc, ckpt);
    auto save = [&] {
      write_folder_atomic(ckpt, [&](const std::string& tmp) {
        write_model_files(tmp, *s.model, &s.tok);
        trainer.save_state(tmp);
      });
    };
    MemoryReport mem;
    mem.params = 4.0 * static_cast<double>(s.model->num_parameters());
    mem.grads = mem.params;
    mem.optimizer = static_cast<double>(trainer.optimizer().state_bytes());
    catch_interrupt();
    trainer.run(*s.data, [&](const StepStats& st) {
      mem.activations = std::max(mem.activations, static_cast<double>(st.peak_bytes));
      if (st.step % o.checkpoint_every == 0 || st.step == tc.steps) save();
      if (st.step == o.interrupt_at) std::raise(SIGINT);
      return !interrupted();
    });
    if (trainer.step_count() < tc.steps) {
      save();
      std::printf("\ninterrupted at step %lld by %s: checkpoint written to %s; continue with --resume %s\n", (long long)trainer.step_count(),
                  interrupt_name(), ckpt.c_str(), ckpt.c_str());
      return interrupt_exit_code();
    }
    report_run(report, s, p, mem, o, run, ckpt);
    return 0;
  });
}
