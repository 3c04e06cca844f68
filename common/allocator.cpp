#include "common/allocator.hpp"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace ds::allocator {
namespace {
constexpr int64_t kMaxCached = int64_t{4} << 30;   // beyond this, freed blocks go back to the system

struct Cache {
  std::mutex mu;
  std::unordered_map<int64_t, std::vector<float*>> free;   // size class (floats) -> blocks
  int64_t bytes = 0;
};
Cache& cache() {
  static Cache* c = new Cache;   // never destroyed: tensors may die during static destruction
  return *c;
}

// Rounds up to one of 4 sizes per power of two (whole multiples of 16 floats = 64 bytes).
int64_t size_class(int64_t n) {
  if (n <= 16) return 16;
  int64_t p = 16;
  while (p * 2 < n) p *= 2;
  const int64_t q = std::max<int64_t>(p / 4, 16);   // aligned_alloc wants whole 64-byte units
  return (n + q - 1) / q * q;
}
}  // namespace

float* acquire(int64_t n) {
  const int64_t cls = size_class(n);
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free.find(cls);
    if (it != c.free.end() && !it->second.empty()) {
      float* p = it->second.back();
      it->second.pop_back();
      c.bytes -= cls * static_cast<int64_t>(sizeof(float));
      return p;
    }
  }
  void* p = std::aligned_alloc(64, static_cast<size_t>(cls) * sizeof(float));
  if (!p) throw std::bad_alloc();
  return static_cast<float*>(p);
}

void release(float* p, int64_t n) {
  const int64_t cls = size_class(n), bytes = cls * static_cast<int64_t>(sizeof(float));
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.bytes + bytes <= kMaxCached) {
      c.free[cls].push_back(p);
      c.bytes += bytes;
      return;
    }
  }
  std::free(p);
}

int64_t cached_bytes() {
  std::lock_guard<std::mutex> lock(cache().mu);
  return cache().bytes;
}

void empty_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [cls, blocks] : c.free)
    for (float* p : blocks) std::free(p);
  c.free.clear();
  c.bytes = 0;
}

}  // namespace ds::allocator
