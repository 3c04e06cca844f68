// For tests that need the real tokenizer files (scripts/fetch-tokenizers.sh): true when they are
// there; otherwise a message, and with CI=true a failure, so CI never skips these tests.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include "common/tokenizer_files.hpp"

namespace ds::test {

inline bool tokenizer_files_present(const std::string& name) {
  if (have_tokenizer(name)) return true;
  const char* ci = std::getenv("CI");
  if (ci && std::string(ci) == "true") FAIL("the " << name << " tokenizer files are missing in CI; scripts/install-deps.sh runs scripts/fetch-tokenizers.sh");
  MESSAGE("skipped: the " << name << " tokenizer files are not fetched (./scripts/fetch-tokenizers.sh)");
  return false;
}

}  // namespace ds::test
