// Proof the core learns: a small transformer language model built only from common/ (no
// chapter code) trains on the procedural corpus and its validation loss must fall well below
// the loss of guessing (log V) within a bounded number of steps.
#include <cmath>

#include "common/dataset.hpp"
#include "common/nn.hpp"
#include "common/ops.hpp"
#include "common/trainer.hpp"
#include "test_helpers.hpp"

using namespace ds;

namespace {
constexpr int64_t kDim = 64, kHeads = 4, kLayers = 2, kSeq = 64;

struct TinyBlock : Module {
  TinyBlock(Rng& rng) : norm1(kDim), norm2(kDim), wq(kDim, kDim, rng), wk(kDim, kDim, rng), wv(kDim, kDim, rng),
                        wo(kDim, kDim, rng), up(kDim, 4 * kDim, rng), down(4 * kDim, kDim, rng) {
    for (auto [n, m] : std::initializer_list<std::pair<const char*, Module*>>{{"norm1", &norm1}, {"norm2", &norm2}, {"wq", &wq}, {"wk", &wk},
                         {"wv", &wv}, {"wo", &wo}, {"up", &up}, {"down", &down}})
      register_module(n, *m);
  }
  // x [B, T, C]
  Tensor forward(const Tensor& x) {
    const int64_t b = x.size(0), t = x.size(1);
    auto heads = [&](const Tensor& y) { return permute(reshape(y, {b, t, kHeads, kDim / kHeads}), {0, 2, 1, 3}); };
    const Tensor h = norm1.forward(x);
    const Tensor a = scaled_dot_product_attention(heads(wq.forward(h)), heads(wk.forward(h)), heads(wv.forward(h)));
    const Tensor x1 = add(x, wo.forward(reshape(permute(a, {0, 2, 1, 3}), {b, t, kDim})));
    return add(x1, down.forward(gelu(up.forward(norm2.forward(x1)))));
  }
  RMSNorm norm1, norm2;
  Linear wq, wk, wv, wo, up, down;
};

struct TinyLM : Module {
  TinyLM(int64_t vocab, Rng& rng) : embed(vocab, kDim, rng), norm(kDim), head(kDim, vocab, rng) {
    register_module("embed", embed);
    for (int64_t i = 0; i < kLayers; ++i) {
      blocks.push_back(std::make_unique<TinyBlock>(rng));
      register_module("blocks." + std::to_string(i), *blocks.back());
    }
    register_module("norm", norm);
    register_module("head", head);
  }
  Tensor loss(const Batch& b) {
    Tensor x = embed.forward(b.inputs);
    for (auto& blk : blocks) x = blk->forward(x);
    return cross_entropy(head.forward(norm.forward(x)), b.targets);
  }
  Embedding embed;
  std::vector<std::unique_ptr<TinyBlock>> blocks;
  RMSNorm norm;
  Linear head;
};

}  // namespace

TEST_CASE("learning: a core-only transformer LM gets well below chance on the corpus in 300 steps") {
  const int vocab = 512;
  const CorpusData data = default_corpus_dataset(400000, vocab, /*seed=*/3);
  Rng rng(11);
  TinyLM model(data.tokenizer.vocab_size(), rng);
  TrainerConfig tc;
  tc.steps = 300;
  tc.batch_size = 16;
  tc.seq_len = kSeq;
  tc.lr = 3e-3f;
  tc.min_lr = 3e-4f;
  tc.warmup = 20;
  tc.weight_decay = 0.01f;
  tc.eval_every = tc.steps;   // before and after
  tc.seed = 11;
  tc.progress = false;
  Trainer trainer(model.named_parameters(), tc, [&model](const Batch& b) { return Loss{model.loss(b), {}}; });
  const TrainHistory& h = trainer.run(data.dataset);
  const double before = h.val.at("loss").front(), after = h.final_val();
  CHECK(before == doctest::Approx(std::log(static_cast<double>(vocab))).epsilon(0.02));   // chance
  MESSAGE("validation loss: " << before << " before, " << after << " after " << tc.steps << " steps");
  CHECK(after < 2.5);   // chance is log(512) = 6.24; this seed reaches about 2.0
}
