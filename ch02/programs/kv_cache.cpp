// ch02_kv_cache: generate N tokens with and without the KV cache (book listings 2.1 and 2.2).
// Without the cache, every new token re-runs the model over the whole sequence; with it, only
// the new token goes through the model and attends to the stored keys and values. Both must
// give the same tokens; the cache turns the per-token cost from growing with the position into
// nearly flat, at the price of memory that grows with every token.
#include <cmath>
#include <cstdio>

#include "ch02/generate.hpp"
#include "ch02/gpt2.hpp"
#include "ch02/small_model.hpp"
#include "ch02/next_token_loss.hpp"
#include "ch02/sampling_flags.hpp"
#include "common/dataset.hpp"
#include "common/flags.hpp"
#include "common/memory.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"

using namespace ds;
using namespace ds::ch02;

namespace {
struct Loaded {
  std::unique_ptr<LanguageModel> model;
  Tokenizer tokenizer;
  std::string what;
};

Loaded train_small_model(const RunOptions& run, int64_t steps, const std::string& data_path) {
  std::printf("Training a small model first (%lld steps; --gpt2 DIR uses GPT-2 instead)...\n", static_cast<long long>(steps));
  CorpusData data = program_corpus(run.quick, run.seed, data_path);
  const SmallModelConfig mc = small_model_config(data.tokenizer.vocab_size(), run.quick);
  Rng rng(run.seed);
  auto model = make_small_model(mc, rng);
  Trainer trainer(model->named_parameters(), program_train_config(steps, run.seed, 1), next_token_loss(*model));
  const TrainHistory& h = trainer.run(data.dataset);
  std::printf("validation loss %.3f after %lld steps (%.1f s)\n\n", h.final_val(), static_cast<long long>(steps), h.seconds);
  const std::string what = fmt("small GPT-style model (%lld layers, %lld heads, hidden %lld, %.2fM parameters)", (long long)mc.num_layers,
                               (long long)mc.num_heads, (long long)mc.hidden_size, static_cast<double>(model->num_parameters()) / 1e6);
  return {std::move(model), std::move(data.tokenizer), what};
}

double total(const std::vector<double>& xs) {
  double t = 0;
  for (double x : xs) t += x;
  return t;
}

// The table of both runs, the per-token time and cache-size plots, summary.json.
void report_generation(RunReport& report, const Generation& without, const Generation& with, size_t prompt_tokens) {
  const double t_without = total(without.step_seconds), t_with = total(with.step_seconds);
  const bool same = without.tokens == with.tokens;
  Table t({"", "without cache", "with cache"});
  t.row({"tokens generated", std::to_string(without.tokens[0].size()), std::to_string(with.tokens[0].size())});
  t.row({"total time", fmt("%.3f s", t_without), fmt("%.3f s", t_with)});
  t.row({"time per token", fmt("%.2f ms", 1e3 * t_without / static_cast<double>(without.step_seconds.size())),
         fmt("%.2f ms", 1e3 * t_with / static_cast<double>(with.step_seconds.size()))});
  t.row({"KV cache at the end", "-", memory::human_bytes(static_cast<double>(with.cache_bytes_used.back()))});
  t.print();
  std::printf("\nsame tokens: %s;  speedup with the cache: %.1fx  (the book measured 9.0x for 100 GPT-2 tokens in Python)\n",
              same ? "yes" : "NO", t_without / t_with);

  std::vector<double> pos, ms_without, ms_with, cache_kb;
  for (size_t i = 0; i < with.step_seconds.size(); ++i) {
    pos.push_back(static_cast<double>(prompt_tokens + i + 1));
    ms_with.push_back(1e3 * with.step_seconds[i]);
    ms_without.push_back(i < without.step_seconds.size() ? 1e3 * without.step_seconds[i] : 0.0);
    cache_kb.push_back(static_cast<double>(with.cache_bytes_used[i]) / 1e3);
  }
  LineChart time_chart;
  time_chart.title = "Time to generate each token";
  time_chart.xlabel = "sequence length after the token";
  time_chart.ylabel = "milliseconds per token";
  time_chart.series = {{"without KV cache", pos, ms_without}, {"with KV cache", pos, ms_with}};
  time_chart.caption = fmt("Without the cache each new token re-runs the model over the whole sequence, so its cost grows with the "
                           "length; with the cache only the new token goes through: %.1fx faster in total over these %zu tokens, with "
                           "the same tokens out.",
                           t_without / t_with, with.step_seconds.size());
  report.plot("time_per_token.svg", time_chart);
  LineChart mem_chart;
  mem_chart.title = "KV cache memory grows with every token";
  mem_chart.xlabel = "sequence length";
  mem_chart.ylabel = "KV cache (kB, float32)";
  mem_chart.series = {{"KV cache bytes in use", pos, cache_kb}};
  mem_chart.caption = fmt("A straight line: every token adds the same keys and values to every layer (%.2f kB per token here), so a "
                          "long context costs memory in proportion; the chapters that follow shrink that slope.",
                          (cache_kb.back() - cache_kb.front()) / std::max(1.0, pos.back() - pos.front()));
  report.plot("cache_bytes.svg", mem_chart);

  Summary s;
  s.set("same_tokens", same ? 1.0 : 0.0);
  s.set("tokens", static_cast<double>(with.tokens[0].size()));
  s.set("seconds_without_cache", t_without);
  s.set("seconds_with_cache", t_with);
  s.set("speedup", t_without / t_with);
  s.set("cache_bytes_end", static_cast<double>(with.cache_bytes_used.back()));
  report.write(s);
  std::printf("wrote %s/time_per_token.svg, %s/cache_bytes.svg (+ .csv) and summary.json\n", report.dir().c_str(), report.dir().c_str());
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("ch02_kv_cache", [&] {
    Flags flags("ch02_kv_cache",
                "Generate tokens with and without the KV cache: same tokens, very different cost (book listings 2.1, 2.2).");
    RunOptions run;
    add_run_flags(flags, run, "ch02_kv_cache");
    std::string gpt2_dir, prompt = "Once upon a time", data_path;
    int64_t train_steps = 300;
    SamplingConfig sc;   // greedy, the book's setting
    sc.max_new_tokens = 200;
    flags.add("--gpt2", gpt2_dir, "folder with a Hugging Face GPT-2 checkpoint (config.json, model.safetensors, vocab.json, merges.txt)");
    flags.add("--prompt", prompt, "text to continue (the book's GPT-2 listing 2.1 uses \"The next day is bright\")");
    add_sampling_flags(flags, sc).min(1).max(4000).quick(40);
    flags.add("--train-steps", train_steps, "training steps of the built-in small model").min(0).quick(20);
    flags.add("--data", data_path,
              "train on this UTF-8 text file instead of the built-in corpus (documents split on blank lines or <|endoftext|>)");
    flags.parse(argc, argv);
    RunReport report = start_run(run, flags);
    print_header("ch02_kv_cache", "greedy generation with and without the KV cache: identical tokens, per-token time, cache memory");

    Loaded m;
    if (!gpt2_dir.empty()) {
      GPT2 g = load_gpt2(gpt2_dir);
      m = {std::move(g.model), std::move(g.tokenizer), "GPT-2 from " + gpt2_dir};
    } else {
      m = train_small_model(run, train_steps, data_path);
    }
    const std::vector<int32_t> ids = m.tokenizer.encode(prompt);
    if (ids.empty()) fail("ch02_kv_cache", "the prompt encodes to no tokens");
    if (static_cast<int64_t>(ids.size()) + sc.max_new_tokens > m.model->max_positions())
      fail("ch02_kv_cache", fmt("prompt + --tokens = %lld exceeds the model's %lld positions", (long long)(ids.size() + sc.max_new_tokens),
                                (long long)m.model->max_positions()));
    sc.seed = run.seed;   // the same draws for both, so sampling can be compared too
    const Generation without = generate(*m.model, {ids}, sc, false);
    const Generation with = generate(*m.model, {ids}, sc, true);
    std::printf("model: %s\nprompt: \"%s\" (%zu tokens)\n\n", m.what.c_str(), prompt.c_str(), ids.size());
    std::printf("generated (with cache): %s\n\n", m.tokenizer.decode(with.tokens[0]).c_str());
    report_generation(report, without, with, ids.size());
    return without.tokens == with.tokens ? 0 : 1;
  });
}
