#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "common/memory.hpp"
#include "common/tensor.hpp"

using namespace ds;

TEST_CASE("tensor: creation, views share storage, clone does not") {
  Tensor t = Tensor::from({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(t.numel() == 6);
  CHECK(t.size(-1) == 3);
  Tensor v = t.view_as_shape({3, -1});
  CHECK(v.shape() == Shape{3, 2});
  v.data()[0] = 10;
  CHECK(t.data()[0] == 10);
  Tensor r = t.rows(1, 2);
  CHECK(r.shape() == Shape{1, 3});
  CHECK(r.data()[0] == 4);
  Tensor c = t.clone();
  c.data()[0] = -1;
  CHECK(t.data()[0] == 10);
}

TEST_CASE("tensor: bad shapes give one clear sentence") {
  CHECK_THROWS_WITH_AS(Tensor::from({1, 2, 3}, {2, 2}), "Tensor::from: 3 values do not fill the shape (got [2, 2])", std::invalid_argument);
  Tensor t = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH_AS(t.view_as_shape({4, 2}), "view: element counts differ (got [2, 3] and [4, 2])", std::invalid_argument);
  CHECK_THROWS_AS(Tensor::zeros({1, 2, 3, 4, 5}), std::invalid_argument);
  CHECK_THROWS_AS(t.rows(1, 3), std::invalid_argument);
  CHECK_THROWS_AS(t.item(), std::invalid_argument);
}

TEST_CASE("memory: live and peak bytes follow storage lifetime") {
  const int64_t base = memory::live_bytes();
  memory::reset_peak();
  {
    Tensor a = Tensor::zeros({1000});
    Tensor view = a.view_as_shape({10, 100});   // a view allocates nothing
    CHECK(memory::live_bytes() - base == 4000);
    Tensor b = Tensor::zeros({500});
    CHECK(memory::peak_bytes() - base == 6000);
  }
  CHECK(memory::live_bytes() == base);
  CHECK(memory::peak_bytes() - base == 6000);
  memory::reset_peak();
  CHECK(memory::peak_bytes() == base);
  CHECK(memory::rss_bytes() > 0);
  CHECK(memory::human_bytes(35136.0 * 2) == "70.27 KB");
}

TEST_CASE("memory: what cannot fit is refused in one sentence naming both numbers, what can passes") {
  const int64_t avail = memory::available_bytes();
  REQUIRE(avail > 0);   // Linux: MemAvailable
  CHECK_NOTHROW(memory::require_fits(1e6, "a small step", "lower --batch"));
  std::string e;
  try {
    memory::require_fits(1e18, "a training step of 1000000 x 128 tokens", "lower --batch");
  } catch (const std::runtime_error& err) {
    e = err.what();
  }
  CHECK(e.find("a training step of 1000000 x 128 tokens needs at least 1000000.00 TB of memory, but this machine has ") == 0);
  CHECK(e.find(" available; lower --batch") != std::string::npos);   // the available figure itself moves as other processes run
}
