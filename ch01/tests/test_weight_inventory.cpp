#include <doctest/doctest.h>

#include <map>

#include "ch01/weight_inventory.hpp"
#include "ch06/checkpoint.hpp"

using namespace ds;
using namespace ds::ch01;

TEST_CASE("weight inventory: the tiny and mini models' checkpoint tensors, name for name and shape for shape") {
  for (const std::string& name : {std::string("tiny"), std::string("mini")}) {
    INFO(name);
    Rng rng(1);
    const ch06::DeepSeekModel model(preset(name), rng);
    std::map<std::string, Shape> stored;
    for (const auto& [n, t] : ch06::checkpoint_tensors(model)) stored[n] = t.shape();
    std::map<std::string, Shape> listed;
    for (const WeightTensor& t : weight_inventory(preset(name))) listed[t.name] = t.shape;
    CHECK(listed.size() == weight_inventory(preset(name)).size());   // no name twice
    CHECK(listed == stored);
  }
  // The MTP module's copies of the shared embedding and head are stored, flagged, and not counted.
  int copies = 0;
  for (const WeightTensor& t : weight_inventory(preset("deepseek-v3"))) copies += t.shared_copy;
  CHECK(copies == 2);
}

TEST_CASE("weight inventory: DeepSeek-V3 by component, each part from its shapes, summing to the pinned totals") {
  const DeepSeekConfig c = preset("deepseek-v3");
  const PartBreakdown b = count_by_part(c);
  const int64_t h = 7168, expert = 3LL * h * 2048;   // gate_proj, up_proj, down_proj of width 2048
  const int64_t mla = h * 1536 + 1536 + 1536LL * 128 * (128 + 64) + h * (512 + 64) + 512 + 512LL * 128 * (128 + 128) + 128LL * 128 * h;
  CHECK(mla == 187107328);
  CHECK(b.of(Part::Embedding).params == 129280LL * h);
  CHECK(b.of(Part::Attention).params == 61 * mla);
  CHECK(b.of(Part::Norms).params == 61 * 2 * h + h);   // input and post-attention RMSNorms, model.norm
  CHECK(b.of(Part::DenseFFN).params == 3 * 3LL * h * 18432);
  CHECK(b.of(Part::SharedExperts).params == 58 * expert);
  CHECK(b.of(Part::RoutedExperts).params == 58LL * 256 * expert);
  CHECK(b.of(Part::RoutedExperts).activated == 58LL * 8 * expert);   // 8 of 256 per token
  CHECK(b.of(Part::Gates).params == 58 * (256 * h + 256));          // weight and e_score_correction_bias
  CHECK(b.of(Part::Head).params == 129280LL * h);
  // The totals issue 9 pins (the MTP module adds its block, enorm, hnorm, eh_proj, shared_head.norm).
  CHECK(b.main == 671026419200LL);
  CHECK(b.total() == 682636487424LL);
  CHECK(b.main_activated == 37552297472LL);
  CHECK(b.of(Part::MTP).params == mla + 2 * h + (256 * h + 256) + expert + 256 * expert + 2 * h + 2 * h * h + h);
  CHECK(count_by_part(preset("deepseek-v2")).total() == 235741434880LL);
  CHECK(count_by_part(preset("deepseek-v2-lite")).total() == 15706484224LL);
}

TEST_CASE("weight inventory: the parts sum to count_parameters(), and the listed tensors add up to each part, on every preset") {
  for (const std::string& name : preset_names()) {
    INFO(name);
    const DeepSeekConfig c = preset(name);
    const PartBreakdown b = count_by_part(c);
    const ParamCount p = count_parameters(c);
    int64_t main = 0, main_activated = 0;
    for (const PartCount& pc : b.parts) {
      if (pc.part == Part::MTP) continue;
      main += pc.params;
      main_activated += pc.activated;
    }
    CHECK(main == p.main());
    CHECK(main_activated == p.main_active());
    CHECK(b.total() == p.total);
    // The inventory lists tensors from the shapes alone; grouped by part they give the same counts.
    std::map<Part, int64_t> listed;
    for (const WeightTensor& t : weight_inventory(c))
      if (!t.shared_copy) listed[t.part] += t.numel();
    for (const PartCount& pc : b.parts) CHECK(listed[pc.part] == pc.params);
  }
  // V2-Lite: no q_lora_rank (a full q_proj), no routing bias, no MTP module.
  bool q_proj = false, bias = false;
  for (const WeightTensor& t : weight_inventory(preset("deepseek-v2-lite"))) {
    q_proj |= t.name == "model.layers.0.self_attn.q_proj.weight";
    bias |= t.name.find("e_score_correction_bias") != std::string::npos;
    CHECK(t.part != Part::MTP);
  }
  CHECK(q_proj);
  CHECK_FALSE(bias);
}
