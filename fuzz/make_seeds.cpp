// Writes the seed corpora in fuzz/corpus/ with the project's own writers, so the seeds are
// valid files of today's formats: a few small ones per target.
//   build-fuzz/bin/fuzz_make_seeds fuzz/corpus
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/deepseek_config.hpp"
#include "common/corpus.hpp"
#include "common/fsutil.hpp"
#include "common/safetensors.hpp"
#include "common/tokenizer.hpp"

using namespace ds;
namespace fs = std::filesystem;

namespace {

Tensor ramp(const Shape& shape) {
  Tensor t = Tensor::zeros(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = 0.25f * static_cast<float>(i) - 1.f;
  return t;
}

void safetensors_seeds(const fs::path& dir) {
  save_safetensors((dir / "f32_metadata.safetensors").string(),
                   SafeTensorsNamedTensors{{"model.norm.weight", ramp({4})}, {"lm_head.weight", ramp({3, 4})}},
                   DType::F32, {{"format", "pt"}});
  save_safetensors((dir / "bf16_ranks.safetensors").string(),
                   SafeTensorsNamedTensors{{"scalar", ramp({})}, {"m", ramp({2, 3})}, {"x", ramp({1, 2, 2, 2})}},
                   DType::BF16);
  SafeTensorsEntries raw;
  raw.emplace_back("w.weight", TensorBytes{DType::F8_E4M3, {2, 2}, {0x38, 0x40, 0xb8, 0x00}});
  raw.emplace_back("w.weight_scale_inv", encode_tensor(ramp({1, 1}), DType::F32));
  raw.emplace_back("h", encode_tensor(ramp({3}), DType::F16));
  raw.emplace_back("five_d", TensorBytes{DType::F8_E5M2, {1, 1, 1, 1, 2}, {0x3c, 0xbc}});
  raw.emplace_back("empty", TensorBytes{DType::F32, {0, 3}, {}});
  save_safetensors((dir / "fp8_f16_5d.safetensors").string(), raw);
  save_safetensors((dir / "no_tensors.safetensors").string(), SafeTensorsEntries{});
}

void config_seeds(const fs::path& dir) {
  for (const std::string& name : preset_names())
    write_file_atomic((dir / (name + ".json")).string(), to_json(preset(name)));
}

Tokenizer small_tokenizer() {
  return Tokenizer::train(corpus::generate_documents(1, 20), 300);
}

void tokenizer_seeds(const fs::path& dir, const Tokenizer& tok) {
  tok.save((dir / "trained_300.json").string());
  // The newer `tokenizers` layout: merges as ["a", "b"] pairs, two added tokens.
  write_file_atomic((dir / "array_merges.json").string(), std::string(R"({"added_tokens": [
 {"id": 5, "content": "<|endoftext|>", "special": true}, {"id": 6, "content": "<pad>", "special": true}],
 "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4},
           "merges": [["a", "b"], ["Ġ", "ab"]]}})"));
}

void gpt2_seeds(const fs::path& dir, const fs::path& source_dir, const Tokenizer& tok) {
  const fs::path gpt2 = source_dir / "ch02/tests/fixtures/gpt2_tiny";
  write_file_atomic((dir / "gpt2_tiny.bin").string(),
                    read_text_file((gpt2 / "vocab.json").string()) + std::string(1, '\0') +
                        read_text_file((gpt2 / "merges.txt").string()));
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  for (int32_t id = 0; id < tok.vocab_size(); ++id) vocab[tok.token_str(id)] = id;
  std::string merges = "#version: 0.2\n";
  for (const auto& [a, b] : tok.merges()) merges += tok.token_str(a) + " " + tok.token_str(b) + "\n";
  write_file_atomic((dir / "trained_300.bin").string(), vocab.dump() + std::string(1, '\0') + merges);
}

void document_seeds(const fs::path& dir) {
  write_file_atomic((dir / "endoftext.txt").string(), corpus::generate_text(2, 1200));
  write_file_atomic((dir / "blank_lines.txt").string(),
                    std::string("First document, line one.\nLine two.\n\n  \t\nSecond document.\n\n\n3 + 4 = 7\n"));
  write_file_atomic((dir / "bom_crlf_utf8.txt").string(),
                    std::string("\xEF\xBB\xBFna\xC3\xAFve caf\xC3\xA9\r\n\r\n\xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80\r\n"));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_make_seeds DIR   (writes DIR/<target>/ seed files; run from the source root)\n";
    return 2;
  }
  try {
    const fs::path root = argv[1];
    for (const char* t : {"safetensors", "config", "tokenizer_json", "gpt2_vocab", "documents"})
      fs::create_directories(root / t);
    safetensors_seeds(root / "safetensors");
    config_seeds(root / "config");
    const Tokenizer tok = small_tokenizer();
    tokenizer_seeds(root / "tokenizer_json", tok);
    gpt2_seeds(root / "gpt2_vocab", fs::current_path(), tok);
    document_seeds(root / "documents");
  } catch (const std::exception& e) {
    std::cerr << "fuzz_make_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
