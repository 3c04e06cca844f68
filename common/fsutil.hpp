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
