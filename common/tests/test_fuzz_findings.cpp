// Inputs that broke a reader, kept so the fixes stay fixed (fuzz/README.md says which fuzz
// target or review found each). Every one must give one clear sentence, never a crash.
#include <doctest/doctest.h>

#include <string>

#include "common/safetensors.hpp"
#include "common/tests/test_helpers.hpp"
#include "common/tokenizer.hpp"

using namespace ds;

namespace {
std::string fixture(const std::string& name) { return std::string(DS_SOURCE_DIR) + "/common/tests/fixtures/fuzz/" + name; }
}  // namespace

TEST_CASE("fuzz findings: a safetensors header holding the number 1e400 is one sentence, not an escaped json::out_of_range") {
  const std::string p = fixture("safetensors/number_1e400.safetensors");
  CHECK(test::error_of([&] { load_safetensors(p); }) ==
        "cannot read safetensors file '" + p + "': its header holds a number too large for a double");
}

TEST_CASE("fuzz findings: a tokenizer.json whose merge builds a special token is refused (decode would not invert encode)") {
  // vocab {"Ġ", "x", "Ġx"} with "Ġx" also an added token and the merge "Ġ x": " x" would
  // encode to the special id, which decodes to the literal text "Ġx".
  const std::string p = fixture("tokenizer_json/merge_builds_special.json");
  CHECK(test::error_of([&] { Tokenizer::load(p); }) ==
        "Tokenizer::load('" + p + "'): merge 1 ('\xC4\xA0 x') makes the special token '\xC4\xA0x'; special tokens are only matched literally");
}

TEST_CASE("fuzz findings: a tokenizer.json token id too large for uint64 (so a float) is one sentence, not a float-to-int64 overflow") {
  const std::string p = fixture("tokenizer_json/id_1.8e19_float.json");   // {"model":{"vocab":{"":18446744737095516164}}}
  CHECK(test::error_of([&] { Tokenizer::load(p); }) == "Tokenizer::load('" + p + "'): the id of '' is not an integer");
}
