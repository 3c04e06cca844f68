// nlohmann::json's exceptions read "[json.exception.type_error.302] type must be string, but is
// number": library text. This turns one into a plain clause for an error sentence about a file
// ("it is not valid JSON (line 1, column 3)", "key 'step' not found", "type must be string, but is
// number").
#pragma once

#include <exception>
#include <string>

namespace ds {

std::string json_error_text(const std::exception& e);

}  // namespace ds
