// ch07_r1_recipe: DeepSeek-R1's pipeline (R1 paper sec. 2.3) in miniature. From a base model:
//   1. R1-Zero: GRPO straight from the base with the rule-based accuracy and format rewards;
//   2. rejection sampling from the R1-Zero model: keep completions that are right and well formed;
//   3. cold-start SFT of the base on those completions;
//   4. a final GRPO stage from the SFT model.
// Accuracy, format compliance and completion length after each stage, in one table and one plot;
// every stage's model saved as a checkpoint ch06_generate reads.
#include <csignal>
#include <cstdio>

#include "ch06/checkpoint.hpp"
#include "ch07/rl_loop.hpp"
#include "common/plot.hpp"
#include "common/interrupt.hpp"
#include "common/run.hpp"
#include "common/timer.hpp"

using namespace ds;
using namespace ds::ch07;

namespace {

struct StageRow {
  std::string name;
  GreedyReport eval;
  double seconds = 0;
};
}  // namespace

int main(int argc, char** argv) {
  return run_main("ch07_r1_recipe", [&] {
    Flags flags("ch07_r1_recipe", "DeepSeek-R1's recipe in miniature: R1-Zero RL, rejection sampling, cold-start SFT, final RL.");
    RunOptions run;
    add_run_flags(flags, run, "ch07_r1_recipe");
    std::string base_dir = "runs/ch07_sft/checkpoint", task_name = "addition", lengths_text = "2";
    int64_t rl_steps = 20, prompts = 16, group = 8, rs_prompts = 128, rs_k = 8, sft_steps = 40, batch = 32, eval_every = 5;
    int eval_n = 60;
    float lr = 5e-5f, sft_lr = 5e-4f, temperature = 0.7f, beta = 0.04f, format_weight = 0.5f;
    flags.add("--base", base_dir, "the base model (a ch07_sft checkpoint; the R1-Zero stage and the cold-start SFT both start from it)");
    flags.add_choice("--task", task_name, {"addition", "countdown"}, "the task the base was trained on");
    flags.add("--lengths", lengths_text, "operand lengths of every stage's prompts and of the held-out set");
    flags.add("--rl-steps", rl_steps, "GRPO steps of each RL stage").min(1).max(100000);
    flags.add("--prompts", prompts, "prompts per GRPO step").min(1).max(4096);
    flags.add("--group", group, "G, completions per prompt").min(2).max(256);
    flags.add("--lr", lr, "learning rate of the RL stages").min(1e-7).max(1);
    flags.add("--temperature", temperature, "sampling temperature of the RL stages and of the rejection sampling").min(0.05).max(5);
    flags.add("--beta", beta, "weight of the k3 KL to each RL stage's starting model").min(0).max(10);
    flags.add("--format-weight", format_weight, "reward = accuracy + this x format reward (R1-Zero's two rules)").min(0).max(10);
    flags.add("--rs-prompts", rs_prompts, "training prompts sampled for the cold-start data").min(1).max(100000);
    flags.add("--rs-k", rs_k, "completions per prompt for the cold-start data").min(1).max(256);
    flags.add("--sft-steps", sft_steps, "cold-start SFT steps").min(1).max(100000);
    flags.add("--sft-lr", sft_lr, "cold-start SFT learning rate").min(1e-7).max(1);
    flags.add("--batch", batch, "sequences per cold-start SFT step").min(1).max(4096);
    flags.add("--eval-every", eval_every, "probe greedy exact match every this many RL steps").min(1);
    flags.add("--eval-n", eval_n, "held-out test problems per length").min(1).max(2000);
    flags.parse(argc, argv);
    if (run.quick) {
      rl_steps = std::min<int64_t>(rl_steps, 1);
      prompts = std::min<int64_t>(prompts, 2);
      group = std::min<int64_t>(group, 2);
      rs_prompts = std::min<int64_t>(rs_prompts, 4);
      rs_k = std::min<int64_t>(rs_k, 2);
      sft_steps = std::min<int64_t>(sft_steps, 2);
      batch = std::min<int64_t>(batch, 4);
      eval_n = std::min(eval_n, 4);
      eval_every = 1;
    }
    start_run(run);
    const Task task = parse_task(task_name);
    const std::vector<int> lengths = parse_lengths(lengths_text, max_operand_length(task));
    print_header("ch07_r1_recipe: DeepSeek-R1's pipeline in miniature",
                 "R1-Zero (RL from the base with accuracy + format rewards), rejection sampling from it, cold-start SFT of the base on the "
                 "kept answers, then RL again. Read the table: accuracy, format compliance and answer length after each stage.");
    Policy base = load_policy(base_dir);
    const TaskCodec& codec = base.codec;
    const std::vector<Problem> held_out = flatten(held_out_sets(task, lengths, eval_n));
    const std::vector<Problem> probe = flatten(held_out_sets(task, lengths, std::min(eval_n, 16), 1001, ch07::Split::train));
    catch_interrupt();
    std::vector<StageRow> rows;
    rows.push_back({"base", greedy_eval(*base.model, codec, held_out), 0});

    auto rl_stage = [&](ch06::DeepSeekModel& policy, const std::string& label, uint64_t seed) {
      TrainerConfig tc;
      tc.steps = rl_steps;
      tc.batch_size = prompts * group;
      tc.lr = lr;
      tc.min_lr = lr;
      tc.warmup = std::min<int64_t>(5, rl_steps);
      tc.weight_decay = 0.f;
      tc.progress = false;
      GrpoConfig gc;
      gc.prompts = prompts;
      gc.group = group;
      gc.format_weight = format_weight;
      gc.temperature = temperature;
      gc.loss.beta = beta;
      GrpoLearner grpo(policy, codec, tc, gc);
      RlRunConfig rc;
      rc.task = task;
      rc.lengths = lengths;
      rc.steps = rl_steps;
      rc.prompts = prompts;
      rc.eval_every = eval_every;
      rc.seed = seed;
      rc.label = label;
      return run_rl([&](const std::vector<Problem>& p, uint64_t s) { return grpo.step(p, s); }, policy, codec, probe, rc, prompts * group,
                    [] { return interrupted(); });
    };

    // 1. R1-Zero.
    std::unique_ptr<ch06::DeepSeekModel> zero = base.model->clone();
    const RlTrace t_zero = rl_stage(*zero, "R1-Zero (GRPO from the base)", run.seed);
    rows.push_back({"1. R1-Zero: GRPO from the base", greedy_eval(*zero, codec, held_out), t_zero.seconds});
    save_policy(run.out + "/r1_zero", *zero, codec.tok);

    // 2. Rejection sampling from R1-Zero: right and well formed, distinct per prompt.
    Timer rs_timer;
    Rng rng(run.seed + 2);
    const std::vector<Problem> rs_problems = sample_train_problems(task, lengths, static_cast<int>(rs_prompts), rng);
    ch02::SamplingConfig sc = rl_sampling(codec, rs_problems, temperature, run.seed + 3);
    const Rollouts r = sample_rollouts(*zero, codec, rs_problems, rs_k, sc);
    const Verified kept = verified_completions(r, true);
    std::printf("rejection sampling: %lld samples from R1-Zero, %.1f%% right and well formed, %zu distinct kept\n", (long long)r.rows(),
                100.0 * static_cast<double>(kept.accepted) / static_cast<double>(r.rows()), kept.completions.size());

    // 3. Cold-start SFT of the base on the kept completions.
    std::unique_ptr<ch06::DeepSeekModel> cold = base.model->clone();
    if (!kept.completions.empty()) {
      TrainerConfig tc;
      tc.steps = sft_steps;
      tc.batch_size = batch;
      tc.lr = sft_lr;
      tc.min_lr = sft_lr / 10;
      tc.warmup = std::min<int64_t>(5, sft_steps);
      tc.weight_decay = 0.f;
      tc.progress = false;
      SftTrainer sft(*cold, tc);
      sft_on_examples(sft, kept.prompts, kept.completions, codec.eot(), sft_steps, rng, [] { return interrupted(); });
    } else {
      std::printf("no completion was kept: the cold-start SFT stage is skipped (the base goes on unchanged)\n");
    }
    rows.push_back({"2-3. rejection sampling + cold-start SFT of the base", greedy_eval(*cold, codec, held_out), rs_timer.seconds()});
    save_policy(run.out + "/cold_start_sft", *cold, codec.tok);

    // 4. Final RL from the cold-start model.
    const RlTrace t_final = rl_stage(*cold, "final RL (GRPO)", run.seed + 4);
    rows.push_back({"4. final RL: GRPO from the SFT model", greedy_eval(*cold, codec, held_out), t_final.seconds});
    save_policy(run.out + "/final", *cold, codec.tok);

    Table t({"stage", "greedy exact match", "format ok", "mean tokens", "time"});
    std::vector<double> xs, acc, fmt_ok, len;
    std::vector<std::string> names;
    Summary summary;
    for (size_t i = 0; i < rows.size(); ++i) {
      const StageRow& s = rows[i];
      t.row({s.name, fmt("%.1f%%", 100 * s.eval.exact_match), fmt("%.1f%%", 100 * s.eval.format_rate), fmt("%.1f", s.eval.mean_length),
             i == 0 ? "" : fmt("%.0f s", s.seconds)});
      xs.push_back(static_cast<double>(i));
      acc.push_back(100 * s.eval.exact_match);
      fmt_ok.push_back(100 * s.eval.format_rate);
      len.push_back(s.eval.mean_length);
      const std::string key = i == 0 ? "base" : i == 1 ? "r1_zero" : i == 2 ? "cold_start_sft" : "final_rl";
      summary.set(key + ".exact_match", s.eval.exact_match);
      summary.set(key + ".format_rate", s.eval.format_rate);
      summary.set(key + ".mean_length", s.eval.mean_length);
    }
    std::printf("\n");
    t.print();
    BarChart bars{"DeepSeek-R1's recipe in miniature: after each stage (held-out operand length " + lengths_text + ")", "", "%", {"base", "R1-Zero", "cold-start SFT", "final RL"}, {}};
    bars.series.push_back({"greedy exact match", xs, acc});
    bars.series.push_back({"format compliance", xs, fmt_ok});
    bars.caption = "R1-Zero learns from rewards alone; its verified answers become the cold-start data, and the final RL stage starts from a better model.";
    write_bar_chart(run.out + "/stages.svg", bars);
    LineChart lc{"DeepSeek-R1's recipe: greedy exact match on the validation probe during the two RL stages", "GRPO step", "%", {}};
    lc.series.push_back({"R1-Zero (from the base)", t_zero.eval_step, t_zero.eval_em});
    lc.series.push_back({"final RL (from cold-start SFT)", t_final.eval_step, t_final.eval_em});
    lc.caption = "The final RL stage starts higher than R1-Zero did, because the cold-start SFT put R1-Zero's verified answers into the base.";
    write_line_chart(run.out + "/rl_stages.svg", lc);
    summary.set("kept_completions", static_cast<double>(kept.completions.size()));
    summary.write(run.out + "/summary.json");
    std::printf("wrote %s/{stages,rl_stages}.svg, summary.json, checkpoints r1_zero/, cold_start_sft/, final/\n", run.out.c_str());
    return interrupted() ? 130 : 0;
  });
}
