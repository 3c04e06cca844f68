#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "ch06/checkpoint.hpp"
#include "ch06/pretrain.hpp"
#include "common/autograd.hpp"
#include "common/ops.hpp"
#include "common/safetensors.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;
using namespace ds::ch06;
namespace fs = std::filesystem;

namespace {
TokenDataset small_data() {
  static const CorpusData d = default_corpus_dataset(60000, 300, 3);
  return d.dataset;
}

Tensor logits_of(DeepSeekModel& m, const IntTensor& ids) {
  NoGradGuard ng;
  return m.forward(ids);
}

// m written as the checkpoint folder dir/ckpt; returns the folder.
std::string write_checkpoint(const test::TempDir& dir, const DeepSeekModel& m) {
  const std::string folder = dir.file("ckpt");
  write_folder_atomic(folder, [&](const std::string& tmp) { write_model_files(tmp, m, nullptr); });
  return folder;
}
}  // namespace

TEST_CASE("config: the parameter count equals the built models' tensors") {
  for (const std::string& name : {std::string("tiny"), std::string("mini")}) {
    const DeepSeekConfig c = preset(name);
    Rng rng(1);
    DeepSeekModel m(c, rng);
    int64_t stored = 0, main_stored = 0;   // parameters and the bias buffers, as Hugging Face counts them
    for (const auto& [n, t] : m.state_dict()) stored += t.numel();
    for (const auto& [n, t] : m.main->state_dict()) main_stored += t.numel();
    CHECK(count_parameters(c).total == stored);
    CHECK(count_parameters(c).mtp == stored - main_stored);
    const int64_t skipped = (c.n_routed_experts - c.num_experts_per_tok) * m.moe_layers()[0]->experts[0]->num_parameters();
    CHECK(count_parameters(c).active == stored - skipped * static_cast<int64_t>(m.moe_layers().size()));
  }
  const ParamCount mini = count_parameters(preset("mini"));
  CHECK(mini.total == 12707744);   // the mini preset: 12.7M, 2.0M in the MTP module, about 4.5M active
  CHECK(mini.mtp > 1950000);
  CHECK(mini.active > 4300000);
  CHECK(mini.active < 4600000);
}

TEST_CASE("checkpoint: save -> load gives identical logits, with DeepSeek-V3's tensor names") {
  test::TempDir dir("ds_ckpt");
  Rng rng(2);
  DeepSeekModel m(preset("tiny"), rng);
  for (auto* moe : m.moe_layers()) moe->gate.e_score_correction_bias.data()[1] = 0.25f;   // buffers travel too
  const std::string folder = write_checkpoint(dir, m);
  LoadedModel back = load_model(folder);
  const IntTensor ids({1, 5, 9, 200, 3, 77, 4, 8}, {2, 4});
  CHECK(test::max_abs_diff(logits_of(m, ids), logits_of(*back.model, ids)) == 0.f);
  const auto names = load_safetensors(folder + "/model.safetensors").names();
  for (const char* n : {"model.embed_tokens.weight", "model.layers.0.self_attn.q_a_proj.weight", "model.layers.0.self_attn.kv_a_proj_with_mqa.weight",
                        "model.layers.0.mlp.gate_proj.weight", "model.layers.1.mlp.gate.e_score_correction_bias",
                        "model.layers.1.mlp.experts.7.down_proj.weight", "model.layers.1.mlp.shared_experts.up_proj.weight",
                        "model.layers.2.eh_proj.weight", "model.layers.2.shared_head.norm.weight", "model.norm.weight", "lm_head.weight",
                        "model.layers.2.embed_tokens.weight", "model.layers.2.shared_head.head.weight"})
    CHECK_MESSAGE(std::find(names.begin(), names.end(), n) != names.end(), n);
  CHECK_FALSE(fs::exists(folder + ".tmp"));
}

TEST_CASE("checkpoint: the MTP module's copies of the embedding and head, as DeepSeek-V3's release stores them") {
  test::TempDir dir("ds_ckpt_mtp");
  Rng rng(5);
  DeepSeekModel m(preset("tiny"), rng);
  const std::string folder = write_checkpoint(dir, m);
  const SafeTensorsFile file = load_safetensors(folder + "/model.safetensors");
  CHECK(file.to_tensor("model.layers.2.embed_tokens.weight").to_vector() == m.main->embed_tokens.weight.to_vector());
  CHECK(file.to_tensor("model.layers.2.shared_head.head.weight").to_vector() == m.main->lm_head.to_vector());
  const IntTensor ids({1, 5, 9, 200, 3, 77}, {1, 6});
  // without the copies (checkpoints written before, or by other tools): loads the same
  NamedTensors state = m.state_dict();
  save_safetensors(folder + "/model.safetensors", state);
  CHECK(test::max_abs_diff(logits_of(m, ids), logits_of(*load_model(folder).model, ids)) == 0.f);
  // a copy that is not the shared tensor: one sentence
  state.push_back({"model.layers.2.embed_tokens.weight", m.main->embed_tokens.weight.clone()});
  state.push_back({"model.layers.2.shared_head.head.weight", add_scalar(m.main->lm_head, 1.f)});
  save_safetensors(folder + "/model.safetensors", state);
  CHECK(test::error_of([&] { load_model(folder); }) ==
        folder + "/model.safetensors: 'model.layers.2.shared_head.head.weight' differs from 'lm_head.weight', but the MTP module shares that "
                 "tensor with the main model");
}

TEST_CASE("checkpoint: a corrupt or mismatched folder is one clear sentence") {
  test::TempDir dir("ds_ckpt_bad");
  Rng rng(3);
  DeepSeekModel m(preset("tiny"), rng);
  const std::string folder = write_checkpoint(dir, m);
  // another shape in config.json than in the weights
  DeepSeekConfig wider = preset("tiny");
  wider.intermediate_size = 96;
  save_config(folder + "/config.json", wider);
  CHECK(test::error_of([&] { load_model(folder); }).find("model.layers.0.mlp.gate_proj.weight' has shape [128, 64] but the model expects [96, 64]") !=
        std::string::npos);
  std::ofstream(folder + "/config.json") << "{ not json";
  CHECK(test::error_of([&] { load_model(folder); }).find("not valid JSON") != std::string::npos);
  save_config(folder + "/config.json", preset("tiny"));
  // a truncated weights file
  const auto size = fs::file_size(folder + "/model.safetensors");
  fs::resize_file(folder + "/model.safetensors", size / 2);
  CHECK(test::error_of([&] { load_model(folder); }).find("model.safetensors") != std::string::npos);
  fs::remove(folder + "/model.safetensors");
  CHECK(test::error_of([&] { load_model(folder); }).find("has no model.safetensors") != std::string::npos);
}

TEST_CASE("pretrainer: a run saved and resumed continues exactly like an uninterrupted one") {
  const TokenDataset data = small_data();
  DeepSeekConfig cfg = preset("tiny");
  cfg.vocab_size = 300;
  PretrainConfig pc;
  pc.train.steps = 8;
  pc.train.batch_size = 2;
  pc.train.seq_len = 16;
  pc.train.warmup = 2;
  pc.train.progress = false;
  pc.bias_gamma = 0.01f;
  std::vector<double> straight, resumed;
  std::vector<std::vector<double>> straight_load;
  {
    Rng rng(4);
    DeepSeekModel m(cfg, rng);
    Pretrainer p(m, pc);
    for (int i = 0; i < 8; ++i) straight.push_back(p.trainer.step(data).loss);
    straight_load = p.balance.load_shares(0);
  }
  test::TempDir dir("ds_resume");
  const std::string folder = dir.file("ckpt");
  {
    Rng rng(4);
    DeepSeekModel m(cfg, rng);
    Pretrainer p(m, pc);
    for (int i = 0; i < 3; ++i) resumed.push_back(p.trainer.step(data).loss);
    write_folder_atomic(folder, [&](const std::string& tmp) {
      write_model_files(tmp, m, nullptr);
      p.trainer.save_state(tmp);
    });
  }
  LoadedModel lm = load_model(folder);
  Pretrainer p(*lm.model, pc);
  p.trainer.load_state(folder);
  CHECK(p.trainer.step_count() == 3);
  for (int i = 3; i < 8; ++i) resumed.push_back(p.trainer.step(data).loss);
  CHECK(resumed == straight);   // bit for bit: weights, moments, biases, data order, schedule
  CHECK(p.trainer.history.train.at("loss").size() == 8);
  CHECK(p.balance.load_shares(0) == straight_load);   // the balance hook's history travels too
}

TEST_CASE("pretrainer: a gate without e_score_correction_bias (V2's routing) trains by the sequence-wise loss alone") {
  const TokenDataset data = small_data();
  for (const char* method : {"greedy", "group_limited_greedy"}) {
    DeepSeekConfig cfg = preset("tiny");
    cfg.vocab_size = 300;
    cfg.topk_method = method;
    PretrainConfig pc;
    pc.train.steps = 2;
    pc.train.batch_size = 2;
    pc.train.seq_len = 16;
    pc.train.progress = false;
    Rng rng(4);
    DeepSeekModel m(cfg, rng);
    Pretrainer p(m, pc);
    CHECK(std::isfinite(p.trainer.step(data).loss));
    CHECK(std::isfinite(p.trainer.step(data).loss));
  }
}
