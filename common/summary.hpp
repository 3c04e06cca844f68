// The headline numbers of a run, written as summary.json (RunReport::write puts the command in
// and the run's index.html beside it). Dotted keys nest ("a.b" -> {"a":{"b":..}}).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace ds {

class Summary {
 public:
  void set(const std::string& key, double v);
  void set(const std::string& key, const std::string& v);
  void set(const std::string& key, const std::vector<double>& v);
  void write(const std::string& path) const;   // atomic; the JSON only
  std::string dump() const;

 private:
  std::map<std::string, std::string> json_values_;   // key -> JSON text of the value
};

}  // namespace ds
