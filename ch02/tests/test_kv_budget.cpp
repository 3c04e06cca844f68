#include <doctest/doctest.h>

#include <stdexcept>

#include "ch02/kv_budget.hpp"

using namespace ds::ch02;

TEST_CASE("kv budget: GPT-2 small and the DeepSeek-V3-sized MHA baseline") {
  const auto& g = attention_preset("gpt2-small");
  CHECK(kv_bytes_per_token(g, 12, 2) == 2 * 12 * 12 * 64 * 2);      // 36,864 bytes per token in FP16
  CHECK(kv_bytes_per_token(g, 1, 2) * 12 == kv_bytes_per_token(g, 12, 2));
  CHECK(attention_params_per_layer(g, 12) == 4 * 768 * 768);
  const auto& v3 = attention_preset("deepseek-v3-mha");
  CHECK(kv_bytes_per_token(v3, 128, 1) == 1998848);   // 2 x 128 x 128 x 61 elements (DeepSeek-V2 Table 1's 2 n_h d_h l)
  CHECK(kv_bytes_per_token(v3, 128, 2) == 3997696);   // bytes in BF16
  CHECK_THROWS_WITH_AS(attention_preset("gpt5"), "unknown attention preset 'gpt5' (known: gpt2-small, deepseek-v3-mha)", std::invalid_argument);
}
