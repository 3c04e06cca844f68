#include "ch08/logit_kd.hpp"

#include <stdexcept>
#include <string>

#include "ch07/masked.hpp"
#include "common/ops.hpp"

namespace ds::ch08 {
namespace {

// [B, T, V] -> [B * T, V]
Tensor rows(const Tensor& logits, const char* op) {
  if (logits.dim() != 3) shape_error(op, "logits must be [B, T, V]", logits.shape());
  return reshape(logits, {logits.size(0) * logits.size(1), logits.size(2)});
}

}  // namespace

Tensor target_mask(const IntTensor& targets) {
  if (targets.shape.size() != 2) shape_error("target_mask", "targets must be [B, T]", targets.shape);
  Tensor m = Tensor::zeros({targets.size(0), targets.size(1)});
  for (int64_t i = 0; i < targets.numel(); ++i) m.data()[i] = targets[i] == -100 ? 0.f : 1.f;
  return m;
}

Tensor masked_divergence(const Tensor& student_logits, const Tensor& teacher_logits, const Tensor& mask, const DivergenceOptions& opt) {
  if (student_logits.shape() != teacher_logits.shape())
    shape_error("masked_divergence", "student and teacher logits differ in shape", student_logits.shape(), teacher_logits.shape());
  const Tensor d = token_divergence(rows(student_logits, "masked_divergence"), rows(teacher_logits, "masked_divergence"), opt);
  return ch07::masked_mean(reshape(d, {student_logits.size(0), student_logits.size(1)}), mask);
}

KDLoss logit_kd_loss(const Tensor& student_logits, const Tensor& teacher_logits, const IntTensor& targets, const LogitKDOptions& opt) {
  if (!(opt.alpha >= 0.f && opt.alpha <= 1.f)) throw std::invalid_argument("logit_kd_loss: alpha must be in [0, 1], not " + std::to_string(opt.alpha));
  if (targets.shape != Shape{student_logits.size(0), student_logits.size(1)})
    shape_error("logit_kd_loss", "targets must be [B, T] for logits [B, T, V]", student_logits.shape(), targets.shape);
  const Tensor soft = masked_divergence(student_logits, teacher_logits, target_mask(targets), {.beta = opt.beta, .temperature = opt.temperature});
  const Tensor hard = cross_entropy(rows(student_logits, "logit_kd_loss"), targets);
  KDLoss out;
  out.soft = soft.item();
  out.hard = hard.item();
  out.loss = add(mul_scalar(soft, opt.alpha), mul_scalar(hard, 1.f - opt.alpha));
  return out;
}

void check_shared_tokenizer(const Tokenizer& teacher, const Tokenizer& student) {
  const std::string why = ": logit distillation compares the two next-token distributions id by id, so teacher and student need one tokenizer";
  if (teacher.vocab_size() != student.vocab_size())
    throw std::invalid_argument("the teacher's tokenizer has " + std::to_string(teacher.vocab_size()) + " tokens and the student's " +
                                std::to_string(student.vocab_size()) + why);
  for (int32_t id = 0; id < teacher.vocab_size(); ++id)
    if (teacher.token_str(id) != student.token_str(id))
      throw std::invalid_argument("the teacher's and the student's tokenizers differ at id " + std::to_string(id) + " ('" + teacher.token_str(id) +
                                  "' against '" + student.token_str(id) + "')" + why);
  if (teacher.special_tokens() != student.special_tokens() || teacher.merges() != student.merges())
    throw std::invalid_argument("the teacher's and the student's tokenizers hold the same tokens but split text differently (other merges or special tokens)" +
                                why);
}

}  // namespace ds::ch08
