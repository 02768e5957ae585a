// RdbFileInput: reads an RDB backup file or standard input in chunks (rdb_file_input.h).
#include "source/rdb_file_input.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace kf::source {
namespace {

class RdbFileCategoryImpl : public std::error_category {
 public:
  const char* name() const noexcept override { return "rdb-file"; }
  std::string message(int code) const override {
    switch (static_cast<RdbFileErrc>(code)) {
      case RdbFileErrc::kOpen:
        return "cannot open the RDB file";
      case RdbFileErrc::kRead:
        return "reading the RDB file failed";
    }
    return "rdb-file error";
  }
};

}  // namespace

const std::error_category& RdbFileCategory() {
  static const RdbFileCategoryImpl category;
  return category;
}

Result<RdbFileInput> RdbFileInput::Open(const std::string& path) {
  RdbFileInput in;
  if (path == "-") {
    in.file_ = std::unique_ptr<std::FILE, RdbFileCloser>(stdin, RdbFileCloser{false});
    in.name_ = "standard input";
    in.is_stdin_ = true;
    return in;
  }
  in.name_ = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return MakeError(RdbFileErrc::kOpen, "cannot open " + path + ": " + std::strerror(errno) +
                                             "; check the path (use - to read standard input)");
  }
  if (!S_ISREG(st.st_mode)) {
    return MakeError(RdbFileErrc::kOpen,
                     path + " is not a regular file; name an RDB file (or - and pipe it in)");
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return MakeError(RdbFileErrc::kOpen, "cannot open " + path + ": " + std::strerror(errno) +
                                             "; check that this user may read it");
  }
  in.file_ = std::unique_ptr<std::FILE, RdbFileCloser>(f, RdbFileCloser{true});
  in.size_ = static_cast<uint64_t>(st.st_size);
  return in;
}

Result<size_t> RdbFileInput::Read(std::span<uint8_t> buffer) {
  size_t n = std::fread(buffer.data(), 1, buffer.size(), file_.get());
  if (n == 0 && std::ferror(file_.get())) {
    return MakeError(RdbFileErrc::kRead,
                     "reading " + name_ + " failed: " + std::strerror(errno) +
                         "; check the disk or the program piping the file in, and run again");
  }
  return n;
}

}  // namespace kf::source
