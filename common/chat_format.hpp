// DeepSeek's chat format: the text a conversation becomes before it is tokenised, as
// tokenizer_config.json's chat_template makes it (rendered by Hugging Face's apply_chat_template).
// This renders one family of templates only, DeepSeek-V3's and R1's, written out as code: it is
// not a Jinja engine, and deepseek_chat_family() refuses any other template text.
//   <｜begin▁of▁sentence｜>{system prompts, joined by a blank line}
//   <｜User｜>{question}<｜Assistant｜>{answer}<｜end▁of▁sentence｜><｜User｜>...<｜Assistant｜>
// R1's differs in two places (R1 section 2.2's format, fixed in the template): the generation
// prompt opens the reasoning with "<think>\n", and an earlier assistant turn keeps only what
// follows its "</think>", so past reasoning is not fed back.
#pragma once

#include <string>
#include <vector>

namespace ds {

struct ChatMessage {
  std::string role;   // "system", "user", "assistant" or "tool"
  std::string content;
};

enum class ChatFamily { V3, R1 };

// Which of the two a tokenizer_config.json chat_template is; throws one sentence if neither.
ChatFamily deepseek_chat_family(const std::string& chat_template);

// The conversation as the template renders it; add_generation_prompt ends with the opening of
// the assistant's turn. A role other than the four above is refused in one sentence.
std::string render_deepseek_chat(const std::vector<ChatMessage>& messages, bool add_generation_prompt, ChatFamily family,
                                 const std::string& bos_token = "<｜begin▁of▁sentence｜>");

}  // namespace ds
