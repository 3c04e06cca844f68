// ch06_model_size: the parameters of DeepSeek-V3, V2, V2-Lite and this repository's presets,
// counted from config.json's shapes (nothing is built): by part, the main model, the MTP module
// on its own, and what one token activates, with and without the embedding table.
#include <cstdio>

#include "ch06/config.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"

using namespace ds;

namespace {
std::string rounded(int64_t n) { return n >= 1000000000 ? fmt("%.3fB", static_cast<double>(n) / 1e9) : fmt("%.2fM", static_cast<double>(n) / 1e6); }

std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

void print_parts(const std::string& name, const DeepSeekConfig& c, const ParamCount& p) {
  std::printf("%s by part (exact integers from the shapes):\n", name.c_str());
  Table t({"part", "each", "count", "parameters", "activated"});
  const int64_t dense = std::min(c.first_k_dense_replace, c.num_hidden_layers), moe = c.moe_layers();
  t.row({"embed_tokens", with_commas(p.embedding), "1", with_commas(p.embedding), with_commas(p.embedding)});
  t.row({"attention (MLA + 2 RMSNorms)", with_commas(p.attention), std::to_string(c.num_hidden_layers),
         with_commas(p.attention * c.num_hidden_layers), with_commas(p.attention * c.num_hidden_layers)});
  if (dense > 0) t.row({"dense SwiGLU", with_commas(p.dense_mlp), std::to_string(dense), with_commas(p.dense_mlp * dense), with_commas(p.dense_mlp * dense)});
  if (moe > 0)
    t.row({fmt("MoE (gate%s, %lld shared + %lld routed, %lld active)", c.topk_method == "noaux_tc" ? " + bias" : "", (long long)c.n_shared_experts,
               (long long)c.n_routed_experts, (long long)c.num_experts_per_tok),
           with_commas(p.moe_mlp), std::to_string(moe), with_commas(p.moe_mlp * moe), with_commas(p.moe_mlp_active * moe)});
  t.row({"norm + lm_head", with_commas(p.head), "1", with_commas(p.head), with_commas(p.head)});
  t.row({"main model", "", "", with_commas(p.main()), with_commas(p.main_active())});
  if (c.num_nextn_predict_layers > 0)
    t.row({"MTP module (own weights; embedding and head shared)", "", std::to_string(c.num_nextn_predict_layers), with_commas(p.mtp),
           with_commas(p.mtp_active)});
  t.row({"total", "", "", with_commas(p.total), with_commas(p.active)});
  t.print();
  std::printf("Activated without the embedding table (a token reads one row of it): %s = %s.\n\n", with_commas(p.main_active() - p.embedding).c_str(),
              rounded(p.main_active() - p.embedding).c_str());
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("ch06_model_size", [&] {
    Flags flags("ch06_model_size", "Parameters of the DeepSeek configurations by part, counted from config.json's shapes.");
    RunOptions run;
    add_run_flags(flags, run, "ch06_model_size");
    std::string detail = "deepseek-v3", config_path;
    flags.add_choice("--preset", detail, preset_names(), "the configuration broken down by part");
    flags.add("--config", config_path, "a config.json to break down instead of --preset");
    flags.parse(argc, argv);
    start_run(run);
    print_header("ch06_model_size",
                 "DeepSeek's parameter counts rebuilt from the shapes in config.json: the main model (V3's 671B), the MTP module, and "
                 "what one token activates (V3's 37B)");
    Summary summary;
    Table all({"config", "main model", "MTP module", "total", "activated", "activated w/o embedding"});
    BarChart chart{"Parameters: all of them and what one token activates", "", "billions of parameters (log scale)", {}, {}};
    chart.logy = true;
    Series total_s{"main model", {}, {}}, active_s{"activated, w/o embedding", {}, {}};
    for (const std::string& name : preset_names()) {
      const ParamCount p = count_parameters(preset(name));
      all.row({name, with_commas(p.main()), with_commas(p.mtp), with_commas(p.total), with_commas(p.main_active()),
               with_commas(p.main_active() - p.embedding)});
      summary.set("presets." + name + ".main", static_cast<double>(p.main()));
      summary.set("presets." + name + ".mtp", static_cast<double>(p.mtp));
      summary.set("presets." + name + ".total", static_cast<double>(p.total));
      summary.set("presets." + name + ".activated", static_cast<double>(p.main_active()));
      summary.set("presets." + name + ".activated_without_embedding", static_cast<double>(p.main_active() - p.embedding));
      if (name.rfind("deepseek", 0) == 0) {
        chart.categories.push_back(name);
        total_s.y.push_back(static_cast<double>(p.main()) / 1e9);
        active_s.y.push_back(static_cast<double>(p.main_active() - p.embedding) / 1e9);
      }
    }
    std::printf("Every preset (the main model excludes the MTP module; activated counts the main model):\n");
    all.print();
    std::printf("DeepSeek reports V3 at 671B total, 37B activated (README_WEIGHTS: 36.7B with embedding and head); V2 at 236B / 21B;\n"
                "V2-Lite at 15.7B / 2.4B. The activated figures match the counts without the embedding table.\n\n");

    const DeepSeekConfig c = config_path.empty() ? preset(detail) : load_config(config_path);
    const ParamCount p = count_parameters(c);
    print_parts(config_path.empty() ? detail : config_path, c, p);
    summary.set("detail.config", config_path.empty() ? detail : config_path);
    summary.set("detail.main", static_cast<double>(p.main()));
    summary.set("detail.mtp", static_cast<double>(p.mtp));
    summary.set("detail.activated", static_cast<double>(p.main_active()));

    chart.series = {total_s, active_s};
    write_bar_chart(run.out + "/parameters.svg", chart);
    summary.write(run.out + "/summary.json");
    std::printf("wrote %s/parameters.svg (+ .csv) and summary.json\n", run.out.c_str());
    return 0;
  });
}
