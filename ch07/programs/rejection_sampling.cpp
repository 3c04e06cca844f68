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

int main(int argc, char** argv) {
  return run_main("ch07_rejection_sampling", [&] {
    Flags flags("ch07_rejection_sampling", "Rejection-sampling fine-tuning (RFT / STaR): sample, keep the verified answers, SFT on them, repeat.");
    RunOptions run;
    add_run_flags(flags, run, "ch07_rejection_sampling");
    ch07::FromSftFlags from;
    int64_t rounds = 3, prompts = 64, k = 8, steps = 15, batch = 32;
    int eval_n = 40;
    float lr = 3e-4f, temperature = 0.7f;
    from.add(flags, "operand lengths of the prompts and of the held-out set",
             "where to save the model (default OUT/checkpoint)");
    flags.add("--rounds", rounds, "sample-filter-train rounds").min(1).max(1000);
    flags.add("--prompts", prompts, "training prompts sampled per round").min(1).max(100000);
    flags.add("--k", k, "completions sampled per prompt").min(1).max(256);
    flags.add("--temperature", temperature, "sampling temperature").min(0.05).max(5);
    flags.add("--steps", steps, "SFT steps on the kept completions per round").min(1).max(100000);
    flags.add("--batch", batch, "sequences per SFT step").min(1).max(4096);
    flags.add("--lr", lr, "learning rate of the SFT steps").min(1e-7).max(1);
    flags.add("--eval-n", eval_n, "held-out test problems per length").min(1).max(2000);
    flags.parse(argc, argv);
    if (run.quick) {
      rounds = std::min<int64_t>(rounds, 1);
      prompts = std::min<int64_t>(prompts, 4);
      k = std::min<int64_t>(k, 4);
      steps = std::min<int64_t>(steps, 2);
      batch = std::min<int64_t>(batch, 4);
      eval_n = std::min(eval_n, 4);
    }
    start_run(run);
    from.resolve(run.out);
    const Task task = from.task;
    const std::vector<int>& lengths = from.lengths;
    print_header("ch07_rejection_sampling: learning from your own verified answers",
                 "Each round samples " + std::to_string(k) + " completions for " + std::to_string(prompts) +
                     " training prompts, keeps the ones the verifier accepts and fine-tunes on them. Watch the kept share and the "
                     "held-out exact match grow round by round.");
    Policy start = load_policy(from.sft_dir);
    const TaskCodec& codec = start.codec;
    ch06::DeepSeekModel& model = *start.model;
    const std::vector<Problem> held_out = flatten(held_out_sets(task, lengths, eval_n));

    TrainerConfig tc;
    tc.steps = rounds * steps;
    tc.batch_size = batch;
    tc.lr = lr;
    tc.min_lr = lr;
    tc.warmup = std::min<int64_t>(5, tc.steps);
    tc.weight_decay = 0.f;
    SftTrainer sft(model, tc);
    Rng rng(run.seed);
    catch_interrupt();

    std::vector<double> xs{0}, ems{100 * greedy_eval(model, codec, held_out).exact_match}, kept_share;
    Table t({"round", "sampled", "verified correct", "kept (distinct)", "held-out exact match"});
    t.row({"0 (SFT)", "", "", "", fmt("%.1f%%", ems[0])});
    Timer timer;
    int64_t total_kept = 0;
    for (int64_t round = 1; round <= rounds && !interrupted(); ++round) {
      const std::vector<Problem> problems = sample_train_problems(task, lengths, static_cast<int>(prompts), rng);
      ch02::SamplingConfig sc;
      sc.max_new_tokens = completion_budget(codec, problems);
      sc.temperature = temperature;
      sc.seed = run.seed * 7919 + static_cast<uint64_t>(round);
      const Rollouts r = sample_rollouts(model, codec, problems, k, sc);
      // Keep each prompt's distinct correct completions (STaR keeps one; RFT keeps the distinct ones).
      const Verified kept = verified_completions(r, false);
      const int64_t correct = kept.accepted;
      total_kept += static_cast<int64_t>(kept.completions.size());
      kept_share.push_back(100.0 * static_cast<double>(correct) / static_cast<double>(r.rows()));
      if (!kept.completions.empty())
        sft_on_examples(sft, kept.prompts, kept.completions, codec.eot(), steps, rng, [] { return interrupted(); });
      xs.push_back(static_cast<double>(round));
      ems.push_back(100 * greedy_eval(model, codec, held_out).exact_match);
      t.row({std::to_string(round), std::to_string(r.rows()), fmt("%lld (%.1f%%)", (long long)correct, kept_share.back()),
             std::to_string(kept.completions.size()), fmt("%.1f%%", ems.back())});
      std::printf("round %lld: %.1f%% of samples verified, %zu kept, held-out exact match %.1f%%\n", (long long)round, kept_share.back(),
                  kept.completions.size(), ems.back());
    }
    const double seconds = timer.seconds();
    std::printf("\n");
    t.print();
    save_policy(from.checkpoint, model, codec.tok);

    LineChart em{"Rejection-sampling fine-tuning: held-out exact match by round", "round (0 = the SFT start)", "%", {}};
    em.series.push_back({"greedy exact match, held-out " + from.lengths_text, xs, ems});
    std::vector<double> rx(xs.begin() + 1, xs.end());
    em.series.push_back({"share of samples verified correct", rx, kept_share, true});
    em.caption = "Each round trains on the model's own verified answers; the verified share and the exact match rise together, with no worked solution shown.";
    write_line_chart(run.out + "/exact_match.svg", em);
    Summary summary;
    summary.set("rounds", static_cast<double>(xs.size() - 1));
    summary.set("sft_exact_match", ems.front() / 100);
    summary.set("final_exact_match", ems.back() / 100);
    summary.set("kept_completions", static_cast<double>(total_kept));
    summary.set("seconds", seconds);
    summary.set("checkpoint", from.checkpoint);
    summary.write(run.out + "/summary.json");
    std::printf("wrote %s/exact_match.svg, summary.json, checkpoint/\n", run.out.c_str());
    return interrupted() ? 130 : 0;
  });
}
