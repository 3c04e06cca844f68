// Elementwise arithmetic with NumPy broadcasting, and the activation functions.
#include <algorithm>
#include <array>
#include <cmath>
#include <functional>

#include "common/autograd.hpp"
#include "common/kernels.hpp"
#include "common/ops.hpp"

namespace ds {
using namespace kernels;

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1) shape_error(op, "shapes cannot be broadcast together", a, b);
    out[i] = da == 1 ? db : da;
  }
  return out;
}

namespace {
// Strides (in elements) of `s` read as `out` after broadcasting: 0 where s stretches.
std::array<int64_t, 4> bstrides(const Shape& s, const Shape& out) {
  std::array<int64_t, 4> st{0, 0, 0, 0};
  int64_t stride = 1;
  for (int64_t i = static_cast<int64_t>(s.size()) - 1; i >= 0; --i) {
    const size_t oi = 4 - s.size() + static_cast<size_t>(i);
    st[oi] = s[static_cast<size_t>(i)] == 1 ? 0 : stride;
    stride *= s[static_cast<size_t>(i)];
  }
  (void)out;
  return st;
}

std::array<int64_t, 4> pad4(const Shape& s) {
  std::array<int64_t, 4> p{1, 1, 1, 1};
  for (size_t i = 0; i < s.size(); ++i) p[4 - s.size() + i] = s[i];
  return p;
}

// out[i] = f(a[i'], b[i'']) over the broadcast index space.
template <class F>
Tensor binary_forward(const Tensor& a, const Tensor& b, const char* op, F f) {
  const Shape os = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = Tensor::empty(os);
  const float* pa = a.data();
  const float* pb = b.data();
  float* po = out.data();
  const int64_t n = out.numel();
  if (a.shape() == b.shape()) {
#pragma omp parallel for if (n > kParallelMin)
    for (int64_t i = 0; i < n; ++i) po[i] = f(pa[i], pb[i]);
    return out;
  }
  if (b.numel() == 1 && a.shape() == os) {
    const float s = pb[0];
    for (int64_t i = 0; i < n; ++i) po[i] = f(pa[i], s);
    return out;
  }
  const auto d = pad4(os);
  const auto sa = bstrides(a.shape(), os), sb = bstrides(b.shape(), os);
#pragma omp parallel for collapse(2) if (n > kParallelMin)
  for (int64_t i0 = 0; i0 < d[0]; ++i0)
    for (int64_t i1 = 0; i1 < d[1]; ++i1)
      for (int64_t i2 = 0; i2 < d[2]; ++i2) {
        const int64_t oa = i0 * sa[0] + i1 * sa[1] + i2 * sa[2];
        const int64_t ob = i0 * sb[0] + i1 * sb[1] + i2 * sb[2];
        float* o = po + ((i0 * d[1] + i1) * d[2] + i2) * d[3];
        for (int64_t i3 = 0; i3 < d[3]; ++i3) o[i3] = f(pa[oa + i3 * sa[3]], pb[ob + i3 * sb[3]]);
      }
  return out;
}

// The gradient of one operand: g * dfd(a, b) evaluated over the broadcast space, then summed
// back down to the operand's shape.
template <class F>
Tensor binary_grad(const Tensor& g, const Tensor& a, const Tensor& b, const Shape& target, F dfd) {
  Tensor full = binary_forward(a, b, "backward", dfd);
  float* pf = full.data();
  const float* pg = g.data();
  const int64_t n = full.numel();
  for (int64_t i = 0; i < n; ++i) pf[i] *= pg[i];
  return sum_to_shape(full, target);
}

template <class F>
Tensor unary(const Tensor& x, const char* name, F f, std::function<Tensor(const Tensor& g, const Tensor& x, const Tensor& y)> grad) {
  Tensor out = Tensor::empty(x.shape());
  const float* px = x.data();
  float* po = out.data();
  const int64_t n = x.numel();
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) po[i] = f(px[i]);
  const Tensor xd = x.detach(), y = out.detach();
  return record(out, {x}, name, [xd, y, grad](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& gin) {
    gin[0] = grad(g, xd, y);
  });
}

// g * h(x, y) elementwise, the usual shape of a unary op's backward.
template <class H>
Tensor chain(const Tensor& g, const Tensor& x, const Tensor& y, H h) {
  Tensor out = Tensor::empty(g.shape());
  const float *pg = g.data(), *px = x.data(), *py = y.data();
  float* po = out.data();
  const int64_t n = g.numel();
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) po[i] = pg[i] * h(px[i], py[i]);
  return out;
}
}  // namespace

Tensor sum_to_shape(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  if (numel_of(shape) == 1) {
    double s = 0;
    for (int64_t i = 0; i < g.numel(); ++i) s += g.data()[i];
    return Tensor::full(shape, static_cast<float>(s));
  }
  Tensor out = Tensor::zeros(shape);
  const auto d = pad4(g.shape());
  const auto so = bstrides(shape, g.shape());
  const float* pg = g.data();
  float* po = out.data();
  for (int64_t i0 = 0; i0 < d[0]; ++i0)
    for (int64_t i1 = 0; i1 < d[1]; ++i1)
      for (int64_t i2 = 0; i2 < d[2]; ++i2) {
        const int64_t oo = i0 * so[0] + i1 * so[1] + i2 * so[2];
        const float* gi = pg + ((i0 * d[1] + i1) * d[2] + i2) * d[3];
        for (int64_t i3 = 0; i3 < d[3]; ++i3) po[oo + i3 * so[3]] += gi[i3];
      }
  return out;
}

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(a, b, "add", [](float x, float y) { return x + y; });
  const Shape sa = a.shape(), sb = b.shape();
  return record(out, {a, b}, "add", [sa, sb](const Tensor& g, const std::vector<bool>& need, std::vector<Tensor>& gin) {
    if (need[0]) gin[0] = sum_to_shape(g, sa);
    if (need[1]) gin[1] = sum_to_shape(g, sb);
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(a, b, "sub", [](float x, float y) { return x - y; });
  const Shape sa = a.shape(), sb = b.shape();
  return record(out, {a, b}, "sub", [sa, sb](const Tensor& g, const std::vector<bool>& need, std::vector<Tensor>& gin) {
    if (need[0]) gin[0] = sum_to_shape(g, sa);
    if (need[1]) gin[1] = sum_to_shape(mul_scalar(g, -1.f), sb);
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(a, b, "mul", [](float x, float y) { return x * y; });
  const Tensor ad = a.detach(), bd = b.detach();
  return record(out, {a, b}, "mul", [ad, bd](const Tensor& g, const std::vector<bool>& need, std::vector<Tensor>& gin) {
    if (need[0]) gin[0] = binary_grad(g, ad, bd, ad.shape(), [](float, float y) { return y; });
    if (need[1]) gin[1] = binary_grad(g, ad, bd, bd.shape(), [](float x, float) { return x; });
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(a, b, "div", [](float x, float y) { return x / y; });
  const Tensor ad = a.detach(), bd = b.detach();
  return record(out, {a, b}, "div", [ad, bd](const Tensor& g, const std::vector<bool>& need, std::vector<Tensor>& gin) {
    if (need[0]) gin[0] = binary_grad(g, ad, bd, ad.shape(), [](float, float y) { return 1.f / y; });
    if (need[1]) gin[1] = binary_grad(g, ad, bd, bd.shape(), [](float x, float y) { return -x / (y * y); });
  });
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(a, b, "minimum", [](float x, float y) { return x <= y ? x : y; });
  const Tensor ad = a.detach(), bd = b.detach();
  return record(out, {a, b}, "minimum", [ad, bd](const Tensor& g, const std::vector<bool>& need, std::vector<Tensor>& gin) {
    if (need[0]) gin[0] = binary_grad(g, ad, bd, ad.shape(), [](float x, float y) { return x <= y ? 1.f : 0.f; });
    if (need[1]) gin[1] = binary_grad(g, ad, bd, bd.shape(), [](float x, float y) { return x <= y ? 0.f : 1.f; });
  });
}

Tensor add_scalar(const Tensor& x, float s) {
  return unary(x, "add_scalar", [s](float v) { return v + s; },
               [](const Tensor& g, const Tensor&, const Tensor&) { return g; });
}
Tensor mul_scalar(const Tensor& x, float s) {
  return unary(x, "mul_scalar", [s](float v) { return v * s; }, [s](const Tensor& g, const Tensor& x, const Tensor& y) {
    return chain(g, x, y, [s](float, float) { return s; });
  });
}
Tensor neg(const Tensor& x) { return mul_scalar(x, -1.f); }

Tensor exp(const Tensor& x) {
  return unary(x, "exp", [](float v) { return std::exp(v); }, [](const Tensor& g, const Tensor& x, const Tensor& y) {
    return chain(g, x, y, [](float, float y) { return y; });
  });
}
Tensor log(const Tensor& x) {
  return unary(x, "log", [](float v) { return std::log(v); }, [](const Tensor& g, const Tensor& x, const Tensor& y) {
    return chain(g, x, y, [](float x, float) { return 1.f / x; });
  });
}
Tensor sqrt(const Tensor& x) {
  return unary(x, "sqrt", [](float v) { return std::sqrt(v); }, [](const Tensor& g, const Tensor& x, const Tensor& y) {
    return chain(g, x, y, [](float, float y) { return 0.5f / y; });
  });
}
Tensor square(const Tensor& x) {
  return unary(x, "square", [](float v) { return v * v; }, [](const Tensor& g, const Tensor& x, const Tensor& y) {
    return chain(g, x, y, [](float x, float) { return 2.f * x; });
  });
}
Tensor tanh(const Tensor& x) {
  return unary(x, "tanh", [](float v) { return std::tanh(v); }, [](const Tensor& g, const Tensor& x, const Tensor& y) {
    return chain(g, x, y, [](float, float y) { return 1.f - y * y; });
  });
}
static float sigmoidf(float v) { return 1.f / (1.f + std::exp(-v)); }
Tensor sigmoid(const Tensor& x) {
  return unary(x, "sigmoid", sigmoidf, [](const Tensor& g, const Tensor& x, const Tensor& y) {
    return chain(g, x, y, [](float, float y) { return y * (1.f - y); });
  });
}
// log sigmoid(x) = min(x, 0) - log1p(exp(-|x|)): neither branch overflows, and the gradient
// sigmoid(-x) = 1 - sigmoid(x) stays exact where log(sigmoid(x)) would round to log(0).
Tensor log_sigmoid(const Tensor& x) {
  return unary(x, "log_sigmoid", [](float v) { return std::min(v, 0.f) - std::log1p(std::exp(-std::abs(v))); },
               [](const Tensor& g, const Tensor& x, const Tensor& y) {
                 return chain(g, x, y, [](float x, float) { return sigmoidf(-x); });
               });
}
Tensor relu(const Tensor& x) {
  return unary(x, "relu", [](float v) { return v > 0.f ? v : 0.f; }, [](const Tensor& g, const Tensor& x, const Tensor& y) {
    return chain(g, x, y, [](float x, float) { return x > 0.f ? 1.f : 0.f; });
  });
}
Tensor silu(const Tensor& x) {
  return unary(x, "silu", [](float v) { return v * sigmoidf(v); }, [](const Tensor& g, const Tensor& x, const Tensor& y) {
    return chain(g, x, y, [](float x, float) {
      const float s = sigmoidf(x);
      return s * (1.f + x * (1.f - s));
    });
  });
}
Tensor gelu(const Tensor& x) {
  return unary(x, "gelu", [](float v) { return 0.5f * v * (1.f + std::erf(v * static_cast<float>(M_SQRT1_2))); },
               [](const Tensor& g, const Tensor& x, const Tensor& y) {
                 return chain(g, x, y, [](float x, float) {
                   const float cdf = 0.5f * (1.f + std::erf(x * static_cast<float>(M_SQRT1_2)));
                   const float pdf = std::exp(-0.5f * x * x) * static_cast<float>(0.5 * M_2_SQRTPI * M_SQRT1_2);
                   return cdf + x * pdf;
                 });
               });
}
Tensor gelu_tanh(const Tensor& x) {
  constexpr float k = 0.7978845608028654f;   // sqrt(2/pi)
  return unary(x, "gelu_tanh", [](float v) { return 0.5f * v * (1.f + std::tanh(k * (v + 0.044715f * v * v * v))); },
               [](const Tensor& g, const Tensor& x, const Tensor& y) {
                 return chain(g, x, y, [](float x, float) {
                   const float t = std::tanh(k * (x + 0.044715f * x * x * x));
                   return 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * k * (1.f + 3.f * 0.044715f * x * x);
                 });
               });
}
Tensor clamp(const Tensor& x, float lo, float hi) {
  return unary(x, "clamp", [lo, hi](float v) { return v < lo ? lo : (v > hi ? hi : v); },
               [lo, hi](const Tensor& g, const Tensor& x, const Tensor& y) {
                 return chain(g, x, y, [lo, hi](float x, float) { return (x >= lo && x <= hi) ? 1.f : 0.f; });
               });
}

namespace {
constexpr int64_t kSwigluBlock = 4096;
}  // namespace

// One node instead of three: SwiGLU is every DeepSeek feed-forward's inner loop.
Tensor swiglu(const Tensor& gate, const Tensor& up) {
  if (gate.shape() != up.shape()) shape_error("swiglu", "gate and up must have the same shape", gate.shape(), up.shape());
  Tensor out = Tensor::empty(gate.shape());
  const float *pg = gate.data(), *pu = up.data();
  float* po = out.data();
  const int64_t n = out.numel();
  // Eigen's packet exp (16 lanes) on blocks of 4096, one block per task.
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t b = 0; b < n; b += kSwigluBlock) {
    const int64_t len = std::min(kSwigluBlock, n - b);
    const auto g = CVecMap(pg + b, len).array();
    VecMap(po + b, len) = (g * sigmoid_packet(g) * CVecMap(pu + b, len).array()).matrix();
  }
  const Tensor gd = gate.detach(), ud = up.detach();
  return record(out, {gate, up}, "swiglu", [gd, ud](const Tensor& g, const std::vector<bool>& need, std::vector<Tensor>& gin) {
    const int64_t n = g.numel();
    const float *pg = gd.data(), *pu = ud.data(), *go = g.data();
    Tensor dg = need[0] ? Tensor::empty(gd.shape()) : Tensor(), du = need[1] ? Tensor::empty(ud.shape()) : Tensor();
    float* pdg = need[0] ? dg.data() : nullptr;
    float* pdu = need[1] ? du.data() : nullptr;
#pragma omp parallel for if (n > kParallelMin)
    for (int64_t b = 0; b < n; b += kSwigluBlock) {
      const int64_t len = std::min(kSwigluBlock, n - b);
      const auto x = CVecMap(pg + b, len).array(), dy = CVecMap(go + b, len).array();
      const Eigen::ArrayXf s = sigmoid_packet(x);
      if (pdu) VecMap(pdu + b, len) = (dy * x * s).matrix();
      if (pdg) VecMap(pdg + b, len) = (dy * CVecMap(pu + b, len).array() * s * (1.f + x * (1.f - s))).matrix();
    }
    gin[0] = dg;
    gin[1] = du;
  });
}

}  // namespace ds
