#include "ch08/task_eval.hpp"

#include <algorithm>

#include "ch02/generate.hpp"
#include "ch07/sft.hpp"
#include "ch07/verifiers.hpp"
#include "common/autograd.hpp"
#include "common/ops.hpp"

namespace ds::ch08 {
namespace {

template <class T>
std::vector<T> chunk(const std::vector<T>& v, size_t first, int64_t n) {
  return std::vector<T>(v.begin() + static_cast<std::ptrdiff_t>(first),
                        v.begin() + static_cast<std::ptrdiff_t>(std::min(v.size(), first + static_cast<size_t>(n))));
}

}  // namespace

TaskScore score_on_task(ch06::DeepSeekModel& model, const ch07::TaskCodec& codec, const std::vector<ch07::Problem>& problems,
                        int64_t max_new_tokens, int64_t batch) {
  NoGradGuard ng;
  DecodingMode dm(model);
  ch02::SamplingConfig sc;
  sc.max_new_tokens = max_new_tokens;
  sc.stop_tokens = {codec.eot()};
  TaskScore s;
  for (size_t first = 0; first < problems.size(); first += static_cast<size_t>(batch)) {
    std::vector<std::vector<int32_t>> prompts;
    for (const ch07::Problem& p : chunk(problems, first, batch)) prompts.push_back(codec.prompt(p));
    const ch02::Generation g = ch02::generate(model, prompts, sc);
    for (size_t i = 0; i < prompts.size(); ++i) {
      const ch07::Reward r = ch07::score(problems[first + i], codec.text(g.tokens[i]));
      s.accuracy += r.accuracy;
      s.format += r.format;
      s.completions.push_back(g.tokens[i]);
    }
  }
  if (!problems.empty()) {
    s.accuracy /= static_cast<double>(problems.size());
    s.format /= static_cast<double>(problems.size());
  }
  return s;
}

double completion_loss(ch02::LanguageModel& model, const std::vector<TaskExample>& examples, int32_t pad_id, int64_t batch) {
  NoGradGuard ng;
  double sum = 0;
  int64_t tokens = 0;
  for (size_t first = 0; first < examples.size(); first += static_cast<size_t>(batch)) {
    const Batch b = example_batch(chunk(examples, first, batch), pad_id);
    const int64_t n = std::count_if(b.targets.data.begin(), b.targets.data.end(), [](int32_t t) { return t != -100; });
    sum += ch07::sft_loss(model)(b).value.item() * static_cast<double>(n);
    tokens += n;
  }
  return tokens ? sum / static_cast<double>(tokens) : 0.0;
}

double top1_agreement(ch02::LanguageModel& student, ch02::LanguageModel& teacher, const std::vector<TaskExample>& examples,
                      int32_t pad_id, int64_t batch) {
  NoGradGuard ng;
  int64_t agree = 0, total = 0;
  for (size_t first = 0; first < examples.size(); first += static_cast<size_t>(batch)) {
    const Batch b = example_batch(chunk(examples, first, batch), pad_id);
    const Tensor ls = student.forward(b.inputs), lt = teacher.forward(b.inputs);
    const int64_t v = ls.size(2);
    for (int64_t i = 0; i < b.targets.numel(); ++i) {
      if (b.targets[i] == -100) continue;
      const float* s = ls.data() + i * v;
      const float* t = lt.data() + i * v;
      agree += std::max_element(s, s + v) - s == std::max_element(t, t + v) - t;
      ++total;
    }
  }
  return total ? static_cast<double>(agree) / static_cast<double>(total) : 0.0;
}

}  // namespace ds::ch08
