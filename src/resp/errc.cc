// The std::error_category of RespErrc.
#include "resp/errc.h"

#include <string>

namespace kf::resp {
namespace {

class RespCategoryImpl : public std::error_category {
 public:
  const char* name() const noexcept override { return "resp"; }
  std::string message(int code) const override {
    switch (static_cast<RespErrc>(code)) {
      case RespErrc::kBadTypeByte:
        return "unknown RESP type byte";
      case RespErrc::kMissingCrlf:
        return "missing CRLF terminator";
      case RespErrc::kBadLength:
        return "malformed length";
      case RespErrc::kBadInteger:
        return "malformed integer";
      case RespErrc::kBadDouble:
        return "malformed double";
      case RespErrc::kBadBoolean:
        return "malformed boolean";
      case RespErrc::kBadNull:
        return "malformed null";
      case RespErrc::kBadBigNumber:
        return "malformed big number";
      case RespErrc::kBadVerbatim:
        return "malformed verbatim string";
      case RespErrc::kBulkTooLong:
        return "bulk string longer than the configured limit";
      case RespErrc::kAggregateTooLong:
        return "aggregate longer than the configured limit";
      case RespErrc::kTooDeep:
        return "aggregates nested deeper than the configured limit";
      case RespErrc::kLineTooLong:
        return "line longer than the configured limit";
      case RespErrc::kUnsupported:
        return "unsupported RESP construct";
      case RespErrc::kBadCommand:
        return "malformed command";
    }
    return "unknown resp error " + std::to_string(code);
  }
};

}  // namespace

const std::error_category& RespCategory() {
  static const RespCategoryImpl category;
  return category;
}

}  // namespace kf::resp
