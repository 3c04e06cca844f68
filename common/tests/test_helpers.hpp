// Small helpers for the core's tests.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>

#include "common/gradcheck.hpp"
#include "common/rng.hpp"

namespace ds::test {

inline Tensor rnd(const Shape& s, uint64_t seed, float std = 1.f) {
  Rng r(seed);
  return randn(s, r, std);
}

// CHECK_GRAD(fn, inputs[, options]): fn maps the inputs to one tensor.
#define CHECK_GRAD(...)                                                           \
  do {                                                                            \
    const auto gc_ = ::ds::gradcheck(__VA_ARGS__);                                \
    INFO("max abs err " << gc_.max_abs_err << "; " << gc_.worst);                 \
    CHECK(gc_.ok);                                                                \
  } while (0)


// A fresh directory under the system temp dir, removed with everything in it.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& tag = "ds_test") {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / (tag + "_" + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
  size_t count() const {
    return static_cast<size_t>(std::distance(std::filesystem::directory_iterator(path), std::filesystem::directory_iterator()));
  }
};

// The message of the std::runtime_error that f throws (or a marker when it throws none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no std::runtime_error)";
}

inline float max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  float m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::abs(a.data()[i] - b.data()[i]));
  return m;
}

}  // namespace ds::test
