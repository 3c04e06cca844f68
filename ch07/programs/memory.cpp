// ch07_memory: why GRPO drops PPO's critic (DeepSeekMath sec. 4.1.2). Each post-training method
// holds a different set of models: SFT and rejection sampling the policy; DPO and GRPO the policy
// and a frozen reference; PPO also a value model as large as the policy, with its own gradients
// and AdamW moments. This program builds each method's learner on the same policy, takes one step
// on the same prompts, and reads the bytes from the core's tensor-memory accounting.
#include <cstdio>

#include "ch07/dpo_learner.hpp"
#include "ch07/ppo_learner.hpp"
#include "common/memory.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"

using namespace ds;
using namespace ds::ch07;

namespace {
struct Row {
  std::string method, models;
  double policy = 0, reference = 0, critic = 0, moments = 0, peak = 0;
};
double param_bytes(const Module& m) { return 4.0 * static_cast<double>(m.num_parameters()); }

// One step's setting, the same for every method.
struct Setup {
  DeepSeekConfig cfg;
  TaskCodec codec;
  std::vector<Problem> problems;
  TrainerConfig tc;
  int64_t prompts = 0, group = 0;
  uint64_t seed = 0;
};

// The bytes tensor memory holds at the peak of `step` above what was live before it.
double step_peak(const std::function<void()>& step) {
  const int64_t live = memory::live_bytes();
  memory::reset_peak();
  step();
  return static_cast<double>(memory::peak_bytes() - live);
}

// Each measure_* builds its method's learner on a fresh policy: what that adds to the live bytes
// (copies of the policy, AdamW's moments), then the peak of one step above that.

// SFT (and rejection sampling, which trains the same way): the policy and its moments.
Row measure_sft(const Setup& u) {
  Rng init(u.seed);
  ch06::DeepSeekModel policy(u.cfg, init);
  const int64_t base = memory::live_bytes();
  SftTrainer sft(policy, u.tc);
  Row r{"SFT / rejection sampling", "policy", param_bytes(policy)};
  r.moments = static_cast<double>(memory::live_bytes() - base);
  std::vector<Problem> batch;
  for (int64_t i = 0; i < u.prompts * u.group; ++i) batch.push_back(u.problems[static_cast<size_t>(i % u.prompts)]);
  r.peak = step_peak([&] { sft.step(sft_batch(u.codec, batch)); });
  return r;
}

// DPO: a frozen reference beside the policy; pairs of the same size as the other methods' samples.
Row measure_dpo(const Setup& u) {
  Rng init(u.seed);
  ch06::DeepSeekModel policy(u.cfg, init);
  const int64_t base = memory::live_bytes();
  TrainerConfig d = u.tc;
  d.batch_size = u.prompts * u.group / 2;   // pairs of two sequences: as many sequences as the others' step
  DpoLearner dpo(policy, d, {});
  Row r{"DPO", "policy + reference", param_bytes(policy), param_bytes(policy)};
  r.moments = static_cast<double>(memory::live_bytes() - base) - r.reference;
  // Pairs of the same size as the other methods' samples: a gold answer and a corrupted one per prompt.
  std::vector<PreferencePair> pairs;
  for (const Problem& p : u.problems) {
    std::vector<int32_t> wrong = u.codec.completion(p);
    wrong[wrong.size() / 2] = wrong[wrong.size() / 2 - 1];
    pairs.push_back({u.codec.prompt(p), u.codec.completion(p), wrong});
  }
  std::vector<int64_t> all;
  for (int64_t i = 0; i < u.prompts * u.group / 2; ++i) all.push_back(i % u.prompts);
  r.peak = step_peak([&] {
    dpo.set_pairs(pairs);
    dpo.step(all);
  });
  return r;
}

// GRPO: policy and reference, no critic.
Row measure_grpo(const Setup& u) {
  Rng init(u.seed);
  ch06::DeepSeekModel policy(u.cfg, init);
  const int64_t base = memory::live_bytes();
  GrpoConfig gc;
  gc.prompts = u.prompts;
  gc.group = u.group;
  GrpoLearner grpo(policy, u.codec, u.tc, gc);
  Row r{"GRPO", "policy + reference", param_bytes(policy), param_bytes(policy)};
  r.moments = static_cast<double>(memory::live_bytes() - base) - r.reference;
  r.peak = step_peak([&] { grpo.step(u.problems, u.seed); });
  return r;
}

// PPO: policy, reference and a critic as large as the policy, with its own moments.
Row measure_ppo(const Setup& u) {
  Rng init(u.seed);
  ch06::DeepSeekModel policy(u.cfg, init);
  const int64_t base = memory::live_bytes();
  PpoConfig pc;
  pc.prompts = u.prompts;
  pc.samples = u.group;
  Rng vrng(u.seed + 1);
  PpoLearner ppo(policy, u.codec, u.tc, u.tc, pc, vrng);
  Row r{"PPO", "policy + reference + critic", param_bytes(policy), param_bytes(policy), param_bytes(ppo.critic())};
  r.moments = static_cast<double>(memory::live_bytes() - base) - r.reference - r.critic;
  r.peak = step_peak([&] { ppo.step(u.problems, u.seed); });
  return r;
}

// The table, the stacked bars and summary.json.
void report_memory(RunReport& report, const std::vector<Row>& rows, const std::string& model_size) {
  Table t({"method", "models held", "policy", "reference", "critic", "AdamW moments", "step peak", "total"});
  BarChart bars{"Memory held by each post-training method (one step, " + model_size + " policy)", "", "MB", {}, {}};
  bars.value_labels = false;   // the small bars' labels would overlap; the table prints every number
  std::vector<std::string> parts = {"policy weights", "reference weights", "critic weights", "AdamW moments", "step peak above them"};
  for (const std::string& p : parts) bars.series.push_back({p, {}, {}});
  Summary summary;
  for (const Row& r : rows) {
    const double total = r.policy + r.reference + r.critic + r.moments + r.peak;
    t.row({r.method, r.models, memory::human_bytes(r.policy), memory::human_bytes(r.reference), memory::human_bytes(r.critic),
           memory::human_bytes(r.moments), memory::human_bytes(r.peak), memory::human_bytes(total)});
    bars.categories.push_back(r.method);
    const double v[5] = {r.policy, r.reference, r.critic, r.moments, r.peak};
    for (size_t i = 0; i < 5; ++i) {
      bars.series[i].x.push_back(static_cast<double>(bars.categories.size() - 1));
      bars.series[i].y.push_back(v[i] / 1e6);
    }
    std::string key = r.method.substr(0, r.method.find(' '));
    summary.set("total_bytes." + key, total);
    summary.set("models_bytes." + key, r.policy + r.reference + r.critic);
  }
  t.print();
  bars.caption =
      "PPO holds a third model and a second set of AdamW moments (the critic); at this size a step's activations dwarf all weights, at LLM size the weights "
      "and moments dominate.";
  report.plot("memory.svg", bars);
  summary.set("model", model_size);
  report.write(summary);
  std::printf("\nwrote %s/memory.svg, summary.json\n", report.dir().c_str());
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("ch07_memory", [&] {
    Flags flags("ch07_memory", "The models each post-training method holds, and a step's peak memory, from the tensor accounting.");
    RunOptions run;
    add_run_flags(flags, run, "ch07_memory");
    std::string model_size = "small";
    int64_t prompts = 8, group = 8;
    int length = 5;
    flags.add_choice("--model", model_size, {"small", "tiny"}, "policy size (task_model.hpp)").quick("tiny");
    flags.add("--prompts", prompts, "prompts in the step").min(1).max(1024).quick(2);
    flags.add("--group", group, "completions per prompt (GRPO's G; PPO samples as many)").min(2).max(256).quick(2);
    flags.add("--length", length, "operand length of the prompts").min(1).max(kMaxAdditionLength).quick(2);
    flags.parse(argc, argv);
    RunReport report = start_run(run, flags);
    print_header("ch07_memory: what each method holds",
                 "One step of SFT, DPO, GRPO and PPO on the same policy and prompts. The bars are bytes of tensors held: the models, "
                 "AdamW's moments, and the step's peak above them (activations, gradients, sampling caches). PPO's critic is the difference.");
    Setup u{{}, {task_tokenizer(Task::addition), ChatTemplate::compact()}, {}, {}, prompts, group, run.seed};
    Rng rng(run.seed);
    u.cfg = task_model_config(model_size, u.codec.tok.vocab_size());
    u.problems = sample_train_problems(Task::addition, {length}, static_cast<int>(prompts), rng);
    u.tc.steps = 1;
    u.tc.batch_size = prompts * group;
    u.tc.warmup = 1;
    u.tc.progress = false;
    report_memory(report, {measure_sft(u), measure_dpo(u), measure_grpo(u), measure_ppo(u)}, model_size);
    return 0;
  });
}
