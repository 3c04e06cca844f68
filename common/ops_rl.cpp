// Per-token terms that RL (ch07) and distillation (ch08) need, fused so that a [N, V] logits
// tensor is read once: log-probs of chosen tokens, entropies, the GRPO KL estimator and the
// soft-target distillation KL.
#include <cmath>
#include <limits>

#include "common/autograd.hpp"
#include "common/kernels.hpp"
#include "common/ops.hpp"

namespace ds {
using namespace kernels;

namespace {
// Softmax of one row into p (length v); returns log-sum-exp.
float row_softmax(const float* x, int64_t v, float inv_temp, float* p) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < v; ++j) m = std::max(m, x[j] * inv_temp);
  double s = 0;
  for (int64_t j = 0; j < v; ++j) {
    p[j] = std::exp(x[j] * inv_temp - m);
    s += p[j];
  }
  for (int64_t j = 0; j < v; ++j) p[j] = static_cast<float>(p[j] / s);
  return m + static_cast<float>(std::log(s));
}

void check_logits(const Tensor& logits, const char* op) {
  if (logits.dim() != 2) shape_error(op, "logits must be [N, V]", logits.shape());
}
}  // namespace

Tensor token_log_probs(const Tensor& logits, const IntTensor& targets, int32_t ignore_index) {
  check_logits(logits, "token_log_probs");
  const int64_t n = logits.size(0), v = logits.size(1);
  if (targets.numel() != n) shape_error("token_log_probs", "needs one target per row", logits.shape(), targets.shape);
  Tensor out = Tensor::zeros({n});
  std::vector<float> p(static_cast<size_t>(v));
  for (int64_t r = 0; r < n; ++r) {
    const int32_t t = targets[r];
    if (t == ignore_index) continue;
    if (t < 0 || t >= v) throw std::invalid_argument("token_log_probs: target " + std::to_string(t) + " is outside the vocabulary");
    out.data()[r] = logits.data()[r * v + t] - row_softmax(logits.data() + r * v, v, 1.f, p.data());
  }
  const Tensor ld = logits.detach();
  return record(out, {logits}, "token_log_probs", [ld, targets, n, v, ignore_index](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& gin) {
    gin[0] = Tensor::zeros(ld.shape());
#pragma omp parallel for if (ld.numel() > kParallelMin)
    for (int64_t r = 0; r < n; ++r) {   // d log p_t / dx_j = [j == t] - p_j
      if (targets[r] == ignore_index) continue;
      float* gr = gin[0].data() + r * v;
      row_softmax(ld.data() + r * v, v, 1.f, gr);
      for (int64_t j = 0; j < v; ++j) gr[j] *= -g.data()[r];
      gr[targets[r]] += g.data()[r];
    }
  });
}

Tensor entropy_from_logits(const Tensor& logits) {
  check_logits(logits, "entropy_from_logits");
  const int64_t n = logits.size(0), v = logits.size(1);
  Tensor out = Tensor::zeros({n});
  std::vector<float> p(static_cast<size_t>(v));
  for (int64_t r = 0; r < n; ++r) {
    const float* x = logits.data() + r * v;
    const float lse = row_softmax(x, v, 1.f, p.data());
    double h = 0;
    for (int64_t j = 0; j < v; ++j) h -= p[static_cast<size_t>(j)] * (x[j] - lse);
    out.data()[r] = static_cast<float>(h);
  }
  const Tensor ld = logits.detach(), hd = out.detach();
  return record(out, {logits}, "entropy", [ld, hd, n, v](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& gin) {
    gin[0] = Tensor::zeros(ld.shape());
    for (int64_t r = 0; r < n; ++r) {   // dH/dx_j = -p_j (log p_j + H)
      const float* x = ld.data() + r * v;
      float* gr = gin[0].data() + r * v;
      const float lse = row_softmax(x, v, 1.f, gr);
      for (int64_t j = 0; j < v; ++j) gr[j] = -g.data()[r] * gr[j] * (x[j] - lse + hd.data()[r]);
    }
  });
}

Tensor kl_k3(const Tensor& logp, const Tensor& ref_logp) {
  if (logp.shape() != ref_logp.shape()) shape_error("kl_k3", "log-prob shapes differ", logp.shape(), ref_logp.shape());
  Tensor out = Tensor::zeros(logp.shape());
  for (int64_t i = 0; i < out.numel(); ++i) {
    const float d = ref_logp.data()[i] - logp.data()[i];
    out.data()[i] = std::exp(d) - d - 1.f;
  }
  const Tensor lp = logp.detach(), rp = ref_logp.detach();
  // The reference policy is frozen: only logp is an input of the node.
  return record(out, {logp}, "kl_k3", [lp, rp](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& gin) {
    gin[0] = Tensor::zeros(lp.shape());
    for (int64_t i = 0; i < lp.numel(); ++i)
      gin[0].data()[i] = g.data()[i] * (1.f - std::exp(rp.data()[i] - lp.data()[i]));
  });
}

Tensor distill_kl(const Tensor& student_logits, const Tensor& teacher_logits, float temperature) {
  check_logits(student_logits, "distill_kl");
  if (student_logits.shape() != teacher_logits.shape())
    shape_error("distill_kl", "student and teacher logits differ in shape", student_logits.shape(), teacher_logits.shape());
  if (!(temperature > 0.f)) throw std::invalid_argument("distill_kl: temperature must be positive");
  const int64_t n = student_logits.size(0), v = student_logits.size(1);
  const float it = 1.f / temperature, t2 = temperature * temperature;
  Tensor out = Tensor::zeros({n});
  std::vector<float> p(static_cast<size_t>(v)), q(static_cast<size_t>(v));
  for (int64_t r = 0; r < n; ++r) {
    const float lp = row_softmax(teacher_logits.data() + r * v, v, it, p.data());
    const float lq = row_softmax(student_logits.data() + r * v, v, it, q.data());
    double kl = 0;
    for (int64_t j = 0; j < v; ++j) {
      const size_t k = static_cast<size_t>(j);
      if (p[k] > 0.f) kl += p[k] * ((teacher_logits.data()[r * v + j] * it - lp) - (student_logits.data()[r * v + j] * it - lq));
    }
    out.data()[r] = static_cast<float>(kl) * t2;
  }
  const Tensor sd = student_logits.detach(), td = teacher_logits.detach();
  return record(out, {student_logits}, "distill_kl", [sd, td, n, v, it, temperature](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& gin) {
    gin[0] = Tensor::zeros(sd.shape());
    std::vector<float> p(static_cast<size_t>(v));
    for (int64_t r = 0; r < n; ++r) {   // d/ds_j = T * (q_j - p_j)
      float* gr = gin[0].data() + r * v;
      row_softmax(td.data() + r * v, v, it, p.data());
      row_softmax(sd.data() + r * v, v, it, gr);
      for (int64_t j = 0; j < v; ++j) gr[j] = g.data()[r] * temperature * (gr[j] - p[static_cast<size_t>(j)]);
    }
  });
}

}  // namespace ds
