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

namespace {
void touch(const fs::path& p) {
  fs::create_directories(p.parent_path());
  write_file_atomic(p.string(), std::string_view("x"));
}
}  // namespace

TEST_CASE("output folders: new, empty and a program's own are written, a file or a reader's folder is refused naming the flag") {
  TempDir dir("ds_claim");
  const fs::path root = dir.path;
  CHECK(folder_refusal((root / "new").string(), FolderUse::Run).empty());
  CHECK(folder_refusal((root / "new").string(), FolderUse::Checkpoint).empty());
  fs::create_directories(root / "empty");
  CHECK(folder_refusal((root / "empty").string(), FolderUse::Checkpoint).empty());
  // an existing file is never replaced by a folder
  touch(root / "notes.md");
  CHECK(folder_refusal((root / "notes.md").string(), FolderUse::Checkpoint).find("existing file") != std::string::npos);
  CHECK(folder_refusal((root / "notes.md").string(), FolderUse::Run).find("existing file") != std::string::npos);
  // a checkpoint folder: only a checkpoint's files (and a save's temporaries, a pipeline rank's folder)
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "optimizer.safetensors", "trainer_state.json", "labelled_set.json",
                        ".model.safetensors.tmp.12.0", "pipeline_rank1/trainer_state.json"})
    touch(root / "ckpt" / f);
  CHECK(folder_refusal((root / "ckpt").string(), FolderUse::Checkpoint).empty());
  // a run folder: plots, tables, JSON, a page, and checkpoints or runs inside it
  for (const char* f : {"loss.svg", "loss.csv", "summary.json", "index.html", "seed1/summary.json"}) touch(root / "run" / f);
  fs::copy(root / "ckpt", root / "run" / "checkpoint", fs::copy_options::recursive);
  fs::copy(root / "ckpt", root / "run" / "checkpoint.tmp", fs::copy_options::recursive);
  CHECK(folder_refusal((root / "run").string(), FolderUse::Run).empty());
  // a run folder is not a checkpoint (saving there would delete its plots)
  CHECK(folder_refusal((root / "run").string(), FolderUse::Checkpoint).find("not part of a checkpoint") != std::string::npos);
  // a reader's folder: one foreign file refuses it, wherever it sits
  touch(root / "ckpt" / "thesis.tex");
  CHECK(folder_refusal((root / "ckpt").string(), FolderUse::Checkpoint).find("thesis.tex") != std::string::npos);
  touch(root / "run" / "checkpoint" / "draft.docx");
  CHECK(folder_refusal((root / "run").string(), FolderUse::Run).find("draft.docx") != std::string::npos);
  touch(root / "src" / "main.cpp");
  const std::string e = test::error_of([&] { claim_folder((root / "src").string(), FolderUse::Run, "--out"); });
  CHECK(e.find("--out '") == 0);
  CHECK(e.find("main.cpp") != std::string::npos);
  CHECK(e.find("name a new or empty folder") != std::string::npos);
  CHECK(e.find("main.cpp', which no run of these programs writes") != std::string::npos);
  CHECK_NOTHROW(claim_folder((root / "run2").string(), FolderUse::Run, "--out"));
}

TEST_CASE("output folders: a checkpoint that is the run's input checkpoint is refused") {
  TempDir dir("ds_same");
  const std::string sft = (dir.path / "sft").string();
  fs::create_directories(sft);
  CHECK(test::error_of([&] { refuse_same_folder(sft, "--checkpoint", sft, "--sft"); }).find("--checkpoint '") == 0);
  CHECK_THROWS(refuse_same_folder(sft + "/", "--checkpoint", (dir.path / "x" / ".." / "sft").string(), "--sft"));   // the same folder spelt otherwise
  CHECK_NOTHROW(refuse_same_folder((dir.path / "other").string(), "--checkpoint", sft, "--sft"));
  CHECK_NOTHROW(refuse_same_folder(sft, "--checkpoint", "", "--sft"));
}

TEST_CASE("interrupted save: kill -9 between the two renames leaves DIR.old and DIR.tmp, and the next load puts the new one back") {
  TempDir dir("ds_recover");
  const fs::path ck = dir.path / "checkpoint";
  touch(dir.path / "checkpoint.old" / "trainer_state.json");
  fs::create_directories(dir.path / "checkpoint.tmp");
  write_file_atomic((dir.path / "checkpoint.tmp" / "trainer_state.json").string(), std::string_view("new"));
  CHECK(recover_interrupted_save(ck.string()));
  CHECK(read_text_file((ck / "trainer_state.json").string()) == "new");
  CHECK_FALSE(fs::exists(dir.path / "checkpoint.old"));
  CHECK_FALSE(fs::exists(dir.path / "checkpoint.tmp"));
  CHECK_FALSE(recover_interrupted_save(ck.string()));   // nothing to do when DIR is there
  // only a DIR.tmp: a first save cut short, which may be incomplete: named, not used
  const fs::path first = dir.path / "first";
  touch(dir.path / "first.tmp" / "config.json");
  const std::string e = test::error_of([&] { recover_interrupted_save(first.string()); });
  CHECK(e.find("first.tmp") != std::string::npos);
  CHECK(e.find("interrupted") != std::string::npos);
}
