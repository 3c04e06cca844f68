// safetensors: round trips for every dtype, metadata, byte-for-byte compatibility with the
// reference layout, and one clear sentence for each kind of bad file.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "common/fsutil.hpp"
#include "test_helpers.hpp"
#include "common/safetensors.hpp"

using namespace ds;
using test::TempDir;
namespace fs = std::filesystem;

namespace {


// A file as the format defines it: 8-byte little-endian length, header text, data.
std::vector<uint8_t> make_file(const std::string& header, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out(8 + header.size() + data.size());
  for (int k = 0; k < 8; ++k) out[k] = static_cast<uint8_t>(uint64_t{header.size()} >> (8 * k));
  std::copy(data.begin(), data.end(), std::copy(header.begin(), header.end(), out.begin() + 8));
  return out;
}

std::vector<uint8_t> f32_bytes(std::vector<float> v) {
  return encode_floats(v.data(), static_cast<int64_t>(v.size()), DType::F32);
}

std::string pad8(std::string s) {
  s.append((8 - s.size() % 8) % 8, ' ');
  return s;
}

// Writes the bytes to a file and checks that loading it fails with a sentence that names
// the file and contains `problem`.
void expect_bad_file(const std::vector<uint8_t>& bytes, const std::string& problem) {
  TempDir dir;
  const std::string p = dir.file("bad.safetensors");
  write_file_atomic(p, bytes);
  CHECK_THROWS_WITH_AS(load_safetensors(p),
                       doctest::Contains(("cannot read safetensors file '" + p + "': " + problem).c_str()),
                       std::runtime_error);
}

void expect_bad_header(const std::string& header, const std::string& problem,
                       const std::vector<uint8_t>& data = f32_bytes({1, 2})) {
  expect_bad_file(make_file(header, data), problem);
}

const std::string kGoodEntry = R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})";

}  // namespace

TEST_CASE("safetensors: F32 round trip is exact, in the given order, any rank up to 4") {
  TempDir dir;
  const std::string p = dir.file("m.safetensors");
  const Tensor w = Tensor::from({1.5f, -2.25f, 3e-8f, 1e30f, 0.f, -0.f}, {2, 3});
  const Tensor b = Tensor::from({0.1f, 0.2f, 0.3f, 0.4f}, {1, 2, 1, 2});
  const Tensor s = Tensor::scalar(7.f);
  const Tensor e = Tensor::zeros({0, 3});
  save_safetensors(p, {{"z.weight", w}, {"a.bias", b}, {"scalar", s}, {"empty", e}});
  const SafeTensorsFile f = load_safetensors(p);
  CHECK(f.path() == p);
  CHECK(f.names() == std::vector<std::string>{"z.weight", "a.bias", "scalar", "empty"});
  CHECK(f.size() == 4);
  CHECK(f.has("a.bias"));
  CHECK_FALSE(f.has("missing"));
  CHECK(f.get("z.weight").dtype == DType::F32);
  CHECK(f.get("z.weight").shape == Shape{2, 3});
  CHECK(f.to_tensor("z.weight").to_vector() == w.to_vector());
  CHECK(f.to_tensor("a.bias").shape() == Shape{1, 2, 1, 2});
  CHECK(f.to_tensor("a.bias").to_vector() == b.to_vector());
  CHECK(f.to_tensor("scalar").shape() == Shape{});
  CHECK(f.to_tensor("scalar").item() == 7.f);
  CHECK(f.to_tensor("empty").shape() == Shape{0, 3});
  CHECK(f.metadata().empty());
  CHECK(dir.count() == 1);
  CHECK_THROWS_WITH_AS(f.get("missing"),
                       ("safetensors file '" + p + "' has no tensor named 'missing'").c_str(),
                       std::runtime_error);
}

TEST_CASE("safetensors: BF16 and F16 round trips keep each value to its rounding") {
  TempDir dir;
  std::vector<float> v;
  for (int i = 0; i < 64; ++i) v.push_back(std::sin(0.37f * i) * std::pow(10.f, (i % 9) - 4));
  const Tensor t = Tensor::from(v, {8, 8});
  for (DType dt : {DType::BF16, DType::F16}) {
    CAPTURE(dtype_name(dt));
    const std::string p = dir.file(std::string(dtype_name(dt)) + ".safetensors");
    save_safetensors(p, {{"w", t}}, dt);
    const SafeTensorsFile f = load_safetensors(p);
    CHECK(f.get("w").dtype == dt);
    CHECK(f.get("w").bytes.size() == 128);
    const Tensor back = f.to_tensor("w");
    const double rel = dt == DType::BF16 ? 1.0 / 256 : 1.0 / 2048;   // half an ulp
    for (int i = 0; i < 64; ++i) {
      const float want = dt == DType::BF16 ? round_to_bf16(v[i]) : round_to_f16(v[i]);
      CHECK(back.data()[i] == want);
      if (std::abs(v[i]) > 1e-4f) CHECK(std::abs(back.data()[i] - v[i]) <= rel * std::abs(v[i]));
    }
  }
}

TEST_CASE("safetensors: FP8 entries round-trip as raw bytes, to_tensor points to ch05") {
  TempDir dir;
  const std::string p = dir.file("fp8.safetensors");
  std::vector<uint8_t> raw(2 * 3 * 1 * 2 * 2);
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<uint8_t>(i * 37 + 1);
  const SafeTensorsEntries entries = {
      {"w.e4m3", {DType::F8_E4M3, {2, 3, 1, 2, 2}, raw}},   // rank 5: TensorBytes takes any rank
      {"w.e5m2", {DType::F8_E5M2, {24}, raw}},
      {"w.scale_inv", encode_tensor(Tensor::from({0.5f}, {1, 1}))},
  };
  save_safetensors(p, entries);
  const SafeTensorsFile f = load_safetensors(p);
  CHECK(f.get("w.e4m3").dtype == DType::F8_E4M3);
  CHECK(f.get("w.e4m3").shape == Shape{2, 3, 1, 2, 2});
  CHECK(f.get("w.e4m3").bytes == raw);
  CHECK(f.get("w.e5m2").dtype == DType::F8_E5M2);
  CHECK(f.get("w.e5m2").bytes == raw);
  CHECK(f.to_tensor("w.scale_inv").item() == 0.5f);
  CHECK_THROWS_WITH_AS(f.to_tensor("w.e5m2"),
                       ("'w.e5m2' in safetensors file '" + p + "' is stored as F8_E5M2; FP8 "
                        "decoding lives in ch05 (it needs the scales stored beside the weights), "
                        "so read its raw bytes with get()").c_str(),
                       std::runtime_error);
}

TEST_CASE("safetensors: more than 4 dimensions load as bytes but not as a Tensor") {
  TempDir dir;
  const std::string p = dir.file("5d.safetensors");
  save_safetensors(p, SafeTensorsEntries{{"x", {DType::F32, {1, 1, 1, 1, 2}, f32_bytes({1, 2})}}});
  const SafeTensorsFile f = load_safetensors(p);
  CHECK(f.get("x").shape.size() == 5);
  CHECK_THROWS_WITH_AS(f.to_tensor("x"), doctest::Contains("has 5 dimensions; a Tensor holds at most 4"),
                       std::runtime_error);
}

TEST_CASE("safetensors: metadata round-trips") {
  TempDir dir;
  const std::string p = dir.file("meta.safetensors");
  const SafeTensorsMetadata meta = {{"format", "pt"}, {"step", "1200"}, {"note", "ünïcode, \"quoted\""}};
  save_safetensors(p, {{"w", Tensor::ones({2})}}, DType::F32, meta);
  const SafeTensorsFile f = load_safetensors(p);
  CHECK(f.metadata() == meta);
  CHECK(f.names() == std::vector<std::string>{"w"});   // __metadata__ is not a tensor
}

TEST_CASE("safetensors: reads a file laid out as Python's safetensors writes it") {
  // safetensors.torch.save_file({"a": torch.tensor([1.0, -2.5])}, path, metadata={"format": "pt"})
  const std::string header =
      pad8(R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})");
  const std::vector<uint8_t> data = {0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x20, 0xC0};
  const SafeTensorsFile f = parse_safetensors(make_file(header, data), "python.safetensors");
  CHECK(f.names() == std::vector<std::string>{"a"});
  CHECK(f.metadata().at("format") == "pt");
  CHECK(f.to_tensor("a").to_vector() == std::vector<float>{1.f, -2.5f});

  // BF16 and F16 as torch stores them: 1.0 and -2.0, little-endian.
  const std::string h2 = pad8(
      R"({"b":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},)"
      R"("h":{"dtype":"F16","shape":[2],"data_offsets":[4,8]}})");
  const SafeTensorsFile g =
      parse_safetensors(make_file(h2, {0x80, 0x3F, 0x00, 0xC0, 0x00, 0x3C, 0x00, 0xC0}), "x");
  CHECK(g.to_tensor("b").to_vector() == std::vector<float>{1.f, -2.f});
  CHECK(g.to_tensor("h").to_vector() == std::vector<float>{1.f, -2.f});
}

TEST_CASE("safetensors: what we write is the reference layout, byte for byte") {
  const std::vector<uint8_t> data = f32_bytes({1.f, -2.5f});
  const std::vector<uint8_t> ours =
      serialize_safetensors({{"a", {DType::F32, {2}, data}}}, {{"format", "pt"}});
  const std::string header =
      pad8(R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})");
  CHECK(ours == make_file(header, data));
}

TEST_CASE("safetensors: the written header is JSON with exactly the reference keys") {
  TempDir dir;
  const std::string p = dir.file("h.safetensors");
  save_safetensors(p, {{"x", Tensor::ones({3, 2})}, {"y", Tensor::ones({5})}}, DType::BF16,
                   {{"format", "pt"}});
  const std::vector<uint8_t> file = read_file(p);
  uint64_t n = 0;
  for (int k = 7; k >= 0; --k) n = (n << 8) | file[k];
  CHECK(n % 8 == 0);                             // data starts 8-byte aligned
  REQUIRE(8 + n <= file.size());
  const auto header = nlohmann::json::parse(file.begin() + 8, file.begin() + 8 + static_cast<long>(n));
  REQUIRE(header.is_object());
  CHECK(header.size() == 3);
  CHECK(header["__metadata__"] == nlohmann::json{{"format", "pt"}});
  uint64_t next = 0;                             // the reference reader wants tensors packed
  for (const char* name : {"x", "y"}) {
    const auto& e = header[name];
    CHECK(e.size() == 3);
    CHECK(e["dtype"] == "BF16");
    CHECK(e["data_offsets"][0] == next);
    next = e["data_offsets"][1].get<uint64_t>();
  }
  CHECK(header["x"]["shape"] == nlohmann::json::array({3, 2}));
  CHECK(header["y"]["shape"] == nlohmann::json::array({5}));
  CHECK(next == file.size() - 8 - n);            // and the buffer ends with the last one
}

TEST_CASE("safetensors: saving replaces an old file atomically") {
  TempDir dir;
  const std::string p = dir.file("ckpt.safetensors");
  save_safetensors(p, {{"w", Tensor::ones({4})}});
  save_safetensors(p, {{"w", Tensor::full({2}, 3.f)}});
  CHECK(load_safetensors(p).to_tensor("w").to_vector() == std::vector<float>{3.f, 3.f});
  CHECK(dir.count() == 1);
}

TEST_CASE("safetensors: bad saves are refused and write nothing") {
  TempDir dir;
  const std::string p = dir.file("bad.safetensors");
  const std::string prefix = "cannot write safetensors file '" + p + "': ";
  CHECK_THROWS_WITH_AS(save_safetensors(p, {{"w", Tensor::ones({2})}, {"w", Tensor::ones({3})}}),
                       (prefix + "the name 'w' appears twice").c_str(), std::runtime_error);
  CHECK_THROWS_WITH_AS(save_safetensors(p, SafeTensorsEntries{{"w", {DType::F32, {3}, f32_bytes({1, 2})}}}),
                       (prefix + "entry 'w' has shape [3] of F32 (12 bytes) but holds 8 bytes").c_str(),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(save_safetensors(p, SafeTensorsEntries{{"w", {DType::F32, {-2}, f32_bytes({1, 2})}}}),
                       doctest::Contains("entry 'w' has an invalid shape [-2]"), std::runtime_error);
  CHECK_THROWS_WITH_AS(save_safetensors(p, {{"__metadata__", Tensor::ones({2})}}),
                       doctest::Contains("\"__metadata__\" is reserved"), std::runtime_error);
  CHECK_THROWS_WITH_AS(save_safetensors(p, {{"w", Tensor::ones({2})}}, DType::F8_E4M3),
                       doctest::Contains("ch05 encodes it"), std::runtime_error);
  CHECK_THROWS_WITH_AS(save_safetensors(p, {{"w", Tensor()}}),
                       (prefix + "tensor 'w' is undefined").c_str(), std::runtime_error);
  CHECK(dir.count() == 0);
}

TEST_CASE("safetensors: a missing file") {
  TempDir dir;
  const std::string p = dir.file("missing.safetensors");
  CHECK_THROWS_WITH_AS(load_safetensors(p), ("cannot read '" + p + "': No such file or directory").c_str(),
                       std::runtime_error);
}

TEST_CASE("safetensors: truncated files") {
  const std::vector<uint8_t> good = serialize_safetensors({{"a", {DType::F32, {2}, f32_bytes({1, 2})}}});
  SUBCASE("shorter than the 8-byte length") {
    expect_bad_file({1, 2, 3, 4, 5}, "it is 5 bytes long, too short for the 8-byte header length");
    expect_bad_file({}, "it is 0 bytes long");
  }
  SUBCASE("cut inside the header") {
    expect_bad_file(std::vector<uint8_t>(good.begin(), good.begin() + 20),
                    "its header length (56 bytes) runs past the end of the file (12 bytes follow");
  }
  SUBCASE("cut inside the data") {
    expect_bad_file(std::vector<uint8_t>(good.begin(), good.end() - 3),
                    "entry 'a' has data_offsets [0, 8] past the end of the 5-byte data buffer");
  }
}

TEST_CASE("safetensors: a header length past the end of the file") {
  std::vector<uint8_t> junk(64, 0xFF);           // not a safetensors file at all
  expect_bad_file(junk, "its header length (18446744073709551615 bytes) runs past the end");
}

TEST_CASE("safetensors: a header that is not JSON, or not an object") {
  expect_bad_header("{\"a\": nope}", "its header is not valid JSON (error at header byte");
  expect_bad_header("", "its header is not valid JSON");
  expect_bad_header("[1, 2]", "its header is not a JSON object");
  expect_bad_header("{\"a\": 3}", "entry 'a' is not a JSON object");
  expect_bad_header(R"({"__metadata__": [1]})", "its \"__metadata__\" is not a JSON object");
  expect_bad_header(R"({"__metadata__": {"step": 3}})",
                    "its \"__metadata__\" value for 'step' is not a string");
  expect_bad_header(R"({"a":)" + kGoodEntry + R"(,"a":)" + kGoodEntry + "}", "its header names 'a' twice");
}

TEST_CASE("safetensors: an entry missing dtype, shape or data_offsets") {
  expect_bad_header(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", "entry 'a' has no \"dtype\"");
  expect_bad_header(R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", "entry 'a' has no \"shape\"");
  expect_bad_header(R"({"a":{"dtype":"F32","shape":[2]}})", "entry 'a' has no \"data_offsets\"");
}

TEST_CASE("safetensors: malformed fields") {
  expect_bad_header(R"({"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})",
                    "entry 'a' has a \"dtype\" that is not a string");
  expect_bad_header(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})",
                    "entry 'a' has a \"shape\" that is not a list of non-negative integers");
  expect_bad_header(R"({"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})",
                    "entry 'a' has a \"shape\" that is not a list");
  expect_bad_header(R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})",
                    "entry 'a' has a \"shape\" that is not a list");
  expect_bad_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,9]}})",
                    "entry 'a' has \"data_offsets\" that are not [begin, end]");
}

TEST_CASE("safetensors: an unknown dtype") {
  expect_bad_header(R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})",
                    "entry 'a' has an unknown dtype \"F64\" (known: F32, BF16, F16, F8_E4M3, F8_E5M2)");
}

TEST_CASE("safetensors: offsets out of range") {
  expect_bad_header(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
                    "entry 'a' has data_offsets [0, 16] past the end of the 8-byte data buffer");
  expect_bad_header(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})",
                    "entry 'a' has data_offsets [8, 4], which begin after they end");
}

TEST_CASE("safetensors: overlapping entries") {
  const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  expect_bad_header(header, "entries 'a' and 'b' overlap in the data buffer", f32_bytes({1, 2, 3}));
  // Empty tensors take no bytes, so they overlap nothing.
  const std::string empty = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                            R"("e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})";
  CHECK(parse_safetensors(make_file(empty, f32_bytes({1, 2})), "e").size() == 2);
}

TEST_CASE("safetensors: a shape that does not match the byte count") {
  expect_bad_header(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
                    "entry 'a' has shape [3] of F32 (12 bytes) but its data_offsets span 8 bytes");
  expect_bad_header(R"({"a":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,8]}})",
                    "entry 'a' has shape [2, 3] of BF16 (12 bytes) but its data_offsets span 8 bytes");
  expect_bad_header(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})",
                    "entry 'a' has shape [4294967296, 4294967296] of F32 (too large)");
}
