// ch05_mtp: the same DeepSeek-style model trained with and without multi-token prediction
// (same seed, data and steps): does predicting t_{i+2} as well as t_{i+1} help the main head?
// Then the trained MTP module drafts tokens for self-speculative decoding: how often is the
// draft right, and how many tokens does each forward of the main model yield?
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "ch02/generate.hpp"
#include "ch04/balance_hook.hpp"
#include "ch04/moe_model.hpp"
#include "ch05/mtp.hpp"
#include "ch05/speculative.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"
#include "common/timer.hpp"

using namespace ds;
using namespace ds::ch05;

namespace {
// Trains with L = L_Main + lambda / D sum_k L_MTP^k (eq. 25) plus auxiliary-loss-free balancing
// of every MoE layer, the MTP module's included. The history's "main_ce" is the main head's
// cross-entropy alone, in training and validation, so runs with and without MTP compare.
TrainHistory train_mtp(MTPModel& model, const CorpusData& data, int64_t steps, float lambda, uint64_t seed, const std::string& label) {
  std::vector<ch02::Block*> blocks;
  for (auto& b : model.main->layers) blocks.push_back(b.get());
  for (auto& b : model.mtp) blocks.push_back(b.get());
  ch04::BalanceConfig bc;
  bc.gamma = 3e-3f;
  ch04::BalanceHook balance(ch04::moe_layers(blocks), bc);
  TrainerConfig tc = program_train_config(steps, seed);
  tc.label = label;
  Trainer trainer(model.named_parameters(), tc, ch04::with_balance_loss(mtp_training_loss(model, lambda), balance));
  trainer.add_hook(balance);
  return trainer.run(data.dataset);
}

std::vector<std::vector<int32_t>> val_prompts(const TokenDataset& d, int64_t n, int64_t len) {
  const auto& toks = d.tokens(Split::Val);
  std::vector<std::vector<int32_t>> out;
  const int64_t stride = std::max<int64_t>(1, (static_cast<int64_t>(toks.size()) - len) / std::max<int64_t>(n, 1));
  for (int64_t i = 0; i < n; ++i) out.emplace_back(toks.begin() + i * stride, toks.begin() + i * stride + len);
  return out;
}

// Both runs' curves and table rows; the MTP run's trained model is kept for decoding.
struct Runs {
  LineChart val{"Main-head validation loss, with and without MTP", "training step", "validation loss (nats/token)", {}};
  LineChart tl{"MTP run, training cross-entropy: main head vs MTP module", "training step", "cross-entropy (nats/token)", {}};
  std::unique_ptr<MTPModel> trained;
};

// The same model (same seed) trained without MTP and with `depth` MTP modules.
Runs train_both(const CorpusData& data, const ch04::MoEModelConfig& cfg, int64_t depth, int64_t steps, float lambda, uint64_t seed,
                Summary& summary) {
  Runs r;
  Table t({"run", "params (MTP part)", "final main val loss", "perplexity", "train tokens/s"});
  for (int64_t d : {int64_t{0}, depth}) {
    Rng rng(seed);   // the main model starts identical in both runs
    auto model = std::make_unique<MTPModel>(ch04::make_moe_model(cfg, rng), d, ch04::moe_model_attention(cfg),
                                            ch04::moe_model_feed_forward(cfg), rng);
    const std::string name = d ? fmt("MTP D=%lld, lambda=%.2g", (long long)d, lambda) : "no MTP";
    const TrainHistory h = train_mtp(*model, data, steps, lambda, seed, d ? "mtp" : "plain");
    const int64_t mtp_params = model->num_parameters() - model->main->num_parameters();
    const double val_main = h.final_val("main_ce");
    t.row({name, fmt("%.3fM (%.3fM)", model->num_parameters() / 1e6, mtp_params / 1e6), fmt("%.4f", val_main),
           fmt("%.3f", std::exp(val_main)), fmt("%.0f", h.tokens_per_second())});
    r.val.series.push_back({name, h.eval_step, h.val.at("main_ce")});
    const std::string key = d ? "mtp" : "plain";
    summary.set("runs." + key + ".final_val_loss", val_main);
    summary.set("runs." + key + ".tokens_per_second", h.tokens_per_second());
    if (d) {
      const int window = std::max(1, static_cast<int>(h.step.size() / 50));   // per-step losses are noisy
      r.tl.series.push_back({"main head (t_{i+1})", h.step, h.train.at("main_ce"), false, window});
      r.tl.series.push_back({"MTP depth 1 (t_{i+2}, given t_{i+1})", h.step, h.train.at("mtp_ce"), false, window});
      r.trained = std::move(model);
    }
  }
  std::printf("\n");
  t.print();
  return r;
}

struct Decoding {
  double greedy_s = 0, spec_s = 0;
  int64_t drafted = 0, accepted = 0, forwards = 0, tokens = 0, identical = 0;
};

// Plain greedy with the KV cache against self-speculative greedy, on the same prompts.
Decoding compare_decoding(MTPModel& model, const std::vector<std::vector<int32_t>>& ps, int64_t new_tokens, uint64_t seed) {
  ch02::SamplingConfig sc;
  sc.max_new_tokens = new_tokens;
  Decoding d;
  for (const auto& p : ps) {
    sc.seed = seed;
    Timer timer;
    const auto g = ch02::generate(model, {p}, sc, true);
    d.greedy_s += timer.seconds();
    const SpeculativeResult s = speculative_greedy(model, p, new_tokens);
    d.spec_s += s.seconds;
    d.drafted += s.drafted;
    d.accepted += s.accepted;
    d.forwards += s.main_forwards;
    d.tokens += static_cast<int64_t>(s.tokens.size());
    d.identical += s.tokens == g.tokens[0];
  }
  return d;
}

// The decoding table, the three plots and summary.json.
void report_mtp(RunReport& report, Runs& r, const Decoding& d, int64_t prompts, int64_t new_tokens, Summary& summary) {
  const double acc = d.drafted ? static_cast<double>(d.accepted) / static_cast<double>(d.drafted) : 0.0;
  const double tpf = static_cast<double>(d.tokens) / static_cast<double>(d.forwards);
  const double g_tps = static_cast<double>(d.tokens) / d.greedy_s, s_tps = static_cast<double>(d.tokens) / d.spec_s;
  const int64_t identical = d.identical;
  std::printf("\nSelf-speculative decoding with the MTP module (%lld prompts x %lld new tokens, batch 1, greedy):\n", (long long)prompts,
              (long long)new_tokens);
  Table st({"decoding", "acceptance of the draft", "tokens / main forward", "tokens/s", "speed-up", "output = greedy"});
  st.row({"greedy, KV cache", "-", "1.00", fmt("%.0f", g_tps), "1.00x", "-"});
  st.row({"MTP draft + verify", fmt("%.1f%%", 100 * acc), fmt("%.2f", tpf), fmt("%.0f", s_tps), fmt("%.2fx", s_tps / g_tps),
          fmt("%lld / %lld prompts", (long long)identical, (long long)prompts)});
  st.print();
  std::printf("DeepSeek-V3 reports 85-90%% acceptance of the second token and 1.8x tokens per second.\n");
  BarChart bars{"Decoding speed, batch 1", "", "tokens / second", {"greedy", "MTP speculative"}, {{"tokens/s", {}, {g_tps, s_tps}}}};
  LineChart& val = r.val;
  LineChart& tl = r.tl;
  val.caption = fmt("Does the extra objective help or hurt the main head? Same model and seed; the main head's validation loss ends at "
                    "%.4f without MTP and %.4f with it.",
                    val.series[0].y.back(), val.series[1].y.back());
  const double mtp_end = tail_mean(tl.series[1].y, 0.1), main_end = tail_mean(tl.series[0].y, 0.1);
  tl.caption = fmt("Both heads learn together%s; the module predicting t_{i+2} ends %s the main head "
                   "(%.3f against %.3f over the last 10%% of steps): it sees t_{i+1}'s embedding as well as the main model's state.",
                   tl.series[0].smooth > 1 ? " (smoothed, raw faint behind)" : "", mtp_end > main_end ? "above" : "below", mtp_end, main_end);
  bars.caption = fmt("The MTP module drafts the token after next and one forward of the main model checks it: %.1f%% of drafts accepted, "
                     "%.2f tokens per main forward, %.2fx the tokens per second of plain greedy decoding, with identical output on "
                     "%lld of %lld prompts.",
                     100 * acc, tpf, s_tps / g_tps, (long long)identical, (long long)prompts);
  report.plot("val_loss.svg", val);
  report.plot("train_loss.svg", tl);
  report.plot("decoding_speed.svg", bars);
  summary.set("speculative.acceptance", acc);
  summary.set("speculative.tokens_per_forward", tpf);
  summary.set("speculative.speedup", s_tps / g_tps);
  summary.set("speculative.identical_prompts", static_cast<double>(identical));
  summary.set("speculative.prompts", static_cast<double>(prompts));
  report.write(summary);
  std::printf("\nwrote %s/val_loss.svg, train_loss.svg, decoding_speed.svg (+ .csv), summary.json\n", report.dir().c_str());
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("ch05_mtp", [&] {
    Flags flags("ch05_mtp", "One model trained with and without multi-token prediction; the MTP module as a speculative drafter.");
    RunOptions run;
    add_run_flags(flags, run, "ch05_mtp");
    int64_t steps = 240, depth = 1, prompts = 8, prompt_len = 16, new_tokens = 64;
    float lambda = 0.3f;
    std::string data_path;
    flags.add("--steps", steps, "training steps of each run").min(1).quick(8);
    flags.add("--depth", depth, "MTP modules D (V3: 1)").min(1).max(4);
    flags.add("--lambda", lambda, "weight of the MTP loss (V3: 0.3 for the first 10T tokens, then 0.1)").min(0);
    flags.add("--prompts", prompts, "validation prompts for the decoding comparison").min(1).max(64).quick(2);
    flags.add("--prompt-len", prompt_len, "tokens per prompt").min(1).max(128);
    flags.add("--new-tokens", new_tokens, "tokens generated per prompt").min(1).max(256).quick(12);
    flags.add("--data", data_path, "train on this UTF-8 text file instead of the built-in corpus");
    flags.parse(argc, argv);
    RunReport report = start_run(run, flags);
    print_header("ch05_mtp", "multi-token prediction: main-head quality, then MTP drafts for self-speculative decoding");
    CorpusData data = program_corpus(run.quick, run.seed, data_path);
    const ch04::MoEModelConfig cfg = ch04::program_moe_config(data.tokenizer.vocab_size(), run.quick);
    Summary summary;
    Runs r = train_both(data, cfg, depth, steps, lambda, run.seed, summary);
    const Decoding d = compare_decoding(*r.trained, val_prompts(data.dataset, prompts, prompt_len), new_tokens, run.seed);
    report_mtp(report, r, d, prompts, new_tokens, summary);
    return 0;
  });
}
