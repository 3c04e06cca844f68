// The core against PyTorch: outputs and gradients from tools/make_core_fixture.py.
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/ops.hpp"
#include "common/optim.hpp"
#include "test_helpers.hpp"

using namespace ds;
using json = nlohmann::json;

namespace {
const json& fixture() {
  static const json j = [] {
    std::ifstream f(std::string(DS_SOURCE_DIR) + "/common/tests/fixtures/core_reference.json");
    REQUIRE(f.good());
    return json::parse(f);
  }();
  return j;
}

Tensor load(const json& t) { return Tensor::from(t["data"].get<std::vector<float>>(), t["shape"].get<Shape>()); }

float max_diff(const Tensor& a, const std::vector<float>& b) {
  REQUIRE(a.numel() == static_cast<int64_t>(b.size()));
  float m = 0;
  for (size_t i = 0; i < b.size(); ++i) m = std::max(m, std::abs(a.data()[i] - b[i]));
  return m;
}

// Runs fn on the case's inputs, backpropagates the stored projection, compares everything.
void check_case(const std::string& name, const std::function<Tensor(const std::vector<Tensor>&)>& fn, float tol = 1e-5f) {
  INFO("case " << name);
  const json& c = fixture()["cases"][name];
  std::vector<Tensor> xs;
  for (const auto& in : c["inputs"]) xs.push_back(load(in).requires_grad_());
  Tensor out = fn(xs);
  CHECK(out.shape() == c["output"]["shape"].get<Shape>());
  CHECK(max_diff(out, c["output"]["data"].get<std::vector<float>>()) < tol);
  const Tensor r = Tensor::from(c["projection"].get<std::vector<float>>(), out.shape());
  sum(mul(out, r)).backward();
  for (size_t i = 0; i < xs.size(); ++i) CHECK(max_diff(xs[i].grad(), c["grads"][i].get<std::vector<float>>()) < tol);
}
}  // namespace

TEST_CASE("torch reference: attention with grouped K/V heads") {
  check_case("attention_gqa", [](auto& x) { return scaled_dot_product_attention(x[0], x[1], x[2]); });
}

TEST_CASE("torch reference: norms, activations, cross-entropy") {
  check_case("rms_norm", [](auto& x) { return rms_norm(x[0], x[1], 1e-6f); });
  check_case("layer_norm", [](auto& x) { return layer_norm(x[0], x[1], x[2], 1e-5f); });
  check_case("gelu_tanh", [](auto& x) { return gelu_tanh(x[0]); });
  check_case("silu", [](auto& x) { return silu(x[0]); });
  const auto t = fixture()["cases"]["cross_entropy"]["targets"].get<std::vector<int32_t>>();
  check_case("cross_entropy", [t](auto& x) { return reshape(cross_entropy(x[0], IntTensor(t, {4})), {1}); });
}

TEST_CASE("torch reference: RoPE on adjacent pairs as DeepSeek-V3's reference code") {
  const int64_t d = 8, n = 16;
  Tensor c = Tensor::zeros({n, d / 2}), s = Tensor::zeros({n, d / 2});
  for (int64_t p = 0; p < n; ++p)
    for (int64_t i = 0; i < d / 2; ++i) {
      const float f = 1.f / std::pow(10000.f, static_cast<float>(2 * i) / d);
      c.data()[p * d / 2 + i] = std::cos(static_cast<float>(p) * f);
      s.data()[p * d / 2 + i] = std::sin(static_cast<float>(p) * f);
    }
  check_case("rope", [c, s](auto& x) { return rope(x[0], c, s, 2); });
}

TEST_CASE("torch reference: three AdamW steps") {
  const json& c = fixture()["cases"]["adamw"];
  Tensor w = Tensor::from(c["w0"].get<std::vector<float>>(), {4, 3}).requires_grad_();
  AdamWConfig cfg;
  cfg.lr = c["lr"];
  cfg.beta1 = c["beta1"];
  cfg.beta2 = c["beta2"];
  cfg.eps = c["eps"];
  cfg.weight_decay = c["weight_decay"];
  AdamW opt({{"w", w}}, cfg);
  for (const auto& g : c["grads"]) {
    w.set_grad(Tensor::from(g.get<std::vector<float>>(), {4, 3}));
    opt.step();
  }
  CHECK(max_diff(w, c["w3"].get<std::vector<float>>()) < 1e-6f);
}
