// Windowed comparison of one big value on two servers, so that memory stays flat on keys
// of any size: only one window of elements per end is held at a time.
//
//   string  STRLEN, then GETRANGE windows of `window_bytes`
//   list    LLEN, then LRANGE windows, element by element in order
//   set     SCARD, then SSCAN the source and SMISMEMBER each page on the target
//   hash    HLEN, then HSCAN the source and HMGET each page's fields on the target
//   zset    ZCARD, then ZSCAN the source and ZMSCORE each page on the target; scores are
//           parsed to doubles on both sides (servers print them differently) and compared
//           with IEEE ==
//   stream  XINFO STREAM metadata, XRANGE pages, XINFO GROUPS, XINFO CONSUMERS (names and
//           pending counts) and XPENDING pages (id, consumer, delivery count)
// Equal cardinality plus "every source element is on the target with the same value" is
// equality for sets, hashes and zsets (SCAN may repeat elements; that is harmless here).
//
// Same semantics as value_compare.h (seen times, idle times and delivery times are not
// compared), with one exception: Redis 7.4 hash-field TTLs are not read in windows.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "verify/endpoint.h"
#include "verify/verify_options.h"

namespace kf::verify {

struct WindowVerdict {
  bool equal = true;
  std::string detail;  // when not equal: what differs (printable)
};

// Compares the value of `key` (of TYPE `type`, the same on both ends when this is called)
// in the currently selected databases of `source` and `target`. A key that changes type or
// disappears during the compare gives a difference ("changed during the compare"), to be
// re-checked by a later round; Result errors are for I/O and server failures only.
Result<WindowVerdict> CompareInWindows(Endpoint& source, Endpoint& target, const std::string& key,
                                       std::string_view type, const VerifyOptions& options);

}  // namespace kf::verify
