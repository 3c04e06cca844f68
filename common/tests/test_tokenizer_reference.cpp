// The real tokenizers against their reference encoders (tools/make_tokenizer_fixture.mjs):
// DeepSeek-V3's tokenizer.json against Hugging Face's transformers.js port, GPT-2's vocabulary
// against a port of OpenAI's encoder.py, DeepSeek's chat templates against a Jinja interpreter.
// The files come from scripts/fetch-tokenizers.sh; with CI=true their absence is a failure.
#include <doctest/doctest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/chat_format.hpp"
#include "common/fsutil.hpp"
#include "common/tokenizer_files.hpp"
#include "test_helpers.hpp"
#include "tokenizer_files_check.hpp"

using namespace ds;
using nlohmann::json;

namespace {

const json& reference() {
  static const json j = json::parse(read_text_file(std::string(DS_SOURCE_DIR) + "/common/tests/fixtures/tokenizer_reference.json"));
  return j;
}

bool available(const std::string& name) { return test::tokenizer_files_present(name); }

const DeepSeekTokenizer& v3() {
  static const DeepSeekTokenizer t = load_deepseek_v3();
  return t;
}

std::vector<int32_t> ids_of(const json& a) { return a.get<std::vector<int32_t>>(); }

}  // namespace

TEST_CASE("tokenizer reference: DeepSeek-V3's file encodes every fixture text as the reference does, and decodes back") {
  if (!available("deepseek-v3")) return;
  const Tokenizer& tok = v3().tokenizer;
  CHECK(tok.vocab_size() == 128815);
  int checked = 0;
  for (const json& c : reference()["cases"]) {
    const std::string text = c["text"];
    CAPTURE(text);
    const std::vector<int32_t> ids = tok.encode(text);
    CHECK(ids == ids_of(c["ids"]));
    CHECK(tok.decode(ids) == text);
    // transformers' LlamaTokenizerFast turns add_bos_token into the template [BOS, $A].
    std::vector<int32_t> with_bos{0};
    with_bos.insert(with_bos.end(), ids.begin(), ids.end());
    CHECK(tok.encode(text, true) == with_bos);
    ++checked;
  }
  CHECK(checked >= 60);
}

TEST_CASE("tokenizer reference: V3's pre-tokenizer keeps digits in groups of three and CJK runs apart") {
  if (!available("deepseek-v3")) return;
  const PreTokenizer& pre = v3().tokenizer.pre_tokenizer();
  const auto steps = pre.trace("x=12345;中文abc");
  REQUIRE(steps.size() == 4);
  CHECK(steps[0] == std::vector<std::string>{"x=", "123", "45", ";中文abc"});
  CHECK(steps[1] == std::vector<std::string>{"x=", "123", "45", ";", "中文", "abc"});
  CHECK(steps[2] == std::vector<std::string>{"x", "=", "123", "45", ";", "中文", "abc"});
  CHECK(steps[3] == steps[2]);   // ByteLevel without use_regex splits nothing
}

TEST_CASE("tokenizer reference: a saved V3 tokenizer reads back with the same pre-tokenizer and ids") {
  if (!available("deepseek-v3")) return;
  const std::string path = (std::filesystem::temp_directory_path() / "ds_test_v3_roundtrip.json").string();
  v3().tokenizer.save(path);
  const Tokenizer back = Tokenizer::load(path);
  std::filesystem::remove(path);
  for (const json& c : reference()["cases"]) CHECK(back.encode(c["text"].get<std::string>()) == ids_of(c["ids"]));
  CHECK(back.added_tokens().size() == v3().tokenizer.added_tokens().size());
}

TEST_CASE("tokenizer reference: GPT-2's vocabulary encodes every fixture text as OpenAI's encoder does") {
  if (!available("gpt2")) return;
  const Tokenizer tok = load_gpt2_tokenizer();
  CHECK(tok.vocab_size() == 50257);
  for (const json& c : reference()["cases"]) {
    if (!c.contains("gpt2_ids")) continue;
    const std::string text = c["text"];
    CAPTURE(text);
    CHECK(tok.encode(text) == ids_of(c["gpt2_ids"]));
    CHECK(tok.decode(tok.encode(text)) == text);
  }
}

TEST_CASE("tokenizer reference: V3's and R1's chat templates render as the Jinja reference renders them") {
  const json& r = reference();
  CHECK(deepseek_chat_family(r["templates"]["v3"]) == ChatFamily::V3);
  CHECK(deepseek_chat_family(r["templates"]["r1"]) == ChatFamily::R1);
  CHECK(test::error_of([] { deepseek_chat_family("{{ messages[0]['content'] }}"); }) ==
        "the chat template is not DeepSeek-V3's or R1's, the only family this renderer knows (it is not a Jinja engine)");
  int n = 0;
  for (const json& c : r["chat"]) {
    std::vector<ChatMessage> messages;
    for (const json& m : c["messages"]) messages.push_back({m["role"], m["content"]});
    const ChatFamily family = c["template"] == "r1" ? ChatFamily::R1 : ChatFamily::V3;
    const std::string text = render_deepseek_chat(messages, c["add_generation_prompt"], family);
    CHECK(text == c["text"].get<std::string>());
    if (have_tokenizer("deepseek-v3")) CHECK(v3().tokenizer.encode(text) == ids_of(c["ids"]));
    ++n;
  }
  CHECK(n == 10);
  CHECK(test::error_of([] { render_deepseek_chat({{"robot", "x"}}, false, ChatFamily::V3); }) ==
        "render_deepseek_chat: the role 'robot' is not one of system, user, assistant, tool");
  if (available("deepseek-v3")) CHECK(deepseek_chat_family(v3().chat_template) == ChatFamily::V3);
}
