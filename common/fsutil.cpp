// POSIX calls rather than iostreams: only they can fsync, and errno gives the exact reason
// ("No such file or directory", "Permission denied") for the error sentence.
#include "common/fsutil.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace ds {

namespace {

std::string errno_text(int err) { return std::generic_category().message(err); }

[[noreturn]] void write_error(const std::string& path, const std::string& why) {
  throw std::runtime_error("cannot write '" + path + "': " + why);
}

[[noreturn]] void read_error(const std::string& path, const std::string& why) {
  throw std::runtime_error("cannot read '" + path + "': " + why);
}

// Closes the descriptor on every path out of a function, including exceptions.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int release() { return std::exchange(fd, -1); }
};

std::string directory_of(const std::string& path) {
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  return dir.empty() ? std::string(".") : dir.string();
}

// A name no other writer uses: the process id keeps processes apart, the counter threads.
// The leading dot keeps a stray temp file (after a crash) out of ordinary listings.
std::string temp_name(const std::string& path, uint64_t n) {
  const std::filesystem::path p(path);
  std::string name = ".";                        // appends, not '+': GCC 12 -O3 misreports
  name += p.filename().string();                 // "." + string as an overlapping memcpy
  name += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(n);
  return (p.parent_path() / name).string();
}

// Creates the temp file with O_EXCL, so an old leftover of the same name is never reused.
// Mode 0666 minus the umask gives the permissions an ordinary new file would get.
int create_temp(const std::string& path, std::string& tmp) {
  static std::atomic<uint64_t> counter{0};
  for (int attempt = 0; attempt < 100; ++attempt) {
    tmp = temp_name(path, counter++);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return fd;
    if (errno != EEXIST)
      write_error(path, errno_text(errno) + " (could not create a temporary file in '" +
                            directory_of(path) + "')");
  }
  write_error(path, "could not find a free temporary file name");
}

void write_all(int fd, const void* data, size_t size, const std::string& path) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {                             // write() may take only part of the buffer
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) write_error(path, errno_text(errno));
    p += n;
    size -= static_cast<size_t>(n);
  }
}

// Makes the rename itself durable. Some file systems cannot fsync a directory; the data is
// already safe by then, so a failure here is not an error.
void sync_directory(const std::string& dir) {
  Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.fd >= 0) ::fsync(d.fd);
}

}  // namespace

void write_file_atomic(const std::string& path, const void* data, size_t size) {
  std::string tmp;
  Fd fd(create_temp(path, tmp));
  try {
    write_all(fd.fd, data, size, path);
    if (::fsync(fd.fd) != 0) write_error(path, errno_text(errno));
    if (::close(fd.release()) != 0) write_error(path, errno_text(errno));
    if (::rename(tmp.c_str(), path.c_str()) != 0) write_error(path, errno_text(errno));
  } catch (...) {
    ::unlink(tmp.c_str());                       // the target is untouched; drop the temp
    throw;
  }
  sync_directory(directory_of(path));
}

void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes) {
  write_file_atomic(path, bytes.data(), bytes.size());
}

void write_file_atomic(const std::string& path, std::string_view text) {
  write_file_atomic(path, text.data(), text.size());
}

std::vector<uint8_t> read_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.fd < 0) read_error(path, errno_text(errno));
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0) read_error(path, errno_text(errno));
  if (S_ISDIR(st.st_mode)) read_error(path, "it is a directory, not a file");
  // Read straight into a buffer of the file's size; the small buffer only probes for EOF
  // (and carries files that have no size, such as pipes and /proc entries).
  std::vector<uint8_t> bytes(S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) : 0);
  size_t used = 0;
  uint8_t probe[1 << 12];
  for (;;) {
    const bool full = used == bytes.size();
    uint8_t* dst = full ? probe : bytes.data() + used;
    const ssize_t n = ::read(fd.fd, dst, full ? sizeof probe : bytes.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) read_error(path, errno_text(errno));
    if (n == 0) break;
    if (full) bytes.insert(bytes.end(), probe, probe + n);
    used += static_cast<size_t>(n);
  }
  bytes.resize(used);                            // the file may have shrunk while we read
  return bytes;
}

std::string read_text_file(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace ds

namespace ds {

namespace {

namespace fs = std::filesystem;

// write_file_atomic's temporaries (".NAME.tmp.PID.N") and a save's sibling folders.
bool is_temp_name(const std::string& name) { return name.size() > 1 && name[0] == '.' && name.find(".tmp.") != std::string::npos; }

bool ends_with(const std::string& s, const std::string& tail) { return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0; }

const char* const kCheckpointFiles[] = {"config.json",        "model.safetensors", "tokenizer.json",    "optimizer.safetensors",
                                         "trainer_state.json", "labelled_set.json", "pipeline.json"};

bool is_checkpoint_file(const std::string& name) {
  for (const char* f : kCheckpointFiles)
    if (name == f) return true;
  return is_temp_name(name);
}

bool is_rank_folder_name(const std::string& name) {
  const std::string prefix = "pipeline_rank";
  return name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
         name.find_first_not_of("0123456789", prefix.size()) == std::string::npos;
}

bool is_run_file(const std::string& name) {
  if (is_temp_name(name)) return true;
  for (const char* ext : {".svg", ".csv", ".json", ".html", ".txt", ".log", ".safetensors", ".jsonl"})
    if (ends_with(name, ext)) return true;
  return false;
}

// The first entry of dir that a folder of this use would not hold ("" = none); depth bounds the
// nesting of run folders inside run folders.
std::string foreign_entry(const fs::path& dir, FolderUse use, int depth) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const bool is_dir = it->is_directory(ec) && !it->is_symlink(ec);
    const bool is_file = it->is_regular_file(ec) && !it->is_symlink(ec);
    if (use == FolderUse::Checkpoint) {
      if (is_file && is_checkpoint_file(name)) continue;
      if (is_dir && is_rank_folder_name(name) && foreign_entry(it->path(), FolderUse::Checkpoint, 0).empty()) continue;
    } else {
      if (is_file && is_run_file(name)) continue;
      if (is_dir && foreign_entry(it->path(), FolderUse::Checkpoint, 0).empty()) continue;   // a checkpoint (or its .tmp/.old)
      if (is_dir && depth > 0) {   // a run's folder of runs (seeds, stages), or else the file inside that is not a run's
        const std::string inner = foreign_entry(it->path(), FolderUse::Run, depth - 1);
        if (inner.empty()) continue;
        return inner;
      }
    }
    return (it->path()).string() + (is_dir ? "/" : "");
  }
  if (ec) return dir.string() + " (unreadable: " + ec.message() + ")";
  return "";
}

}  // namespace

std::string folder_refusal(const std::string& dir, FolderUse use) {
  if (dir.empty()) return "is empty";
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(dir, ec);
  if (!fs::exists(st)) return "";   // new
  if (!fs::is_directory(st)) return "is an existing file, not a folder";
  const std::string foreign = foreign_entry(dir, use, 3);
  if (foreign.empty()) return "";
  return use == FolderUse::Checkpoint ? "holds '" + foreign + "', which is not part of a checkpoint, and a save replaces the whole folder"
                                      : "holds '" + foreign + "', which no run of these programs writes";
}

void claim_folder(const std::string& dir, FolderUse use, const std::string& flag) {
  const std::string why = folder_refusal(dir, use);
  if (why.empty()) return;
  throw std::runtime_error(flag + " '" + dir + "' " + why + ": name a new or empty folder (or one " +
                           (use == FolderUse::Checkpoint ? "a checkpoint was saved in" : "a run wrote") + "), so that none of your files is overwritten");
}

void refuse_same_folder(const std::string& output, const std::string& output_flag, const std::string& input, const std::string& input_flag) {
  if (input.empty() || output.empty()) return;
  std::error_code e1, e2;
  const fs::path a = fs::weakly_canonical(output, e1), b = fs::weakly_canonical(input, e2);
  if (e1 || e2 ? fs::path(output).lexically_normal() != fs::path(input).lexically_normal() : a != b) return;
  throw std::runtime_error(output_flag + " '" + output + "' is the folder " + input_flag +
                           " reads from; saving there would overwrite the checkpoint this run starts from: name another folder");
}

bool recover_interrupted_save(const std::string& dir) {
  std::error_code ec;
  const fs::path target = fs::path(dir).lexically_normal();
  if (target.empty() || fs::exists(target, ec)) return false;
  const fs::path tmp = target.string() + ".tmp", old = target.string() + ".old";
  const bool has_tmp = fs::is_directory(tmp, ec), has_old = fs::is_directory(old, ec);
  if (has_tmp && has_old) {   // killed between the renames: the new folder was complete
    fs::rename(tmp, target, ec);
    if (ec)
      throw std::runtime_error("'" + dir + "' was being saved when the program stopped; move '" + tmp.string() + "' to '" + dir + "' (" + ec.message() + ")");
    fs::remove_all(old, ec);
    return true;
  }
  if (has_old) {
    fs::rename(old, target, ec);
    return !ec;
  }
  if (has_tmp)
    throw std::runtime_error("'" + dir + "' does not exist: its first save was interrupted, and '" + tmp.string() +
                             "' may be incomplete; start the run again");
  return false;
}

}  // namespace ds
