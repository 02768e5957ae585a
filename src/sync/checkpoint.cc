// Checkpoint file reading and atomic writing.
#include "sync/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/clock.h"
#include "sync/sync_errc.h"

namespace kf::sync {

Result<std::optional<Checkpoint>> LoadCheckpoint(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return std::optional<Checkpoint>();
    return MakeError(SyncErrc::kCheckpoint,
                     "cannot read checkpoint " + path + ": " + std::strerror(errno));
  }
  std::stringstream text;
  text << in.rdbuf();
  auto json = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object() || !json.contains("replid") ||
      !json["replid"].is_string() || !json.contains("offset") ||
      !json["offset"].is_number_integer()) {
    return MakeError(
        SyncErrc::kCheckpoint,
        "checkpoint " + path +
            " is not a keyferry checkpoint (expected {\"replid\":...,\"offset\":...}); "
            "move it away to start with a full sync");
  }
  Checkpoint cp;
  cp.replid = json["replid"].get<std::string>();
  if (json.contains("id") && json["id"].is_string()) cp.id = json["id"].get<std::string>();
  cp.offset = json["offset"].get<int64_t>();
  if (json.contains("db") && json["db"].is_number_integer()) cp.db = json["db"].get<int>();
  if (json.contains("updated_ms") && json["updated_ms"].is_number_integer()) {
    cp.updated_ms = json["updated_ms"].get<int64_t>();
  }
  return std::optional<Checkpoint>(cp);
}

Result<void> SaveCheckpoint(const std::string& path, const Checkpoint& checkpoint) {
  nlohmann::json json = {
      {"id", checkpoint.id},
      {"replid", checkpoint.replid},
      {"offset", checkpoint.offset},
      {"db", checkpoint.db},
      {"updated_ms", checkpoint.updated_ms ? checkpoint.updated_ms : UnixMillis()}};
  std::string text = json.dump() + "\n";
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return MakeError(SyncErrc::kCheckpoint,
                     "cannot write checkpoint " + tmp + ": " + std::strerror(errno) +
                         "; check that the directory exists and is writable");
  }
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) saved = errno;
    return MakeError(SyncErrc::kCheckpoint,
                     "cannot write checkpoint " + path + ": " + std::strerror(saved));
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

}  // namespace kf::sync
