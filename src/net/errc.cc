// The std::error_category of NetErrc.
#include "net/errc.h"

#include <string>

namespace kf::net {
namespace {

class NetCategoryImpl : public std::error_category {
 public:
  const char* name() const noexcept override { return "net"; }
  std::string message(int code) const override {
    switch (static_cast<NetErrc>(code)) {
      case NetErrc::kBadUri:
        return "bad URI";
      case NetErrc::kTlsFailed:
        return "TLS failed";
      case NetErrc::kResolveFailed:
        return "host name did not resolve";
      case NetErrc::kConnectRefused:
        return "connection refused";
      case NetErrc::kConnectFailed:
        return "connect failed";
      case NetErrc::kTimeout:
        return "timed out";
      case NetErrc::kClosedByPeer:
        return "connection closed by peer";
      case NetErrc::kIoError:
        return "I/O error";
      case NetErrc::kNotConnected:
        return "not connected";
      case NetErrc::kProtocolError:
        return "protocol error";
      case NetErrc::kAuthFailed:
        return "authentication failed";
      case NetErrc::kServerError:
        return "server error reply";
    }
    return "unknown net error " + std::to_string(code);
  }
};

}  // namespace

const std::error_category& NetCategory() {
  static const NetCategoryImpl category;
  return category;
}

}  // namespace kf::net
