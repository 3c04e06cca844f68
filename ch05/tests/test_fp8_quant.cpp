#include <doctest/doctest.h>

#include <cmath>

#include "ch05/fp8_quant.hpp"
#include "common/safetensors.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;
using namespace ds::ch05;

namespace {
const std::vector<Granularity> kAll = {Granularity::PerTensor, Granularity::Tile1x128, Granularity::Tile128x1, Granularity::Block128x128};

// The scale of element (i, j) of q.
float scale_at(const Fp8Tensor& q, int64_t i, int64_t j) {
  return q.scales[static_cast<size_t>((i / q.block_rows) * q.scale_cols() + j / q.block_cols)];
}

// Root-mean-square relative error of y against x, skipping element `skip`.
double rms_rel_err(const Tensor& x, const Tensor& y, int64_t skip) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (i == skip) continue;
    num += std::pow(y.data()[i] - x.data()[i], 2);
    den += std::pow(x.data()[i], 2);
  }
  return std::sqrt(num / den);
}
}  // namespace

TEST_CASE("fp8 quantisation: block shapes, scale = amax / 448, and the error bound of every element") {
  Rng rng(1);
  Tensor x = randn({300, 260}, rng);   // ragged: the last blocks are partial
  x.data()[5 * 260 + 7] = 1e4f;
  for (int64_t i = 0; i < 300; ++i) x.data()[i * 260 + 200] = 0.f;   // an all-zero column: its 128x1 tiles get scale 1e-4 / 448
  const int64_t want_scales[] = {1, 300 * 3, 3 * 260, 3 * 3};
  for (size_t gi = 0; gi < kAll.size(); ++gi) {
    INFO(granularity_name(kAll[gi]));
    const Fp8Tensor q = quantize(x, kAll[gi]);
    CHECK(static_cast<int64_t>(q.scales.size()) == want_scales[gi]);
    const Tensor y = dequantize(q);
    std::vector<float> amax(q.scales.size(), 0.f), back(q.scales.size(), 0.f);
    int bad = 0;
    for (int64_t i = 0; i < 300; ++i)
      for (int64_t j = 0; j < 260; ++j) {
        const float v = x.data()[i * 260 + j], d = y.data()[i * 260 + j], s = scale_at(q, i, j);
        const size_t b = static_cast<size_t>((i / q.block_rows) * q.scale_cols() + j / q.block_cols);
        amax[b] = std::max(amax[b], std::fabs(v));
        back[b] = std::max(back[b], std::fabs(d));
        // E4M3 keeps 3 mantissa bits: within its normal range the error is at most 2^-4 of the
        // value; below it (subnormals) at most half the smallest step, 2^-10 of the scale.
        const bool normal = std::fabs(v) >= s * std::ldexp(1.f, -6);
        bad += std::fabs(d - v) > (normal ? std::ldexp(std::fabs(v), -4) : s * std::ldexp(1.f, -10)) * (1 + 1e-6f);
      }
    CHECK(bad == 0);
    for (size_t b = 0; b < amax.size(); ++b) {
      CHECK(q.scales[b] == doctest::Approx(std::max(amax[b], 1e-4f) / 448.0).epsilon(1e-6));   // amax clamped as V3's kernel.py
      CHECK(back[b] == doctest::Approx(amax[b]).epsilon(1e-6));   // each block's largest value lands on 448 * scale
    }
  }
}

TEST_CASE("fp8 quantisation: fake_quantize equals dequantize(quantize) at every granularity, in both formats") {
  Rng rng(10);
  const Tensor x = randn({300, 260}, rng, 3.f);   // large enough for the parallel paths
  for (Fp8Format f : {Fp8Format::E4M3, Fp8Format::E5M2})
    for (Granularity g : kAll) CHECK(test::max_abs_diff(fake_quantize(x, g, f), dequantize(quantize(x, g, f))) == 0.f);
  CHECK_THROWS_AS(fake_quantize(randn({2, 3, 4}, rng), Granularity::Tile1x128), std::invalid_argument);
}

TEST_CASE("fp8 quantisation: fine blocks beat one scale when there are outliers") {
  Rng rng(1);
  Tensor x = randn({256, 384}, rng);
  const int64_t outlier = 5 * 384 + 7;
  x.data()[outlier] = 1e5f;   // with one scale, ordinary values fall into E4M3's subnormals
  auto err = [&](Granularity g) { return rms_rel_err(x, fake_quantize(x, g), outlier); };
  MESSAGE("rms relative error: per-tensor " << err(Granularity::PerTensor) << ", 1x128 " << err(Granularity::Tile1x128) << ", 128x128 "
                                            << err(Granularity::Block128x128));
  CHECK(err(Granularity::Tile1x128) < err(Granularity::PerTensor) / 3);
  CHECK(err(Granularity::Block128x128) < err(Granularity::PerTensor) / 1.5);   // the outlier's block shares its scale with 16,383 others
  CHECK(err(Granularity::Tile1x128) < 0.05);                                   // E4M3's 3 mantissa bits: a few percent
}

TEST_CASE("fp8 checkpoint: DeepSeek-V3's weight + weight_scale_inv layout round-trips through safetensors") {
  test::TempDir dir("ds_fp8");
  Rng rng(2);
  const NamedTensors w = {{"model.layers.0.mlp.down_proj.weight", randn({200, 130}, rng)},
                          {"model.norm.weight", randn({130}, rng)},
                          {"model.embed_tokens.weight", randn({50, 130}, rng)},
                          {"lm_head.weight", randn({50, 130}, rng)},
                          {"model.layers.1.mlp.gate.weight", randn({8, 130}, rng)},
                          {"model.layers.2.shared_head.head.weight", randn({50, 130}, rng)},
                          {"model.layers.1.mlp.experts.3.up_proj.weight", Tensor::zeros({40, 130})}};   // all-zero blocks
  save_fp8_checkpoint(dir.file("fp8.safetensors"), w);
  const SafeTensorsFile f = load_safetensors(dir.file("fp8.safetensors"));
  CHECK(f.get("model.layers.0.mlp.down_proj.weight").dtype == DType::F8_E4M3);
  CHECK(f.get("model.layers.0.mlp.down_proj.weight_scale_inv").dtype == DType::F32);
  CHECK(f.get("model.layers.0.mlp.down_proj.weight_scale_inv").shape == Shape{2, 2});   // ceil(200/128) x ceil(130/128)
  CHECK(f.get("model.norm.weight").dtype == DType::F32);
  // the embedding, the heads and the gate stay BF16 without a scale, as in DeepSeek-V3's release
  for (const char* name : {"model.embed_tokens.weight", "lm_head.weight", "model.layers.1.mlp.gate.weight", "model.layers.2.shared_head.head.weight"}) {
    INFO(name);
    CHECK(f.get(name).dtype == DType::BF16);
    CHECK_FALSE(f.has(std::string(name) + "_scale_inv"));
  }
  // an all-zero weight's blocks: scale 1e-4 / 448 (kernel.py's clamp), and zeros come back
  CHECK(f.to_tensor("model.layers.1.mlp.experts.3.up_proj.weight_scale_inv").to_vector() ==
        std::vector<float>(2, static_cast<float>(1e-4f / 448.0)));
  const NamedTensors back = load_fp8_checkpoint(dir.file("fp8.safetensors"));
  REQUIRE(back.size() == w.size());
  CHECK(back[0].first == "model.layers.0.mlp.down_proj.weight");
  CHECK(test::max_abs_diff(back[0].second, fake_quantize(w[0].second, Granularity::Block128x128)) == 0.f);
  CHECK(test::max_abs_diff(back[1].second, w[1].second) == 0.f);
  CHECK(test::max_abs_diff(back[2].second, w[2].second) < 0.02f);   // BF16: 8 significant bits
  CHECK(back[6].second.to_vector() == std::vector<float>(40 * 130, 0.f));
  // A scale tensor of the wrong shape is refused in one sentence.
  SafeTensorsEntries bad = {{"w", TensorBytes{DType::F8_E4M3, {200, 130}, std::vector<uint8_t>(200 * 130, 0x38)}},
                            {"w_scale_inv", encode_tensor(Tensor::ones({1, 1}), DType::F32)}};
  save_safetensors(dir.file("bad.safetensors"), bad);
  CHECK(test::error_of([&] { load_fp8_checkpoint(dir.file("bad.safetensors")); }).find("one scale per 128x128 block") != std::string::npos);
}

TEST_CASE("fp8 accumulation: limited accumulator precision loses accuracy with K, promotion every 128 recovers it") {
  Rng rng(3);
  const int64_t k = 4096;
  std::vector<float> a(k), b(k);
  double exact = 0;
  for (size_t i = 0; i < static_cast<size_t>(k); ++i) {
    a[i] = fp8_round(static_cast<float>(rng.uniform(0.5, 1.5)), Fp8Format::E4M3);
    b[i] = fp8_round(static_cast<float>(rng.uniform(0.5, 1.5)), Fp8Format::E4M3);
    exact += static_cast<double>(a[i]) * b[i];
  }
  auto rel = [&](int bits, int64_t promote, AccumulatorRounding r) {
    return std::fabs(fp8_dot(a.data(), b.data(), k, bits, promote, r) - exact) / exact;
  };
  const double limited = rel(14, 0, AccumulatorRounding::Truncate), promoted = rel(14, 128, AccumulatorRounding::Truncate);
  const double nearest = rel(14, 0, AccumulatorRounding::NearestEven);
  MESSAGE("relative error at K = 4096, 14-bit accumulator: " << limited << " truncating, " << nearest << " rounding to nearest, "
                                                             << promoted << " truncating with promotion every 128");
  CHECK(limited > 5e-3);   // V3: up to about 2% at K = 4096 on H800
  CHECK(promoted < limited / 10);
  CHECK(nearest < limited / 10);   // unbiased rounding errors cancel; truncation's all point one way
  CHECK(rel(52, 0, AccumulatorRounding::Truncate) < 1e-7);   // a wide accumulator is exact (up to the final float32)
}
