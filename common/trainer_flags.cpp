#include "common/trainer_flags.hpp"

namespace ds {

namespace {
void quick_if(Flags::Flag& f, const std::optional<int64_t>& v) {
  if (v) f.quick(*v);
}
}  // namespace

void add_trainer_flags(Flags& flags, TrainerConfig& tc, const TrainerQuick& quick) {
  quick_if(flags.add("--steps", tc.steps, "training steps (the schedule's length)").min(1), quick.steps);
  quick_if(flags.add("--batch", tc.batch_size, "sequences per step").min(1), quick.batch);
  quick_if(flags.add("--seq", tc.seq_len, "tokens per sequence").min(2), quick.seq);
  flags.add("--micro-batches", tc.micro_batches, "split each batch into this many micro-batches (gradient accumulation: less memory, same update)")
      .min(1);
  flags.add("--lr", tc.lr, "peak learning rate").min(0);
  flags.add("--min-lr", tc.min_lr, "final learning rate").min(0);
  quick_if(flags.add("--warmup", tc.warmup, "linear warmup steps").min(0), quick.warmup);
  flags.add_choice("--schedule", tc.schedule, {"cosine", "wsd"}, "after warmup: cosine decay, or warmup-stable-decay");
  flags.add("--weight-decay", tc.weight_decay, "AdamW's decoupled weight decay").min(0);
  flags.add("--clip", tc.grad_clip, "clip the gradients' global norm to at most this").min(1e-6);
  quick_if(flags.add("--eval-every", tc.eval_every, "validate every this many steps").min(1), quick.eval_every);
  quick_if(flags.add("--eval-batches", tc.eval_batches, "validation batches per evaluation").min(1), quick.eval_batches);
}

}  // namespace ds
