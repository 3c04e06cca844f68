#include "ch08/task_sft.hpp"

#include <algorithm>
#include <stdexcept>

#include "ch07/chat_template.hpp"
#include "common/ops.hpp"

namespace ds::ch08 {

std::vector<int32_t> task_prompt(const Tokenizer& tok, const ch07::Problem& p) {
  return tok.encode(ch07::ChatTemplate::compact().prompt(p.question));
}

namespace {
TaskExample example(const Tokenizer& tok, const ch07::Problem& p, const std::string& reasoning) {
  TaskExample e{task_prompt(tok, p), tok.encode(ch07::format_completion(reasoning, p.answer))};
  e.completion.push_back(tok.eot_id());
  return e;
}
}  // namespace

TaskExample reference_example(const Tokenizer& tok, const ch07::Problem& p) { return example(tok, p, p.reasoning); }

TaskExample answer_example(const Tokenizer& tok, const ch07::Problem& p) { return example(tok, p, ""); }

Batch sft_batch(const std::vector<TaskExample>& examples, int32_t pad_id) {
  if (examples.empty()) throw std::invalid_argument("sft_batch: no examples");
  size_t len = 0;
  for (const TaskExample& e : examples) {
    if (e.prompt.empty() || e.completion.empty()) throw std::invalid_argument("sft_batch: an example needs a prompt and a completion");
    len = std::max(len, e.prompt.size() + e.completion.size() - 1);
  }
  const int64_t b = static_cast<int64_t>(examples.size()), l = static_cast<int64_t>(len);
  Batch batch{IntTensor(std::vector<int32_t>(static_cast<size_t>(b * l), pad_id), {b, l}),
              IntTensor(std::vector<int32_t>(static_cast<size_t>(b * l), -100), {b, l})};
  for (int64_t r = 0; r < b; ++r) {
    const TaskExample& e = examples[static_cast<size_t>(r)];
    std::vector<int32_t> seq = e.prompt;
    seq.insert(seq.end(), e.completion.begin(), e.completion.end());
    const int64_t p = static_cast<int64_t>(e.prompt.size()), n = static_cast<int64_t>(seq.size());
    for (int64_t i = 0; i + 1 < n; ++i) {
      batch.inputs.data[static_cast<size_t>(r * l + i)] = seq[static_cast<size_t>(i)];
      if (i + 1 >= p) batch.targets.data[static_cast<size_t>(r * l + i)] = seq[static_cast<size_t>(i + 1)];   // a completion token
    }
  }
  return batch;
}

Loss sft_loss(ch02::LanguageModel& model, const Batch& batch) {
  const Tensor logits = model.forward(batch.inputs);
  return {cross_entropy(reshape(logits, {-1, logits.size(2)}), batch.targets), {}};
}

}  // namespace ds::ch08
