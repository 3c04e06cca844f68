// ch05_mtp: the same DeepSeek-style model trained with and without multi-token prediction
// (same seed, data and steps): does predicting t_{i+2} as well as t_{i+1} help the main head?
// Then the trained MTP module drafts tokens for self-speculative decoding: how often is the
// draft right, and how many tokens does each forward of the main model yield?
#include <cmath>
#include <cstdio>

#include "ch02/generate.hpp"
#include "ch02/small_model.hpp"
#include "ch04/balancer.hpp"
#include "ch04/moe_model.hpp"
#include "ch05/mtp.hpp"
#include "ch05/speculative.hpp"
#include "common/autograd.hpp"
#include "common/ops.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"
#include "common/timer.hpp"

using namespace ds;
using namespace ds::ch05;

namespace {
struct RunResult {
  ch02::TrainHistory history;
  std::vector<double> main_ce, mtp_ce;   // train CE of the main head and of depth 1, per step (MTP runs)
};

// Trains with L = CE_main + lambda / D sum CE_k plus auxiliary-loss-free balancing of every MoE
// layer, the MTP module's included; validation is the main head's cross-entropy alone.
RunResult train_mtp(MTPModel& model, const CorpusData& data, int64_t steps, float lambda, uint64_t seed, const std::string& label) {
  std::vector<ch02::Block*> blocks;
  for (auto& b : model.main->layers) blocks.push_back(b.get());
  for (auto& b : model.mtp) blocks.push_back(b.get());
  ch04::BalanceConfig bc;
  bc.gamma = 3e-3f;
  ch04::Balancer bal(ch04::moe_layers(blocks), bc);
  RunResult r;
  ch02::TrainConfig tc = ch02::program_train_config(steps, seed);
  tc.label = label;
  auto loss = [&](ch02::LanguageModel&, const Batch& b) -> Tensor {
    if (!grad_enabled() || model.depth() == 0) {
      const Tensor ce = ch02::next_token_loss(*model.main, b);
      const Tensor t = bal.terms(b.inputs.size(0));
      return t.defined() ? add(ce, t) : ce;
    }
    const MTPLoss l = mtp_loss(model.forward_all(b.inputs), b.targets, lambda);
    r.main_ce.push_back(l.main.item());
    r.mtp_ce.push_back(l.depth[0]);
    const Tensor t = bal.terms(b.inputs.size(0));
    return t.defined() ? add(l.total, t) : l.total;
  };
  r.history = ch02::train(model, data.dataset, tc, loss, [&](int64_t) { bal.after_step(); });
  return r;
}

std::vector<std::vector<int32_t>> val_prompts(const TokenDataset& d, int64_t n, int64_t len) {
  const auto& toks = d.tokens(Split::Val);
  std::vector<std::vector<int32_t>> out;
  const int64_t stride = std::max<int64_t>(1, (static_cast<int64_t>(toks.size()) - len) / std::max<int64_t>(n, 1));
  for (int64_t i = 0; i < n; ++i) out.emplace_back(toks.begin() + i * stride, toks.begin() + i * stride + len);
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("ch05_mtp", [&] {
    Flags flags("ch05_mtp", "One model trained with and without multi-token prediction; the MTP module as a speculative drafter.");
    RunOptions run;
    add_run_flags(flags, run, "ch05_mtp");
    int64_t steps = 300, depth = 1, prompts = 8, prompt_len = 16, new_tokens = 64;
    float lambda = 0.3f;
    std::string data_path;
    flags.add("--steps", steps, "training steps of each run").min(1);
    flags.add("--depth", depth, "MTP modules D (V3: 1)").min(1).max(4);
    flags.add("--lambda", lambda, "weight of the MTP loss (V3: 0.3 for the first 10T tokens, then 0.1)").min(0);
    flags.add("--prompts", prompts, "validation prompts for the decoding comparison").min(1).max(64);
    flags.add("--prompt-len", prompt_len, "tokens per prompt").min(1).max(128);
    flags.add("--new-tokens", new_tokens, "tokens generated per prompt").min(1).max(256);
    flags.add("--data", data_path, "train on this UTF-8 text file instead of the built-in corpus");
    flags.parse(argc, argv);
    if (run.quick) {
      steps = std::min<int64_t>(steps, 8);
      prompts = std::min<int64_t>(prompts, 2);
      new_tokens = std::min<int64_t>(new_tokens, 12);
    }
    start_run(run);
    print_header("ch05_mtp", "multi-token prediction: main-head quality, then MTP drafts for self-speculative decoding");
    CorpusData data = program_corpus(run.quick, run.seed, data_path);
    const ch04::MoEModelConfig cfg = ch04::program_moe_config(data.tokenizer.vocab_size(), run.quick);

    LineChart val{"Main-head validation loss, with and without MTP", "training step", "validation loss (nats/token)", {}};
    LineChart tl{"MTP run, training cross-entropy: main head vs MTP module", "training step", "cross-entropy (nats/token)", {}};
    Table t({"run", "params (MTP part)", "final main val loss", "perplexity", "train tokens/s"});
    Summary summary;
    std::unique_ptr<MTPModel> trained;
    for (int64_t d : {int64_t{0}, depth}) {
      Rng rng(run.seed);   // the main model starts identical in both runs
      auto model = std::make_unique<MTPModel>(ch04::make_moe_model(cfg, rng), d, ch04::moe_model_attention(cfg),
                                              ch04::moe_model_feed_forward(cfg), rng);
      const std::string name = d ? fmt("MTP D=%lld, lambda=%.2g", (long long)d, lambda) : "no MTP";
      const RunResult r = train_mtp(*model, data, steps, lambda, run.seed, d ? "mtp" : "plain");
      const int64_t mtp_params = model->num_parameters() - model->main->num_parameters();
      t.row({name, fmt("%.3fM (%.3fM)", model->num_parameters() / 1e6, mtp_params / 1e6), fmt("%.4f", r.history.final_val_loss),
             fmt("%.3f", std::exp(r.history.final_val_loss)), fmt("%.0f", r.history.tokens_per_second)});
      val.series.push_back({name, r.history.eval_step, r.history.val_loss});
      const std::string key = d ? "mtp" : "plain";
      summary.set("runs." + key + ".final_val_loss", r.history.final_val_loss);
      summary.set("runs." + key + ".tokens_per_second", r.history.tokens_per_second);
      if (d) {
        tl.series.push_back({"main head (t_{i+1})", r.history.step, r.main_ce});
        tl.series.push_back({"MTP depth 1 (t_{i+2}, given t_{i+1})", r.history.step, r.mtp_ce});
        trained = std::move(model);
      }
    }
    std::printf("\n");
    t.print();

    // Decoding: plain greedy with the KV cache against self-speculative greedy.
    const auto ps = val_prompts(data.dataset, prompts, prompt_len);
    ch02::SamplingConfig sc;
    sc.max_new_tokens = new_tokens;
    double greedy_s = 0, spec_s = 0;
    int64_t drafted = 0, accepted = 0, forwards = 0, tokens = 0, identical = 0;
    for (const auto& p : ps) {
      sc.seed = run.seed;
      Timer timer;
      const auto g = ch02::generate(*trained, {p}, sc, true);
      greedy_s += timer.seconds();
      const SpeculativeResult s = speculative_greedy(*trained, p, new_tokens);
      spec_s += s.seconds;
      drafted += s.drafted;
      accepted += s.accepted;
      forwards += s.main_forwards;
      tokens += static_cast<int64_t>(s.tokens.size());
      identical += s.tokens == g.tokens[0];
    }
    const double acc = drafted ? static_cast<double>(accepted) / static_cast<double>(drafted) : 0.0;
    const double tpf = static_cast<double>(tokens) / static_cast<double>(forwards);
    const double g_tps = static_cast<double>(tokens) / greedy_s, s_tps = static_cast<double>(tokens) / spec_s;
    std::printf("\nSelf-speculative decoding with the MTP module (%lld prompts x %lld new tokens, batch 1, greedy):\n", (long long)prompts,
                (long long)new_tokens);
    Table st({"decoding", "acceptance of the draft", "tokens / main forward", "tokens/s", "speed-up", "output = greedy"});
    st.row({"greedy, KV cache", "-", "1.00", fmt("%.0f", g_tps), "1.00x", "-"});
    st.row({"MTP draft + verify", fmt("%.1f%%", 100 * acc), fmt("%.2f", tpf), fmt("%.0f", s_tps), fmt("%.2fx", s_tps / g_tps),
            fmt("%lld / %lld prompts", (long long)identical, (long long)prompts)});
    st.print();
    std::printf("DeepSeek-V3 reports 85-90%% acceptance of the second token and 1.8x tokens per second.\n");
    BarChart bars{"Decoding speed, batch 1", "", "tokens / second", {"greedy", "MTP speculative"}, {{"tokens/s", {}, {g_tps, s_tps}}}};
    write_line_chart(run.out + "/val_loss.svg", val);
    write_line_chart(run.out + "/train_loss.svg", tl);
    write_bar_chart(run.out + "/decoding_speed.svg", bars);
    summary.set("speculative.acceptance", acc);
    summary.set("speculative.tokens_per_forward", tpf);
    summary.set("speculative.speedup", s_tps / g_tps);
    summary.set("speculative.identical_prompts", static_cast<double>(identical));
    summary.set("speculative.prompts", static_cast<double>(prompts));
    summary.write(run.out + "/summary.json");
    std::printf("\nwrote %s/val_loss.svg, train_loss.svg, decoding_speed.svg (+ .csv), summary.json\n", run.out.c_str());
    return 0;
  });
}
