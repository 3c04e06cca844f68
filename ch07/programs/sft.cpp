// ch07_sft: supervised fine-tuning of a small DeepSeek model on worked solutions, the start of
// every post-training method in this chapter (sft_start.hpp): short operands to ~100%, then a
// small fixed set of labelled long problems until validation accuracy stops improving, keeping
// the best weights. The labelled data is then exhausted, and greedy accuracy on long operands
// lands in the middle (RL needs groups with mixed outcomes: a group that is all right or all
// wrong has advantage 0 and teaches GRPO nothing). Saves the checkpoint every ch07 program starts from.
#include <cstdio>

#include "ch07/rollout.hpp"
#include "ch07/sft_start.hpp"
#include "common/fsutil.hpp"
#include "common/interrupt.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"

using namespace ds;
using namespace ds::ch07;

namespace {

std::string lengths_text(const std::vector<int>& l) {
  return l.size() == 1 ? std::to_string(l[0]) : std::to_string(l.front()) + "-" + std::to_string(l.back());
}

void add_sft_flags(Flags& flags, SftStartConfig& c, std::string& task, std::string& short_text, std::string& long_text) {
  flags.add_choice("--task", task, {"addition", "countdown"}, "which task (countdown's lengths are 3 or 4 numbers)");
  flags.add_choice("--model", c.model_size, {"small", "tiny"}, "policy size (task_model.hpp): small = hidden 96, 3 layers; tiny = hidden 48, 2 layers");
  flags.add("--short", short_text, "stage 1 operand lengths, trained to near 100% (e.g. 1-3)");
  flags.add("--long", long_text, "stage 2 operand lengths, from the labelled set only; also the held-out long set");
  flags.add("--short-steps", c.short_steps, "optimizer steps of stage 1").min(0).max(1000000);
  flags.add("--long-steps", c.long_steps, "at most this many optimizer steps of stage 2 (short and long lengths mixed)").min(0).max(1000000);
  flags.add("--long-examples", c.long_examples,
            "labelled problems per long length: stage 2 and the SFT-only controls of ch07_grpo and ch07_compare see only these "
            "(RL draws fresh prompts that only the verifier grades)").min(1).max(1000000);
  flags.add("--batch", c.batch, "sequences per step").min(1).max(4096);
  flags.add("--lr", c.lr, "peak learning rate (warmup 20 steps, cosine to a tenth over both stages' budgets)").min(1e-6).max(1);
  flags.add("--eval-every", c.eval_every, "greedy exact match on validation problems every this many steps of stage 1").min(1);
  flags.add("--long-eval-every", c.long_eval_every, "the validation probe of stage 2 every this many steps (it may stop there)").min(1);
  flags.add("--patience", c.patience,
            "stage 2 stops once this many probes in a row have not beaten the best validation exact match, and keeps the best "
            "probe's weights (0: no convergence stop)").min(0).max(100000);
  flags.add("--fitted-loss", c.fitted_loss,
            "the stop may end stage 2 only once the labelled set is fitted: mean training loss since the last probe below this "
            "(nats per completion token); before that a flat validation curve is the slow start of learning, not a plateau").min(0).max(100);
  flags.add("--probe-n", c.probe_n, "validation problems per length of stage 2's probe (training split minus the labelled set)").min(1).max(2000);
  flags.add("--long-target", c.long_target, "also end stage 2 at the first probe whose validation exact match (%) reaches this (0: off)").min(0).max(100);
  flags.add("--vocab", c.vocab, "task tokenizer vocabulary (byte-level BPE, digits kept apart)").min(262).max(4096);
}

void report_stop(const SftStartConfig& c, const SftStart& s) {
  if (s.stopped && c.long_target > 0 && s.long_em.back() >= c.long_target)
    std::printf("stage 2 stopped after %lld steps: the validation probe reached %.1f%% (--long-target %.0f)\n", (long long)s.stage2_steps, s.long_em.back(),
                c.long_target);
  else if (s.stopped)
    std::printf("stage 2 stopped after %lld steps: the labelled set is fitted (training loss under %g) and no validation probe in the last %d "
                "(every %lld steps) beat the best\n", (long long)s.stage2_steps, c.fitted_loss, c.patience, (long long)c.long_eval_every);
  if (c.patience > 0)
    std::printf("kept the weights of step %lld, the best validation probe (%.1f%% of %zu problems)\n", (long long)s.kept_step, s.best_validation,
                s.validation_problems);
}

// Exact match by length on held-out test problems: the table, the bar chart and the summary.
void report_by_length(const SftStartConfig& c, SftStart& s, const std::vector<int>& evals, int eval_n, const std::string& out, Summary& summary) {
  Table t({"operand length", "trained on", "held-out problems", "greedy exact match", "format ok", "mean tokens"});
  BarChart by{"Greedy exact match by operand length after SFT (held-out test problems)", "operand length (digits)", "exact match (%)", {}, {}};
  std::vector<double> xs, ems;
  for (int len : evals) {
    const std::vector<Problem> set = problem_set(c.task, len, ch07::Split::test, eval_n, 7 + static_cast<uint64_t>(len));
    const GreedyReport r = greedy_eval(*s.policy.model, s.policy.codec, set);
    const bool in_short = std::count(c.short_lengths.begin(), c.short_lengths.end(), len),
               in_long = std::count(c.long_lengths.begin(), c.long_lengths.end(), len);
    t.row({std::to_string(len), in_short ? "stage 1+2" : in_long ? "stage 2" : "never", std::to_string(set.size()), fmt("%.1f%%", 100 * r.exact_match),
           fmt("%.1f%%", 100 * r.format_rate), fmt("%.1f", r.mean_length)});
    xs.push_back(len);
    ems.push_back(100 * r.exact_match);
    by.categories.push_back(std::to_string(len));
    summary.set("exact_match_by_length." + std::to_string(len), r.exact_match);
  }
  t.print();
  by.series.push_back({"exact match", xs, ems});
  by.caption = "Lengths of stage 1 are near 100%, stage 2's lengths in between, lengths never trained on near 0: the model does not extrapolate.";
  write_bar_chart(out + "/exact_match_by_length.svg", by);
}

void write_sft_plots(const SftStartConfig& c, const SftStart& s, const std::string& out) {
  LineChart loss{"SFT loss on completion tokens", "optimizer step", "cross-entropy (nats per completion token)", {}};
  loss.series.push_back({"train loss", s.history.step, s.history.train.at("loss"), false, 5});
  loss.logy = true;
  loss.caption = fmt("Stage 1 (lengths %s) runs to step %lld, stage 2 adds lengths %s: the loss jumps where the long problems come in.",
                     lengths_text(c.short_lengths).c_str(), (long long)s.stage1_steps, lengths_text(c.long_lengths).c_str());
  write_line_chart(out + "/loss.svg", loss);
  LineChart em{"Greedy exact match on validation problems during SFT", "optimizer step", "exact match (%)", {}};
  em.series.push_back({"short (" + lengths_text(c.short_lengths) + ")", s.probe_step, s.short_em});
  em.series.push_back({"long (" + lengths_text(c.long_lengths) + ")", s.probe_step, s.long_em});
  if (c.patience > 0) em.series.push_back({"kept: the best long probe", {static_cast<double>(s.kept_step)}, {s.best_validation}});
  em.caption = fmt("Short operands reach ~100%% in stage 1; the long set climbs in stage 2 until it plateaus on its %d labelled problems; "
                   "the checkpoint keeps step %lld, the best probe.", c.long_examples, (long long)s.kept_step);
  write_line_chart(out + "/exact_match.svg", em);
}

}  // namespace

int main(int argc, char** argv) {
  return run_main("ch07_sft", [&] {
    Flags flags("ch07_sft", "Supervised fine-tuning on worked solutions: short operands to ~100%, then a small labelled set of long ones.");
    RunOptions run;
    add_run_flags(flags, run, "ch07_sft");
    SftStartConfig c;
    std::string task_name = "addition", short_text = "1", long_text = "2", eval_text = "1-4", checkpoint;
    int eval_n = 100;
    add_sft_flags(flags, c, task_name, short_text, long_text);
    flags.add("--eval-lengths", eval_text, "lengths of the exact-match-by-length table and plot (held-out test problems)");
    flags.add("--eval-n", eval_n, "held-out test problems per length for the final evaluation").min(1).max(2000);
    flags.add("--checkpoint", checkpoint, "where to save the model (default OUT/checkpoint)");
    flags.parse(argc, argv);
    if (run.quick) make_quick(c), eval_n = std::min(eval_n, 4);
    RunReport report = start_run(run, flags);
    if (checkpoint.empty()) checkpoint = run.out + "/checkpoint";
    claim_folder(checkpoint, FolderUse::Checkpoint, "--checkpoint");
    c.task = parse_task(task_name);
    const int max_len = max_operand_length(c.task);
    c.short_lengths = parse_lengths(short_text, max_len);
    c.long_lengths = parse_lengths(long_text, max_len);
    const std::vector<int> evals = parse_lengths(eval_text, max_len);
    if (c.task == Task::countdown)
      for (int l : c.short_lengths) if (l < 3) fail("ch07_sft", "countdown problems have 3 or 4 numbers: use --short 3 --long 4");
    print_header("ch07_sft: supervised fine-tuning on worked solutions",
                 "A small DeepSeek model (MLA + MoE) learns " + task_name + " from worked solutions in the chat template: first lengths " +
                     lengths_text(c.short_lengths) + ", then " + std::to_string(c.long_examples) + " labelled problems of lengths " +
                     lengths_text(c.long_lengths) +
                     ". Watch exact match on held-out problems: near 100% on short operands, partial on long ones (the start RL needs).");
    std::printf("policy: %s, %lld parameters\n\n", c.model_size.c_str(),
                (long long)count_parameters(task_model_config(c.model_size, task_tokenizer(c.task, c.vocab).vocab_size())).total);
    catch_interrupt();
    SftStart s = train_sft_start(c, run.seed, [] { return interrupted(); });
    std::printf("example: %s|%s\n\n", s.policy.codec.tmpl.prompt(s.example.question).c_str(), format_completion(s.example.reasoning, s.example.answer).c_str());
    report_stop(c, s);
    if (interrupted()) std::printf("\ninterrupted after %lld steps: saving what was trained\n", (long long)(s.stage1_steps + s.stage2_steps));
    Summary summary;
    report_by_length(c, s, evals, eval_n, run.out, summary);
    const GreedyReport long_rep = greedy_eval(*s.policy.model, s.policy.codec, flatten(held_out_sets(c.task, c.long_lengths, eval_n)));
    std::printf("\nheld-out long set (%s): %.1f%%   (%lld steps in %.0f s)\n", lengths_text(c.long_lengths).c_str(), 100 * long_rep.exact_match,
                (long long)(s.stage1_steps + s.stage2_steps), s.seconds);
    save_sft_start(checkpoint, s);
    std::printf("checkpoint: %s (try: ch06_generate --checkpoint %s --prompt \"%s\")\n", checkpoint.c_str(), checkpoint.c_str(),
                s.policy.codec.tmpl.prompt(problem_set(c.task, c.long_lengths.front(), ch07::Split::test, 1, 99)[0].question).c_str());
    write_sft_plots(c, s, run.out);
    summary.set("task", task_name);
    summary.set("model", c.model_size);
    summary.set("steps", static_cast<double>(s.stage1_steps + s.stage2_steps));
    summary.set("stage1_steps", static_cast<double>(s.stage1_steps));
    summary.set("stage2_steps", static_cast<double>(s.stage2_steps));
    summary.set("kept_step", static_cast<double>(s.kept_step));
    summary.set("best_validation_exact_match", s.best_validation / 100);
    summary.set("long_examples", static_cast<double>(c.long_examples));
    summary.set("train_seconds", s.seconds);
    summary.set("long_exact_match", long_rep.exact_match);
    summary.set("final_loss", s.history.train.at("loss").back());
    summary.set("checkpoint", checkpoint);
    report.write(summary);
    std::printf("wrote %s/{loss,exact_match,exact_match_by_length}.svg, summary.json\n", run.out.c_str());
    return interrupted() ? 130 : 0;
  });
}
