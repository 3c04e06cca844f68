#include "ch08/gkd.hpp"

#include "ch02/generate.hpp"
#include "ch08/task_eval.hpp"
#include "common/autograd.hpp"

namespace ds::ch08 {
namespace {

Tensor teacher_logits(ch02::LanguageModel& teacher, const Batch& batch) {
  NoGradGuard ng;   // the teacher is a constant target
  return teacher.forward(batch.inputs);
}

}  // namespace

std::vector<TaskExample> student_samples(ch06::DeepSeekModel& student, const Tokenizer& tok, const std::vector<TaskExample>& examples,
                                         const GkdConfig& cfg, uint64_t seed) {
  NoGradGuard ng;
  DecodingMode dm(student);
  ch02::SamplingConfig sc;
  sc.max_new_tokens = cfg.max_new_tokens;
  sc.temperature = cfg.sample_temperature;
  sc.stop_tokens = {tok.eot_id()};
  sc.seed = seed;
  std::vector<std::vector<int32_t>> prompts;
  for (const TaskExample& e : examples) prompts.push_back(e.prompt);
  const ch02::Generation g = ch02::generate(student, prompts, sc);
  std::vector<TaskExample> out;
  for (size_t i = 0; i < examples.size(); ++i) out.push_back({examples[i].prompt, g.tokens[i]});
  return out;
}

Loss distill_loss(ch02::LanguageModel& student, ch02::LanguageModel& teacher, const Batch& batch, const DivergenceOptions& opt) {
  const Tensor lt = teacher_logits(teacher, batch);
  Loss l;
  l.value = masked_divergence(student.forward(batch.inputs), lt, target_mask(batch.targets), opt);
  l.metrics.add("divergence", l.value.item());
  return l;
}

Loss logit_kd_step(ch02::LanguageModel& student, ch02::LanguageModel& teacher, const Batch& batch, const LogitKDOptions& opt) {
  const Tensor lt = teacher_logits(teacher, batch);
  const KDLoss k = logit_kd_loss(student.forward(batch.inputs), lt, batch.targets, opt);
  Loss l{k.loss, {}};
  l.metrics.add("soft", k.soft);
  l.metrics.add("hard", k.hard);
  return l;
}

}  // namespace ds::ch08
