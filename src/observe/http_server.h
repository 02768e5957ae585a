// HttpServer: the one HTTP server of keyferry (docs/observe.md). `sync --status-addr`,
// `apply` (spec observe.listen or --listen) and `status --listen` each run one; every
// endpoint (/status, /metrics, the dashboard's) is a route in its table.
//
// Adding a route (before Listen; the table is fixed once the server listens):
//
//   observe::HttpServer server;
//   server.Handle("/status", "application/json",
//                 [&](const observe::HttpRequest&) { return stats.ToJson(); });  // 200
//   server.Handle("/thing", [&](const observe::HttpRequest& req) {
//     if (!req.Query("id")) return observe::HttpResponse{400, "text/plain", "give ?id=\n"};
//     return observe::HttpResponse{200, "application/json", Lookup(*req.Query("id"))};
//   });
//   auto listening = server.Listen({.address = "127.0.0.1:9121", .token = token});
//
// Routes match the request path exactly (the query string is not part of it) and answer GET
// (and HEAD, with the body dropped); anything else gets 404 (unknown path) or 405. A handler
// runs on the server's own threads, once per request and possibly concurrently with other
// requests: it must only read thread-safe state (atomics, a Journal, a mutex-guarded copy).
// A handler that throws answers 500 with the exception's text; the server keeps running.
//
// Access (ListenOptions::token): when the host to listen on is not a loopback address
// (127.0.0.0/8, ::1, localhost), Listen refuses to start without a token — /status and
// /metrics tell anyone who can reach the port about the migration. With a token (on any
// address) every request must carry it, as `Authorization: Bearer <token>` or `?token=<token>`,
// else it is answered 401 before any handler runs. Tokens are compared in constant time.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "common/result.h"

namespace httplib {
class Server;
}

namespace kf::observe {

struct HttpRequest {
  std::string path;                           // "/metrics", without the query string
  std::map<std::string, std::string> params;  // the query string's parameters, decoded

  std::optional<std::string> Query(const std::string& name) const {
    auto it = params.find(name);
    if (it == params.end()) return std::nullopt;
    return it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

struct ListenOptions {
  // "HOST:PORT": 127.0.0.1:9121, [::1]:9121, 0.0.0.0:9121; port 0 picks a free one.
  std::string address;
  // Required when the host is not loopback; when set, enforced on every request.
  std::string token;
  // How the operator gives the token, for the refusal's message ("--listen-token-env NAME or
  // observe.token_env in the spec").
  std::string token_hint = "--listen-token-env NAME";
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  using BodyHandler = std::function<std::string(const HttpRequest&)>;

  HttpServer();
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // A route answering 200 with `content_type` and the body the handler returns.
  void Handle(std::string path, std::string content_type, BodyHandler body);
  // A route whose handler chooses status code, content type and body.
  void Handle(std::string path, Handler handler);

  // Binds and starts serving on a background thread. Errors (nothing is served): a malformed
  // address, a non-loopback host without a token (std::errc::permission_denied), an address
  // that cannot be bound (std::errc::address_in_use), each message naming the address and
  // what to do.
  Result<void> Listen(const ListenOptions& options);
  int port() const { return port_; }  // the bound port (the chosen one for port 0)
  // Stops serving and joins the thread; in-flight requests finish first. Idempotent.
  void Stop();

 private:
  HttpResponse Dispatch(const std::string& method, const HttpRequest& request,
                        const std::string& authorization) const;

  std::map<std::string, Handler, std::less<>> routes_;
  std::string token_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

// What Listen checks before binding: the address is HOST:PORT and a non-loopback host has a
// token. Callers run it before they start work, so that a refusal comes first.
Result<void> CheckListenOptions(const ListenOptions& options);

// "HOST:PORT" split into host (brackets of an IPv6 literal removed) and port 0..65535;
// nullopt when malformed.
struct ListenAddress {
  std::string host;
  int port = 0;
};
std::optional<ListenAddress> ParseListenAddress(std::string_view address);

// Whether a listen host only accepts connections from this machine: 127.0.0.0/8 written as
// an IPv4 literal, ::1 (also written in full), or the name "localhost". Anything else,
// including 0.0.0.0, :: and other names, counts as reachable from the network.
bool IsLoopbackHost(std::string_view host);

// Whether a request carries `token`: as "Bearer <token>" in the Authorization header
// (scheme case-insensitive) or as the query parameter value. Constant time in the token's
// content (the lengths may leak). An empty token accepts every request.
bool RequestAuthorized(std::string_view token, std::string_view authorization_header,
                       const std::optional<std::string>& query_token);

// Equality of two strings whose time does not depend on where they first differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace kf::observe
