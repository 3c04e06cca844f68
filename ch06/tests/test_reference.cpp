// The cross-check against PyTorch: tools/deepseek_reference.py (an independent PyTorch version
// of the architecture) wrote a tiny random checkpoint and its logits; the C++ model loads the
// checkpoint and must reproduce them.
#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "ch06/checkpoint.hpp"
#include "common/autograd.hpp"
#include "common/fsutil.hpp"

using namespace ds;
using namespace ds::ch06;

TEST_CASE("reference: main and MTP logits match PyTorch's on the committed fixture within 1e-4") {
  const std::string dir = std::string(DS_SOURCE_DIR) + "/ch06/tests/fixtures/deepseek_tiny";
  const auto expected = nlohmann::json::parse(read_text_file(dir + "/expected.json"));
  LoadedModel lm = load_model(dir);
  const std::vector<int32_t> ids = expected["ids"].get<std::vector<int32_t>>();
  const IntTensor in(ids, {1, static_cast<int64_t>(ids.size())});
  NoGradGuard ng;
  for (auto mode : {ch03::MLAMode::Naive, ch03::MLAMode::Absorbed}) {
    lm.model->set_mla_mode(mode);
    const auto out = lm.model->forward_all(in);
    const std::vector<std::pair<std::string, Tensor>> results = {{"logits", out.logits}, {"mtp_logits", out.mtp.at(0)}};
    for (const auto& [key, got] : results) {
      const std::vector<float> want = expected[key].get<std::vector<float>>();
      REQUIRE(static_cast<int64_t>(want.size()) == got.numel());
      float worst = 0;
      for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::abs(want[i] - got.data()[i]));
      INFO(key << " max abs diff " << worst);
      CHECK(worst < 1e-4f);
    }
  }
}
