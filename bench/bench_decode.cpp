// bench/decode: greedy decoding with the absorbed-MLA latent cache, as ch06_generate runs it
// (ch02::generate, one new token per step after the prompt's prefill), at batch 1 and 8 over
// one checkpoint folder; bench/torch_decode.py times PyTorch on the same folder with the same
// cache math (tools/deepseek_reference.py's decode mode). Prints one JSON line per batch size,
// with the generated ids' checksum so the two sides can be checked for the same tokens.
// Without --checkpoint it writes a random mini-preset checkpoint into --out and uses that.
#include <omp.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "ch02/generate.hpp"
#include "ch06/checkpoint.hpp"
#include "common/autograd.hpp"
#include "common/flags.hpp"
#include "common/gemm.hpp"
#include "common/run.hpp"
#include "common/timer.hpp"

using namespace ds;

int main(int argc, char** argv) {
  return run_main("bench_decode", [&] {
    Flags flags("bench_decode", "Greedy decoding tokens/s with the latent cache at batch 1 and 8; one JSON line per batch on stdout.");
    std::string checkpoint, batches_text = "1,8";
    int64_t prompt_len = 16, tokens = 128, repeats = 3;
    RunOptions run;
    add_run_flags(flags, run, "bench_decode");
    flags.add("--checkpoint", checkpoint, "checkpoint folder (ch06_pretrain's); empty: write a random mini-preset one into --out");
    flags.add("--batches", batches_text, "comma-separated batch sizes");
    flags.add("--prompt", prompt_len, "prompt tokens per sequence (random ids from --seed)").min(1);
    flags.add("--tokens", tokens, "new tokens per sequence").min(1).quick(8);
    flags.add("--repeats", repeats, "timed generations per batch size (the fastest counts)").min(1).quick(1);
    flags.parse(argc, argv);
    RunReport report = start_run(run, flags);
    if (checkpoint.empty()) {
      checkpoint = run.out + "/checkpoint";
      Rng init(run.seed);
      const ch06::DeepSeekModel random_model(ch06::preset("mini"), init);
      ch06::write_folder_atomic(checkpoint, [&](const std::string& tmp) { ch06::write_model_files(tmp, random_model, nullptr); });
    }
    ch06::LoadedModel lm = ch06::load_model(checkpoint);
    ch06::DeepSeekModel& model = *lm.model;
    model.set_mla_mode(ch03::MLAMode::Absorbed);
    if (prompt_len + tokens > model.max_positions())
      fail("bench_decode", fmt("--prompt + --tokens exceeds the model's context of %lld", (long long)model.max_positions()));
    std::vector<int64_t> batches;
    for (size_t at = 0; at <= batches_text.size();) {
      const size_t comma = std::min(batches_text.find(',', at), batches_text.size());
      const std::string item = batches_text.substr(at, comma - at);
      size_t used = 0;
      long long b = 0;
      try {
        b = std::stoll(item, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != item.size() || b < 1 || b > 256) fail("bench_decode", "--batches needs comma-separated sizes between 1 and 256, got '" + item + "'");
      batches.push_back(b);
      at = comma + 1;
    }
    ch02::SamplingConfig sc;   // greedy
    sc.max_new_tokens = tokens;
    for (const int64_t b : batches) {
      Rng rng(run.seed);   // the same prompts on both sides: bench/torch_decode.py draws them from the ids printed here
      std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(b));
      for (auto& p : prompts)
        for (int64_t i = 0; i < prompt_len; ++i) p.push_back(static_cast<int32_t>(rng.randint(model.vocab_size())));
      double best = 1e30, best_prefill = 0;
      ch02::Generation g;
      for (int64_t r = 0; r < repeats; ++r) {
        Timer t;
        g = ch02::generate(model, prompts, sc, true);
        const double s = t.seconds();
        if (s < best) best = s, best_prefill = g.step_seconds.front();
      }
      uint64_t checksum = 14695981039346656037ull;   // FNV-1a over every generated id, row by row
      for (const auto& row : g.tokens)
        for (int32_t id : row) checksum = (checksum ^ static_cast<uint64_t>(id)) * 1099511628211ull;
      nlohmann::json prompt_ids = prompts;
      const nlohmann::json out = {{"impl", "cpp"},
                                  {"batch", b},
                                  {"prompt", prompt_len},
                                  {"tokens", tokens},
                                  {"seconds", best},
                                  {"prefill_s", best_prefill},
                                  {"tokens_per_s", static_cast<double>(b * tokens) / best},
                                  {"decode_tokens_per_s", static_cast<double>(b * (tokens - 1)) / std::max(best - best_prefill, 1e-9)},
                                  {"threads", omp_get_max_threads()},
                                  {"gemm", gemm_backend_name(gemm_backend())},
                                  {"checkpoint", std::filesystem::absolute(checkpoint).string()},
                                  {"checksum", std::to_string(checksum)},
                                  {"first_row", g.tokens[0]},
                                  {"prompt_ids", prompt_ids}};
      std::printf("%s\n", out.dump().c_str());
      std::fflush(stdout);
    }
    return 0;
  });
}
