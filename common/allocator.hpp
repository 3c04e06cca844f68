// A caching allocator for tensor storage, like PyTorch's: a training step frees and
// reallocates the same activation sizes every step, and returning them to the operating
// system each time costs page faults (kernel time) on every first touch. Freed blocks are
// kept in size classes (4 per power of two, so at most 25% slack) and handed out again.
#pragma once

#include <cstdint>

namespace ds::allocator {

float* acquire(int64_t n_floats);            // 64-byte aligned, contents undefined
void release(float* p, int64_t n_floats);
int64_t cached_bytes();                      // held for reuse, not in use by tensors
void empty_cache();                          // gives the cached blocks back to the system

}  // namespace ds::allocator
