// Reading the PyTorch reference fixtures that tools/make_*_fixture.py write: a JSON file, tensors
// stored as {"shape": [...], "data": [...]}, and the largest difference from a stored list.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/tensor.hpp"

namespace ds::test {

// The fixture at DS_SOURCE_DIR/<relative_path>, parsed.
inline nlohmann::json read_fixture(const std::string& relative_path) {
  std::ifstream f(std::string(DS_SOURCE_DIR) + "/" + relative_path);
  REQUIRE(f.good());
  return nlohmann::json::parse(f);
}

inline Tensor fixture_tensor(const nlohmann::json& t) { return Tensor::from(t["data"].get<std::vector<float>>(), t["shape"].get<Shape>()); }

inline float max_abs_diff(const Tensor& a, const std::vector<float>& b) {
  REQUIRE(a.numel() == static_cast<int64_t>(b.size()));
  float m = 0;
  for (size_t i = 0; i < b.size(); ++i) m = std::max(m, std::abs(a[static_cast<int64_t>(i)] - b[i]));
  return m;
}

}  // namespace ds::test
