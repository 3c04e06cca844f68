// safetensors: the checkpoint format of the Hugging Face hub, and the one DeepSeek-V3's
// weights are published in. It is deliberately simple, so it can be read without running
// any code from the file (unlike Python pickles):
//
//   [8 bytes]  N, the header length, unsigned little-endian
//   [N bytes]  JSON header: {"name": {"dtype": "BF16", "shape": [2, 3],
//                                     "data_offsets": [begin, end]}, ...,
//                            "__metadata__": {"key": "value", ...}}   (optional, strings only)
//              padded with spaces so the data starts 8-byte aligned
//   [rest]     the data buffer; each tensor's bytes are buffer[begin, end), row-major,
//              little-endian
//
// Files written here load in Python's safetensors and PyTorch, and theirs load here. A bad
// file gets one std::runtime_error sentence naming the file and what is wrong with it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/dtype.hpp"
#include "common/tensor.hpp"

namespace ds {

// One entry exactly as stored: any rank, any of the DTypes (FP8 included).
struct TensorBytes {
  DType dtype = DType::F32;
  Shape shape;
  std::vector<uint8_t> bytes;
};

using SafeTensorsEntries = std::vector<std::pair<std::string, TensorBytes>>;
using SafeTensorsNamedTensors = std::vector<std::pair<std::string, Tensor>>;
using SafeTensorsMetadata = std::map<std::string, std::string>;

// float32 Tensor <-> stored bytes. encode_tensor takes F32, BF16 or F16 (rounding to nearest
// even); decode_tensor gives back float32 and needs rank <= 4 (the Tensor limit). `what`
// names the entry in error messages.
TensorBytes encode_tensor(const Tensor& t, DType store_as = DType::F32);
Tensor decode_tensor(const TensorBytes& tb, const std::string& what = "tensor");

// A loaded file: entries in header order, with their bytes and the metadata.
class SafeTensorsFile {
 public:
  const std::string& path() const { return path_; }
  const std::vector<std::string>& names() const { return names_; }
  size_t size() const { return names_.size(); }
  bool has(const std::string& name) const { return entries_.count(name) != 0; }
  const TensorBytes& get(const std::string& name) const;   // throws if absent
  Tensor to_tensor(const std::string& name) const;         // F32/BF16/F16 -> float32
  // The same, refusing a tensor that holds NaN or Inf (the save of a run that diverged): a
  // checkpoint's weights and moments are finite, or nothing loaded from them means anything.
  Tensor to_finite_tensor(const std::string& name) const;
  const SafeTensorsMetadata& metadata() const { return metadata_; }

 private:
  friend SafeTensorsFile parse_safetensors(const std::vector<uint8_t>&, const std::string&);
  std::string path_;
  std::vector<std::string> names_;
  std::map<std::string, TensorBytes> entries_;
  SafeTensorsMetadata metadata_;
};

// The file format in memory, for files and for sending checkpoints elsewhere. `path` only
// names the source in error messages.
std::vector<uint8_t> serialize_safetensors(const SafeTensorsEntries& entries,
                                           const SafeTensorsMetadata& metadata = {},
                                           const std::string& path = "<memory>");
SafeTensorsFile parse_safetensors(const std::vector<uint8_t>& file, const std::string& path);

// Entries are written in the given order; the write is atomic (see fsutil.hpp).
void save_safetensors(const std::string& path, const SafeTensorsEntries& entries,
                      const SafeTensorsMetadata& metadata = {});
void save_safetensors(const std::string& path, const SafeTensorsNamedTensors& tensors,
                      DType store_as = DType::F32, const SafeTensorsMetadata& metadata = {});
SafeTensorsFile load_safetensors(const std::string& path);

}  // namespace ds
