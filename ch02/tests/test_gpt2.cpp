#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "ch02/generate.hpp"
#include "ch02/gpt2.hpp"
#include "common/autograd.hpp"
#include "common/fsutil.hpp"
#include "common/safetensors.hpp"

using namespace ds;
using namespace ds::ch02;
namespace fs = std::filesystem;

namespace {
const std::string kDir = std::string(DS_SOURCE_DIR) + "/ch02/tests/fixtures/gpt2_tiny";
nlohmann::json expected() { return nlohmann::json::parse(read_text_file(kDir + "/expected.json")); }

// A copy of the fixture with one file replaced, for the error tests.
struct BrokenCopy {
  fs::path dir = fs::temp_directory_path() / "ds_test_gpt2_broken";
  BrokenCopy() {
    fs::remove_all(dir);
    fs::create_directories(dir);
    for (const auto& e : fs::directory_iterator(kDir)) fs::copy_file(e.path(), dir / e.path().filename());
  }
  ~BrokenCopy() { fs::remove_all(dir); }
  void edit_weights(const std::function<void(SafeTensorsEntries&)>& f) {
    const SafeTensorsFile st = load_safetensors((dir / "model.safetensors").string());
    SafeTensorsEntries e;
    for (const auto& n : st.names()) e.push_back({n, st.get(n)});
    f(e);
    save_safetensors((dir / "model.safetensors").string(), e);
  }
};
}  // namespace

TEST_CASE("gpt2: logits of the tiny Hugging Face-layout checkpoint match PyTorch at every position") {
  const auto ex = expected();
  GPT2 g = load_gpt2(kDir);
  const auto ids = ex["ids"].get<std::vector<int32_t>>();
  NoGradGuard ng;
  const Tensor logits = g.model->forward(IntTensor(ids, {1, static_cast<int64_t>(ids.size())}));
  const auto ref = ex["logits"].get<std::vector<float>>();
  REQUIRE(static_cast<int64_t>(ref.size()) == logits.numel());
  float worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::abs(ref[i] - logits.data()[i]));
  CHECK(worst < 1e-4f);
}

TEST_CASE("gpt2: greedy generation with and without the KV cache equals PyTorch's") {
  const auto ex = expected();
  GPT2 g = load_gpt2(kDir);
  SamplingConfig sc;
  sc.max_new_tokens = 10;
  const auto prompt = ex["prompt"].get<std::vector<int32_t>>(), greedy = ex["greedy"].get<std::vector<int32_t>>();
  CHECK(generate(*g.model, {prompt}, sc, false).tokens[0] == greedy);
  CHECK(generate(*g.model, {prompt}, sc, true).tokens[0] == greedy);
}

TEST_CASE("gpt2: the tokenizer from vocab.json + merges.txt round-trips and applies the merges") {
  GPT2 g = load_gpt2(kDir);
  CHECK(g.tokenizer.vocab_size() == expected()["vocab_size"].get<int>());
  const std::string text = "the theater in the sun<|endoftext|>";
  const auto ids = g.tokenizer.encode(text);
  CHECK(g.tokenizer.decode(ids) == text);
  CHECK(g.tokenizer.encode(" the") == std::vector<int32_t>{g.tokenizer.token_id("Ġthe")});
  CHECK(ids.back() == g.tokenizer.eot_id());
}

TEST_CASE("gpt2: a missing folder, file or tensor and a wrong shape are one sentence each") {
  CHECK_THROWS_WITH_AS(load_gpt2("/nonexistent/gpt2"), "GPT-2 checkpoint folder '/nonexistent/gpt2' does not exist", std::runtime_error);
  {
    BrokenCopy b;
    fs::remove(b.dir / "merges.txt");
    CHECK_THROWS_WITH_AS(load_gpt2(b.dir.string()), ("GPT-2 checkpoint '" + b.dir.string() + "' has no merges.txt").c_str(), std::runtime_error);
  }
  {
    BrokenCopy b;
    b.edit_weights([](SafeTensorsEntries& e) { std::erase_if(e, [](auto& p) { return p.first == "h.1.mlp.c_fc.bias"; }); });
    CHECK_THROWS_WITH_AS(load_gpt2(b.dir.string()), ((b.dir / "model.safetensors").string() + " has no tensor 'h.1.mlp.c_fc.bias'").c_str(),
                         std::runtime_error);
  }
  {
    BrokenCopy b;
    b.edit_weights([](SafeTensorsEntries& e) {
      for (auto& [n, t] : e)
        if (n == "ln_f.weight") t = encode_tensor(Tensor::zeros({31}));
    });
    CHECK_THROWS_WITH_AS(load_gpt2(b.dir.string()),
                         ((b.dir / "model.safetensors").string() + ": 'model.norm.weight' has shape [31] but the model expects [32]").c_str(),
                         std::runtime_error);
  }
}
