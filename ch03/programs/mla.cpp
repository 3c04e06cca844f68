// ch03_mla: Multi-Head Latent Attention, measured. (1) The absorbed decoding path gives the same
// outputs as the naive one. (2) What each attention kind caches per token (DeepSeek-V2 Table 1)
// for the real DeepSeek configs, and MLA's "GQA with 2.25 groups" equivalence. (3) The cache in
// GB against context length for DeepSeek-V3. (4) Decode time per token, naive vs absorbed.
#include <cmath>
#include <cstdio>

#include "ch03/mla_model.hpp"
#include "common/autograd.hpp"
#include "common/flags.hpp"
#include "common/memory.hpp"
#include "common/plot.hpp"
#include "common/rng.hpp"
#include "common/run.hpp"
#include "common/timer.hpp"
#include "common/tokenizer_files.hpp"

using namespace ds;
using namespace ds::ch03;

namespace {
ch02::LMConfig mini_lm(int64_t max_len, bool quick) {
  ch02::LMConfig lm;
  lm.vocab_size = 1024;
  lm.hidden_size = 256;
  lm.num_layers = quick ? 1 : 2;
  lm.max_position_embeddings = max_len;
  return lm;
}

std::vector<int32_t> random_ids(int64_t n, Rng& rng) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& t : ids) t = static_cast<int32_t>(rng.randint(1024));
  return ids;
}

// Decodes `ids` one token at a time with a cache and returns the logits of every step [n, V].
std::vector<float> decode_logits(ch02::TransformerLM& m, const std::vector<int32_t>& ids) {
  ch02::Caches caches = m.make_caches(1, static_cast<int64_t>(ids.size()));
  std::vector<float> out;
  for (int32_t t : ids) {
    const Tensor l = m.forward(IntTensor({t}, {1, 1}), &caches);
    out.insert(out.end(), l.data(), l.data() + l.numel());
  }
  return out;
}

// DeepSeek-V3's cached numbers per token and layer for each attention kind (V2 Table 1).
std::vector<std::pair<std::string, int64_t>> v3_cache_kinds() {
  const MLAConfig v3 = mla_presets()[0].mla;
  const int64_t dh = v3.qk_nope_head_dim, heads = v3.num_heads;
  return {{fmt("MHA (%lld heads)", (long long)heads), 2 * heads * dh},
          {"GQA (8 groups)", 2 * 8 * dh},
          {fmt("MLA (%lld + %lld)", (long long)v3.kv_lora_rank, (long long)v3.qk_rope_head_dim), mla_cache_elements_per_token(v3)},
          {"MQA", 2 * dh}};
}

// The cache DeepSeek-V3 keeps for a real prompt, counted in its real tokens, in BF16.
void prompt_cache(const std::string& prompt, Summary& summary) {
  const int64_t n = deepseek_v3_token_count(prompt), layers = mla_presets()[0].layers;
  std::printf("The prompt (%zu bytes) is %lld tokens for DeepSeek-V3's tokenizer (BOS included); V3's cache for it in BF16:\n", prompt.size(), (long long)n);
  Table t({"attention", "numbers per token and layer", "cache for the prompt"});
  for (const auto& [name, per_layer] : v3_cache_kinds())
    t.row({name, std::to_string(per_layer), memory::human_bytes(static_cast<double>(n * per_layer * layers * 2))});
  t.print();
  std::printf("\n");
  summary.set("prompt.v3_tokens", static_cast<double>(n));
}

void cache_table(RunReport& report, Summary& summary) {
  std::printf("Cached numbers per token per layer (DeepSeek-V2 Table 1: MHA 2 n_h d_h, GQA 2 n_g d_h, MQA 2 d_h, MLA d_c + d_h^R):\n");
  Table t({"model", "layers", "MHA", "GQA (8 groups)", "MQA", "MLA", "MLA = GQA with", "naive MLA", "MHA / MLA", "naive / MLA"});
  for (const auto& p : mla_presets()) {
    const MLAConfig& c = p.mla;
    const int64_t dh = c.qk_nope_head_dim, mha = 2 * c.num_heads * dh, mla = mla_cache_elements_per_token(c);
    const int64_t naive = c.num_heads * (c.qk_head_dim() + c.v_head_dim);   // per-head K (nope + rope) and V, the naive path's cache
    t.row({p.name, std::to_string(p.layers), std::to_string(mha), std::to_string(2 * std::min<int64_t>(8, c.num_heads) * dh),
           std::to_string(2 * dh), std::to_string(mla), fmt("%.2f groups", static_cast<double>(mla) / (2.0 * dh)), std::to_string(naive),
           fmt("%.1fx", static_cast<double>(mha) / mla), fmt("%.1fx", static_cast<double>(naive) / mla)});
    summary.set("cache_elements_per_token." + p.name + ".mla", static_cast<double>(mla * p.layers));
    summary.set("cache_elements_per_token." + p.name + ".mha", static_cast<double>(mha * p.layers));
    summary.set("cache_elements_per_token." + p.name + ".naive_mla", static_cast<double>(naive * p.layers));
  }
  t.print();
  const NamedMLA v3 = mla_presets()[0];
  const auto kinds = v3_cache_kinds();
  LineChart chart;
  chart.title = "KV cache of one sequence, DeepSeek-V3 shape, BF16";
  chart.xlabel = "context length (tokens)";
  chart.ylabel = "cache (GB)";
  chart.logx = chart.logy = true;
  for (const auto& [name, per_layer] : kinds) {
    Series s{name, {}, {}};
    for (double ctx = 1024; ctx <= 131072; ctx *= 2) {
      s.x.push_back(ctx);
      s.y.push_back(ctx * static_cast<double>(per_layer * v3.layers) * 2 / 1e9);
    }
    chart.series.push_back(s);
  }
  chart.caption = fmt("MLA's line runs just above MQA's and far below MHA's: caching one %lld-number latent plus a shared %lld-number RoPE "
                      "key per token and layer, V3 needs %.1f GB at 128K tokens where MHA would need %.0f GB.",
                      (long long)v3.mla.kv_lora_rank, (long long)v3.mla.qk_rope_head_dim, chart.series[2].y.back(), chart.series[0].y.back());
  report.plot("kv_cache_v3.svg", chart);
  std::printf("At 128K tokens in BF16: MHA %.0f GB, MLA %.1f GB per sequence.\n\n", chart.series[0].y.back(), chart.series[2].y.back());
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("ch03_mla", [&] {
    Flags flags("ch03_mla", "Multi-Head Latent Attention: naive vs absorbed decoding, cache sizes, decode speed.");
    RunOptions run;
    add_run_flags(flags, run, "ch03_mla");
    int64_t tokens = 64, max_context = 2048;
    flags.add("--tokens", tokens, "tokens decoded to compare the two paths").min(2).max(1024).quick(16);
    flags.add("--max-context", max_context, "longest context of the decode-time measurement").min(64).max(16384).quick(256);
    std::string prompt;
    flags.add("--prompt", prompt, "also size V3's cache for this text, counted in DeepSeek-V3's real tokens (scripts/fetch-tokenizers.sh)");
    flags.parse(argc, argv);
    RunReport report = start_run(run, flags);
    print_header("ch03_mla", "MLA's two decoding paths give the same numbers; its cache is a fraction of MHA's");
    Summary summary;
    NoGradGuard ng;
    Rng rng(run.seed);

    // (1) naive vs absorbed on the same tokens, a random mini-shaped model
    const MLAConfig mini = mla_presets()[3].mla;
    auto model = make_mla_model(mini_lm(max_context + 16, run.quick), mini, 512, rng);
    const std::vector<int32_t> ids = random_ids(tokens, rng);
    const std::vector<float> naive = decode_logits(*model, ids);
    set_mla_mode(*model, MLAMode::Absorbed);
    const std::vector<float> absorbed = decode_logits(*model, ids);
    double worst = 0;
    for (size_t i = 0; i < naive.size(); ++i) worst = std::max(worst, static_cast<double>(std::abs(naive[i] - absorbed[i])));
    std::printf("Decoded %lld tokens with both paths (mini MLA shape): largest logit difference %.2e\n\n", (long long)tokens, worst);
    summary.set("naive_vs_absorbed_max_abs_diff", worst);

    // (2) and (3) cache sizes
    cache_table(report, summary);
    if (!prompt.empty()) prompt_cache(prompt, summary);

    // (4) decode time per token against context length
    LineChart speed;
    speed.title = "Decode time per token, mini MLA shape (2 layers)";
    speed.xlabel = "context length (tokens)";
    speed.ylabel = "ms per token";
    speed.logx = true;
    Table st({"context", "naive ms/token", "absorbed ms/token", "naive cache", "absorbed cache"});
    std::vector<int64_t> naive_bytes;
    int64_t last_absorbed_bytes = 0;
    for (MLAMode mode : {MLAMode::Naive, MLAMode::Absorbed}) {
      set_mla_mode(*model, mode);
      Series s{mode == MLAMode::Naive ? "naive (per-head K, V cached)" : "absorbed (latent cached)", {}, {}};
      for (int64_t ctx = 64; ctx <= max_context; ctx *= 2) {
        ch02::Caches caches = model->make_caches(1, ctx + 8);
        model->forward(IntTensor(random_ids(ctx, rng), {1, ctx}), &caches);  // prefill
        Timer t;
        for (int i = 0; i < 8; ++i) model->forward(IntTensor({1}, {1, 1}), &caches);
        s.x.push_back(static_cast<double>(ctx));
        s.y.push_back(t.ms() / 8);
        const int64_t bytes = ch02::cache_bytes_used(caches);
        if (mode == MLAMode::Naive) naive_bytes.push_back(bytes);
        if (mode == MLAMode::Absorbed) {
          last_absorbed_bytes = bytes;
          const size_t k = s.x.size() - 1;
          st.row({std::to_string(ctx), fmt("%.3f", speed.series[0].y[k]), fmt("%.3f", s.y[k]),
                  memory::human_bytes(static_cast<double>(naive_bytes[k])), memory::human_bytes(static_cast<double>(bytes))});
        }
      }
      speed.series.push_back(s);
    }
    st.print();
    const double naive_ms = speed.series[0].y.back(), absorbed_ms = speed.series[1].y.back();
    speed.caption = fmt("Both paths give the same logits; what differs is the work per token as the context grows. At %.0f tokens the absorbed "
                        "path (attending in the latent space) takes %.3f ms against the naive path's %.3f ms (naive / absorbed = %.2f), "
                        "with a cache %.1fx smaller.",
                        speed.series[1].x.back(), absorbed_ms, naive_ms, naive_ms / absorbed_ms,
                        static_cast<double>(naive_bytes.back()) / static_cast<double>(std::max<int64_t>(1, last_absorbed_bytes)));
    report.plot("decode_time.svg", speed);
    report.write(summary);
    std::printf("\nwrote %s/{kv_cache_v3,decode_time}.svg (+ .csv) and summary.json\n", run.out.c_str());
    return worst < 1e-3 ? 0 : 1;
  });
}
