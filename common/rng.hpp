// A seeded random number generator whose output is the same on every platform and compiler
// (std::normal_distribution is not), so the same --seed gives the same numbers everywhere.
#pragma once

#include <cstdint>

#include "common/tensor.hpp"

namespace ds {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { reseed(seed); }
  void reseed(uint64_t seed);
  uint64_t next_u64();                       // xoshiro256**
  double uniform();                          // [0, 1)
  float uniform(float lo, float hi) { return lo + static_cast<float>(uniform()) * (hi - lo); }
  int64_t randint(int64_t n);                // [0, n), unbiased
  double normal();                           // Box-Muller, standard normal
  Rng split();                               // an independent child stream

  // The whole generator state, so a resumed run draws the same numbers (checkpoints).
  struct State {
    uint64_t s[4];
    double spare;
    bool has_spare;
  };
  State state() const { return {{s_[0], s_[1], s_[2], s_[3]}, spare_, has_spare_}; }
  void set_state(const State& st) {
    for (int i = 0; i < 4; ++i) s_[i] = st.s[i];
    spare_ = st.spare;
    has_spare_ = st.has_spare;
  }

 private:
  uint64_t s_[4]{};
  double spare_ = 0.0;
  bool has_spare_ = false;
};

Tensor randn(const Shape& shape, Rng& rng, float std = 1.f);
Tensor rand_uniform(const Shape& shape, Rng& rng, float lo, float hi);

}  // namespace ds
