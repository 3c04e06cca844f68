// ch05_fp8_quant: why DeepSeek-V3 scales FP8 in small blocks, and why it moves partial sums to
// FP32. Part 1: quantisation error of tensors with outliers at three granularities (one scale
// per tensor, per 1x128 tile, per 128x128 block). Part 2: the error of a length-K dot product
// whose accumulator keeps ~14 mantissa bits, with and without promotion every 128 products.
#include <cmath>
#include <cstdio>

#include "ch05/fp8_quant.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"

using namespace ds;
using namespace ds::ch05;

namespace {
// Activations: N(0, 1) with three outlier channels `magnitude` times larger, the kind of
// outlier channels LLM activations are known for.
Tensor activations(int64_t rows, int64_t cols, float magnitude, Rng& rng) {
  Tensor x = randn({rows, cols}, rng);
  for (int64_t ch : {7, 300, 650})
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
}  // namespace

int main(int argc, char** argv) {
  return run_main("ch05_fp8_quant", [&] {
    Flags flags("ch05_fp8_quant", "FP8 quantisation error by scaling granularity, and accumulation error with and without FP32 promotion.");
    RunOptions run;
    add_run_flags(flags, run, "ch05_fp8_quant");
    int64_t size = 1024, trials = 20;
    int bits = 14;
    int64_t promote = 128;
    flags.add("--size", size, "rows and columns of the test tensors").min(128).max(8192);
    flags.add("--accumulator-bits", bits, "mantissa bits the limited accumulator keeps (V3: about 14 on H800)").min(4).max(52);
    flags.add("--promote-every", promote, "N_C: products between promotions to FP32 (V3: 128)").min(1);
    flags.add("--trials", trials, "random dot products per K").min(1).max(1000);
    flags.parse(argc, argv);
    if (run.quick) {
      size = std::min<int64_t>(size, 256);
      trials = std::min<int64_t>(trials, 3);
    }
    start_run(run);
    print_header("ch05_fp8_quant", "FP8 (E4M3) quantisation error by granularity; accumulation error against K");
    Rng rng(run.seed);
    const std::vector<Granularity> grans = {Granularity::PerTensor, Granularity::Tile1x128, Granularity::Block128x128};
    Table t({"outlier magnitude", "per-tensor", "1x128 tiles", "128x128 blocks"});
    LineChart sweep{"E4M3 error of the ordinary activations, by scaling granularity", "outlier channels' magnitude (log scale)",
                    "mean relative error of ordinary entries (log scale)", {}};
    sweep.logx = sweep.logy = true;
    for (Granularity g : grans) sweep.series.push_back({granularity_name(g), {}, {}});
    Summary s;
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
    std::printf("Mean relative error of the ordinary entries (|x| between 0.1 and 10) of a %lld x %lld activation with 3 outlier channels:\n",
                (long long)size, (long long)size);
    t.print();
    std::printf("E4M3 keeps about 2%% relative error while a block's range fits its 2^17.8 span. One scale per tensor is set by\n"
                "the outliers, so once they are ~10,000x larger the ordinary values sink into the subnormals and then to zero.\n"
                "1x128 tiles (V3's activations) confine that to the tiles holding an outlier channel; 128x128 blocks (V3's\n"
                "weights) to the blocks holding one, here every row of 3 of 8 column blocks.\n");
    write_line_chart(run.out + "/quantization_error.svg", sweep);

    // Part 2: accumulation precision.
    LineChart acc{fmt("Dot product of length K in FP8: %d-bit accumulator, with and without promotion", bits), "K (log scale)",
                  "relative error (log scale)", {}};
    acc.logx = acc.logy = true;
    Series plain{"accumulate in the tensor core only", {}, {}}, promoted{fmt("promote to FP32 every %lld", (long long)promote), {}, {}};
    Table at({"K", "relative error, limited accumulator", fmt("with promotion every %lld", (long long)promote)});
    for (int64_t k = 128; k <= (run.quick ? 4096 : 16384); k *= 2) {
      double e_plain = 0, e_prom = 0;
      for (int64_t trial = 0; trial < trials; ++trial) {
        std::vector<float> a(static_cast<size_t>(k)), b(static_cast<size_t>(k));
        double exact = 0;
        for (int64_t i = 0; i < k; ++i) {   // positive inputs, so the sum does not cancel and relative error is meaningful
          a[static_cast<size_t>(i)] = fp8_round(static_cast<float>(rng.uniform(0.5, 1.5)), Fp8Format::E4M3);
          b[static_cast<size_t>(i)] = fp8_round(static_cast<float>(rng.uniform(0.5, 1.5)), Fp8Format::E4M3);
          exact += static_cast<double>(a[static_cast<size_t>(i)]) * b[static_cast<size_t>(i)];
        }
        e_plain += std::fabs(fp8_dot(a.data(), b.data(), k, bits, 0) - exact) / exact / static_cast<double>(trials);
        e_prom += std::fabs(fp8_dot(a.data(), b.data(), k, bits, promote) - exact) / exact / static_cast<double>(trials);
      }
      plain.x.push_back(static_cast<double>(k));
      plain.y.push_back(e_plain);
      promoted.x.push_back(static_cast<double>(k));
      promoted.y.push_back(std::max(e_prom, 1e-9));
      at.row({std::to_string(k), fmt("%.3g%%", 100 * e_plain), fmt("%.3g%%", 100 * e_prom)});
      if (k == 4096) {
        s.set("accumulation.k4096_limited", e_plain);
        s.set("accumulation.k4096_promoted", e_prom);
      }
    }
    std::printf("\n");
    at.print();
    std::printf("DeepSeek-V3 (section 3.3.2) reports a maximum relative error of nearly 2%% at K = 4096 without promotion.\n");
    acc.series = {plain, promoted};
    write_line_chart(run.out + "/accumulation_error.svg", acc);
    s.write(run.out + "/summary.json");
    std::printf("\nwrote %s/quantization_error.svg, accumulation_error.svg (+ .csv), summary.json\n", run.out.c_str());
    return 0;
  });
}
