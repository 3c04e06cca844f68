#include <doctest/doctest.h>

#include <stdexcept>

#include "ch01/kv_cache_size.hpp"

using namespace ds;
using namespace ds::ch01;

TEST_CASE("KV cache: DeepSeek-V2 Table 1's formulas on V2, V3 and V2-Lite") {
  // V2: n_h = 128 heads of d_h = 128, l = 60 layers, d_c = 512 = 4 d_h, d_h^R = 64 = d_h / 2.
  const KvPerToken v2 = kv_elements_per_token(preset("deepseek-v2"), 8);
  CHECK(v2.mha == 2 * 128 * 128 * 60);   // 2 n_h d_h l
  CHECK(v2.gqa == 2 * 8 * 128 * 60);     // 2 n_g d_h l
  CHECK(v2.mqa == 2 * 128 * 60);         // 2 d_h l
  CHECK(v2.mla == (512 + 64) * 60);      // (d_c + d_h^R) l
  CHECK(v2.mla * 2 == 9 * 128 * 60);     // Table 1: "= 9/2 d_h l"
  // V2 section 2.1.4: MLA's cache equals GQA with only 2.25 groups.
  CHECK(static_cast<double>(v2.mla) / static_cast<double>(v2.mqa) == 2.25);
  const KvPerToken v3 = kv_elements_per_token(preset("deepseek-v3"), 8);
  CHECK(v3.mla == 35136);                // (512 + 64) x 61
  CHECK(v3.mha == 1998848);              // 2 x 128 x 128 x 61: 56.9 times MLA's
  const KvPerToken lite = kv_elements_per_token(preset("deepseek-v2-lite"), 4);
  CHECK(lite.mha == 2 * 16 * 128 * 27);
  CHECK(lite.gqa == 2 * 4 * 128 * 27);
  CHECK(lite.mla == 576 * 27);
  // One group is MQA, one group per head is MHA.
  CHECK(kv_elements_per_token(preset("deepseek-v3"), 1).gqa == v3.mqa);
  CHECK(kv_elements_per_token(preset("deepseek-v3"), 128).gqa == v3.mha);
}

TEST_CASE("KV cache: a group count that does not divide the heads is one sentence") {
  CHECK_THROWS_WITH_AS(kv_elements_per_token(preset("deepseek-v3"), 7), "the GQA group count (7) must divide num_attention_heads (128)",
                       std::invalid_argument);
}
