// FileSourceSteps: restore and verify of an offline migration from an RDB backup
// (file_source.h).
#include "control/file_source.h"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/clock.h"
#include "control/control_errc.h"
#include "source/rdb_file_input.h"
#include "sync/restore.h"
#include "verify/rdb_file_compare.h"

namespace kf::control {
namespace {

using std::chrono::milliseconds;

}  // namespace

std::string FileSourceSteps::Identity(std::string* error) const {
  struct stat st {};
  if (::stat(spec_.source.rdb_file.c_str(), &st) != 0) {
    *error = "cannot read " + spec_.source.rdb_file + ": " + std::strerror(errno);
    return "";
  }
  const int64_t mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
  return std::to_string(st.st_size) + " " + std::to_string(mtime_ns);
}

Result<void> FileSourceSteps::Restore(const net::Uri& target, const std::atomic<bool>* stop,
                                      sync::SyncStats* stats,
                                      const std::function<void()>& save_progress,
                                      const ProviderEvent& event) {
  std::string error;
  const std::string identity = Identity(&error);
  if (identity.empty()) return MakeError(ControlErrc::kPhaseFailed, error);
  auto input = source::RdbFileInput::Open(spec_.source.rdb_file);
  if (!input) return MakeError(ControlErrc::kPhaseFailed, input.error().ToString());

  // An earlier apply wrote here and stopped part-way: the target holds its partial copy.
  auto written = journal_->Get(kKeyTargetWritten);
  if (!written) return MakeError(written.error());
  const bool partial_copy = written->has_value();
  KF_RETURN_IF_ERROR(journal_->Transaction([&]() -> Result<void> {
    KF_RETURN_IF_ERROR(journal_->Set(kKeySourceFileIdentity, identity));
    return journal_->Set(kKeyTargetWritten, "1");
  }));
  if (partial_copy) {
    event(EventKind::kInfo,
          "an earlier apply stopped during the restore: emptying the target of its partial "
          "copy and restoring the file again",
          nlohmann::json::object());
  }

  sync::RestoreOptions options;
  options.target = target;
  options.on_unsupported = spec_.migration.on_unsupported;
  options.big_key_threshold = spec_.migration.big_key_threshold;
  options.writers = spec_.migration.writers;
  options.flush_target = partial_copy;
  sync::RestoreProgress progress;
  std::atomic<bool> never{false};
  const std::atomic<bool>& stop_flag = stop != nullptr ? *stop : never;
  stats->phase = static_cast<int>(sync::SyncPhase::kSnapshot);
  stats->started_ms = UnixMillis();
  stats->full_syncs = 1;
  Result<sync::RestoreSummary> result = MakeError(ControlErrc::kPhaseFailed, "not run");
  std::atomic<bool> finished{false};
  std::thread restore([&] {
    result = sync::RestoreRdb(*input, options, &progress, stop_flag);
    finished = true;
  });
  auto last_save = std::chrono::steady_clock::now();
  auto publish = [&] {
    stats->keys_written = progress.keys_written.load();
    stats->keys_skipped = progress.keys_skipped.load();
    stats->snapshot_bytes = progress.bytes_read.load();
    stats->snapshot_total_bytes = progress.total_bytes.load();
  };
  while (!finished) {
    std::this_thread::sleep_for(milliseconds(20));
    publish();
    if (std::chrono::steady_clock::now() - last_save > milliseconds(1000)) {
      save_progress();
      last_save = std::chrono::steady_clock::now();
    }
  }
  restore.join();
  publish();
  if (!result) {
    stats->phase = static_cast<int>(sync::SyncPhase::kFailed);
    save_progress();
    return MakeError(result.error().code, "restoring " + spec_.source.rdb_file + " into " +
                                              target.Endpoint() +
                                              " failed: " + result.error().ToString());
  }
  const sync::RestoreSummary& s = *result;
  stats->keys_written = s.keys_written;
  stats->snapshot_bytes = s.bytes;
  stats->snapshot_ms = s.ms;
  stats->phase = static_cast<int>(sync::SyncPhase::kDone);
  save_progress();
  event(
      EventKind::kFinish,
      "restored " + std::to_string(s.keys_written) + " keys (" + std::to_string(s.bytes) +
          " bytes of RDB " + std::to_string(s.rdb_version) + ") and " +
          std::to_string(s.functions_loaded) + " function libraries in " + std::to_string(s.ms) +
          " ms" +
          (s.checksum_checked ? "; the file's checksum matched" : "; the file carries no checksum"),
      {{"keys", s.keys_written},
       {"keys_skipped", s.keys_skipped},
       {"keys_chunked", s.keys_chunked},
       {"functions", s.functions_loaded},
       {"bytes", s.bytes},
       {"rdb_version", s.rdb_version},
       {"checksum_checked", s.checksum_checked},
       {"ms", s.ms}});
  return {};
}

Result<void> FileSourceSteps::Verify(const net::Uri& target, const ProviderEvent& event) {
  std::string error;
  const std::string identity = Identity(&error);
  if (identity.empty()) return MakeError(ControlErrc::kVerifyMismatch, error);
  auto restored = journal_->Get(kKeySourceFileIdentity);
  if (!restored) return MakeError(restored.error());
  if (!restored->has_value() || **restored != identity) {
    return MakeError(ControlErrc::kVerifyMismatch,
                     spec_.source.rdb_file +
                         " changed since it was restored (its size or modification time is not "
                         "what it was): the target holds the file as it was then. Apply again "
                         "to restore the file as it is now; not cutting over");
  }
  auto input = source::RdbFileInput::Open(spec_.source.rdb_file);
  if (!input) return MakeError(ControlErrc::kVerifyMismatch, input.error().ToString());
  verify::RdbFileCompareOptions options;
  options.drop_field_ttls = spec_.migration.on_unsupported == sync::OnUnsupported::kDropFieldTtl;
  options.skip_field_ttl_hashes = spec_.migration.on_unsupported == sync::OnUnsupported::kSkip;
  options.big_value_bytes = spec_.migration.big_key_threshold;
  const auto started = std::chrono::steady_clock::now();
  auto report = verify::CompareRdbFileWithTarget(*input, target, options);
  if (!report) {
    return MakeError(ControlErrc::kVerifyMismatch,
                     "comparing the target with " + spec_.source.rdb_file +
                         " could not run: " + report.error().ToString() + "; not cutting over");
  }
  const int64_t ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started).count();
  nlohmann::json data = {{"keys_compared", report->keys_compared},
                         {"keys_equal", report->keys_equal},
                         {"expired_in_file", report->expired_in_file},
                         {"type_only", report->type_only},
                         {"differences", report->differences},
                         {"target_keys", report->target_keys},
                         {"expected_keys", report->expected_keys},
                         {"functions_equal", report->functions_equal},
                         {"examples", report->examples},
                         {"ms", ms}};
  if (!report->equal()) {
    std::string lines;
    for (const auto& e : report->examples) lines += "\n  " + e;
    if (!report->count_equal()) {
      lines += "\n  the target holds " + std::to_string(report->target_keys) +
               " keys, the file puts " + std::to_string(report->expected_keys) + " there";
    }
    if (!report->functions_equal) lines += "\n  the function libraries differ";
    event(EventKind::kFail, "the target differs from " + spec_.source.rdb_file, data);
    return MakeError(ControlErrc::kVerifyMismatch, "the target differs from " +
                                                       spec_.source.rdb_file + " (" +
                                                       std::to_string(report->differences) +
                                                       " keys differ); not cutting over:" + lines);
  }
  event(EventKind::kInfo,
        "the target holds exactly the file's " + std::to_string(report->expected_keys) + " keys (" +
            std::to_string(report->keys_equal) + " compared by value" +
            (report->type_only > 0
                 ? ", " + std::to_string(report->type_only) + " big ones by type and expiry only"
                 : std::string()) +
            ", " + std::to_string(report->expired_in_file) +
            " already expired in the file) and its function libraries (" + std::to_string(ms) +
            " ms)",
        data);
  return {};
}

}  // namespace kf::control
