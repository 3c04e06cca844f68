// ch07_rejection_sampling: rejection-sampling fine-tuning (RFT, Yuan et al. 2023; STaR, Zelikman
// et al. 2022), the data engine of DeepSeek-R1's second SFT stage (R1 sec. 2.3.3): sample k
// completions per prompt, keep those the verifier accepts, fine-tune on them, and repeat with the
// improved model. Learning only from its own verified answers, the model needs no worked solutions.
#include <csignal>
#include <cstdio>

#include "ch06/checkpoint.hpp"
#include "ch07/rollout.hpp"
#include "ch07/sft.hpp"
#include "common/plot.hpp"
#include "common/interrupt.hpp"
#include "common/run.hpp"
#include "common/timer.hpp"

using namespace ds;
using namespace ds::ch07;

namespace {
// Held-out exact match after each round (x = round, 0 the SFT start) and the share of each
// round's samples the verifier accepted.
struct Rounds {
  std::vector<double> xs, ems, kept_share;
  int64_t total_kept = 0;
  double seconds = 0;
};

struct Options {
  int64_t rounds = 3, prompts = 64, k = 8, steps = 15, batch = 32;
  int eval_n = 40;
  float lr = 3e-4f, temperature = 0.7f;
};

// Sample k completions per prompt, keep the verified ones, fine-tune on them; `rounds` times.
Rounds run_rounds(ch06::DeepSeekModel& model, const TaskCodec& codec, const FromSftFlags& from, const std::vector<Problem>& held_out,
                  const Options& o, uint64_t seed) {
  TrainerConfig tc;
  tc.steps = o.rounds * o.steps;
  tc.batch_size = o.batch;
  tc.lr = o.lr;
  tc.min_lr = o.lr;
  tc.warmup = std::min<int64_t>(5, tc.steps);
  tc.weight_decay = 0.f;
  SftTrainer sft(model, tc);
  Rng rng(seed);
  catch_interrupt();

  Rounds out{{0}, {100 * greedy_eval(model, codec, held_out).exact_match}, {}};
  Table t({"round", "sampled", "verified correct", "kept (distinct)", "held-out exact match"});
  t.row({"0 (SFT)", "", "", "", fmt("%.1f%%", out.ems[0])});
  Timer timer;
  for (int64_t round = 1; round <= o.rounds && !interrupted(); ++round) {
    const std::vector<Problem> problems = sample_train_problems(from.task, from.lengths, static_cast<int>(o.prompts), rng);
    ch02::SamplingConfig sc;
    sc.max_new_tokens = completion_budget(codec, problems);
    sc.temperature = o.temperature;
    sc.seed = seed * 7919 + static_cast<uint64_t>(round);
    const Rollouts r = sample_rollouts(model, codec, problems, o.k, sc);
    // Keep each prompt's distinct correct completions (STaR keeps one; RFT keeps the distinct ones).
    const Verified kept = verified_completions(r, false);
    const int64_t correct = kept.accepted;
    out.total_kept += static_cast<int64_t>(kept.completions.size());
    out.kept_share.push_back(100.0 * static_cast<double>(correct) / static_cast<double>(r.rows()));
    if (!kept.completions.empty())
      sft_on_examples(sft, kept.prompts, kept.completions, codec.eot(), o.steps, rng, [] { return interrupted(); });
    out.xs.push_back(static_cast<double>(round));
    out.ems.push_back(100 * greedy_eval(model, codec, held_out).exact_match);
    t.row({std::to_string(round), std::to_string(r.rows()), fmt("%lld (%.1f%%)", (long long)correct, out.kept_share.back()),
           std::to_string(kept.completions.size()), fmt("%.1f%%", out.ems.back())});
    std::printf("round %lld: %.1f%% of samples verified, %zu kept, held-out exact match %.1f%%\n", (long long)round, out.kept_share.back(),
                kept.completions.size(), out.ems.back());
  }
  out.seconds = timer.seconds();
  std::printf("\n");
  t.print();
  return out;
}

// The exact-match plot and summary.json.
void report_rounds(RunReport& report, const Rounds& r, const FromSftFlags& from) {
  LineChart em{"Rejection-sampling fine-tuning: held-out exact match by round", "round (0 = the SFT start)", "%", {}};
  em.series.push_back({"greedy exact match, held-out " + from.lengths_text, r.xs, r.ems});
  std::vector<double> rx(r.xs.begin() + 1, r.xs.end());
  em.series.push_back({"share of samples verified correct", rx, r.kept_share, true});
  em.caption = "Each round trains on the model's own verified answers; the verified share and the exact match rise together, with no "
               "worked solution shown.";
  report.plot("exact_match.svg", em);
  Summary summary;
  summary.set("rounds", static_cast<double>(r.xs.size() - 1));
  summary.set("sft_exact_match", r.ems.front() / 100);
  summary.set("final_exact_match", r.ems.back() / 100);
  summary.set("kept_completions", static_cast<double>(r.total_kept));
  summary.set("seconds", r.seconds);
  summary.set("checkpoint", from.checkpoint);
  report.write(summary);
  std::printf("wrote %s/exact_match.svg, summary.json, checkpoint/\n", report.dir().c_str());
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("ch07_rejection_sampling", [&] {
    Flags flags("ch07_rejection_sampling",
                "Rejection-sampling fine-tuning (RFT / STaR): sample, keep the verified answers, SFT on them, repeat.");
    RunOptions run;
    add_run_flags(flags, run, "ch07_rejection_sampling");
    FromSftFlags from;
    Options o;
    from.add(flags, "operand lengths of the prompts and of the held-out set", "where to save the model (default OUT/checkpoint)");
    flags.add("--rounds", o.rounds, "sample-filter-train rounds").min(1).max(1000).quick(1);
    flags.add("--prompts", o.prompts, "training prompts sampled per round").min(1).max(100000).quick(4);
    flags.add("--k", o.k, "completions sampled per prompt").min(1).max(256).quick(4);
    flags.add("--temperature", o.temperature, "sampling temperature").min(0.05).max(5);
    flags.add("--steps", o.steps, "SFT steps on the kept completions per round").min(1).max(100000).quick(2);
    flags.add("--batch", o.batch, "sequences per SFT step").min(1).max(4096).quick(4);
    flags.add("--lr", o.lr, "learning rate of the SFT steps").min(1e-7).max(1);
    flags.add("--eval-n", o.eval_n, "held-out test problems per length").min(1).max(2000).quick(4);
    flags.parse(argc, argv);
    RunReport report = start_run(run, flags);
    from.resolve(run.out);
    print_header("ch07_rejection_sampling: learning from your own verified answers",
                 "Each round samples " + std::to_string(o.k) + " completions for " + std::to_string(o.prompts) +
                     " training prompts, keeps the ones the verifier accepts and fine-tunes on them. Watch the kept share and the "
                     "held-out exact match grow round by round.");
    Policy start = load_policy(from.sft_dir);
    const std::vector<Problem> held_out = flatten(held_out_sets(from.task, from.lengths, o.eval_n));
    const Rounds r = run_rounds(*start.model, start.codec, from, held_out, o, run.seed);
    save_policy(from.checkpoint, *start.model, start.codec.tok);
    report_rounds(report, r, from);
    return interrupted() ? 130 : 0;
  });
}
