#include "common/memory.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>

namespace ds::memory {
namespace {
std::atomic<int64_t> g_live{0};
std::atomic<int64_t> g_peak{0};

// "KEY:   123 kB" in a /proc file, in bytes (0 when absent).
int64_t proc_kb(const char* file, const char* key) {
  std::ifstream f(file);
  std::string line;
  const std::string k = std::string(key) + ":";
  while (std::getline(f, line))
    if (line.rfind(k, 0) == 0) return std::stoll(line.substr(k.size())) * 1024;
  return 0;
}
}  // namespace

void on_alloc(int64_t bytes) {
  const int64_t now = g_live.fetch_add(bytes) + bytes;
  int64_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
}
void on_free(int64_t bytes) { g_live.fetch_sub(bytes); }
int64_t live_bytes() { return g_live.load(); }
int64_t peak_bytes() { return g_peak.load(); }
void reset_peak() { g_peak.store(g_live.load()); }
int64_t rss_bytes() { return proc_kb("/proc/self/status", "VmRSS"); }
int64_t peak_rss_bytes() { return proc_kb("/proc/self/status", "VmHWM"); }

std::string human_bytes(double b) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (b >= 1000.0 && u < 4) { b /= 1000.0; ++u; }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", b, units[u]);
  return buf;
}

namespace {
// The first number in a file ("max" and unreadable files give -1).
int64_t file_number(const char* path) {
  std::ifstream f(path);
  std::string word;
  if (!(f >> word) || word.empty() || word.size() > 18 || word.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(word);
}
}  // namespace

int64_t available_bytes() {
  int64_t avail = proc_kb("/proc/meminfo", "MemAvailable");
  const int64_t limit = file_number("/sys/fs/cgroup/memory.max"), used = file_number("/sys/fs/cgroup/memory.current");
  if (limit > 0 && used >= 0) avail = avail > 0 ? std::min(avail, std::max<int64_t>(limit - used, 0)) : std::max<int64_t>(limit - used, 0);
  return avail;
}

void require_fits(double need, const std::string& what, const std::string& advice) {
  const int64_t avail = available_bytes();
  if (avail <= 0 || need <= static_cast<double>(avail)) return;
  throw std::runtime_error(what + " needs at least " + human_bytes(need) + " of memory, but this machine has " + human_bytes(static_cast<double>(avail)) +
                           " available; " + advice);
}

}  // namespace ds::memory
