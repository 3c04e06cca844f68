// Modules: named parameters, as in PyTorch's nn.Module, so that checkpoints use the same
// dotted names as Hugging Face ("model.layers.0.self_attn.q_a_proj.weight").
//
// Children and parameters are members of the concrete module and are registered by address
// in its constructor, so a Module cannot be copied or moved; hold variable-length lists
// (layers, experts) in std::vector<std::unique_ptr<...>>.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/rng.hpp"
#include "common/tensor.hpp"

namespace ds {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  NamedTensors named_parameters() const;           // trainable tensors, registration order
  std::vector<Tensor> parameters() const;
  NamedTensors named_buffers() const;              // saved state that is not trained (e.g. routing bias)
  NamedTensors state_dict() const;                 // parameters then buffers
  int64_t num_parameters() const;
  void zero_grad();
  void requires_grad_(bool on);                    // freeze (false) or unfreeze every parameter

  // Copies values by name. Every name must exist on both sides with the same shape;
  // the first mismatch is reported in one sentence (std::runtime_error).
  void load_state_dict(const std::map<std::string, Tensor>& state, const std::string& source = "state dict");
  void load_state_from(const Module& other);       // e.g. a frozen reference copy

 protected:
  Tensor& register_parameter(const std::string& name, Tensor& t);   // marks it requires_grad
  Tensor& register_buffer(const std::string& name, Tensor& t);
  // An empty name adds the child's names unprefixed (a wrapper that keeps a model's names).
  template <class M>
  M& register_module(const std::string& name, M& m) {
    children_.push_back({name, &m});
    return m;
  }

 private:
  void collect(const std::string& prefix, bool buffers, NamedTensors& out) const;
  std::vector<std::pair<std::string, Tensor*>> params_, buffers_;
  std::vector<std::pair<std::string, Module*>> children_;
};

namespace init {
void normal_(Tensor& t, Rng& rng, float std);
void uniform_(Tensor& t, Rng& rng, float bound);   // U(-bound, bound)
}  // namespace init

// y = x W^T (+ b), weight [out, in] as in torch.nn.Linear; no bias by default (DeepSeek has none).
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, Rng& rng, float init_std = 0.02f, bool bias = false);
  Tensor forward(const Tensor& x) const;           // x [..., in] -> [..., out]
  Tensor weight, bias;
};

// While alive, every Linear::forward in this thread computes fn(x, weight) (plus the bias)
// instead of ds::linear: chapter 5 trains whole models with FP8 GEMMs this way without touching
// them, as Transformer Engine's fp8_autocast does. The routed experts' GEMMs follow it too
// (ch04::MoE switches to its per-expert composition of override_linear while one is installed):
// DeepSeek-V3 runs them in FP8 and ships expert weights in FP8. Ops that call ds::linear directly
// (the MoE gate, the output head) keep full precision, as V3 keeps them (section 3.3.1).
class LinearOverride {
 public:
  using Fn = std::function<Tensor(const Tensor& x, const Tensor& weight)>;
  explicit LinearOverride(Fn fn);
  ~LinearOverride();
  LinearOverride(const LinearOverride&) = delete;
  LinearOverride& operator=(const LinearOverride&) = delete;
  static const Fn* current();   // nullptr when none is installed

 private:
  Fn fn_;
  const LinearOverride* prev_;
};

// x [..., in], w [out, in] -> [..., out]: the installed LinearOverride's product, else ds::linear.
Tensor override_linear(const Tensor& x, const Tensor& w);

class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t dim, Rng& rng, float init_std = 0.02f);
  Tensor forward(const IntTensor& ids) const;      // ids [...] -> [..., dim]
  Tensor weight;
};

// What a model skeleton needs of a normalisation layer, so one skeleton serves DeepSeek (RMSNorm)
// and GPT-2 (LayerNorm).
class NormLayer : public Module {
 public:
  virtual Tensor forward(const Tensor& x) const = 0;   // [..., C] -> [..., C]
};

// x / sqrt(mean(x^2) + eps) * weight (DeepSeek, LLaMA), Hugging Face's name "weight".
class RMSNorm : public NormLayer {
 public:
  explicit RMSNorm(int64_t dim, float eps = 1e-6f);
  Tensor forward(const Tensor& x) const override;
  Tensor weight;
  float eps;
};

// (x - mean) / sqrt(var + eps) * weight + bias (GPT-2).
class LayerNorm : public NormLayer {
 public:
  explicit LayerNorm(int64_t dim, float eps = 1e-5f);
  Tensor forward(const Tensor& x) const override;
  Tensor weight, bias;
  float eps;
};

enum class NormKind { RMSNorm, LayerNorm };
std::unique_ptr<NormLayer> make_norm(NormKind kind, int64_t dim, float eps);

}  // namespace ds
