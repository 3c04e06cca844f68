// bench/ops: how close the core's kernels run to this machine's roof.
// First the roof itself (gemm_roof_gflops: float32 and, where the CPU has it, BF16), then
// GEMM GFLOP/s at square sizes and at the shapes the mini preset's training
// step uses, forward and backward, on one thread and on all; then each GEMM back end (Eigen,
// OpenBLAS) with ds::gemm's threading and with the library's own threads; then a few of those
// products with their operands coming from memory instead of cache; then the fused causal
// attention.
#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/autograd.hpp"
#include "common/flags.hpp"
#include "common/gemm.hpp"
#include "common/gemm_onednn.hpp"
#include "common/ops.hpp"
#include "common/rng.hpp"
#include "common/run.hpp"
#include "common/timer.hpp"
#include "bench/bench_util.hpp"

using namespace ds;

namespace {
using bench::seconds_per_call;

struct Gemm {
  std::string name;
  int64_t m, k, n;   // [m, k] x [k, n]; as a Linear: m tokens, k in, n out
};

// GFLOP/s of a Linear forward (x [m, k] times w [n, k] transposed) whose operands come from
// memory: it cycles through enough distinct (x, w) pairs to fill pool_bytes, so each call finds
// its operands evicted by the calls before it, as a product inside the training step does
// (activations written a layer or a whole forward earlier, weights read a layer ago). The mean
// of the second pass over the pool; the first warms up the allocator's output block.
double gflops_from_memory(const Gemm& g, int64_t pool_bytes) {
  const int64_t pair_bytes = 4 * (g.m * g.k + g.n * g.k);
  const int64_t count = std::max<int64_t>(2, pool_bytes / pair_bytes);
  std::vector<Tensor> xs, ws;
  for (int64_t i = 0; i < count; ++i) {
    xs.push_back(Tensor::full({g.m, g.k}, 0.5f));
    ws.push_back(Tensor::full({g.n, g.k}, 0.25f));
  }
  NoGradGuard ng;
  double seconds = 0;
  for (int pass = 0; pass < 2; ++pass) {
    const Timer t;
    for (int64_t i = 0; i < count; ++i) linear(xs[static_cast<size_t>(i)], ws[static_cast<size_t>(i)]);
    seconds = t.seconds();
  }
  return 2.0 * g.m * g.k * g.n * static_cast<double>(count) / seconds / 1e9;
}

// The practical roof every utilisation figure divides by (ch06::step_utilisation measures it the same way).
void roofs(bool quick, int all, Summary& summary) {
  const double roof = gemm_roof_gflops(quick ? 0.1 : 1.0);
  std::printf("GEMM roof: %.0f GFLOP/s (square 1024 through ds::gemm on %d threads, float32, median of repeats)\n", roof, all);
  summary.set("gemm.roof_gflops", roof);
  if (bf16_gemm_available()) {
    set_gemm_precision(GemmPrecision::BF16);
    const double roof_bf16 = gemm_roof_gflops(quick ? 0.1 : 1.0);
    set_gemm_precision(GemmPrecision::Float32);
    std::printf("BF16 GEMM roof: %.0f GFLOP/s (the same at bf16 precision, oneDNN %s)\n\n", roof_bf16, bf16_gemm_implementation().c_str());
    summary.set("gemm.roof_gflops_bf16", roof_bf16);
  } else {
    std::printf("BF16 GEMMs: %s\n\n", bf16_gemm_unavailable_reason().c_str());
  }
}

// The first table: every shape's forward and forward+backward GFLOP/s on one thread and on all.
// Returns the forward GFLOP/s by shape name (1 thread, all), the in-cache column of the third table.
std::map<std::string, std::vector<double>> gemm_table(const std::vector<Gemm>& shapes, int all, double budget, Rng& rng, Summary& summary) {
  std::map<std::string, std::vector<double>> fwd_in_cache;   // by shape name: forward GFLOP/s on 1 thread, on all
  Table table({"GEMM (m x k -> n)", "fwd 1 thr", "fwd " + std::to_string(all) + " thr", "fwd+bwd 1 thr",
               "fwd+bwd " + std::to_string(all) + " thr"});
  for (const auto& g : shapes) {
    const Tensor x = randn({g.m, g.k}, rng), w = randn({g.n, g.k}, rng);
    const double flops = 2.0 * g.m * g.k * g.n;
    std::vector<std::string> row{g.name};
    std::vector<double> fwd, fb;
    for (int threads : {1, all}) {
      set_threads(threads);
      const double tf = seconds_per_call([&] { NoGradGuard ng; linear(x, w); }, budget);
      Tensor xg = x.detach().requires_grad_(), wg = w.detach().requires_grad_();
      const Tensor gy = randn({g.m, g.n}, rng);
      const double tb = seconds_per_call([&] {
        xg.zero_grad();
        wg.zero_grad();
        linear(xg, wg).backward(gy);
      }, budget);
      fwd.push_back(flops / tf / 1e9);
      fb.push_back(3 * flops / tb / 1e9);
    }
    row.insert(row.end(), {fmt("%.0f", fwd[0]), fmt("%.0f", fwd[1]), fmt("%.0f", fb[0]), fmt("%.0f", fb[1])});
    table.row(row);
    summary.set("gemm." + g.name + ".fwd_gflops_1t", fwd[0]);
    summary.set("gemm." + g.name + ".fwd_gflops", fwd[1]);
    fwd_in_cache[g.name] = fwd;
    summary.set("gemm." + g.name + ".fwd_bwd_gflops", fb[1]);
  }
  table.print();
  return fwd_in_cache;
}

// Each back end on a few shapes: one thread, all threads split by ds::gemm (what the core
// does), and all threads inside the library (Eigen's OpenMP, OpenBLAS's own pool) for comparison.
void backend_table(const std::vector<Gemm>& shapes, GemmBackend chosen, int all, double budget, bool quick, Rng& rng, Summary& summary) {
  std::vector<Gemm> few = {shapes[0], shapes.back(), shapes[shapes.size() > 8 ? 8 : 1]};
  if (quick) few.resize(1);
  Table bt({"back end", "GEMM (m x k -> n)", "1 thr", std::to_string(all) + " thr (ds::gemm split)", std::to_string(all) + " thr (library's)"});
  for (GemmBackend be : {GemmBackend::Eigen, GemmBackend::OpenBLAS, GemmBackend::OneDNN}) {
    if (!gemm_backend_available(be)) {
      bt.row({gemm_backend_name(be), "(not in this build)", "", "", ""});
      continue;
    }
    set_gemm_backend(be);
    for (const auto& g : few) {
      const Tensor x = randn({g.m, g.k}, rng), w = randn({g.n, g.k}, rng);
      const double flops = 2.0 * g.m * g.k * g.n;
      std::vector<double> r;
      for (const auto& [threads, mode] : std::vector<std::pair<int, GemmThreading>>{
               {1, GemmThreading::Split}, {all, GemmThreading::Split}, {all, GemmThreading::Library}}) {
        set_threads(threads);
        set_gemm_threading(mode, threads);
        r.push_back(flops / seconds_per_call([&] { NoGradGuard ng; linear(x, w); }, budget) / 1e9);
      }
      set_gemm_threading(GemmThreading::Split, all);
      bt.row({gemm_backend_name(be), g.name, fmt("%.0f", r[0]), fmt("%.0f", r[1]), fmt("%.0f", r[2])});
      summary.set("backend." + gemm_backend_name(be) + "." + g.name + ".gflops_1t", r[0]);
      summary.set("backend." + gemm_backend_name(be) + "." + g.name + ".gflops_split", r[1]);
      summary.set("backend." + gemm_backend_name(be) + "." + g.name + ".gflops_library", r[2]);
    }
  }
  set_gemm_backend(chosen);
  std::printf("\n");
  bt.print();

}

// The same kernels with their operands in cache (the first table's forward: the same x and w
// every call) and from memory: the gap between the roof and a training step's GFLOP/s
// (bench/README.md).
void from_memory_table(const std::vector<Gemm>& shapes, const std::map<std::string, std::vector<double>>& fwd_in_cache, int all, bool quick,
                       Summary& summary) {
  const int64_t pool_bytes = quick ? (16 << 20) : (256 << 20);
  std::vector<Gemm> cold_shapes;
  for (const auto& g : shapes)
    if (g.name.starts_with("o_proj") || g.name.starts_with("expert 128") || g.name.starts_with("lm_head")) cold_shapes.push_back(g);
  if (cold_shapes.empty()) cold_shapes.push_back(shapes.back());
  Table ct({"GEMM (m x k -> n)", "in cache 1 thr", "from memory 1 thr", "in cache " + std::to_string(all) + " thr",
            "from memory " + std::to_string(all) + " thr"});
  for (const auto& g : cold_shapes) {
    std::vector<std::string> row{g.name};
    for (int threads : {1, all}) {
      set_threads(threads);
      const double hot = fwd_in_cache.at(g.name)[threads == 1 ? 0 : 1];
      const double cold = gflops_from_memory(g, pool_bytes);
      row.insert(row.end(), {fmt("%.0f", hot), fmt("%.0f", cold)});
      const std::string key = "from_memory." + g.name + (threads == 1 ? ".1t" : "");
      summary.set(key + ".in_cache_gflops", hot);
      summary.set(key + ".from_memory_gflops", cold);
    }
    ct.row(row);
  }
  std::printf("\nthe same products with their operands in cache and from memory (%lld MB of distinct operands, cycled):\n",
              static_cast<long long>(pool_bytes >> 20));
  ct.print();

}

// Fused causal attention at the mini preset's shape: batch 8, 8 heads, 128 tokens, q/k head dim 32 + 16, v head dim 32.
void attention_table(int all, double budget, bool quick, Rng& rng, Summary& summary) {
  const int64_t b = quick ? 2 : 8, h = 8, t = 128, d = 48, dv = 32;
  set_threads(all);
  const Tensor q = randn({b, h, t, d}, rng), k = randn({b, h, t, d}, rng), v = randn({b, h, t, dv}, rng);
  const double aflops = 2.0 * b * h * t * t * (d + dv);   // both GEMMs over the full T x T square
  const double tf = seconds_per_call([&] { NoGradGuard ng; scaled_dot_product_attention(q, k, v); }, budget);
  Tensor qg = q.detach().requires_grad_(), kg = k.detach().requires_grad_(), vg = v.detach().requires_grad_();
  const Tensor go = randn({b, h, t, dv}, rng);
  const double tb = seconds_per_call([&] {
    qg.zero_grad(); kg.zero_grad(); vg.zero_grad();
    scaled_dot_product_attention(qg, kg, vg).backward(go);
  }, budget);
  Table at({"fused causal attention", "ms", "GFLOP/s (full square)"});
  at.row({fmt("forward  B=%lld H=%lld T=%lld D=%lld Dv=%lld", (long long)b, (long long)h, (long long)t, (long long)d, (long long)dv),
          fmt("%.2f", tf * 1e3), fmt("%.0f", aflops / tf / 1e9)});
  at.row({"forward + backward", fmt("%.2f", tb * 1e3), fmt("%.0f", 3 * aflops / tb / 1e9)});
  std::printf("\n");
  at.print();
  summary.set("attention.fwd_ms", tf * 1e3);
  summary.set("attention.fwd_gflops", aflops / tf / 1e9);
  summary.set("attention.fwd_bwd_ms", tb * 1e3);
  summary.set("attention.fwd_bwd_gflops", 3 * aflops / tb / 1e9);
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags("bench_ops", "GEMM and attention throughput of the core, against the machine's roof.");
  RunOptions run;
  add_run_flags(flags, run, "bench_ops");
  double budget = 0.5;
  flags.add("--budget", budget, "seconds spent timing each measurement").quick(0.05);
  flags.parse(argc, argv);
  RunReport report = start_run(run, flags);
  const int all = omp_get_max_threads();
  print_header("bench/ops", "GFLOP/s of the core's GEMMs (Linear forward and backward) and fused attention");
  const GemmBackend chosen = gemm_backend();
  std::printf("GEMM back end: %s (%s)\nOpenBLAS: %s\n\n", gemm_backend_name(chosen).c_str(), gemm_backend_origin().c_str(),
              openblas_description().c_str());

  Rng rng(run.seed);
  Summary summary;
  roofs(run.quick, all, summary);
  std::vector<Gemm> shapes = {
      {"square 1024", 1024, 1024, 1024},      {"square 512", 512, 512, 512},
      {"square 256", 256, 256, 256},          {"q_a_proj 1024x256->128", 1024, 256, 128},
      {"q_b_proj 1024x128->384", 1024, 128, 384}, {"kv_a_proj 1024x256->80", 1024, 256, 80},
      {"kv_b_proj 1024x64->512", 1024, 64, 512},  {"o_proj 1024x256->256", 1024, 256, 256},
      {"expert 128x256->128", 128, 256, 128},     {"expert down 128x128->256", 128, 128, 256},
      {"lm_head 1024x256->1024", 1024, 256, 1024}};
  if (run.quick) shapes.resize(3);
  const auto fwd_in_cache = gemm_table(shapes, all, budget, rng, summary);
  summary.set("gemm.backend", gemm_backend_name(chosen));
  summary.set("gemm.origin", gemm_backend_origin());
  backend_table(shapes, chosen, all, budget, run.quick, rng, summary);
  from_memory_table(shapes, fwd_in_cache, all, run.quick, summary);
  attention_table(all, budget, run.quick, rng, summary);
  summary.set("threads", all);
  report.write(summary);
  std::printf("\nwrote %s/summary.json\n", run.out.c_str());
  return 0;
}
