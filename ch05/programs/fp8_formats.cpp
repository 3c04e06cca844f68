// ch05_fp8_formats: what 8 bits can hold. The value grids of E4M3 and E5M2 against BF16 and
// FP16 (range and precision), how rounding and saturation behave, and a plot of every positive
// FP8 value with the spacing between neighbours.
#include <cmath>
#include <cstdio>

#include "ch05/fp8.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"

using namespace ds;
using namespace ds::ch05;

namespace {
struct Row {
  std::string name;
  int bits, exp_bits, man_bits;
  double max, min_normal, min_subnormal;
};

std::vector<Row> formats() {
  return {{"E4M3", 8, 4, 3, fp8_max(Fp8Format::E4M3), fp8_min_normal(Fp8Format::E4M3), fp8_min_subnormal(Fp8Format::E4M3)},
          {"E5M2", 8, 5, 2, fp8_max(Fp8Format::E5M2), fp8_min_normal(Fp8Format::E5M2), fp8_min_subnormal(Fp8Format::E5M2)},
          {"FP16", 16, 5, 10, 65504.0, std::ldexp(1.0, -14), std::ldexp(1.0, -24)},
          {"BF16", 16, 8, 7, std::ldexp(255.0 / 128.0, 127), std::ldexp(1.0, -126), std::ldexp(1.0, -133)},
          {"FP32", 32, 8, 23, 3.4028234663852886e38, std::ldexp(1.0, -126), std::ldexp(1.0, -149)}};
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("ch05_fp8_formats", [&] {
    Flags flags("ch05_fp8_formats", "E4M3 and E5M2 against FP16/BF16: range, precision, rounding and saturation, every value plotted.");
    RunOptions run;
    add_run_flags(flags, run, "ch05_fp8_formats");
    std::string values = "0.3,1.0625,1.1875,3.14159,100,300,448,500,1e-3,3e-4";
    flags.add("--values", values, "comma-separated numbers to round to both FP8 formats");
    flags.parse(argc, argv);
    std::vector<float> xs;
    for (size_t p = 0; p < values.size();) {
      const size_t q = values.find(',', p);
      const std::string item = values.substr(p, q == std::string::npos ? std::string::npos : q - p);
      char* end = nullptr;
      const float v = std::strtof(item.c_str(), &end);
      if (item.empty() || *end != '\0') fail("ch05_fp8_formats", "--values needs comma-separated numbers, got '" + item + "'");
      xs.push_back(v);
      if (q == std::string::npos) break;
      p = q + 1;
    }
    RunReport report = start_run(run, flags);
    print_header("ch05_fp8_formats", "the value grids of the two FP8 formats (OCP), next to FP16, BF16 and FP32");

    Table t({"format", "bits (exp/man)", "max", "min normal", "min subnormal", "relative step (2^-man)", "dynamic range"});
    Summary s;
    for (const Row& r : formats()) {
      t.row({r.name, fmt("%d (%d/%d)", r.bits, r.exp_bits, r.man_bits), fmt("%.6g", r.max), fmt("%.3g", r.min_normal), fmt("%.3g", r.min_subnormal),
             fmt("%.3g", std::ldexp(1.0, -r.man_bits)), fmt("2^%.1f", std::log2(r.max / r.min_subnormal))});
      s.set("formats." + r.name + ".max", r.max);
      s.set("formats." + r.name + ".min_subnormal", r.min_subnormal);
    }
    t.print();

    std::printf("\nRounding (nearest, ties to even) and saturation:\n");
    Table rt({"x", "E4M3", "code", "rel. error", "E5M2", "code", "rel. error"});
    for (float x : xs) {
      std::vector<std::string> row = {fmt("%g", x)};
      for (Fp8Format f : {Fp8Format::E4M3, Fp8Format::E5M2}) {
        const uint8_t c = fp8_encode(x, f);
        const float y = fp8_decode(c, f);
        row.insert(row.end(), {fmt("%g", y), fmt("0x%02X", c), x != 0 ? fmt("%.2f%%", 100.0 * std::fabs(y - x) / std::fabs(x)) : "-"});
      }
      rt.row(row);
    }
    rt.print();
    std::printf("1.0625 sits halfway between E4M3's 1 and 1.125 and goes to the even mantissa (1); 1.1875 goes up to 1.25.\n"
                "500 is beyond E4M3's 448 and saturates instead of becoming infinity (E4M3 has none).\n");

    // Every positive finite value and its gap to the next: the grid is uniform within a binade
    // and doubles from one binade to the next, so the relative step stays 2^-man.
    LineChart grid{"Every positive FP8 value and the gap to its neighbour", "value (log scale)", "gap to the next value (log scale)", {}};
    grid.logx = grid.logy = true;
    for (Fp8Format f : {Fp8Format::E4M3, Fp8Format::E5M2}) {
      Series sr{fp8_name(f), {}, {}};
      int count = 0;
      for (int c = 1; c < 0x80; ++c) {
        const float v = fp8_decode(static_cast<uint8_t>(c), f), next = fp8_decode(static_cast<uint8_t>(c + 1), f);
        if (!std::isfinite(v)) continue;
        ++count;
        if (std::isfinite(next) && c + 1 < 0x80) {
          sr.x.push_back(v);
          sr.y.push_back(next - v);
        }
      }
      s.set("positive_finite_values." + fp8_name(f), static_cast<double>(count));
      std::printf("%s: %d positive finite values\n", fp8_name(f).c_str(), count);
      grid.series.push_back(sr);
    }
    grid.caption =
        fmt("Staircases: within a binade the gap is constant, at the next it doubles, so the relative step stays 2^-%d for "
            "E4M3 and 2^-%d for E5M2 (the flat start on the left is the subnormals). E5M2 trades that precision for range (up to %g against E4M3's %g), which "
            "is why V3 "
            "keeps E4M3 everywhere and buys range with fine-grained scales instead.",
            formats()[0].man_bits, formats()[1].man_bits, fp8_max(Fp8Format::E5M2), fp8_max(Fp8Format::E4M3));
    report.plot("fp8_grid.svg", grid);
    report.write(s);
    std::printf("\nwrote %s/fp8_grid.svg (+ .csv), summary.json\n", run.out.c_str());
    return 0;
  });
}
