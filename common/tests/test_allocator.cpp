#include <doctest/doctest.h>

#include <cstdint>

#include "common/allocator.hpp"
#include "common/memory.hpp"
#include "common/tensor.hpp"

using namespace ds;

TEST_CASE("allocator: blocks are 64-byte aligned and reused after release") {
  float* a = allocator::acquire(1000);
  CHECK(reinterpret_cast<uintptr_t>(a) % 64 == 0);
  allocator::release(a, 1000);
  const int64_t cached = allocator::cached_bytes();
  CHECK(cached >= 4000);
  float* b = allocator::acquire(990);   // same size class: the cached block comes back
  CHECK(b == a);
  CHECK(allocator::cached_bytes() < cached);
  allocator::release(b, 990);
  allocator::empty_cache();
  CHECK(allocator::cached_bytes() == 0);
}

TEST_CASE("allocator: reused storage is handed to tensors zero-filled, accounting counts logical bytes") {
  const int64_t live = memory::live_bytes();
  { Tensor t = Tensor::full({300}, 7.f); }
  Tensor z = Tensor::zeros({300});
  CHECK(memory::live_bytes() - live == 1200);
  for (int64_t i = 0; i < 300; ++i) CHECK(z.data()[i] == 0.f);
}
