// StandaloneWriter (one server) and OpenWriter, which picks the writer a target needs.
#include "target/writer.h"

#include "net/cluster_slots.h"
#include "net/identity_probe.h"
#include "target/cluster_writer.h"
#include "target/target_errc.h"

namespace kf::target {

Result<void> StandaloneWriter::Connect() {
  Close();
  net::ClientOptions admin;
  admin.client_name = "keyferry-admin";
  auto connected = admin_.Connect(target_, admin);
  if (!connected) {
    return MakeError(connected.error().code,
                     "cannot reach the target: " + connected.error().ToString());
  }
  net::ClientOptions stream;
  stream.client_name = "keyferry-stream";
  auto w = stream_.Connect(target_, stream);
  if (!w) return MakeError(w.error());
  return {};
}

void StandaloneWriter::Close() {
  admin_.Close();
  stream_.Close();
}

Result<std::vector<NodeInfo>> StandaloneWriter::Info(const char* section) {
  auto reply = admin_.Call({"INFO", section});
  if (!reply) return MakeError(reply.error());
  if (reply->is_error()) {
    return MakeError(TargetErrc::kRejected, "INFO " + std::string(section) + " on the target " +
                                                target_.Endpoint() +
                                                " was refused: " + reply->str());
  }
  return std::vector<NodeInfo>{{target_.Endpoint(), reply->str()}};
}

Result<void> StandaloneWriter::FlushAll() {
  auto flushed = admin_.Call({"FLUSHALL"});
  if (!flushed) return MakeError(flushed.error());
  if (flushed->is_error()) {
    return MakeError(TargetErrc::kRejected,
                     "FLUSHALL on the target " + target_.Endpoint() + " failed: " + flushed->str());
  }
  return {};
}

Result<std::vector<NodeReply>> StandaloneWriter::CallEveryPrimary(
    const std::vector<std::string>& args) {
  auto reply = admin_.Call(args);
  if (!reply) return MakeError(reply.error());
  if (reply->is_error()) {
    return MakeError(TargetErrc::kRejected, args.front() + " on the target " + target_.Endpoint() +
                                                " was refused: " + reply->str());
  }
  return std::vector<NodeReply>{{target_.Endpoint(), std::move(*reply)}};
}

Result<std::optional<AppliedMarker>> StandaloneWriter::ReadMarker() {
  auto sel = admin_.Call({"SELECT", "0"});
  if (!sel) return MakeError(sel.error());
  auto reply = admin_.Call({"GET", marker_key_});
  if (!reply) return MakeError(reply.error());
  if (reply->is_null()) return std::optional<AppliedMarker>();
  auto marker = reply->is_error() ? std::nullopt : ParseMarker(reply->str());
  if (!marker) {
    return MakeError(TargetErrc::kForeignMarker,
                     "the target " + target_.Endpoint() + " holds a key named " + marker_key_ +
                         " that keyferry did not write; keyferry reserves that name. Rename or "
                         "delete it on the target and run again");
  }
  return std::optional<AppliedMarker>(*marker);
}

Result<void> StandaloneWriter::WriteMarker(const AppliedMarker& marker) {
  auto sel = admin_.Call({"SELECT", "0"});
  if (!sel) return MakeError(sel.error());
  auto set = admin_.Call({"SET", marker_key_, EncodeMarker(marker)});
  if (!set) return MakeError(set.error());
  if (!set->IsOk()) {
    return MakeError(TargetErrc::kRejected,
                     "the target " + target_.Endpoint() +
                         " refused keyferry's applied-offset marker: " + set->str());
  }
  return {};
}

Result<void> StandaloneWriter::DeleteMarkers() {
  auto sel = admin_.Call({"SELECT", "0"});
  if (!sel) return MakeError(sel.error());
  auto removed = admin_.Call({"DEL", marker_key_});
  if (!removed) return MakeError(removed.error());
  if (removed->is_error()) {
    return MakeError(TargetErrc::kRejected, "DEL " + marker_key_ + " on the target " +
                                                target_.Endpoint() + " failed: " + removed->str());
  }
  return {};
}

Result<uint64_t> StandaloneWriter::DeleteKeysInSlots(const std::vector<net::SlotRange>& slots,
                                                     int db) {
  auto failed = [&](const std::string& what) {
    return MakeError(TargetErrc::kRejected, "deleting the keys of slots " +
                                                net::SlotRangesToString(slots) + " from db " +
                                                std::to_string(db) + " of the target " +
                                                target_.Endpoint() + " failed: " + what);
  };
  auto sel = admin_.Call({"SELECT", std::to_string(db)});
  if (!sel) return MakeError(sel.error());
  if (sel->is_error()) return failed("SELECT answered " + sel->str());
  uint64_t deleted = 0;
  std::string cursor = "0";
  // SCAN ends when the cursor comes back to 0; the bound only stops a server that never
  // says so.
  for (int rounds = 0; rounds < 10'000'000; ++rounds) {
    auto scan = admin_.Call({"SCAN", cursor, "COUNT", "1000"});
    if (!scan) return MakeError(scan.error());
    if (scan->is_error() || scan->size() != 2) return failed("SCAN answered " + scan->str());
    cursor = (*scan)[0].str();
    std::vector<std::string> unlink = {"UNLINK"};
    for (const auto& k : (*scan)[1].children()) {
      const std::string& key = k.str();
      if (key.starts_with(kAppliedMarkerKey)) continue;  // every sync's marker stays
      const int slot = net::KeySlot(key);
      for (const auto& range : slots) {
        if (range.Contains(slot)) {
          unlink.push_back(key);
          break;
        }
      }
    }
    if (unlink.size() > 1) {
      auto r = admin_.Call(unlink);
      if (!r) return MakeError(r.error());
      if (r->is_error()) return failed("UNLINK answered " + r->str());
      deleted += unlink.size() - 1;
    }
    if (cursor == "0") break;
  }
  auto back = admin_.Call({"SELECT", "0"});
  if (!back) return MakeError(back.error());
  return deleted;
}

std::unique_ptr<SnapshotLanes> StandaloneWriter::NewSnapshotLanes(LaneOptions options) {
  return std::make_unique<SnapshotLanes>(target_, std::move(options));
}

Result<std::unique_ptr<Writer>> OpenWriter(const net::Uri& target) {
  net::ClientOptions co;
  co.client_name = "keyferry-admin";
  auto identity = net::ReadServerIdentity(target, co);
  if (!identity) {
    return MakeError(identity.error().code,
                     "cannot reach the target: " + identity.error().ToString());
  }
  if (!identity->cluster()) {
    return std::unique_ptr<Writer>(std::make_unique<StandaloneWriter>(target));
  }
  return std::unique_ptr<Writer>(std::make_unique<ClusterWriter>(target));
}

}  // namespace kf::target
