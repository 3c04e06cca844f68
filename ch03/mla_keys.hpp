// MLA's per-head keys in one pass (DeepSeek-V2 eq. 17: k_{t,i} = [k^C_{t,i}; k^R_t]): the
// compressed part of every head from wkv_b's output, the one RoPE key shared by all heads
// appended to each. The same as slicing k^C out, broadcasting k^R to the heads and
// concatenating, without the three intermediate copies (and their three backward copies).
#pragma once

#include "common/tensor.hpp"

namespace ds::ch03 {

// kvb [B, T, H, nope + dv] (wkv_b's output per head: k^C then v^C), k_pe [B, T, r]
//   ->  [B, T, H, nope + r]. The backward sums k^R's gradient over the heads.
Tensor mla_keys(const Tensor& kvb, const Tensor& k_pe, int64_t nope);

}  // namespace ds::ch03
