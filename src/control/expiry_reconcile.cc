// Expiry reconciliation inside the write pause (see expiry_reconcile.h).
#include "control/expiry_reconcile.h"

#include "control/control_errc.h"
#include "control/routed_target.h"
#include "net/client.h"
#include "net/server_info.h"
#include "rdb/encoder.h"
#include "rdb/rdb_errc.h"
#include "rdb/reader.h"

namespace kf::control {
namespace {

constexpr size_t kBatchKeys = 500;

Error ReconcileError(const std::string& what) {
  return Error{make_error_code(ControlErrc::kPhaseFailed),
               "reconciling keys the target expired by itself: " + what};
}

// The source's DUMP payload in a form the target loads.
Result<Bytes> ForTarget(const std::string& payload, int target_rdb_version) {
  auto as_is = rdb::RetargetDumpPayload(AsBytes(payload), target_rdb_version);
  if (as_is) return as_is;
  auto value = rdb::DecodeDumpPayload(AsBytes(payload));
  if (!value) return MakeError(value.error());
  return rdb::EncodeDumpPayload(*value, target_rdb_version);
}

}  // namespace

Result<ExpiryReconcile> ReconcileExpiredKeys(const net::Uri& source, const net::Uri& target,
                                             const std::map<int, std::vector<std::string>>& keys) {
  ExpiryReconcile out;
  if (keys.empty()) return out;
  RoutedTarget src;  // a cluster source: each key read from its primary
  RoutedTarget dst;
  net::ClientOptions co;
  co.client_name = "keyferry-reconcile";
  if (auto c = src.Open(source, co.client_name, "source"); !c) {
    return MakeError(ReconcileError("cannot reach the source: " + c.error().ToString()));
  }
  if (auto c = dst.Open(target, co.client_name); !c) {
    return MakeError(ReconcileError("cannot reach the target: " + c.error().ToString()));
  }
  auto server = dst.CallSeed({"INFO", "server"});
  if (!server || server->is_error()) return MakeError(ReconcileError("INFO on the target failed"));
  const int target_version = std::min(net::ServerRdbVersion(server->str()), 11);
  for (const auto& [db, names] : keys) {
    const std::string db_text = std::to_string(db);
    if (auto r = src.Select(db); !r) return MakeError(ReconcileError(r.error().ToString()));
    if (auto r = dst.Select(db); !r) return MakeError(ReconcileError(r.error().ToString()));
    for (size_t from = 0; from < names.size(); from += kBatchKeys) {
      const size_t to = std::min(names.size(), from + kBatchKeys);
      std::vector<std::vector<std::string>> reads;
      std::vector<std::string> read_keys;
      for (size_t i = from; i < to; ++i) {
        read_keys.push_back(names[i]);
        read_keys.push_back(names[i]);
        // PEXPIRETIME first: should the key expire between the two reads, DUMP then finds
        // nothing; the other order could pair a value with "no such key" (-2).
        reads.push_back({"PEXPIRETIME", names[i]});
        reads.push_back({"DUMP", names[i]});
      }
      auto read = src.CallPipelined(read_keys, reads);
      if (!read) return MakeError(ReconcileError("reading the source: " + read.error().ToString()));
      std::vector<std::vector<std::string>> writes;
      std::vector<std::string> write_keys;
      for (size_t i = from; i < to; ++i) {
        write_keys.push_back(names[i]);
        const resp::Reply& expire = (*read)[2 * (i - from)];
        const resp::Reply& dump = (*read)[2 * (i - from) + 1];
        ++out.keys;
        if (dump.is_error() || expire.is_error()) {
          return MakeError(ReconcileError("the source refused DUMP/PEXPIRETIME of " +
                                          Printable(names[i], 80) + " (db " + db_text +
                                          "): " + (dump.is_error() ? dump.str() : expire.str())));
        }
        const bool gone = expire.type() == resp::ReplyType::kInteger && expire.integer() == -2;
        if (dump.is_null() || gone) {
          writes.push_back({"DEL", names[i]});
          ++out.deleted;
          continue;
        }
        auto payload = ForTarget(dump.str(), target_version);
        if (!payload) {
          return MakeError(
              ReconcileError("the source's value of " + Printable(names[i], 80) +
                             " cannot be written to the target: " + payload.error().ToString()));
        }
        const int64_t at = expire.type() == resp::ReplyType::kInteger && expire.integer() > 0
                               ? expire.integer()
                               : 0;
        writes.push_back({"RESTORE", names[i], std::to_string(at),
                          std::string(payload->begin(), payload->end()), "ABSTTL", "REPLACE"});
        ++out.restored;
      }
      auto written = dst.CallPipelined(write_keys, writes);
      if (!written) {
        return MakeError(ReconcileError("writing the target: " + written.error().ToString()));
      }
      for (size_t w = 0; w < written->size(); ++w) {
        if ((*written)[w].is_error()) {
          return MakeError(ReconcileError("the target refused " + writes[w][0] + " " +
                                          Printable(writes[w][1], 80) + " (db " + db_text +
                                          "): " + (*written)[w].str()));
        }
      }
    }
  }
  return out;
}

}  // namespace kf::control
