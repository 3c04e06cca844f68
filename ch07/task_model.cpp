#include "ch07/task_model.hpp"

#include <filesystem>
#include <stdexcept>

#include "ch06/checkpoint.hpp"
#include "ch07/task_tokenizer.hpp"
#include "common/fsutil.hpp"

#include "ch07/task_tokenizer.hpp"

namespace ds::ch07 {

Tokenizer task_tokenizer(Task task, int vocab, int max_length) {
  // Problems from a fixed stream: every length equally often, so the words of the template and
  // the separators of the worked solutions get their merges whatever lengths a program trains on.
  Rng rng(20260707);
  std::vector<std::string> docs;
  const ChatTemplate tmpl = ChatTemplate::compact();
  const int lo = task == Task::addition ? 1 : 3, hi = task == Task::addition ? max_length : 4;
  for (int i = 0; i < 600; ++i) {
    const Problem p = make_problem(task, lo + i % (hi - lo + 1), rng);
    docs.push_back(tmpl.prompt(p.question) + format_completion(p.reasoning, p.answer));
  }
  return train_task_tokenizer(docs, vocab);
}

DeepSeekConfig task_model_config(const std::string& size, int64_t vocab) {
  DeepSeekConfig c = preset("tiny");
  c.vocab_size = vocab;
  c.num_nextn_predict_layers = 0;   // post-training trains the main head only
  c.max_position_embeddings = 192;
  if (size == "tiny") {
    c.hidden_size = 48;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 4;
    c.q_lora_rank = 24;
    c.kv_lora_rank = 16;
    c.intermediate_size = 96;
    c.moe_intermediate_size = 24;
    c.n_routed_experts = 4;
    c.n_group = 1;
    c.topk_group = 1;
  } else if (size == "small") {
    c.hidden_size = 96;
    c.num_hidden_layers = 3;
    c.num_attention_heads = 4;
    c.q_lora_rank = 48;
    c.kv_lora_rank = 32;
    c.qk_nope_head_dim = 16;
    c.qk_rope_head_dim = 8;
    c.v_head_dim = 16;
    c.intermediate_size = 256;
    c.moe_intermediate_size = 64;
    c.n_routed_experts = 8;
    c.n_group = 1;
    c.topk_group = 1;
  } else {
    throw std::invalid_argument("the model size must be tiny or small, not '" + size + "'");
  }
  const std::string bad = c.validate();
  if (!bad.empty()) throw std::logic_error("task_model_config: " + bad);
  return c;
}

std::vector<int32_t> TaskCodec::prompt(const Problem& p) const { return tok.encode(tmpl.prompt(p.question)); }

std::vector<int32_t> TaskCodec::completion(const Problem& p) const {
  std::vector<int32_t> ids = tok.encode(format_completion(p.reasoning, p.answer));
  ids.push_back(eot());
  return ids;
}

std::string TaskCodec::text(const std::vector<int32_t>& ids) const { return tok.decode(ids); }

int32_t TaskCodec::eot() const {
  const int32_t id = tok.eot_id();
  if (id < 0) throw std::invalid_argument("the task tokenizer has no <|endoftext|> token");
  return id;
}

int max_operand_length(Task task) { return task == Task::addition ? kMaxAdditionLength : 4; }

void FromSftFlags::add(Flags& flags, const std::string& lengths_help, const std::string& checkpoint_help) {
  flags.add("--sft", sft_dir, "the SFT checkpoint to start from (written by ch07_sft)");
  flags.add_choice("--task", task_name, {"addition", "countdown"}, "the task the checkpoint was trained on");
  flags.add("--lengths", lengths_text, lengths_help);
  flags.add("--checkpoint", checkpoint, checkpoint_help);
}

void FromSftFlags::resolve(const std::string& out) {
  if (checkpoint.empty()) checkpoint = out + "/checkpoint";
  refuse_same_folder(checkpoint, "--checkpoint", sft_dir, "--sft");
  claim_folder(checkpoint, FolderUse::Checkpoint, "--checkpoint");
  task = parse_task(task_name);
  lengths = parse_lengths(lengths_text, max_operand_length(task));
}

std::vector<int> parse_lengths(const std::string& text, int max) {
  const std::string bad = "lengths must look like 3, 1-4 or 5,7,9 with each between 1 and " + std::to_string(max) + ", not '" + text + "'";
  auto number = [&](const std::string& s) {
    if (s.empty() || s.size() > 3 || s.find_first_not_of("0123456789") != std::string::npos) throw std::invalid_argument(bad);
    const int v = std::stoi(s);
    if (v < 1 || v > max) throw std::invalid_argument(bad);
    return v;
  };
  std::vector<int> out;
  const size_t dash = text.find('-');
  if (dash != std::string::npos) {
    const int lo = number(text.substr(0, dash)), hi = number(text.substr(dash + 1));
    if (lo > hi) throw std::invalid_argument(bad);
    for (int v = lo; v <= hi; ++v) out.push_back(v);
    return out;
  }
  size_t at = 0;
  while (true) {
    const size_t comma = text.find(',', at);
    out.push_back(number(text.substr(at, comma == std::string::npos ? std::string::npos : comma - at)));
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return out;
}

std::vector<std::vector<Problem>> held_out_sets(Task task, const std::vector<int>& lengths, int n, uint64_t seed, Split split) {
  std::vector<std::vector<Problem>> out;
  for (int len : lengths) out.push_back(problem_set(task, len, split, n, seed + static_cast<uint64_t>(len)));
  return out;
}

std::vector<Problem> flatten(const std::vector<std::vector<Problem>>& sets) {
  std::vector<Problem> out;
  for (const auto& s : sets) out.insert(out.end(), s.begin(), s.end());
  return out;
}

Policy load_policy(const std::string& dir, const std::string& made_by) {
  if (!std::filesystem::exists(dir + "/config.json"))
    throw std::runtime_error("no checkpoint at " + dir + "; run " + made_by + " first (or pass its folder)");
  ch06::LoadedModel lm = ch06::load_model(dir);
  if (!lm.has_tokenizer) throw std::runtime_error(dir + " has no tokenizer.json");
  check_task_tokenizer(lm.tokenizer);
  return {std::move(lm.model), TaskCodec{lm.tokenizer, ChatTemplate::compact()}};
}

void save_policy(const std::string& dir, const ch06::DeepSeekModel& model, const Tokenizer& tok,
                 const std::function<void(const std::string& folder)>& extra) {
  ch06::write_folder_atomic(dir, [&](const std::string& tmp) {
    ch06::write_model_files(tmp, model, &tok);
    if (extra) extra(tmp);
  });
}

}  // namespace ds::ch07
