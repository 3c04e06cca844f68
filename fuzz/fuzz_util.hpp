// What every fuzz target here shares: the contract a reader keeps on any input, and a
// scratch file for the readers that take a path.
//
// The contract for bad input: a reader either returns something usable or throws
// std::runtime_error with one sentence. Any other exception (a json::type_error, an
// std::out_of_range from .at(), std::bad_alloc) escapes the target and libFuzzer reports it as
// a crash, as it does for ASan/UBSan reports, hangs (-timeout) and leaks.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ds::fuzz {

// An accepted input that breaks an invariant: print why and abort, so libFuzzer keeps it.
[[noreturn]] inline void fail(const std::string& why) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", why.c_str());
  std::abort();
}

// True if read() returned, false if it refused the input with a non-empty sentence.
template <class F>
bool accepts(F&& read) {
  try {
    read();
    return true;
  } catch (const std::runtime_error& e) {
    if (std::string_view(e.what()).empty()) fail("a reader threw std::runtime_error with no message");
    return false;
  }
}

// A file under the temp dir, private to this process, rewritten with each input.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& name)
      : dir_(std::filesystem::temp_directory_path() / ("ds_fuzz_" + std::to_string(::getpid()))),
        path_((dir_ / name).string()) {
    std::filesystem::create_directories(dir_);
  }
  ~ScratchFile() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  const std::string& path() const { return path_; }
  const std::string& write(std::string_view bytes) const {
    std::ofstream(path_, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path_;
  }
  // Another file in the same private directory (for writers that need their own path).
  std::string sibling(const std::string& name) const { return (dir_ / name).string(); }

 private:
  std::filesystem::path dir_;
  std::string path_;
};

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace ds::fuzz
