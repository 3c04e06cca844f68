#include "common/optim.hpp"

#include <algorithm>

#include <cmath>
#include <map>
#include <stdexcept>

#include "common/autograd.hpp"

namespace ds {

AdamW::AdamW(NamedTensors params, AdamWConfig cfg) : params_(std::move(params)), cfg_(cfg) {
  for (const auto& [n, p] : params_) {
    m_.push_back(Tensor::zeros(p.shape()));
    v_.push_back(Tensor::zeros(p.shape()));
  }
}

void AdamW::step(float grad_scale) {
  ++t_;
  const float b1 = cfg_.beta1, b2 = cfg_.beta2, lr = cfg_.lr, eps = cfg_.eps;
  const float inv_bc1 = 1.f / (1.f - std::pow(b1, static_cast<float>(t_))), inv_bc2 = 1.f / (1.f - std::pow(b2, static_cast<float>(t_)));
  // One parameter per task: a 12.7M-parameter model has dozens of small expert matrices, and the
  // update is memory-bound, so both cores should stream at once.
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t k = 0; k < params_.size(); ++k) {
    const Tensor& p = params_[k].second;
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    const float decay = (p.dim() >= 2 || cfg_.decay_vectors) ? cfg_.weight_decay : 0.f;
    float* __restrict pp = p.data();
    float* __restrict pm = m_[k].data();
    float* __restrict pv = v_[k].data();
    const float* __restrict pg = g.data();
    const int64_t n = p.numel();
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      const float gi = pg[i] * grad_scale;
      const float m = b1 * pm[i] + (1.f - b1) * gi, v = b2 * pv[i] + (1.f - b2) * gi * gi;
      pm[i] = m;
      pv[i] = v;
      pp[i] -= lr * (m * inv_bc1 / (std::sqrt(v * inv_bc2) + eps) + decay * pp[i]);   // decoupled decay
    }
  }
}

void AdamW::zero_grad() {
  for (auto& [n, p] : params_) p.zero_grad();
}

NamedTensors AdamW::state() const {
  NamedTensors out;
  for (size_t k = 0; k < params_.size(); ++k) out.push_back({"exp_avg." + params_[k].first, m_[k]});
  for (size_t k = 0; k < params_.size(); ++k) out.push_back({"exp_avg_sq." + params_[k].first, v_[k]});
  return out;
}

void AdamW::load_state(const NamedTensors& state, int64_t step_count) {
  std::map<std::string, Tensor> by_name(state.begin(), state.end());
  for (size_t k = 0; k < params_.size(); ++k) {
    for (auto [prefix, dst] : {std::pair{"exp_avg.", &m_[k]}, std::pair{"exp_avg_sq.", &v_[k]}}) {
      auto it = by_name.find(prefix + params_[k].first);
      if (it == by_name.end()) throw std::runtime_error("optimizer state has no '" + std::string(prefix) + params_[k].first + "'");
      if (it->second.shape() != dst->shape())
        throw std::runtime_error("optimizer state '" + it->first + "' has shape " + it->second.shape_str() + " but the parameter is " + dst->shape_str());
      dst->copy_(it->second);
    }
  }
  t_ = step_count;
}

int64_t AdamW::state_bytes() const {
  int64_t n = 0;
  for (const auto& m : m_) n += 2 * m.numel() * static_cast<int64_t>(sizeof(float));
  return n;
}

float grad_norm(const std::vector<Tensor>& params) { return static_cast<float>(std::sqrt(grad_sq_norm(params))); }

double grad_sq_norm(const std::vector<Tensor>& params) {
  // Each parameter's sum on its own, added in a fixed order: the same norm for any thread count.
  std::vector<double> part(params.size(), 0.0);
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t k = 0; k < params.size(); ++k) {
    const Tensor g = params[k].grad();
    if (!g.defined()) continue;
    const float* __restrict pg = g.data();
    const int64_t n = g.numel();
    double s = 0;
    for (int64_t i0 = 0; i0 < n; i0 += 4096) {   // float inside a block (vectorises), double across blocks
      float f = 0;
      const int64_t i1 = std::min<int64_t>(n, i0 + 4096);
#pragma omp simd reduction(+ : f)
      for (int64_t i = i0; i < i1; ++i) f += pg[i] * pg[i];
      s += f;
    }
    part[k] = s;
  }
  double s = 0;
  for (double v : part) s += v;
  return s;
}

float clip_scale(float norm, float max_norm) { return norm > max_norm && norm > 0.f ? max_norm / (norm + 1e-6f) : 1.f; }

float clip_grad_norm(const std::vector<Tensor>& params, float max_norm) {
  const float norm = grad_norm(params);
  if (norm > max_norm && norm > 0.f) {
    const float scale = clip_scale(norm, max_norm);
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t k = 0; k < params.size(); ++k) {
      const Tensor g = params[k].grad();
      if (!g.defined()) continue;
      float* __restrict pg = g.data();
      const int64_t n = g.numel();
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) pg[i] *= scale;
    }
  }
  return norm;
}

float lr_warmup_cosine(int64_t step, int64_t warmup, int64_t total, float peak, float min_lr) {
  if (step < warmup) return peak * static_cast<float>(step + 1) / static_cast<float>(warmup);
  if (step >= total) return min_lr;
  const double progress = static_cast<double>(step - warmup) / static_cast<double>(std::max<int64_t>(total - warmup, 1));
  return min_lr + (peak - min_lr) * static_cast<float>(0.5 * (1.0 + std::cos(M_PI * progress)));
}

float lr_warmup_stable_decay(int64_t step, int64_t warmup, int64_t total, float peak, float min_lr, float decay_frac) {
  if (step < warmup) return peak * static_cast<float>(step + 1) / static_cast<float>(warmup);
  const int64_t decay_start = total - static_cast<int64_t>(decay_frac * static_cast<float>(total));
  if (step < decay_start) return peak;
  if (step >= total) return min_lr;
  const float f = static_cast<float>(step - decay_start) / static_cast<float>(std::max<int64_t>(total - decay_start, 1));
  return peak + (min_lr - peak) * f;
}

EMA::EMA(const Module& m, float decay) : decay_(decay) {
  for (auto& [n, p] : m.named_parameters()) shadow_.push_back({n, p.clone()});
}

void EMA::update(const Module& m) {
  const NamedTensors params = m.named_parameters();
  if (params.size() != shadow_.size()) throw std::invalid_argument("EMA::update: a different module");
  for (size_t k = 0; k < params.size(); ++k) {
    float* s = shadow_[k].second.data();
    const float* p = params[k].second.data();
    for (int64_t i = 0; i < params[k].second.numel(); ++i) s[i] = decay_ * s[i] + (1.f - decay_) * p[i];
  }
}

void EMA::copy_to(Module& m) const {
  const NamedTensors params = m.named_parameters();
  if (params.size() != shadow_.size()) throw std::invalid_argument("EMA::copy_to: a different module");
  for (size_t k = 0; k < params.size(); ++k) {
    Tensor p = params[k].second;
    p.copy_(shadow_[k].second);
  }
}

}  // namespace ds
