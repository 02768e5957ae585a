// Restore: an RDB backup into a Valkey target through the snapshot path (restore.h).
#include "sync/restore.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>
#include <vector>

#include "common/clock.h"
#include "rdb/reader.h"
#include "sync/key_filter.h"
#include "sync/sync_errc.h"
#include "sync/target_checks.h"
#include "target/applied_marker.h"
#include "target/writer.h"

namespace kf::sync {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = size_t{1} << 20;

// Hands every reader event to the snapshot sink, noting the file's version and whether
// its checksum was compared (for the summary).
class RestoreSink : public rdb::RdbSink {
 public:
  explicit RestoreSink(rdb::RdbSink* inner) : inner_(inner) {}
  void OnHeader(const rdb::RdbFormat& format) override {
    version = format.version;
    inner_->OnHeader(format);
  }
  void OnAux(ByteView key, ByteView value) override { inner_->OnAux(key, value); }
  void OnSelectDb(uint64_t db) override { inner_->OnSelectDb(db); }
  void OnResizeDb(uint64_t size, uint64_t expires) override { inner_->OnResizeDb(size, expires); }
  void OnSlotInfo(uint64_t slot, uint64_t size, uint64_t expires) override {
    inner_->OnSlotInfo(slot, size, expires);
  }
  void OnFunction(const rdb::FunctionLibrary& library) override { inner_->OnFunction(library); }
  void OnModuleAux(const rdb::ModuleAux& aux) override { inner_->OnModuleAux(aux); }
  rdb::AccessLevel OnKey(const rdb::KeyInfo& key) override { return inner_->OnKey(key); }
  void OnRawValue(const rdb::KeyInfo& key, ByteView part, bool last) override {
    inner_->OnRawValue(key, part, last);
  }
  void OnStructBlob(const rdb::KeyInfo& key, const rdb::StructBlob& blob) override {
    inner_->OnStructBlob(key, blob);
  }
  void OnValue(const rdb::KeyInfo& key, rdb::Value& part, bool last) override {
    inner_->OnValue(key, part, last);
  }
  void OnKeyEnd(const rdb::KeyInfo& key, uint64_t bytes) override { inner_->OnKeyEnd(key, bytes); }
  void OnEof(const rdb::EofInfo& eof) override {
    checksum_checked = eof.checksum_checked;
    inner_->OnEof(eof);
  }

  int version = 0;
  bool checksum_checked = false;

 private:
  rdb::RdbSink* inner_;
};

// Streams the file into the target. Everything that can fail after the first write.
Result<void> Copy(source::RdbFileInput& input, const RestoreOptions& options,
                  target::Writer& writer, int target_rdb_version, const KeyFilter& filter,
                  DbLanding& landing, RestoreProgress* progress, const std::atomic<bool>& stop,
                  RestoreSummary* summary) {
  target::LaneOptions lo;
  lo.lanes = options.writers;
  lo.client.client_name = "keyferry-restore";
  auto lanes = writer.NewSnapshotLanes(lo);
  KF_RETURN_IF_ERROR(lanes->Start());
  SnapshotSinkOptions so;
  if (!writer.supports_mset()) so.mset_pairs = 0;  // a cluster: one MSET must stay in a slot
  so.target_rdb_version = target_rdb_version;
  so.on_unsupported = options.on_unsupported;
  SnapshotSink sink(lanes.get(), &filter, &landing, so);
  RestoreSink counting(&sink);
  rdb::ReaderOptions ro;
  ro.big_value_bytes = options.big_key_threshold;
  rdb::RdbReader reader(&counting, ro);
  std::vector<uint8_t> buf(kReadChunk);
  uint64_t offset = 0;
  for (;;) {
    if (stop) {
      return MakeError(SyncErrc::kStopped, "stopped at byte " + std::to_string(offset) + " of " +
                                               input.name() + " on request");
    }
    auto n = input.Read(buf);
    if (!n) return MakeError(n.error());
    if (*n == 0) break;
    auto fed = reader.Feed(ByteView(buf.data(), *n));
    offset += *n;
    progress->bytes_read = offset;
    if (!fed) {
      return MakeError(fed.error().code,
                       input.name() + " is not a readable RDB file: " + fed.error().ToString());
    }
    if (sink.error()) return MakeError(*sink.error());
    progress->keys_written = sink.keys_written();
    progress->keys_skipped = sink.keys_skipped();
  }
  auto finished = reader.Finish();
  if (!finished) {
    return MakeError(
        finished.error().code,
        input.name() + " ended before its end-of-file record after " + std::to_string(offset) +
            " bytes (a truncated or incomplete download?): " + finished.error().ToString());
  }
  sink.Flush();
  if (sink.error()) return MakeError(*sink.error());
  auto drained = lanes->Drain();  // the barrier: every write answered
  if (!drained) return MakeError(drained.error());
  if (sink.error()) return MakeError(*sink.error());
  summary->bytes = offset;
  summary->rdb_version = counting.version;
  summary->checksum_checked = counting.checksum_checked;
  summary->keys_written = sink.keys_written();
  summary->keys_skipped = sink.keys_skipped();
  summary->keys_chunked = sink.keys_chunked();
  summary->functions_loaded = sink.functions_loaded();
  progress->keys_written = sink.keys_written();
  progress->keys_skipped = sink.keys_skipped();
  return {};
}

}  // namespace

Result<RestoreSummary> RestoreRdb(source::RdbFileInput& input, const RestoreOptions& options,
                                  RestoreProgress* progress, const std::atomic<bool>& stop) {
  auto start = Clock::now();
  progress->started_ms = UnixMillis();
  progress->total_bytes = input.size().value_or(0);
  RestoreSummary summary;
  summary.source = input.name();
  const KeyFilter filter(options.match, options.exclude);
  auto db_map = DbMap::Parse(options.db_map);
  if (!db_map) return MakeError(db_map.error());
  DbLanding landing(&*db_map);

  auto opened = target::OpenWriter(options.target);
  if (!opened) return MakeError(opened.error());
  target::Writer& writer = **opened;
  KF_RETURN_IF_ERROR(writer.Connect());
  summary.target = writer.Describe();
  if (writer.is_cluster()) landing.set_single_db(writer.Describe());
  auto version = TargetRdbVersion(writer);
  if (!version) return MakeError(version.error());
  KF_RETURN_IF_ERROR(RefuseEvictingTarget(writer));
  auto keys = TargetKeyCount(writer);
  if (!keys) return MakeError(keys.error());
  auto libraries = TargetFunctionLibraryCount(writer);
  if (!libraries) return MakeError(libraries.error());
  if ((*keys > 0 || *libraries > 0) && !options.flush_target) {
    return MakeError(SyncErrc::kTargetNotEmpty,
                     "the target " + writer.Describe() + " already holds " + std::to_string(*keys) +
                         " keys and " + std::to_string(*libraries) +
                         " function libraries; restore loads into an empty target. Empty it, "
                         "point --target at another one, or pass --flush-target to delete "
                         "them. Nothing was written");
  }
  if (*keys > 0 || *libraries > 0) {
    KF_RETURN_IF_ERROR(EmptyTarget(writer));
    summary.target_flushed = true;
    spdlog::info("deleted the {} keys and {} function libraries the target held (--flush-target)",
                 *keys, *libraries);
  }
  const int64_t evicted_before = TargetEvictedKeys(writer);

  // The flag: a partial copy carries a marker in state "snapshot".
  target::AppliedMarker flag;
  flag.id = target::NewMigrationId();
  flag.state = target::MarkerState::kSnapshot;
  flag.replid = "restore";
  KF_RETURN_IF_ERROR(writer.WriteMarker(flag));

  auto copied = Copy(input, options, writer, *version, filter, landing, progress, stop, &summary);
  if (copied && evicted_before >= 0 && TargetEvictedKeys(writer) > evicted_before) {
    copied = MakeError(SyncErrc::kTargetDropped,
                       "the target " + writer.Describe() +
                           " evicted keys during the restore (INFO stats evicted_keys): the "
                           "copy is not complete. Give it more memory and run again");
  }
  if (copied) copied = writer.DeleteMarkers();
  if (!copied) {
    // The target was empty when the restore began: leave it so.
    Error cause = copied.error();
    writer.Close();
    Result<void> emptied = writer.Connect();
    if (emptied) emptied = EmptyTarget(writer);
    if (emptied) {
      return MakeError(cause.code, cause.message +
                                       ". The target was emptied again (FLUSHALL, FUNCTION "
                                       "FLUSH), as it was before the restore; fix the cause and "
                                       "run it again");
    }
    return MakeError(cause.code, cause.message + ". Emptying the target again failed too (" +
                                     emptied.error().ToString() +
                                     "): it holds a partial copy, flagged by the key " +
                                     std::string(target::kAppliedMarkerKey) +
                                     "; run the restore again with --flush-target");
  }
  summary.ms = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  return summary;
}

}  // namespace kf::sync
