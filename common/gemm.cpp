#include "common/gemm.hpp"

#include <omp.h>

#include <Eigen/Dense>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <stdexcept>

#include "common/gemm_onednn.hpp"
#include "common/timer.hpp"

#ifdef DS_HAVE_OPENBLAS
#include <cblas.h>
// OpenBLAS's extensions (declared again here: the system's cblas.h may be another BLAS's).
extern "C" {
void openblas_set_num_threads(int num_threads);
char* openblas_get_config(void);
char* openblas_get_corename(void);
int openblas_get_parallel(void);
}
#endif

// Set by cmake/GemmProbe.cmake on this file only: the configure-time choice and why.
#ifndef DS_GEMM_DEFAULT
#define DS_GEMM_DEFAULT "eigen"
#endif
#ifndef DS_GEMM_ORIGIN
#define DS_GEMM_ORIGIN "built without the configure-time probe"
#endif

namespace ds {

namespace {
using MatR = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Strided = Eigen::Map<MatR, 0, Eigen::OuterStride<>>;
using CStrided = Eigen::Map<const MatR, 0, Eigen::OuterStride<>>;

using Kernel = void (*)(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float, float*,
                        int64_t);

void eigen_kernel(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                  int64_t ldb, float beta, float* c, int64_t ldc) {
  const CStrided A(a, ta ? k : m, ta ? m : k, Eigen::OuterStride<>(lda));
  const CStrided B(b, tb ? n : k, tb ? k : n, Eigen::OuterStride<>(ldb));
  Strided C(c, m, n, Eigen::OuterStride<>(ldc));
  const auto run = [&](const auto& opa, const auto& opb) {
    if (beta == 0.f) {
      C.noalias() = (alpha * opa) * opb;
    } else {
      if (beta != 1.f) C *= beta;
      C.noalias() += (alpha * opa) * opb;
    }
  };
  if (!ta && !tb) run(A, B);
  else if (!ta && tb) run(A, B.transpose());
  else if (ta && !tb) run(A.transpose(), B);
  else run(A.transpose(), B.transpose());
}

#ifdef DS_HAVE_OPENBLAS
void openblas_kernel(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                     int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}
#endif

void onednn_kernel(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                   int64_t ldb, float beta, float* c, int64_t ldc) {
  gemm_onednn_kernel(false, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void bf16_kernel(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                 int64_t ldb, float beta, float* c, int64_t ldc) {
  gemm_onednn_kernel(true, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

Kernel kernel_of(GemmBackend backend) {
#ifdef DS_HAVE_OPENBLAS
  if (backend == GemmBackend::OpenBLAS) return openblas_kernel;
#endif
  if (backend == GemmBackend::OneDNN) return onednn_kernel;
  return eigen_kernel;
}

// Both back ends' own threading off: ds::gemm threads the products itself (see gemm.hpp).
void single_threaded_kernels() {
  static std::once_flag once;
  std::call_once(once, [] {
    Eigen::setNbThreads(1);
#ifdef DS_HAVE_OPENBLAS
    openblas_set_num_threads(1);
#endif
  });
}

struct State {
  std::atomic<GemmBackend> backend{GemmBackend::Eigen};
  std::atomic<GemmThreading> threading{GemmThreading::Split};
  std::atomic<GemmPrecision> precision{GemmPrecision::Float32};
  std::string origin;
};

[[noreturn]] void bad_env(const std::string& sentence) {
  std::fprintf(stderr, "DS_GEMM: %s\n", sentence.c_str());
  std::exit(1);
}

GemmBackend parse_backend(const std::string& name, const std::string& where) {
  if (name == "eigen") return GemmBackend::Eigen;
  if (name == "openblas") {
    if (!gemm_backend_available(GemmBackend::OpenBLAS)) bad_env(where + " asks for openblas, but this build found no OpenBLAS");
    return GemmBackend::OpenBLAS;
  }
  if (name == "onednn") {
    if (!gemm_backend_available(GemmBackend::OneDNN)) bad_env(where + " asks for onednn, but this build found no oneDNN");
    return GemmBackend::OneDNN;
  }
  bad_env(where + " must be eigen, openblas, onednn or probe, not '" + name + "'");
}

std::string describe(const std::vector<GemmProbeResult>& probe) {
  std::string s;
  for (const GemmProbeResult& r : probe) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s%s %.1f", s.empty() ? "" : ", ", gemm_backend_name(r.backend).c_str(), r.gflops);
    s += buf;
  }
  return s + " GFLOP/s on one thread";
}

State& state() {
  static State* s = [] {
    single_threaded_kernels();
    auto* st = new State;
    const char* env = std::getenv("DS_GEMM");
    if (env && *env && std::string(env) != "probe") {
      st->backend = parse_backend(env, "the environment variable DS_GEMM");
      st->origin = std::string("forced by DS_GEMM=") + env;
    } else if (env && std::string(env) == "probe") {
      const std::vector<GemmProbeResult> probe = gemm_probe();
      st->backend = gemm_choose(probe);
      st->origin = "run-time probe (DS_GEMM=probe): " + describe(probe);
    } else {
      st->backend = parse_backend(DS_GEMM_DEFAULT, "the build's DS_GEMM");
      st->origin = DS_GEMM_ORIGIN;
    }
    return st;
  }();
  return *s;
}

// Rounds a block boundary down to whole 16-row (or column) panels, so each thread's block starts
// where both back ends' micro-kernels would start anyway.
int64_t panel(int64_t x) { return x & ~int64_t{15}; }
}  // namespace

namespace {
void gemm_on(bool float32, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
             const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {   // no products: C = beta C (BLAS would reject the zero leading dimensions)
    Strided C(c, m, n, Eigen::OuterStride<>(ldc));
    if (beta == 0.f) C.setZero();
    else C *= beta;
    return;
  }
  State& st = state();
  const Kernel kernel = !float32 && st.precision.load(std::memory_order_relaxed) == GemmPrecision::BF16
                            ? bf16_kernel
                            : kernel_of(st.backend.load(std::memory_order_relaxed));
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const bool library = st.threading.load(std::memory_order_relaxed) == GemmThreading::Library;
  if (library || threads == 1 || m * n * k < kGemmParallelMin) {
    kernel(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  // One block of C's rows (or, for a wide C, columns) per thread; each block is an independent
  // single-threaded product that reads all of the other operand.
  const bool by_rows = m >= n;
  const int64_t len = by_rows ? m : n;
  const int64_t parts = std::clamp<int64_t>(len / 16, 1, threads);
#pragma omp parallel for schedule(static, 1) num_threads(static_cast<int>(parts))
  for (int64_t p = 0; p < parts; ++p) {
    const int64_t lo = panel(len * p / parts), hi = p + 1 == parts ? len : panel(len * (p + 1) / parts);
    if (hi <= lo) continue;
    if (by_rows)
      kernel(trans_a, trans_b, hi - lo, n, k, alpha, trans_a ? a + lo : a + lo * lda, lda, b, ldb, beta, c + lo * ldc, ldc);
    else
      kernel(trans_a, trans_b, m, hi - lo, k, alpha, a, lda, trans_b ? b + lo * ldb : b + lo, ldb, beta, c + lo, ldc);
  }
}
}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
          int64_t ldb, float beta, float* c, int64_t ldc) {
  gemm_on(false, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm_float32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                  int64_t ldb, float beta, float* c, int64_t ldc) {
  gemm_on(true, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

GemmBackend gemm_backend() { return state().backend.load(); }

void set_gemm_backend(GemmBackend backend) {
  if (!gemm_backend_available(backend)) throw std::invalid_argument("gemm: the " + gemm_backend_name(backend) + " back end is not in this build");
  state().backend = backend;
}

bool gemm_backend_available(GemmBackend backend) {
  if (backend == GemmBackend::OneDNN) return onednn_available();
#ifdef DS_HAVE_OPENBLAS
  return true;
#else
  return backend == GemmBackend::Eigen;
#endif
}

std::string gemm_backend_name(GemmBackend backend) {
  return backend == GemmBackend::OpenBLAS ? "openblas" : backend == GemmBackend::OneDNN ? "onednn" : "eigen";
}

std::string gemm_backend_origin() { return state().origin; }

std::string openblas_description() {
#ifdef DS_HAVE_OPENBLAS
  const int par = openblas_get_parallel();
  return std::string(openblas_get_config()) + " (kernels: " + openblas_get_corename() + "; built " +
         (par == 0 ? "sequential" : par == 1 ? "with its own pthread pool" : "on OpenMP") + ")";
#else
  return "not linked";
#endif
}

GemmPrecision gemm_precision() { return state().precision.load(); }

std::string gemm_precision_name(GemmPrecision precision) { return precision == GemmPrecision::BF16 ? "bf16" : "float32"; }

void set_gemm_precision(GemmPrecision precision) {
  if (precision == GemmPrecision::BF16 && !bf16_gemm_available())
    throw std::invalid_argument("BF16 GEMMs are unavailable: " + bf16_gemm_unavailable_reason());
  state().precision = precision;
}

GemmPrecision parse_gemm_precision(const std::string& name) {
  if (name == "float32") return GemmPrecision::Float32;
  if (name == "auto") return bf16_gemm_available() ? GemmPrecision::BF16 : GemmPrecision::Float32;
  if (name != "bf16") throw std::invalid_argument("the precision must be float32, bf16 or auto, not '" + name + "'");
  if (!bf16_gemm_available()) throw std::invalid_argument("BF16 GEMMs are unavailable: " + bf16_gemm_unavailable_reason());
  return GemmPrecision::BF16;
}

double gemm_roof_gflops(double seconds, int64_t n) {
  const std::vector<float> a(static_cast<size_t>(n * n), 0.5f), b(a.size(), 0.25f);
  std::vector<float> c(a.size());
  const auto call = [&] { gemm(false, true, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n); };
  call();   // warm-up: first touch of the output, thread start, BF16 primitive creation
  std::vector<double> times;
  const Timer total;
  while (times.size() < 3 || total.seconds() < seconds) {
    const Timer t;
    call();
    times.push_back(t.seconds());
  }
  std::sort(times.begin(), times.end());
  return 2.0 * static_cast<double>(n * n * n) / times[times.size() / 2] / 1e9;
}

void set_gemm_threading(GemmThreading threading, int threads) {
  State& st = state();
  st.threading = threading;
  const int n = threading == GemmThreading::Library ? std::max(threads, 1) : 1;
  Eigen::setNbThreads(n);
  set_onednn_threads(n);
#ifdef DS_HAVE_OPENBLAS
  openblas_set_num_threads(n);
#endif
}

std::vector<GemmProbeResult> gemm_probe(double seconds_per_backend) {
  single_threaded_kernels();
  struct Shape {
    bool ta, tb;
    int64_t m, n, k;
  };
  // The mini preset's step at 1,024 tokens (hidden 256): Linear forward x W^T, its input
  // gradient G W and weight gradient G^T x, q_b_proj, an expert of 128 tokens (forward and
  // weight gradient), and one causal attention band of 32 queries (scores, then weights x V).
  // Each call is short (at most a millisecond), so even on a busy machine most calls of a shape
  // run undisturbed and the fastest of them is the kernel's speed.
  const std::vector<Shape> shapes = {{false, true, 1024, 256, 256}, {false, false, 1024, 256, 256}, {true, false, 256, 256, 1024},
                                     {false, true, 1024, 384, 128}, {false, true, 128, 128, 256},   {true, false, 128, 256, 128},
                                     {false, true, 32, 128, 48},    {false, false, 32, 32, 128}};
  std::vector<GemmBackend> backends = {GemmBackend::Eigen};
  for (GemmBackend b : {GemmBackend::OpenBLAS, GemmBackend::OneDNN})
    if (gemm_backend_available(b)) backends.push_back(b);
  std::vector<std::vector<float>> ops(shapes.size() * 2);
  for (size_t i = 0; i < shapes.size(); ++i) {
    const Shape& s = shapes[i];
    ops[2 * i].assign(static_cast<size_t>(s.m * s.k), 0.5f);
    ops[2 * i + 1].assign(static_cast<size_t>(s.k * s.n), 0.25f);
  }
  std::vector<float> out(1024 * 384);
  // best[b][i]: the fastest of the repeats of shape i on back end b
  std::vector<std::vector<double>> best(backends.size(), std::vector<double>(shapes.size(), std::numeric_limits<double>::infinity()));
  const Timer total;
  for (int round = 0; round < 10 || total.seconds() < seconds_per_backend * static_cast<double>(backends.size()); ++round)
    for (size_t bi = 0; bi < backends.size(); ++bi)
      for (size_t i = 0; i < shapes.size(); ++i) {
        const Shape& s = shapes[i];
        const Timer t;
        kernel_of(backends[bi])(s.ta, s.tb, s.m, s.n, s.k, 1.f, ops[2 * i].data(), s.ta ? s.m : s.k, ops[2 * i + 1].data(),
                                s.tb ? s.k : s.n, 0.f, out.data(), s.n);
        best[bi][i] = std::min(best[bi][i], t.seconds());
      }
  std::vector<GemmProbeResult> result;
  for (size_t bi = 0; bi < backends.size(); ++bi) {
    double flops = 0, seconds = 0;
    for (size_t i = 0; i < shapes.size(); ++i) {
      flops += 2.0 * static_cast<double>(shapes[i].m * shapes[i].n * shapes[i].k);
      seconds += best[bi][i];
    }
    result.push_back({backends[bi], flops / seconds / 1e9});
  }
  return result;
}

GemmBackend gemm_choose(const std::vector<GemmProbeResult>& probe) {
  // OpenBLAS only if at least 3% faster than Eigen (a tie keeps the fewer dependencies). oneDNN
  // is measured but never chosen: on Zen 4 it led the probe by 5-15%, yet the training step ran
  // 3% slower through it (its per-call cost and the copies of strided operands), so it is
  // DS_GEMM=onednn only.
  double eigen = 0, openblas = 0;
  for (const GemmProbeResult& r : probe) {
    if (r.backend == GemmBackend::Eigen) eigen = r.gflops;
    if (r.backend == GemmBackend::OpenBLAS) openblas = r.gflops;
  }
  return openblas > 1.03 * eigen ? GemmBackend::OpenBLAS : GemmBackend::Eigen;
}

}  // namespace ds
