// Smoke tests: ch01_model_calculator and ch01_token_journey with --quick, and their bad input.
#include <doctest/doctest.h>

#include <filesystem>

#include "ch06/checkpoint.hpp"
#include "common/dataset.hpp"
#include "common/tests/program_runner.hpp"
#include "common/tests/tokenizer_files_check.hpp"

namespace fs = std::filesystem;
using namespace ds;
using namespace ds::test;

TEST_CASE("program ch01_model_calculator --quick: DeepSeek-V3's exact counts, memory, KV cache and compute") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch01_model_calculator";
  REQUIRE(run_program("ch01_model_calculator", "", out) == 0);
  check_files(out, {"parameters.svg", "parameters.csv", "kv_cache.svg", "kv_cache.csv", "index.html"});
  const auto s = program_summary(out);
  CHECK(s["parameters"]["main"].get<double>() == 671026419200.0);
  CHECK(s["parameters"]["total"].get<double>() == 682636487424.0);
  CHECK(s["parameters"]["activated"].get<double>() == 37552297472.0);
  CHECK(s["presets"]["deepseek-v2"]["total"].get<double>() == 235741434880.0);
  CHECK(s["presets"]["deepseek-v2-lite"]["total"].get<double>() == 15706484224.0);
  CHECK(s["kv_cache"]["MLA"]["elements_per_token"].get<double>() == 35136.0);
  CHECK(s["kv_cache"]["MHA"]["elements_per_token"].get<double>() == 1998848.0);
  CHECK(s["kv_cache"]["MLA"]["bytes_at_context"].get<double>() == 2.0 * 35136 * 131072);
  const double mfu = s["compute"]["v3_implied_mfu_pretraining"].get<double>();
  CHECK(mfu > 0.2);
  CHECK(mfu < 0.6);
  CHECK(s["weights"]["v3_mix"]["stored_numbers"].get<double>() > 684e9);
  const std::string log = read_text_file(out.string() + ".log");
  CHECK(log.find("V3's release: FP8 + BF16 + block scales") != std::string::npos);
  CHECK(log.find("2,664K H800 GPU hours") != std::string::npos);
}

TEST_CASE("program ch01_model_calculator --quick: other configs, a config.json, and bad input") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch01_model_calculator_other";
  REQUIRE(run_program("ch01_model_calculator", "--config deepseek-v2-lite --gqa-groups 4", out) == 0);
  CHECK(program_summary(out)["parameters"]["total"].get<double>() == 15706484224.0);
  CHECK(read_text_file(out.string() + ".log").find("2,664K") == std::string::npos);   // V3's reported hours only for V3
  REQUIRE(run_program("ch01_model_calculator", "--config mini", out) == 0);
  CHECK(program_summary(out)["parameters"]["total"].get<double>() == 12707744.0);
  const std::string v3 = std::string(DS_SOURCE_DIR) + "/common/tests/fixtures/deepseek_configs/deepseek-v3.json";   // the released config.json
  REQUIRE(run_program("ch01_model_calculator", "--config " + v3, out) == 0);
  CHECK(program_summary(out)["parameters"]["main"].get<double>() == 671026419200.0);
  CHECK(run_program("ch01_model_calculator", "--config /nonexistent.json", out) == 1);
  CHECK(read_text_file(out.string() + ".log").find("is neither a preset") != std::string::npos);
  CHECK(run_program("ch01_model_calculator", "--gqa-groups 7", out) == 1);
  CHECK(read_text_file(out.string() + ".log").find("--gqa-groups 7 does not divide this config's 128 attention heads") != std::string::npos);
  // The GQA comparison's default group count comes from the config: the tiny preset's 4 heads take 4 groups.
  REQUIRE(run_program("ch01_model_calculator", "--config tiny", out) == 0);
  CHECK(read_text_file(out.string() + ".log").find("GQA (4 groups)") != std::string::npos);
  CHECK(run_program("ch01_model_calculator", "--mfu 2", out) == 2);
}

TEST_CASE("program ch01_token_journey --quick --fresh: every stage, said to be a fresh model") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch01_token_journey";
  REQUIRE(run_program("ch01_token_journey", "--fresh --prompt \"Once upon a time, 12 + 7 = 19.\"", out) == 0);
  check_files(out, {"router_weights.svg", "router_scores.svg", "next_token.svg", "residual.svg", "index.html"});
  check_text_output(out);
  const auto s = program_summary(out);
  CHECK(s["fresh_model"].get<double>() == 1.0);
  const std::string log = read_text_file(out.string() + ".log");
  CHECK(log.find("a fresh, randomly initialised tiny model") != std::string::npos);
  for (const char* stage : {"Stage 1. Bytes", "Stage 2. BPE tokens", "Stage 3. Embedding", "Stage 4. The layers", "Stage 5. The router",
                            "Stage 6.", "Stage 7. The MTP module", "Stage 8."})
    CHECK(log.find(stage) != std::string::npos);
  // tiny: 2 layers caching (16 + 8) float32 numbers per token each.
  CHECK(s["cache"]["bytes_per_token"].get<double>() == 2 * (16 + 8) * 4);
  CHECK(s["bytes"].get<double>() == 30);
  CHECK(s["top"]["probs"].size() == 5);
}

TEST_CASE("program ch01_token_journey --quick: a checkpoint folder, and bad input") {
  // A tiny checkpoint with a tokenizer, as ch06_pretrain writes one.
  const fs::path ckpt = fs::temp_directory_path() / "ds_ch01_journey_ckpt";
  const Tokenizer tok = Tokenizer::train(load_or_generate_documents("", 30000, 5), 300);
  DeepSeekConfig cfg = preset("tiny");
  cfg.vocab_size = tok.vocab_size();
  Rng rng(5);
  const ch06::DeepSeekModel model(cfg, rng);
  ch06::write_folder_atomic(ckpt.string(), [&](const std::string& tmp) { ch06::write_model_files(tmp, model, &tok); });

  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch01_token_journey_ckpt";
  REQUIRE(run_program("ch01_token_journey", "--checkpoint " + ckpt.string() + " --prompt \"The cat sat\"", out) == 0);
  const auto s = program_summary(out);
  CHECK(s["fresh_model"].get<double>() == 0.0);
  CHECK(s["model"].get<std::string>() == ckpt.string());
  std::vector<double> ids;
  for (int32_t id : tok.encode("The cat sat")) ids.push_back(id);
  CHECK(s["ids"].get<std::vector<double>>() == ids);
  CHECK(read_text_file(out.string() + ".log").find("Model: the checkpoint") != std::string::npos);

  CHECK(run_program("ch01_token_journey", "--checkpoint /nonexistent", out) == 1);
  CHECK(run_program("ch01_token_journey", "--fresh --checkpoint " + ckpt.string(), out) == 1);
  CHECK(run_program("ch01_token_journey", "--fresh --prompt \"\"", out) == 1);
  CHECK(read_text_file(out.string() + ".log").find("encodes to no tokens") != std::string::npos);
  fs::remove_all(ckpt);
}

TEST_CASE("program ch01_token_journey --tokenizer deepseek-v3: the prompt through V3's real pre-tokenizer steps and BPE first") {
  if (!tokenizer_files_present("deepseek-v3")) return;
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch01_token_journey_v3";
  REQUIRE(run_program("ch01_token_journey", "--fresh --tokenizer deepseek-v3 --prompt \"x=12345;中文\"", out) == 0);
  const std::string log = read_text_file(out.string() + ".log");
  CHECK(log.find("pre-tokenizer step 1, Split /\\p{N}{1,3}/ Isolated:\n    \"x=\" \"123\" \"45\" \";中文\"") != std::string::npos);
  CHECK(log.find("pre-tokenizer step 4, ByteLevel") != std::string::npos);
  CHECK(log.find("<｜begin▁of▁sentence｜>") != std::string::npos);
  CHECK(log.find("Stage 2. BPE tokens") != std::string::npos);   // then the mini model as before
}

TEST_CASE("program ch01_tokenizer_compare --quick: V3 spends fewer tokens on Chinese than GPT-2, and its split rules save tokens on code and numbers") {
  if (!tokenizer_files_present("deepseek-v3") || !tokenizer_files_present("gpt2")) return;
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch01_tokenizer_compare";
  REQUIRE(run_program("ch01_tokenizer_compare", "", out) == 0);
  check_files(out, {"tokens_per_character.svg", "tokens_per_character.csv", "index.html"});
  const auto s = program_summary(out)["tokens_per_char"];
  CHECK(s["Chinese"]["DeepSeek-V3"].get<double>() < 0.5 * s["Chinese"]["GPT-2"].get<double>());
  CHECK(s["code"]["DeepSeek-V3"].get<double>() < s["code"]["V3"].get<double>());
  CHECK(s["numbers"]["DeepSeek-V3"].get<double>() < s["numbers"]["V3"].get<double>());
  CHECK(s["English"]["mini"].get<double>() > s["English"]["DeepSeek-V3"].get<double>());
  const std::string log = read_text_file(out.string() + ".log");
  CHECK(log.find("\"123|456|7\"") != std::string::npos);   // V3: 1234567 in groups of three from the left
  check_captions(out);
}
