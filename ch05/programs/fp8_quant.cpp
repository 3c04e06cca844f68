// ch05_fp8_quant: why DeepSeek-V3 scales FP8 in small blocks, and why it moves partial sums to
// FP32. Part 1: quantisation error of tensors with outliers at three granularities (one scale
// per tensor, per 1x128 tile, per 128x128 block). Part 2: the error of a length-K dot product
// whose accumulator keeps ~14 mantissa bits, with and without promotion every 128 products.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "ch05/fp8_quant.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"

using namespace ds;
using namespace ds::ch05;

namespace {
// Activations: N(0, 1) with the channels below (those that fit) `magnitude` times larger, the
// kind of outlier channels LLM activations are known for.
constexpr int64_t kOutlierChannels[] = {7, 300, 650};

Tensor activations(int64_t rows, int64_t cols, float magnitude, Rng& rng) {
  Tensor x = randn({rows, cols}, rng);
  for (int64_t ch : kOutlierChannels)
    if (ch < cols)
      for (int64_t r = 0; r < rows; ++r) x.data()[r * cols + ch] *= magnitude;
  return x;
}

// Mean relative error of the typical (non-outlier) entries: what per-tensor scaling ruins.
double typical_error(const Tensor& x, const Tensor& y, float below) {
  double s = 0;
  int64_t n = 0;
  for (int64_t i = 0; i < x.numel(); ++i)
    if (std::fabs(x.data()[i]) < below && std::fabs(x.data()[i]) > below / 100) {
      s += std::fabs(y.data()[i] - x.data()[i]) / std::fabs(x.data()[i]);
      ++n;
    }
  return n ? s / static_cast<double>(n) : 0.0;
}

// Part 1: E4M3 error of the ordinary entries of an activation with outlier channels, for one
// scale per tensor, per 1x128 tile and per 128x128 block (V3 section 3.3.2, Figure 7a).
void quantization_part(RunReport& report, int64_t size, Rng& rng, Summary& s) {
  const std::vector<Granularity> grans = {Granularity::PerTensor, Granularity::Tile1x128, Granularity::Block128x128};
  Table t({"outlier magnitude", "per-tensor", "1x128 tiles", "128x128 blocks"});
  LineChart sweep{"E4M3 error of the ordinary activations, by scaling granularity", "outlier channels' magnitude (log scale)",
                  "mean relative error of ordinary entries (log scale)", {}};
  sweep.logx = sweep.logy = true;
  for (Granularity g : grans) sweep.series.push_back({granularity_name(g), {}, {}});
  for (float mag : {1.f, 10.f, 100.f, 1e3f, 1e4f, 1e5f}) {
    const Tensor x = activations(size, size, mag, rng);
    std::vector<std::string> row = {fmt("%g", mag)};
    for (size_t gi = 0; gi < grans.size(); ++gi) {
      const double typ = typical_error(x, fake_quantize(x, grans[gi]), 10.f);
      row.push_back(fmt("%.4f", typ));
      sweep.series[gi].x.push_back(mag);
      sweep.series[gi].y.push_back(typ);
      s.set(fmt("quantization.magnitude_%g.", mag) + granularity_name(grans[gi]), typ);
    }
    t.row(row);
  }
  const auto outliers = std::count_if(std::begin(kOutlierChannels), std::end(kOutlierChannels), [&](int64_t c) { return c < size; });
  std::printf(
      "Mean relative error of the ordinary entries (|x| between 0.1 and 10) of a %lld x %lld activation with %lld outlier channel%s:\n",
      (long long)size, (long long)size, (long long)outliers, outliers == 1 ? "" : "s");
  t.print();
  std::printf("E4M3 keeps about 2%% relative error while a block's range fits its 2^17.8 span. One scale per tensor is set by\n"
              "the outliers, so once they are ~10,000x larger the ordinary values sink into the subnormals and then to zero.\n"
              "1x128 tiles (V3's activations) confine that to the tiles holding an outlier channel, 128x128 blocks (V3's\n"
              "weights) to the blocks holding one: both keep the error of every other block at E4M3's own.\n");
  sweep.caption = fmt("Follow the per-tensor line as the outliers grow: one scale for the whole tensor is set by them, so the ordinary "
                      "values' error goes from %.1f%% to %.1f%% at magnitude %g. Tiles and blocks suffer only where they hold an outlier "
                      "channel: %.1f%% (1x128) and %.1f%% (128x128) on average at that magnitude.",
                      100 * sweep.series[0].y.front(), 100 * sweep.series[0].y.back(), sweep.series[0].x.back(), 100 * sweep.series[1].y.back(),
                      100 * sweep.series[2].y.back());
  report.plot("quantization_error.svg", sweep);
}

// Relative errors of one accumulation variant over the trials at one K.
struct ErrorStats {
  double mean = 0, max = 0;
  void add(double e, int64_t trials) {
    mean += e / static_cast<double>(trials);
    max = std::max(max, e);
  }
};

// Part 2: length-K dot products of E4M3 numbers through a `bits`-bit accumulator that
// truncates (the model of H800's tensor cores), one that rounds to nearest, and the truncating
// one with promotion to FP32 every `promote` products (V3 section 3.3.2).
void accumulation_part(RunReport& report, bool quick, int bits, int64_t promote, int64_t trials, Rng& rng, Summary& s) {
  LineChart acc{fmt("Dot product of length K in FP8: %d-bit accumulator, with and without promotion", bits), "K (log scale)",
                "mean relative error (log scale)", {}};
  acc.logx = acc.logy = true;
  acc.series = {{"tensor core only, truncating", {}, {}}, {"tensor core only, if it rounded to nearest", {}, {}, true},
                {fmt("truncating, promoted to FP32 every %lld", (long long)promote), {}, {}}};
  Table at({"K", "truncating: mean / max", "rounding to nearest: mean", fmt("promoted every %lld: mean", (long long)promote)});
  for (int64_t k = 128; k <= (quick ? 4096 : 16384); k *= 2) {
    ErrorStats trunc, nearest, promoted;
    std::vector<float> a(static_cast<size_t>(k)), b(static_cast<size_t>(k));
    for (int64_t trial = 0; trial < trials; ++trial) {
      double exact = 0;
      for (size_t i = 0; i < a.size(); ++i) {   // positive inputs, so the sum does not cancel and relative error is meaningful
        a[i] = fp8_round(static_cast<float>(rng.uniform(0.5, 1.5)), Fp8Format::E4M3);
        b[i] = fp8_round(static_cast<float>(rng.uniform(0.5, 1.5)), Fp8Format::E4M3);
        exact += static_cast<double>(a[i]) * b[i];
      }
      auto rel = [&](int64_t every, AccumulatorRounding r) {
        return std::fabs(fp8_dot(a.data(), b.data(), k, bits, every, r) - exact) / exact;
      };
      trunc.add(rel(0, AccumulatorRounding::Truncate), trials);
      nearest.add(rel(0, AccumulatorRounding::NearestEven), trials);
      promoted.add(rel(promote, AccumulatorRounding::Truncate), trials);
    }
    const ErrorStats* stats[] = {&trunc, &nearest, &promoted};
    for (size_t v = 0; v < 3; ++v) {
      acc.series[v].x.push_back(static_cast<double>(k));
      acc.series[v].y.push_back(std::max(stats[v]->mean, 1e-9));   // log axis
    }
    at.row({std::to_string(k), fmt("%.3g%% / %.3g%%", 100 * trunc.mean, 100 * trunc.max), fmt("%.3g%%", 100 * nearest.mean),
            fmt("%.3g%%", 100 * promoted.mean)});
    if (k == 4096) {
      s.set("accumulation.k4096_limited", trunc.mean);
      s.set("accumulation.k4096_limited_max", trunc.max);
      s.set("accumulation.k4096_nearest", nearest.mean);
      s.set("accumulation.k4096_promoted", promoted.mean);
    }
  }
  std::printf("\nRelative error of %lld dot products of length K (E4M3 inputs in [0.5, 1.5]) with a %d-bit accumulator:\n",
              (long long)trials, bits);
  at.print();
  std::printf("DeepSeek-V3 (section 3.3.2) reports a maximum relative error of nearly 2%% at K = 4096 without promotion.\n"
              "Truncation errors all point one way and add up; rounding errors would mostly cancel.\n");
  acc.caption = fmt("The truncating accumulator's error grows with K (%.2f%% at K = %.0f): its rounding errors all point one way. "
                    "Promoting the partial sums to FP32 every %lld products, as V3 does, keeps it at %.2g%%.",
                    100 * acc.series[0].y.back(), acc.series[0].x.back(), (long long)promote, 100 * acc.series[2].y.back());
  report.plot("accumulation_error.svg", acc);
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("ch05_fp8_quant", [&] {
    Flags flags("ch05_fp8_quant", "FP8 quantisation error by scaling granularity, and accumulation error with and without FP32 promotion.");
    RunOptions run;
    add_run_flags(flags, run, "ch05_fp8_quant");
    int64_t size = 1024, trials = 20;
    int bits = 14;
    int64_t promote = 128;
    flags.add("--size", size, "rows and columns of the test tensors").min(128).max(8192).quick(256);
    flags.add("--accumulator-bits", bits, "mantissa bits the limited accumulator keeps (V3: about 14 on H800)").min(4).max(52);
    flags.add("--promote-every", promote, "N_C: products between promotions to FP32 (V3: 128)").min(1);
    flags.add("--trials", trials, "random dot products per K").min(1).max(1000).quick(3);
    flags.parse(argc, argv);
    RunReport report = start_run(run, flags);
    print_header("ch05_fp8_quant", "FP8 (E4M3) quantisation error by granularity; accumulation error against K");
    Rng rng(run.seed);
    Summary s;
    quantization_part(report, size, rng, s);
    accumulation_part(report, run.quick, bits, promote, trials, rng, s);
    report.write(s);
    std::printf("\nwrote %s/quantization_error.svg, accumulation_error.svg (+ .csv), summary.json\n", run.out.c_str());
    return 0;
  });
}
