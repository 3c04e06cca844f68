// Whole-file reads and crash-safe writes. A training run that is killed while saving a
// checkpoint must not leave a half-written model.safetensors behind: the next run would
// resume from garbage, or refuse to start. So every write goes to a temporary file in the
// same directory, is flushed to disk (fsync), and only then renamed over the target. A
// rename within one file system is atomic: readers see the old file or the new one, never
// a mix. Errors are one std::runtime_error sentence naming the file and the reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ds {

// Replace `path` atomically with the given bytes. The directory must exist.
void write_file_atomic(const std::string& path, const void* data, size_t size);
void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes);
void write_file_atomic(const std::string& path, std::string_view text);

// The whole file. Throws "cannot read 'PATH': REASON" (missing, a directory, unreadable).
std::vector<uint8_t> read_file(const std::string& path);
std::string read_text_file(const std::string& path);

}  // namespace ds

namespace ds {

// Output folders. A program writes only into a folder that is new, empty, or recognisably its
// own, so that `--out ~` or `--checkpoint ~/thesis` can never replace a reader's files:
//  - a checkpoint folder holds only the files a checkpoint holds (config.json, model.safetensors,
//    tokenizer.json, optimizer.safetensors, trainer_state.json, labelled_set.json, pipeline.json,
//    pipeline_rank<N>/ with a rank's optimizer state) and the temporary files of a save;
//  - a run folder holds only what runs write (plots .svg, tables .csv, .json, .html, .txt, .log,
//    .safetensors) and folders that are checkpoints or run folders themselves.
enum class FolderUse { Run, Checkpoint };

// "" when `dir` may be written as `use`, else why not: a predicate for the folder ("is an
// existing file, not a folder", "holds 'DIR/x.tex', which ...").
std::string folder_refusal(const std::string& dir, FolderUse use);
// Throws one sentence naming the flag ("--out 'X' ...") when folder_refusal objects.
void claim_folder(const std::string& dir, FolderUse use, const std::string& flag);
// Throws when the folder `output` (flag `output_flag`) is the folder `input` (`input_flag`): a
// run must not save over the checkpoint it starts from. An empty input is no input.
void refuse_same_folder(const std::string& output, const std::string& output_flag, const std::string& input, const std::string& input_flag);

// A checkpoint save writes DIR.tmp/, then renames DIR to DIR.old/ and DIR.tmp/ to DIR (ch06's
// write_folder_atomic). A kill -9 between the two renames leaves no DIR, a complete DIR.tmp/ and
// the previous DIR.old/: this puts the complete one back under DIR. Called before reading DIR;
// returns true when it recovered. Throws naming the leftovers when DIR is missing and they
// cannot be told apart.
bool recover_interrupted_save(const std::string& dir);

}  // namespace ds
