// config.json inputs that broke the reader, kept so the fixes stay fixed (fuzz/README.md says
// which the fuzz target found and which a review of the reader found). Each must give one
// clear sentence naming the key, never undefined behaviour or an escaped json exception.
#include <doctest/doctest.h>

#include <string>

#include "common/deepseek_config.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;

namespace {
// mini's config.json with one key's value replaced by raw JSON text.
std::string mini_with(const std::string& key, const std::string& value) {
  std::string text = to_json(preset("mini"));
  const size_t at = text.find("\"" + key + "\": ");
  REQUIRE(at != std::string::npos);
  const size_t begin = at + key.size() + 4, end = text.find_first_of(",\n", begin);
  return text.replace(begin, end - begin, value);
}
}  // namespace

TEST_CASE("config fuzz findings: a size written as 2.18e22 is a wrong type, not a float-to-int64 overflow") {
  const std::string p = std::string(DS_SOURCE_DIR) + "/common/tests/fixtures/fuzz/config/hidden_size_2e22.json";
  CHECK(test::error_of([&] { load_config(p); }).rfind(p + ": \"hidden_size\" has the wrong type (2.", 0) == 0);
}

TEST_CASE("config fuzz findings: integers must be JSON integers that fit int64, floats any number, flags booleans") {
  CHECK(test::error_of([] { from_json(mini_with("q_lora_rank", "\"128\"")); }) ==
        "config.json: \"q_lora_rank\" has the wrong type (\"128\")");
  CHECK(test::error_of([] { from_json(mini_with("vocab_size", "18446744073709551615")); }) ==
        "config.json: \"vocab_size\" has the wrong type (18446744073709551615)");
  CHECK(test::error_of([] { from_json(mini_with("hidden_size", "256.0")); }) ==
        "config.json: \"hidden_size\" has the wrong type (256.0)");
  CHECK(test::error_of([] { from_json(mini_with("norm_topk_prob", "1")); }) ==
        "config.json: \"norm_topk_prob\" has the wrong type (1)");
  CHECK(from_json(mini_with("rope_theta", "10000")).rope_theta == 10000.0);   // an integer is a fine double
  CHECK(from_json(mini_with("q_lora_rank", "null")).q_lora_rank == 0);
}

TEST_CASE("config fuzz findings: sizes beyond any model are refused, and the largest accepted config counts without overflow") {
  CHECK(test::error_of([] { from_json(mini_with("hidden_size", "1099511627776")); }) ==
        "config.json: hidden_size is 1099511627776, outside 0..65536 (far beyond any DeepSeek model)");
  CHECK(test::error_of([] { from_json(mini_with("intermediate_size", "-5")); }) ==
        "config.json: intermediate_size is -5, outside 0..65536 (far beyond any DeepSeek model)");
  DeepSeekConfig c = preset("mini");
  c.vocab_size = c.max_position_embeddings = int64_t{1} << 24;
  c.hidden_size = c.intermediate_size = c.moe_intermediate_size = c.q_lora_rank = c.kv_lora_rank = 65536;
  c.qk_nope_head_dim = c.qk_rope_head_dim = c.v_head_dim = 65536;
  c.num_hidden_layers = c.num_nextn_predict_layers = c.num_attention_heads = c.n_routed_experts = 4096;
  c.n_shared_experts = c.num_experts_per_tok = 4096;
  c.n_group = c.topk_group = 2048;   // noaux_tc needs two experts per group; the counts do not use n_group
  c.first_k_dense_replace = 0;
  REQUIRE(c.validate() == "");
  const ParamCount p = count_parameters(c);   // UBSan (asan preset) reports any int64 overflow here
  CHECK(p.total > 0);
  CHECK(p.active > 0);
  CHECK(p.active <= p.total);
}

TEST_CASE("config fuzz findings: values RoPE, RMSNorm and routing cannot use are refused") {
  CHECK(test::error_of([] { from_json(mini_with("rope_theta", "1")); }) ==
        "config.json: rope_theta must be greater than 1 (RoPE's wavelengths grow as its powers)");
  CHECK(test::error_of([] { from_json(mini_with("rms_norm_eps", "0")); }).find("rms_norm_eps") != std::string::npos);
  CHECK(test::error_of([] { from_json(mini_with("routed_scaling_factor", "-2.5")); }).find("routed_scaling_factor") != std::string::npos);
  CHECK(test::error_of([] { from_json(mini_with("rope_scaling", R"({"factor": 0.5, "original_max_position_embeddings": 64})")); })
            .find("rope_scaling needs factor >= 1") != std::string::npos);
}
