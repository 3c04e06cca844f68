// ch03_attention_compare: MHA, GQA, MQA and MLA models with the same parameter budget, trained
// on the same data with the same seed and steps (the shape of the book's Tables 3.1 and 3.2):
// how much quality each keeps for the cache it needs.
#include <cmath>
#include <cstdio>

#include "ch02/kv_cache.hpp"
#include "ch02/next_token_loss.hpp"
#include "ch02/small_model.hpp"
#include "ch03/mla_model.hpp"
#include "common/flags.hpp"
#include "common/memory.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"

using namespace ds;
using namespace ds::ch03;

namespace {
struct Entry {
  std::string name;
  std::unique_ptr<ch02::TransformerLM> model;
  int64_t cache_per_token;  // floats per token, all layers
};

// MLA sized to the MHA model's attention parameters: 8 heads, no query compression, latent 64,
// per-head 16 + 8 (RoPE) query/key dims and 16 value dims.
Entry make_mla(const ch02::SmallModelConfig& sc, Rng& rng) {
  ch02::LMConfig lm;
  lm.vocab_size = sc.vocab_size;
  lm.hidden_size = sc.hidden_size;
  lm.num_layers = sc.num_layers;
  lm.max_position_embeddings = sc.max_position_embeddings;
  MLAConfig m;
  m.hidden_size = sc.hidden_size;
  m.num_heads = sc.num_heads;
  m.q_lora_rank = 0;
  m.kv_lora_rank = sc.hidden_size / 2;
  m.qk_nope_head_dim = sc.hidden_size / sc.num_heads;
  m.qk_rope_head_dim = m.qk_nope_head_dim / 2;
  m.v_head_dim = m.qk_nope_head_dim;
  return {fmt("MLA (latent %lld + RoPE %lld)", (long long)m.kv_lora_rank, (long long)m.qk_rope_head_dim),
          make_mla_model(lm, m, sc.intermediate_size, rng, MLAMode::Absorbed), sc.num_layers * mla_cache_elements_per_token(m)};
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("ch03_attention_compare", [&] {
    Flags flags("ch03_attention_compare", "MHA, GQA, MQA and MLA of matched size trained identically: loss against KV cache.");
    RunOptions run;
    add_run_flags(flags, run, "ch03_attention_compare");
    int64_t steps = 120;
    std::string data_path;
    flags.add("--steps", steps, "training steps of each model").min(1).quick(10);
    flags.add("--data", data_path, "train on this UTF-8 text file instead of the built-in corpus");
    flags.parse(argc, argv);
    RunReport report = start_run(run, flags);
    print_header("ch03_attention_compare", "four attention kinds, same parameter budget, data, seed and steps");
    CorpusData data = program_corpus(run.quick, run.seed, data_path);
    const ch02::SmallModelConfig base = ch02::small_model_config(data.tokenizer.vocab_size(), run.quick);
    const int64_t head_dim = base.hidden_size / base.num_heads;

    std::vector<Entry> entries;
    for (auto [name, kv] :
         std::vector<std::pair<std::string, int64_t>>{{"MHA (8 KV heads)", 8}, {"GQA (2 KV heads)", 2}, {"MQA (1 KV head)", 1}}) {
      ch02::SmallModelConfig sc = base;
      sc.num_kv_heads = kv;
      Rng rng(run.seed);
      entries.push_back({name, ch02::make_small_model(sc, rng), base.num_layers * 2 * kv * head_dim});
    }
    Rng rng(run.seed);
    entries.push_back(make_mla(base, rng));

    LineChart curves;
    curves.title = "Validation loss: MHA, GQA, MQA, MLA (same budget, data, seed, steps)";
    curves.xlabel = "training step";
    curves.ylabel = "validation loss (nats/token)";
    Table t({"attention", "params", "best val loss", "perplexity", "KV cache / token", "KV cache @ 512 tokens", "tokens/s"});
    Summary summary;
    for (auto& e : entries) {
      TrainerConfig tc = program_train_config(steps, run.seed);
      tc.label = e.name.substr(0, 3);
      Trainer trainer(e.model->named_parameters(), tc, ch02::next_token_loss(*e.model));
      const TrainHistory& h = trainer.run(data.dataset);
      const double bytes = 4.0 * static_cast<double>(e.cache_per_token);
      t.row({e.name, fmt("%.3fM", e.model->num_parameters() / 1e6), fmt("%.3f", h.best_val()), fmt("%.2f", std::exp(h.best_val())),
             memory::human_bytes(bytes), memory::human_bytes(512 * bytes), fmt("%.0f", h.tokens_per_second())});
      curves.series.push_back({e.name, h.eval_step, h.val.at("loss")});
      summary.set("models." + e.name.substr(0, 3) + ".best_val_loss", h.best_val());
      summary.set("models." + e.name.substr(0, 3) + ".cache_floats_per_token", static_cast<double>(e.cache_per_token));
      summary.set("models." + e.name.substr(0, 3) + ".params", static_cast<double>(e.model->num_parameters()));
    }
    std::printf("\n");
    t.print();
    std::string ends;
    for (size_t i = 0; i < entries.size(); ++i)
      ends += fmt("%s%s %.3f with %lld cached floats per token", i ? ", " : "", entries[i].name.substr(0, 3).c_str(),
                  curves.series[i].y.back(), (long long)entries[i].cache_per_token);
    curves.caption = "Quality against cache: where each curve ends (" + ends +
                     "); the question is whether MLA keeps MHA's quality with a cache nearer MQA's.";
    report.plot("val_loss.svg", curves);
    report.write(summary);
    std::printf("\nwrote %s/val_loss.svg (+ .csv) and summary.json\n", run.out.c_str());
    return 0;
  });
}
