#include "common/gemm.hpp"

#include <omp.h>

#include <cmath>
#include <limits>
#include <vector>

#include "test_helpers.hpp"

using namespace ds;

namespace {
// C = alpha op(A) op(B) + beta C by the definition, in double.
std::vector<float> naive(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const std::vector<float>& a, int64_t lda,
                         const std::vector<float>& b, int64_t ldb, float beta, std::vector<float> c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) s += static_cast<double>(ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
      float& cij = c[i * ldc + j];
      cij = static_cast<float>(alpha * s + (beta == 0.f ? 0.0 : beta * static_cast<double>(cij)));
    }
  return c;
}

std::vector<float> random_values(int64_t n, uint64_t seed) {
  Rng r(seed);
  const Tensor t = randn({n}, r);
  return t.to_vector();
}

std::vector<GemmBackend> backends() {
  std::vector<GemmBackend> out = {GemmBackend::Eigen};
  if (gemm_backend_available(GemmBackend::OpenBLAS)) out.push_back(GemmBackend::OpenBLAS);
  if (gemm_backend_available(GemmBackend::OneDNN)) out.push_back(GemmBackend::OneDNN);
  return out;
}

// Restores the back end the test found.
struct BackendScope {
  GemmBackend saved = gemm_backend();
  ~BackendScope() { set_gemm_backend(saved); }
};

// Checks one product on every back end: transposes, padded strides, alpha, beta (beta = 0 over a
// C full of NaN must not read it).
void check_product(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, float beta) {
  const int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
  const std::vector<float> a = random_values((ta ? k : m) * lda, 1), b = random_values((tb ? n : k) * ldb, 2);
  std::vector<float> c0 = random_values(m * ldc, 3);
  if (beta == 0.f) c0.assign(c0.size(), std::numeric_limits<float>::quiet_NaN());
  const std::vector<float> want = naive(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c0, ldc);
  BackendScope scope;
  for (GemmBackend be : backends()) {
    set_gemm_backend(be);
    std::vector<float> c = c0;
    gemm(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
    float err = 0;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) err = std::max(err, std::abs(c[i * ldc + j] - want[i * ldc + j]) / (1.f + std::abs(want[i * ldc + j])));
    INFO(gemm_backend_name(be) << " ta=" << ta << " tb=" << tb << " m=" << m << " n=" << n << " k=" << k << " beta=" << beta);
    CHECK(err < 1e-4f);
    bool padding_kept = true;   // the padding between C's rows is never written
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = n; j < ldc; ++j) {
        const float x = c[i * ldc + j], x0 = c0[i * ldc + j];
        padding_kept = padding_kept && (x == x0 || (std::isnan(x) && std::isnan(x0)));
      }
    CHECK(padding_kept);
  }
}
}  // namespace

TEST_CASE("gemm: every back end equals the definition (transposes, strides, alpha, beta)") {
  for (const bool ta : {false, true})
    for (const bool tb : {false, true}) {
      check_product(ta, tb, 7, 5, 3, 1.f, 0.f);
      check_product(ta, tb, 17, 33, 9, 0.5f, 1.f);
      check_product(ta, tb, 4, 6, 11, -2.f, 0.25f);
    }
}

TEST_CASE("gemm: products large enough to be split over threads (by rows and by columns) equal the definition") {
  // 200 x 80 x 40 and 40 x 300 x 40 are above kGemmParallelMin: cut into row blocks, then column blocks
  REQUIRE(200 * 80 * 40 >= kGemmParallelMin);
  for (const bool ta : {false, true})
    for (const bool tb : {false, true}) {
      check_product(ta, tb, 200, 80, 40, 1.f, 0.f);
      check_product(ta, tb, 40, 300, 40, 1.f, 1.f);
    }
}

TEST_CASE("gemm: no inner dimension gives beta C, empty outputs write nothing") {
  std::vector<float> c = {1, 2, 3, 4};
  gemm(false, false, 2, 2, 0, 1.f, nullptr, 1, nullptr, 2, 0.5f, c.data(), 2);
  CHECK(c == std::vector<float>{0.5f, 1, 1.5f, 2});
  gemm(false, false, 2, 2, 0, 1.f, nullptr, 1, nullptr, 2, 0.f, c.data(), 2);
  CHECK(c == std::vector<float>{0, 0, 0, 0});
  gemm(false, false, 0, 2, 3, 1.f, nullptr, 3, nullptr, 2, 0.f, nullptr, 2);   // must not touch the null pointers
}

TEST_CASE("gemm: products called from inside a parallel region (one per thread) are each exact") {
  const int64_t m = 64, n = 96, k = 48;   // above kGemmParallelMin: outside a region it would be split
  const std::vector<float> a = random_values(m * k, 4), b = random_values(k * n, 5);
  const std::vector<float> want = naive(false, false, m, n, k, 1.f, a, k, b, n, 0.f, std::vector<float>(m * n), n);
  BackendScope scope;
  for (GemmBackend be : backends()) {
    set_gemm_backend(be);
    std::vector<std::vector<float>> outs(8, std::vector<float>(m * n));
#pragma omp parallel for num_threads(2)
    for (int i = 0; i < 8; ++i) gemm(false, false, m, n, k, 1.f, a.data(), k, b.data(), n, 0.f, outs[static_cast<size_t>(i)].data(), n);
    for (const auto& o : outs) {
      float err = 0;
      for (size_t i = 0; i < o.size(); ++i) err = std::max(err, std::abs(o[i] - want[i]));
      CHECK(err < 1e-4f);
    }
  }
}

TEST_CASE("gemm: the back end has a name and a reason, the probe measures every available one") {
  CHECK(!gemm_backend_origin().empty());
  const std::vector<GemmProbeResult> probe = gemm_probe(0.001);
  CHECK(probe.size() == backends().size());
  for (const GemmProbeResult& r : probe) CHECK(r.gflops > 0);
  CHECK(gemm_choose({{GemmBackend::Eigen, 100}, {GemmBackend::OpenBLAS, 102}}) == GemmBackend::Eigen);   // a tie keeps Eigen
  CHECK(gemm_choose({{GemmBackend::Eigen, 100}, {GemmBackend::OpenBLAS, 150}}) == GemmBackend::OpenBLAS);
  CHECK(gemm_choose({{GemmBackend::Eigen, 100}}) == GemmBackend::Eigen);
  // oneDNN is measured but not chosen: faster in the probe, slower inside the training step (gemm.cpp)
  CHECK(gemm_choose({{GemmBackend::Eigen, 100}, {GemmBackend::OpenBLAS, 150}, {GemmBackend::OneDNN, 160}}) == GemmBackend::OpenBLAS);
  CHECK(gemm_choose({{GemmBackend::Eigen, 100}, {GemmBackend::OpenBLAS, 90}, {GemmBackend::OneDNN, 110}}) == GemmBackend::Eigen);
}
