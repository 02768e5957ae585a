// RdbFileInput: the bytes of an RDB backup file, or of standard input ("-"), read in
// chunks for `keyferry restore`. It never holds the file: each Read() fills the caller's
// buffer, so a file of any size (or a download piped in) flows through bounded memory.
//
// Contract:
//   - Open(path): "-" is standard input (size unknown); anything else must be a readable
//     regular file (a directory, a missing file or a permission problem is kOpen with a
//     message naming the path and what to do).
//   - Read(buffer) returns 1..buffer.size() bytes, 0 at the end of the input, or kRead.
//     An input that ends early is not detected here: the RDB reader's Finish() says so.
//   - size() is the file's size when it is a regular file (for progress), else nullopt.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>

#include "common/result.h"

namespace kf::source {

enum class RdbFileErrc {
  kOpen = 1,  // the file cannot be opened (missing, a directory, no permission)
  kRead,      // reading failed part-way (an I/O error, not an early end)
};

const std::error_category& RdbFileCategory();
inline std::error_code make_error_code(RdbFileErrc e) {
  return {static_cast<int>(e), RdbFileCategory()};
}

}  // namespace kf::source

template <>
struct std::is_error_code_enum<kf::source::RdbFileErrc> : std::true_type {};

namespace kf::source {

// Closes a file it owns; leaves standard input open.
struct RdbFileCloser {
  bool close = true;
  void operator()(std::FILE* f) const {
    if (close && f != nullptr) std::fclose(f);
  }
};

class RdbFileInput {
 public:
  static Result<RdbFileInput> Open(const std::string& path);

  Result<size_t> Read(std::span<uint8_t> buffer);
  std::optional<uint64_t> size() const { return size_; }
  // "FILE" or "standard input", for messages.
  const std::string& name() const { return name_; }
  bool is_stdin() const { return is_stdin_; }

 private:
  std::unique_ptr<std::FILE, RdbFileCloser> file_;
  std::optional<uint64_t> size_;
  std::string name_;
  bool is_stdin_ = false;
};

}  // namespace kf::source
