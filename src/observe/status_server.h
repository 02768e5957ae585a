// StatusServer: a small HTTP server that serves live numbers as JSON at /status.
//
// The JSON comes from a callback evaluated per request (so it reads live atomics), on a
// background thread owned by the server. Listen() fails with a clear message when the
// address is malformed or the port is taken.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/result.h"

namespace httplib {
class Server;
}

namespace kf::observe {

class StatusServer {
 public:
  explicit StatusServer(std::function<std::string()> status_json);
  ~StatusServer();
  // addr: "HOST:PORT" (e.g. 127.0.0.1:9121; port 0 picks a free one).
  Result<void> Listen(const std::string& addr);
  int port() const { return port_; }
  void Stop();

 private:
  std::function<std::string()> status_json_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace kf::observe
