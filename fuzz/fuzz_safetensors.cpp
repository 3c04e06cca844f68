// parse_safetensors (what load_safetensors runs on a file's bytes) on any bytes. What it
// accepts must be usable: each entry converts to a Tensor or is refused with a sentence
// (FP8, more than 4 dims), and writing the entries back gives a file that reads the same.
#include <string>
#include <vector>

#include "common/safetensors.hpp"
#include "fuzz/fuzz_util.hpp"

using namespace ds;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  SafeTensorsFile f;
  if (!fuzz::accepts([&] { f = parse_safetensors(bytes, "fuzz.safetensors"); })) return 0;
  SafeTensorsEntries entries;
  for (const std::string& name : f.names()) {
    const TensorBytes& tb = f.get(name);
    Tensor t;
    if (fuzz::accepts([&] { t = f.to_tensor(name); }) && t.shape() != tb.shape)
      fuzz::fail("to_tensor('" + name + "') changed the shape");
    entries.emplace_back(name, tb);
  }
  const SafeTensorsFile back = parse_safetensors(serialize_safetensors(entries, f.metadata()), "written");
  if (back.names() != f.names() || back.metadata() != f.metadata()) fuzz::fail("write + read changed the names or metadata");
  for (const std::string& name : f.names()) {
    const TensorBytes &a = f.get(name), &b = back.get(name);
    if (a.dtype != b.dtype || a.shape != b.shape || a.bytes != b.bytes) fuzz::fail("write + read changed '" + name + "'");
  }
  return 0;
}
