#include "ch05/fp8_quant.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "common/safetensors.hpp"

namespace ds::ch05 {

std::string granularity_name(Granularity g) {
  switch (g) {
    case Granularity::PerTensor: return "per-tensor";
    case Granularity::Tile1x128: return "1x128";
    case Granularity::Tile128x1: return "128x1";
    case Granularity::Block128x128: return "128x128";
  }
  return "?";
}

int64_t Fp8Tensor::scale_rows() const { return (shape[0] + block_rows - 1) / block_rows; }
int64_t Fp8Tensor::scale_cols() const { return (shape[1] + block_cols - 1) / block_cols; }

namespace {
// How a [rows, cols] tensor is cut into blocks that share one scale.
struct BlockGrid {
  int64_t rows, cols, block_rows, block_cols;
  int64_t grid_rows() const { return (rows + block_rows - 1) / block_rows; }
  int64_t grid_cols() const { return (cols + block_cols - 1) / block_cols; }
};

BlockGrid block_grid(const Tensor& x, Granularity g, const char* op) {
  if (x.dim() != 2) shape_error(op, "FP8 blocks are defined for [rows, cols] tensors", x.shape());
  const int64_t r = x.size(0), c = x.size(1);
  switch (g) {
    case Granularity::Tile1x128: return {r, c, 1, 128};
    case Granularity::Tile128x1: return {r, c, 128, 1};
    case Granularity::Block128x128: return {r, c, 128, 128};
    case Granularity::PerTensor: break;
  }
  return {r, c, std::max<int64_t>(r, 1), std::max<int64_t>(c, 1)};
}

// One scale per block, row-major over the grid: amax / fp8_max, so the block's largest
// magnitude lands on the format's largest value (V3 section 3.3.2: amax / 448 for E4M3).
std::vector<float> block_scales(const float* x, const BlockGrid& b, Fp8Format f) {
  std::vector<float> amax(static_cast<size_t>(b.grid_rows() * b.grid_cols()), 0.f);
  const bool big = b.rows * b.cols > (1 << 16);
  if (amax.size() == 1) {   // one scale: one parallel reduction over the whole tensor
    float m = 0;
#pragma omp parallel for simd reduction(max : m) if (big)
    for (int64_t k = 0; k < b.rows * b.cols; ++k) m = std::max(m, std::fabs(x[k]));
    amax[0] = m;
  } else {                  // one task per band of block_rows rows
#pragma omp parallel for if (big)
    for (int64_t bi = 0; bi < b.grid_rows(); ++bi) {
      float* a = amax.data() + bi * b.grid_cols();
      for (int64_t i = bi * b.block_rows; i < std::min(b.rows, (bi + 1) * b.block_rows); ++i) {
        const float* row = x + i * b.cols;
        if (b.block_cols == 1) {
          for (int64_t j = 0; j < b.cols; ++j) a[j] = std::max(a[j], std::fabs(row[j]));
          continue;
        }
        for (int64_t bj = 0; bj < b.grid_cols(); ++bj) {
          float m = a[bj];
#pragma omp simd reduction(max : m)
          for (int64_t j = bj * b.block_cols; j < std::min(b.cols, (bj + 1) * b.block_cols); ++j) m = std::max(m, std::fabs(row[j]));
          a[bj] = m;
        }
      }
    }
  }
  // amax clamped at 1e-4 as DeepSeek-V3's inference/kernel.py does (act_quant_kernel), so an
  // all-zero block gets scale 1e-4 / 448, not a division by zero.
  const double top = fp8_max(f);
  for (float& a : amax) a = static_cast<float>(std::max(a, 1e-4f) / top);
  return amax;
}

// Calls fn(k, scale) for every element k (row-major index) with its block's scale, a row per task.
template <class Fn>
void for_each_with_scale(const BlockGrid& b, const std::vector<float>& scales, Fn&& fn) {
#pragma omp parallel for if (b.rows * b.cols > (1 << 16))
  for (int64_t i = 0; i < b.rows; ++i) {
    const float* s = scales.data() + (i / b.block_rows) * b.grid_cols();
    const int64_t row = i * b.cols;
    if (b.block_cols == 1) {
      for (int64_t j = 0; j < b.cols; ++j) fn(row + j, s[j]);
      continue;
    }
    for (int64_t bj = 0; bj < b.grid_cols(); ++bj)
      for (int64_t j = bj * b.block_cols; j < std::min(b.cols, (bj + 1) * b.block_cols); ++j) fn(row + j, s[bj]);
  }
}
}  // namespace

Fp8Tensor quantize(const Tensor& x, Granularity g, Fp8Format f) {
  const BlockGrid b = block_grid(x, g, "quantize");
  Fp8Tensor q;
  q.shape = x.shape();
  q.format = f;
  q.block_rows = b.block_rows;
  q.block_cols = b.block_cols;
  q.codes.resize(static_cast<size_t>(x.numel()));
  q.scales = block_scales(x.data(), b, f);
  const float* px = x.data();
  for_each_with_scale(b, q.scales, [&](int64_t k, float s) { q.codes[static_cast<size_t>(k)] = fp8_encode(px[k] / s, f); });
  return q;
}

Tensor dequantize(const Fp8Tensor& q) {
  Tensor out = Tensor::empty(q.shape);
  float* po = out.data();
  const BlockGrid b{q.shape[0], q.shape[1], q.block_rows, q.block_cols};
  for_each_with_scale(b, q.scales, [&](int64_t k, float s) { po[k] = fp8_decode(q.codes[static_cast<size_t>(k)], q.format) * s; });
  return out;
}

Tensor fake_quantize(const Tensor& x, Granularity g, Fp8Format f) {
  const BlockGrid b = block_grid(x, g, "fake_quantize");
  const std::vector<float> scales = block_scales(x.data(), b, f);
  Tensor out = Tensor::empty(x.shape());
  const float* px = x.data();
  float* po = out.data();
  const Fp8Rounder round(f);   // equals fp8_decode(fp8_encode(.)), so this equals dequantize(quantize(x))
  for_each_with_scale(b, scales, [&](int64_t k, float s) { po[k] = round(px[k] / s) * s; });
  return out;
}

namespace {
bool ends_with(const std::string& s, const std::string& tail) { return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0; }

// The 2-D weights DeepSeek-V3's release keeps in BF16 (section 3.3.1 keeps the embedding, the
// output head and the MoE gating modules in higher precision): embed_tokens, lm_head (and the
// MTP module's copies of both) and mlp.gate.weight.
bool kept_in_bf16(const std::string& name) {
  return ends_with(name, "embed_tokens.weight") || ends_with(name, "lm_head.weight") || ends_with(name, "shared_head.head.weight") ||
         ends_with(name, "mlp.gate.weight");
}
}  // namespace

void save_fp8_checkpoint(const std::string& path, const NamedTensors& tensors) {
  SafeTensorsEntries entries;
  for (const auto& [name, t] : tensors) {
    if (t.dim() != 2 || kept_in_bf16(name)) {
      entries.push_back({name, encode_tensor(t, t.dim() == 2 ? DType::BF16 : DType::F32)});
      continue;
    }
    const Fp8Tensor q = quantize(t, Granularity::Block128x128, Fp8Format::E4M3);
    entries.push_back({name, TensorBytes{DType::F8_E4M3, t.shape(), q.codes}});
    const Tensor s = Tensor::from(q.scales, {q.scale_rows(), q.scale_cols()});
    entries.push_back({name + "_scale_inv", encode_tensor(s, DType::F32)});
  }
  save_safetensors(path, entries, {{"format", "pt"}, {"quantization", "fp8 e4m3, 128x128 blocks (DeepSeek-V3 layout)"}});
}

NamedTensors load_fp8_checkpoint(const std::string& path) {
  const SafeTensorsFile f = load_safetensors(path);
  NamedTensors out;
  for (const std::string& name : f.names()) {
    if (name.size() > 10 && name.compare(name.size() - 10, 10, "_scale_inv") == 0) continue;
    const TensorBytes& tb = f.get(name);
    if (tb.dtype != DType::F8_E4M3) {
      out.push_back({name, f.to_tensor(name)});
      continue;
    }
    if (tb.shape.size() != 2)
      throw std::runtime_error(path + ": FP8 tensor '" + name + "' is not 2-D; its 128x128 block scales need [out, in]");
    if (!f.has(name + "_scale_inv")) throw std::runtime_error(path + ": FP8 weight '" + name + "' has no '" + name + "_scale_inv'");
    Fp8Tensor q;
    q.shape = tb.shape;
    q.block_rows = q.block_cols = 128;
    q.codes = tb.bytes;
    const Tensor s = f.to_tensor(name + "_scale_inv");
    if (s.shape() != Shape{q.scale_rows(), q.scale_cols()})
      throw std::runtime_error(path + ": '" + name + "_scale_inv' has shape " + s.shape_str() +
                               " but the weight needs one scale per 128x128 block, [" + std::to_string(q.scale_rows()) + ", " +
                               std::to_string(q.scale_cols()) + "]");
    q.scales = s.to_vector();
    out.push_back({name, dequantize(q)});
  }
  return out;
}

namespace {
// x kept to `bits` mantissa bits, the low ones cut off or rounded away.
double cut_mantissa(double x, int bits, AccumulatorRounding rounding) {
  if (x == 0 || !std::isfinite(x)) return x;
  const double q = std::ldexp(1.0, std::ilogb(x) - bits);
  return (rounding == AccumulatorRounding::Truncate ? std::trunc(x / q) : std::nearbyint(x / q)) * q;
}
}  // namespace

double fp8_dot(const float* a, const float* b, int64_t k, int accumulator_bits, int64_t promote_every, AccumulatorRounding rounding) {
  double fp32 = 0, partial = 0;
  for (int64_t i = 0; i < k; ++i) {
    partial = cut_mantissa(partial + static_cast<double>(a[i]) * b[i], accumulator_bits, rounding);
    if (promote_every > 0 && (i + 1) % promote_every == 0) {
      fp32 = static_cast<float>(fp32 + partial);   // the CUDA cores' FP32 registers
      partial = 0;
    }
  }
  return static_cast<float>(fp32 + partial);
}

}  // namespace ds::ch05
