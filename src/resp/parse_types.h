// Types shared by the RESP reply parser and the command parser: the limits every length
// from the wire is checked against, and the outcome of one parse step.
//
// Both parsers are incremental and IO-free: the caller feeds whatever bytes it has, the
// parser consumes a prefix, keeps any partial token in its own state and never looks at
// a consumed byte again. A step ends in one of three ways: a complete message, "need more
// bytes" (everything given was consumed into the parser's state), or a malformed stream
// (the parser is then stuck in that error until Reset()).
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/result.h"
#include "resp/errc.h"

namespace kf::resp {

// Upper bounds on what the peer may claim. A length above its bound is an error at once;
// a length within bounds is still never allocated up front: storage grows as bytes arrive.
struct Limits {
  uint64_t max_bulk_len = 512ull * 1024 * 1024;   // Redis' proto-max-bulk-len default
  uint64_t max_aggregate_len = (1ull << 32) - 1;  // elements of one array/set/push; pairs of a map
  size_t max_depth = 64;                          // nesting of aggregates (and attributes)
  size_t max_inline_len = 64 * 1024;              // simple/error/big-number lines, inline commands
};

enum class ParseStatus {
  kComplete,   // one whole message was parsed; `consumed` ends right after it
  kNeedMore,   // all given bytes were consumed into the parser's state; feed more
  kMalformed,  // the stream is corrupt; `error` says where and what was expected
};

struct ParseOutcome {
  ParseStatus status = ParseStatus::kNeedMore;
  size_t consumed = 0;  // bytes of the fed span consumed by this step
  Error error;          // set when status == kMalformed (code is a RespErrc)

  bool complete() const { return status == ParseStatus::kComplete; }
  bool need_more() const { return status == ParseStatus::kNeedMore; }
  bool malformed() const { return status == ParseStatus::kMalformed; }
};

}  // namespace kf::resp
