// Error codes of the network layer: connecting, reading/writing, the client handshake and
// URI parsing. One enum for the domain with its std::error_category.
#pragma once

#include <system_error>

namespace kf::net {

enum class NetErrc {
  kBadUri = 1,      // a URI could not be parsed
  kTlsFailed,       // TLS set-up, handshake or certificate check failed (docs/tls.md)
  kResolveFailed,   // the host name did not resolve
  kConnectRefused,  // nothing listens on host:port
  kConnectFailed,   // other connect failures (unreachable, ...)
  kTimeout,         // a connect/read/write deadline passed
  kClosedByPeer,    // the peer closed the connection (EOF or reset)
  kIoError,         // another socket error
  kNotConnected,    // an operation on a connection that is not open
  kProtocolError,   // the peer sent bytes that are not valid RESP
  kAuthFailed,      // AUTH / HELLO AUTH was refused
  kServerError,     // the server answered a handshake command with an error
};

const std::error_category& NetCategory();

inline std::error_code make_error_code(NetErrc e) { return {static_cast<int>(e), NetCategory()}; }

}  // namespace kf::net

template <>
struct std::is_error_code_enum<kf::net::NetErrc> : std::true_type {};
