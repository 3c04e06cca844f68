// The training loop's flags, bound straight to a TrainerConfig's fields, with the --quick value
// of each beside it: every program that trains offers the same spellings and help.
#pragma once

#include <cstdint>
#include <optional>

#include "common/flags.hpp"
#include "common/trainer.hpp"

namespace ds {

// What --quick gives each trainer flag; an empty one keeps its default under --quick.
struct TrainerQuick {
  std::optional<int64_t> steps, batch, seq, warmup, eval_every, eval_batches;
};

// --steps --batch --seq --micro-batches --lr --min-lr --warmup --schedule --weight-decay --clip
// --eval-every --eval-batches; the defaults --help shows are tc's values when called.
void add_trainer_flags(Flags& flags, TrainerConfig& tc, const TrainerQuick& quick = {});

}  // namespace ds
