// Positions (book chapter 3): the Transformer's sinusoidal encoding, which is added to the
// embeddings, and rotary position embedding (RoPE), which rotates queries and keys so that
// q.k depends only on the offset between the two tokens. DeepSeek-V2/V3 apply RoPE to a small
// decoupled part of each head (qk_rope_head_dim = 64) and extend the context with YaRN
// (V3: trained at 4K, extended to 128K with rope_scaling factor 40).
#pragma once

#include <vector>

#include "common/deepseek_config.hpp"
#include "common/tensor.hpp"

namespace ds::ch03 {

// [T, D]: PE(p, 2i) = sin(p / 10000^(2i/D)), PE(p, 2i+1) = cos(p / 10000^(2i/D))  (Vaswani et al.)
Tensor sinusoidal_encoding(int64_t positions, int64_t dim, double base = 10000.0);

// rope_scaling as DeepSeek-V3's config.json spells it ("type": "yarn"); it lives with the config.
using YarnConfig = ds::YarnConfig;

struct RopeConfig {
  int64_t dim = 64;                 // qk_rope_head_dim
  double theta = 10000.0;           // rope_theta
  int64_t max_positions = 4096;     // the context the tables cover
  YarnConfig yarn;
};

// The rotation frequency of each pair i (dim/2 of them). With YaRN and a context beyond the
// original one, high frequencies (many rotations over the original context) are kept, low ones
// divided by `factor`, and a linear ramp blends the band between (DeepSeek-V3 inference/model.py).
std::vector<double> rope_frequencies(const RopeConfig& cfg);

struct RopeTables {
  Tensor cos, sin;   // [max_positions, dim/2], what ds::rope takes
};
RopeTables rope_tables(const RopeConfig& cfg);

// YaRN's attention temperature: the softmax scale is multiplied by this factor squared
// (0.1 * mscale * ln(factor) + 1, for contexts beyond the original; 1 otherwise).
double yarn_mscale(const RopeConfig& cfg);

// q.k after rotating q [D] to position m and k [D] to position n: RoPE's relative-offset
// property says this depends on m - n only.
double rotated_dot(const Tensor& q, const Tensor& k, int64_t m, int64_t n, const RopeTables& t);

}  // namespace ds::ch03
