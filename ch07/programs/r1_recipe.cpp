// ch07_r1_recipe: DeepSeek-R1's pipeline (R1 paper sec. 2.2-2.3) in miniature, from a base that
// has never seen the chat template:
//   0. the base: next-token pretraining on plain text of the task ("52031+691=22725"), no markers;
//   1. R1-Zero: GRPO straight from the base with the rule-based accuracy and format rewards;
//   1'. what R1-Zero needs at this scale: a format warm-up (SFT on a handful of templated
//      examples of short problems), then the same GRPO (R1-Zero after warm-up);
//   2. rejection sampling from the better R1-Zero model: keep completions that are right and well formed;
//   3. cold-start SFT of the base on those completions;
//   4. a final GRPO stage from the SFT model.
// Accuracy, format compliance and completion length after each stage, in one table and one plot;
// every stage's model saved as a checkpoint ch06_generate reads.
#include <csignal>
#include <cstdio>
#include <numeric>
#include <utility>

#include "ch06/checkpoint.hpp"
#include "ch07/plain_pretrain.hpp"
#include "ch07/rl_loop.hpp"
#include "common/plot.hpp"
#include "common/interrupt.hpp"
#include "common/run.hpp"
#include "common/timer.hpp"

using namespace ds;
using namespace ds::ch07;

namespace {

struct StageRow {
  std::string name, key, label;
  GreedyReport eval;
  double seconds = 0;
};

}  // namespace

int main(int argc, char** argv) {
  return run_main("ch07_r1_recipe", [&] {
    Flags flags("ch07_r1_recipe",
                "DeepSeek-R1's recipe in miniature from a base pretrained without the template: R1-Zero RL, the warm-up it needs here, "
                "rejection sampling, cold-start SFT, final RL.");
    RunOptions run;
    add_run_flags(flags, run, "ch07_r1_recipe");
    std::string base_dir, task_name = "addition", lengths_text = "2", pretrain_text = "1-2", warmup_text = "1-2", model_size = "small";
    int64_t pretrain_steps = 800, pretrain_batch = 32, rl_steps = 20, prompts = 16, group = 8, rs_prompts = 128, rs_k = 8, sft_steps = 60,
            batch = 32, eval_every = 5, warmup_examples = 64, warmup_steps = 150;
    int eval_n = 100, vocab = 320;
    float pretrain_lr = 4e-3f, warmup_lr = 4e-3f, lr = 5e-5f, sft_lr = 5e-4f, temperature = 0.7f, beta = 0.04f, format_weight = 0.5f;
    flags.add("--base", base_dir, "a base pretrained by an earlier run (its OUT/base folder); default: pretrain one (stage 0)");
    flags.add_choice("--task", task_name, {"addition", "countdown"}, "the task");
    flags.add_choice("--model", model_size, {"small", "tiny"}, "size of the base (task_model.hpp)");
    flags.add("--lengths", lengths_text, "operand lengths of every RL stage's prompts and of the held-out set");
    flags.add("--pretrain-lengths", pretrain_text, "operand lengths of the base's plain-text pretraining");
    flags.add("--pretrain-steps", pretrain_steps, "next-token pretraining steps of the base on plain text").min(0).max(1000000);
    flags.add("--pretrain-batch", pretrain_batch, "texts per pretraining step").min(1).max(4096);
    flags.add("--pretrain-lr", pretrain_lr, "peak pretraining learning rate (warmup, cosine to a tenth)").min(1e-7).max(1);
    flags.add("--vocab", vocab, "task tokenizer vocabulary of a pretrained base").min(262).max(4096);
    flags.add("--warmup-examples", warmup_examples,
              "the format warm-up's labelled problems (lengths --warmup-lengths) in the template; 0 skips the warm-up arm").min(0).max(100000);
    flags.add("--warmup-lengths", warmup_text, "operand lengths of the warm-up examples");
    flags.add("--warmup-steps", warmup_steps, "SFT steps of the format warm-up (batch --batch)").min(1).max(100000);
    flags.add("--warmup-lr", warmup_lr, "learning rate of the format warm-up").min(1e-7).max(1);
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
    flags.add("--batch", batch, "sequences per cold-start SFT and warm-up step").min(1).max(4096);
    flags.add("--eval-every", eval_every, "probe greedy exact match every this many RL steps").min(1);
    flags.add("--eval-n", eval_n, "held-out test problems per length").min(1).max(2000);
    flags.parse(argc, argv);
    if (run.quick) {
      model_size = "tiny";
      pretrain_steps = std::min<int64_t>(pretrain_steps, 6);
      pretrain_batch = std::min<int64_t>(pretrain_batch, 8);
      warmup_examples = std::min<int64_t>(warmup_examples, 4);
      warmup_steps = std::min<int64_t>(warmup_steps, 2);
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
    RunReport report = start_run(run, flags);
    const Task task = parse_task(task_name);
    const int max_len = max_operand_length(task);
    const std::vector<int> lengths = parse_lengths(lengths_text, max_len), pretrain_lengths = parse_lengths(pretrain_text, max_len),
                           warmup_lengths = parse_lengths(warmup_text, max_len);
    if (task == Task::countdown)
      for (const auto* ls : {&lengths, &pretrain_lengths, &warmup_lengths})
        for (int l : *ls)
          if (l < 3) fail("ch07_r1_recipe", "countdown problems have 3 or 4 numbers: use --lengths 4 --pretrain-lengths 3-4 --warmup-lengths 3");
    print_header("ch07_r1_recipe: DeepSeek-R1's pipeline in miniature",
                 "A base pretrained on plain text (\"52031+691=22725\", never the template), R1-Zero (RL from it with accuracy + format "
                 "rewards), the warm-up R1-Zero needs at this size, rejection sampling, cold-start SFT of the base, RL again. Read the "
                 "table: accuracy, format compliance and answer length after each stage.");
    catch_interrupt();
    std::vector<StageRow> rows;
    Rng rng(run.seed);

    // 0. The base.
    Timer t0;
    Policy base;
    if (!base_dir.empty()) {
      base = load_policy(base_dir, "ch07_r1_recipe");
    } else {
      base.codec = TaskCodec{task_tokenizer(task, vocab), ChatTemplate::compact()};
      base.model = std::make_unique<ch06::DeepSeekModel>(task_model_config(model_size, base.codec.tok.vocab_size()), rng);
      TrainerConfig tc = post_training_config(pretrain_steps, pretrain_batch, pretrain_lr, pretrain_lr / 10);
      tc.warmup = std::min<int64_t>(20, std::max<int64_t>(pretrain_steps / 10, 1));
      tc.progress = true;
      SftTrainer pre(*base.model, tc);
      pretrain_plain(pre, base.codec, task, pretrain_lengths, pretrain_steps, rng, [] { return interrupted(); });
      std::printf("base: %lld pretraining steps on plain text of lengths %s, final loss %.3f (e.g. \"%s\")\n", (long long)pretrain_steps,
                  pretrain_text.c_str(), pre.trainer->history.train.at("loss").empty() ? 0.0 : pre.trainer->history.train.at("loss").back(),
                  plain_text(problem_set(task, lengths.back(), ch07::Split::train, 1, 5)[0]).c_str());
      save_policy(run.out + "/base", *base.model, base.codec.tok);
    }
    const TaskCodec& codec = base.codec;
    const std::vector<Problem> held_out = flatten(held_out_sets(task, lengths, eval_n));
    const std::vector<Problem> probe = flatten(held_out_sets(task, lengths, std::min(eval_n, 16), 1001, ch07::Split::train));
    rows.push_back({"0. base: plain-text pretraining, never the template", "base", "base", greedy_eval(*base.model, codec, held_out), t0.seconds()});
    // What the base knows in its own notation ("a+b=" -> the reversed sum), on the same held-out problems.
    const double base_plain = task == Task::addition ? plain_exact_match(*base.model, codec, held_out) : -1;
    if (base_plain >= 0) std::printf("the base in plain text (\"a+b=\"): %.1f%% of the held-out sums right\n", 100 * base_plain);

    auto rl_stage = [&](ch06::DeepSeekModel& policy, const std::string& label, uint64_t seed) {
      GrpoConfig gc;
      gc.prompts = prompts;
      gc.group = group;
      gc.format_weight = format_weight;
      gc.temperature = temperature;
      gc.loss.beta = beta;
      GrpoLearner grpo(policy, codec, post_training_config(rl_steps, prompts * group, lr, lr), gc);
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
    auto sft_stage = [&](ch06::DeepSeekModel& m, const std::vector<std::vector<int32_t>>& ps, const std::vector<std::vector<int32_t>>& cs,
                         int64_t steps, float peak) {
      SftTrainer sft(m, post_training_config(steps, batch, peak, peak / 10));
      sft_on_examples(sft, ps, cs, codec.eot(), steps, rng, [] { return interrupted(); });
    };

    // 1. R1-Zero straight from the base.
    std::unique_ptr<ch06::DeepSeekModel> zero = base.model->clone();
    const RlTrace t_zero = rl_stage(*zero, "R1-Zero (GRPO from the base)", run.seed);
    rows.push_back({"1. R1-Zero: GRPO from the base, accuracy + format reward", "r1_zero", "R1-Zero", greedy_eval(*zero, codec, held_out), t_zero.seconds});
    auto mean = [](const std::vector<double>& v) { return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size()); };
    std::printf("R1-Zero from the base: %.1f%% of its samples well formed, %.1f%% right (mean over its %lld steps)\n", mean(t_zero.format),
                mean(t_zero.accuracy), (long long)t_zero.steps);
    save_policy(run.out + "/r1_zero", *zero, codec.tok);

    // 1'. The warm-up: a handful of templated worked examples of short problems, then the same GRPO.
    std::unique_ptr<ch06::DeepSeekModel> warm;
    RlTrace t_warm;
    if (warmup_examples > 0 && !interrupted()) {
      Timer tw;
      warm = base.model->clone();
      std::vector<std::vector<int32_t>> ps, cs;
      for (int len : warmup_lengths)
        for (const Problem& p : problem_set(task, len, ch07::Split::train, static_cast<int>(warmup_examples), 77 + static_cast<uint64_t>(len))) {
          if (static_cast<int64_t>(ps.size()) == warmup_examples) break;
          ps.push_back(codec.prompt(p));
          cs.push_back(codec.completion(p));
        }
      sft_stage(*warm, ps, cs, warmup_steps, warmup_lr);
      rows.push_back({"1'. format warm-up: SFT on " + std::to_string(ps.size()) + " templated examples of length " + warmup_text, "warmup",
                      "warm-up", greedy_eval(*warm, codec, held_out), tw.seconds()});
      save_policy(run.out + "/warmup", *warm, codec.tok);
      t_warm = rl_stage(*warm, "R1-Zero after the warm-up", run.seed + 1);
      rows.push_back({"1''. R1-Zero after the warm-up: the same GRPO", "r1_zero_warm", "warm-up + RL", greedy_eval(*warm, codec, held_out), t_warm.seconds});
      save_policy(run.out + "/r1_zero_warm", *warm, codec.tok);
    }

    // 2. Rejection sampling from the better R1-Zero model: right and well formed, distinct per prompt.
    // The better by accuracy, then by format (a well-formed wrong answer is nearer a kept one).
    const bool use_warm = warm && std::make_pair(rows.back().eval.exact_match, rows.back().eval.format_rate) >
                                      std::make_pair(rows[1].eval.exact_match, rows[1].eval.format_rate);
    ch06::DeepSeekModel& source = use_warm ? *warm : *zero;
    Timer rs_timer;
    const std::vector<Problem> rs_problems = sample_train_problems(task, lengths, static_cast<int>(rs_prompts), rng);
    const Rollouts r = sample_rollouts(source, codec, rs_problems, rs_k, rl_sampling(codec, rs_problems, temperature, run.seed + 3));
    const Verified kept = verified_completions(r, true);
    std::printf("rejection sampling from %s: %lld samples, %.1f%% right and well formed, %zu distinct kept\n",
                use_warm ? "R1-Zero after the warm-up" : "R1-Zero", (long long)r.rows(),
                100.0 * static_cast<double>(kept.accepted) / static_cast<double>(r.rows()), kept.completions.size());

    // 3. Cold-start SFT of the base on the kept completions.
    std::unique_ptr<ch06::DeepSeekModel> cold = base.model->clone();
    if (!kept.completions.empty()) sft_stage(*cold, kept.prompts, kept.completions, sft_steps, sft_lr);
    else std::printf("no completion was kept: the cold-start SFT stage is skipped (the base goes on unchanged)\n");
    rows.push_back({"2-3. rejection sampling + cold-start SFT of the base", "cold_start_sft", "cold-start SFT", greedy_eval(*cold, codec, held_out),
                    rs_timer.seconds()});
    save_policy(run.out + "/cold_start_sft", *cold, codec.tok);

    // 4. Final RL from the cold-start model.
    const RlTrace t_final = rl_stage(*cold, "final RL (GRPO)", run.seed + 4);
    rows.push_back({"4. final RL: GRPO from the cold-start model", "final_rl", "final RL", greedy_eval(*cold, codec, held_out), t_final.seconds});
    save_policy(run.out + "/final", *cold, codec.tok);

    Table t({"stage", "greedy exact match", "format ok", "mean tokens", "time"});
    std::vector<double> xs, acc, fmt_ok;
    std::vector<std::string> labels;
    Summary summary;
    for (size_t i = 0; i < rows.size(); ++i) {
      const StageRow& s = rows[i];
      t.row({s.name, fmt("%.1f%%", 100 * s.eval.exact_match), fmt("%.1f%%", 100 * s.eval.format_rate), fmt("%.1f", s.eval.mean_length),
             fmt("%.0f s", s.seconds)});
      xs.push_back(static_cast<double>(i));
      acc.push_back(100 * s.eval.exact_match);
      fmt_ok.push_back(100 * s.eval.format_rate);
      labels.push_back(s.label);
      summary.set(s.key + ".exact_match", s.eval.exact_match);
      summary.set(s.key + ".format_rate", s.eval.format_rate);
      summary.set(s.key + ".mean_length", s.eval.mean_length);
      summary.set(s.key + ".seconds", s.seconds);
    }
    std::printf("\n");
    t.print();
    BarChart bars{"DeepSeek-R1's recipe in miniature: after each stage (held-out operand length " + lengths_text + ")", "", "%", labels, {}};
    bars.series.push_back({"greedy exact match", xs, acc});
    bars.series.push_back({"format compliance", xs, fmt_ok});
    bars.caption =
        "The base never saw the template; R1-Zero from it, then with a small format warm-up; the kept answers become cold-start data for the final RL.";
    report.plot("stages.svg", bars);
    // One line per RL stage of a trace's series: the probe's exact match, and the samples' format.
    auto stage_chart = [&](const std::string& file, const std::string& title, const std::string& ylabel, bool probe_em, const std::string& caption) {
      LineChart c{title, "GRPO step", ylabel, {}};
      auto add = [&](const std::string& name, const RlTrace& t) {
        c.series.push_back({name, probe_em ? t.eval_step : t.step, probe_em ? t.eval_em : t.format});
      };
      add("R1-Zero (from the base)", t_zero);
      if (warm) add("R1-Zero after the warm-up", t_warm);
      add("final RL (from cold-start SFT)", t_final);
      c.caption = caption;
      report.plot(file, c);
    };
    stage_chart("rl_stages.svg", "Greedy exact match on the validation probe during the RL stages", "%", true,
                "Each RL stage starts where the stage before left its model; a flat line at 0 is a stage whose groups all scored alike (no gradient).");
    stage_chart("format.svg", "Format compliance of the sampled completions during the RL stages", "well-formed samples (%)", false,
                "R1-Zero learns the format only if some samples are well formed: the format reward needs a first success to reinforce.");
    if (base_plain >= 0) summary.set("base.plain_exact_match", base_plain);
    summary.set("kept_completions", static_cast<double>(kept.completions.size()));
    summary.set("rejection_sampling_source", use_warm ? "r1_zero_warm" : "r1_zero");
    report.write(summary);
    std::printf("wrote %s/{stages,rl_stages,format}.svg, summary.json, checkpoints base/, r1_zero/, warmup/, r1_zero_warm/, cold_start_sft/, final/\n",
                run.out.c_str());
    return interrupted() ? 130 : 0;
  });
}
