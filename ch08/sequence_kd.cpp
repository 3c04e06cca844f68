#include "ch08/sequence_kd.hpp"

#include <algorithm>
#include <stdexcept>

#include "ch02/generate.hpp"
#include "ch07/verifiers.hpp"
#include "ch08/task_eval.hpp"
#include "common/autograd.hpp"

namespace ds::ch08 {

bool accept_sample(const ch07::Problem& p, const std::vector<int32_t>& completion, const Tokenizer& tok) {
  if (completion.empty() || completion.back() != tok.eot_id()) return false;
  const ch07::Reward r = ch07::score(p, tok.decode(completion));
  return r.accuracy == 1.f && r.format == 1.f;
}

std::vector<TaskExample> rejection_sample(ch06::DeepSeekModel& teacher, const ch07::TaskCodec& codec, const std::vector<ch07::Problem>& problems,
                                          const RejectionConfig& cfg, RejectionStats* stats) {
  if (cfg.samples_per_prompt < 1 || cfg.keep_per_prompt < 1 || cfg.batch < 1)
    throw std::invalid_argument("rejection_sample: samples per prompt, completions kept and batch must be at least 1");
  NoGradGuard ng;
  DecodingMode dm(teacher);
  const int32_t eot = codec.eot();
  ch02::SamplingConfig sc;
  sc.max_new_tokens = cfg.max_new_tokens;
  sc.temperature = cfg.temperature;
  sc.stop_tokens = {eot};
  sc.seed = cfg.seed;
  RejectionStats st;
  std::vector<TaskExample> kept;
  const size_t k = static_cast<size_t>(cfg.samples_per_prompt);
  for (size_t first = 0; first < problems.size(); first += static_cast<size_t>(cfg.batch)) {
    const size_t n = std::min(problems.size() - first, static_cast<size_t>(cfg.batch));
    std::vector<std::vector<int32_t>> prompts;
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < k; ++j) prompts.push_back(codec.prompt(problems[first + i]));
    sc.first_row = static_cast<int64_t>(first * k);   // every sample its own RNG stream, however the calls are cut
    const ch02::Generation g = ch02::generate(teacher, prompts, sc);
    for (size_t i = 0; i < n; ++i) {
      std::vector<std::vector<int32_t>> accepted;
      for (size_t j = 0; j < k; ++j) {
        const std::vector<int32_t>& c = g.tokens[i * k + j];
        const bool pass = accept_sample(problems[first + i], c, codec.tok);
        st.accepted += pass;
        if (pass && static_cast<int>(accepted.size()) < cfg.keep_per_prompt && std::find(accepted.begin(), accepted.end(), c) == accepted.end())
          accepted.push_back(c);
      }
      st.prompts_covered += !accepted.empty();
      const std::vector<int32_t> reference = reference_example(codec, problems[first + i]).completion;
      for (const auto& c : accepted) st.kept_equal_reference += c == reference;
      st.kept += static_cast<int64_t>(accepted.size());
      for (auto& c : accepted) kept.push_back({prompts[i * k], std::move(c)});
    }
    st.prompts += static_cast<int64_t>(n);
    st.samples += static_cast<int64_t>(n * k);
  }
  if (stats) *stats = st;
  return kept;
}

}  // namespace ds::ch08
