// ch03_rope: how transformers learn where tokens are. The sinusoidal encoding of the original
// Transformer, drawn as a heatmap; RoPE's rotation angles; the property that makes RoPE work
// (q.k after rotation depends only on the offset between the tokens, not on where they are);
// and YaRN, which DeepSeek-V3 uses to stretch a 4K-token RoPE to 128K.
#include "ch03/rope.hpp"

#include <cmath>
#include <cstdio>

#include "common/flags.hpp"
#include "common/ops.hpp"
#include "common/plot.hpp"
#include "common/rng.hpp"
#include "common/run.hpp"

using namespace ds;
using namespace ds::ch03;


namespace {
// The sinusoidal table of the original Transformer as a heatmap.
void plot_sinusoidal(RunReport& report, int64_t positions, int64_t dim, double theta) {
  Heatmap pe;
  pe.title = "Sinusoidal positional encoding (added to the embeddings)";
  pe.xlabel = "dimension (sin on even, cos on odd)";
  pe.ylabel = "position";
  pe.rows = positions;
  pe.cols = dim;
  pe.diverging = true;
  const Tensor table = sinusoidal_encoding(positions, dim, theta);
  pe.values.assign(table.data(), table.data() + table.numel());
  pe.caption = "Every position (row) gets its own pattern: the left columns swing between -1 and 1 from one position to the next, the "
               "right columns barely change over all the rows, like the digits of a clock from seconds to hours.";
  report.plot("sinusoidal_encoding.svg", pe);

}

// RoPE's rotation angle per position for a few pairs of dimensions.
void plot_rope_angles(RunReport& report, int64_t dim, double theta) {
  RopeConfig cfg;
  cfg.dim = dim;
  cfg.theta = theta;
  cfg.max_positions = 2200;
  const auto freqs = rope_frequencies(cfg);
  LineChart angles;
  angles.title = "RoPE turns each pair of dimensions by position x its frequency";
  angles.xlabel = "position";
  angles.ylabel = "rotation angle (radians)";
  angles.logy = true;
  for (int64_t i : {int64_t{0}, dim / 8, dim / 4, dim / 2 - 1}) {
    Series s{"pair " + std::to_string(i), {}, {}};
    for (int64_t p = 1; p <= 2048; p *= 2) {
      s.x.push_back(static_cast<double>(p));
      s.y.push_back(static_cast<double>(p) * freqs[static_cast<size_t>(i)]);
    }
    angles.series.push_back(s);
  }
  angles.logx = true;
  angles.caption = fmt("Each pair of dimensions turns at its own speed (theta^(-2i/d)): pair 0 turns by %.3g rad per position, pair %lld "
                       "by only %.2g rad in 2,048 positions, so fast pairs tell neighbours apart and slow ones long distances.",
                       freqs[0], (long long)(dim / 2 - 1), 2048.0 * freqs[static_cast<size_t>(dim / 2 - 1)]);
  report.plot("rope_angles.svg", angles);

}

// The same q and k placed at different absolute positions with the same offset score the same.
// Returns the largest difference between two such scores.
double relative_offset(RunReport& report, int64_t dim, double theta, uint64_t seed) {
  RopeConfig cfg;
  cfg.dim = dim;
  cfg.theta = theta;
  cfg.max_positions = 2200;
  const RopeTables t = rope_tables(cfg);
  // The relative property: the same q and k at different absolute positions, same offset.
  Rng rng(seed);
  const Tensor q = randn({dim}, rng), k = randn({dim}, rng);
  LineChart rel;
  rel.title = "q.k after RoPE depends only on the offset, not on the position";
  rel.xlabel = "offset m - n between query and key";
  rel.ylabel = "q.k after rotation";
  Table tab({"offset", "q at 10", "q at 500", "q at 2000"});
  double worst = 0;
  for (int64_t start : {10, 500, 2000}) {
    Series s{"query at position " + std::to_string(start), {}, {}, start != 10};
    for (int64_t off = 0; off <= 10; ++off) {
      s.x.push_back(static_cast<double>(off));
      s.y.push_back(rotated_dot(q, k, start, start - off, t));
      worst = std::max(worst, std::abs(s.y.back() - rotated_dot(q, k, 10, 10 - off, t)));
    }
    rel.series.push_back(s);
  }
  for (int64_t off : {0, 1, 5, 10})
    tab.row({std::to_string(off), fmt("%.4f", rotated_dot(q, k, 10, 10 - off, t)), fmt("%.4f", rotated_dot(q, k, 500, 500 - off, t)),
             fmt("%.4f", rotated_dot(q, k, 2000, 2000 - off, t))});
  std::printf("q.k after RoPE for the same vectors placed at different positions:\n");
  tab.print();
  std::printf("largest difference between rows with the same offset: %.2e (float32 rounding)\n\n", worst);
  rel.caption = fmt("One curve shows because the three lie on top of each other: the same q and k give the same score at positions 10, 500 and 2000 "
                    "whenever the offset is the same (largest difference %.1e, float32 rounding), so RoPE encodes relative position.",
                    worst);
  report.plot("relative_offset.svg", rel);

  return worst;
}

// YaRN's frequencies beside plain RoPE's. Returns V3's YaRN config.
RopeConfig plot_yarn(RunReport& report) {
  // YaRN as DeepSeek-V3 configures it: 4K original context, factor 40.
  RopeConfig v3;
  v3.dim = 64;
  v3.max_positions = 163840;
  v3.yarn.factor = 40;
  v3.yarn.original_max_position_embeddings = 4096;
  RopeConfig v3_plain = v3;
  v3_plain.yarn.factor = 1;
  const auto fy = rope_frequencies(v3), fp = rope_frequencies(v3_plain);
  LineChart yarn;
  yarn.title = "YaRN (DeepSeek-V3: 4K -> 160K, factor 40): slow pairs are slowed, fast ones kept";
  yarn.xlabel = "pair index i";
  yarn.ylabel = "frequency (radians per position)";
  yarn.logy = true;
  Series a{"RoPE (theta 10000)", {}, {}}, b{"with YaRN", {}, {}, true};
  for (size_t i = 0; i < fy.size(); ++i) {
    a.x.push_back(static_cast<double>(i));
    a.y.push_back(fp[i]);
    b.x.push_back(static_cast<double>(i));
    b.y.push_back(fy[i]);
  }
  yarn.series = {a, b};
  yarn.caption = fmt("YaRN keeps the fast pairs on the left as they are and divides the slow ones on the right by the factor %.0f (%.3g "
                     "-> %.3g for the last pair), with a ramp between: a slow pair then turns no further over 160K positions than it "
                     "did over the 4K it was trained on.",
                     v3.yarn.factor, fp.back(), fy.back());
  report.plot("yarn_frequencies.svg", yarn);
  return v3;
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("ch03_rope", [&] {
    Flags flags("ch03_rope", "Sinusoidal positions, RoPE and YaRN: what each does to queries and keys.");
    RunOptions run;
    add_run_flags(flags, run, "ch03_rope");
    int64_t dim = 64, positions = 64;
    double theta = 10000;
    flags.add("--dim", dim, "rotary dimension (DeepSeek-V3: qk_rope_head_dim = 64)").min(2).max(512).check([](const std::string& v) {
      return std::stoll(v) % 2 == 0 ? "" : "must be even";
    });
    flags.add("--positions", positions, "positions drawn in the heatmap").min(2).max(4096);
    flags.add("--theta", theta, "rope_theta, the base of the frequencies").min(2);
    flags.parse(argc, argv);
    RunReport report = start_run(run, flags);
    print_header("ch03_rope", "position encodings: the sinusoidal table, RoPE's rotations and their relative-offset property, YaRN");
    plot_sinusoidal(report, positions, dim, theta);
    plot_rope_angles(report, dim, theta);
    const double worst = relative_offset(report, dim, theta, run.seed);
    const RopeConfig v3 = plot_yarn(report);
    std::printf("YaRN for DeepSeek-V3: softmax scale multiplied by mscale^2 = %.4f\n", std::pow(yarn_mscale(v3), 2));
    Summary s;
    s.set("relative_offset_max_diff", worst);
    s.set("yarn_mscale", yarn_mscale(v3));
    report.write(s);
    std::printf("wrote %s/{sinusoidal_encoding,rope_angles,relative_offset,yarn_frequencies}.svg (+ .csv) and summary.json\n",
                run.out.c_str());
    return 0;
  });
}
