// Rotary position embedding (RoFormer; DeepSeek-V2 sec. 2.1.3 applies it to the decoupled
// q_pe/k_pe only). Pairs are adjacent (x[2i], x[2i+1]), as in DeepSeek-V3's inference/model.py,
// which views the last dimension as complex numbers.
#include <algorithm>
#include <utility>

#include "common/autograd.hpp"
#include "common/ops.hpp"

namespace ds {

namespace {
// Rotates every pair of the last 2 * cos.size(1) entries of each row of x by +angle (dir = 1) or
// -angle (dir = -1, the backward); the leading entries, if any, are copied. Token (b, t) sits at
// positions[b * T + t] when given, else at pos_offset + t.
Tensor rotate(const Tensor& x, const Tensor& cos, const Tensor& sin, int64_t pos_offset, const int32_t* positions, float dir) {
  const int64_t b = x.size(0), t = x.size(1), d = x.size(-1);
  const int64_t heads = x.dim() == 4 ? x.size(2) : 1, half = cos.size(1), skip = d - 2 * half;
  Tensor out = Tensor::empty(x.shape());
  const float *px = x.data(), *pc = cos.data(), *ps = sin.data();
  float* po = out.data();
#pragma omp parallel for collapse(2) if (x.numel() > (1 << 15))
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t ti = 0; ti < t; ++ti) {
      const int64_t pos = positions ? positions[bi * t + ti] : pos_offset + ti;
      const float* c = pc + pos * half;
      const float* s = ps + pos * half;
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t row = ((bi * t + ti) * heads + h) * d, base = row + skip;
        std::copy(px + row, px + base, po + row);
        for (int64_t i = 0; i < half; ++i) {
          const float x0 = px[base + 2 * i], x1 = px[base + 2 * i + 1], si = dir * s[i];
          po[base + 2 * i] = x0 * c[i] - x1 * si;
          po[base + 2 * i + 1] = x0 * si + x1 * c[i];
        }
      }
    }
  return out;
}

void check_rope_shapes(const Tensor& x, const Tensor& cos, const Tensor& sin, bool tail = false) {
  if ((x.dim() != 3 && x.dim() != 4) || (!tail && x.size(-1) % 2 != 0))
    shape_error("rope", "x must be [B, T, H, D] or [B, T, D] with D even", x.shape());
  if (cos.dim() != 2 || cos.shape() != sin.shape() || (tail ? 2 * cos.size(1) > x.size(-1) : cos.size(1) != x.size(-1) / 2))
    shape_error("rope", tail ? "cos and sin must be [T_max, R/2] with R at most D" : "cos and sin must be [T_max, D/2]", x.shape(), cos.shape());
}

void check_positions(const Tensor& x, const Tensor& cos, int64_t pos_offset) {
  if (pos_offset < 0 || pos_offset + x.size(1) > cos.size(0))
    shape_error("rope", "positions " + std::to_string(pos_offset) + ".." + std::to_string(pos_offset + x.size(1) - 1) +
                " exceed the table of " + std::to_string(cos.size(0)), x.shape(), cos.shape());
}

void check_positions(const Tensor& x, const Tensor& cos, const IntTensor& positions) {
  if (positions.shape != Shape{x.size(0), x.size(1)}) shape_error("rope", "positions must be [B, T]", positions.shape, x.shape());
  for (int32_t p : positions.data)
    if (p < 0 || p >= cos.size(0))
      shape_error("rope", "position " + std::to_string(p) + " is outside the table of " + std::to_string(cos.size(0)), x.shape(), cos.shape());
}

// The op: rotate forward, rotate back in backward (a rotation's transpose is its inverse).
Tensor rope_op(const Tensor& x, const Tensor& cos, const Tensor& sin, int64_t pos_offset, const IntTensor* positions) {
  Tensor out = rotate(x, cos, sin, pos_offset, positions ? positions->data.data() : nullptr, 1.f);
  const Tensor c = cos.detach(), s = sin.detach();
  std::vector<int32_t> pos = positions ? positions->data : std::vector<int32_t>{};   // empty: pos_offset counts
  return record(out, {x}, "rope", [c, s, pos_offset, pos = std::move(pos)](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& gin) {
    gin[0] = rotate(g, c, s, pos_offset, pos.empty() ? nullptr : pos.data(), -1.f);
  });
}
}  // namespace

Tensor rope(const Tensor& x, const Tensor& cos, const Tensor& sin, int64_t pos_offset) {
  check_rope_shapes(x, cos, sin);
  check_positions(x, cos, pos_offset);
  return rope_op(x, cos, sin, pos_offset, nullptr);
}

Tensor rope(const Tensor& x, const Tensor& cos, const Tensor& sin, const IntTensor& positions) {
  check_rope_shapes(x, cos, sin);
  check_positions(x, cos, positions);
  return rope_op(x, cos, sin, 0, &positions);
}

Tensor rope_tail(const Tensor& x, const Tensor& cos, const Tensor& sin, int64_t pos_offset) {
  check_rope_shapes(x, cos, sin, true);
  check_positions(x, cos, pos_offset);
  return rope_op(x, cos, sin, pos_offset, nullptr);
}

Tensor rope_tail(const Tensor& x, const Tensor& cos, const Tensor& sin, const IntTensor& positions) {
  check_rope_shapes(x, cos, sin, true);
  check_positions(x, cos, positions);
  return rope_op(x, cos, sin, 0, &positions);
}

}  // namespace ds
