// StreamWriter: the stream-phase writer. One connection, commands applied strictly in
// source order, written pipelined in batches; after each batch every reply is read and
// checked, and the applied replication offset moves to the end offset of the last
// command whose reply came back.
//
// The batch carries what the stream phase decided to forward (SELECTs included, already
// mapped); consumed commands (PING, REPLCONF) need no write but still advance the offset,
// so they are given as ops with reply_count 0 and empty command bytes.
#pragma once

#include <cstdint>
#include <vector>

#include "common/result.h"
#include "net/client.h"
#include "net/uri.h"
#include "target/write_op.h"

namespace kf::target {

struct StreamOp {
  Bytes command;             // RESP bytes; empty for offset-only ops
  uint32_t reply_count = 0;  // replies to read for `command`
  // The source offset right after this command, or -1 when applying it must not move the
  // applied offset (commands inside MULTI: only the EXEC makes them count).
  int64_t end_offset = 0;
  std::string description;  // for messages
};

class StreamWriter {
 public:
  Result<void> Connect(const net::Uri& target, const net::ClientOptions& options);
  // Writes the batch, reads and checks every reply. On success applied_offset() is the
  // last op's end offset. On failure applied_offset() is the end offset of the last op
  // that was confirmed, and the error names the op that failed.
  Result<void> Apply(const std::vector<StreamOp>& batch);
  int64_t applied_offset() const { return applied_offset_; }
  void set_applied_offset(int64_t offset) { applied_offset_ = offset; }
  uint64_t commands_applied() const { return commands_applied_; }

 private:
  net::Client client_;
  std::string endpoint_;
  int64_t applied_offset_ = -1;
  uint64_t commands_applied_ = 0;
  std::vector<ByteView> segments_;
};

}  // namespace kf::target
