// The checkpoint path check: see checkpoint_path.h.
#include "sync/checkpoint_path.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "sync/sync_errc.h"

namespace kf::sync {

Result<void> CheckCheckpointPath(const std::string& path) {
  namespace fs = std::filesystem;
  if (path.empty()) {
    return MakeError(SyncErrc::kCheckpoint, "--checkpoint is empty; give a file name");
  }
  fs::path file(path);
  fs::path dir = file.parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return MakeError(SyncErrc::kCheckpoint,
                     "cannot keep the checkpoint " + path + ": the directory " + dir.string() +
                         (fs::exists(dir, ec) ? " is not a directory" : " does not exist") +
                         "; create it or choose another --checkpoint path (nothing was copied)");
  }
  if (fs::exists(file, ec) && !fs::is_regular_file(file, ec)) {
    return MakeError(SyncErrc::kCheckpoint, "cannot keep the checkpoint " + path +
                                                ": it exists and is not a regular file; choose "
                                                "another --checkpoint path (nothing was copied)");
  }
  // The same kind of file SaveCheckpoint writes next to FILE, created and removed at once.
  std::string probe = path + ".probe-" + std::to_string(::getpid());
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    int err = errno;
    return MakeError(SyncErrc::kCheckpoint,
                     "cannot keep the checkpoint " + path + ": creating a file in " + dir.string() +
                         " failed (" + std::strerror(err) +
                         "); make the directory writable for this user or choose another "
                         "--checkpoint path (nothing was copied)");
  }
  ::close(fd);
  ::unlink(probe.c_str());
  return {};
}

}  // namespace kf::sync
