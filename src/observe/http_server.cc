// HttpServer on cpp-httplib: one pre-routing handler does the token check and the route
// lookup, so every method and path passes the same door (no httplib route can bypass the
// token).
#include "observe/http_server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <exception>
#include <system_error>

namespace kf::observe {

std::optional<ListenAddress> ParseListenAddress(std::string_view address) {
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == address.size()) {
    return std::nullopt;
  }
  int port = -1;
  const char* end = address.data() + address.size();
  auto [p, ec] = std::from_chars(address.data() + colon + 1, end, port);
  if (ec != std::errc() || p != end || port < 0 || port > 65535) return std::nullopt;
  std::string_view host = address.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return std::nullopt;  // an IPv6 literal must be bracketed: [::1]:9121
  }
  return ListenAddress{std::string(host), port};
}

bool IsLoopbackHost(std::string_view host) {
  std::string lower(host);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, lower.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, lower.c_str(), &v6) == 1) {
    static const in6_addr kLoopback = IN6ADDR_LOOPBACK_INIT;
    return std::equal(std::begin(v6.s6_addr), std::end(v6.s6_addr), std::begin(kLoopback.s6_addr));
  }
  return false;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Walks the longer of the two every time; the difference of lengths is folded in.
  size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

bool RequestAuthorized(std::string_view token, std::string_view authorization_header,
                       const std::optional<std::string>& query_token) {
  if (token.empty()) return true;
  bool ok = false;
  constexpr std::string_view kScheme = "bearer ";
  if (authorization_header.size() > kScheme.size()) {
    bool scheme = true;
    for (size_t i = 0; i < kScheme.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(authorization_header[i])) != kScheme[i]) {
        scheme = false;
      }
    }
    std::string_view given = authorization_header.substr(kScheme.size());
    while (!given.empty() && given.front() == ' ') given.remove_prefix(1);
    while (!given.empty() && (given.back() == ' ' || given.back() == '\t')) given.remove_suffix(1);
    ok |= scheme && ConstantTimeEquals(given, token);
  }
  if (query_token) ok |= ConstantTimeEquals(*query_token, token);
  return ok;
}

HttpServer::HttpServer() = default;

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Handle(std::string path, std::string content_type, BodyHandler body) {
  routes_[std::move(path)] = [content_type = std::move(content_type),
                              body = std::move(body)](const HttpRequest& request) {
    return HttpResponse{200, content_type, body(request)};
  };
}

void HttpServer::Handle(std::string path, Handler handler) {
  routes_[std::move(path)] = std::move(handler);
}

HttpResponse HttpServer::Dispatch(const std::string& method, const HttpRequest& request,
                                  const std::string& authorization) const {
  if (!RequestAuthorized(token_, authorization, request.Query("token"))) {
    return {401, "text/plain; charset=utf-8",
            "401 unauthorized: this keyferry server needs its token, as the header "
            "\"Authorization: Bearer <token>\" or the query parameter ?token=<token> (the "
            "token is the value of the environment variable named by --listen-token-env or "
            "observe.token_env)\n"};
  }
  auto route = routes_.find(request.path);
  if (route == routes_.end()) {
    std::string paths;
    for (const auto& [path, handler] : routes_) paths += (paths.empty() ? "" : ", ") + path;
    return {
        404, "text/plain; charset=utf-8",
        "404 not found: " + request.path + " is not served here; the paths are " + paths + "\n"};
  }
  if (method != "GET" && method != "HEAD") {
    return {405, "text/plain; charset=utf-8",
            "405 method not allowed: " + request.path + " answers GET only\n"};
  }
  try {
    return route->second(request);
  } catch (const std::exception& e) {
    return {500, "text/plain; charset=utf-8",
            "500 internal error while answering " + request.path + ": " + e.what() + "\n"};
  }
}

Result<void> CheckListenOptions(const ListenOptions& options) {
  auto parsed = ParseListenAddress(options.address);
  if (!parsed) {
    return MakeError(std::make_error_code(std::errc::invalid_argument),
                     "the listen address \"" + options.address +
                         "\" is not HOST:PORT (e.g. 127.0.0.1:9121, [::1]:9121 or "
                         "0.0.0.0:9121; port 0 picks a free one)");
  }
  if (options.token.empty() && !IsLoopbackHost(parsed->host)) {
    return MakeError(std::make_error_code(std::errc::permission_denied),
                     "refusing to serve status and metrics on " + options.address +
                         " without a token: that address is reachable from other machines. "
                         "Give a token (" +
                         options.token_hint + ") or listen on 127.0.0.1");
  }
  return {};
}

Result<void> HttpServer::Listen(const ListenOptions& options) {
  if (auto ok = CheckListenOptions(options); !ok) return ok;
  auto parsed = ParseListenAddress(options.address);
  token_ = options.token;
  server_ = std::make_unique<httplib::Server>();
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, with which a second keyferry
  // (an apply and a status --listen on one port) would bind the same port and silently
  // share its requests instead of being told the port is taken.
  server_->set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    HttpRequest request;
    request.path = req.path;
    for (const auto& [name, value] : req.params) request.params.emplace(name, value);
    HttpResponse response = Dispatch(req.method, request, req.get_header_value("Authorization"));
    res.status = response.status;
    if (response.status == 401) res.set_header("WWW-Authenticate", "Bearer realm=\"keyferry\"");
    res.set_header("Cache-Control", "no-store");
    // The dashboard's page may load and fetch from this server only: the browser refuses
    // any other origin (docs/observe.md, "Dashboard"). Harmless on JSON and text answers.
    res.set_header("Content-Security-Policy", "default-src 'self'");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_content(std::move(response.body), response.content_type.c_str());
    return httplib::Server::HandlerResponse::Handled;
  });
  if (parsed->port == 0) {
    port_ = server_->bind_to_any_port(parsed->host);
  } else {
    port_ = server_->bind_to_port(parsed->host, parsed->port) ? parsed->port : -1;
  }
  if (port_ < 0) {
    server_.reset();
    return MakeError(std::make_error_code(std::errc::address_in_use),
                     "cannot listen on " + options.address +
                         ": the address is not one of this machine's or the port is taken; "
                         "pick another");
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // httplib's stop() does nothing before the accept loop runs, and the loop then never
  // ends: wait until it runs so that an early Stop() cannot hang (bounded: it starts at
  // once unless the machine is starved).
  for (int i = 0; i < 5000 && !server_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return {};
}

void HttpServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace kf::observe
