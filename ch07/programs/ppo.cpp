// ch07_ppo: PPO with a learned critic from the SFT checkpoint, the method GRPO was made to replace
// (DeepSeekMath sec. 4.1.1): a value model as large as the policy estimates each prefix's
// return, the verifier's score and a per-token KL penalty make the rewards, GAE turns them into
// per-token advantages. Same prompts and sampling budget as ch07_grpo, so the two compare.
#include <csignal>
#include <cstdio>

#include "ch06/checkpoint.hpp"
#include "ch07/ppo_learner.hpp"
#include "ch07/rl_loop.hpp"
#include "common/plot.hpp"
#include "common/interrupt.hpp"
#include "common/run.hpp"

using namespace ds;
using namespace ds::ch07;

namespace {
// The policy's and the critic's optimizers: `epochs` AdamW steps per sampled batch, constant rates.
std::pair<TrainerConfig, TrainerConfig> ppo_trainer_configs(const PpoConfig& pc, int64_t steps, float lr, float critic_lr) {
  TrainerConfig tc;
  tc.steps = steps * pc.ppo_epochs;
  tc.batch_size = pc.prompts * pc.samples;
  tc.lr = lr;
  tc.min_lr = lr;
  tc.warmup = std::min<int64_t>(5, tc.steps);
  tc.weight_decay = 0.f;
  tc.progress = false;
  TrainerConfig vc = tc;
  vc.lr = critic_lr;
  vc.min_lr = critic_lr;
  return {tc, vc};
}

// The before/after table, the RL plots and the critic's value loss, summary.json.
void report_ppo(RunReport& report, const RlTrace& tr, const PpoLearner& ppo, const GreedyReport& before, const GreedyReport& after,
                const std::string& checkpoint) {
  Table t({"model", "greedy exact match (held-out)", "change", "format ok", "wall time"});
  t.row({"SFT start", fmt("%.1f%%", 100 * before.exact_match), "", fmt("%.1f%%", 100 * before.format_rate), ""});
  t.row({"+ PPO, " + std::to_string(tr.steps) + " steps", fmt("%.1f%%", 100 * after.exact_match),
         fmt("%+.1f", 100 * (after.exact_match - before.exact_match)), fmt("%.1f%%", 100 * after.format_rate), fmt("%.0f s", tr.seconds)});
  t.print();
  write_rl_plots(report, "PPO", tr);
  const std::vector<double>& vl = ppo.critic_trainer->history.train.at("loss");
  std::vector<double> xs;
  for (size_t i = 0; i < vl.size(); ++i) xs.push_back(static_cast<double>(i + 1));
  LineChart v{"PPO: the critic's clipped value loss", "optimizer step", "0.5 (V - R)^2", {{"value loss", xs, vl, false, 3}}};
  v.caption = "The fresh value head starts far from the returns; the critic must learn before its advantages mean much -- the cost "
              "GRPO's group baseline avoids.";
  report.plot("value_loss.svg", v);
  Summary summary;
  summary.set("steps", static_cast<double>(tr.steps));
  summary.set("sft_exact_match", before.exact_match);
  summary.set("ppo_exact_match", after.exact_match);
  summary.set("seconds", tr.seconds);
  summary.set("final_value_loss", vl.empty() ? 0.0 : vl.back());
  summary.set("checkpoint", checkpoint);
  report.write(summary);
  std::printf("wrote %s/{accuracy,kl,entropy,length,value_loss}.svg, summary.json, checkpoint/, critic_checkpoint/\n", report.dir().c_str());
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("ch07_ppo", [&] {
    Flags flags("ch07_ppo", "PPO with a value model, GAE and a per-token KL penalty, from an SFT checkpoint.");
    RunOptions run;
    add_run_flags(flags, run, "ch07_ppo");
    FromSftFlags from;
    int64_t steps = 10, eval_every = 5;
    int eval_n = 40;
    float lr = 5e-5f, critic_lr = 1e-3f;
    PpoConfig pc;
    pc.temperature = 0.7f;
    from.add(flags, "operand lengths of the RL prompts and of the held-out set",
             "where to save the policy (default OUT/checkpoint; the critic goes to OUT/critic_checkpoint)");
    flags.add("--steps", steps, "PPO steps (each samples --prompts x --samples completions)").min(1).max(1000000).quick(2);
    flags.add("--prompts", pc.prompts, "prompts per step").min(1).max(4096).quick(2);
    flags.add("--samples", pc.samples, "completions per prompt").min(1).max(256).quick(2);
    flags.add("--ppo-epochs", pc.ppo_epochs, "optimizer steps per sampled batch").min(1).max(64);
    flags.add("--lr", lr, "policy learning rate").min(1e-7).max(1);
    flags.add("--critic-lr", critic_lr, "value model learning rate").min(1e-7).max(1);
    flags.add("--kl-coef", pc.kl_coef, "per-token KL penalty in the reward (DeepSeekMath eq. 2)").min(0).max(10);
    flags.add("--gamma", pc.gamma, "discount of GAE").min(0).max(1);
    flags.add("--lambda", pc.lambda, "GAE's lambda (0: one-step TD, 1: Monte Carlo)").min(0).max(1);
    flags.add("--clip", pc.clip, "policy ratio clip epsilon").min(0).max(1);
    flags.add("--value-clip", pc.value_clip, "value clip around the values at sampling time").min(0).max(100);
    flags.add("--temperature", pc.temperature, "sampling temperature (the policy trained is logits / T)").min(0.05).max(5);
    flags.add("--eval-every", eval_every, "greedy exact match on a held-out probe every this many steps").min(1).quick(1);
    flags.add("--eval-n", eval_n, "held-out test problems per length for the before/after exact match").min(1).max(2000).quick(4);
    flags.parse(argc, argv);
    RunReport report = start_run(run, flags);
    from.resolve(run.out);
    print_header("ch07_ppo: PPO with a critic",
                 "The policy, a frozen reference and a value model of the policy's size: the critic predicts the return of every prefix "
                 "and GAE gives each token its own advantage. Watch accuracy, the KL and the value loss; compare with ch07_grpo.");
    Policy start = load_policy(from.sft_dir);
    const TaskCodec& codec = start.codec;
    ch06::DeepSeekModel& policy = *start.model;
    const std::vector<Problem> long_set = flatten(held_out_sets(from.task, from.lengths, eval_n));
    const std::vector<Problem> probe = flatten(held_out_sets(from.task, from.lengths, std::min(eval_n, 16)));
    const GreedyReport before = greedy_eval(policy, codec, long_set);
    const auto [tc, vc] = ppo_trainer_configs(pc, steps, lr, critic_lr);
    Rng rng(run.seed + 3);
    PpoLearner ppo(policy, codec, tc, vc, pc, rng);
    catch_interrupt();
    RlRunConfig rc;
    rc.task = from.task;
    rc.lengths = from.lengths;
    rc.steps = steps;
    rc.prompts = pc.prompts;
    rc.eval_every = eval_every;
    rc.seed = run.seed;
    rc.label = "ppo";
    const RlTrace tr = run_rl([&](const std::vector<Problem>& p, uint64_t seed) { return ppo.step(p, seed); }, policy, codec, probe, rc,
                              pc.prompts * pc.samples, [] { return interrupted(); });
    const GreedyReport after = greedy_eval(policy, codec, long_set);
    save_policy(from.checkpoint, policy, codec.tok);
    save_critic(run.out + "/critic_checkpoint", ppo.critic(), codec.tok);
    report_ppo(report, tr, ppo, before, after, from.checkpoint);
    return interrupted() ? 130 : 0;
  });
}
