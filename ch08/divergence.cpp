#include "ch08/divergence.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/autograd.hpp"
#include "common/kernels.hpp"
#include "common/ops.hpp"

namespace ds::ch08 {
namespace {

// logp = log_softmax(x * inv_temp) of one row of length v.
void log_softmax_row(const float* x, int64_t v, float inv_temp, float* logp) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < v; ++j) m = std::max(m, x[j] * inv_temp);
  double s = 0;
  for (int64_t j = 0; j < v; ++j) s += std::exp(static_cast<double>(x[j] * inv_temp - m));
  const float lse = m + static_cast<float>(std::log(s));
  for (int64_t j = 0; j < v; ++j) logp[j] = x[j] * inv_temp - lse;
}

// One row's divergence for beta in (0, 1]; with grad != nullptr also d(divergence)/d(z), z =
// student logits / T, written into grad (length v). lt, ls: the row's log-probs; lm: scratch.
double row_divergence(const float* lt, const float* ls, float* lm, int64_t v, float beta, float* grad) {
  double d = 0;
  if (beta >= 1.f) {   // reverse KL: sum q (log q - log p)
    for (int64_t j = 0; j < v; ++j) d += std::exp(ls[j]) * (ls[j] - lt[j]);
    // dKL(q||p)/dz_j = q_j (log q_j - log p_j - KL)
    if (grad)
      for (int64_t j = 0; j < v; ++j) grad[j] = std::exp(ls[j]) * static_cast<float>(ls[j] - lt[j] - d);
    return d;
  }
  const float lb = std::log(beta), l1b = std::log1p(-beta);
  for (int64_t j = 0; j < v; ++j) {   // log m = logaddexp(log beta + log p, log(1 - beta) + log q)
    const float a = lb + lt[j], b = l1b + ls[j], hi = std::max(a, b);
    lm[j] = hi + std::log1p(std::exp(std::min(a, b) - hi));
  }
  for (int64_t j = 0; j < v; ++j) d += beta * std::exp(lt[j]) * (lt[j] - lm[j]) + (1.f - beta) * std::exp(ls[j]) * (ls[j] - lm[j]);
  if (grad) {
    // dJSD/dq_j = (1 - beta) log(q_j / m_j) (the other terms cancel because m = beta p + (1 - beta) q);
    // through the softmax: dz_j = q_j (g_j - sum_k q_k g_k).
    double mean_g = 0;
    for (int64_t j = 0; j < v; ++j) mean_g += std::exp(ls[j]) * (1.f - beta) * (ls[j] - lm[j]);
    for (int64_t j = 0; j < v; ++j) grad[j] = std::exp(ls[j]) * static_cast<float>((1.f - beta) * (ls[j] - lm[j]) - mean_g);
  }
  return d;
}

}  // namespace

Tensor token_divergence(const Tensor& student_logits, const Tensor& teacher_logits, const DivergenceOptions& opt) {
  if (student_logits.dim() != 2) shape_error("token_divergence", "logits must be [N, V]", student_logits.shape());
  if (student_logits.shape() != teacher_logits.shape())
    shape_error("token_divergence", "student and teacher logits differ in shape", student_logits.shape(), teacher_logits.shape());
  if (!(opt.beta >= 0.f && opt.beta <= 1.f)) throw std::invalid_argument("token_divergence: beta must be in [0, 1], not " + std::to_string(opt.beta));
  if (!(opt.temperature > 0.f)) throw std::invalid_argument("token_divergence: the temperature must be positive");
  if (opt.beta == 0.f) return distill_kl(student_logits, teacher_logits, opt.temperature);

  const int64_t n = student_logits.size(0), v = student_logits.size(1);
  const float it = 1.f / opt.temperature, t2 = opt.temperature * opt.temperature, beta = opt.beta;
  Tensor out = Tensor::zeros({n});
  const float* sd = student_logits.data();
  const float* td = teacher_logits.data();
#pragma omp parallel if (n * v > kernels::kParallelMin)
  {
    std::vector<float> lt(static_cast<size_t>(v)), ls(lt.size()), lm(lt.size());
#pragma omp for
    for (int64_t r = 0; r < n; ++r) {
      log_softmax_row(td + r * v, v, it, lt.data());
      log_softmax_row(sd + r * v, v, it, ls.data());
      out.data()[r] = static_cast<float>(row_divergence(lt.data(), ls.data(), lm.data(), v, beta, nullptr)) * t2;
    }
  }
  const Tensor s = student_logits.detach(), t = teacher_logits.detach();
  const float temp = opt.temperature;
  return record(out, {student_logits}, "token_divergence", [s, t, n, v, it, temp, beta](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& gin) {
    gin[0] = Tensor::zeros(s.shape());
#pragma omp parallel if (n * v > kernels::kParallelMin)
    {
      std::vector<float> lt(static_cast<size_t>(v)), ls(lt.size()), lm(lt.size());
#pragma omp for
      for (int64_t r = 0; r < n; ++r) {
        float* gr = gin[0].data() + r * v;
        log_softmax_row(t.data() + r * v, v, it, lt.data());
        log_softmax_row(s.data() + r * v, v, it, ls.data());
        row_divergence(lt.data(), ls.data(), lm.data(), v, beta, gr);
        // d(T^2 D)/ds = T^2 * (1/T) dD/dz = T dD/dz
        for (int64_t j = 0; j < v; ++j) gr[j] *= g.data()[r] * temp;
      }
    }
  });
}

Tensor forward_kl(const Tensor& student_logits, const Tensor& teacher_logits, float temperature) {
  return token_divergence(student_logits, teacher_logits, {.beta = 0.f, .temperature = temperature});
}

Tensor reverse_kl(const Tensor& student_logits, const Tensor& teacher_logits, float temperature) {
  return token_divergence(student_logits, teacher_logits, {.beta = 1.f, .temperature = temperature});
}

}  // namespace ds::ch08
