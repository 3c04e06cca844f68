// ch04_moe_vs_dense: DeepSeekMoE (fine-grained routed experts + a shared expert) against a
// conventional top-2 MoE with the same total and active parameters, and against a dense FFN
// with the same active parameters (the shape of the book's Table 4.1 and DeepSeekMoE's Table 1).
#include <cmath>
#include <cstdio>

#include "ch02/next_token_loss.hpp"
#include "ch04/balance_hook.hpp"
#include "ch04/moe_model.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"

using namespace ds;
using namespace ds::ch04;

namespace {
struct Variant {
  std::string name, key;
  MoEModelConfig cfg;
  Balancing balancing;
};

// All three share layer 0 (a dense SwiGLU of width 4w) and an active feed-forward width of 4w
// in every other layer; w is the fine-grained expert width.
std::vector<Variant> variants(const MoEModelConfig& base, int64_t fine_experts) {
  const int64_t w = base.moe.moe_intermediate_size, k = base.moe.gate.num_experts_per_tok;
  MoEModelConfig dsm = base;   // 1 shared + (fine_experts - 1) routed of width w: k + 1 experts active
  dsm.intermediate_size = (k + 1) * w;
  dsm.moe.n_shared_experts = 1;
  dsm.moe.gate.n_routed_experts = fine_experts - 1;
  dsm.moe.gate.num_experts_per_tok = k;
  dsm.moe.gate.scoring_func = "sigmoid";
  // Conventional (GShard): experts (k+1)/2 times wider, as many as keep the total, top-2, softmax gate, no shared expert.
  MoEModelConfig conv = dsm;
  conv.moe.n_shared_experts = 0;
  conv.moe.moe_intermediate_size = (k + 1) * w / 2;
  conv.moe.gate.n_routed_experts = fine_experts * w / conv.moe.moe_intermediate_size;
  conv.moe.gate.num_experts_per_tok = 2;
  conv.moe.gate.scoring_func = "softmax";
  MoEModelConfig dense = dsm;
  dense.first_k_dense_replace = dense.lm.num_layers;
  return {{fmt("DeepSeekMoE (1 shared + %lld routed x %lld, top-%lld)", (long long)dsm.moe.gate.n_routed_experts, (long long)w, (long long)k),
           "deepseekmoe", dsm, Balancing::AuxFree},
          {fmt("Conventional MoE (%lld x %lld, top-2)", (long long)conv.moe.gate.n_routed_experts, (long long)conv.moe.moe_intermediate_size),
           "conventional", conv, Balancing::AuxLoss},
          {fmt("Dense SwiGLU (width %lld)", (long long)dense.intermediate_size), "dense", dense, Balancing::None}};
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("ch04_moe_vs_dense", [&] {
    Flags flags("ch04_moe_vs_dense", "DeepSeekMoE vs a conventional top-2 MoE vs a dense FFN, matched in parameters, trained identically.");
    RunOptions run;
    add_run_flags(flags, run, "ch04_moe_vs_dense");
    int64_t steps = 200, top_k = 3, fine = 16;
    std::string data_path;
    flags.add("--steps", steps, "training steps of each model").min(1).quick(8);
    flags.add("--top-k", top_k, "routed experts per token in DeepSeekMoE (odd, so the conventional MoE's experts divide evenly)")
        .min(1)
        .check([](const std::string& v) { return std::stoll(v) % 2 == 1 ? "" : "must be odd"; });
    flags.add("--fine-experts", fine, "DeepSeekMoE's experts including the shared one (the conventional MoE gets the same total)").min(4).max(128);
    flags.add("--data", data_path, "train on this UTF-8 text file instead of the built-in corpus");
    flags.parse(argc, argv);
    RunReport report = start_run(run, flags);
    print_header("ch04_moe_vs_dense", "fine-grained + shared experts vs conventional top-2 experts vs dense, same active parameters");
    CorpusData data = program_corpus(run.quick, run.seed, data_path);
    MoEModelConfig base = program_moe_config(data.tokenizer.vocab_size(), run.quick);
    base.moe.gate.num_experts_per_tok = top_k;
    if (fine * base.moe.moe_intermediate_size % ((top_k + 1) * base.moe.moe_intermediate_size / 2) != 0)
      fail("ch04_moe_vs_dense", "--fine-experts x width must divide into the conventional experts' width; try a multiple of (top-k + 1) / 2");

    LineChart val{"Validation loss: DeepSeekMoE vs conventional MoE vs dense", "training step", "validation loss (nats/token)", {}};
    Table t({"model", "total params", "active / token", "final val loss", "perplexity", "MaxVio_global", "tokens/s"});
    Summary summary;
    for (const Variant& v : variants(base, fine)) {
      Rng rng(run.seed);
      auto model = make_moe_model(v.cfg, rng);
      const std::vector<MoE*> layers = moe_layers(*model);
      BalanceConfig bc;
      bc.strategy = v.balancing;
      bc.gamma = 3e-3f;
      BalanceHook balance(layers, bc);
      TrainerConfig tc = program_train_config(steps, run.seed);
      tc.label = v.key;
      Trainer trainer(model->named_parameters(), tc, with_balance_loss(ch02::next_token_loss(*model), balance));
      trainer.add_hook(balance);
      const TrainHistory& h = trainer.run(data.dataset);
      const LoadReport rep = measure_load(*model, layers, data.dataset, tc.batch_size, tc.seq_len, tc.eval_batches);
      const int64_t total = model->num_parameters(), active = active_parameters(*model);
      t.row({v.name, fmt("%.3fM", total / 1e6), fmt("%.3fM", active / 1e6), fmt("%.4f", h.final_val()), fmt("%.3f", std::exp(h.final_val())),
             layers.empty() ? "-" : fmt("%.3f", rep.maxvio_global), fmt("%.0f", h.tokens_per_second())});
      val.series.push_back({v.name.substr(0, v.name.find(" (")), h.eval_step, h.val.at("loss")});
      summary.set("models." + v.key + ".final_val_loss", h.final_val());
      summary.set("models." + v.key + ".total_params", static_cast<double>(total));
      summary.set("models." + v.key + ".active_params", static_cast<double>(active));
      summary.set("models." + v.key + ".tokens_per_second", h.tokens_per_second());
    }
    std::printf("\n");
    t.print();
    std::string ends;
    for (const Series& s : val.series) ends += fmt("%s%s %.4f", ends.empty() ? "" : ", ", s.name.c_str(), s.y.back());
    val.caption = "Same active parameters per token, so the same compute: the MoE models hold more parameters in total, and the gap "
                  "between the curves is what that buys (final: " + ends + ").";
    report.plot("val_loss.svg", val);
    report.write(summary);
    std::printf("\nwrote %s/val_loss.svg (+ .csv) and summary.json\n", run.out.c_str());
    return 0;
  });
}
