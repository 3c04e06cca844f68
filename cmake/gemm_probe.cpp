// Run once by cmake/GemmProbe.cmake at configure time: times each GEMM back end on this machine
// (ds::gemm_probe) and prints one "name GFLOP/s" line per back end, then the choice.
#include <cstdio>

#include "common/gemm.hpp"

int main() {
  const std::vector<ds::GemmProbeResult> probe = ds::gemm_probe();
  for (const ds::GemmProbeResult& r : probe) std::printf("%s %.1f\n", ds::gemm_backend_name(r.backend).c_str(), r.gflops);
  std::printf("choice %s\n", ds::gemm_backend_name(ds::gemm_choose(probe)).c_str());
  return 0;
}
