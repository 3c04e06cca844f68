// Differentiable ops of the core. Every op computes its forward, records one Node with a
// hand-written backward (autograd.hpp) and has a finite-difference gradient check in
// common/tests. Ops are coarse on purpose: a whole attention or a whole cross-entropy is one
// node, so the tape stays short and the inner loops are Eigen GEMMs or fused kernels.
//
// Shapes follow PyTorch: row-major, last dimension fastest. Binary elementwise ops broadcast
// like NumPy (dimensions aligned from the right, size-1 dimensions stretch).
#pragma once

#include <vector>

#include "common/tensor.hpp"

namespace ds {

// ---- elementwise (ops_elementwise.cpp) --------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);          // gradient goes to the smaller (a on ties)
Tensor add_scalar(const Tensor& x, float s);
Tensor mul_scalar(const Tensor& x, float s);
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor square(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor log_sigmoid(const Tensor& x);                      // log(sigmoid(x)) = -softplus(-x), finite for any x (DPO)
Tensor relu(const Tensor& x);
Tensor silu(const Tensor& x);                              // x * sigmoid(x), SwiGLU's gate
Tensor gelu(const Tensor& x);                              // exact, erf form
Tensor gelu_tanh(const Tensor& x);                         // GPT-2's tanh approximation
Tensor clamp(const Tensor& x, float lo, float hi);         // zero gradient outside [lo, hi]
Tensor swiglu(const Tensor& gate, const Tensor& up);       // silu(gate) * up, fused

// Sum `g` down to `shape` (the inverse of broadcasting); used by broadcasting backwards.
Tensor sum_to_shape(const Tensor& g, const Shape& shape);
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// ---- matrix products (ops_matmul.cpp) ---------------------------------------------------
// a is [..., M, K], b is [..., K, N] (same leading dims) or [K, N]  ->  [..., M, N]
Tensor matmul(const Tensor& a, const Tensor& b);
// x is [..., in], weight is [out, in] (PyTorch's nn.Linear layout)  ->  [..., out]
Tensor linear(const Tensor& x, const Tensor& weight);
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);

// ---- shape (ops_shape.cpp) ---------------------------------------------------------------
Tensor reshape(const Tensor& x, const Shape& shape);       // a view; one dim may be -1
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);   // copies
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);           // copies
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end);   // [start, end), copies
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
Tensor broadcast_to(const Tensor& x, const Shape& shape);

// ---- reductions (ops_reduce.cpp) ---------------------------------------------------------
Tensor sum(const Tensor& x);                                // -> scalar []
Tensor mean(const Tensor& x);                               // -> scalar []
Tensor sum(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor mean(const Tensor& x, int64_t dim, bool keepdim = false);

// ---- softmax family (ops_softmax.cpp) ---------------------------------------------------
Tensor softmax(const Tensor& x);                            // over the last dimension
Tensor log_softmax(const Tensor& x);                        // over the last dimension
// logits [N, V] (or [B, T, V]), targets with N (or B*T) entries; mean over targets != ignore_index.
Tensor cross_entropy(const Tensor& logits, const IntTensor& targets, int32_t ignore_index = -100);

// ---- normalisation (ops_norm.cpp) -------------------------------------------------------
// x is [..., C], weight [C]:  x / sqrt(mean(x^2) + eps) * weight      (DeepSeek, LLaMA)
Tensor rms_norm(const Tensor& x, const Tensor& weight, float eps);
// x is [..., C], weight and bias [C]                                    (GPT-2)
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps);

// ---- attention (ops_attention.cpp) ------------------------------------------------------
struct AttentionOptions {
  bool causal = true;
  float scale = 0.f;                  // 0 means 1/sqrt(head dim of q)
  int64_t q_offset = -1;              // absolute position of query 0; -1 means S - T (decoding)
  const IntTensor* key_valid = nullptr;   // optional [B, S] of 0/1: padded keys get no weight
  int64_t kv_len = -1;                // use only the first kv_len of S keys (a preallocated KV cache)
  bool seq_major = false;             // q, k, v and the output are [B, T, H, D] as projections produce them
};
// q [B, H, T, D], k [B, Hkv, S, D], v [B, Hkv, S, Dv] with H a multiple of Hkv (GQA/MQA share
// each K/V head among H/Hkv query heads)  ->  [B, H, T, Dv]. With kv_len, k and v may be a
// cache allocated for S positions of which the first kv_len are filled. With seq_major every
// tensor has positions before heads ([B, T, H, D], [B, S, Hkv, D], ...), read in place: no
// permute. Fused: scores, mask, softmax and the weighted sum in one node; the backward
// recomputes nothing but keeps the weights.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& opt = {});
// Attention whose values are the first v_dim columns of the keys: q [B, H, T, D], kv
// [B, Hkv, S, D] -> [B, H, T, v_dim]. MLA's absorbed decoding is this with one shared head:
// keys are [c_KV; k_pe] and values c_KV, so the latent cache is stored once (DeepSeek-V2 sec. 2.1.2).
Tensor latent_attention(const Tensor& q, const Tensor& kv, int64_t v_dim, const AttentionOptions& opt = {});
// The softmax weights [B, H, T, S] the attention above uses (no grad), for plots and lessons.
Tensor attention_weights(const Tensor& q, const Tensor& k, const AttentionOptions& opt = {});
// The two ops above as plain compositions of the ops in this file, one (batch, head) at a time:
// scores by matmul, an additive mask for the causal and padding rules, softmax, the weighted
// sum; no bands, no fusion, no shared heads. Same arguments, same results; slow. The tests
// compare the fused kernels against these, values and gradients.
Tensor attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& opt = {});
Tensor latent_attention_reference(const Tensor& q, const Tensor& kv, int64_t v_dim, const AttentionOptions& opt = {});

// ---- rotary position embedding (ops_rope.cpp) -------------------------------------------
// x is [B, T, H, D] (or [B, T, D]); cos and sin are [T_max, D/2]; token t of x sits at position
// pos_offset + t. Rotates the adjacent pairs (x[2i], x[2i+1]) by angle pos * theta_i, as
// DeepSeek's reference code does (the "interleaved" layout, not GPT-NeoX's half split).
Tensor rope(const Tensor& x, const Tensor& cos, const Tensor& sin, int64_t pos_offset = 0);
// The same with a position per token, positions [B, T]: rows of a left-padded batch each count
// from their own first real token.
Tensor rope(const Tensor& x, const Tensor& cos, const Tensor& sin, const IntTensor& positions);
// RoPE on the last R = 2 cos.size(1) entries of every head only, the leading D - R copied:
// MLA's query heads [q_nope; q_pe] in one pass (DeepSeek-V2 eq. 13 rotates q_pe alone), instead
// of slicing q_pe out, rotating it and concatenating it back.
Tensor rope_tail(const Tensor& x, const Tensor& cos, const Tensor& sin, int64_t pos_offset = 0);
Tensor rope_tail(const Tensor& x, const Tensor& cos, const Tensor& sin, const IntTensor& positions);

// ---- indexing (ops_index.cpp) -----------------------------------------------------------
// weight [V, C], ids of any shape  ->  ids.shape + [C]
Tensor embedding(const Tensor& weight, const IntTensor& ids);
// x [N, C], idx [M]  ->  [M, C], row m = x[idx[m]]              (MoE dispatch)
Tensor gather_rows(const Tensor& x, const IntTensor& idx);
// src [M, C], idx [M]  ->  [n_rows, C], row r = sum of src[m] with idx[m] == r   (MoE combine)
Tensor scatter_add_rows(const Tensor& src, const IntTensor& idx, int64_t n_rows);
// x [..., E]  ->  the k largest values [..., k] (differentiable) and their indices (not).
struct TopK {
  Tensor values;
  IntTensor indices;
};
TopK topk(const Tensor& x, int64_t k);
// x [..., V], idx [...]  ->  [...], out[i] = x[i, idx[i]]
Tensor gather_last(const Tensor& x, const IntTensor& idx);

// ---- RL and distillation terms (ops_rl.cpp) --------------------------------------------
// logits [N, V], targets [N]  ->  log p(target) per row [N]; fused log-softmax + gather. A target
// equal to ignore_index (a prompt or padding position) gives 0 and no gradient.
Tensor token_log_probs(const Tensor& logits, const IntTensor& targets, int32_t ignore_index = -100);
// logits [N, V]  ->  entropy of softmax(logits) per row [N]
Tensor entropy_from_logits(const Tensor& logits);
// The k3 estimator of KL(pi || pi_ref) per token used by GRPO (DeepSeekMath eq. 4):
// exp(ref - logp) - (ref - logp) - 1, with gradient only through logp.
Tensor kl_k3(const Tensor& logp, const Tensor& ref_logp);
// Soft-target distillation per row [N]: KL(softmax(teacher/T) || softmax(student/T)) * T^2
// (Hinton et al.'s scaling keeps gradient size independent of T); gradient only to the student.
Tensor distill_kl(const Tensor& student_logits, const Tensor& teacher_logits, float temperature);

}  // namespace ds
