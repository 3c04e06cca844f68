// The policy every ch07 program trains: a small DeepSeek model (ch06's, MLA + DeepSeekMoE) with a
// task tokenizer (task_tokenizer.hpp), and the codec between problems and token ids that SFT,
// sampling and scoring share, so a prompt is encoded the same way everywhere.
//
// The model is trained from scratch on the task: the programs must run in minutes on 2 cores, and
// addition needs no knowledge of English. It is still DeepSeek's architecture (MLA attention, a
// first dense layer, then MoE layers with a shared expert and bias-balanced sigmoid routing), so
// the checkpoints are ordinary ch06 checkpoints that ch06_generate reads.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ch06/model.hpp"
#include "ch07/chat_template.hpp"
#include "ch07/tasks.hpp"
#include "common/flags.hpp"
#include "common/tokenizer.hpp"

namespace ds::ch07 {

// A byte-level BPE of `vocab` tokens trained on the text of generated problems of `task` (their
// prompts and SFT completions, operand lengths 1..max_length), digits kept apart, the chat
// markers and <|endoftext|> special tokens. Deterministic: no seed.
Tokenizer task_tokenizer(Task task, int vocab = 320, int max_length = 12);

// The policy's configuration for a vocabulary: "small" (the programs' default: hidden 96, 3
// layers, the first dense, 8 routed experts of which 2 active plus 1 shared, no MTP module, 192
// positions) or "tiny" (hidden 48, 2 layers, for tests and --quick).
DeepSeekConfig task_model_config(const std::string& size, int64_t vocab);

// Problem <-> token ids under one tokenizer and chat template.
struct TaskCodec {
  Tokenizer tok;
  ChatTemplate tmpl = ChatTemplate::compact();

  std::vector<int32_t> prompt(const Problem& p) const;       // tmpl.prompt(question), encoded
  std::vector<int32_t> completion(const Problem& p) const;   // format_completion(reasoning, answer) + <|endoftext|>
  std::string text(const std::vector<int32_t>& ids) const;   // decoded
  int32_t eot() const;                                       // the stop token
};

// "3", "1-4" or "5,7,9" -> the operand lengths; anything else (or a length outside 1..max) throws one sentence.
std::vector<int> parse_lengths(const std::string& text, int max = kMaxAdditionLength);

// The longest operand a task's problems take (addition's digits, countdown's numbers).
int max_operand_length(Task task);

// The flags of every program that starts from ch07_sft's checkpoint: --sft, --task, --lengths and
// --checkpoint. resolve() (after Flags::parse) reads the task and lengths (one sentence on bad
// input) and puts the checkpoint under the run's folder unless one was given.
struct FromSftFlags {
  std::string sft_dir = "runs/ch07_sft/checkpoint", task_name = "addition", lengths_text = "2", checkpoint;
  Task task = Task::addition;
  std::vector<int> lengths;

  void add(Flags& flags, const std::string& lengths_help, const std::string& checkpoint_help);
  void resolve(const std::string& out);
};

// Held-out problems: n of the test split for each length, one set per length (seed-stable).
// With Split::train, validation problems from the training distribution (to decide when to stop
// without looking at the test set).
std::vector<std::vector<Problem>> held_out_sets(Task task, const std::vector<int>& lengths, int n, uint64_t seed = 7, Split split = Split::test);
std::vector<Problem> flatten(const std::vector<std::vector<Problem>>& sets);

// A post-training start: the model and the codec of a checkpoint folder that ch07_sft (or any
// ch07 program) wrote. A missing folder, a missing tokenizer or a tokenizer without the task's
// tokens is one sentence naming `made_by`, the program that writes such checkpoints.
struct Policy {
  std::unique_ptr<ch06::DeepSeekModel> model;
  TaskCodec codec;
};
Policy load_policy(const std::string& dir, const std::string& made_by = "ch07_sft");

// A checkpoint folder ch06_generate reads: config.json, model.safetensors and the task tokenizer
// with its special tokens, written atomically; `extra` may add files to the folder being written.
void save_policy(const std::string& dir, const ch06::DeepSeekModel& model, const Tokenizer& tok,
                 const std::function<void(const std::string& folder)>& extra = {});

}  // namespace ds::ch07
