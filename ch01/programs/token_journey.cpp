// ch01_token_journey: one prompt through the mini-DeepSeek, stage by stage: its bytes, its BPE
// tokens, their embedding rows, every layer (MLA's latent and what it caches, the router's
// choice of experts), the logits and the top-5 next tokens, the MTP module's draft of the token
// after next, and the cache each layer keeps per token. The model is ch06_pretrain's checkpoint
// when there is one, otherwise a freshly initialised one (and the program says so).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "ch01/token_journey.hpp"
#include "ch01/tokenizer_tour.hpp"
#include "ch06/checkpoint.hpp"
#include "common/dataset.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"
#include "common/tokenizer_files.hpp"
#include "common/utf8.hpp"

using namespace ds;
using namespace ds::ch01;

namespace {
constexpr const char* kProgram = "ch01_token_journey";
constexpr const char* kDefaultCheckpoint = "runs/ch06_pretrain/checkpoint";

std::string first_values(const float* p, int64_t n, int64_t show = 4) {
  std::string s;
  for (int64_t i = 0; i < std::min(n, show); ++i) s += fmt("%s%+.3f", i ? " " : "", p[i]);
  return s + (n > show ? " ..." : "");
}

std::vector<float> last_row_of(const Tensor& x) {   // x [..., C]
  const int64_t c = x.size(-1);
  return {x.data() + (x.numel() - c), x.data() + x.numel()};
}

double norm_of(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return std::sqrt(s);
}

struct Model {
  ch06::LoadedModel loaded;
  std::string source;
  bool fresh = false;
};

// The checkpoint (given, or ch06_pretrain's default when it exists), or a fresh model with a BPE
// tokenizer trained on the embedded corpus.
Model load(const std::string& checkpoint, bool fresh, bool quick, uint64_t seed) {
  Model m;
  const std::string dir = checkpoint.empty() ? kDefaultCheckpoint : checkpoint;
  if (!fresh && (!checkpoint.empty() || std::filesystem::exists(dir + "/config.json"))) {
    m.loaded = ch06::load_model(dir);
    if (!m.loaded.has_tokenizer) throw std::runtime_error(dir + " has no tokenizer.json, so the prompt cannot be tokenised");
    m.source = dir;
    return m;
  }
  m.fresh = true;
  const std::string name = quick ? "tiny" : "mini";
  m.source = "a fresh, randomly initialised " + name + " model (seed " + std::to_string(seed) + ")";
  m.loaded.tokenizer = Tokenizer::train(load_or_generate_documents("", quick ? 60000 : 300000, seed), quick ? 512 : 1024);
  m.loaded.has_tokenizer = true;
  DeepSeekConfig cfg = preset(name);
  cfg.vocab_size = m.loaded.tokenizer.vocab_size();
  Rng rng(seed);
  m.loaded.model = std::make_unique<ch06::DeepSeekModel>(cfg, rng);
  return m;
}

void bytes_and_tokens(const std::string& prompt, const std::vector<int32_t>& ids, const Tokenizer& tok) {
  std::printf("Stage 1. Bytes: the prompt %s is %zu bytes of UTF-8:\n  ", shown(prompt).c_str(), prompt.size());
  for (size_t i = 0; i < prompt.size(); ++i) std::printf("%02x%s", static_cast<unsigned char>(prompt[i]), i + 1 < prompt.size() ? " " : "\n\n");
  std::printf("Stage 2. BPE tokens: the byte-level BPE (%d-token vocabulary) merges them into %zu tokens:\n", tok.vocab_size(), ids.size());
  Table t({"position", "id", "vocabulary spelling", "bytes", "text"});
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string b = tok.token_bytes(ids[i]);
    std::string hex;
    for (char ch : b) hex += fmt("%s%02x", hex.empty() ? "" : " ", static_cast<unsigned char>(ch));
    t.row({std::to_string(i), std::to_string(ids[i]), tok.token_str(ids[i]), "[" + hex + "]", shown(b)});
  }
  t.print();
  std::printf("\n");
}

void embedding(const Journey& j, const Tokenizer& tok) {
  const int64_t c = j.embeddings.size(-1);
  std::printf("Stage 3. Embedding: each id picks one row of model.embed_tokens, %lld numbers:\n", (long long)c);
  Table t({"position", "token", "norm", "first values"});
  for (size_t i = 0; i < j.ids.size(); ++i) {
    const float* row = j.embeddings.data() + static_cast<int64_t>(i) * c;
    t.row({std::to_string(i), shown(tok.token_bytes(j.ids[i])), fmt("%.4f", norm_of({row, row + c})), first_values(row, c)});
  }
  t.print();
  std::printf("\n");
}

std::string layer_name(const LayerStop& s) { return s.mtp ? fmt("MTP (%lld)", (long long)s.layer) : std::to_string(s.layer); }

void layers(const Journey& j, const DeepSeekConfig& c) {
  std::printf("Stage 4. The layers, seen from the last token's residual stream x (x += MLA(norm(x)); x += FFN(norm(x))):\n"
              "MLA compresses each token's keys and values into a latent c_KV of %lld numbers plus a RoPE key of %lld shared by\n"
              "the %lld heads; the cache keeps only those %lld per token (per-head K and V would be %lld).\n",
              (long long)c.kv_lora_rank, (long long)c.qk_rope_head_dim, (long long)c.num_attention_heads, (long long)(c.kv_lora_rank + c.qk_rope_head_dim),
              (long long)(c.num_attention_heads * (c.qk_nope_head_dim + c.qk_rope_head_dim + c.v_head_dim)));
  Table t({"layer", "FFN", "|x| in", "|MLA out|", "|FFN out|", "|x| out", "|c_KV|", "c_KV first values"});
  std::vector<const LayerStop*> all;
  for (const LayerStop& s : j.layers) all.push_back(&s);
  if (j.has_mtp) all.push_back(&j.mtp_block);
  for (const LayerStop* s : all)
    t.row({layer_name(*s),
           s->moe ? fmt("MoE (%lld of %lld + %lld shared)", (long long)c.num_experts_per_tok, (long long)c.n_routed_experts, (long long)c.n_shared_experts)
                  : "dense SwiGLU",
           fmt("%.3f", s->input_norm), fmt("%.3f", s->attention_norm), fmt("%.3f", s->ffn_norm), fmt("%.3f", s->output_norm), fmt("%.3f", norm_of(s->c_kv)),
           first_values(s->c_kv.data(), static_cast<int64_t>(s->c_kv.size()))});
  t.print();
  if (j.has_mtp) std::printf("(The MTP row reads the main model's final hidden state and the embedding of the next token; stage 7.)\n");
  std::printf("\n");
}

void router(const Journey& j, const DeepSeekConfig& c, const std::string& last) {
  std::printf("Stage 5. The router of each MoE layer for the last token %s: %s scores s per expert; the top %lld of %s are chosen%s;\n"
              "their weights g are the chosen s%s%s. The shared expert%s every token.\n",
              last.c_str(), c.scoring_func.c_str(), (long long)c.num_experts_per_tok, c.topk_method == "noaux_tc" ? "s + b (b: the balancing bias)" : "s",
              c.n_group > 1 ? fmt(" among the best %lld of %lld groups", (long long)c.topk_group, (long long)c.n_group).c_str() : "",
              c.norm_topk_prob ? " normalised to sum 1" : "", c.routed_scaling_factor != 1.0 ? fmt(", times %.2f", c.routed_scaling_factor).c_str() : "",
              c.n_shared_experts == 1 ? " takes" : "s take");
  Table t({"layer", "expert", "score s", "bias b", "s + b", "chosen", "weight g"});
  std::vector<const LayerStop*> all;
  for (const LayerStop& s : j.layers) all.push_back(&s);
  if (j.has_mtp) all.push_back(&j.mtp_block);
  for (const LayerStop* s : all) {
    if (!s->moe) continue;
    const RouterStop& r = s->router;
    const auto key = [&](size_t e) { return r.scores[e] + (r.bias.empty() ? 0.f : r.bias[e]); };
    std::vector<size_t> order(r.scores.size());
    for (size_t e = 0; e < order.size(); ++e) order[e] = e;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) > key(b); });
    // The chosen experts in the gate's order, then the two best that were not chosen.
    std::vector<std::pair<size_t, int>> rows;   // expert, index among the chosen (-1: not chosen)
    for (size_t i = 0; i < r.experts.size(); ++i) rows.push_back({static_cast<size_t>(r.experts[i]), static_cast<int>(i)});
    int runners = 0;
    for (size_t e : order) {
      if (runners == 2) break;
      if (std::find(r.experts.begin(), r.experts.end(), static_cast<int32_t>(e)) == r.experts.end()) {
        rows.push_back({e, -1});
        ++runners;
      }
    }
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto [e, k] = rows[i];
      t.row({i == 0 ? layer_name(*s) : "", std::to_string(e), fmt("%.4f", r.scores[e]), r.bias.empty() ? "-" : fmt("%+.4f", r.bias[e]), fmt("%.4f", key(e)),
             k >= 0 ? "yes" : "no", k >= 0 ? fmt("%.4f", r.weights[static_cast<size_t>(k)]) : ""});
    }
  }
  t.print();
  std::printf("\n");
}

void head(const Journey& j, const Tokenizer& tok) {
  const int64_t t = static_cast<int64_t>(j.ids.size()), v = j.logits.size(-1);
  const float* last = j.logits.data() + (t - 1) * v;
  double mx = last[0], mn = last[0], mean = 0;
  for (int64_t i = 0; i < v; ++i) {
    mx = std::max<double>(mx, last[i]);
    mn = std::min<double>(mn, last[i]);
    mean += last[i];
  }
  std::printf("Stage 6. model.norm and lm_head turn the last hidden state into %lld logits (min %.3f, mean %.3f, max %.3f);\n"
              "softmax makes them probabilities. The top %zu next tokens:\n",
              (long long)v, mn, mean / static_cast<double>(v), mx, j.top_ids.size());
  Table tab({"rank", "id", "token", "logit", "probability"});
  for (size_t i = 0; i < j.top_ids.size(); ++i)
    tab.row({std::to_string(i + 1), std::to_string(j.top_ids[i]), shown(tok.token_bytes(j.top_ids[i])), fmt("%.4f", last[j.top_ids[i]]),
             fmt("%.4f", j.top_probs[i])});
  tab.print();
  std::printf("\n");
}

void mtp(const Journey& j, const Tokenizer& tok) {
  if (!j.has_mtp) {
    std::printf("Stage 7. This model has no MTP module.\n\n");
    return;
  }
  std::printf("Stage 7. The MTP module (V3 section 2.2) takes the main model's last hidden state and the embedding of the main\n"
              "head's choice %s, runs its own block, and drafts the token after that one:\n",
              shown(tok.token_bytes(j.next_token)).c_str());
  Table t({"rank", "id", "drafted token after next", "logit", "probability"});
  for (size_t i = 0; i < j.draft_ids.size(); ++i)
    t.row({std::to_string(i + 1), std::to_string(j.draft_ids[i]), shown(tok.token_bytes(j.draft_ids[i])), fmt("%.4f", j.mtp_logits.data()[j.draft_ids[i]]),
           fmt("%.4f", j.draft_probs[i])});
  t.print();
  std::printf("Speculative decoding would accept %s if the main model, having read %s, picks it too.\n\n", shown(tok.token_bytes(j.draft_ids[0])).c_str(),
              shown(tok.token_bytes(j.next_token)).c_str());
}

int64_t caches(const Journey& j, Summary& summary) {
  std::printf("Stage 8. What each layer caches, read from its cache object (float32 here; the MLA latent [c_KV; k_pe]):\n");
  Table t({"layer", "numbers per token", "bytes per token", "MHA-style K and V per token", fmt("held now (%zu tokens)", j.ids.size()), "allocated"});
  int64_t per_token = 0, naive = 0, held = 0, allocated = 0;
  std::vector<double> per_layer;
  for (const LayerStop& s : j.layers) {
    t.row({layer_name(s), std::to_string(s.cached.size()), std::to_string(s.cache_bytes_per_token()), std::to_string(s.naive_bytes_per_token),
           std::to_string(s.cache_bytes_used), fmt("%lld (%lld tokens)", (long long)s.cache_bytes, (long long)s.cache_capacity)});
    per_token += s.cache_bytes_per_token();
    naive += s.naive_bytes_per_token;
    held += s.cache_bytes_used;
    allocated += s.cache_bytes;
    per_layer.push_back(static_cast<double>(s.cache_bytes_per_token()));
  }
  t.row({"all layers", "", std::to_string(per_token), std::to_string(naive), std::to_string(held), std::to_string(allocated)});
  t.print();
  std::printf("The MTP module keeps its own cache only while drafting (%lld bytes per token).\n\n",
              (long long)(j.has_mtp ? j.mtp_block.cache_bytes_per_token() : 0));
  summary.set("cache.bytes_per_token_per_layer", per_layer);
  summary.set("cache.bytes_per_token", static_cast<double>(per_token));
  summary.set("cache.naive_bytes_per_token", static_cast<double>(naive));
  summary.set("cache.bytes_held", static_cast<double>(held));
  return per_token;
}

void plots(const Journey& j, const DeepSeekConfig& c, const Tokenizer& tok, RunReport& report) {
  std::vector<const LayerStop*> moe;
  for (const LayerStop& s : j.layers)
    if (s.moe) moe.push_back(&s);
  if (j.has_mtp && j.mtp_block.moe) moe.push_back(&j.mtp_block);
  if (!moe.empty()) {
    Heatmap w;
    w.title = "The last token's experts: combine weight g per MoE layer";
    w.xlabel = "routed expert";
    w.ylabel = "layer";
    w.rows = static_cast<int64_t>(moe.size());
    w.cols = c.n_routed_experts;
    w.values.assign(static_cast<size_t>(w.rows * w.cols), 0.0);
    w.annotate = true;
    w.annotate_zeros = false;
    w.caption = "Each row is one MoE layer; the filled cells are the experts the router chose for the last token and their weights g. "
                "Different layers pick different experts.";
    Heatmap s = w;
    s.title = "The gate's score s of every expert for the last token";
    s.annotate = false;
    s.caption = "The affinities the gate computes before choosing: the chosen experts (previous plot) are the largest s + b.";
    for (int64_t r = 0; r < w.rows; ++r) {
      const RouterStop& rs = moe[static_cast<size_t>(r)]->router;
      w.row_labels.push_back(layer_name(*moe[static_cast<size_t>(r)]));
      for (size_t k = 0; k < rs.experts.size(); ++k) w.values[static_cast<size_t>(r * w.cols + rs.experts[k])] = rs.weights[k];
      for (int64_t e = 0; e < w.cols; ++e) s.values[static_cast<size_t>(r * w.cols + e)] = rs.scores[static_cast<size_t>(e)];
    }
    s.row_labels = w.row_labels;
    for (int64_t e = 0; e < w.cols; ++e) w.col_labels.push_back(std::to_string(e));
    s.col_labels = w.col_labels;
    report.plot("router_weights.svg", w);
    report.plot("router_scores.svg", s);
  }

  BarChart bar{fmt("The top %zu next tokens and their probabilities (main head)", j.top_ids.size()), "", "probability (log scale)", {}, {}};
  bar.logy = true;   // a trained model's runners-up are thousands of times less likely than its choice
  bar.caption = "The top tokens after softmax over the logits; a trained model puts most of the mass on a few, a fresh one spreads it thinly.";
  Series p{"probability", {}, {}};
  for (size_t i = 0; i < j.top_ids.size(); ++i) {
    bar.categories.push_back(shown(tok.token_bytes(j.top_ids[i])));
    p.y.push_back(j.top_probs[i]);
  }
  bar.series = {p};
  bar.value_labels = false;
  report.plot("next_token.svg", bar);

  LineChart line;
  line.title = "The last token's residual stream through the layers";
  line.xlabel = "layers passed (0: the embedding alone)";
  line.ylabel = "L2 norm";
  line.caption = "The norm of the last token's residual x after the embedding and after each layer, and what attention and the FFN add to it.";
  Series x{"|x|", {0}, {norm_of(last_row_of(j.embeddings))}}, a{"|MLA out|", {}, {}}, f{"|FFN out|", {}, {}};
  for (const LayerStop& s : j.layers) {
    const double at = static_cast<double>(s.layer + 1);
    x.x.push_back(at);
    x.y.push_back(s.output_norm);
    a.x.push_back(at);
    a.y.push_back(s.attention_norm);
    f.x.push_back(at);
    f.y.push_back(s.ffn_norm);
  }
  a.dashed = f.dashed = true;
  line.series = {x, a, f};
  report.plot("residual.svg", line);
}
}  // namespace

int main(int argc, char** argv) {
  return run_main(kProgram, [&] {
    Flags flags(kProgram, "One prompt through the mini-DeepSeek, stage by stage: bytes, tokens, embedding, every layer's latent and routing, "
                          "the logits, the MTP draft, the cache.");
    RunOptions run;
    add_run_flags(flags, run, kProgram);
    std::string checkpoint, prompt = "Once upon a time";
    bool fresh = false;
    int64_t top_k = 5;
    flags.add("--checkpoint", checkpoint, std::string("checkpoint folder (default: ") + kDefaultCheckpoint + " when it exists, else a fresh model)");
    flags.add_flag("--fresh", fresh, "use a fresh, randomly initialised model even when a checkpoint exists (mini; tiny with --quick)");
    flags.add("--prompt", prompt, "the text to follow");
    flags.add("--top", top_k, "how many next tokens to list").min(1).max(50);
    std::string real_tokenizer = "none";
    flags.add_choice("--tokenizer", real_tokenizer, {"none", "deepseek-v3"},
                     "deepseek-v3: first show the prompt through DeepSeek-V3's real tokenizer, each pre-tokenizer step then the BPE ids "
                     "(files from scripts/fetch-tokenizers.sh)");
    flags.parse(argc, argv);
    if (fresh && !checkpoint.empty()) fail(kProgram, "--fresh and --checkpoint contradict each other; give one");
    RunReport report = start_run(run, flags);
    print_header(kProgram, "one prompt through the mini-DeepSeek, every stage in a table: what the model computes on the way to its next token");
    if (real_tokenizer == "deepseek-v3") print_tokenizer_steps(load_deepseek_v3().tokenizer, "DeepSeek-V3", prompt);
    Model m = load(checkpoint, fresh, run.quick, run.seed);
    ch06::DeepSeekModel& model = *m.loaded.model;
    const Tokenizer& tok = m.loaded.tokenizer;
    const DeepSeekConfig& c = model.config();
    const ParamCount pc = count_parameters(c);
    if (m.fresh)
      std::printf("NOTE: no trained checkpoint%s: this is %s, so its predictions are noise.\n"
                  "      Run ./build/bin/ch06_pretrain (about 10 minutes) to follow a trained model instead.\n",
                  checkpoint.empty() && !fresh ? (std::string(" at ") + kDefaultCheckpoint).c_str() : " (--fresh)", m.source.c_str());
    else
      std::printf("Model: the checkpoint %s\n", m.source.c_str());
    std::printf("       %lld layers (the first %lld dense), hidden %lld, %s parameters (%s in the MTP module), vocabulary %lld, context %lld\n\n",
                (long long)c.num_hidden_layers, (long long)c.first_k_dense_replace, (long long)c.hidden_size,
                fmt("%.2fM", static_cast<double>(pc.total) / 1e6).c_str(), fmt("%.2fM", static_cast<double>(pc.mtp) / 1e6).c_str(), (long long)c.vocab_size,
                (long long)c.max_position_embeddings);

    const std::vector<int32_t> ids = tok.encode(prompt);
    if (ids.empty()) fail(kProgram, "the prompt encodes to no tokens; give some text with --prompt");
    if (static_cast<int64_t>(ids.size()) > model.max_positions())
      fail(kProgram, fmt("the prompt is %zu tokens, longer than the model's context of %lld", ids.size(), (long long)model.max_positions()));
    const Journey j = trace_journey(model, ids, top_k);

    bytes_and_tokens(prompt, ids, tok);
    embedding(j, tok);
    layers(j, c);
    router(j, c, shown(tok.token_bytes(ids.back())));
    head(j, tok);
    mtp(j, tok);
    Summary summary;
    caches(j, summary);
    plots(j, c, tok, report);

    summary.set("model", m.source);
    summary.set("fresh_model", m.fresh ? 1.0 : 0.0);
    summary.set("prompt", prompt);
    summary.set("bytes", static_cast<double>(prompt.size()));
    summary.set("ids", std::vector<double>(ids.begin(), ids.end()));
    summary.set("top.ids", std::vector<double>(j.top_ids.begin(), j.top_ids.end()));
    summary.set("top.probs", j.top_probs);
    summary.set("top.text", tok.decode({j.top_ids[0]}));
    for (const LayerStop& s : j.layers)
      if (s.moe) summary.set("experts.layer_" + std::to_string(s.layer), std::vector<double>(s.router.experts.begin(), s.router.experts.end()));
    if (j.has_mtp) {
      summary.set("mtp.next_token", j.next_token);
      summary.set("mtp.draft", j.draft_ids[0]);
      summary.set("mtp.draft_prob", j.draft_probs[0]);
    }
    report.write(summary);
    std::printf("wrote %s/{router_weights,router_scores,next_token,residual}.svg (+ .csv), summary.json and index.html\n", run.out.c_str());
    return 0;
  });
}
