#include "common/gemm_onednn.hpp"

#include <omp.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "common/dtype.hpp"
#include "common/gemm.hpp"
#include "common/ops.hpp"
#include "test_helpers.hpp"

using namespace ds;

namespace {
std::vector<float> values(int64_t n, uint64_t seed) { return test::rnd({n}, seed).to_vector(); }

// C = alpha op(A) op(B) + beta C in double, optionally on the BF16-rounded A and B; also the sum
// of |a b| per element, the scale of float32 accumulation's rounding.
struct Reference {
  std::vector<float> c;
  std::vector<double> abs_sum;
};
Reference reference(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const std::vector<float>& a, int64_t lda,
                    const std::vector<float>& b, int64_t ldb, float beta, std::vector<float> c, int64_t ldc, bool round) {
  const auto r = [round](float x) { return static_cast<double>(round ? round_to_bf16(x) : x); };
  std::vector<double> abs_sum(c.size(), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0, s_abs = 0;
      for (int64_t p = 0; p < k; ++p) {
        const double x = r(ta ? a[p * lda + i] : a[i * lda + p]) * r(tb ? b[j * ldb + p] : b[p * ldb + j]);
        s += x;
        s_abs += std::abs(x);
      }
      float& cij = c[i * ldc + j];
      abs_sum[i * ldc + j] = std::abs(alpha) * s_abs + std::abs(beta * static_cast<double>(beta == 0.f ? 0.f : cij));
      cij = static_cast<float>(alpha * s + (beta == 0.f ? 0.0 : beta * static_cast<double>(cij)));
    }
  return {c, abs_sum};
}

struct PrecisionScope {
  GemmPrecision saved = gemm_precision();
  explicit PrecisionScope(GemmPrecision p) { set_gemm_precision(p); }
  ~PrecisionScope() { set_gemm_precision(saved); }
};

// One product in BF16 mode: equal to the float GEMM of the BF16-rounded operands within float32
// accumulation (a few units of 2^-24 times the sum of |a b|), and farther than that from the
// float GEMM of the unrounded operands somewhere (so the inputs really were rounded).
void check_bf16_product(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, float beta) {
  const int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
  const std::vector<float> a = values((ta ? k : m) * lda, 11), b = values((tb ? n : k) * ldb, 12);
  std::vector<float> c0 = values(m * ldc, 13);
  if (beta == 0.f) c0.assign(c0.size(), std::numeric_limits<float>::quiet_NaN());
  const Reference rounded = reference(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c0, ldc, true);
  const Reference exact = reference(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c0, ldc, false);
  std::vector<float> c = c0;
  {
    PrecisionScope bf16(GemmPrecision::BF16);
    gemm(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
  }
  bool within = true, padding_kept = true;
  double farthest_from_exact = 0;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      const size_t e = static_cast<size_t>(i * ldc + j);
      const double tol = 1e-6 * (1.0 + rounded.abs_sum[e]) + 4.0 * static_cast<double>(k) * 6e-8 * rounded.abs_sum[e];
      within = within && std::abs(static_cast<double>(c[e]) - rounded.c[e]) <= tol;
      farthest_from_exact = std::max(farthest_from_exact, std::abs(static_cast<double>(c[e]) - exact.c[e]) / tol);
    }
    for (int64_t j = n; j < ldc; ++j) padding_kept = padding_kept && std::isnan(c[i * ldc + j]) == std::isnan(c0[i * ldc + j]);
  }
  INFO("ta=" << ta << " tb=" << tb << " m=" << m << " n=" << n << " k=" << k << " alpha=" << alpha << " beta=" << beta);
  CHECK(within);
  CHECK(farthest_from_exact > 1.0);
  CHECK(padding_kept);
}
}  // namespace

TEST_CASE("gemm_onednn: BF16 unavailable says why in one sentence and is never emulated") {
  if (bf16_gemm_available()) {
    CHECK(bf16_gemm_unavailable_reason().empty());
    CHECK(bf16_gemm_implementation().find("bf16") != std::string::npos);   // oneDNN runs a BF16 kernel, not its f32 one
    CHECK(parse_gemm_precision("auto") == GemmPrecision::BF16);
    return;
  }
  CHECK(!bf16_gemm_unavailable_reason().empty());
  CHECK(parse_gemm_precision("auto") == GemmPrecision::Float32);
  CHECK_THROWS_AS(parse_gemm_precision("bf16"), std::invalid_argument);
  CHECK_THROWS_AS(set_gemm_precision(GemmPrecision::BF16), std::invalid_argument);
  CHECK(gemm_precision() == GemmPrecision::Float32);
}

TEST_CASE("gemm_onednn: a bad precision name is one sentence") {
  CHECK_THROWS_WITH_AS(parse_gemm_precision("fp16"), doctest::Contains("float32, bf16 or auto"), std::invalid_argument);
  CHECK(parse_gemm_precision("float32") == GemmPrecision::Float32);
}

TEST_CASE("gemm_onednn: BF16 equals the float GEMM of BF16-rounded operands (transposes, strides, alpha, beta, threads)") {
  if (!bf16_gemm_available()) return;
  for (const bool ta : {false, true})
    for (const bool tb : {false, true}) {
      check_bf16_product(ta, tb, 7, 5, 19, 1.f, 0.f);
      check_bf16_product(ta, tb, 17, 33, 40, 0.5f, 1.f);
      check_bf16_product(ta, tb, 4, 6, 31, -2.f, 0.25f);
      check_bf16_product(ta, tb, 200, 80, 40, 1.f, 0.f);   // split over the threads by rows
      check_bf16_product(ta, tb, 40, 300, 40, 1.f, 1.f);   // by columns
    }
}

TEST_CASE("gemm_onednn: BF16 products from inside a parallel region (one per thread) are each right") {
  if (!bf16_gemm_available()) return;
  const int64_t m = 64, n = 96, k = 48;
  const std::vector<float> a = values(m * k, 4), b = values(k * n, 5);
  const Reference want = reference(false, false, m, n, k, 1.f, a, k, b, n, 0.f, std::vector<float>(m * n), n, true);
  PrecisionScope bf16(GemmPrecision::BF16);
  std::vector<std::vector<float>> outs(8, std::vector<float>(m * n));
#pragma omp parallel for num_threads(2)
  for (int i = 0; i < 8; ++i) gemm(false, false, m, n, k, 1.f, a.data(), k, b.data(), n, 0.f, outs[static_cast<size_t>(i)].data(), n);
  for (const auto& o : outs) {
    double err = 0;
    for (size_t i = 0; i < o.size(); ++i) err = std::max(err, std::abs(o[i] - want.c[i]) / (1.0 + want.abs_sum[i]));
    CHECK(err < 1e-5);
  }
}

TEST_CASE("gemm_onednn: BF16 gradient check through a linear layer at BF16 precision") {
  if (!bf16_gemm_available()) return;
  // x and W hold multiples of 1/16 in [-4, 4] (at most 7 significant bits, exact in BF16) and the
  // step is 1/16, so x +- eps stays exact: the forward rounds nothing and central differences are
  // exact up to float32 accumulation. The backward rounds the check's random upstream gradient g
  // to BF16 (relative error <= 2^-9 each), so dx_i = sum_o g_o W_oi is off by up to
  // 2^-9 sum_o |g_o W_oi|: about 0.01 here (5 outputs, |g| ~ 1, |W| up to 4), hence atol 0.03; a
  // wrong backward (a missing term, a transpose) is off by O(1).
  const auto grid = [](Tensor t) {
    std::vector<float> v = t.to_vector();
    for (float& x : v) x = std::clamp(std::round(x * 16.f) / 16.f, -4.f, 4.f);
    return Tensor::from(v, t.shape());
  };
  const Tensor x = grid(test::rnd({6, 12}, 21)), w = grid(test::rnd({5, 12}, 22));
  PrecisionScope bf16(GemmPrecision::BF16);
  GradCheckOptions opt;
  opt.eps = 1.0 / 16;
  opt.atol = 0.03;
  CHECK_GRAD([](const std::vector<Tensor>& in) { return linear(in[0], in[1]); }, {x, w}, opt);
}
