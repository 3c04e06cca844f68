#include "common/chat_format.hpp"

#include <stdexcept>

namespace ds {

ChatFamily deepseek_chat_family(const std::string& t) {
  const bool deepseek = t.find("{{'<｜User｜>' + message['content']}}") != std::string::npos &&
                        t.find("{{'<｜Assistant｜>' + ") != std::string::npos && t.find("{{bos_token}}{{ns.system_prompt}}") != std::string::npos;
  if (deepseek && t.find("{{'<｜Assistant｜><think>\\n'}}{% endif %}") != std::string::npos &&
      t.find("{% set content = content.split('</think>')[-1] %}") != std::string::npos)
    return ChatFamily::R1;
  if (deepseek && t.find("{{'<｜Assistant｜>'}}{% endif %}") != std::string::npos) return ChatFamily::V3;
  throw std::runtime_error("the chat template is not DeepSeek-V3's or R1's, the only family this renderer knows (it is not a Jinja engine)");
}

std::string render_deepseek_chat(const std::vector<ChatMessage>& messages, bool add_generation_prompt, ChatFamily family, const std::string& bos_token) {
  const std::string eos = "<｜end▁of▁sentence｜>";
  std::string system;
  bool first_system = true;
  for (const ChatMessage& m : messages)
    if (m.role == "system") {
      system += (first_system ? "" : "\n\n") + m.content;
      first_system = false;
    }
  std::string out = bos_token + system;
  bool is_tool = false, is_output_first = true;
  for (const ChatMessage& m : messages) {
    if (m.role == "user") {
      is_tool = false;
      out += "<｜User｜>" + m.content;
    } else if (m.role == "assistant") {
      if (is_tool) {   // the answer that follows tool outputs closes them
        out += "<｜tool▁outputs▁end｜>" + m.content + eos;
        is_tool = false;
        continue;
      }
      std::string content = m.content;
      if (family == ChatFamily::R1) {
        const size_t cut = content.rfind("</think>");
        if (cut != std::string::npos) content = content.substr(cut + 8);
      }
      out += "<｜Assistant｜>" + content + eos;
    } else if (m.role == "tool") {
      is_tool = true;
      out += (is_output_first ? "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>" : "\n<｜tool▁output▁begin｜>") + m.content + "<｜tool▁output▁end｜>";
      is_output_first = false;
    } else if (m.role != "system") {
      throw std::runtime_error("render_deepseek_chat: the role '" + m.role + "' is not one of system, user, assistant, tool");
    }
  }
  if (is_tool) out += "<｜tool▁outputs▁end｜>";
  if (add_generation_prompt && !is_tool) out += family == ChatFamily::R1 ? "<｜Assistant｜><think>\n" : "<｜Assistant｜>";
  return out;
}

}  // namespace ds
