#include "ch07/critic.hpp"

#include <map>
#include <stdexcept>

namespace ds::ch07 {

Critic::Critic(const ch06::DeepSeekModel& policy, Rng& rng)
    : model(policy.clone()), v_head(policy.config().hidden_size, rng, static_cast<float>(policy.config().initializer_range)) {
  register_module("", *model);   // the model's own names, then v_head.*
  register_module("v_head", v_head);
}

Tensor Critic::values(const IntTensor& ids, const ch02::ForwardOptions& opt) {
  return v_head.forward(model->main->hidden_states(ids, nullptr, opt));
}

void save_critic(const std::string& dir, const Critic& critic, const Tokenizer& tok) {
  ch06::write_folder_atomic(dir, [&](const std::string& tmp) { ch06::write_model_files(tmp, critic.model->config(), critic.state_dict(), &tok); });
}

std::unique_ptr<Critic> load_critic(const std::string& dir) {
  ch06::LoadedModel lm = ch06::load_model(dir, {"v_head."});
  if (lm.extra.empty()) throw std::runtime_error("checkpoint folder '" + dir + "' holds a model without a value head (v_head.summary.*), not a critic");
  Rng unused(0);   // every value is overwritten below
  auto critic = std::make_unique<Critic>(*lm.model, unused);
  std::map<std::string, Tensor> head;
  for (const auto& [name, t] : lm.extra) head[name.substr(std::string("v_head.").size())] = t;
  critic->v_head.load_state_dict(head, dir + "/model.safetensors");
  return critic;
}

}  // namespace ds::ch07
