// ch07_dpo: Direct Preference Optimization (Rafailov et al. 2023) on pairs the SFT model makes
// itself: for each training prompt, a verified-correct sample is preferred to a wrong one. No
// sampling while training and no reward model: the policy's log-ratio to the frozen SFT model is
// an implicit reward, and the loss widens its margin between the chosen and the rejected answer.
#include <csignal>
#include <cstdio>

#include "ch06/checkpoint.hpp"
#include "ch07/dpo_learner.hpp"
#include "common/plot.hpp"
#include "common/progress.hpp"
#include "common/interrupt.hpp"
#include "common/run.hpp"
#include "common/timer.hpp"

using namespace ds;
using namespace ds::ch07;

int main(int argc, char** argv) {
  return run_main("ch07_dpo", [&] {
    Flags flags("ch07_dpo", "DPO on (verified-correct, wrong) pairs sampled from the SFT model.");
    RunOptions run;
    add_run_flags(flags, run, "ch07_dpo");
    ch07::FromSftFlags from;
    int64_t prompts = 128, k = 4, steps = 30, batch = 16;
    int eval_n = 40;
    float lr = 5e-5f, beta = 0.1f, nll = 0.f, temperature = 0.7f;
    from.add(flags, "operand lengths of the prompts and of the held-out set",
             "where to save the model (default OUT/checkpoint)");
    flags.add("--prompts", prompts, "training prompts sampled to build the pairs").min(1).max(100000);
    flags.add("--k", k, "completions sampled per prompt (a pair needs one right and one wrong)").min(2).max(256);
    flags.add("--temperature", temperature, "sampling temperature of the pair data").min(0.05).max(5);
    flags.add("--steps", steps, "DPO optimizer steps").min(1).max(100000);
    flags.add("--batch", batch, "pairs per step").min(1).max(4096);
    flags.add("--lr", lr, "learning rate").min(1e-7).max(1);
    flags.add("--beta", beta, "DPO's beta: the inverse temperature of the implicit reward").min(1e-4).max(100);
    flags.add("--nll", nll, "weight of the NLL on the chosen answer (RPO; 0 = plain DPO)").min(0).max(100);
    flags.add("--eval-n", eval_n, "held-out test problems per length").min(1).max(2000);
    flags.parse(argc, argv);
    if (run.quick) {
      prompts = std::min<int64_t>(prompts, 8);
      steps = std::min<int64_t>(steps, 2);
      batch = std::min<int64_t>(batch, 4);
      eval_n = std::min(eval_n, 4);
    }
    start_run(run);
    from.resolve(run.out);
    const Task task = from.task;
    const std::vector<int>& lengths = from.lengths;
    print_header("ch07_dpo: preferences from a verifier",
                 "The SFT model answers each training prompt " + std::to_string(k) +
                     " times; a right and a wrong answer to the same prompt make a pair. DPO raises the implicit reward of the chosen "
                     "answer over the rejected one. Watch the margin grow, and whether the chosen answer's own reward (likelihood) falls.");
    Policy start = load_policy(from.sft_dir);
    const TaskCodec& codec = start.codec;
    ch06::DeepSeekModel& model = *start.model;
    const std::vector<Problem> held_out = flatten(held_out_sets(task, lengths, eval_n));
    const GreedyReport before = greedy_eval(model, codec, held_out);

    Rng rng(run.seed);
    const std::vector<Problem> problems = sample_train_problems(task, lengths, static_cast<int>(prompts), rng);
    ch02::SamplingConfig sc;
    sc.max_new_tokens = completion_budget(codec, problems);
    sc.temperature = temperature;
    sc.seed = run.seed + 5;
    Timer timer;
    const Rollouts r = sample_rollouts(model, codec, problems, k, sc);
    std::vector<PreferencePair> pairs = preference_pairs(r);
    std::printf("sampled %lld completions (%.1f%% correct): %zu prompts with both a right and a wrong answer -> %zu pairs\n\n", (long long)r.rows(),
                100 * r.mean_accuracy(), pairs.size(), pairs.size());
    if (pairs.empty()) fail("ch07_dpo", "no prompt had both a right and a wrong sample; use more --prompts or --k");

    const TrainerConfig tc = post_training_config(steps, batch, lr, lr);   // the program draws its own progress bar
    DpoOptions opt;
    opt.beta = beta;
    opt.nll_weight = nll;
    DpoLearner dpo(model, tc, opt);
    dpo.set_pairs(std::move(pairs));
    catch_interrupt();
    Progress bar(steps, "dpo", true);
    std::vector<double> xs, margin, chosen, rejected, acc;
    for (int64_t s = 0; s < steps && !interrupted(); ++s) {
      std::vector<int64_t> rows;
      for (int64_t i = 0; i < batch; ++i) rows.push_back(rng.randint(dpo.pairs()));
      const StepStats st = dpo.step(rows);
      xs.push_back(static_cast<double>(s + 1));
      margin.push_back(st.metrics.at("margin"));
      chosen.push_back(st.metrics.at("chosen_reward"));
      rejected.push_back(st.metrics.at("rejected_reward"));
      acc.push_back(100 * st.metrics.at("pair_acc"));
      bar.update(s + 1, {{"loss", st.loss}, {"margin", margin.back()}, {"pair_acc", st.metrics.at("pair_acc")}});
    }
    bar.finish();
    const double seconds = timer.seconds();
    const GreedyReport after = greedy_eval(model, codec, held_out);
    save_policy(from.checkpoint, model, codec.tok);

    Table t({"model", "greedy exact match (held-out)", "format ok", "mean tokens"});
    t.row({"SFT start", fmt("%.1f%%", 100 * before.exact_match), fmt("%.1f%%", 100 * before.format_rate), fmt("%.1f", before.mean_length)});
    t.row({"+ DPO, " + std::to_string(xs.size()) + " steps", fmt("%.1f%%", 100 * after.exact_match), fmt("%.1f%%", 100 * after.format_rate),
           fmt("%.1f", after.mean_length)});
    t.print();
    std::printf("final margin %.3f, chosen reward %.3f, rejected reward %.3f (%.0f s with the sampling)\n", margin.empty() ? 0 : margin.back(),
                chosen.empty() ? 0 : chosen.back(), rejected.empty() ? 0 : rejected.back(), seconds);

    LineChart rw{"DPO: implicit rewards beta log(pi / pi_ref) of the pairs", "DPO step", "implicit reward (nats x beta)", {}};
    rw.series.push_back({"chosen (correct)", xs, chosen, false, 3});
    rw.series.push_back({"rejected (wrong)", xs, rejected, false, 3});
    rw.series.push_back({"margin", xs, margin, true, 3});
    rw.caption = "The margin grows mostly by pushing the rejected answer down; a falling chosen reward is the likelihood loss --nll counters.";
    write_line_chart(run.out + "/rewards.svg", rw);
    LineChart pa{"DPO: pairs ranked right by the implicit reward", "DPO step", "% of the step's pairs", {{"chosen reward > rejected", xs, acc, false, 3}}};
    pa.caption = "At step 1 the policy is the reference, every reward is 0 and no pair is ranked right yet; DPO ranks the training pairs within a few steps.";
    write_line_chart(run.out + "/pair_accuracy.svg", pa);
    Summary summary;
    summary.set("pairs", static_cast<double>(dpo.pairs()));
    summary.set("sft_exact_match", before.exact_match);
    summary.set("dpo_exact_match", after.exact_match);
    summary.set("final_margin", margin.empty() ? 0.0 : margin.back());
    summary.set("final_chosen_reward", chosen.empty() ? 0.0 : chosen.back());
    summary.set("final_rejected_reward", rejected.empty() ? 0.0 : rejected.back());
    summary.set("seconds", seconds);
    summary.set("checkpoint", from.checkpoint);
    summary.write(run.out + "/summary.json");
    std::printf("wrote %s/{rewards,pair_accuracy}.svg, summary.json, checkpoint/\n", run.out.c_str());
    return interrupted() ? 130 : 0;
  });
}
