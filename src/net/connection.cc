// Connection: see connection.h. Every operation follows one pattern: start an async op
// whose handler records (error, bytes) and a done flag, run the private io_context one
// handler at a time until done or the deadline, and on the deadline cancel the socket and
// run until the (now aborted) handler has run, so no handler outlives the call.
//
// TLS: an asio::ssl::stream wraps a reference to the same TCP socket, so cancel, options
// and close still act on the socket; reads and writes go through the stream. The verify
// callback keeps OpenSSL's verdict and records the first certificate that failed, for the
// message (tls_messages.h).
#include "net/connection.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <asio.hpp>
#include <asio/ssl.hpp>
#include <optional>
#include <vector>

#include "net/errc.h"
#include "net/tls_messages.h"

namespace kf::net {

using Clock = std::chrono::steady_clock;

// TLS writes: segments below this size are joined into one buffer before encryption.
constexpr size_t kTlsJoinBelow = 16 * 1024;
// How long a failed TLS write waits for the alert that may explain it.
constexpr std::chrono::milliseconds kAlertPatience{200};

struct Connection::Impl {
  asio::io_context io;
  asio::ip::tcp::socket socket{io};
  // TLS, when the connection uses it: the context (trust, client certificate) and the
  // stream over `socket`.
  std::unique_ptr<asio::ssl::context> tls_context;
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket&>> tls;
  TlsOptions tls_options;
  std::string checked_name;  // the name the certificate must hold
  std::optional<std::pair<long, CertificateFacts>> verify_failure;  // the first one

  struct OpState {
    bool done = false;
    asio::error_code ec;
    size_t bytes = 0;
  };

  // Runs until op->done or the deadline. Returns true when the deadline cut it short (the
  // op was cancelled); the handler has run either way.
  bool Run(OpState* op, Clock::time_point deadline) {
    io.restart();
    while (!op->done) {
      if (io.run_one_until(deadline) == 0) break;
    }
    if (op->done) return false;
    asio::error_code ignored;
    socket.cancel(ignored);
    io.restart();
    while (!op->done) {
      if (io.run_one() == 0) break;
    }
    return op->ec == asio::error::operation_aborted;
  }
};

namespace {

bool IsPeerClosed(const asio::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted;
}

std::string Ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

// A peer that ends a TLS connection without close_notify (as Redis and Valkey do when they
// drop a client) gives stream_truncated: the same as EOF here.
bool IsTlsTruncated(const asio::error_code& ec) { return ec == asio::ssl::error::stream_truncated; }

bool IsSslError(const asio::error_code& ec) {
  return ec.category() == asio::error::get_ssl_category();
}

std::string NameText(X509_NAME* name) {
  if (name == nullptr) return "";
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "";
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n > 0 ? n : 0));
  BIO_free(bio);
  return out;
}

std::string TimeText(const ASN1_TIME* t) {
  if (t == nullptr) return "";
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return "";
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

CertificateFacts FactsOf(X509* cert, int depth) {
  CertificateFacts facts;
  facts.depth = depth;
  if (cert == nullptr) return facts;
  facts.subject = NameText(X509_get_subject_name(cert));
  facts.issuer = NameText(X509_get_issuer_name(cert));
  facts.not_before = TimeText(X509_get0_notBefore(cert));
  facts.not_after = TimeText(X509_get0_notAfter(cert));
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
      if (name->type == GEN_DNS) {
        const ASN1_IA5STRING* dns = name->d.dNSName;
        facts.names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                 static_cast<size_t>(ASN1_STRING_length(dns)));
      } else if (name->type == GEN_IPADD) {
        const ASN1_OCTET_STRING* ip = name->d.iPAddress;
        const unsigned char* b = ASN1_STRING_get0_data(ip);
        int len = ASN1_STRING_length(ip);
        if (len == 4) {
          facts.names.push_back(asio::ip::address_v4({b[0], b[1], b[2], b[3]}).to_string());
        } else if (len == 16) {
          asio::ip::address_v6::bytes_type bytes;
          std::copy(b, b + 16, bytes.begin());
          facts.names.push_back(asio::ip::address_v6(bytes).to_string());
        }
      }
    }
    GENERAL_NAMES_free(names);
  }
  if (facts.names.empty()) {
    // No subjectAltName: name the CN, which is all such a certificate shows (OpenSSL's
    // host check still needs a SAN for an IP address).
    facts.names.push_back("CN " + facts.subject);
  }
  return facts;
}

// The text of an OpenSSL error code ("certificate verify failed", "tlsv13 alert
// certificate required").
std::string SslText(const asio::error_code& ec) {
  const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
  return reason != nullptr ? reason : ec.message();
}

int SslReason(const asio::error_code& ec) {
  return ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
}

}  // namespace

Connection::Connection() : impl_(std::make_unique<Impl>()) {}
Connection::~Connection() = default;

bool Connection::is_open() const { return impl_->socket.is_open(); }
bool Connection::is_tls() const { return impl_->tls != nullptr; }

void Connection::Close() {
  low_water_ = 1;  // a new socket starts without the option
  asio::error_code ignored;
  // No TLS close_notify: the server drops a client that closes its socket just the same,
  // and a close must not wait on a peer that may be gone.
  impl_->socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  impl_->socket.close(ignored);
  impl_->tls.reset();
  impl_->tls_context.reset();
  impl_->verify_failure.reset();
}

Result<void> Connection::Connect(const std::string& host, int port,
                                 std::chrono::milliseconds timeout, const TlsOptions& tls) {
  Close();
  endpoint_ = host.find(':') != std::string::npos ? "[" + host + "]:" + std::to_string(port)
                                                  : host + ":" + std::to_string(port);
  std::vector<asio::ip::tcp::endpoint> endpoints;
  asio::error_code ec;
  asio::ip::address address = asio::ip::make_address(host, ec);
  if (!ec) {
    endpoints.emplace_back(address, static_cast<uint16_t>(port));
  } else {
    asio::ip::tcp::resolver resolver(impl_->io);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) {
      return MakeError(NetErrc::kResolveFailed,
                       "could not resolve host \"" + host + "\" (for " + endpoint_ +
                           "): " + (ec ? ec.message() : "no addresses") +
                           "; check the host name in the URI and the DNS set-up");
    }
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  }

  const auto deadline = Clock::now() + timeout;  // TCP connect and TLS handshake share it
  Impl::OpState op;
  asio::async_connect(impl_->socket, endpoints,
                      [&op](const asio::error_code& e, const asio::ip::tcp::endpoint&) {
                        op.ec = e;
                        op.done = true;
                      });
  bool timed_out = impl_->Run(&op, deadline);
  if (timed_out) {
    Close();
    return MakeError(NetErrc::kTimeout, "could not connect to " + endpoint_ +
                                            ": no answer within " + Ms(timeout) +
                                            "; check that the host is reachable (firewall, "
                                            "routing) or raise the connect timeout");
  }
  if (op.ec) {
    Close();
    if (op.ec == asio::error::connection_refused) {
      return MakeError(NetErrc::kConnectRefused,
                       "could not connect to " + endpoint_ +
                           ": connection refused; check that the server is running and the "
                           "host and port are right");
    }
    return MakeError(NetErrc::kConnectFailed, "could not connect to " + endpoint_ + ": " +
                                                  op.ec.message() +
                                                  "; check the host, port and network");
  }
  asio::error_code ignored;
  impl_->socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  impl_->socket.set_option(asio::socket_base::keep_alive(true), ignored);
  if (!tls.enabled) return {};
  auto handshake = StartTls(host, tls, deadline, timeout);
  if (!handshake) Close();
  return handshake;
}

Result<void> Connection::StartTls(const std::string& host, const TlsOptions& tls,
                                  std::chrono::steady_clock::time_point deadline,
                                  std::chrono::milliseconds timeout) {
  KF_RETURN_IF_ERROR(tls.Check());
  Impl& impl = *impl_;
  impl.tls_options = tls;
  impl.checked_name = tls.server_name.empty() ? host : tls.server_name;
  impl.tls_context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  asio::ssl::context& context = *impl.tls_context;
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
  auto file_error = [&](std::string_view field, const std::string& path, const asio::error_code& e,
                        std::string_view what) {
    return MakeError(NetErrc::kTlsFailed,
                     "cannot use " + std::string(what) + " " + path + " (" + tls.OptionName(field) +
                         ") for " + endpoint_ + ": " + SslText(e) +
                         "; check that the path is right and readable and holds PEM data");
  };
  asio::error_code ec;
  if (!tls.ca_cert.empty()) {
    context.load_verify_file(tls.ca_cert, ec);
    if (ec) return file_error("ca_cert", tls.ca_cert, ec, "the CA file");
  }
  if (!tls.ca_dir.empty()) {
    context.add_verify_path(tls.ca_dir, ec);
    if (ec) return file_error("ca_dir", tls.ca_dir, ec, "the CA directory");
  }
  if (tls.ca_cert.empty() && tls.ca_dir.empty()) {
    context.set_default_verify_paths(ec);
    if (ec) {
      return MakeError(NetErrc::kTlsFailed, "cannot load the system's CA store for " + endpoint_ +
                                                ": " + SslText(ec) + "; give the CA with " +
                                                tls.OptionName("ca_cert"));
    }
  }
  if (!tls.cert.empty()) {
    context.use_certificate_chain_file(tls.cert, ec);
    if (ec) return file_error("cert", tls.cert, ec, "the client certificate");
    context.use_private_key_file(tls.key, asio::ssl::context::pem, ec);
    const auto code = static_cast<unsigned long>(ec.value());
    const bool mismatch = ec && IsSslError(ec) && ERR_GET_LIB(code) == ERR_LIB_X509 &&
                          ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH;
    if (ec && !mismatch) return file_error("key", tls.key, ec, "the private key");
    if (mismatch || SSL_CTX_check_private_key(context.native_handle()) != 1) {
      ERR_clear_error();
      return MakeError(NetErrc::kTlsFailed,
                       "the private key " + tls.key + " (" + tls.OptionName("key") +
                           ") does not belong to the client certificate " + tls.cert + " (" +
                           tls.OptionName("cert") + "); give the key the certificate was made for");
    }
  }

  impl.tls = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(impl.socket, context);
  SSL* ssl = impl.tls->native_handle();
  asio::error_code not_ip;
  asio::ip::make_address(impl.checked_name, not_ip);
  const bool name_is_ip = !not_ip;
  // SNI carries host names only (RFC 6066).
  if (!name_is_ip) SSL_set_tlsext_host_name(ssl, impl.checked_name.c_str());
  if (tls.insecure) {
    impl.tls->set_verify_mode(asio::ssl::verify_none);
  } else {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (name_is_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(param, impl.checked_name.c_str());
    } else {
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      X509_VERIFY_PARAM_set1_host(param, impl.checked_name.c_str(), 0);
    }
    impl.tls->set_verify_mode(asio::ssl::verify_peer);
    impl.tls->set_verify_callback([&impl](bool preverified, asio::ssl::verify_context& vc) {
      if (!preverified && !impl.verify_failure) {
        X509_STORE_CTX* store = vc.native_handle();
        impl.verify_failure.emplace(
            X509_STORE_CTX_get_error(store),
            FactsOf(X509_STORE_CTX_get_current_cert(store), X509_STORE_CTX_get_error_depth(store)));
      }
      return preverified;
    });
  }

  Impl::OpState op;
  impl.tls->async_handshake(asio::ssl::stream_base::client, [&op](const asio::error_code& e) {
    op.ec = e;
    op.done = true;
  });
  if (impl.Run(&op, deadline)) {
    return MakeError(NetErrc::kTimeout,
                     "TLS handshake with " + endpoint_ + " did not finish within " + Ms(timeout) +
                         " (the TCP connect did); this port may not speak TLS (a plaintext "
                         "port waits for a command and never answers a TLS hello: use redis:// "
                         "for it, or the port of its tls-port), or the server is overloaded "
                         "(raise the connect timeout)");
  }
  if (!op.ec) return {};
  if (impl.verify_failure) {
    return MakeError(NetErrc::kTlsFailed,
                     VerifyFailureMessage(endpoint_, tls, impl.checked_name,
                                          impl.verify_failure->first, impl.verify_failure->second));
  }
  return MakeError(TlsIoError(op.ec, /*during_handshake=*/true, "in the TLS handshake"));
}

Error Connection::TlsIoError(const asio::error_code& ec, bool during_handshake,
                             std::string_view doing) const {
  if (IsSslError(ec)) {
    // Failures of the handshake and a refused client certificate are final (a retry fails
    // alike): kTlsFailed. Another TLS error on an established connection (a bad record) is
    // an I/O error, which callers may retry on a new connection.
    const bool final_error = during_handshake || IsClientCertificateRefusal(SslReason(ec));
    return Error{make_error_code(final_error ? NetErrc::kTlsFailed : NetErrc::kIoError),
                 TlsErrorMessage(endpoint_, impl_->tls_options, SslReason(ec), SslText(ec),
                                 during_handshake)};
  }
  if (IsPeerClosed(ec) || IsTlsTruncated(ec)) {
    return Error{make_error_code(during_handshake ? NetErrc::kTlsFailed : NetErrc::kClosedByPeer),
                 "connection to " + endpoint_ + " was closed by the server " + std::string(doing) +
                     (during_handshake
                          ? "; it may not speak TLS on this port, or refused keyferry's TLS "
                            "settings (client certificate, TLS version) — the server's log says "
                            "which"
                          : "; it may have restarted, hit a limit or killed the client — check "
                            "its log, then reconnect")};
  }
  return Error{make_error_code(NetErrc::kIoError), "TLS connection to " + endpoint_ + " failed " +
                                                       std::string(doing) + ": " + ec.message() +
                                                       "; reconnect"};
}

Result<void> Connection::WriteAll(ByteView data, std::chrono::milliseconds timeout) {
  ByteView one[1] = {data};
  return WriteAll(std::span<const ByteView>(one), timeout);
}

Result<void> Connection::WriteAll(std::span<const ByteView> segments,
                                  std::chrono::milliseconds timeout) {
  if (!is_open()) {
    return MakeError(NetErrc::kNotConnected, "cannot write to " +
                                                 (endpoint_.empty() ? "a server" : endpoint_) +
                                                 ": the connection is not open; reconnect");
  }
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(segments.size());
  size_t total = 0;
  for (ByteView s : segments) {
    if (s.empty()) continue;
    buffers.emplace_back(s.data(), s.size());
    total += s.size();
  }
  if (total == 0) return {};
  Impl::OpState op;
  auto on_written = [&op](const asio::error_code& e, size_t n) {
    op.ec = e;
    op.bytes = n;
    op.done = true;
  };
  std::vector<uint8_t> joined;
  if (impl_->tls) {
    // asio's SSL stream encrypts one buffer per write: small segments (a pipeline's
    // arguments) are joined so they go in full records, not one record each.
    std::vector<asio::const_buffer> runs;
    size_t small_bytes = 0;
    for (const auto& b : buffers) small_bytes += b.size() < kTlsJoinBelow ? b.size() : 0;
    joined.reserve(small_bytes);
    size_t run_start = 0;
    bool in_run = false;
    for (const auto& b : buffers) {
      if (b.size() >= kTlsJoinBelow) {
        if (in_run) runs.emplace_back(joined.data() + run_start, joined.size() - run_start);
        in_run = false;
        runs.push_back(b);
        continue;
      }
      if (!in_run) run_start = joined.size();
      in_run = true;
      const auto* p = static_cast<const uint8_t*>(b.data());
      joined.insert(joined.end(), p, p + b.size());
    }
    if (in_run) runs.emplace_back(joined.data() + run_start, joined.size() - run_start);
    asio::async_write(*impl_->tls, runs, on_written);
  } else {
    asio::async_write(impl_->socket, buffers, on_written);
  }
  bool timed_out = impl_->Run(&op, Clock::now() + timeout);
  if (timed_out) {
    Close();
    return MakeError(NetErrc::kTimeout,
                     "writing to " + endpoint_ + " timed out after " + Ms(timeout) + " (" +
                         std::to_string(op.bytes) + " of " + std::to_string(total) +
                         " bytes sent); the server is not reading — check that it is alive "
                         "and not paused; the connection was closed");
  }
  if (op.ec) {
    if (impl_->tls) {
      Error e = TlsIoError(op.ec, false, "while writing");
      if (IsPeerClosed(op.ec)) {
        // A TLS 1.3 server that refuses the client certificate does so after the client's
        // handshake is done: it sends an alert and closes, and a write that follows meets
        // the reset. The alert is still readable; it says why.
        std::array<uint8_t, 512> scratch;
        Impl::OpState alert;
        impl_->tls->async_read_some(asio::buffer(scratch),
                                    [&alert](const asio::error_code& ec, size_t) {
                                      alert.ec = ec;
                                      alert.done = true;
                                    });
        if (!impl_->Run(&alert, Clock::now() + kAlertPatience) && IsSslError(alert.ec)) {
          e = TlsIoError(alert.ec, false, "while writing");
        }
      }
      Close();
      return MakeError(std::move(e));
    }
    Close();
    if (IsPeerClosed(op.ec)) {
      return MakeError(NetErrc::kClosedByPeer,
                       "connection to " + endpoint_ + " was closed by the server while writing (" +
                           op.ec.message() + "); check the server log, then reconnect");
    }
    return MakeError(NetErrc::kIoError,
                     "writing to " + endpoint_ + " failed: " + op.ec.message() + "; reconnect");
  }
  return {};
}

Result<size_t> Connection::ReadSome(std::span<uint8_t> buffer, std::chrono::milliseconds timeout,
                                    size_t wait_for) {
  if (!is_open()) {
    return MakeError(NetErrc::kNotConnected, "cannot read from " +
                                                 (endpoint_.empty() ? "a server" : endpoint_) +
                                                 ": the connection is not open; reconnect");
  }
  const auto deadline = Clock::now() + timeout;
  // A low-water mark only shapes when a sleeping read wakes up: a non-blocking read (asio
  // tries one first) returns whatever is buffered, so no byte waits for the mark.
  constexpr size_t kMaxLowWater = 64 * 1024;
  // TLS: the mark would count encrypted bytes in the kernel, while part of the owed replies
  // may already sit decrypted or half-read in the SSL stream: a read could wait for bytes
  // that never come. So TLS reads wake for any byte.
  size_t low_water = impl_->tls ? 1 : std::clamp<size_t>(wait_for, 1, kMaxLowWater);
  Impl::OpState op;
  auto on_read = [&op](const asio::error_code& e, size_t n) {
    op.ec = e;
    op.bytes = n;
    op.done = true;
  };
  auto start_read = [&] {
    if (impl_->tls) {
      op = Impl::OpState{};
      impl_->tls->async_read_some(asio::buffer(buffer.data(), buffer.size()), on_read);
      return;
    }
    if (low_water != low_water_) {
      asio::error_code ignored;  // without the option, reads just wake up sooner
      impl_->socket.set_option(
          asio::socket_base::receive_low_watermark(static_cast<int>(low_water)), ignored);
      low_water_ = low_water;
    }
    op = Impl::OpState{};
    impl_->socket.async_read_some(asio::buffer(buffer.data(), buffer.size()), on_read);
  };
  start_read();
  bool timed_out = false;
  if (low_water > 1) {
    // Not more than kLowWaterPatience with the mark: a slow server's replies still come
    // back in time, a little later.
    timed_out = impl_->Run(&op, std::min(deadline, Clock::now() + kLowWaterPatience));
    if (timed_out && Clock::now() < deadline) {
      low_water = 1;
      start_read();
      timed_out = impl_->Run(&op, deadline);
    }
  } else {
    timed_out = impl_->Run(&op, deadline);
  }
  if (timed_out) {
    return MakeError(NetErrc::kTimeout, "no reply from " + endpoint_ + " within " + Ms(timeout) +
                                            "; the server may be busy, paused or blocked — "
                                            "check it, or raise the I/O timeout");
  }
  if (op.ec) {
    if (impl_->tls) {
      Error e = TlsIoError(op.ec, false, "while reading");
      Close();
      return MakeError(std::move(e));
    }
    Close();
    if (IsPeerClosed(op.ec)) {
      return MakeError(NetErrc::kClosedByPeer,
                       "connection to " + endpoint_ + " was closed by the server (" +
                           op.ec.message() +
                           "); it may have restarted, hit a limit or killed the client — check "
                           "its log, then reconnect");
    }
    return MakeError(NetErrc::kIoError,
                     "reading from " + endpoint_ + " failed: " + op.ec.message() + "; reconnect");
  }
  return op.bytes;
}

}  // namespace kf::net
