#include "ch07/plateau.hpp"

#include <stdexcept>

namespace ds::ch07 {

bool PlateauStop::observe(double score, int64_t step) {
  if (best_step < 0 || score > best + min_delta) {
    best = score;
    best_step = step;
    since_best = 0;
    return true;
  }
  ++since_best;
  return false;
}

void Snapshot::take(const Module& m) {
  state_.clear();
  for (const auto& [name, t] : m.state_dict()) state_[name] = t.clone();
}

void Snapshot::restore(Module& m) const {
  if (state_.empty()) throw std::logic_error("Snapshot::restore: no weights were taken");
  m.load_state_dict(state_, "the best probe's snapshot");
}

}  // namespace ds::ch07
