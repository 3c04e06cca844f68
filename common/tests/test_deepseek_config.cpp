#include <doctest/doctest.h>

#include "common/deepseek_config.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;

namespace {
// fixtures/deepseek_configs/*.json: the released config.json of deepseek-ai/DeepSeek-V3,
// DeepSeek-V2 and DeepSeek-V2-Lite on Hugging Face (as Megatron-Bridge's DeepSeek tests and
// model cards reproduce them), extra keys (quantization_config, auto_map, ...) included.
DeepSeekConfig released(const std::string& name) {
  return load_config(std::string(DS_SOURCE_DIR) + "/common/tests/fixtures/deepseek_configs/" + name + ".json");
}
}  // namespace

TEST_CASE("deepseek config: the real presets equal the released config.json files") {
  for (const std::string name : {"deepseek-v3", "deepseek-v2", "deepseek-v2-lite"}) {
    INFO(name);
    CHECK(to_json(released(name)) == to_json(preset(name)));
  }
  const DeepSeekConfig lite = released("deepseek-v2-lite");
  CHECK(lite.q_lora_rank == 0);                    // "q_lora_rank": null
  CHECK(lite.num_nextn_predict_layers == 0);       // V2 has no MTP key
  CHECK(lite.topk_method == "greedy");
  CHECK(released("deepseek-v2").topk_method == "group_limited_greedy");
  CHECK(released("deepseek-v3").rope_scaling.factor == 40);
}

TEST_CASE("deepseek config: config.json round trip, and one sentence for a missing key, a wrong type or an unknown method") {
  for (const std::string& name : preset_names()) {
    const DeepSeekConfig c = preset(name);
    CHECK(c.validate() == "");
    CHECK(to_json(from_json(to_json(c))) == to_json(c));
  }
  CHECK(test::error_of([] { from_json("{\"vocab_size\": 10}"); }) == "config.json has no \"hidden_size\"");
  CHECK(test::error_of([] { from_json("[1, 2]"); }) == "config.json does not hold a JSON object");
  DeepSeekConfig c = preset("tiny");
  c.topk_method = "top2";
  CHECK(test::error_of([&] { from_json(to_json(c), "x.json"); }) ==
        "x.json: topk_method must be greedy (V2-Lite), group_limited_greedy (V2) or noaux_tc (V3), not 'top2'");
  c = preset("tiny");
  c.topk_group = 5;
  CHECK(test::error_of([&] { from_json(to_json(c)); }).find("topk_group must be between 1 and n_group") != std::string::npos);
  c = preset("tiny");
  c.n_group = 8;   // 8 experts in 8 groups of 1: noaux_tc's top-2 group score needs 2
  c.topk_group = 2;
  CHECK(test::error_of([&] { from_json(to_json(c)); }).find("at least 2") != std::string::npos);
  c.topk_method = "group_limited_greedy";   // V2's rule scores a group by its best expert: fine
  CHECK(c.validate() == "");
  std::string text = to_json(preset("tiny"));
  text.replace(text.find("\"n_group\": 2"), 12, "\"n_group\": \"two\"");
  CHECK(test::error_of([&] { from_json(text); }) == "config.json: \"n_group\" has the wrong type (\"two\")");
  CHECK_THROWS_WITH_AS(preset("gpt5"), "unknown preset 'gpt5' (choose tiny, mini, deepseek-v3, deepseek-v2 or deepseek-v2-lite)",
                       std::invalid_argument);
}

TEST_CASE("deepseek config: exact parameter counts of the released models, from the shapes") {
  // DeepSeek-V3: 671B total and 37B activated (V3 abstract; README_WEIGHTS: "671B", "36.7B").
  // Counted as Hugging Face's num_parameters() would: embed_tokens and lm_head (926,679,040 each)
  // and the 58 MoE layers' e_score_correction_bias (256 each) included.
  const ParamCount v3 = count_parameters(preset("deepseek-v3"));
  CHECK(v3.main() == 671026419200LL);
  CHECK(v3.mtp == 11610068224LL);          // the MTP module's own weights (README_WEIGHTS: "11.5B unique")
  CHECK(v3.total == 682636487424LL);       // main + MTP module (its embedding and head are shared)
  CHECK(v3.embedding == 926679040LL);
  CHECK(v3.main_active() == 37552297472LL);
  // DeepSeek's activated figure does not count the embedding table (a token reads one row of
  // it): 37,552,297,472 - 926,679,040 = 36.6B, the "37B" of the paper.
  CHECK(v3.main_active() - v3.embedding == 36625618432LL);
  CHECK(v3.mtp_active == 688100608LL);

  // DeepSeek-V2: 236B total, 21B activated; V2-Lite: 15.7B ("16B"), 2.4B activated (V2 paper,
  // V2-Lite model card). Neither has e_score_correction_bias (topk_method greedy /
  // group_limited_greedy) nor an MTP module.
  const ParamCount v2 = count_parameters(preset("deepseek-v2"));
  CHECK(v2.total == 235741434880LL);
  CHECK(v2.mtp == 0);
  CHECK(v2.active == 21375800320LL);
  CHECK(v2.active - v2.embedding == 20851512320LL);   // 21B
  const ParamCount lite = count_parameters(preset("deepseek-v2-lite"));
  CHECK(lite.total == 15706484224LL);
  CHECK(lite.active == 2661150208LL);
  CHECK(lite.active - lite.embedding == 2451435008LL);   // 2.4B

  // The bias is counted only where the routing rule has one.
  DeepSeekConfig v3_greedy = preset("deepseek-v3");
  v3_greedy.topk_method = "group_limited_greedy";
  CHECK(count_parameters(v3_greedy).total == v3.total - 59 * 256);   // 58 MoE layers + the MTP module's
}

TEST_CASE("deepseek config: first_k_dense_replace larger than the layer count is one sentence that says what to set") {
  DeepSeekConfig c = preset("tiny");
  c.first_k_dense_replace = c.num_hidden_layers + 3;
  const std::string e = test::error_of([&] { from_json(to_json(c), "x.json"); });
  CHECK(e.find("x.json: first_k_dense_replace (" + std::to_string(c.num_hidden_layers + 3) + ") is larger than num_hidden_layers") == 0);
  CHECK(e.find("set it to at most " + std::to_string(c.num_hidden_layers)) != std::string::npos);
  c.first_k_dense_replace = c.num_hidden_layers;   // every layer of the main model dense: allowed
  CHECK(c.validate() == "");
}

TEST_CASE("deepseek config: training_bytes_floor counts weights, gradients and moments, and grows with the batch") {
  const DeepSeekConfig c = preset("mini");
  const double p = static_cast<double>(count_parameters(c).total);
  CHECK(training_bytes_floor(c, 1, 1, 2) > 16 * p);
  CHECK(training_bytes_floor(c, 8, 1, 128) > training_bytes_floor(c, 4, 1, 128));
  CHECK(training_bytes_floor(c, 8, 4, 128) < training_bytes_floor(c, 8, 1, 128));   // micro-batches hold a quarter of the activations
  CHECK(training_bytes_floor(c, 100000000, 1, 128) > 1e14);
}
