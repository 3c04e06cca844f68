// ch01_model_calculator: a DeepSeek model in numbers, from its config.json alone (nothing is
// built, so the 671B model is as quick as the mini one): parameters by component, total and
// activated per token; the weights in FP32 / BF16 / FP8 and in DeepSeek-V3's released FP8 mix;
// training memory; the KV cache of MHA, GQA, MQA and MLA; training compute in GPU hours.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "ch01/kv_cache_size.hpp"
#include "ch01/training_compute.hpp"
#include "ch01/training_memory.hpp"
#include "ch01/weight_memory.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"

using namespace ds;
using namespace ds::ch01;

namespace {
constexpr const char* kProgram = "ch01_model_calculator";

// DeepSeek-V3's reported training cost (V3 paper, Table 1): H800 GPU hours.
constexpr double kV3PretrainHours = 2664e3, kV3TotalHours = 2788e3, kV3Tokens = 14.8e12;

std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out = n < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}
std::string gb(double bytes) {   // decimal units, as the papers use
  if (bytes >= 1e12) return fmt("%.2f TB", bytes / 1e12);
  if (bytes >= 1e9) return fmt("%.1f GB", bytes / 1e9);
  return bytes >= 1e6 ? fmt("%.2f MB", bytes / 1e6) : fmt("%.1f KB", bytes / 1e3);
}
std::string rounded(int64_t n) { return n >= 1000000000 ? fmt("%.1fB", static_cast<double>(n) / 1e9) : fmt("%.2fM", static_cast<double>(n) / 1e6); }
std::string share(int64_t part, int64_t whole) { return whole ? fmt("%.2f%%", 100.0 * static_cast<double>(part) / static_cast<double>(whole)) : "-"; }
double d(int64_t n) { return static_cast<double>(n); }

// A preset name, a config.json, or a checkpoint folder holding one.
DeepSeekConfig resolve_config(const std::string& what) {
  for (const std::string& name : preset_names())
    if (name == what) return preset(what);
  std::filesystem::path p(what);
  if (std::filesystem::is_directory(p)) p /= "config.json";
  if (!std::filesystem::exists(p))
    throw std::runtime_error("--config '" + what +
                             "' is neither a preset (tiny, mini, deepseek-v3, deepseek-v2, deepseek-v2-lite) nor a config.json or a folder holding one");
  return load_config(p.string());
}

void all_presets(Summary& summary) {
  std::printf("Every preset, counted from its shapes (the main model excludes the MTP module; activated counts the main model):\n");
  Table t({"config", "main model", "MTP module", "total", "activated", "activated w/o embedding"});
  for (const std::string& name : preset_names()) {
    const ParamCount p = count_parameters(preset(name));
    t.row({name, with_commas(p.main()), with_commas(p.mtp), with_commas(p.total), with_commas(p.main_active()), with_commas(p.main_active() - p.embedding)});
    summary.set("presets." + name + ".main", d(p.main()));
    summary.set("presets." + name + ".total", d(p.total));
    summary.set("presets." + name + ".activated", d(p.main_active()));
  }
  t.print();
  std::printf("DeepSeek reports V3 at 671B total and 37B activated, V2 at 236B / 21B, V2-Lite at 15.7B / 2.4B: the activated\n"
              "figures are the counts without the embedding table, of which a token reads one row.\n\n");
}

void parameters(const DeepSeekConfig& c, const PartBreakdown& b, RunReport& report, Summary& summary) {
  std::printf("1. Parameters by component (exact integers; activated = what one token's forward pass reads):\n");
  Table t({"component", "parameters", "share", "activated per token"});
  BarChart chart{"Parameters by component", "", "", {}, {}};
  const bool billions = b.total() >= 1000000000;
  const double unit = billions ? 1e9 : 1e6;
  chart.ylabel = billions ? "billions of parameters (log scale)" : "millions of parameters (log scale)";
  chart.logy = true;
  chart.value_labels = false;   // the table prints them
  chart.caption = "Where the parameters sit: almost all in the routed experts, while a token reads only num_experts_per_tok of them, "
                  "so its activated bar is far shorter; attention, norms, gates and head are the same in both bars.";
  Series all{"all parameters", {}, {}}, active{"activated per token", {}, {}};
  for (const PartCount& pc : b.parts) {
    if (pc.params == 0) continue;
    t.row({part_name(pc.part), with_commas(pc.params), share(pc.params, b.total()), with_commas(pc.activated)});
    chart.categories.push_back(part_name(pc.part));
    all.y.push_back(d(pc.params) / unit);
    active.y.push_back(d(pc.activated) / unit);
    summary.set(std::string("parameters.parts.") + part_name(pc.part) + ".params", d(pc.params));
    summary.set(std::string("parameters.parts.") + part_name(pc.part) + ".activated", d(pc.activated));
  }
  t.row({"main model", with_commas(b.main), share(b.main, b.total()), with_commas(b.main_activated)});
  t.row({"total (main + MTP)", with_commas(b.total()), "100.00%", with_commas(b.total_activated())});
  t.print();
  const int64_t emb = b.of(Part::Embedding).params;
  std::printf("Activated without the embedding table: %s (%s). %lld of %lld layers are MoE, each with %lld routed experts "
              "(%lld per token) and %lld shared.\n\n",
              with_commas(b.main_activated - emb).c_str(), rounded(b.main_activated - emb).c_str(), (long long)c.moe_layers(), (long long)c.num_hidden_layers,
              (long long)c.n_routed_experts, (long long)c.num_experts_per_tok, (long long)c.n_shared_experts);
  summary.set("parameters.main", d(b.main));
  summary.set("parameters.mtp", d(b.mtp));
  summary.set("parameters.total", d(b.total()));
  summary.set("parameters.activated", d(b.main_activated));
  summary.set("parameters.activated_without_embedding", d(b.main_activated - emb));
  chart.series = {all, active};
  report.plot("parameters.svg", chart);
}

void weights(const std::vector<WeightTensor>& inv, const PartBreakdown& b, bool is_v3, Summary& summary) {
  std::printf("2. The weights in memory:\n");
  const LayoutBytes main = layout_bytes(v3_release_layout(main_model_only(inv))), full = layout_bytes(v3_release_layout(inv));
  Table t({"format", "bytes per parameter", "main model", "main + MTP"});
  t.row({"FP32", "4", gb(4 * d(b.main)), gb(4 * d(b.total()))});
  t.row({"BF16", "2", gb(2 * d(b.main)), gb(2 * d(b.total()))});
  t.row({"FP8 (no scales)", "1", gb(d(b.main)), gb(d(b.total()))});
  t.row({"V3's release: FP8 + BF16 + block scales", fmt("%.3f", d(full.total()) / d(b.total())), gb(d(main.total())), gb(d(full.total()))});
  t.print();
  std::printf("The release's mix (main + MTP, as stored, the MTP module's copies of the embedding and head included):\n"
              "  FP8 E4M3 weights %s, their 128x128 block scales (float32) %s, BF16 %s (embedding, head, gates, norms),\n"
              "  float32 %s (routing biases): %s in %s stored numbers.\n",
              gb(d(full.fp8)).c_str(), gb(d(full.scales)).c_str(), gb(d(full.bf16)).c_str(), gb(d(full.f32)).c_str(), gb(d(full.total())).c_str(),
              with_commas(full.elements).c_str());
  if (is_v3) std::printf("  DeepSeek-V3's README: \"The total size of DeepSeek-V3 models on Hugging Face is 685B\" (numbers, not bytes).\n");
  std::printf("\n");
  summary.set("weights.fp32_bytes", 4 * d(b.total()));
  summary.set("weights.bf16_bytes", 2 * d(b.total()));
  summary.set("weights.fp8_bytes", d(b.total()));
  summary.set("weights.v3_mix.main_bytes", d(main.total()));
  summary.set("weights.v3_mix.bytes", d(full.total()));
  summary.set("weights.v3_mix.scale_bytes", d(full.scales));
  summary.set("weights.v3_mix.stored_numbers", d(full.elements));
}

void training(const DeepSeekConfig& c, const PartBreakdown& b, int64_t seq_len, int64_t micro_batch, bool quick, uint64_t seed, Summary& summary) {
  std::printf("3. Training memory (all %s parameters, the MTP module included):\n", with_commas(b.total()).c_str());
  Table t({"recipe", "bytes per parameter", "weights", "gradients", "AdamW moments", "total"});
  for (const OptimizerRecipe& r : optimizer_recipes()) {
    const double n = d(b.total());
    t.row({r.name, std::to_string(r.per_parameter()), gb(n * d(r.weight_bytes)), gb(n * d(r.gradient_bytes)),
           gb(n * d(r.moment_bytes)), gb(n * d(r.per_parameter()))});
    summary.set("training." + r.name + ".bytes", n * d(r.per_parameter()));
  }
  t.print();
  for (const OptimizerRecipe& r : optimizer_recipes()) std::printf("  %s: %s\n", r.name.c_str(), r.source.c_str());
  const ActivationElements all = activation_elements(c, false), rec = activation_elements(c, true);
  const double tokens = d(seq_len) * d(micro_batch);
  std::printf("Activations kept for the backward pass, per token in elements (the formula: training_memory.hpp and the README),\n"
              "at 2 bytes each (BF16), for a micro-batch of %lld x %lld tokens:\n",
              (long long)micro_batch, (long long)seq_len);
  Table a({"where", "all stored", "recomputing RMSNorm and MLA up-projections (V3 3.2.3)"});
  a.row({"one attention layer (MLA)", with_commas(all.attention), with_commas(rec.attention)});
  if (c.first_k_dense_replace > 0) a.row({"one dense FFN", with_commas(all.dense_ffn), with_commas(rec.dense_ffn)});
  if (c.moe_layers() > 0) a.row({"one MoE FFN", with_commas(all.moe_ffn), with_commas(rec.moe_ffn)});
  a.row({"head (norm, logits)", with_commas(all.head), with_commas(rec.head)});
  a.row({"main model, per token", with_commas(all.main), with_commas(rec.main)});
  if (c.num_nextn_predict_layers > 0) a.row({"MTP modules, per token", with_commas(all.mtp), with_commas(rec.mtp)});
  a.row({fmt("micro-batch of %s tokens", with_commas(static_cast<int64_t>(tokens)).c_str()), gb(2 * tokens * d(all.per_token())),
         gb(2 * tokens * d(rec.per_token()))});
  a.print();
  if (b.total() < 50000000) {   // small enough to build: the formula against this repository's own autograd tape
    const int64_t batch = quick ? 2 : 4, seq = std::min<int64_t>(quick ? 32 : 64, c.max_position_embeddings);
    const double measured = measured_activation_bytes_per_token(c, batch, seq, seed), formula = 4 * d(all.per_token());
    std::printf("Measured: this repository's autograd tape holds %.0f bytes per token after a forward pass of a fresh model over\n"
                "%lld x %lld tokens (float32), %.2f x the formula's %.0f: its ops also keep the copies slicing, permuting and concatenating make.\n",
                measured, (long long)batch, (long long)seq, measured / formula, formula);
    summary.set("training.measured_activation_bytes_per_token", measured);
    summary.set("training.measured_over_formula", measured / formula);
  }
  std::printf("Pipeline parallelism splits the layers (and their activations) across GPUs; V3 runs 16 stages.\n\n");
  summary.set("training.activation_elements_per_token", d(all.per_token()));
  summary.set("training.activation_elements_per_token_recomputed", d(rec.per_token()));
  summary.set("training.activation_bytes_micro_batch", 2 * tokens * d(all.per_token()));
}

// --gqa-groups: 0 picks the largest divisor of the head count up to 8 (8 KV groups, as Llama's
// GQA); an explicit count must divide the heads.
int64_t gqa_groups(const DeepSeekConfig& c, int64_t groups) {
  const int64_t heads = c.num_attention_heads;
  if (groups == 0) {
    for (groups = std::min<int64_t>(8, heads); heads % groups; --groups) {
    }
    return groups;
  }
  if (heads % groups != 0)
    throw std::invalid_argument(fmt("--gqa-groups %lld does not divide this config's %lld attention heads; pass a divisor of %lld, or 0 to choose one",
                                    (long long)groups, (long long)heads, (long long)heads));
  return groups;
}

void kv_cache(const DeepSeekConfig& c, int64_t groups, int64_t context, RunReport& report, Summary& summary) {
  const KvPerToken kv = kv_elements_per_token(c, groups);
  const int64_t l = c.num_hidden_layers, dh = c.qk_nope_head_dim;
  std::printf("4. KV cache per token (DeepSeek-V2 Table 1; l = %lld layers, n_h = %lld heads of d_h = %lld, BF16 = 2 bytes):\n", (long long)l,
              (long long)c.num_attention_heads, (long long)dh);
  Table t({"attention", "formula", "elements per token", "bytes per token", fmt("one sequence of %s tokens", with_commas(context).c_str()), "x MLA"});
  struct Kind {
    std::string name, formula;
    int64_t elements;
  };
  const std::vector<Kind> kinds = {
      {"MHA", fmt("2 x %lld x %lld x %lld", (long long)c.num_attention_heads, (long long)dh, (long long)l), kv.mha},
      {fmt("GQA (%lld groups)", (long long)groups), fmt("2 x %lld x %lld x %lld", (long long)groups, (long long)dh, (long long)l), kv.gqa},
      {"MQA", fmt("2 x %lld x %lld", (long long)dh, (long long)l), kv.mqa},
      {"MLA", fmt("(%lld + %lld) x %lld", (long long)c.kv_lora_rank, (long long)c.qk_rope_head_dim, (long long)l), kv.mla}};
  for (const Kind& k : kinds) {
    t.row(
        {k.name, k.formula, with_commas(k.elements), with_commas(2 * k.elements), gb(2 * d(k.elements) * d(context)), fmt("%.1f", d(k.elements) / d(kv.mla))});
    summary.set("kv_cache." + k.name.substr(0, 3) + ".elements_per_token", d(k.elements));
    summary.set("kv_cache." + k.name.substr(0, 3) + ".bytes_at_context", 2 * d(k.elements) * d(context));
  }
  t.print();
  const double groups_equal = d(kv.mla) / d(2 * dh * l);
  std::printf("MLA caches as much as GQA with %.2f groups%s.\n\n", groups_equal,
              groups_equal == 2.25 ? " (V2 section 2.1.4: \"equal to GQA with only 2.25 groups\")" : "");
  summary.set("kv_cache.context", d(context));

  LineChart chart;
  chart.title = "KV cache of one sequence against context length (BF16)";
  chart.xlabel = "context length (tokens, log scale)";
  chart.ylabel = "cache (GB, log scale)";
  chart.logx = chart.logy = true;
  chart.caption = "Each line is elements-per-token x 2 bytes x context: the lines are parallel on log axes and their vertical gaps are "
                  "the ratios in the table; MLA sits between GQA and MQA, far below MHA.";
  std::vector<double> xs;
  for (double x = 128; x < d(context); x *= 2) xs.push_back(x);
  xs.push_back(d(context));
  for (size_t i : {size_t{0}, size_t{1}, size_t{3}, size_t{2}}) {   // top to bottom, as the legend reads
    Series s{kinds[i].name, xs, {}};
    for (double x : xs) s.y.push_back(2 * d(kinds[i].elements) * x / 1e9);
    chart.series.push_back(s);
  }
  report.plot("kv_cache.svg", chart);
}

void compute(const DeepSeekConfig& c, bool is_v3, double tokens, double mfu, double peak_tflops, int64_t seq_len, Summary& summary) {
  const bool mtp = c.num_nextn_predict_layers > 0;
  const double n = d(matmul_parameters(c, mtp)), peak = peak_tflops * 1e12;
  const double flops = 6 * n * tokens, attn = attention_flops_per_token(c, seq_len, mtp) * tokens;
  std::printf("5. Training compute: 6 x N x tokens, N = %s parameters a token's matmuls read (activated, without the embedding table%s)\n",
              with_commas(static_cast<int64_t>(n)).c_str(), mtp ? "; with the MTP module and its second pass through lm_head" : "");
  Table t({"", "FLOPs", fmt("GPU hours at MFU %.0f%% of %.0f TFLOP/s", 100 * mfu, peak_tflops)});
  t.row({fmt("6 N x %.3gT tokens", tokens / 1e12), fmt("%.3e", flops), with_commas(std::llround(gpu_hours(flops, peak, mfu)))});
  t.row({fmt("+ attention scores and values (%lld-token sequences)", (long long)seq_len), fmt("%.3e", flops + attn),
         with_commas(std::llround(gpu_hours(flops + attn, peak, mfu)))});
  t.print();
  summary.set("compute.matmul_parameters", n);
  summary.set("compute.flops", flops);
  summary.set("compute.flops_with_attention", flops + attn);
  summary.set("compute.gpu_hours", gpu_hours(flops, peak, mfu));
  summary.set("compute.mfu", mfu);
  if (is_v3) {
    const double f = 6 * n * kV3Tokens, fa = f + attention_flops_per_token(c, seq_len, mtp) * kV3Tokens;
    std::printf("DeepSeek-V3 reports (paper, Table 1) 2,664K H800 GPU hours of pretraining on 14.8T tokens, 2,788K with context\n"
                "extension (119K) and post-training (5K). On 14.8T tokens at %.0f TFLOP/s per GPU that implies:\n", peak_tflops);
    Table r({"reported hours", "MFU from 6N", "MFU with attention"});
    r.row({"2,664K (pretraining)", fmt("%.1f%%", 100 * implied_mfu(f, kV3PretrainHours, peak)), fmt("%.1f%%", 100 * implied_mfu(fa, kV3PretrainHours, peak))});
    r.row({"2,788K (everything)", fmt("%.1f%%", 100 * implied_mfu(f, kV3TotalHours, peak)), fmt("%.1f%%", 100 * implied_mfu(fa, kV3TotalHours, peak))});
    r.print();
    std::printf("(MFU against the BF16 peak; V3 runs its GEMMs in FP8, whose peak is twice that.)\n");
    summary.set("compute.v3_implied_mfu_pretraining", implied_mfu(f, kV3PretrainHours, peak));
    summary.set("compute.v3_implied_mfu_total", implied_mfu(f, kV3TotalHours, peak));
  }
  std::printf("\n");
}
}  // namespace

int main(int argc, char** argv) {
  return run_main(kProgram, [&] {
    Flags flags(kProgram,
                "A DeepSeek model in numbers from its config.json: parameters by component, weight and training memory, the KV cache of "
                "MHA/GQA/MQA/MLA, training compute. Arithmetic, except for a small config (mini, tiny), whose activations are also measured (--quick: on fewer "
                "tokens).");
    RunOptions run;
    add_run_flags(flags, run, kProgram);
    std::string config = "deepseek-v3";
    int64_t groups = 0, context = 131072, seq_len = 4096, micro_batch = 1;
    double tokens = kV3Tokens, mfu = 0.40, peak_tflops = 989;
    flags.add("--config", config, "deepseek-v3, deepseek-v2, deepseek-v2-lite, mini or tiny, or a config.json (or a checkpoint folder holding one)");
    flags.add("--gqa-groups", groups, "key/value groups of the GQA comparison (must divide the head count; 0 = the largest divisor of it up to 8)").min(0);
    flags.add("--context", context, "context length of the KV-cache figures, in tokens (128K = 131072)").min(1).max(1e9);
    flags.add("--seq-len", seq_len, "tokens per training sequence (activation memory, attention FLOPs; V3 pretrains at 4K)").min(1).max(1e7);
    flags.add("--micro-batch", micro_batch, "sequences per micro-batch for the activation memory").min(1).max(1e6);
    flags.add("--train-tokens", tokens, "training tokens of the compute estimate (V3: 14.8T)").min(1);
    flags.add("--mfu", mfu, "model FLOPs utilisation assumed for the GPU hours (fraction of peak)").min(0.001).max(1);
    flags.add("--peak-tflops", peak_tflops, "one GPU's dense BF16 peak in TFLOP/s (H800 SXM: 989, as H100 SXM)").min(1);
    flags.parse(argc, argv);
    RunReport report = start_run(run, flags);
    print_header(kProgram, "the parameters, memory and compute of a DeepSeek configuration, counted from its shapes; the real V3, V2 and V2-Lite "
                           "configurations are built in");
    const DeepSeekConfig c = resolve_config(config);
    groups = gqa_groups(c, groups);
    const std::vector<WeightTensor> inv = weight_inventory(c);
    const PartBreakdown b = count_by_part(c);
    const ParamCount pc = count_parameters(c);
    if (b.total() != pc.total || b.main_activated != pc.main_active())
      throw std::logic_error("the inventory's count disagrees with count_parameters()");   // the tests prove it does not
    const bool is_v3 = pc.total == count_parameters(preset("deepseek-v3")).total;
    Summary summary;
    summary.set("config", config);
    all_presets(summary);
    std::printf("== %s ==\n", config.c_str());
    parameters(c, b, report, summary);
    weights(inv, b, is_v3, summary);
    training(c, b, seq_len, micro_batch, run.quick, run.seed, summary);
    kv_cache(c, groups, context, report, summary);
    compute(c, is_v3, tokens, mfu, peak_tflops, seq_len, summary);
    report.write(summary);
    std::printf("wrote %s/parameters.svg, %s/kv_cache.svg (+ .csv), summary.json and index.html\n", run.out.c_str(), run.out.c_str());
    return 0;
  });
}
