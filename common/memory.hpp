// Tensor-memory accounting: every Storage adds its bytes on creation and removes them when
// the last view dies, so live and peak bytes are exact (like torch.cuda.memory_allocated and
// max_memory_allocated). Process RSS comes from /proc for comparison.
#pragma once

#include <cstdint>
#include <string>

namespace ds::memory {

int64_t live_bytes();          // bytes held by tensors right now
int64_t peak_bytes();          // highest live_bytes() since the last reset_peak()
void reset_peak();             // peak := live
int64_t rss_bytes();           // resident set size of this process (0 where unknown)
int64_t peak_rss_bytes();      // VmHWM, the high-water mark of the RSS (0 where unknown)

void on_alloc(int64_t bytes);  // called by Storage
void on_free(int64_t bytes);

std::string human_bytes(double bytes);   // "12.3 MB" (decimal units, as the papers use)

// Memory this process may still take: the kernel's MemAvailable, or less when a cgroup limit
// (containers, schedulers) leaves less (0 where unknown).
int64_t available_bytes();
// Refuses, before anything is allocated, a configuration whose estimated need exceeds
// available_bytes(): one sentence "WHAT needs at least NEED, but this machine has AVAILABLE
// available; ADVICE" (std::runtime_error). `need` is a lower bound, so what is refused cannot fit.
void require_fits(double need, const std::string& what, const std::string& advice);

}  // namespace ds::memory
