// Reading trusts nothing in the file: every length, offset and shape is checked against the
// bytes actually there before it is used, so a truncated download or a corrupt checkpoint
// stops with a sentence instead of a crash or silently wrong weights.
//
// Where this reader is more lenient than the reference one (Rust, used by Python): it
// accepts gaps between tensors and unused bytes at the end of the buffer, because neither
// can produce a wrong tensor. Overlapping tensors are rejected, as there.
#include "common/safetensors.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "common/fsutil.hpp"

namespace ds {

namespace {

// ordered_json keeps the header's key order, so names() lists tensors as the file does.
using json = nlohmann::ordered_json;

constexpr const char* kMetadataKey = "__metadata__";

[[noreturn]] void bad_file(const std::string& path, const std::string& why) {
  throw std::runtime_error("cannot read safetensors file '" + path + "': " + why);
}

[[noreturn]] void bad_write(const std::string& path, const std::string& why) {
  throw std::runtime_error("cannot write safetensors file '" + path + "': " + why);
}

// Bytes an entry of this shape and dtype needs; false if the count overflows 64 bits
// (a hostile shape such as [2^40, 2^40] must not wrap around to a small number).
bool bytes_needed(const Shape& shape, DType dt, uint64_t& out) {
  uint64_t n = static_cast<uint64_t>(dtype_size(dt));
  for (int64_t d : shape) {
    const auto ud = static_cast<uint64_t>(d);
    if (d < 0 || (ud != 0 && n > std::numeric_limits<uint64_t>::max() / ud)) return false;
    n *= ud;
  }
  out = n;
  return true;
}

std::string describe(const Shape& shape, DType dt) {
  return "shape " + shape_str(shape) + " of " + dtype_name(dt);
}

// ---- writing ----------------------------------------------------------------------------

void check_entry_for_write(const std::string& name, const TensorBytes& tb,
                           const std::string& path) {
  if (name == kMetadataKey) bad_write(path, "\"__metadata__\" is reserved and cannot name a tensor");
  uint64_t need = 0;
  if (!bytes_needed(tb.shape, tb.dtype, need))
    bad_write(path, "entry '" + name + "' has an invalid " + describe(tb.shape, tb.dtype));
  if (need != tb.bytes.size())
    bad_write(path, "entry '" + name + "' has " + describe(tb.shape, tb.dtype) + " (" +
                        std::to_string(need) + " bytes) but holds " +
                        std::to_string(tb.bytes.size()) + " bytes");
}

json header_for(const SafeTensorsEntries& entries, const SafeTensorsMetadata& metadata,
                const std::string& path) {
  json header = json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;   // first, as the reference writes it
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [name, tb] : entries) {
    if (!seen.insert(name).second) bad_write(path, "the name '" + name + "' appears twice");
    check_entry_for_write(name, tb, path);
    const uint64_t end = offset + tb.bytes.size();
    header[name] = {{"dtype", dtype_name(tb.dtype)},
                    {"shape", tb.shape},
                    {"data_offsets", json::array({offset, end})}};
    offset = end;
  }
  return header;
}

// Compact JSON (as serde_json writes it), padded with spaces to a multiple of 8 so the data
// buffer starts 8-byte aligned and can be memory-mapped.
std::string header_text(const json& header, const std::string& path) {
  std::string text;
  try {
    text = header.dump();
  } catch (const json::type_error&) {
    bad_write(path, "a tensor name or metadata string is not valid UTF-8");
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

// ---- reading ----------------------------------------------------------------------------

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int k = 7; k >= 0; --k) v = (v << 8) | p[k];
  return v;
}

// The JSON header, with the bytes after it (the data buffer) left in place. Duplicate
// top-level keys are caught while parsing: a JSON object would silently keep the last one.
json parse_header(const std::vector<uint8_t>& file, const std::string& path, uint64_t& data_start) {
  if (file.size() < 8)
    bad_file(path, "it is " + std::to_string(file.size()) +
                       " bytes long, too short for the 8-byte header length (truncated, or "
                       "not a safetensors file)");
  const uint64_t n = read_u64_le(file.data());
  if (n > file.size() - 8)
    bad_file(path, "its header length (" + std::to_string(n) + " bytes) runs past the end of "
                       "the file (" + std::to_string(file.size() - 8) +
                       " bytes follow the length; truncated, or not a safetensors file)");
  data_start = 8 + n;
  std::set<std::string> keys;
  const json::parser_callback_t no_duplicates = [&](int depth, json::parse_event_t ev, json& j) {
    if (ev == json::parse_event_t::key && depth == 1 && !keys.insert(j.get<std::string>()).second)
      bad_file(path, "its header names '" + j.get<std::string>() + "' twice");
    return true;
  };
  json header;
  try {
    header = json::parse(file.begin() + 8, file.begin() + static_cast<std::ptrdiff_t>(data_start),
                         no_duplicates);
  } catch (const json::parse_error& e) {
    bad_file(path, "its header is not valid JSON (error at header byte " + std::to_string(e.byte) + ")");
  } catch (const json::out_of_range&) {   // a number such as 1e400 (found by fuzz/)
    bad_file(path, "its header holds a number too large for a double");
  }
  if (!header.is_object()) bad_file(path, "its header is not a JSON object");
  return header;
}

SafeTensorsMetadata parse_metadata(const json& j, const std::string& path) {
  if (!j.is_object()) bad_file(path, "its \"__metadata__\" is not a JSON object");
  SafeTensorsMetadata m;
  for (const auto& [key, value] : j.items()) {
    if (!value.is_string())
      bad_file(path, "its \"__metadata__\" value for '" + key + "' is not a string");
    m[key] = value.get<std::string>();
  }
  return m;
}

const json& field(const json& entry, const char* key, const std::string& name,
                  const std::string& path) {
  if (!entry.contains(key)) bad_file(path, "entry '" + name + "' has no \"" + key + "\"");
  return entry.at(key);
}

// A JSON array of non-negative integers that fit int64 (shape dims and offsets).
std::vector<int64_t> int_list(const json& j, const char* key, const std::string& name,
                              const std::string& path) {
  const std::string what = "entry '" + name + "' has a \"" + key + "\" that is not ";
  if (!j.is_array()) bad_file(path, what + "a list of non-negative integers");
  std::vector<int64_t> out;
  for (const json& v : j) {
    if (!v.is_number_unsigned() ||
        v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      bad_file(path, what + "a list of non-negative integers");
    out.push_back(v.get<int64_t>());
  }
  return out;
}

DType parse_dtype(const json& j, const std::string& name, const std::string& path) {
  if (!j.is_string()) bad_file(path, "entry '" + name + "' has a \"dtype\" that is not a string");
  try {
    return dtype_from_name(j.get<std::string>());
  } catch (const std::invalid_argument& e) {
    bad_file(path, "entry '" + name + "' has an " + e.what());
  }
}

struct Span {
  uint64_t begin, end;
  std::string name;
};

// Checks the entry against the buffer and returns where its bytes lie.
Span parse_entry(const std::string& name, const json& entry, TensorBytes& tb,
                 uint64_t buffer_size, const std::string& path) {
  if (!entry.is_object()) bad_file(path, "entry '" + name + "' is not a JSON object");
  tb.dtype = parse_dtype(field(entry, "dtype", name, path), name, path);
  tb.shape = int_list(field(entry, "shape", name, path), "shape", name, path);
  const auto off = int_list(field(entry, "data_offsets", name, path), "data_offsets", name, path);
  if (off.size() != 2)
    bad_file(path, "entry '" + name + "' has \"data_offsets\" that are not [begin, end]");
  const Span s{static_cast<uint64_t>(off[0]), static_cast<uint64_t>(off[1]), name};
  const std::string where = "entry '" + name + "' has data_offsets [" + std::to_string(s.begin) +
                            ", " + std::to_string(s.end) + "]";
  if (s.begin > s.end) bad_file(path, where + ", which begin after they end");
  if (s.end > buffer_size)
    bad_file(path, where + " past the end of the " + std::to_string(buffer_size) +
                       "-byte data buffer (truncated?)");
  uint64_t need = 0;
  const bool fits = bytes_needed(tb.shape, tb.dtype, need);
  if (!fits || need != s.end - s.begin)
    bad_file(path, "entry '" + name + "' has " + describe(tb.shape, tb.dtype) + " (" +
                       (fits ? std::to_string(need) + " bytes" : std::string("too large")) +
                       ") but its data_offsets span " + std::to_string(s.end - s.begin) +
                       " bytes");
  return s;
}

// Two tensors sharing bytes would alias each other's weights. After sorting by start, any
// overlap shows up between neighbours.
void check_no_overlap(std::vector<Span> spans, const std::string& path) {
  std::erase_if(spans, [](const Span& s) { return s.begin == s.end; });
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < spans.size(); ++i) {
    const Span& a = spans[i - 1];
    const Span& b = spans[i];
    if (b.begin < a.end)
      bad_file(path, "entries '" + a.name + "' and '" + b.name + "' overlap in the data buffer");
  }
}

}  // namespace

// ---- Tensor <-> bytes ---------------------------------------------------------------------

TensorBytes encode_tensor(const Tensor& t, DType store_as) {
  if (!t.defined()) throw std::invalid_argument("encode_tensor: the tensor is undefined");
  return TensorBytes{store_as, t.shape(), encode_floats(t.data(), t.numel(), store_as)};
}

Tensor decode_tensor(const TensorBytes& tb, const std::string& what) {
  if (dtype_is_fp8(tb.dtype))
    throw std::runtime_error(what + " is stored as " + dtype_name(tb.dtype) +
                             "; FP8 decoding lives in ch05 (it needs the scales stored beside "
                             "the weights), so read its raw bytes with get()");
  if (tb.shape.size() > 4)
    throw std::runtime_error(what + " has " + std::to_string(tb.shape.size()) +
                             " dimensions; a Tensor holds at most 4, so read its raw bytes "
                             "with get()");
  uint64_t need = 0;
  if (!bytes_needed(tb.shape, tb.dtype, need) || need != tb.bytes.size())
    throw std::runtime_error(what + " has " + describe(tb.shape, tb.dtype) + " but holds " +
                             std::to_string(tb.bytes.size()) + " bytes");
  Tensor t = Tensor::zeros(tb.shape);
  decode_floats(tb.bytes.data(), t.numel(), tb.dtype, t.data());
  return t;
}

// ---- SafeTensorsFile ----------------------------------------------------------------------

const TensorBytes& SafeTensorsFile::get(const std::string& name) const {
  const auto it = entries_.find(name);
  if (it == entries_.end())
    throw std::runtime_error("safetensors file '" + path_ + "' has no tensor named '" + name + "'");
  return it->second;
}

Tensor SafeTensorsFile::to_tensor(const std::string& name) const {
  return decode_tensor(get(name), "'" + name + "' in safetensors file '" + path_ + "'");
}

Tensor SafeTensorsFile::to_finite_tensor(const std::string& name) const {
  Tensor t = to_tensor(name);
  const float* x = t.data();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!std::isfinite(x[i]))
      throw std::runtime_error(path_ + ": tensor '" + name + "' holds " + (std::isnan(x[i]) ? "NaN" : "Inf") + " (element " +
                               std::to_string(i) + "), so the run that saved it had diverged; use an earlier checkpoint");
  return t;
}

// ---- the format -----------------------------------------------------------------------------

std::vector<uint8_t> serialize_safetensors(const SafeTensorsEntries& entries,
                                           const SafeTensorsMetadata& metadata,
                                           const std::string& path) {
  const std::string header = header_text(header_for(entries, metadata, path), path);
  size_t total = 8 + header.size();
  for (const auto& [name, tb] : entries) total += tb.bytes.size();
  std::vector<uint8_t> out(total);
  for (int k = 0; k < 8; ++k) out[k] = static_cast<uint8_t>(uint64_t{header.size()} >> (8 * k));
  auto at = std::copy(header.begin(), header.end(), out.begin() + 8);
  for (const auto& [name, tb] : entries) at = std::copy(tb.bytes.begin(), tb.bytes.end(), at);
  return out;
}

SafeTensorsFile parse_safetensors(const std::vector<uint8_t>& file, const std::string& path) {
  uint64_t data_start = 0;
  const json header = parse_header(file, path, data_start);
  const uint64_t buffer_size = file.size() - data_start;
  SafeTensorsFile f;
  f.path_ = path;
  std::vector<Span> spans;
  for (const auto& [name, entry] : header.items()) {
    if (name == kMetadataKey) {
      f.metadata_ = parse_metadata(entry, path);
      continue;
    }
    TensorBytes tb;
    spans.push_back(parse_entry(name, entry, tb, buffer_size, path));
    const auto first = file.begin() + static_cast<std::ptrdiff_t>(data_start + spans.back().begin);
    tb.bytes.assign(first, first + static_cast<std::ptrdiff_t>(spans.back().end - spans.back().begin));
    f.names_.push_back(name);
    f.entries_.emplace(name, std::move(tb));
  }
  check_no_overlap(std::move(spans), path);
  return f;
}

void save_safetensors(const std::string& path, const SafeTensorsEntries& entries,
                      const SafeTensorsMetadata& metadata) {
  write_file_atomic(path, serialize_safetensors(entries, metadata, path));
}

void save_safetensors(const std::string& path, const SafeTensorsNamedTensors& tensors,
                      DType store_as, const SafeTensorsMetadata& metadata) {
  if (dtype_is_fp8(store_as))
    bad_write(path, std::string("FP8 (") + dtype_name(store_as) +
                        ") needs scales; ch05 encodes it, then save the bytes as TensorBytes");
  SafeTensorsEntries entries;
  entries.reserve(tensors.size());
  for (const auto& [name, t] : tensors) {
    if (!t.defined()) bad_write(path, "tensor '" + name + "' is undefined");
    entries.emplace_back(name, encode_tensor(t, store_as));
  }
  save_safetensors(path, entries, metadata);
}

SafeTensorsFile load_safetensors(const std::string& path) {
  return parse_safetensors(read_file(path), path);
}

}  // namespace ds
