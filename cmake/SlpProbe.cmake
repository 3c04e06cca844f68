# Debian 12's GCC 12.2 miscompiles small constant initialisers with its SLP vectoriser when it
# targets AVX-512: `std::vector<double> v = {5, 5, 0, 0}` comes out as {5, 5, 5, 5}. Found by
# ch04's load-entropy test. Probe the compiler with the same flags and switch the SLP vectoriser
# off when it gets this wrong (loop vectorisation, which the kernels rely on, stays on).
include(CheckCXXSourceRuns)
set(CMAKE_REQUIRED_FLAGS "-O2 -march=native")
check_cxx_source_runs([=[
#include <vector>
__attribute__((noinline)) double weigh(const std::vector<double>& v) {
  double s = 0;
  for (size_t i = 0; i < v.size(); ++i) s += v[i] * static_cast<double>(i + 1);
  return s;
}
int main() {
  const std::vector<double> a = {5.0, 5.0, 0.0, 0.0};
  return weigh(a) == 15.0 ? 0 : 1;
}
]=] DS_SLP_VECTORIZER_CORRECT)
unset(CMAKE_REQUIRED_FLAGS)
if(NOT DS_SLP_VECTORIZER_CORRECT)
  message(STATUS "This compiler's SLP vectoriser miscompiles constant initialisers with -march=native: adding -fno-tree-slp-vectorize")
  add_compile_options(-fno-tree-slp-vectorize)
endif()
