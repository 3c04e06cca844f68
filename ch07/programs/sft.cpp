// ch07_sft: supervised fine-tuning of a small DeepSeek model on worked solutions, the start of
// every post-training method in this chapter. Stage 1 trains on short operands until the model
// adds them almost perfectly; stage 2 trains on a small fixed set of labelled long problems until
// validation accuracy stops improving and keeps the best weights: the labelled data is then
// exhausted, and the set is small enough that greedy accuracy on the held-out long set lands in
// the middle (RL needs groups with mixed outcomes: a group that is all right or all wrong has
// advantage 0 and teaches GRPO nothing). The loss is on completion tokens only, averaged per
// token. Saves the checkpoint every ch07 program starts from.
#include <csignal>
#include <cstdio>

#include "ch06/checkpoint.hpp"
#include "ch07/labelled_set.hpp"
#include "ch07/plateau.hpp"
#include "ch07/rollout.hpp"
#include "ch07/sft.hpp"
#include "common/fsutil.hpp"
#include "common/plot.hpp"
#include "common/interrupt.hpp"
#include "common/run.hpp"
#include "common/timer.hpp"

using namespace ds;
using namespace ds::ch07;

namespace {

struct Curve {
  std::vector<double> step, short_em, long_em;
};

std::string lengths_text(const std::vector<int>& l) {
  return l.size() == 1 ? std::to_string(l[0]) : std::to_string(l.front()) + "-" + std::to_string(l.back());
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("ch07_sft", [&] {
    Flags flags("ch07_sft", "Supervised fine-tuning on worked solutions: short operands to ~100%, then a limited budget on long ones.");
    RunOptions run;
    add_run_flags(flags, run, "ch07_sft");
    std::string task_name = "addition", model_size = "small", short_text = "1", long_text = "2", eval_text = "1-4", checkpoint;
    int64_t short_steps = 300, long_steps = 1200, batch = 32, eval_every = 100, long_eval_every = 40;
    double long_target = 0, fitted_loss = 0.02;
    int eval_n = 100, vocab = 320, long_examples = 192, patience = 8, probe_n = 64;
    float lr = 4e-3f;
    flags.add_choice("--task", task_name, {"addition", "countdown"}, "which task (countdown's lengths are 3 or 4 numbers)");
    flags.add_choice("--model", model_size, {"small", "tiny"}, "policy size (task_model.hpp): small = hidden 96, 3 layers; tiny = hidden 48, 2 layers");
    flags.add("--short", short_text, "stage 1 operand lengths, trained to near 100% (e.g. 1-3)");
    flags.add("--long", long_text, "stage 2 operand lengths, given --long-steps only; also the held-out long set");
    flags.add("--eval-lengths", eval_text, "lengths of the exact-match-by-length plot");
    flags.add("--short-steps", short_steps, "optimizer steps of stage 1").min(0).max(1000000);
    flags.add("--long-steps", long_steps, "optimizer steps of stage 2 (short and long lengths mixed)").min(0).max(1000000);
    flags.add("--long-examples", long_examples,
              "labelled problems per long length: stage 2 and the SFT-only controls of ch07_grpo and ch07_compare see only these "
              "(RL draws fresh prompts that only the verifier grades)").min(1).max(1000000);
    flags.add("--batch", batch, "sequences per step").min(1).max(4096);
    flags.add("--lr", lr, "peak learning rate (warmup 20 steps, cosine to a tenth over both stages' budgets)").min(1e-6).max(1);
    flags.add("--eval-every", eval_every, "greedy exact match on held-out problems every this many steps of stage 1").min(1);
    flags.add("--long-eval-every", long_eval_every, "the validation probe of stage 2 every this many steps (it may stop there)").min(1);
    flags.add("--patience", patience,
              "stage 2 stops once this many probes in a row have not beaten the best validation exact match, and keeps the best "
              "probe's weights (0: no convergence stop)").min(0).max(100000);
    flags.add("--fitted-loss", fitted_loss,
              "the stop may end stage 2 only once the labelled set is fitted: mean training loss since the last probe below this "
              "(nats per completion token); before that a flat validation curve is the slow start of learning, not a plateau").min(0).max(100);
    flags.add("--probe-n", probe_n, "validation problems per length of stage 2's probe (training split minus the labelled set)").min(1).max(2000);
    flags.add("--long-target", long_target,
              "also end stage 2 at the first probe whose validation exact match (%) reaches this (0: off; the old limited-budget stop)")
        .min(0).max(100);
    flags.add("--eval-n", eval_n, "held-out test problems per length for the final evaluation").min(1).max(2000);
    flags.add("--vocab", vocab, "task tokenizer vocabulary (byte-level BPE, digits kept apart)").min(262).max(4096);
    flags.add("--checkpoint", checkpoint, "where to save the model (default OUT/checkpoint)");
    flags.parse(argc, argv);
    if (run.quick) {
      model_size = "tiny";
      short_steps = std::min<int64_t>(short_steps, 12);
      long_steps = std::min<int64_t>(long_steps, 4);
      batch = std::min<int64_t>(batch, 8);
      eval_every = 8;
      long_eval_every = 2;
      probe_n = std::min(probe_n, 4);
      eval_n = std::min(eval_n, 4);
      long_examples = std::min(long_examples, 16);
      eval_text = "1-4";
    }
    RunReport report = start_run(run, flags);
    if (checkpoint.empty()) checkpoint = run.out + "/checkpoint";
    claim_folder(checkpoint, FolderUse::Checkpoint, "--checkpoint");
    const Task task = parse_task(task_name);
    const int max_len = max_operand_length(task);
    const std::vector<int> shorts = parse_lengths(short_text, max_len), longs = parse_lengths(long_text, max_len),
                           evals = parse_lengths(eval_text, max_len);
    if (task == Task::countdown)
      for (int l : shorts) if (l < 3) fail("ch07_sft", "countdown problems have 3 or 4 numbers: use --short 3 --long 4");
    print_header("ch07_sft: supervised fine-tuning on worked solutions",
                 "A small DeepSeek model (MLA + MoE) learns " + task_name + " from worked solutions in the chat template: first lengths " +
                     lengths_text(shorts) + ", then a short budget on " + lengths_text(longs) +
                     ". Watch exact match on held-out problems: near 100% on short operands, partial on long ones (the start RL needs).");

    TaskCodec codec{task_tokenizer(task, vocab), ChatTemplate::compact()};
    Rng rng(run.seed);
    const DeepSeekConfig cfg = task_model_config(model_size, codec.tok.vocab_size());
    ch06::DeepSeekModel model(cfg, rng);
    std::printf("policy: %s, %lld parameters, vocabulary %d\n", model_size.c_str(), (long long)count_parameters(cfg).total, codec.tok.vocab_size());
    std::printf("example: %s|%s\n\n", codec.tmpl.prompt(sample_problem(task, longs.back(), ch07::Split::train, rng).question).c_str(),
                format_completion("...", "...").c_str());

    TrainerConfig tc;
    tc.steps = short_steps + long_steps;
    tc.batch_size = batch;
    tc.lr = lr;
    tc.min_lr = lr / 10;
    tc.warmup = std::min<int64_t>(20, std::max<int64_t>(tc.steps / 10, 1));
    tc.weight_decay = 0.0f;
    tc.label = "sft";
    tc.seed = run.seed;
    SftTrainer sft(model, tc);

    // Validation sets while training (every probe costs a greedy decode), drawn from the training
    // split so that stopping stage 2 never looks at the test set; the test sets at the end.
    LabelledSet labelled;
    labelled.task = task;
    labelled.short_lengths = shorts;
    labelled.long_lengths = longs;
    labelled.long_examples = long_examples;
    const std::vector<Problem> pool = labelled.long_problems();
    const std::vector<Problem> short_probe = flatten(held_out_sets(task, shorts, std::min(probe_n, 16), 1001, ch07::Split::train)),
                               long_probe = validation_set(task, longs, probe_n, pool);
    std::printf("labelled long problems (with worked solutions): %zu; validation problems kept apart from them: %zu\n", pool.size(), long_probe.size());
    Curve curve;
    auto probe = [&] {
      curve.step.push_back(static_cast<double>(sft.trainer->step_count()));
      curve.short_em.push_back(100 * greedy_eval(model, codec, short_probe).exact_match);
      curve.long_em.push_back(100 * greedy_eval(model, codec, long_probe).exact_match);
    };
    catch_interrupt();
    bool stage2 = false, reached = false;
    const bool cfg_progress = !run.quick;
    PlateauStop plateau;
    plateau.patience = patience;
    Snapshot best;
    double loss_sum = 0;
    int64_t loss_n = 0;
    auto on_step = [&](const StepStats& s) {
      loss_sum += s.loss;
      ++loss_n;
      if (s.step % (stage2 ? long_eval_every : eval_every) == 0) {
        const double recent_loss = loss_sum / static_cast<double>(loss_n);
        loss_sum = 0;
        loss_n = 0;
        probe();
        if (stage2) {
          // Convergence: the labelled set is exhausted once validation stops improving; keep the best.
          if (plateau.observe(curve.long_em.back(), s.step)) best.take(model);
          if (patience > 0 && plateau.done() && recent_loss < fitted_loss) reached = true;
          if (cfg_progress) std::printf("\n  validation probe after step %lld: %.1f%% (best %.1f%% at step %lld)\n", (long long)s.step,
                                        curve.long_em.back(), plateau.best, (long long)plateau.best_step);
          if (long_target > 0 && curve.long_em.back() >= long_target) reached = true;
        }
      }
      return !interrupted() && !reached;
    };
    Timer timer;
    probe();
    const int64_t s1 = sft_steps(sft, codec, task, shorts, short_steps, rng, on_step, "sft stage 1 (short)");
    stage2 = true;
    const int64_t s2 = interrupted() ? 0 : sft_steps(sft, codec, [&](int n, Rng& r) { return labelled.draw(pool, n, r); }, long_steps, rng, on_step,
                                                        "sft stage 2 (long)");   // short lengths stay in the mix so they are not forgotten
    if (curve.step.back() != static_cast<double>(sft.trainer->step_count())) {
      probe();
      if (plateau.observe(curve.long_em.back(), sft.trainer->step_count())) best.take(model);
    }
    // Keep the best probe's weights (the convergence stop), unless the target stop ended stage 2 first.
    const bool keep_best = patience > 0 && !best.empty() && !(long_target > 0 && curve.long_em.back() >= long_target);
    if (keep_best) best.restore(model);
    const double train_s = timer.seconds();
    if (reached && plateau.done())
      std::printf("stage 2 stopped after %lld steps: the labelled set is fitted (training loss under %g) and no validation probe in the last %d "
                  "(every %lld steps) beat the best\n", (long long)s2, fitted_loss, patience, (long long)long_eval_every);
    else if (reached)
      std::printf("stage 2 stopped after %lld steps: the validation probe reached %.1f%% (--long-target %.0f)\n", (long long)s2, curve.long_em.back(),
                  long_target);
    if (keep_best)
      std::printf("kept the weights of step %lld, the best validation probe (%.1f%% of %zu problems)\n", (long long)plateau.best_step, plateau.best,
                  long_probe.size());
    if (interrupted()) std::printf("\ninterrupted after %lld steps: saving what was trained\n", (long long)(s1 + s2));

    // Final: exact match by length on the held-out sets.
    Table t({"operand length", "trained on", "held-out problems", "greedy exact match", "format ok", "mean tokens"});
    Summary summary;
    std::vector<double> xs, ems;
    for (int len : evals) {
      const std::vector<Problem> set = problem_set(task, len, ch07::Split::test, eval_n, 7 + static_cast<uint64_t>(len));
      const GreedyReport r = greedy_eval(model, codec, set);
      const bool in_short = std::count(shorts.begin(), shorts.end(), len), in_long = std::count(longs.begin(), longs.end(), len);
      t.row({std::to_string(len), in_short ? "stage 1+2" : in_long ? "stage 2" : "never", std::to_string(set.size()), fmt("%.1f%%", 100 * r.exact_match),
             fmt("%.1f%%", 100 * r.format_rate), fmt("%.1f", r.mean_length)});
      xs.push_back(len);
      ems.push_back(100 * r.exact_match);
      summary.set("exact_match_by_length." + std::to_string(len), r.exact_match);
    }
    const GreedyReport short_rep = greedy_eval(model, codec, flatten(held_out_sets(task, shorts, eval_n)));
    const GreedyReport long_rep = greedy_eval(model, codec, flatten(held_out_sets(task, longs, eval_n)));
    t.print();
    std::printf("\nheld-out short set (%s): %.1f%%   held-out long set (%s): %.1f%%   (%lld steps in %.0f s)\n", lengths_text(shorts).c_str(),
                100 * short_rep.exact_match, lengths_text(longs).c_str(), 100 * long_rep.exact_match, (long long)(s1 + s2), train_s);

    save_policy(checkpoint, model, codec.tok, [&](const std::string& folder) { labelled.save(folder); });
    std::printf("checkpoint: %s (try: ch06_generate --checkpoint %s --prompt \"%s\")\n", checkpoint.c_str(), checkpoint.c_str(),
                codec.tmpl.prompt(problem_set(task, longs.front(), ch07::Split::test, 1, 99)[0].question).c_str());

    const TrainHistory& h = sft.trainer->history;
    LineChart loss{"SFT loss on completion tokens", "optimizer step", "cross-entropy (nats per completion token)", {}};
    loss.series.push_back({"train loss", h.step, h.train.at("loss"), false, 5});
    loss.logy = true;
    loss.caption = fmt("Stage 1 (lengths %s) runs to step %lld, stage 2 adds lengths %s: the loss jumps where the long problems come in.",
                       lengths_text(shorts).c_str(), (long long)s1, lengths_text(longs).c_str());
    report.plot("loss.svg", loss);
    LineChart em{"Greedy exact match on validation problems during SFT", "optimizer step", "exact match (%)", {}};
    em.series.push_back({"short (" + lengths_text(shorts) + ")", curve.step, curve.short_em});
    em.series.push_back({"long (" + lengths_text(longs) + ")", curve.step, curve.long_em});
    if (keep_best) em.series.push_back({"kept: the best long probe", {static_cast<double>(plateau.best_step)}, {plateau.best}});
    em.caption = keep_best ? fmt("Short operands reach ~100%% in stage 1; the long set climbs in stage 2 until it plateaus on its %d labelled problems; "
                                 "the checkpoint keeps step %lld, the best probe.", long_examples, (long long)plateau.best_step)
                           : std::string("Short operands reach ~100% in stage 1; the long set climbs only in stage 2.");
    report.plot("exact_match.svg", em);
    BarChart by{"Greedy exact match by operand length after SFT (held-out test problems)", "operand length (digits)", "exact match (%)", {}, {}};
    for (double x : xs) by.categories.push_back(fmt("%d", static_cast<int>(x)));
    by.series.push_back({"exact match", xs, ems});
    by.caption = "Lengths of stage 1 are near 100%, stage 2's lengths in between, lengths never trained on near 0: the model does not extrapolate.";
    report.plot("exact_match_by_length.svg", by);

    summary.set("task", task_name);
    summary.set("model", model_size);
    summary.set("parameters", static_cast<double>(count_parameters(cfg).total));
    summary.set("steps", static_cast<double>(s1 + s2));
    summary.set("stage1_steps", static_cast<double>(s1));
    summary.set("stage2_steps", static_cast<double>(s2));
    summary.set("kept_step", static_cast<double>(keep_best ? plateau.best_step : sft.trainer->step_count()));
    summary.set("best_validation_exact_match", plateau.best / 100);
    summary.set("long_examples", static_cast<double>(pool.size()));
    summary.set("train_seconds", train_s);
    summary.set("short_exact_match", short_rep.exact_match);
    summary.set("long_exact_match", long_rep.exact_match);
    summary.set("long_format_rate", long_rep.format_rate);
    summary.set("final_loss", h.train.at("loss").back());
    summary.set("checkpoint", checkpoint);
    report.write(summary);
    std::printf("wrote %s/{loss,exact_match,exact_match_by_length}.svg, summary.json\n", run.out.c_str());
    return interrupted() ? 130 : 0;
  });
}
