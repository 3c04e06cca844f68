#include <doctest/doctest.h>

#include <cmath>

#include "ch02/kv_cache.hpp"
#include "common/autograd.hpp"
#include "common/memory.hpp"
#include "test_helpers_ch02.hpp"

using namespace ds;
using namespace ds::ch02;

TEST_CASE("kv cache: decoding token by token equals full recomputation at every position (MHA, GQA, MQA)") {
  for (auto [h, kv] : {std::pair{4, 4}, std::pair{4, 2}, std::pair{4, 1}}) {
    CAPTURE(kv);
    auto model = test::tiny_lm(h, kv);
    NoGradGuard ng;
    std::vector<int32_t> ids = {3, 17, 9, 41, 2, 2, 30, 11, 5, 48};
    const int64_t n = static_cast<int64_t>(ids.size());
    const Tensor full = model->forward(IntTensor(ids, {1, n}));   // [1, n, V]
    Caches caches = model->make_caches(1, n);
    // a 3-token prefill, then one token at a time
    Tensor first = model->forward(IntTensor({ids[0], ids[1], ids[2]}, {1, 3}), &caches);
    float worst = 0;
    for (int64_t i = 0; i < 3 * 50; ++i) worst = std::max(worst, std::abs(first.data()[i] - full.data()[i]));
    for (int64_t p = 3; p < n; ++p) {
      const Tensor step = model->forward(IntTensor({ids[static_cast<size_t>(p)]}, {1, 1}), &caches);
      for (int64_t j = 0; j < 50; ++j) worst = std::max(worst, std::abs(step.data()[j] - full.data()[p * 50 + j]));
    }
    CHECK(worst < 1e-5f);
    CHECK(cache_length(caches) == n);
  }
}

TEST_CASE("kv cache: the byte formula equals the bytes actually allocated") {
  auto model = test::tiny_lm(4, 2);
  const int64_t before = memory::live_bytes();
  Caches caches = model->make_caches(3, 40);
  const int64_t allocated = memory::live_bytes() - before;
  const int64_t formula = 2 /*layers*/ * KVCache::formula_bytes(3, 2, 8, 40);
  CHECK(allocated == formula);
  CHECK(cache_bytes(caches) == formula);
  NoGradGuard ng;
  model->forward(IntTensor(std::vector<int32_t>(3 * 5, 1), {3, 5}), &caches);
  CHECK(cache_bytes_used(caches) == 2 * KVCache::formula_bytes(3, 2, 8, 5));
}

TEST_CASE("kv cache: appending past capacity or with the wrong shape is one clear error") {
  KVCache c(1, 2, 4, 8);
  c.append(Tensor::zeros({1, 2, 3, 8}), Tensor::zeros({1, 2, 3, 8}));
  CHECK_THROWS_WITH_AS(c.append(Tensor::zeros({1, 2, 2, 8}), Tensor::zeros({1, 2, 2, 8})),
                       "KVCache: 5 tokens exceed the 4 it was allocated for", std::length_error);
  CHECK_THROWS_AS(c.append(Tensor::zeros({1, 3, 1, 8}), Tensor::zeros({1, 3, 1, 8})), std::invalid_argument);
}
