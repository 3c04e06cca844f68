// The chapter's experiment: one small student trained four ways at equal student compute (the
// same steps, batch and optimizer), against one larger teacher, on ch07's addition task:
//   answers      SFT on the labelled problems' final answers alone: what a student has without a
//                reasoning teacher (R1's setting: problems with checkable answers, no worked solutions)
//   scratch      SFT on the labelled problems' worked solutions, no teacher
//   logit_kd     the same data, Hinton's alpha * T^2 KL(teacher || student) + (1 - alpha) CE
//   sequence_kd  SFT on the teacher's rejection-sampled completions (DeepSeek-R1's recipe)
//   gkd          on-policy: a fraction lambda of the batches are the student's own samples, and the
//                teacher's distribution is the target at every token (generalised JSD, beta)
// Each run is measured over its steps on held-out problems: greedy accuracy, the loss on the
// reference completions and top-1 agreement with the teacher.
//
// Student compute is counted in forward-token equivalents: a forward pass over one token costs 1
// and a training step over it 3 (the backward pass takes two GEMMs, for the inputs' and the
// weights' gradients, per forward GEMM: Kaplan et al. 2020's 6N = 2N + 4N FLOPs per token).
// Sampling from the student is forward passes (GKD's own samples; GRPO's rollouts, rl_student.hpp).
// The teacher's forwards and samples are not the student's compute: R1 did not count
// DeepSeek-R1's generation of the 800k samples against its distilled models either.
#pragma once

#include <string>
#include <vector>

#include "ch06/model.hpp"
#include "ch07/tasks.hpp"
#include "ch08/gkd.hpp"
#include "ch08/logit_kd.hpp"
#include "ch08/examples.hpp"
#include "common/trainer.hpp"

namespace ds::ch08 {

enum class Method { answers, scratch, logit_kd, sequence_kd, gkd };
const char* name_of(Method m);
std::vector<Method> all_methods();

struct CompareData {
  ch07::TaskCodec codec;
  std::vector<ch07::Problem> problems;   // the labelled training problems (GRPO's prompts)
  std::vector<TaskExample> train;     // the labelled training problems' reference completions
  std::vector<TaskExample> answers;   // the same problems with an empty <think> block (answers' data)
  std::vector<TaskExample> distill;   // the teacher's accepted completions (sequence_kd's data)
  std::vector<ch07::Problem> test;    // held-out problems (accuracy)
  std::vector<TaskExample> test_ref;  // their reference completions (validation loss, agreement)
};

struct RunConfig {
  TrainerConfig train;            // steps, batch, learning rate: the same for every method
  int64_t evals = 8;              // evaluations over the run (plus one at step 0)
  int64_t max_new_tokens = 64;
  LogitKDOptions kd;
  GkdConfig gkd;
};

struct Curves {
  std::vector<double> step, loss;                                   // every training step
  std::vector<double> eval_step, eval_compute, accuracy, val_loss, agreement;   // every evaluation
  double seconds = 0;                                               // in training steps (evaluations excluded)
  int64_t tokens = 0;                                               // student tokens trained on (prompt + completion, padding included)
  double compute = 0;                                               // student forward-token equivalents spent (padding not counted)
  int64_t on_policy_batches = 0;                                    // gkd: batches the student sampled
};

// What the counting above charges: a training step over these examples, and sampling them.
inline constexpr double kTrainCost = 3, kForwardCost = 1;

// Appends one evaluation of `model` after `step` steps and `compute` spent to c: held-out
// accuracy, validation loss and agreement with `teacher` (0 when null).
void evaluate(Curves& c, ch06::DeepSeekModel& model, ch06::DeepSeekModel* teacher, const CompareData& data, int64_t max_new_tokens, int64_t step,
              double compute);

// Trains `model` by method m for cfg.train.steps steps through the common trainer, evaluating
// on data.test; `teacher` is the distillation target (unused by answers and scratch) and the model agreement
// is measured against (may be null: agreement is then not measured).
Curves train_task_model(Method m, ch06::DeepSeekModel& model, ch06::DeepSeekModel* teacher, const CompareData& data, const RunConfig& cfg);

}  // namespace ds::ch08
