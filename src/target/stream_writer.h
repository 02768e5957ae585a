// StreamWriter: the stream-phase writer. One connection, commands applied strictly in
// source order, written pipelined in batches; every batch that writes anything is one
// MULTI/EXEC on the target that also sets the applied-offset marker (applied_marker.h)
// to the batch's end offset, so the target's data and the offset it covers change
// together or not at all. After each batch every reply is read and checked.
//
// The batch carries what the stream phase decided to forward. Each op names the target
// db it applies in; the writer sends SELECT when the connection's db must change (the
// source's own SELECT, MULTI and EXEC are not forwarded: the batch's MULTI/EXEC keeps a
// source transaction atomic). Consumed commands (PING, REPLCONF) need no write but still
// advance the offset: they are ops with empty command bytes. A batch must end at a
// command boundary outside any source transaction (its last op has end_offset >= 0);
// ops inside a transaction carry end_offset -1.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "net/client.h"
#include "net/uri.h"
#include "target/applied_marker.h"
#include "target/write_op.h"

namespace kf::target {

// StreamOp::slot values besides a hash slot (0..16383).
inline constexpr int kNoSlot = -1;        // a standalone target, or an op without a command
inline constexpr int kEveryPrimary = -2;  // a cluster target: a keyless command for every primary

struct StreamOp {
  Bytes command;             // one RESP-encoded command; empty for offset-only ops
  uint32_t reply_count = 0;  // 1 when `command` is set, else 0
  // The source offset right after this command, or -1 when applying it must not move the
  // applied offset (commands inside a source MULTI: only its EXEC makes them count).
  int64_t end_offset = 0;
  int target_db = 0;        // db the command applies in (target numbering)
  int source_db_after = 0;  // the stream's db after this command (source numbering)
  std::string description;  // for messages
  // The hash slot of the command's keys, for a cluster target (set by the sync engine,
  // which splits a command across slots first); kNoSlot for a standalone target.
  int slot = kNoSlot;
};

class StreamWriter {
 public:
  Result<void> Connect(const net::Uri& target, const net::ClientOptions& options);
  void Close() { client_.Close(); }
  // Which migration writes the target and which replication id its offsets belong to;
  // every batch's marker carries both.
  void set_marker_identity(std::string id, std::string replid) {
    marker_id_ = std::move(id);
    replid_ = std::move(replid);
  }
  // The marker's key: kAppliedMarkerKey unless the sync shares its target with other
  // engines (a cluster source: ShardMarkerKey of its shard).
  void set_marker_key(std::string key) { marker_key_ = std::move(key); }
  // Applies the batch. When it holds at least one command, it is sent as
  //   MULTI, [SELECT db,] cmd..., [SELECT 0,] SET <marker> <id, stream, replid, end, db>, EXEC
  // and on success applied_offset() is the batch's last end offset — on the target too.
  // A batch of offset-only ops writes nothing and only moves applied_offset() in memory
  // (the marker then lags by commands that change nothing, which a resume replays
  // harmlessly). On failure nothing of the batch counts: a refused queueing aborts the
  // whole transaction (EXECABORT); an error inside EXEC is reported by op (the other
  // commands and the marker did apply, and the error stops the sync).
  Result<void> Apply(const std::vector<StreamOp>& batch);
  int64_t applied_offset() const { return applied_offset_; }
  void set_applied_offset(int64_t offset) { applied_offset_ = offset; }
  // The stream's db (source numbering) after the last applied op.
  int source_db() const { return source_db_; }
  void set_source_db(int db) { source_db_ = db; }
  uint64_t commands_applied() const { return commands_applied_; }

 private:
  net::Client client_;
  std::string endpoint_;
  std::string marker_key_{kAppliedMarkerKey};
  std::string marker_id_;
  std::string replid_;
  int64_t applied_offset_ = -1;
  int source_db_ = 0;
  int connection_db_ = 0;
  uint64_t commands_applied_ = 0;
  std::vector<ByteView> segments_;
};

}  // namespace kf::target
