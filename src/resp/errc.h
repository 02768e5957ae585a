// Error codes of the RESP layer (reply parser, command parser).
//
// One enum for the domain, with its std::error_category; std::error_code(RespErrc::kX)
// works through make_error_code found by ADL. The kf::Error message that accompanies a
// code names the stream offset of the bad byte and what was expected there.
#pragma once

#include <system_error>

namespace kf::resp {

enum class RespErrc {
  kBadTypeByte = 1,   // a value started with a byte that is no RESP type
  kMissingCrlf,       // a line or bulk body was not terminated by \r\n
  kBadLength,         // a length field was not a decimal integer, or negative (not -1)
  kBadInteger,        // an integer reply (:) was not a 64-bit decimal integer
  kBadDouble,         // a double reply (,) was not a number, inf, -inf or nan
  kBadBoolean,        // a boolean reply (#) was not t or f
  kBadNull,           // a null reply (_) carried bytes before its \r\n
  kBadBigNumber,      // a big number reply (() was not an optionally signed digit string
  kBadVerbatim,       // a verbatim string (=) lacked its "xxx:" format prefix
  kBulkTooLong,       // a bulk length exceeded Limits::max_bulk_len
  kAggregateTooLong,  // an aggregate element count exceeded Limits::max_aggregate_len
  kTooDeep,           // aggregates nested deeper than Limits::max_depth
  kLineTooLong,       // a line (simple string, header, inline command) exceeded its limit
  kUnsupported,       // a valid-looking construct this parser does not handle (streamed)
  kBadCommand,        // a request was not a multibulk of bulk strings or an inline line
};

const std::error_category& RespCategory();

inline std::error_code make_error_code(RespErrc e) { return {static_cast<int>(e), RespCategory()}; }

}  // namespace kf::resp

template <>
struct std::is_error_code_enum<kf::resp::RespErrc> : std::true_type {};
