// What the MPI tests share: a tiny model's data and a parameter comparison.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>

#include "ch06/model.hpp"
#include "ch06/pretrain.hpp"
#include "common/dataset.hpp"

namespace ds::ch06::test {

inline const TokenDataset& small_data() {
  static const CorpusData d = default_corpus_dataset(60000, 300, 3);
  return d.dataset;
}

inline DeepSeekConfig tiny_config() {
  DeepSeekConfig cfg = preset("tiny");
  cfg.vocab_size = 300;
  return cfg;
}

// A short training run of 4 x 16 tokens per step.
inline PretrainConfig small_run(int64_t steps) {
  PretrainConfig pc;
  pc.train.steps = steps;
  pc.train.batch_size = 4;
  pc.train.seq_len = 16;
  pc.train.warmup = 2;
  pc.train.progress = false;
  pc.bias_gamma = 0.01f;   // large enough that a wrong (per-rank) load would show in the biases
  return pc;
}

// The largest |a - b| over two equally shaped tensors.
inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  double d = 0;
  for (int64_t i = 0; i < a.numel(); ++i) d = std::max(d, static_cast<double>(std::fabs(a.data()[i] - b.data()[i])));
  return d;
}

}  // namespace ds::ch06::test
