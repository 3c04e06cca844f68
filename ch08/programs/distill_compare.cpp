// ch08_distill_compare: one small dense student trained several ways at equal student compute
// (from scratch on answers or on worked solutions, logit KD, sequence-level KD from the teacher's
// rejection-sampled outputs, on-policy GKD, and RL: brief SFT then ch07's GRPO) against a larger
// DeepSeek-style MoE teacher, on ch07's addition task. Prints and plots held-out accuracy,
// validation loss and teacher agreement over the student's compute, and the two models' size,
// speed and memory. With --seeds N, the teacher, the sampling and every student run N times
// (seeds --seed .. --seed + N - 1), and every accuracy is reported as mean and spread.
#include <algorithm>
#include <cstdio>

#include "ch02/generate.hpp"
#include "ch06/checkpoint.hpp"
#include "ch07/chat_template.hpp"
#include "ch07/seeds.hpp"
#include "ch07/task_tokenizer.hpp"
#include "ch08/compare.hpp"
#include "ch08/rl_student.hpp"
#include "ch08/sequence_kd.hpp"
#include "ch08/task_eval.hpp"
#include "common/autograd.hpp"
#include "common/memory.hpp"
#include "common/plot.hpp"
#include "common/progress.hpp"
#include "common/run.hpp"
#include "common/timer.hpp"

using namespace ds;
using namespace ds::ch08;
using ds::ch07::post_training_config;
using ds::ch07::Spread;
using ds::ch07::spread_of;
using ds::ch07::spread_text;

namespace {

const char* kProgram = "ch08_distill_compare";

struct Options {
  int64_t max_digits = 2, train_problems = 2000, test_problems = 150, vocab = 320;
  int64_t teacher_steps = 1000, student_steps = 400, batch = 32, evals = 6, student_hidden = 128, student_layers = 2;
  float teacher_lr = 3e-3f, student_lr = 3e-3f;
  std::string teacher_dir, tokenizer_path;
  RejectionConfig rejection;
  // The RL student (R1 sec. 4.1): brief SFT, then GRPO until it has spent sequence_kd's compute.
  bool no_rl = false;
  std::string rl_sft_data = "answers";
  int64_t rl_sft_steps = 100, rl_prompts = 16, rl_group = 8;
  float rl_lr = 3e-4f, rl_beta = 0.04f, rl_temperature = 1.f;
  int seeds = 3;
};

// The teacher: DeepSeek-V3's architecture at small scale (MLA, a dense first layer, then
// DeepSeekMoE with 8 routed + 1 shared experts, 2 active). No MTP module: distillation matches
// the main head only.
DeepSeekConfig teacher_config(int64_t vocab, bool quick) {
  DeepSeekConfig c = preset("tiny");
  c.vocab_size = vocab;
  c.hidden_size = quick ? 64 : 128;
  c.num_hidden_layers = quick ? 2 : 4;
  c.num_attention_heads = 4;
  c.q_lora_rank = quick ? 32 : 64;
  c.kv_lora_rank = quick ? 16 : 32;
  c.intermediate_size = quick ? 128 : 256;
  c.moe_intermediate_size = quick ? 32 : 64;
  c.n_routed_experts = 8;
  c.n_group = 1;
  c.topk_group = 1;
  c.num_nextn_predict_layers = 0;
  c.max_position_embeddings = 128;
  return c;
}

// The student: fewer layers and a dense SwiGLU in every layer (no experts).
DeepSeekConfig student_config(int64_t vocab, int64_t hidden, int64_t layers) {
  DeepSeekConfig c = preset("tiny");
  c.vocab_size = vocab;
  c.hidden_size = hidden;
  c.num_hidden_layers = layers;
  c.num_attention_heads = 4;
  c.q_lora_rank = hidden / 2;
  c.kv_lora_rank = hidden / 4;
  c.intermediate_size = 2 * hidden;
  c.first_k_dense_replace = c.num_hidden_layers;
  c.num_nextn_predict_layers = 0;
  c.max_position_embeddings = 128;
  return c;
}

std::vector<ch07::Problem> problems(ch07::Split split, int64_t max_digits, int64_t n, uint64_t seed) {
  std::vector<ch07::Problem> out;
  for (int64_t len = 1; len <= max_digits; ++len) {
    const auto part =
        ch07::problem_set(ch07::Task::addition, static_cast<int>(len), split, static_cast<int>(n / max_digits + 1), seed + static_cast<uint64_t>(len));
    out.insert(out.end(), part.begin(), part.end());
  }
  Rng rng(seed);
  for (size_t i = out.size(); i > 1; --i) std::swap(out[i - 1], out[static_cast<size_t>(rng.randint(static_cast<int64_t>(i)))]);
  if (static_cast<int64_t>(out.size()) > n) out.resize(static_cast<size_t>(n));
  return out;
}

struct ModelFacts {
  double params = 0, active = 0, param_bytes = 0, kv_bytes = 0, decode_tps = 0, train_tps = 0;
};

ModelFacts facts(ch06::DeepSeekModel& m, const ch07::TaskCodec& codec, const std::vector<ch07::Problem>& test, const Curves& c, int64_t max_new) {
  ModelFacts f;
  const ParamCount pc = count_parameters(m.config());
  f.params = static_cast<double>(pc.total);
  f.active = static_cast<double>(pc.active);
  f.param_bytes = 4.0 * static_cast<double>(m.num_parameters());
  {
    DecodingMode dm(m);
    f.kv_bytes = static_cast<double>(ch02::cache_bytes(m.make_caches(1, m.config().max_position_embeddings)));
  }
  Timer t;
  const TaskScore s = score_on_task(m, codec, test, max_new);
  int64_t tokens = 0;
  for (const auto& comp : s.completions) tokens += static_cast<int64_t>(comp.size());
  f.decode_tps = static_cast<double>(tokens) / std::max(t.seconds(), 1e-9);
  f.train_tps = c.seconds > 0 ? static_cast<double>(c.tokens) / c.seconds : 0.0;
  return f;
}


void add_options(Flags& flags, Options& o, RunConfig& rc) {
  flags.add("--seeds", o.seeds, "runs of the whole comparison (--quick: 1), teacher, sampling and every student, with seeds --seed .. --seed + N - 1; "
                                "accuracies as mean and spread").min(1).max(20);
  flags.add("--max-digits", o.max_digits, "addends have 1 to this many digits").min(1).max(6);
  flags.add("--train-problems", o.train_problems, "labelled training problems (prompt + worked solution), shared by every method").min(8);
  flags.add("--test-problems", o.test_problems, "held-out problems for accuracy, validation loss and agreement").min(4);
  flags.add("--vocab", o.vocab, "size of the task tokenizer trained on the training problems' text").min(270).max(4096);
  flags.add("--teacher-steps", o.teacher_steps, "SFT steps of the teacher (not counted in the students' budget)").min(1);
  flags.add("--teacher-lr", o.teacher_lr, "the teacher's peak learning rate").min(0);
  flags.add("--student-steps", o.student_steps, "training steps of every student: the equal compute budget").min(1);
  flags.add("--student-hidden", o.student_hidden, "the student's hidden size (the teacher's is 128)").min(16).max(512);
  flags.add("--student-layers", o.student_layers, "the student's layers, all dense (the teacher has 4, three of them MoE)").min(1).max(8);
  flags.add("--student-lr", o.student_lr, "every student's peak learning rate").min(0);
  flags.add("--batch", o.batch, "sequences per step (teacher and students)").min(1);
  flags.add("--evals", o.evals, "held-out evaluations over each run (plus one at step 0)").min(1);
  flags.add("--alpha", rc.kd.alpha, "logit KD: weight of the soft term alpha * T^2 KL (1 - alpha on the labels)").min(0).max(1);
  flags.add("--kd-temperature", rc.kd.temperature, "logit KD: the temperature T").min(0.05);
  flags.add("--beta", rc.gkd.beta, "GKD: the generalised JSD's beta (0 forward KL, 1 reverse KL)").min(0).max(1);
  flags.add("--lambda", rc.gkd.lambda, "GKD: fraction of batches the student samples itself (0 = logit KD on the data)").min(0).max(1);
  flags.add("--samples-per-prompt", o.rejection.samples_per_prompt, "sequence KD: teacher samples per training prompt").min(1).max(64);
  flags.add("--sample-temperature", o.rejection.temperature, "sequence KD: the teacher's sampling temperature").min(0);
  flags.add_choice("--rl-sft-data", o.rl_sft_data, {"answers", "worked"},
                   "RL student: what its brief SFT sees, the answers alone (R1's situation) or the worked solutions");
  flags.add("--rl-sft-steps", o.rl_sft_steps, "RL student: steps of its brief SFT before GRPO (part of its budget)").min(0);
  flags.add("--rl-prompts", o.rl_prompts, "RL student: prompts per GRPO step").min(1).max(1024);
  flags.add("--rl-group", o.rl_group, "RL student: GRPO's group size G (completions per prompt)").min(2).max(64);
  flags.add("--rl-lr", o.rl_lr, "RL student: GRPO's learning rate (constant after 5 warmup steps)").min(1e-7).max(1);
  flags.add("--rl-beta", o.rl_beta, "RL student: weight of GRPO's k3 KL to the SFT start (0 drops the reference model)").min(0).max(10);
  flags.add("--rl-temperature", o.rl_temperature, "RL student: sampling temperature of the rollouts").min(0.05).max(5);
  flags.add_flag("--no-rl", o.no_rl, "leave out the RL student");
  flags.add("--teacher", o.teacher_dir, "load the teacher from this checkpoint folder (e.g. a previous run's <out>/teacher) instead of training it");
  flags.add("--tokenizer", o.tokenizer_path, "the students' tokenizer.json (default: the teacher's); must be the teacher's, token for token");
}

void make_quick(Options& o) {
  o.seeds = 1;
  o.max_digits = std::min<int64_t>(o.max_digits, 2);
  o.train_problems = std::min<int64_t>(o.train_problems, 200);
  o.test_problems = std::min<int64_t>(o.test_problems, 16);
  o.teacher_steps = std::min<int64_t>(o.teacher_steps, 20);
  o.student_steps = std::min<int64_t>(o.student_steps, 6);
  o.batch = std::min<int64_t>(o.batch, 8);
  o.evals = std::min<int64_t>(o.evals, 2);
  o.rejection.samples_per_prompt = std::min(o.rejection.samples_per_prompt, 2);
  o.rl_sft_steps = std::min<int64_t>(o.rl_sft_steps, 2);
  o.rl_prompts = std::min<int64_t>(o.rl_prompts, 4);
  o.rl_group = std::min<int64_t>(o.rl_group, 4);
}

TrainerConfig train_config(const Options& o, int64_t steps, float lr, const std::string& label, uint64_t seed) {
  TrainerConfig tc;
  tc.steps = steps;
  tc.batch_size = o.batch;
  tc.lr = lr;
  tc.min_lr = lr / 10;
  tc.warmup = std::min<int64_t>(20, steps / 10);
  tc.seed = seed;
  tc.label = label;
  return tc;
}

// One whole comparison with one seed: the teacher (trained, or the one loaded), sequence KD's
// data, every student and the RL student.
struct SeedRun {
  std::unique_ptr<ch06::DeepSeekModel> teacher, last_student;
  Curves teacher_curves;
  RejectionStats rs;
  size_t distill_examples = 0;
  std::vector<std::string> names;
  std::vector<Curves> curves;
  size_t scratch_i = 0, answers_i = 0, distilled_i = 0, methods = 0;
  double teacher_acc() const { return teacher_curves.accuracy.back(); }
  double acc(const std::string& n) const {
    const size_t i = static_cast<size_t>(std::find(names.begin(), names.end(), n) - names.begin());
    return i < names.size() ? curves[i].accuracy.back() : -1.0;
  }
};

SeedRun run_seed(const Options& o, const RunConfig& rc0, CompareData data, std::unique_ptr<ch06::DeepSeekModel> loaded_teacher, uint64_t seed,
                 const std::string& out, bool quick) {
  SeedRun r;
  RunConfig rc = rc0;
  // 1. The teacher.
  r.teacher = std::move(loaded_teacher);
  if (!r.teacher) {
    Rng rng(seed);
    r.teacher = std::make_unique<ch06::DeepSeekModel>(teacher_config(data.codec.tok.vocab_size(), quick), rng);
    RunConfig tc = rc;
    tc.train = train_config(o, o.teacher_steps, o.teacher_lr, "teacher", seed);
    tc.evals = 1;
    r.teacher_curves = train_task_model(Method::scratch, *r.teacher, nullptr, data, tc);
    ch06::write_folder_atomic(out + "/teacher", [&](const std::string& tmp) { ch06::write_model_files(tmp, *r.teacher, &data.codec.tok); });
  } else {
    r.teacher_curves.accuracy = {score_on_task(*r.teacher, data.codec, data.test, rc.max_new_tokens).accuracy};
    r.teacher_curves.val_loss = {completion_loss(*r.teacher, data.test_ref, data.codec.tok.eot_id())};
  }
  std::printf("teacher: held-out accuracy %.3f, validation loss %.4f\n\n", r.teacher_acc(), r.teacher_curves.val_loss.back());

  // 2. Sequence-level KD's data: the teacher's verified samples of the training prompts.
  RejectionConfig rej = o.rejection;
  rej.seed = seed;
  data.distill = rejection_sample(*r.teacher, data.codec, data.problems, rej, &r.rs);
  r.distill_examples = data.distill.size();
  std::printf("rejection sampling: %lld samples of %lld prompts at temperature %.2g, %.1f%% accepted, %lld prompts covered; %lld examples kept, "
              "%lld of them token for token the reference worked solution\n\n",
              (long long)r.rs.samples, (long long)r.rs.prompts, rej.temperature, 100 * r.rs.acceptance(), (long long)r.rs.prompts_covered,
              (long long)r.rs.kept, (long long)r.rs.kept_equal_reference);

  // 3. The students: the same initial weights, data order, steps and optimizer for each method.
  std::vector<Method> methods = all_methods();
  if (data.distill.empty()) {
    std::printf("sequence_kd is left out: the teacher passed none of its samples (train it longer, or sample more per prompt)\n\n");
    methods.erase(std::find(methods.begin(), methods.end(), Method::sequence_kd));
  }
  r.methods = methods.size();
  auto new_student = [&] {
    Rng rng(seed + 1);
    return std::make_unique<ch06::DeepSeekModel>(student_config(data.codec.tok.vocab_size(), quick ? 32 : o.student_hidden, o.student_layers), rng);
  };
  for (Method m : methods) {
    auto student = new_student();
    RunConfig sc = rc;
    sc.train = train_config(o, o.student_steps, o.student_lr, name_of(m), seed);
    sc.evals = o.evals;
    r.curves.push_back(train_task_model(m, *student, r.teacher.get(), data, sc));
    r.names.push_back(name_of(m));
    r.last_student = std::move(student);
  }
  auto index_of = [&](const std::string& n) { return static_cast<size_t>(std::find(r.names.begin(), r.names.end(), n) - r.names.begin()); };
  r.scratch_i = index_of("scratch");
  r.answers_i = index_of("answers");
  // The distilled student R1 compares RL with: sequence KD (R1's recipe), else the scratch run.
  r.distilled_i = data.distill.empty() ? r.scratch_i : index_of("sequence_kd");

  // 4. The RL student: the same initial weights, brief SFT on what it has, then ch07's GRPO on the
  // labelled prompts with the verifier as reward, until it has spent the distilled student's compute.
  if (!o.no_rl) {
    auto student = new_student();
    RlStudentConfig rl;
    rl.sft_on_answers = o.rl_sft_data == "answers";
    rl.sft = train_config(o, o.rl_sft_steps, o.student_lr, "rl: sft", seed);
    rl.rl = post_training_config(1000000, o.rl_prompts * o.rl_group, o.rl_lr, o.rl_lr);   // GRPO runs until the budget is spent
    rl.rl.seed = seed;
    rl.rl.label = "rl: grpo";
    rl.grpo.prompts = o.rl_prompts;
    rl.grpo.group = o.rl_group;
    rl.grpo.temperature = o.rl_temperature;
    rl.grpo.loss.beta = o.rl_beta;
    rl.budget = r.curves[r.distilled_i].compute;
    rl.evals = o.evals;
    rl.max_new_tokens = rc.max_new_tokens;
    r.curves.push_back(train_rl_student(*student, r.teacher.get(), data, rl));
    r.names.push_back("grpo");
    std::printf("grpo: %lld SFT steps on the %s, then %lld GRPO steps of %lld x %lld samples, %.2fM of %.2fM forward-token equivalents\n\n",
                (long long)std::min(o.rl_sft_steps, static_cast<int64_t>(r.curves.back().step.size())),
                rl.sft_on_answers ? "answers alone" : "worked solutions", (long long)r.curves.back().on_policy_batches, (long long)o.rl_prompts,
                (long long)o.rl_group, r.curves.back().compute / 1e6, rl.budget / 1e6);
  }
  return r;
}

void print_seed_table(const SeedRun& r) {
  Table t({"student", "held-out accuracy", "validation loss", "top-1 agreement", "train s", "student compute (M)"});
  t.row({"teacher (reference)", fmt("%.3f", r.teacher_acc()), fmt("%.4f", r.teacher_curves.val_loss.back()), "1", "", ""});
  for (size_t i = 0; i < r.names.size(); ++i) {
    const Curves& c = r.curves[i];
    t.row({r.names[i], fmt("%.3f", c.accuracy.back()), fmt("%.4f", c.val_loss.back()), fmt("%.3f", c.agreement.back()), fmt("%.1f", c.seconds),
           fmt("%.2f", c.compute / 1e6)});
  }
  t.print();
  std::printf("(student compute: forward-token equivalents, a training token 3 and a sampled or scored one 1; the teacher's not counted)\n\n");
}

// Over the seeds: each student's held-out accuracy (in %) as mean ± sd (min to max), and the two
// comparisons the chapter is about: sequence KD against the scratch student, distillation against RL.
void report_seeds(const std::vector<SeedRun>& runs, bool rl, Summary& summary) {
  const SeedRun& first = runs.front();
  auto over = [&](auto f) {
    std::vector<double> v;
    for (const SeedRun& r : runs) v.push_back(f(r));
    return spread_of(v);
  };
  Table t({"over " + std::to_string(runs.size()) + " seed(s)", "held-out accuracy (%): mean ± sd (min to max)"});
  const Spread teacher = over([](const SeedRun& r) { return 100 * r.teacher_acc(); });
  t.row({"teacher", spread_text(teacher)});
  summary.set("teacher.accuracy_mean", teacher.mean / 100);
  for (const std::string& n : first.names) {
    const Spread sp = over([&](const SeedRun& r) { return 100 * r.acc(n); });
    t.row({n, spread_text(sp)});
    summary.set("students." + n + ".accuracy_mean", sp.mean / 100);
    summary.set("students." + n + ".accuracy_sd", sp.sd / 100);
  }
  t.print();
  const std::string d = first.names[first.distilled_i];
  const Spread lead = over([&](const SeedRun& r) { return 100 * (r.acc(d) - r.acc("scratch")); });
  std::printf("\n%s against the scratch student (worked solutions): %s points\n", d.c_str(), spread_text(lead, "%+.1f").c_str());
  summary.set("distilled_lead_points_mean", lead.mean);
  summary.set("distilled_lead_points_sd", lead.sd);
  if (rl) {
    const Spread gap = over([&](const SeedRun& r) { return 100 * (r.acc(d) - r.acc("grpo")); });
    std::printf("R1 sec. 4.1 in miniature: %s against RL (brief SFT + GRPO) at equal student compute: %s points\n", d.c_str(),
                spread_text(gap, "%+.1f").c_str());
    summary.set("rl_gap_points", gap.mean);
    summary.set("rl_gap_points_sd", gap.sd);
  }
  const Spread same =
      over([](const SeedRun& r) { return r.rs.kept ? 100.0 * static_cast<double>(r.rs.kept_equal_reference) / static_cast<double>(r.rs.kept) : 0.0; });
  std::printf("sequence KD's examples equal to the reference worked solution: %s%%\n", spread_text(same).c_str());
  summary.set("rejection.equal_reference_share", same.mean / 100);
}

// Size, speed and memory of the teacher and the student, from the first seed.
void report_models(SeedRun& r, const CompareData& data, int64_t max_new, int threads, Summary& summary) {
  const ModelFacts ft = facts(*r.teacher, data.codec, data.test, r.teacher_curves, max_new);
  const ModelFacts fs = facts(*r.last_student, data.codec, data.test, r.curves[r.scratch_i], max_new);   // train speed: plain SFT's
  Table m({"model", "parameters", "active / token", "parameter bytes", "KV cache / sequence", "decode tokens/s", "train tokens/s"});
  const std::vector<std::pair<std::string, ModelFacts>> rows = {{"teacher (MoE)", ft}, {"student (dense)", fs}};
  for (const auto& [name, f] : rows)
    m.row({name, format_count(f.params), format_count(f.active), memory::human_bytes(f.param_bytes), memory::human_bytes(f.kv_bytes),
           format_count(f.decode_tps), f.train_tps > 0 ? format_count(f.train_tps) : "-"});
  std::printf("\n");
  m.print();
  std::printf("(the KV cache is MLA's latent cache for one sequence of %lld tokens; tokens/s measured on %d threads in this run)\n",
              (long long)r.teacher->config().max_position_embeddings, threads);
  summary.set("teacher.parameters", ft.params);
  summary.set("student.parameters", fs.params);
  summary.set("teacher.kv_cache_bytes", ft.kv_bytes);
  summary.set("student.kv_cache_bytes", fs.kv_bytes);
  summary.set("teacher.decode_tokens_per_second", ft.decode_tps);
  summary.set("student.decode_tokens_per_second", fs.decode_tps);
}

void write_plots(const SeedRun& r, const std::string& out) {
  double most = 0;
  for (const Curves& c : r.curves) most = std::max(most, c.compute / 1e6);
  auto line = [&](const std::string& file, const std::string& title, const std::string& ylabel, auto member, double teacher_value,
                  const std::string& caption, bool logy = false) {
    LineChart ch{title, "student compute (million forward-token equivalents)", ylabel, {}};
    ch.logy = logy;
    for (size_t i = 0; i < r.names.size(); ++i) {
      std::vector<double> x;
      for (double v : r.curves[i].eval_compute) x.push_back(v / 1e6);
      ch.series.push_back({r.names[i], x, r.curves[i].*member});
    }
    if (teacher_value >= 0) ch.series.push_back({"teacher", {0.0, most}, {teacher_value, teacher_value}, true});
    ch.caption = caption;
    write_line_chart(out + "/" + file, ch);
  };
  line("accuracy.svg", "Held-out accuracy of the student (first seed)", "accuracy (greedy answer correct)", &Curves::accuracy, r.teacher_acc(),
       "The same student from the same initial weights, trained one way each; grpo is brief SFT then RL; dashed: the teacher.");
  line("val_loss.svg", "Validation loss on the reference completions (first seed)", "cross-entropy (nats/token)", &Curves::val_loss,
       r.teacher_curves.val_loss.back(),
       "Loss on held-out worked solutions (log scale: the answers-only student never sees a worked solution and sits far above).", true);
  line("agreement.svg", "Top-1 agreement with the teacher (first seed)", "share of completion positions", &Curves::agreement, -1,
       "How often the student's most likely next token is the teacher's, on held-out references.");
  LineChart tl{"Training loss of each method (its own objective, first seed)", "student training step", "loss", {}};
  for (size_t i = 0; i < r.methods; ++i) tl.series.push_back({r.names[i], r.curves[i].step, r.curves[i].loss, false, 9});
  tl.logy = true;
  tl.caption = "Not comparable across methods (CE, CE + KL, JSD); read each curve's shape (grpo's loss can be negative: not shown).";
  write_line_chart(out + "/train_loss.svg", tl);
}

void write_final_bars(const std::vector<SeedRun>& runs, const std::string& out) {
  BarChart bar{"Final held-out accuracy at equal student compute (one bar per seed)", "", "accuracy", {}, {}};
  bar.categories.push_back("teacher");
  for (const std::string& n : runs.front().names) bar.categories.push_back(n);
  for (size_t k = 0; k < runs.size(); ++k) {
    Series s{"seed " + std::to_string(k + 1), {}, {runs[k].teacher_acc()}};
    for (const std::string& n : runs.front().names) s.y.push_back(runs[k].acc(n));
    bar.series.push_back(s);
  }
  bar.caption =
      "The teacher's bars are for reference; every student spent the same steps (grpo: the same compute as sequence_kd); bars of one method differ only in the "
      "seed.";
  write_bar_chart(out + "/final_accuracy.svg", bar);
}

// The labelled data and the tokenizer every seed shares; the loaded teacher, if any.
CompareData make_data(const Options& o, RunConfig& rc, uint64_t seed, std::unique_ptr<ch06::DeepSeekModel>& teacher) {
  CompareData data;
  const auto train_problems = problems(ch07::Split::train, o.max_digits, o.train_problems, seed);
  if (!o.teacher_dir.empty()) {
    ch06::LoadedModel lm = ch06::load_model(o.teacher_dir);
    if (!lm.has_tokenizer) fail(kProgram, o.teacher_dir + " has no tokenizer.json, and distillation needs the teacher's tokenizer");
    teacher = std::move(lm.model);
    data.codec.tok = std::move(lm.tokenizer);
  } else {
    std::vector<std::string> docs;
    for (const auto& p : train_problems) docs.push_back(ch07::ChatTemplate::compact().prompt(p.question) + ch07::format_completion(p.reasoning, p.answer));
    data.codec.tok = ch07::train_task_tokenizer(docs, static_cast<int>(o.vocab));
  }
  ch07::check_task_tokenizer(data.codec.tok);
  if (!o.tokenizer_path.empty()) check_shared_tokenizer(data.codec.tok, Tokenizer::load(o.tokenizer_path));
  data.problems = train_problems;
  for (const auto& p : train_problems) {
    data.train.push_back(reference_example(data.codec, p));
    data.answers.push_back(answer_example(data.codec, p));
  }
  data.test = problems(ch07::Split::test, o.max_digits, o.test_problems, seed + 7);
  for (const auto& p : data.test) data.test_ref.push_back(reference_example(data.codec, p));
  int64_t longest = 0;
  for (const auto& e : data.train) longest = std::max<int64_t>(longest, static_cast<int64_t>(e.completion.size()));
  rc.max_new_tokens = longest + 8;
  rc.gkd.max_new_tokens = rc.max_new_tokens;
  std::printf("task: addition of 1..%lld-digit numbers, %zu labelled training problems, %zu held-out; tokenizer %d tokens; completions up to %lld tokens\n",
              (long long)o.max_digits, data.train.size(), data.test.size(), data.codec.tok.vocab_size(), (long long)longest);
  return data;
}

}  // namespace

int main(int argc, char** argv) {
  return run_main(kProgram, [&] {
    Flags flags(kProgram,
                "A small student trained from scratch, by logit KD, by sequence-level KD (R1's recipe), by on-policy GKD and by RL (GRPO), at equal "
                "student compute, against a larger MoE teacher on ch07's addition task, over --seeds runs.");
    RunOptions run;
    add_run_flags(flags, run, kProgram);
    Options o;
    RunConfig rc;
    // From scratch the teacher's signal must be strong early: mostly the soft term at T = 1, and
    // GKD with the forward KL (JSD(0.5) saturates while the two distributions are far apart).
    rc.kd = {.alpha = 0.9f, .temperature = 1.f};
    rc.gkd.beta = 0.f;
    add_options(flags, o, rc);
    flags.parse(argc, argv);
    if (run.quick) make_quick(o);
    RunReport report = start_run(run, flags);
    print_header(
        kProgram,
        "held-out accuracy, validation loss and teacher agreement of one student trained six ways (five distillation or SFT runs and RL) at equal compute");
    std::unique_ptr<ch06::DeepSeekModel> loaded;
    const CompareData data = make_data(o, rc, run.seed, loaded);
    Options ok = o;
    ok.rejection.max_new_tokens = rc.max_new_tokens;
    std::vector<SeedRun> runs;
    for (int k = 0; k < o.seeds; ++k) {
      const std::string out = o.seeds == 1 ? run.out : run.out + "/seed-" + std::to_string(k + 1);
      if (o.seeds > 1) std::printf("== seed %d of %d (--seed %llu)\n", k + 1, o.seeds, (unsigned long long)(run.seed + static_cast<uint64_t>(k)));
      std::unique_ptr<ch06::DeepSeekModel> teacher = loaded ? loaded->clone() : nullptr;
      runs.push_back(run_seed(ok, rc, data, std::move(teacher), run.seed + static_cast<uint64_t>(k), out, run.quick));
      print_seed_table(runs.back());
    }
    Summary summary;
    report_seeds(runs, !o.no_rl, summary);
    report_models(runs.front(), data, rc.max_new_tokens, run.threads, summary);
    write_plots(runs.front(), run.out);
    write_final_bars(runs, run.out);
    const SeedRun& r = runs.front();
    for (size_t i = 0; i < r.names.size(); ++i) {
      const Curves& c = r.curves[i];
      summary.set("students." + r.names[i] + ".compute", c.compute);
      summary.set("students." + r.names[i] + ".accuracy", c.accuracy.back());
      summary.set("students." + r.names[i] + ".val_loss", c.val_loss.back());
      summary.set("students." + r.names[i] + ".agreement", c.agreement.back());
      summary.set("students." + r.names[i] + ".train_seconds", c.seconds);
      summary.set("students." + r.names[i] + ".tokens", static_cast<double>(c.tokens));
    }
    summary.set("seeds", static_cast<double>(runs.size()));
    summary.set("teacher.accuracy", r.teacher_acc());
    summary.set("teacher.val_loss", r.teacher_curves.val_loss.back());
    summary.set("rejection.acceptance", r.rs.acceptance());
    summary.set("rejection.examples", static_cast<double>(r.distill_examples));
    summary.set("rejection.equal_reference", static_cast<double>(r.rs.kept_equal_reference));
    report.write(summary);
    std::printf("\nwrote %s/{accuracy,val_loss,agreement,train_loss,final_accuracy}.svg (+ .csv) and summary.json%s\n", run.out.c_str(),
                o.teacher_dir.empty() ? ", and each seed's teacher checkpoint" : "");
    return 0;
  });
}
