#include "common/summary.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "common/fsutil.hpp"
#include "common/utf8.hpp"

namespace ds {

// nlohmann::json refuses to dump bytes that are not UTF-8, so keys and text are made valid first.
void Summary::set(const std::string& key, double v) { json_values_[valid_utf8(key)] = std::isfinite(v) ? nlohmann::json(v).dump() : "null"; }
void Summary::set(const std::string& key, const std::string& v) { json_values_[valid_utf8(key)] = nlohmann::json(valid_utf8(v)).dump(); }
void Summary::set(const std::string& key, const std::vector<double>& v) { json_values_[valid_utf8(key)] = nlohmann::json(v).dump(); }

std::string Summary::dump() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [key, text] : json_values_) {
    nlohmann::json* node = &j;
    size_t start = 0, dot;
    while ((dot = key.find('.', start)) != std::string::npos) {
      node = &(*node)[key.substr(start, dot - start)];
      start = dot + 1;
    }
    (*node)[key.substr(start)] = nlohmann::json::parse(text);
  }
  return j.dump(2) + "\n";
}

void Summary::write(const std::string& path) const { write_file_atomic(path, std::string_view(dump())); }

}  // namespace ds
