// Whole-file reads and atomic writes: contents round-trip, a failed write leaves the old
// file untouched and no temporary file behind, and every error names the file.
#include <doctest/doctest.h>

#include <filesystem>
#include <random>
#include <stdexcept>

#include "common/fsutil.hpp"
#include "test_helpers.hpp"

using namespace ds;
using test::TempDir;
namespace fs = std::filesystem;

namespace {


}  // namespace

TEST_CASE("fsutil: bytes and text round-trip, a rewrite replaces the file") {
  TempDir dir;
  const std::string p = dir.file("a.bin");
  const std::vector<uint8_t> bytes = {0, 1, 2, 255, 0, 7};
  write_file_atomic(p, bytes);
  CHECK(read_file(p) == bytes);
  write_file_atomic(p, std::string_view("hello\nworld"));
  CHECK(read_text_file(p) == "hello\nworld");
  CHECK(read_file(p).size() == 11);
  write_file_atomic(p, std::string_view(""));
  CHECK(read_file(p).empty());
  CHECK(dir.count() == 1);                       // no temporary file left behind
}

TEST_CASE("fsutil: a large file reads back whole") {
  TempDir dir;
  std::vector<uint8_t> big(3'000'001);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 31 + 7);
  write_file_atomic(dir.file("big"), big.data(), big.size());
  CHECK(read_file(dir.file("big")) == big);
}

TEST_CASE("fsutil: a file name without a directory goes to the current directory") {
  TempDir dir;
  const fs::path old = fs::current_path();
  fs::current_path(dir.path);
  write_file_atomic("plain.txt", std::string_view("x"));
  CHECK(read_text_file("plain.txt") == "x");
  fs::current_path(old);
  CHECK(dir.count() == 1);
}

TEST_CASE("fsutil: reading a missing file or a directory is one clear sentence") {
  TempDir dir;
  const std::string missing = dir.file("nope.bin");
  CHECK_THROWS_WITH_AS(read_file(missing),
                       ("cannot read '" + missing + "': No such file or directory").c_str(),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(read_file(dir.path.string()),
                       ("cannot read '" + dir.path.string() + "': it is a directory, not a file").c_str(),
                       std::runtime_error);
}

TEST_CASE("fsutil: writing into a missing directory fails cleanly") {
  TempDir dir;
  const std::string p = dir.file("no/such/dir/x.bin");
  CHECK_THROWS_WITH_AS(write_file_atomic(p, std::string_view("x")),
                       doctest::Contains(("cannot write '" + p + "': No such file or directory").c_str()),
                       std::runtime_error);
  CHECK(dir.count() == 0);
}

TEST_CASE("fsutil: a failed write leaves the old contents and no temporary file") {
  TempDir dir;
  // The target is a non-empty directory, so the final rename fails after the data is written:
  // the same position an interrupted save is in. Nothing may change.
  const std::string target = dir.file("ckpt");
  fs::create_directories(target);
  write_file_atomic(dir.file("ckpt/inside"), std::string_view("old"));
  CHECK_THROWS_WITH_AS(write_file_atomic(target, std::string_view("new")),
                       doctest::Contains(("cannot write '" + target + "'").c_str()), std::runtime_error);
  CHECK(read_text_file(dir.file("ckpt/inside")) == "old");
  CHECK(dir.count() == 1);                       // only ckpt/, the temporary file was removed
}
