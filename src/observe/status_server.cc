// StatusServer on cpp-httplib.
#include "observe/status_server.h"

#include <httplib.h>

#include <charconv>
#include <system_error>

namespace kf::observe {

StatusServer::StatusServer(std::function<std::string()> status_json)
    : status_json_(std::move(status_json)) {}

StatusServer::~StatusServer() { Stop(); }

Result<void> StatusServer::Listen(const std::string& addr) {
  auto colon = addr.rfind(':');
  int port = -1;
  if (colon != std::string::npos) {
    auto [p, ec] = std::from_chars(addr.data() + colon + 1, addr.data() + addr.size(), port);
    if (ec != std::errc() || p != addr.data() + addr.size()) port = -1;
  }
  if (colon == std::string::npos || colon == 0 || port < 0 || port > 65535) {
    return MakeError(std::make_error_code(std::errc::invalid_argument),
                     "--status-addr \"" + addr + "\" is not HOST:PORT (e.g. 127.0.0.1:9121)");
  }
  std::string host = addr.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  server_ = std::make_unique<httplib::Server>();
  server_->Get("/status", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(status_json_(), "application/json");
  });
  if (port == 0) {
    port_ = server_->bind_to_any_port(host);
  } else {
    port_ = server_->bind_to_port(host, port) ? port : -1;
  }
  if (port_ < 0) {
    return MakeError(std::make_error_code(std::errc::address_in_use),
                     "cannot serve status on " + addr +
                         ": the address is not local or the port is taken; pick another");
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return {};
}

void StatusServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace kf::observe
