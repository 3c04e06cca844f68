// The small MLA shape ch03's tests share: hidden 16, 2 heads, latent 6, RoPE 4, large weights
// (init 0.4) so that differences between paths would show.
#pragma once

#include "ch03/mla.hpp"

namespace ds::ch03 {

inline MLAConfig tiny_mla(int64_t q_lora) {
  MLAConfig c;
  c.hidden_size = 16;
  c.num_heads = 2;
  c.q_lora_rank = q_lora;
  c.kv_lora_rank = 6;
  c.qk_nope_head_dim = 4;
  c.qk_rope_head_dim = 4;
  c.v_head_dim = 3;
  c.init_std = 0.4f;
  c.rope.max_positions = 64;
  return c;
}

}  // namespace ds::ch03
