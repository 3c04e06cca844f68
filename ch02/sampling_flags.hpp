// The sampling flags of every program that generates text, bound to a SamplingConfig's fields.
#pragma once

#include <string>

#include "ch02/generate.hpp"
#include "common/flags.hpp"

namespace ds::ch02 {

// tokens_flag (e.g. "--tokens") -> max_new_tokens, --temperature, --top-k, --top-p; the defaults
// --help shows are sc's values when called. Returns the tokens flag, to add its range or quick value.
Flags::Flag& add_sampling_flags(Flags& flags, SamplingConfig& sc, const std::string& tokens_flag = "--tokens");

}  // namespace ds::ch02
