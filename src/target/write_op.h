// A write to the target: one encoded command (or several that belong together), the db it
// applies to, and a description for error messages ("RESTORE user:1 (db 0)").
//
// CheckReply decides whether the target's reply means the write took effect. Any error
// reply is a failure: the source only propagates writes that succeeded there, so an error
// here means the target diverged (out of memory, a payload it cannot load...) and going on
// would lose data. EXEC replies are checked element by element.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"
#include "resp/reply.h"

namespace kf::target {

struct WriteOp {
  int db = 0;
  Bytes command;             // RESP-encoded, one or more commands
  uint32_t reply_count = 1;  // replies the command bytes produce
  std::string description;   // what it writes, for messages (key printable, cut)
};

// True for the error replies of a cluster node that say "not here, not now" rather than
// "refused": MOVED, ASK, TRYAGAIN, CLUSTERDOWN. CheckReply gives them TargetErrc::kRedirected.
bool IsClusterRedirect(std::string_view error_text);

// Ok, or an error naming the op and saying what to do.
Result<void> CheckReply(const resp::Reply& reply, const std::string& description,
                        const std::string& target_endpoint);

}  // namespace kf::target
