#include "ch05/fp8_quant.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include "common/safetensors.hpp"

namespace ds::ch05 {

std::string granularity_name(Granularity g) {
  switch (g) {
    case Granularity::PerTensor: return "per-tensor";
    case Granularity::Tile1x128: return "1x128";
    case Granularity::Block128x128: return "128x128";
  }
  return "?";
}

int64_t Fp8Tensor::scale_rows() const { return (shape[0] + block_rows - 1) / block_rows; }
int64_t Fp8Tensor::scale_cols() const { return (shape[1] + block_cols - 1) / block_cols; }

Fp8Tensor quantize(const Tensor& x, Granularity g, Fp8Format f) {
  if (x.dim() != 2) shape_error("quantize", "FP8 blocks are defined for [rows, cols] tensors", x.shape());
  Fp8Tensor q;
  q.shape = x.shape();
  q.format = f;
  const int64_t r = x.size(0), c = x.size(1);
  q.block_rows = g == Granularity::PerTensor ? r : g == Granularity::Tile1x128 ? 1 : 128;
  q.block_cols = g == Granularity::PerTensor ? c : 128;
  q.codes.resize(static_cast<size_t>(r * c));
  q.scales.assign(static_cast<size_t>(q.scale_rows() * q.scale_cols()), 1.f);
  const float* px = x.data();
  const double top = fp8_max(f);
  for (int64_t br = 0; br < q.scale_rows(); ++br)
    for (int64_t bc = 0; bc < q.scale_cols(); ++bc) {
      const int64_t r0 = br * q.block_rows, r1 = std::min(r, r0 + q.block_rows), c0 = bc * q.block_cols, c1 = std::min(c, c0 + q.block_cols);
      float amax = 0;
      for (int64_t i = r0; i < r1; ++i)
        for (int64_t j = c0; j < c1; ++j) amax = std::max(amax, std::fabs(px[i * c + j]));
      const float scale = amax > 0 ? static_cast<float>(amax / top) : 1.f;   // V3: amax / 448 for E4M3
      q.scales[static_cast<size_t>(br * q.scale_cols() + bc)] = scale;
      for (int64_t i = r0; i < r1; ++i)
        for (int64_t j = c0; j < c1; ++j) q.codes[static_cast<size_t>(i * c + j)] = fp8_encode(px[i * c + j] / scale, f);
    }
  return q;
}

Tensor dequantize(const Fp8Tensor& q) {
  Tensor out = Tensor::uninitialized(q.shape);
  const int64_t c = q.shape[1];
  for (int64_t i = 0; i < q.shape[0]; ++i)
    for (int64_t j = 0; j < c; ++j)
      out.data()[i * c + j] = fp8_decode(q.codes[static_cast<size_t>(i * c + j)], q.format) *
                              q.scales[static_cast<size_t>((i / q.block_rows) * q.scale_cols() + j / q.block_cols)];
  return out;
}

Tensor fake_quantize(const Tensor& x, Granularity g, Fp8Format f) {
  if (x.dim() != 2) shape_error("fake_quantize", "FP8 blocks are defined for [rows, cols] tensors", x.shape());
  const int64_t r = x.size(0), c = x.size(1);
  const int64_t br = g == Granularity::PerTensor ? r : g == Granularity::Tile1x128 ? 1 : 128, bc = g == Granularity::PerTensor ? c : 128;
  Tensor out = Tensor::uninitialized(x.shape());
  const float* px = x.data();
  float* po = out.data();
  const double top = fp8_max(f);
  const int64_t nbr = (r + br - 1) / br, nbc = (c + bc - 1) / bc;
#pragma omp parallel for collapse(2) if (r * c > (1 << 16))
  for (int64_t bi = 0; bi < nbr; ++bi)
    for (int64_t bj = 0; bj < nbc; ++bj) {
      const int64_t r0 = bi * br, r1 = std::min(r, r0 + br), c0 = bj * bc, c1 = std::min(c, c0 + bc);
      float amax = 0;
      for (int64_t i = r0; i < r1; ++i)
        for (int64_t j = c0; j < c1; ++j) amax = std::max(amax, std::fabs(px[i * c + j]));
      const float scale = amax > 0 ? static_cast<float>(amax / top) : 1.f;
      for (int64_t i = r0; i < r1; ++i)
        for (int64_t j = c0; j < c1; ++j) po[i * c + j] = fp8_round_fast(px[i * c + j] / scale, f) * scale;
    }
  return out;
}

void save_fp8_checkpoint(const std::string& path, const NamedTensors& tensors) {
  SafeTensorsEntries entries;
  for (const auto& [name, t] : tensors) {
    if (t.dim() != 2) {
      entries.push_back({name, encode_tensor(t, DType::F32)});
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
    if (!f.has(name + "_scale_inv")) throw std::runtime_error(path + ": FP8 weight '" + name + "' has no '" + name + "_scale_inv'");
    Fp8Tensor q;
    q.shape = tb.shape;
    q.block_rows = q.block_cols = 128;
    q.codes = tb.bytes;
    const Tensor s = f.to_tensor(name + "_scale_inv");
    if (s.shape() != Shape{q.scale_rows(), q.scale_cols()})
      throw std::runtime_error(path + ": '" + name + "_scale_inv' has shape " + s.shape_str() + " but the weight needs one scale per 128x128 block, [" +
                               std::to_string(q.scale_rows()) + ", " + std::to_string(q.scale_cols()) + "]");
    q.scales = s.to_vector();
    out.push_back({name, dequantize(q)});
  }
  return out;
}

namespace {
// x cut to `bits` mantissa bits. Truncation, as an adder that aligns the smaller operand by
// shifting out its low bits does; that bias, not random rounding, is what grows with K.
double truncate_mantissa(double x, int bits) {
  if (x == 0 || !std::isfinite(x)) return x;
  const double q = std::ldexp(1.0, std::ilogb(x) - bits);
  return std::trunc(x / q) * q;
}
}  // namespace

double fp8_dot(const float* a, const float* b, int64_t k, int accumulator_bits, int64_t promote_every) {
  double fp32 = 0, partial = 0;
  for (int64_t i = 0; i < k; ++i) {
    partial = truncate_mantissa(partial + static_cast<double>(a[i]) * b[i], accumulator_bits);
    if (promote_every > 0 && (i + 1) % promote_every == 0) {
      fp32 = static_cast<float>(fp32 + partial);   // the CUDA cores' FP32 registers
      partial = 0;
    }
  }
  return static_cast<float>(fp32 + partial);
}

}  // namespace ds::ch05
