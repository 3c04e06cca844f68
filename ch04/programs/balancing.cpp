// ch04_balancing: one MoE model trained with each load-balancing strategy (same seed, data and
// steps): no balancing, the classic auxiliary loss, DeepSeek-V3's auxiliary-loss-free bias, V3's
// sequence-wise loss, and classic capacity-factor dropping. Quality (validation loss) against
// balance (MaxVio), the trade-off the auxiliary-loss-free paper is about.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <sstream>

#include "ch02/next_token_loss.hpp"
#include "ch04/balance_hook.hpp"
#include "ch04/moe_model.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"

using namespace ds;
using namespace ds::ch04;

namespace {
struct Strategy {
  std::string name;   // as on the command line
  Balancing balancing;
  float capacity_factor;
};

std::vector<Strategy> parse_strategies(const std::string& list, float capacity) {
  std::vector<Strategy> out;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');) {
    if (item == "capacity") out.push_back({"capacity", Balancing::AuxLoss, capacity});   // Switch: aux loss + dropping
    else out.push_back({item, parse_balancing(item), 0.f});
  }
  if (out.empty()) throw std::invalid_argument("--strategies is empty");
  return out;
}

// What every strategy's run adds to: the three plots and the table.
struct Comparison {
  LineChart val{"Validation loss by balancing strategy", "training step", "validation loss (nats/token)", {}};
  LineChart vio{"MaxVio_batch: (busiest expert's load - mean) / mean, mean over MoE layers", "training step", "MaxVio_batch", {}};
  LineChart trade{"Quality against balance (lower left is better)", "MaxVio_global (validation)", "final validation loss", {}};
  Table t{{"strategy", "final val loss", "perplexity", "MaxVio_global", "MaxVio_batch (last 20%)", "load entropy", "dropped", "tokens/s"}};
};

// One strategy's run from the same seed: its row, curves, load heatmap and summary entries.
void train_strategy(const Strategy& s, const MoEModelConfig& base, const BalanceConfig& bc, const CorpusData& data, int64_t steps,
                    int64_t layer, uint64_t seed, RunReport& report, Comparison& c, Summary& summary) {
  MoEModelConfig cfg = base;
  cfg.moe.capacity_factor = s.capacity_factor;
  Rng rng(seed);
  auto model = make_moe_model(cfg, rng);
  const std::vector<MoE*> layers = moe_layers(*model);
  BalanceConfig b = bc;
  b.strategy = s.balancing;
  BalanceHook balance(layers, b);
  TrainerConfig tc = program_train_config(steps, seed);
  tc.label = s.name;
  Trainer trainer(model->named_parameters(), tc, with_balance_loss(ch02::next_token_loss(*model), balance));
  trainer.add_hook(balance);
  const TrainHistory& h = trainer.run(data.dataset);
  const LoadReport rep = measure_load(*model, layers, data.dataset, tc.batch_size, tc.seq_len, tc.eval_batches);
  const double routed = std::accumulate(rep.load[0].begin(), rep.load[0].end(), 0.0) * static_cast<double>(layers.size());
  const std::vector<double>& maxvio = h.train.at("maxvio");
  const double vio_tail = tail_mean(maxvio, 0.2);
  c.t.row({s.name, fmt("%.4f", h.final_val()), fmt("%.3f", std::exp(h.final_val())), fmt("%.3f", rep.maxvio_global), fmt("%.3f", vio_tail),
           fmt("%.4f", rep.entropy), fmt("%.1f%%", 100.0 * static_cast<double>(rep.dropped) / routed), fmt("%.0f", h.tokens_per_second())});
  c.val.series.push_back({s.name, h.eval_step, h.val.at("loss")});
  c.vio.series.push_back({s.name, h.step, maxvio, false, std::max(1, static_cast<int>(h.step.size() / 25))});   // noisy per step
  c.trade.series.push_back({s.name, {rep.maxvio_global}, {h.final_val()}});
  Heatmap load = load_heatmap(balance.load_shares(static_cast<size_t>(layer)),
                              fmt("Expert load share, MoE layer %lld, strategy %s (even = %.3f)", (long long)layer, s.name.c_str(),
                                  1.0 / static_cast<double>(cfg.moe.gate.n_routed_experts)));
  load.caption = fmt("One row per expert, one column per step: under %s the model ends with MaxVio_global %.3f (all MoE layers); bright "
                     "rows that stay bright are experts taking more than their share, dark ones are starved. Compare the strategies' "
                     "heatmaps side by side.",
                     s.name.c_str(), rep.maxvio_global);
  report.plot("expert_load_" + s.name + ".svg", load);
  summary.set("strategies." + s.name + ".final_val_loss", h.final_val());
  summary.set("strategies." + s.name + ".perplexity", std::exp(h.final_val()));
  summary.set("strategies." + s.name + ".maxvio_global", rep.maxvio_global);
  summary.set("strategies." + s.name + ".maxvio_batch_last20", vio_tail);
  summary.set("strategies." + s.name + ".load_entropy", rep.entropy);
  summary.set("strategies." + s.name + ".tokens_per_second", h.tokens_per_second());
}

// The table, the captions of the three comparison plots, the plots and summary.json.
void report_comparison(RunReport& report, Comparison& c, const Summary& summary) {
  std::printf("\n");
  c.t.print();
  std::printf("\nThe auxiliary-loss-free paper (Wang et al. 2024, 1B model): auxiliary loss perplexity 9.56 / MaxVio_global 0.72,\n"
              "loss-free 9.50 / 0.04. MaxVio_global is over the validation batches, per MoE layer, averaged over layers.\n");
  std::string val_ends;
  for (const Series& s : c.val.series) val_ends += fmt("%s%s %.4f", val_ends.empty() ? "" : ", ", s.name.c_str(), s.y.back());
  c.val.caption = "What each way of balancing costs in quality, on the same model, data and seed (final: " + val_ends + ").";
  std::string vio_ends;
  for (const Series& s : c.vio.series) vio_ends += fmt("%s%s %.2f", vio_ends.empty() ? "" : ", ", s.name.c_str(), tail_mean(s.y, 0.2));
  c.vio.caption = std::string("How unevenly the busiest expert is loaded, step by step") +
                  (c.vio.series[0].smooth > 1 ? " (smoothed, raw faint behind)" : "") +
                  ": the lower the better (mean of the last 20% of steps: " + vio_ends + ").";
  const auto by = [&](auto key) {
    return *std::min_element(c.trade.series.begin(), c.trade.series.end(), [&](const Series& a, const Series& b) { return key(a) < key(b); });
  };
  const Series& balanced = by([](const Series& s) { return s.x[0]; });
  const Series& best = by([](const Series& s) { return s.y[0]; });
  c.trade.caption = fmt("One point per strategy; lower left is both balanced and good. Most balanced: %s (MaxVio_global %.3f, loss %.4f); "
                        "lowest loss: %s (%.4f, MaxVio_global %.3f).",
                        balanced.name.c_str(), balanced.x[0], balanced.y[0], best.name.c_str(), best.y[0], best.x[0]);
  report.plot("val_loss.svg", c.val);
  report.plot("maxvio.svg", c.vio);
  report.plot("tradeoff.svg", c.trade);
  report.write(summary);
  std::printf("\nwrote %s/val_loss.svg, maxvio.svg, tradeoff.svg, expert_load_<strategy>.svg (+ .csv), summary.json\n", report.dir().c_str());
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("ch04_balancing", [&] {
    Flags flags("ch04_balancing", "The same MoE model trained with each load-balancing strategy: validation loss against MaxVio.");
    RunOptions run;
    add_run_flags(flags, run, "ch04_balancing");
    int64_t steps = 110;
    std::string strategies = "none,aux_loss,seq_aux,aux_free,capacity", data_path;
    BalanceConfig bc;
    bc.gamma = 3e-3f;   // V3's 1e-3 is for ~10^5 steps; in 110 steps the bias could move only 0.11
    float capacity = 1.25f;
    int64_t layer = 0;
    flags.add("--steps", steps, "training steps of each run").min(1).quick(8);
    flags.add("--strategies", strategies,
              "comma-separated: none, aux_loss, seq_aux, aux_free, v3 (aux_free + seq_aux), capacity (aux loss + token dropping)");
    flags.add("--aux-alpha", bc.aux_alpha, "weight of the classic auxiliary loss").min(0);
    flags.add("--seq-alpha", bc.seq_alpha, "weight of V3's sequence-wise balance loss").min(0);
    flags.add("--gamma", bc.gamma, "bias update speed of auxiliary-loss-free balancing").min(0);
    flags.add("--capacity", capacity, "capacity factor of the capacity run (tokens per expert = factor x N k / E)").min(0.01);
    flags.add("--heatmap-layer", layer, "which MoE layer the load heatmaps show (0 = the first)").min(0);
    flags.add("--data", data_path, "train on this UTF-8 text file instead of the built-in corpus");
    flags.parse(argc, argv);
    const std::vector<Strategy> runs = parse_strategies(strategies, capacity);
    RunReport report = start_run(run, flags);
    print_header("ch04_balancing", "one MoE model, five ways to balance its experts, same seed, data and steps");
    CorpusData data = program_corpus(run.quick, run.seed, data_path);
    const MoEModelConfig base = program_moe_config(data.tokenizer.vocab_size(), run.quick);
    const int64_t moe_count = base.lm.num_layers - base.first_k_dense_replace;
    if (layer >= moe_count) fail("ch04_balancing", fmt("--heatmap-layer must be below %lld, the number of MoE layers", (long long)moe_count));
    std::printf("model: %lld layers (first %lld dense), %lld routed experts of width %lld + %lld shared, %lld per token, %s scores\n\n",
                (long long)base.lm.num_layers, (long long)base.first_k_dense_replace, (long long)base.moe.gate.n_routed_experts,
                (long long)base.moe.moe_intermediate_size, (long long)base.moe.n_shared_experts, (long long)base.moe.gate.num_experts_per_tok,
                base.moe.gate.scoring_func.c_str());
    Comparison c;
    Summary summary;
    for (const Strategy& s : runs) train_strategy(s, base, bc, data, steps, layer, run.seed, report, c, summary);
    report_comparison(report, c, summary);
    return 0;
  });
}
