#include "common/json_error.hpp"

#include <nlohmann/json.hpp>

namespace ds {

std::string json_error_text(const std::exception& e) {
  std::string what = e.what();
  if (what.rfind("[json.exception.", 0) == 0) {
    const size_t close = what.find("] ");
    if (close != std::string::npos) what = what.substr(close + 2);
  }
  if (const auto* pe = dynamic_cast<const nlohmann::json::parse_error*>(&e))
    return "it is not valid JSON (at byte " + std::to_string(pe->byte) + ")";
  return what;
}

}  // namespace ds
