// The toolkit for writing a fused op: Eigen views of tensors, Eigen packet math and the size
// below which a loop stays on one thread. The core's ops use it, and so may a chapter that
// writes its own fused op (ch04's routed experts). Include it from .cpp files only, so Eigen
// stays out of the headers chapters include.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <type_traits>

#include "common/gemm.hpp"
#include "common/tensor.hpp"

namespace ds::kernels {

using MatR = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MapR = Eigen::Map<MatR>;
using CMapR = Eigen::Map<const MatR>;
using VecMap = Eigen::Map<Eigen::VectorXf>;
using CVecMap = Eigen::Map<const Eigen::VectorXf>;

// The tensor viewed as a [rows, cols] row-major matrix, cols = last dimension.
inline CMapR mat(const Tensor& t) {
  const int64_t c = t.dim() ? t.shape().back() : 1;
  return CMapR(t.data(), c ? t.numel() / c : 0, c);
}
inline MapR mat(Tensor& t) {
  const int64_t c = t.dim() ? t.shape().back() : 1;
  return MapR(t.data(), c ? t.numel() / c : 0, c);
}
inline CMapR mat(const float* p, int64_t r, int64_t c) { return CMapR(p, r, c); }
inline MapR mat(float* p, int64_t r, int64_t c) { return MapR(p, r, c); }

// C = alpha * op(A) op(B) + beta * C through ds::gemm, on row-major Eigen views (maps, blocks of
// them, matrices): A and B as stored, op() their transpose where trans_a / trans_b say so.
// gemm_float32 is the same through ds::gemm_float32 (float32 whatever the GEMM precision).
template <bool kFloat32 = false, class CM, class AM, class BM>
void gemm(CM&& c, const AM& a, bool trans_a, const BM& b, bool trans_b, float alpha = 1.f, float beta = 0.f) {
  static_assert(std::decay_t<CM>::IsRowMajor && AM::IsRowMajor && BM::IsRowMajor, "gemm takes row-major views");
  eigen_assert(c.innerStride() == 1 && a.innerStride() == 1 && b.innerStride() == 1);
  const int64_t m = trans_a ? a.cols() : a.rows(), k = trans_a ? a.rows() : a.cols(), n = trans_b ? b.rows() : b.cols();
  eigen_assert(c.rows() == m && c.cols() == n && (trans_b ? b.cols() : b.rows()) == k);
  (kFloat32 ? ds::gemm_float32 : ds::gemm)(trans_a, trans_b, m, n, k, alpha, a.data(), a.outerStride(), b.data(), b.outerStride(), beta,
                                           c.data(), c.outerStride());
}
template <class CM, class AM, class BM>
void gemm_float32(CM&& c, const AM& a, bool trans_a, const BM& b, bool trans_b, float alpha = 1.f, float beta = 0.f) {
  gemm<true>(std::forward<CM>(c), a, trans_a, b, trans_b, alpha, beta);
}

// Rows of [..., C] as (rows, C).
inline int64_t last_dim(const Tensor& t) { return t.dim() ? t.shape().back() : 1; }
inline int64_t outer(const Tensor& t) {
  const int64_t c = last_dim(t);
  return c ? t.numel() / c : 0;
}

// The logistic function of an Eigen array expression, evaluated once with Eigen's packet exp
// (16 lanes at a time instead of one expf call per element).
template <class A>
auto sigmoid_packet(const Eigen::ArrayBase<A>& x) {
  return ((-x).exp() + 1.f).inverse().eval();
}

// Elementwise loops below this size run on one thread: spawning costs more than it saves.
constexpr int64_t kParallelMin = 1 << 15;

}  // namespace ds::kernels
