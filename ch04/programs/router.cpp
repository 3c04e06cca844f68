// ch04_router: DeepSeek-V3's router on a handful of tokens, step by step: the affinity scores,
// the experts plain top-k picks, what a balancing bias changes (the choice, never the weights),
// what group-limited routing changes, and DeepSeek-V2's group rule beside V3's.
#include <cstdio>

#include "ch04/balance_rules.hpp"
#include "ch04/gate.hpp"
#include "common/autograd.hpp"
#include "common/ops.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"

using namespace ds;
using namespace ds::ch04;

namespace {
struct Setting {
  std::string name;
  bool bias;
  Gate* gate;
};

std::string join_ids(const IntTensor& e, const Tensor& w, int64_t row, int64_t k) {
  std::string s;
  for (int64_t j = 0; j < k; ++j) s += fmt("%s%d (%.2f)", j ? ", " : "", e[row * k + j], w.data()[row * k + j]);
  return s;
}

// Tokens whose features share a common offset, as hidden states do: experts whose affinity
// vectors lean the same way win most tokens, the imbalance balancing exists to fix.
Tensor skewed_tokens(int64_t n, int64_t hidden, float shift, Rng& rng) { return add_scalar(randn({n, hidden}, rng), shift); }

// A bias as the auxiliary-loss-free rule would leave it: `steps` sign updates against the load
// of a batch of 512 tokens drawn like the shown ones.
// Returns the batch's MaxVio before and after.
std::pair<double, double> learn_bias(Gate& gate, int64_t hidden, float shift, float gamma, int steps, Rng& rng) {
  const Tensor batch = skewed_tokens(512, hidden, shift, rng);
  NoGradGuard ng;
  auto load = [&] { return expert_load(gate.forward(batch).experts, gate.config().n_routed_experts); };
  const double before = max_violation(load());
  for (int s = 0; s < steps; ++s) update_bias(gate, load(), gamma);
  return {before, max_violation(load())};
}

// The four rules' routes of the same tokens, with the bias they share.
struct Routes {
  std::vector<std::string> names;
  std::vector<Routing> routes;
  Tensor bias;
  double vio_before = 0, vio_after = 0;
};

Routes route_all(const GateConfig& g, int64_t tokens, float shift, float gamma, int bias_steps, uint64_t seed) {
  Rng rng(seed);
  GateConfig flat = g;
  flat.n_group = flat.topk_group = 1;
  Gate gate(flat, rng);
  const Tensor x = skewed_tokens(tokens, g.hidden_size, shift, rng);
  Routes r;
  std::tie(r.vio_before, r.vio_after) = learn_bias(gate, g.hidden_size, shift, gamma, bias_steps, rng);
  r.bias = gate.e_score_correction_bias.clone();
  Gate grouped(g, rng);   // same weights and bias, group-limited (V3: noaux_tc)
  grouped.weight.copy_(gate.weight);
  GateConfig v2 = g;      // DeepSeek-V2's rule: a group scores its best expert, no bias
  v2.topk_method = "group_limited_greedy";
  Gate grouped_v2(v2, rng);
  grouped_v2.weight.copy_(gate.weight);
  const std::vector<Setting> settings = {
      {"top-k", false, &gate}, {"top-k + bias", true, &gate}, {"top-k + bias + groups", true, &grouped}, {"V2 groups", false, &grouped_v2}};
  NoGradGuard ng;
  for (const Setting& s : settings) {
    if (s.gate->has_bias()) s.gate->e_score_correction_bias.copy_(s.bias ? r.bias : Tensor::zeros({g.n_routed_experts}));
    r.routes.push_back(s.gate->forward(x));
    r.names.push_back(s.name);
  }
  return r;
}

// The affinity scores of every token and the learned bias: printed, and returned as a heatmap.
Heatmap report_scores(const GateConfig& g, const Routes& r, int64_t tokens, int bias_steps, float gamma,
                   const std::vector<std::string>& col_labels) {
  const int64_t e = g.n_routed_experts;
  const Tensor& scores = r.routes[0].scores;
  std::printf("Affinity scores s_{i,t} = %s(u_t . e_i) (V3 eq. 15) and the learned bias b_i:\n", g.scoring_func.c_str());
  std::vector<std::string> head = {"token"};
  for (int64_t i = 0; i < e; ++i) head.push_back(fmt("e%lld", (long long)i));
  Table st(head);
  for (int64_t t = 0; t < tokens; ++t) {
    std::vector<std::string> row = {fmt("t%lld", (long long)t)};
    for (int64_t i = 0; i < e; ++i) row.push_back(fmt("%.3f", scores.data()[t * e + i]));
    st.row(row);
  }
  std::vector<std::string> brow = {"bias b"};
  for (int64_t i = 0; i < e; ++i) brow.push_back(fmt("%+.3f", r.bias.data()[i]));
  st.row(brow);
  st.print();
  std::printf("The bias comes from %d sign-rule updates (gamma %.3g) on 512 such tokens: MaxVio %.2f -> %.2f.\n", bias_steps, gamma,
              r.vio_before, r.vio_after);
  Heatmap sm;
  sm.title = "Affinity scores s_{i,t} (unbiased), last row: learned bias b_i";
  sm.xlabel = "routed expert";
  sm.ylabel = "token";
  sm.rows = tokens + 1;
  sm.cols = e;
  sm.annotate = true;
  sm.diverging = false;
  sm.col_labels = col_labels;
  for (int64_t t = 0; t < tokens; ++t) sm.row_labels.push_back(fmt("t%lld", (long long)t));
  sm.row_labels.push_back("bias b");
  sm.values.assign(scores.data(), scores.data() + tokens * e);
  sm.values.insert(sm.values.end(), r.bias.data(), r.bias.data() + e);
  sm.caption = fmt("The gate's affinities before any choice, and the bias %d sign-rule updates learned (MaxVio %.2f -> %.2f): negative "
                   "for the experts the skewed tokens overuse, positive for the idle ones; plain top-k takes the largest s, V3 the "
                   "largest s + b.",
                   bias_steps, r.vio_before, r.vio_after);
  return sm;
}

struct Changes {
  int64_t by_bias = 0, by_groups = 0, v2_differs = 0;
};

// Each token's chosen experts and weights under every rule, as a table and a heatmap; the
// choices go into the summary.
Changes report_choices(RunReport& report, const GateConfig& g, const Routes& r, int64_t tokens, const std::vector<std::string>& col_labels,
                       Summary& summary) {
  const int64_t e = g.n_routed_experts, k = g.num_experts_per_tok;
  std::printf("\nChosen experts (weight g_{i,t}: unbiased score, normalised over the chosen, times %.2f):\n", g.routed_scaling_factor);
  Table ct({"token", r.names[0], r.names[1], r.names[2], r.names[3]});
  Heatmap hm;
  hm.title = "Combine weight g_{i,t} of each chosen expert (blank = not chosen)";
  hm.xlabel = "routed expert";
  hm.ylabel = "token / rule";
  hm.cols = e;
  hm.annotate = true;
  hm.annotate_zeros = false;
  hm.col_labels = col_labels;
  Changes c;
  for (int64_t t = 0; t < tokens; ++t) {
    std::vector<std::string> row = {fmt("t%lld", (long long)t)};
    for (size_t s = 0; s < r.routes.size(); ++s) {
      const Routing& ro = r.routes[s];
      row.push_back(join_ids(ro.experts, ro.weights, t, k));
      std::vector<double> line(static_cast<size_t>(e), 0.0);
      for (int64_t j = 0; j < k; ++j) line[static_cast<size_t>(ro.experts[t * k + j])] = ro.weights.data()[t * k + j];
      hm.values.insert(hm.values.end(), line.begin(), line.end());
      hm.row_labels.push_back(fmt("t%lld %s", (long long)t, r.names[s].c_str()));
      std::vector<double> ids;
      for (int64_t j = 0; j < k; ++j) ids.push_back(ro.experts[t * k + j]);
      summary.set(fmt("tokens.t%lld.%s", (long long)t, r.names[s].c_str()), ids);
    }
    for (int64_t j = 0; j < k; ++j) {
      c.by_bias += r.routes[0].experts[t * k + j] != r.routes[1].experts[t * k + j];
      c.by_groups += r.routes[1].experts[t * k + j] != r.routes[2].experts[t * k + j];
      c.v2_differs += r.routes[0].experts[t * k + j] != r.routes[3].experts[t * k + j];
    }
    ct.row(row);
  }
  ct.print();
  hm.rows = static_cast<int64_t>(hm.row_labels.size());
  hm.height = std::max(360, 60 + 26 * static_cast<int>(hm.rows));
  hm.caption = fmt("Read each token's %zu rows top to bottom: where a filled cell moves, the bias (%lld of %lld choices) or the group "
                   "limit (%lld more) changed the expert; an expert that stays keeps the same weight, because the bias only chooses.",
                   r.routes.size(), (long long)c.by_bias, (long long)(tokens * k), (long long)c.by_groups);
  report.plot("expert_choices.svg", hm);
  return c;
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("ch04_router", [&] {
    Flags flags("ch04_router", "DeepSeek-V3's router on a few tokens: scores, chosen experts and weights, with bias and group limits.");
    RunOptions run;
    add_run_flags(flags, run, "ch04_router");
    GateConfig g;
    g.hidden_size = 16;
    g.n_routed_experts = 8;
    g.num_experts_per_tok = 2;
    g.n_group = 4;
    g.topk_group = 2;
    g.routed_scaling_factor = 2.5f;
    g.init_std = 0.3f;
    int64_t tokens = 6;
    int bias_steps = 100;
    float gamma = 0.01f, shift = 0.4f;
    flags.add("--tokens", tokens, "how many tokens to route").min(1).max(64).quick(3);
    flags.add("--experts", g.n_routed_experts, "routed experts N_r").min(2).max(256);
    flags.add("--top-k", g.num_experts_per_tok, "experts per token K_r").min(1);
    flags.add("--groups", g.n_group, "expert groups (V3: 8, one per node)").min(1);
    flags.add("--topk-groups", g.topk_group, "groups a token may use (V3: 4)").min(1);
    flags.add_choice("--scoring", g.scoring_func, {"sigmoid", "softmax"}, "affinity function (V3 sigmoid, V2 softmax)");
    flags.add("--scaling", g.routed_scaling_factor, "routed_scaling_factor applied to the weights (V3: 2.5)").min(0);
    flags.add("--bias-steps", bias_steps, "sign-rule updates that produce the shown bias").min(0).max(100000);
    flags.add("--gamma", gamma, "bias update speed of those updates").min(0);
    flags.add("--shift", shift, "common offset of the token features (0: no skew, so little for the bias to fix)");
    flags.parse(argc, argv);
    if (g.n_routed_experts % g.n_group != 0) fail("ch04_router", "--experts must be a multiple of --groups");
    if (g.topk_group > g.n_group) fail("ch04_router", "--topk-groups cannot exceed --groups");
    if (g.num_experts_per_tok > g.n_routed_experts / g.n_group * g.topk_group)
      fail("ch04_router", "--top-k is larger than the experts in the allowed groups");
    RunReport report = start_run(run, flags);
    print_header("ch04_router", "one token's route through DeepSeek-V3's gate: scores, bias for choice only, group limits");

    const Routes r = route_all(g, tokens, shift, gamma, bias_steps, run.seed);
    std::vector<std::string> experts;
    for (int64_t i = 0; i < g.n_routed_experts; ++i) experts.push_back(std::to_string(i));
    Summary summary;
    const Heatmap scores = report_scores(g, r, tokens, bias_steps, gamma, experts);
    const Changes c = report_choices(report, g, r, tokens, experts, summary);
    report.plot("scores.svg", scores);
    std::printf("\nThe bias changed %lld of %lld choices; group limits (%lld of %lld groups) changed %lld more.\n", (long long)c.by_bias,
                (long long)(tokens * g.num_experts_per_tok), (long long)g.topk_group, (long long)g.n_group, (long long)c.by_groups);
    std::printf("The bias only chooses: a token that keeps its experts keeps exactly the same weights in every column.\n");
    std::printf("V2's rule (a group scores its best expert, no bias) changed %lld of plain top-k's choices%s.\n", (long long)c.v2_differs,
                g.topk_group >= g.num_experts_per_tok ? " (it cannot while topk_group >= k: the k best experts' groups have the k best maxima; "
                                                        "try --topk-groups 1)"
                                                      : "");
    summary.set("maxvio_before_bias", r.vio_before);
    summary.set("maxvio_after_bias", r.vio_after);
    summary.set("choices_changed_by_bias", static_cast<double>(c.by_bias));
    summary.set("choices_changed_by_groups", static_cast<double>(c.by_groups));
    summary.set("choices_changed_by_v2_groups", static_cast<double>(c.v2_differs));
    report.write(summary);
    std::printf("\nwrote %s/expert_choices.svg, scores.svg (+ .csv), summary.json\n", run.out.c_str());
    return 0;
  });
}
