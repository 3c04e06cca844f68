#!/usr/bin/env node
// Encoding speed of the reference DeepSeek-V3 encoder (transformers.js' port) on a text file,
// documents split at blank lines, for comparison with bench_tokenizer --file (bench/bench_tokenizer.cpp)
// on the same file: the same token count and checksum mean the same ids.
//     node tools/tokenizer_speed.mjs FILE
import { readFileSync } from "node:fs";
import { loadReference } from "./reference_tokenizer.mjs";

const { tok } = loadReference();
const docs = readFileSync(process.argv[2], "utf8").split(/\n\n+/).filter((d) => d.length > 0);
const bytes = docs.reduce((n, d) => n + Buffer.byteLength(d), 0);
let tokens = 0, checksum = 0;
const t0 = process.cpuUsage();
for (const d of docs)
  for (const id of tok.encode(d, { add_special_tokens: false })) {
    checksum = (Math.imul(checksum, 31) + id) >>> 0;
    ++tokens;
  }
const used = process.cpuUsage(t0);
const seconds = (used.user + used.system) / 1e6;
console.log(`reference (transformers.js port): ${docs.length} documents, ${(bytes / 1e6).toFixed(2)} MB, ${tokens} tokens, checksum ${checksum}, ` +
  `${seconds.toFixed(2)} CPU s, ${Math.round(tokens / seconds)} tokens/s`);
