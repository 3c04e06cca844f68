#include <doctest/doctest.h>

#include <filesystem>
#include <set>

#include "ch07/labelled_set.hpp"
#include "common/fsutil.hpp"

using namespace ds;
using namespace ds::ch07;
namespace fs = std::filesystem;

TEST_CASE("LabelledSet: a fixed set of distinct training problems per long length, the same every time") {
  LabelledSet s;
  s.long_lengths = {2, 3};
  s.long_examples = 40;
  const std::vector<Problem> a = s.long_problems(), b = s.long_problems();
  REQUIRE(a.size() == 80);
  std::set<std::string> keys;
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].question == b[i].question);
    CHECK(split_of(a[i]) == ch07::Split::train);
    keys.insert(problem_key(a[i]));
  }
  CHECK(keys.size() == 80);
  LabelledSet other = s;
  other.seed = s.seed + 1;
  CHECK(other.long_problems()[0].question != a[0].question);
}

TEST_CASE("LabelledSet::draw: long problems only from the set, short ones fresh, both lengths drawn") {
  LabelledSet s;
  s.short_lengths = {1};
  s.long_lengths = {3};
  s.long_examples = 5;
  const std::vector<Problem> pool = s.long_problems();
  std::set<std::string> in_pool;
  for (const Problem& p : pool) in_pool.insert(problem_key(p));
  Rng rng(9);
  int longs = 0, shorts = 0;
  for (const Problem& p : s.draw(pool, 400, rng)) {
    if (p.length == 3) {
      ++longs;
      CHECK(in_pool.count(problem_key(p)) == 1);
    } else {
      ++shorts;
      CHECK(p.length == 1);
      CHECK(split_of(p) == ch07::Split::train);
    }
  }
  CHECK(longs > 150);
  CHECK(shorts > 150);
  CHECK_THROWS_AS(s.draw({}, 50, rng), std::invalid_argument);   // a long length with no problem in the pool
}

TEST_CASE("validation_set: training-split problems none of which is in the labelled set") {
  LabelledSet s;
  s.long_lengths = {2};
  s.long_examples = 300;
  const std::vector<Problem> pool = s.long_problems();
  std::set<std::string> in_pool;
  for (const Problem& p : pool) in_pool.insert(problem_key(p));
  const std::vector<Problem> v = validation_set(Task::addition, {2}, 64, pool);
  REQUIRE(v.size() == 64);
  for (const Problem& p : v) {
    CHECK(split_of(p) == ch07::Split::train);
    CHECK(in_pool.count(problem_key(p)) == 0);
  }
}

TEST_CASE("LabelledSet: saved into a checkpoint folder and read back, and a folder without it or a bad file is one sentence") {
  const fs::path dir = fs::temp_directory_path() / "ds_test_labelled_set";
  fs::remove_all(dir);
  fs::create_directories(dir);
  CHECK_THROWS_WITH_AS(LabelledSet::load(dir.string()), doctest::Contains("no checkpoint at"), std::runtime_error);
  write_file_atomic((dir / "config.json").string(), std::string_view("{}"));
  CHECK_THROWS_WITH_AS(LabelledSet::load(dir.string()), doctest::Contains("rerun ch07_sft"), std::runtime_error);
  LabelledSet s;
  s.task = Task::countdown;
  s.short_lengths = {3};
  s.long_lengths = {4};
  s.long_examples = 77;
  s.seed = 5;
  s.save(dir.string());
  const LabelledSet r = LabelledSet::load(dir.string());
  CHECK(r.task == Task::countdown);
  CHECK(r.short_lengths == std::vector<int>{3});
  CHECK(r.long_lengths == std::vector<int>{4});
  CHECK(r.long_examples == 77);
  CHECK(r.seed == 5);
  write_file_atomic((dir / "labelled_set.json").string(), std::string_view("{\"task\": \"addition\"}"));
  CHECK_THROWS_WITH_AS(LabelledSet::load(dir.string()), doctest::Contains("not a labelled-set description"), std::runtime_error);
  for (const char* garbage : {"\x01\x02garbage", "[1, 2]", "{\"task\": 3, \"short_lengths\": []}"}) {   // no library text reaches the reader
    write_file_atomic((dir / "labelled_set.json").string(), std::string_view(garbage));
    std::string e;
    try {
      LabelledSet::load(dir.string());
    } catch (const std::exception& err) {
      e = err.what();
    }
    CHECK(e.find("not a labelled-set description") != std::string::npos);
    CHECK(e.find("json.exception") == std::string::npos);
  }
  fs::remove_all(dir);
}
