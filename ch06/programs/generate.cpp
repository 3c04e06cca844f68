// ch06_generate: loads a checkpoint folder (config.json, model.safetensors, tokenizer.json) and
// continues a prompt with the absorbed-MLA latent cache: greedy, or temperature and top-k, or
// greedy with MTP self-speculative decoding. Scripts and tests can pass token ids (--ids),
// read generated ids (--print-ids) and the prompt's logits (--logits-out FILE);
// --show-logprobs prints each new token's log-probability under the model and under the
// distribution it was sampled from (what RL's importance ratios are made of).
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ch02/generate.hpp"
#include "ch02/sampling_flags.hpp"
#include "ch05/speculative.hpp"
#include "ch06/checkpoint.hpp"
#include "common/autograd.hpp"
#include "common/fsutil.hpp"
#include "common/run.hpp"
#include "common/timer.hpp"

using namespace ds;
using namespace ds::ch06;

namespace {
std::vector<int32_t> parse_ids(const std::string& text, int64_t vocab) {
  std::vector<int32_t> ids;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || v < 0 || v >= vocab)
      throw std::runtime_error("--ids needs comma-separated token ids between 0 and " + std::to_string(vocab - 1) + ", got '" + item + "'");
    ids.push_back(static_cast<int32_t>(v));
  }
  if (ids.empty()) throw std::runtime_error("--ids is empty");
  return ids;
}

void write_logits(const std::string& path, ch02::LanguageModel& model, const std::vector<int32_t>& ids) {
  NoGradGuard ng;
  const Tensor logits = model.forward(IntTensor(ids, {1, static_cast<int64_t>(ids.size())}));
  const int64_t v = logits.size(-1);
  nlohmann::json rows = nlohmann::json::array();
  for (size_t t = 0; t < ids.size(); ++t) rows.push_back(std::vector<float>(logits.data() + t * v, logits.data() + (t + 1) * v));
  write_file_atomic(path, nlohmann::json{{"ids", ids}, {"logits", rows}}.dump());
}
// One line per new token: its id, its text, log p under the model, log q under the sampling distribution.
void print_logprobs(const ch02::Generation& g, const LoadedModel& lm) {
  std::printf("%5s %6s  %-16s %10s %10s\n", "step", "id", "token", "log p", "log q");
  double total = 0;
  for (size_t i = 0; i < g.tokens[0].size(); ++i) {
    const int32_t id = g.tokens[0][i];
    std::string piece = lm.has_tokenizer ? lm.tokenizer.decode({id}) : "";
    for (size_t at; (at = piece.find('\n')) != std::string::npos;) piece.replace(at, 1, "\\n");
    const float lp = g.logprobs.data()[i], lq = g.sampling_logprobs.data()[i];
    total += lp;
    std::printf("%5zu %6d  %-16s %10.4f %10.4f\n", i, id, ("\"" + piece + "\"").c_str(), lp, lq);
  }
  std::printf("sum of log p: %.4f (perplexity of the continuation %.3f)\n\n", total,
              std::exp(-total / static_cast<double>(std::max<size_t>(g.tokens[0].size(), 1))));
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("ch06_generate", [&] {
    Flags flags("ch06_generate", "Generate text from a checkpoint with the latent KV cache (optionally MTP speculative decoding).");
    std::string checkpoint = "runs/ch06_pretrain/checkpoint", prompt = "Once upon a time", ids_text, logits_out;
    ch02::SamplingConfig sc;
    sc.max_new_tokens = 100;
    bool speculative = false, print_ids = false, show_logprobs = false;
    RunOptions run;
    add_run_flags(flags, run, "ch06_generate");
    flags.add("--checkpoint", checkpoint, "checkpoint folder written by ch06_pretrain");
    flags.add("--prompt", prompt, "text to continue");
    flags.add("--ids", ids_text, "token ids to continue instead of --prompt (e.g. 5,17,3)");
    ch02::add_sampling_flags(flags, sc).min(1).max(100000).quick(16);
    flags.add_flag("--speculative", speculative, "greedy decoding with MTP drafts (needs a model with an MTP module; ignores temperature)");
    flags.add_flag("--print-ids", print_ids, "also print the generated token ids");
    flags.add("--logits-out", logits_out, "write the logits of every prompt position to this JSON file");
    flags.add_flag("--show-logprobs", show_logprobs, "print each new token with log p under the model and log q under the sampling distribution");
    flags.parse(argc, argv);
    RunReport report = start_run(run, flags);
    LoadedModel lm = load_model(checkpoint);
    DeepSeekModel& model = *lm.model;
    model.set_mla_mode(ch03::MLAMode::Absorbed);
    if (ids_text.empty() && !lm.has_tokenizer) fail("ch06_generate", "the checkpoint has no tokenizer.json; pass token ids with --ids");
    const std::vector<int32_t> ids = ids_text.empty() ? lm.tokenizer.encode(prompt) : parse_ids(ids_text, model.vocab_size());
    if (ids.empty()) fail("ch06_generate", "the prompt encodes to no tokens");
    if (static_cast<int64_t>(ids.size()) + sc.max_new_tokens > model.max_positions())
      fail("ch06_generate", fmt("prompt + --tokens exceeds the model's context of %lld", (long long)model.max_positions()));
    if (speculative && model.depth() == 0) fail("ch06_generate", "--speculative needs a checkpoint with an MTP module");
    if (speculative && show_logprobs) fail("ch06_generate", "--show-logprobs works with plain decoding, not --speculative");
    if (!logits_out.empty()) write_logits(logits_out, model, ids);

    std::vector<int32_t> out;
    double seconds = 0;
    std::string extra;
    if (speculative) {
      const ch05::SpeculativeResult r = ch05::speculative_greedy(model, ids, sc.max_new_tokens);
      out = r.tokens;
      seconds = r.seconds;
      extra = fmt(", MTP drafts accepted %.1f%%, %.2f tokens per forward", 100 * r.acceptance(), r.tokens_per_forward());
    } else {
      if (lm.has_tokenizer && lm.tokenizer.eot_id() >= 0 && ids_text.empty()) sc.stop_tokens = {lm.tokenizer.eot_id()};
      sc.seed = run.seed;
      Timer t;
      const ch02::Generation g = ch02::generate(model, {ids}, sc, true);
      seconds = t.seconds();
      out = g.tokens[0];
      if (show_logprobs) print_logprobs(g, lm);
    }
    const std::string text = lm.has_tokenizer ? lm.tokenizer.decode(ids) + lm.tokenizer.decode(out) : "";
    if (lm.has_tokenizer) std::printf("%s\n", text.c_str());
    if (print_ids) {
      std::string s;
      for (size_t i = 0; i < out.size(); ++i) s += (i ? "," : "") + std::to_string(out[i]);
      std::printf("ids: %s\n", s.c_str());
    }
    std::fprintf(stderr, "%zu tokens in %.3f s: %.0f tokens/s (latent cache%s)\n", out.size(), seconds,
                 static_cast<double>(out.size()) / std::max(seconds, 1e-9), extra.c_str());
    Summary summary;
    summary.set("tokens", static_cast<double>(out.size()));
    summary.set("tokens_per_second", static_cast<double>(out.size()) / std::max(seconds, 1e-9));
    summary.set("text", text);
    report.write(summary);
    return 0;
  });
}
