#include "common/gemm_onednn.hpp"

#include <omp.h>

#include <atomic>

#include <stdexcept>

#ifdef DS_HAVE_DNNL
#include <immintrin.h>

#include <algorithm>
#include <oneapi/dnnl/dnnl.hpp>
#include <unordered_map>
#include <vector>
#endif

namespace ds {

namespace {
std::atomic<int> onednn_threads{1};
}  // namespace

void set_onednn_threads(int threads) { onednn_threads = threads < 1 ? 1 : threads; }

#ifdef DS_HAVE_DNNL
namespace {

bool cpu_has_bf16() {
  static const bool yes = [] {
    const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
    const auto bf16 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
    // __builtin_cpu_supports: the conversion below uses AVX512_BF16's vcvtneps2bf16 itself.
    return (isa & bf16) == bf16 && __builtin_cpu_supports("avx512bf16");
  }();
  return yes;
}

// rows x cols floats (row stride ld) to a dense bf16 copy, rounded to nearest even. vcvtneps2bf16
// is that rounding (NaN stays NaN), except that float32 subnormals become zero, as in the GEMM
// kernels' own BF16 inputs.
__attribute__((target("avx512f,avx512bf16"))) void to_bf16(const float* src, int64_t rows, int64_t cols, int64_t ld, uint16_t* dst) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = src + r * ld;
    uint16_t* d = dst + r * cols;
    int64_t j = 0;
    for (; j + 16 <= cols; j += 16) _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + j), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(s + j)));
    if (j < cols) {
      const __mmask16 mask = static_cast<__mmask16>((1u << (cols - j)) - 1);
      _mm256_mask_storeu_epi16(d + j, mask, (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, s + j)));
    }
  }
}

// The primitive's parameters: everything but the sizes, which are given at each call (oneDNN's
// run-time dimensions), so the routed experts' token counts, new at every step, need no new
// primitive (creating one costs about 0.1 ms, more than an expert's product).
struct Key {
  bool bf16, ta, tb;
  float alpha, beta;
  bool operator==(const Key&) const = default;
};
struct KeyHash {
  size_t operator()(const Key& k) const {
    return std::hash<float>()(k.alpha) * 31 + std::hash<float>()(k.beta) * 4 + (k.ta ? 2 : 0) + (k.tb ? 1 : 0) + (k.bf16 ? 8 : 0);
  }
};

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

// op(A) is [m, k], stored densely as [m, k] (tag ab) or, transposed, as [k, m] (ba); likewise
// op(B) [k, n]; C dense [m, n]. Sizes given at run time, layouts fixed: oneDNN then picks its JIT
// GEMM (run-time strides as well would send it to its reference loops).
dnnl::memory::desc operand(int64_t rows, int64_t cols, bool transposed, dt type) {
  return dnnl::memory::desc({rows, cols}, type, transposed ? tag::ba : tag::ab);
}

dnnl::matmul::primitive_desc describe(const Key& key) {
  const int64_t R = DNNL_RUNTIME_DIM_VAL;
  dnnl::primitive_attr attr;
  if (key.alpha != 1.f) attr.set_output_scales(0, {key.alpha});
  if (key.beta != 0.f) {
    dnnl::post_ops po;
    po.append_sum(key.beta);
    attr.set_post_ops(po);
  }
  const dt in = key.bf16 ? dt::bf16 : dt::f32;
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(operand(R, R, key.ta, in), operand(R, R, key.tb, in), operand(R, R, false, dt::f32)),
                                      attr, engine());
}

struct ThreadState {
  dnnl::stream stream{engine()};
  std::unordered_map<Key, dnnl::matmul, KeyHash> primitives;
  std::vector<uint16_t> a, b;         // BF16 copies of the operands
  std::vector<float> a32, b32, c;    // dense float32 copies of strided operands; C's product when C's rows are not dense
};

// rows x cols floats (row stride ld) as a dense block: in place when already dense, else copied.
const float* dense(const float* src, int64_t rows, int64_t cols, int64_t ld, std::vector<float>& buf) {
  if (ld == cols || rows == 1) return src;
  buf.resize(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) std::copy(src + r * ld, src + r * ld + cols, buf.data() + r * cols);
  return buf.data();
}

}  // namespace

bool onednn_available() { return true; }

bool bf16_gemm_available() { return cpu_has_bf16(); }

std::string bf16_gemm_unavailable_reason() {
  return cpu_has_bf16() ? "" : "this CPU has no BF16 dot-product instructions (AVX512_BF16 or AMX-BF16), so BF16 GEMMs would only be emulated";
}

std::string bf16_gemm_implementation() {
  if (!cpu_has_bf16()) return "";
  return describe({true, false, true, 1.f, 0.f}).impl_info_str() + std::string(" on ") +
         (static_cast<unsigned>(dnnl::get_effective_cpu_isa()) >= static_cast<unsigned>(dnnl::cpu_isa::avx512_core_amx) ? "avx512_core_amx"
                                                                                                                        : "avx512_core_bf16");
}

void gemm_onednn_kernel(bool bf16, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                        const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (bf16 && !cpu_has_bf16()) throw std::logic_error("gemm_onednn_kernel: " + bf16_gemm_unavailable_reason());
  thread_local ThreadState ts;
  // C with padded rows: the product into a dense buffer (beta = 0), then C = that + beta C.
  const bool dense_c = ldc == n;
  const Key key{bf16, trans_a, trans_b, alpha, dense_c ? beta : 0.f};
  auto it = ts.primitives.find(key);
  if (it == ts.primitives.end()) it = ts.primitives.emplace(key, dnnl::matmul(describe(key))).first;
  const int64_t a_rows = trans_a ? k : m, a_cols = trans_a ? m : k, b_rows = trans_b ? n : k, b_cols = trans_b ? k : n;
  void *pa, *pb;
  if (bf16) {
    ts.a.resize(static_cast<size_t>(m * k));
    ts.b.resize(static_cast<size_t>(k * n));
    to_bf16(a, a_rows, a_cols, lda, ts.a.data());
    to_bf16(b, b_rows, b_cols, ldb, ts.b.data());
    pa = ts.a.data();
    pb = ts.b.data();
  } else {   // oneDNN only reads its inputs; its API takes them as void*
    pa = const_cast<float*>(dense(a, a_rows, a_cols, lda, ts.a32));
    pb = const_cast<float*>(dense(b, b_rows, b_cols, ldb, ts.b32));
  }
  if (!dense_c) ts.c.resize(static_cast<size_t>(m * n));
  float* out = dense_c ? c : ts.c.data();
  const dt in = bf16 ? dt::bf16 : dt::f32;
  const dnnl::memory am(operand(m, k, trans_a, in), engine(), pa), bm(operand(k, n, trans_b, in), engine(), pb),
      cm(operand(m, n, false, dt::f32), engine(), out);
  // On this thread only, unless set_onednn_threads says otherwise: ds::gemm does the threading
  // (gemm.hpp), and oneDNN's OpenMP would otherwise spread a small product over every core.
  const int threads = omp_get_max_threads(), want = onednn_threads.load(std::memory_order_relaxed);
  if (threads != want) omp_set_num_threads(want);
  it->second.execute(ts.stream, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
  ts.stream.wait();
  if (threads != want) omp_set_num_threads(threads);
  if (dense_c) return;
  for (int64_t i = 0; i < m; ++i) {
    float* ci = c + i * ldc;
    const float* ti = out + i * n;
    if (beta == 0.f)
      for (int64_t j = 0; j < n; ++j) ci[j] = ti[j];
    else
      for (int64_t j = 0; j < n; ++j) ci[j] = ti[j] + beta * ci[j];
  }
}

#else   // built without oneDNN

bool onednn_available() { return false; }
bool bf16_gemm_available() { return false; }
std::string bf16_gemm_unavailable_reason() {
  return "this build has no oneDNN (Debian: apt-get install libdnnl-dev, then configure again), the library with the BF16 GEMM kernels";
}
std::string bf16_gemm_implementation() { return ""; }
void gemm_onednn_kernel(bool, bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float, float*,
                        int64_t) {
  throw std::logic_error("gemm_onednn_kernel: " + bf16_gemm_unavailable_reason());
}

#endif

}  // namespace ds
