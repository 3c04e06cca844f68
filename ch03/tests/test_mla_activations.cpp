#include <doctest/doctest.h>

#include "ch03/mla_activations.hpp"
#include "common/memory.hpp"
#include "tiny_mla.hpp"

using namespace ds;
using namespace ds::ch03;

TEST_CASE("mla activations: with recomputation the forward keeps the latents, not what lies between them and the attention") {
  for (int64_t q_lora : {8, 0}) {
    CAPTURE(q_lora);
    const MLAConfig c = tiny_mla(q_lora);
    Rng rng(6);
    MultiHeadLatentAttention m(c, rng);
    const Tensor x = randn({3, 5, 16}, rng).requires_grad_();
    const auto kept = [&] {
      const int64_t base = memory::live_bytes();
      const Tensor out = m.forward(x, nullptr);
      return memory::live_bytes() - base;
    };
    const int64_t plain = kept();
    m.recompute = true;
    const int64_t recomputed = kept();
    // 3 x 5 tokens, less the one float the region's node hangs off.
    CHECK(plain - recomputed == 3 * 5 * mla_recompute_elements_per_token(c) * 4 - 4);
  }
  // hidden 16, 2 heads, kv_lora 6, nope 4, rope 4, v 3: 72 numbers per token (q 16, c_KV 2 x 6,
  // k_pe 2 x 4, wkv_b's output 14, k 16, v 6), and q_norm's and wq_b's outputs (8 + 2 x 8) with
  // query compression.
  CHECK(mla_recompute_elements_per_token(tiny_mla(0)) == 72);
  CHECK(mla_recompute_elements_per_token(tiny_mla(8)) == 96);
  CHECK(block_recompute_elements_per_token(tiny_mla(8), 16) == 96 + 32);
}
