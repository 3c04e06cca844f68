// ch08_logit_kd: Hinton's logit distillation on language modelling, with a temperature sweep.
// A DeepSeek-style MoE teacher is pretrained on the built-in corpus (or loaded with --teacher,
// e.g. ch06_pretrain's checkpoint); then one small dense student, from the same initial weights,
// is trained for the same steps from scratch (alpha 0) and with alpha * T^2 KL + (1 - alpha) CE
// at each temperature of the sweep. It also measures the soft term's gradient at each T with and
// without the T^2 factor.
#include <cmath>
#include <cstdio>

#include "ch06/checkpoint.hpp"
#include "ch06/pretrain.hpp"
#include "ch07/sft.hpp"
#include "ch08/gkd.hpp"
#include "ch08/logit_kd.hpp"
#include "common/autograd.hpp"
#include "common/plot.hpp"
#include "common/progress.hpp"
#include "common/run.hpp"

using namespace ds;
using namespace ds::ch08;

namespace {

const char* kProgram = "ch08_logit_kd";

DeepSeekConfig lm_config(int64_t vocab, int64_t hidden, int64_t layers, bool moe) {
  DeepSeekConfig c = preset("tiny");
  c.vocab_size = vocab;
  c.hidden_size = hidden;
  c.num_hidden_layers = layers;
  c.q_lora_rank = hidden / 2;
  c.kv_lora_rank = hidden / 4;
  c.intermediate_size = 2 * hidden;
  c.moe_intermediate_size = hidden / 2;
  c.n_group = 1;
  c.topk_group = 1;
  c.first_k_dense_replace = moe ? 1 : layers;
  c.num_nextn_predict_layers = 0;
  return c;
}

std::vector<float> parse_temperatures(const std::string& s) {
  std::vector<float> out;
  size_t i = 0;
  while (i <= s.size()) {
    const size_t j = std::min(s.find(',', i), s.size());
    try {
      size_t used = 0;
      const float t = std::stof(s.substr(i, j - i), &used);
      if (used != j - i || !(t > 0) || !std::isfinite(t)) throw std::invalid_argument("");
      out.push_back(t);
    } catch (const std::exception&) {
      throw std::invalid_argument("--temperatures needs positive finite numbers separated by commas, like 1,2,4,8, not '" + s + "'");
    }
    i = j + 1;
  }
  return out;
}

// The soft term's gradient norm on one batch: d(KL at T)/d(student logits), times T^2 or not.
double soft_grad_norm(ch06::DeepSeekModel& student, ch06::DeepSeekModel& teacher, const Batch& b, float t, bool scaled) {
  Tensor ls;
  {
    NoGradGuard ng;
    ls = student.forward(b.inputs);
  }
  Tensor s = ls.detach().clone().requires_grad_();
  const KDLoss l = logit_kd_loss(s, [&] { NoGradGuard ng; return teacher.forward(b.inputs); }(), b.targets, {.alpha = 1.f, .temperature = t});
  l.loss.backward();
  double sq = 0;
  for (int64_t i = 0; i < s.grad().numel(); ++i) sq += double(s.grad()[i]) * s.grad()[i];
  return std::sqrt(sq) / (scaled ? 1.0 : double(t) * t);
}

struct Options {
  std::string teacher_dir, data_path, temps = "1,2,4";
  int64_t teacher_steps = 250, student_steps = 100, batch = 8, seq = 64;
  float alpha = 0.5f;
};

TrainerConfig kd_config(const Options& o, int64_t steps, const std::string& label, uint64_t seed, bool quick) {
  TrainerConfig tc = program_train_config(steps, seed, 5);
  tc.batch_size = o.batch;
  tc.seq_len = o.seq;
  tc.warmup = std::min<int64_t>(20, steps / 10);
  tc.eval_batches = quick ? 2 : 8;
  tc.label = label;
  return tc;
}

// The teacher (loaded, or pretrained here and saved to <out>/teacher), its tokenizer and the data.
struct Teacher {
  std::unique_ptr<ch06::DeepSeekModel> model;
  Tokenizer tok;
  std::unique_ptr<TokenDataset> data;
  double val = 0;
};

Teacher load_or_train_teacher(const Options& o, const RunOptions& run) {
  Teacher t;
  const auto docs = load_or_generate_documents(o.data_path, run.quick ? 200000 : 1000000, run.seed);
  if (!o.teacher_dir.empty()) {
    ch06::LoadedModel lm = ch06::load_model(o.teacher_dir);
    if (!lm.has_tokenizer) fail(kProgram, o.teacher_dir + " has no tokenizer.json, and the student must use the teacher's tokenizer");
    t.model = std::move(lm.model);
    t.tok = std::move(lm.tokenizer);
    t.data = std::make_unique<TokenDataset>(docs, t.tok, 0.05, run.seed);
    const auto batches = t.data->eval_batches(Split::Val, o.batch, o.seq, run.quick ? 2 : 8);
    t.val = evaluate([&](const Batch& b) { return ch07::sft_loss(*t.model)(b); }, batches).at("loss");
  } else {
    CorpusData cd = corpus_dataset(docs, run.quick ? 512 : 1024, run.seed);
    t.tok = std::move(cd.tokenizer);
    t.data = std::make_unique<TokenDataset>(std::move(cd.dataset));
    Rng rng(run.seed);
    t.model = std::make_unique<ch06::DeepSeekModel>(lm_config(t.tok.vocab_size(), 128, 4, true), rng);
    ch06::PretrainConfig pc;
    pc.train = kd_config(o, o.teacher_steps, "teacher", run.seed, run.quick);
    ch06::Pretrainer p(*t.model, pc);
    t.val = p.trainer.run(*t.data).final_val("main_ce");
    ch06::write_folder_atomic(run.out + "/teacher", [&](const std::string& tmp) { ch06::write_model_files(tmp, *t.model, &t.tok); });
  }
  if (t.tok.vocab_size() > t.model->vocab_size()) fail(kProgram, "the teacher's vocabulary is smaller than its tokenizer's");
  return t;
}

struct StudentRun {
  std::string name;
  float t = 1;
  TrainHistory h;
};

// Students: alpha 0 (scratch) and alpha at each T, from the same initial weights and data order.
std::vector<StudentRun> train_students(Teacher& teacher, const DeepSeekConfig& scfg, const std::vector<float>& sweep, const Options& o,
                                       const RunOptions& run) {
  std::vector<StudentRun> runs = {{"scratch", 1.f, {}}};
  for (float t : sweep) runs.push_back({fmt("KD T=%g", t), t, {}});
  for (size_t i = 0; i < runs.size(); ++i) {
    Rng rng(run.seed + 1);
    ch06::DeepSeekModel student(scfg, rng);
    const LogitKDOptions ko{.alpha = i == 0 ? 0.f : o.alpha, .temperature = runs[i].t};
    Trainer trainer(student.named_parameters(), kd_config(o, o.student_steps, runs[i].name, run.seed, run.quick),
                    [&](const Batch& b) { return logit_kd_step(student, *teacher.model, b, ko); });
    runs[i].h = trainer.run(*teacher.data);
  }
  return runs;
}

// The soft term's gradient norm with and without T^2, on one batch, for a fresh student.
struct GradScale {
  std::vector<double> ts, with_t2, without_t2;
};

GradScale grad_scale(Teacher& teacher, const DeepSeekConfig& scfg, const Options& o, uint64_t seed) {
  Rng rng(seed + 1);
  ch06::DeepSeekModel fresh(scfg, rng);
  Rng brng(seed);
  const Batch b = teacher.data->sample_batch(Split::Train, o.batch, o.seq, brng);
  GradScale g;
  for (float t : {1.f, 2.f, 4.f, 8.f, 16.f}) {
    g.ts.push_back(t);
    g.with_t2.push_back(soft_grad_norm(fresh, *teacher.model, b, t, true));
    g.without_t2.push_back(soft_grad_norm(fresh, *teacher.model, b, t, false));
  }
  return g;
}

// Both tables, the three plots and summary.json.
void report_kd(RunReport& report, const std::vector<StudentRun>& runs, const GradScale& gr, double teacher_val, const Options& o) {
  Table t({"student", "final validation CE", "vs scratch", "soft term (T^2 KL)", "train tokens/s"});
  Summary summary;
  const double scratch = runs[0].h.final_val("hard");
  for (const StudentRun& r : runs) {
    const double v = r.h.final_val("hard");
    t.row({r.name, fmt("%.4f", v), fmt("%+.4f", v - scratch), r.name == "scratch" ? "-" : fmt("%.4f", r.h.final_val("soft")),
           format_count(r.h.tokens_per_second())});
    summary.set("students." + r.name + ".val_ce", v);
  }
  t.print();
  std::printf("\nteacher validation CE %.4f; student alpha %.2g for every KD run\n", teacher_val, o.alpha);
  Table g({"T", "|grad| of T^2 KL", "|grad| of KL alone"});
  for (size_t i = 0; i < gr.ts.size(); ++i) g.row({fmt("%g", gr.ts[i]), fmt("%.4g", gr.with_t2[i]), fmt("%.4g", gr.without_t2[i])});
  std::printf("\nthe soft term's gradient on one batch (fresh student, trained teacher):\n");
  g.print();

  LineChart val{"Validation cross-entropy of the student", "student training step", "cross-entropy (nats/token)", {}};
  for (const StudentRun& r : runs) val.series.push_back({r.name, r.h.eval_step, r.h.val.at("hard"), r.name == "scratch"});
  val.series.push_back({"teacher", {0.0, double(o.student_steps)}, {teacher_val, teacher_val}, true});
  val.caption = "The same student from the same initial weights and batches; dashed: the from-scratch run and the teacher.";
  report.plot("val_ce.svg", val);
  BarChart sweep_bar{"Final validation cross-entropy by temperature", "", "cross-entropy (nats/token)", {}, {{"val CE", {}, {}}}};
  for (const StudentRun& r : runs) {
    sweep_bar.categories.push_back(r.name);
    sweep_bar.series[0].y.push_back(r.h.final_val("hard"));
  }
  sweep_bar.caption = "Lower is better; every bar is the same student after the same number of steps.";
  report.plot("temperature_sweep.svg", sweep_bar);
  LineChart gs{"Gradient of the soft term, with and without T^2", "temperature T", "gradient norm", {}};
  gs.series = {{"T^2 KL (Hinton)", gr.ts, gr.with_t2}, {"KL alone", gr.ts, gr.without_t2, true}};
  gs.logx = gs.logy = true;
  gs.caption = "Without T^2 the soft term's gradient falls as 1/T^2; with it the scale stays comparable, so alpha means the same at any T.";
  report.plot("grad_scale.svg", gs);
  summary.set("teacher_val_ce", teacher_val);
  summary.set("scratch_val_ce", scratch);
  double best = 1e30;
  for (size_t i = 1; i < runs.size(); ++i) best = std::min(best, runs[i].h.final_val("hard"));
  summary.set("best_kd_val_ce", best);
  summary.set("grad_norm_t2", gr.with_t2);
  summary.set("grad_norm_no_t2", gr.without_t2);
  report.write(summary);
  std::printf("\nwrote %s/{val_ce,temperature_sweep,grad_scale}.svg (+ .csv) and summary.json\n", report.dir().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  return run_main(kProgram, [&] {
    Flags flags(kProgram, "Logit distillation (alpha * T^2 KL + (1 - alpha) CE) of a MoE teacher into a small dense student on language "
                          "modelling, with a temperature sweep at equal student steps.");
    RunOptions run;
    add_run_flags(flags, run, kProgram);
    Options o;
    flags.add("--teacher", o.teacher_dir,
              "load the teacher from this checkpoint folder (ch06_pretrain's, or a previous run's <out>/teacher) instead of training one");
    flags.add("--data", o.data_path, "train on this UTF-8 text file instead of the built-in corpus");
    flags.add("--teacher-steps", o.teacher_steps, "pretraining steps of the teacher (not counted in the students' budget)").min(1).quick(10);
    flags.add("--student-steps", o.student_steps, "training steps of every student: the equal compute budget").min(1).quick(5);
    flags.add("--batch", o.batch, "sequences per step").min(1).quick(4);
    flags.add("--seq", o.seq, "tokens per sequence").min(2).max(128).quick(32);
    flags.add("--alpha", o.alpha, "weight of the soft term (1 - alpha on the labels); the from-scratch student is alpha 0").min(0).max(1);
    flags.add("--temperatures", o.temps, "the sweep: temperatures T separated by commas");
    flags.parse(argc, argv);
    const std::vector<float> sweep = parse_temperatures(o.temps);
    RunReport report = start_run(run, flags);
    print_header(kProgram, "validation cross-entropy of one student trained from scratch and by logit KD at each temperature, equal steps");
    Teacher teacher = load_or_train_teacher(o, run);
    std::printf("teacher: %.2fM parameters, validation cross-entropy %.4f\n\n", count_parameters(teacher.model->config()).total / 1e6,
                teacher.val);
    const DeepSeekConfig scfg = lm_config(teacher.model->vocab_size(), 64, 2, false);
    const std::vector<StudentRun> runs = train_students(teacher, scfg, sweep, o, run);
    report_kd(report, runs, grad_scale(teacher, scfg, o, run.seed), teacher.val, o);
    return 0;
  });
}
