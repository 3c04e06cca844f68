// ch02_mqa_gqa: MHA vs GQA vs MQA. Fewer key/value heads shrink the KV cache
// by the same factor; the question is what it costs in quality. Part 1 computes parameters and
// cache sizes for GPT-2 small and a DeepSeek-V3-sized model; part 2 trains three small models
// that differ only in their number of KV heads, on the same data with the same seed.
#include <cmath>
#include <cstdio>

#include "ch02/kv_budget.hpp"
#include "ch02/kv_cache.hpp"
#include "ch02/small_model.hpp"
#include "ch02/next_token_loss.hpp"
#include "common/dataset.hpp"
#include "common/flags.hpp"
#include "common/memory.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"
#include "common/tokenizer_files.hpp"

using namespace ds;
using namespace ds::ch02;

namespace {
struct Variant {
  std::string name;
  int64_t kv_heads;
};

void sizes(const AttentionShape& s, int64_t groups, int64_t bytes, RunReport& report, Summary& summary) {
  const std::vector<Variant> vs = {{"MHA", s.heads}, {fmt("GQA (%lld KV heads)", (long long)groups), groups}, {"MQA", 1}};
  std::printf("\n%s: %lld layers, %lld heads x %lld dims, %lld-byte elements\n", s.name.c_str(), (long long)s.layers, (long long)s.heads,
              (long long)s.head_dim, (long long)bytes);
  Table t({"attention", "KV heads", "attn params / layer", "KV cache / token", "KV cache @ 4K tokens", "@ 128K tokens"});
  LineChart chart;
  chart.title = "KV cache of one sequence: " + s.name;
  chart.xlabel = "context length (tokens)";
  chart.ylabel = "KV cache (GB)";
  chart.logx = chart.logy = true;
  for (const auto& v : vs) {
    const int64_t per_tok = kv_bytes_per_token(s, v.kv_heads, bytes);
    t.row({v.name, std::to_string(v.kv_heads), fmt("%.2fM", attention_params_per_layer(s, v.kv_heads) / 1e6),
           memory::human_bytes(static_cast<double>(per_tok)), memory::human_bytes(4096.0 * per_tok),
           memory::human_bytes(131072.0 * per_tok)});
    Series ser{v.name, {}, {}};
    for (double ctx = 256; ctx <= 131072; ctx *= 2) {
      ser.x.push_back(ctx);
      ser.y.push_back(ctx * static_cast<double>(per_tok) / 1e9);
    }
    chart.series.push_back(ser);
    summary.set(s.name + "." + v.name.substr(0, 3) + ".kv_bytes_per_token", static_cast<double>(per_tok));
  }
  t.print();
  const double mha_128k = 131072.0 * static_cast<double>(kv_bytes_per_token(s, s.heads, bytes)),
               mqa_128k = 131072.0 * static_cast<double>(kv_bytes_per_token(s, 1, bytes));
  chart.caption = fmt("Parallel lines on log axes: fewer KV heads shrink the cache by the same factor at every length (MHA / MQA = "
                      "%lldx); at 128K tokens one sequence needs %s with MHA and %s with MQA.",
                      (long long)s.heads, memory::human_bytes(mha_128k).c_str(), memory::human_bytes(mqa_128k).c_str());
  report.plot("kv_cache_" + s.name + ".svg", chart);
}
// The KV cache of a real prompt: its length in DeepSeek-V3's tokens times each config's bytes per token.
void prompt_cache(const std::string& prompt, int64_t groups, int64_t bytes, Summary& summary) {
  const int64_t n = deepseek_v3_token_count(prompt);
  std::printf("\nThe prompt (%zu bytes) is %lld tokens for DeepSeek-V3's tokenizer (BOS included); its KV cache, %lld-byte elements:\n", prompt.size(),
              (long long)n, (long long)bytes);
  Table t({"config", "MHA", fmt("GQA (%lld KV heads)", (long long)groups), "MQA"});
  for (const auto& s : attention_presets())
    t.row({s.name, memory::human_bytes(static_cast<double>(n * kv_bytes_per_token(s, s.heads, bytes))),
           memory::human_bytes(static_cast<double>(n * kv_bytes_per_token(s, std::min(groups, s.heads), bytes))),
           memory::human_bytes(static_cast<double>(n * kv_bytes_per_token(s, 1, bytes)))});
  t.print();
  summary.set("prompt.v3_tokens", static_cast<double>(n));
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("ch02_mqa_gqa", [&] {
    Flags flags("ch02_mqa_gqa", "MHA vs GQA vs MQA: KV-cache size against quality.");
    RunOptions run;
    add_run_flags(flags, run, "ch02_mqa_gqa");
    int64_t groups = 8, bytes = 2, steps = 200, gqa_kv = 2;
    flags.add("--groups", groups, "KV heads of the GQA row in the size tables").min(1);
    flags.add("--bytes", bytes, "bytes per cached element in the size tables (2 = FP16/BF16)").min(1).max(4);
    flags.add("--steps", steps, "training steps of each small model").min(1).quick(15);
    std::string data_path;
    flags.add("--data", data_path,
              "train on this UTF-8 text file instead of the built-in corpus (documents split on blank lines or <|endoftext|>)");
    flags.add("--gqa-kv-heads", gqa_kv, "KV heads of the trained GQA model (of 8 query heads)")
        .min(1)
        .max(8)
        .check([](const std::string& v) { return 8 % std::stoll(v) == 0 ? "" : "must divide the 8 query heads (1, 2, 4 or 8)"; });
    std::string preset = "all";
    std::vector<std::string> preset_names = {"all"};
    for (const auto& p : attention_presets()) preset_names.push_back(p.name);
    flags.add_choice("--preset", preset, preset_names, "config of the size tables and plots");
    std::string prompt;
    flags.add("--prompt", prompt, "also size the KV cache of this text, counted in DeepSeek-V3's real tokens (scripts/fetch-tokenizers.sh)");
    flags.parse(argc, argv);
    RunReport report = start_run(run, flags);
    print_header("ch02_mqa_gqa", "parameters and KV-cache bytes of MHA/GQA/MQA, then three small models trained identically");
    Summary summary;
    for (const auto& p : attention_presets())
      if (preset == "all" || preset == p.name) sizes(p, std::min(groups, p.heads), bytes, report, summary);
    if (!prompt.empty()) prompt_cache(prompt, groups, bytes, summary);

    std::printf("\nTraining MHA, GQA and MQA models, %lld steps each, same data and seed...\n", (long long)steps);
    CorpusData data = program_corpus(run.quick, run.seed, data_path);
    const std::vector<Variant> vs = {
        {"MHA (8 KV heads)", 8}, {fmt("GQA (%lld KV heads)", (long long)gqa_kv), gqa_kv}, {"MQA (1 KV head)", 1}};
    LineChart curves;
    curves.title = "Validation loss: MHA vs GQA vs MQA (same data, seed and steps)";
    curves.xlabel = "training step";
    curves.ylabel = "validation loss (nats/token)";
    Table t({"model", "params", "best val loss", "perplexity", "KV cache @ 512 tokens", "tokens/s"});
    for (const auto& v : vs) {
      SmallModelConfig mc = small_model_config(data.tokenizer.vocab_size(), run.quick);
      mc.num_kv_heads = v.kv_heads;
      Rng rng(run.seed);
      auto model = make_small_model(mc, rng);
      TrainerConfig tc = program_train_config(steps, run.seed);
      tc.label = v.name.substr(0, 3);
      Trainer trainer(model->named_parameters(), tc, next_token_loss(*model));
      const TrainHistory& h = trainer.run(data.dataset);
      const int64_t cache = mc.num_layers * KVCache::formula_bytes(1, v.kv_heads, mc.hidden_size / mc.num_heads, 512);
      t.row({v.name, fmt("%.3fM", model->num_parameters() / 1e6), fmt("%.3f", h.best_val()), fmt("%.2f", std::exp(h.best_val())),
             memory::human_bytes(static_cast<double>(cache)), fmt("%.0f", h.tokens_per_second())});
      curves.series.push_back({v.name, h.eval_step, h.val.at("loss")});
      summary.set("train." + v.name.substr(0, 3) + ".best_val_loss", h.best_val());
      summary.set("train." + v.name.substr(0, 3) + ".params", static_cast<double>(model->num_parameters()));
    }
    std::printf("\n");
    t.print();
    std::string ends;
    for (const Series& c : curves.series) ends += fmt("%s%s %.3f", ends.empty() ? "" : ", ", c.name.substr(0, 3).c_str(), c.y.back());
    curves.caption = "What fewer KV heads cost in quality: compare where the curves end (" + ends +
                     ") with the cache each saves (the kv_cache plots).";
    report.plot("val_loss.svg", curves);
    report.write(summary);
    std::printf("\nwrote %s/{kv_cache_gpt2-small,kv_cache_deepseek-v3-mha,val_loss}.svg (+ .csv) and summary.json\n", run.out.c_str());
    return 0;
  });
}
