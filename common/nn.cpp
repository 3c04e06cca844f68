#include "common/nn.hpp"

#include <set>
#include <stdexcept>

#include "common/ops.hpp"

namespace ds {

Tensor& Module::register_parameter(const std::string& name, Tensor& t) {
  t.requires_grad_(true);
  params_.push_back({name, &t});
  return t;
}

Tensor& Module::register_buffer(const std::string& name, Tensor& t) {
  buffers_.push_back({name, &t});
  return t;
}

void Module::collect(const std::string& prefix, bool buffers, NamedTensors& out) const {
  for (const auto& [n, t] : buffers ? buffers_ : params_) out.push_back({prefix + n, *t});
  for (const auto& [n, m] : children_) m->collect(n.empty() ? prefix : prefix + n + ".", buffers, out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", false, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", true, out);
  return out;
}

NamedTensors Module::state_dict() const {
  NamedTensors out = named_parameters();
  for (auto& nb : named_buffers()) out.push_back(nb);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

void Module::zero_grad() {
  for (auto& [n, t] : named_parameters()) t.zero_grad();
}

void Module::requires_grad_(bool on) {
  for (auto& [n, t] : named_parameters()) t.requires_grad_(on);
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, const std::string& source) {
  NamedTensors mine = state_dict();
  std::set<std::string> names;
  for (const auto& [name, t] : mine) {
    auto it = state.find(name);
    if (it == state.end()) throw std::runtime_error(source + " has no tensor named '" + name + "'");
    if (it->second.shape() != t.shape())
      throw std::runtime_error(source + ": '" + name + "' has shape " + it->second.shape_str() + " but the model expects " + t.shape_str());
    names.insert(name);
  }
  for (const auto& [name, t] : state)
    if (!names.count(name)) throw std::runtime_error(source + " has a tensor '" + name + "' that the model does not use");
  for (auto& [name, t] : mine) t.copy_(state.at(name));
}

void Module::load_state_from(const Module& other) {
  std::map<std::string, Tensor> m;
  for (auto& [n, t] : other.state_dict()) m[n] = t;
  load_state_dict(m, "the source module");
}

namespace init {
void normal_(Tensor& t, Rng& rng, float std) {
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(rng.normal()) * std;
}
void uniform_(Tensor& t, Rng& rng, float bound) {
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = rng.uniform(-bound, bound);
}
}  // namespace init

Linear::Linear(int64_t in_features, int64_t out_features, Rng& rng, float init_std, bool with_bias) {
  weight = Tensor::zeros({out_features, in_features});
  init::normal_(weight, rng, init_std);
  register_parameter("weight", weight);
  if (with_bias) {
    bias = Tensor::zeros({out_features});
    register_parameter("bias", bias);
  }
}

namespace {
// The one thread-local switch a Linear reads: PyTorch's autocast pattern (torch.autocast and
// Transformer Engine's fp8_autocast are thread-local scopes too), so a model runs in FP8 without
// every module taking a precision argument. The innermost override alive in this thread:
thread_local const LinearOverride* g_linear_override = nullptr;
}
LinearOverride::LinearOverride(Fn fn) : fn_(std::move(fn)), prev_(g_linear_override) { g_linear_override = this; }
LinearOverride::~LinearOverride() { g_linear_override = prev_; }
const LinearOverride::Fn* LinearOverride::current() { return g_linear_override ? &g_linear_override->fn_ : nullptr; }

Tensor override_linear(const Tensor& x, const Tensor& w) {
  const LinearOverride::Fn* f = LinearOverride::current();
  return f ? (*f)(x, w) : linear(x, w);
}

Tensor Linear::forward(const Tensor& x) const {
  if (LinearOverride::current()) return bias.defined() ? add(override_linear(x, weight), bias) : override_linear(x, weight);
  return bias.defined() ? linear(x, weight, bias) : linear(x, weight);
}

Embedding::Embedding(int64_t num_embeddings, int64_t dim, Rng& rng, float init_std) {
  weight = Tensor::zeros({num_embeddings, dim});
  init::normal_(weight, rng, init_std);
  register_parameter("weight", weight);
}

Tensor Embedding::forward(const IntTensor& ids) const { return embedding(weight, ids); }

RMSNorm::RMSNorm(int64_t dim, float eps_) : eps(eps_) {
  weight = Tensor::ones({dim});
  register_parameter("weight", weight);
}

Tensor RMSNorm::forward(const Tensor& x) const { return rms_norm(x, weight, eps); }

LayerNorm::LayerNorm(int64_t dim, float eps_) : eps(eps_) {
  weight = Tensor::ones({dim});
  bias = Tensor::zeros({dim});
  register_parameter("weight", weight);
  register_parameter("bias", bias);
}

Tensor LayerNorm::forward(const Tensor& x) const { return layer_norm(x, weight, bias, eps); }

std::unique_ptr<NormLayer> make_norm(NormKind kind, int64_t dim, float eps) {
  if (kind == NormKind::LayerNorm) return std::make_unique<LayerNorm>(dim, eps);
  return std::make_unique<RMSNorm>(dim, eps);
}

}  // namespace ds
