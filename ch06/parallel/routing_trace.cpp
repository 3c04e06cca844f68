#include "ch06/parallel/routing_trace.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <tuple>

#include "common/autograd.hpp"

namespace ds::ch06 {

RoutingTrace::RoutingTrace(std::vector<ch04::MoE*> layers, std::vector<int64_t> global_index, const std::string& path)
    : layers_(std::move(layers)), global_(std::move(global_index)), out_(path) {
  if (layers_.size() != global_.size()) throw std::invalid_argument("RoutingTrace: one global index per layer");
  if (!out_) throw std::runtime_error("cannot write the routing trace " + path);
  for (ch04::MoE* m : layers_) m->attach(this);
}

RoutingTrace::~RoutingTrace() {
  for (ch04::MoE* m : layers_) m->detach(this);
}

void RoutingTrace::begin_step(int64_t step) {
  step_ = step;
  calls_.clear();
}

void RoutingTrace::set_micro_batch(int64_t mb, int64_t first_sequence) {
  mb_ = mb;
  first_sequence_ = first_sequence;
}

namespace {
float margin_of(const ch04::MoE& layer, const ch04::Routing& r, int64_t t) {
  const int64_t e = r.scores.size(1);
  const std::vector<float> bias = layer.gate.has_bias() ? layer.gate.e_score_correction_bias.to_vector() : std::vector<float>{};
  return ch04::selection_margin({r.scores.data() + t * e, static_cast<size_t>(e)}, bias, layer.gate.config());
}
}  // namespace

void RoutingTrace::on_routing(const ch04::MoE& layer, const ch04::Routing& r, int64_t tokens_per_sequence, int64_t) {
  if (!grad_enabled()) return;
  const auto at = std::find(layers_.begin(), layers_.end(), &layer);
  if (at == layers_.end()) return;
  const int64_t global = global_[static_cast<size_t>(at - layers_.begin())];
  const int64_t call = calls_[&layer]++;
  const int64_t mb = mb_ >= 0 ? mb_ : call, first = mb_ >= 0 ? first_sequence_ : 0;
  const int64_t n = r.experts.size(0), k = r.experts.size(1);
  for (int64_t t = 0; t < n; ++t) {
    out_ << step_ << ' ' << mb << ' ' << global << ' ' << first + t / tokens_per_sequence << ' ' << t % tokens_per_sequence << ' '
         << margin_of(layer, r, t);
    for (int64_t j = 0; j < k; ++j) out_ << ' ' << r.experts[t * k + j];
    out_ << '\n';
  }
}

std::vector<RoutedToken> read_routing_trace(const std::vector<std::string>& files) {
  std::vector<RoutedToken> out;
  for (const std::string& f : files) {
    std::ifstream in(f);
    if (!in) throw std::runtime_error("cannot read the routing trace " + f);
    for (std::string line; std::getline(in, line);) {
      std::istringstream ss(line);
      RoutedToken t;
      ss >> t.step >> t.mb >> t.layer >> t.sequence >> t.position >> t.margin;
      for (int32_t e; ss >> e;) t.experts.push_back(e);
      if (t.experts.empty()) throw std::runtime_error(f + ": a line without experts: '" + line + "'");
      out.push_back(std::move(t));
    }
  }
  return out;
}

RoutingComparison compare_routing(const std::vector<RoutedToken>& a, const std::vector<RoutedToken>& b) {
  using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t>;
  const auto key = [](const RoutedToken& t) { return Key{t.step, t.mb, t.layer, t.sequence, t.position}; };
  const auto sorted = [](std::vector<int32_t> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  std::map<Key, const RoutedToken*> in_b;
  for (const RoutedToken& t : b) in_b[key(t)] = &t;
  RoutingComparison c;
  for (const RoutedToken& t : a) {
    const auto it = in_b.find(key(t));
    if (it == in_b.end()) {
      ++c.missing;
      continue;
    }
    ++c.tokens;
    const RoutedToken& u = *it->second;
    in_b.erase(it);
    if (sorted(t.experts) == sorted(u.experts)) continue;
    ++c.flips;
    c.largest_flip_margin = std::max({c.largest_flip_margin, static_cast<double>(std::abs(t.margin)), static_cast<double>(std::abs(u.margin))});
    if (!c.first_flip_a || key(t) < key(*c.first_flip_a)) {
      c.first_flip_a = t;
      c.first_flip_b = u;
    }
  }
  c.missing += static_cast<int64_t>(in_b.size());
  return c;
}

}  // namespace ds::ch06
