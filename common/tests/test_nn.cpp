#include "common/nn.hpp"
#include "common/ops.hpp"
#include "test_helpers.hpp"

using namespace ds;

namespace {
struct Block : Module {
  explicit Block(Rng& rng) : attn_norm(4), proj(4, 6, rng) {
    register_module("input_layernorm", attn_norm);
    register_module("proj", proj);
    bias = Tensor::zeros({6});
    register_buffer("e_score_correction_bias", bias);
  }
  RMSNorm attn_norm;
  Linear proj;
  Tensor bias;
};
struct Net : Module {
  explicit Net(Rng& rng) : embed(10, 4, rng) {
    register_module("embed_tokens", embed);
    for (int i = 0; i < 2; ++i) {
      layers.push_back(std::make_unique<Block>(rng));
      register_module("layers." + std::to_string(i), *layers.back());
    }
  }
  Embedding embed;
  std::vector<std::unique_ptr<Block>> layers;
};
}  // namespace

TEST_CASE("module: Hugging Face style dotted names, counts, buffers apart from parameters") {
  Rng rng(1);
  Net net(rng);
  const auto names = net.named_parameters();
  REQUIRE(names.size() == 5);
  CHECK(names[0].first == "embed_tokens.weight");
  CHECK(names[1].first == "layers.0.input_layernorm.weight");
  CHECK(names[2].first == "layers.0.proj.weight");
  CHECK(net.num_parameters() == 40 + 2 * (4 + 24));
  CHECK(net.named_buffers().size() == 2);
  CHECK(net.state_dict().back().first == "layers.1.e_score_correction_bias");
  for (auto& [n, t] : net.named_parameters()) CHECK(t.requires_grad());
}

TEST_CASE("module: load_state_dict copies by name and names the first mismatch") {
  Rng r1(1), r2(2);
  Net a(r1), b(r2);
  b.load_state_from(a);
  CHECK(test::max_abs_diff(a.layers[1]->proj.weight, b.layers[1]->proj.weight) == 0.f);
  std::map<std::string, Tensor> st;
  for (auto& [n, t] : a.state_dict()) st[n] = t;
  st["layers.0.proj.weight"] = Tensor::zeros({6, 5});
  CHECK_THROWS_WITH_AS(b.load_state_dict(st, "ckpt/model.safetensors"),
                       "ckpt/model.safetensors: 'layers.0.proj.weight' has shape [6, 5] but the model expects [6, 4]", std::runtime_error);
  st.erase("layers.0.proj.weight");
  CHECK_THROWS_WITH_AS(b.load_state_dict(st), "state dict has no tensor named 'layers.0.proj.weight'", std::runtime_error);
  st["layers.0.proj.weight"] = Tensor::zeros({6, 4});
  st["extra"] = Tensor::zeros({1});
  CHECK_THROWS_WITH_AS(b.load_state_dict(st), "state dict has a tensor 'extra' that the model does not use", std::runtime_error);
}

TEST_CASE("layers: Linear, Embedding and norms compute what their ops compute") {
  Rng rng(3);
  Linear lin(3, 2, rng, 0.02f, true);
  CHECK(lin.named_parameters().size() == 2);
  const Tensor x = test::rnd({5, 3}, 4);
  CHECK(test::max_abs_diff(lin.forward(x), linear(x, lin.weight, lin.bias)) == 0.f);
  LayerNorm ln(3);
  CHECK(ln.forward(x).shape() == x.shape());
  RMSNorm rn(3);
  CHECK(test::max_abs_diff(rn.forward(x), rms_norm(x, Tensor::ones({3}), 1e-6f)) == 0.f);
}
