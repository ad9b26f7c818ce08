// http_call (see client.h): a socket, one request, the answer read until the server closes.
#include "http/client.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "engine/io/tcp_stream.h"
#include "util/errno_text.h"

namespace ringmta::http {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Waits until fd is ready for `events` or the deadline passes.
bool wait_for(int fd, short events, Millis deadline) {
  for (;;) {
    const Millis left = deadline - monotonic_now();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return false;
  }
}

// The request over TLS on the connected, blocking socket (its timeouts set), the answer read to
// the end; the server's certificate must be the first one of pinned_cert.
Result<std::string> tls_exchange(int fd, const std::string& base, const std::string& request,
                                 const std::string& pinned_cert) {
  if (pinned_cert.empty()) {
    return make_error(base + ": an https API needs its certificate file to check it against");
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(pinned_cert.c_str(), "r"),
                                                       std::fclose);
  if (!file) return make_error(base + ": cannot read the API's certificate " + pinned_cert);
  std::unique_ptr<X509, void (*)(X509*)> expected(
      PEM_read_X509(file.get(), nullptr, nullptr, nullptr), X509_free);
  if (!expected) return make_error(pinned_cert + ": no PEM certificate");
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  std::unique_ptr<SSL, void (*)(SSL*)> ssl(ctx ? SSL_new(ctx.get()) : nullptr, SSL_free);
  if (!ssl) return make_error("TLS: cannot set up OpenSSL");
  // The listener closes the connection after its answer without a TLS close_notify; the
  // answer's Content-Length says whether it came whole.
  SSL_set_options(ssl.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_set_fd(ssl.get(), fd);
  if (SSL_connect(ssl.get()) != 1) {
    char why[256] = "handshake failed";
    if (const unsigned long e = ERR_get_error(); e != 0) ERR_error_string_n(e, why, sizeof why);
    return make_error(base + ": TLS: " + why);
  }
  std::unique_ptr<X509, void (*)(X509*)> presented(SSL_get1_peer_certificate(ssl.get()), X509_free);
  if (!presented || X509_cmp(presented.get(), expected.get()) != 0) {
    return make_error(base + ": the server's certificate is not the one in " + pinned_cert);
  }
  for (std::size_t sent = 0; sent < request.size();) {
    const int n =
        SSL_write(ssl.get(), request.data() + sent, static_cast<int>(request.size() - sent));
    if (n <= 0) return make_error(base + ": timed out or failed sending");
    sent += static_cast<std::size_t>(n);
  }
  std::string answer;
  char buf[64 * 1024];
  for (;;) {
    const int n = SSL_read(ssl.get(), buf, sizeof buf);
    if (n <= 0) {
      const int e = SSL_get_error(ssl.get(), n);
      if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) break;
      return make_error(base + ": no answer in time");
    }
    answer.append(buf, static_cast<std::size_t>(n));
    if (answer.size() > kMaxAnswer) return make_error(base + ": the answer is too large");
  }
  return answer;
}

}  // namespace

Result<CallAnswer> http_call(const std::string& base, std::string_view method,
                             std::string_view path, std::string_view bearer, std::string_view body,
                             Millis timeout, const std::string& pinned_cert) {
  std::string hostport = base;
  const bool https = hostport.starts_with("https://");
  if (hostport.starts_with("http://")) hostport.erase(0, 7);
  if (https) hostport.erase(0, 8);
  if (!hostport.empty() && hostport.back() == '/') hostport.pop_back();
  auto ep = engine::resolve_endpoint(hostport, 80);
  if (!ep) return ep.error();
  const Millis deadline = monotonic_now() + timeout;
  Fd s{::socket(ep->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (s.fd < 0) return make_error("socket: " + errno_text(errno));
  if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&ep->addr), ep->len) < 0) {
    return make_error("cannot connect to " + base + ": " + errno_text(errno));
  }
  std::string request = std::string(method) + " " + std::string(path) +
                        " HTTP/1.1\r\nHost: " + hostport + "\r\nConnection: close\r\n";
  if (!bearer.empty()) request += "Authorization: Bearer " + std::string(bearer) + "\r\n";
  if (!body.empty() || method == "POST") {
    request +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n";
  request.append(body);
  std::string answer;
  if (https) {
    timeval tv{static_cast<time_t>(timeout / 1000),
               static_cast<suseconds_t>(timeout % 1000 * 1000)};
    ::setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(s.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    auto exchanged = tls_exchange(s.fd, base, request, pinned_cert);
    if (!exchanged) return exchanged.error();
    answer = std::move(*exchanged);
  }
  for (std::size_t sent = 0; !https && sent < request.size();) {
    if (!wait_for(s.fd, POLLOUT, deadline)) return make_error(base + ": timed out sending");
    const ssize_t n = ::send(s.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error(base + ": " + errno_text(errno));
    sent += static_cast<std::size_t>(n);
  }
  char buf[64 * 1024];
  while (!https) {
    if (!wait_for(s.fd, POLLIN, deadline)) return make_error(base + ": no answer in time");
    const ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(base + ": " + errno_text(errno));
    if (n == 0) break;
    answer.append(buf, static_cast<std::size_t>(n));
    if (answer.size() > kMaxAnswer) return make_error(base + ": the answer is too large");
  }
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nBODY" (Connection: close: the body is the rest).
  const std::size_t head_end = answer.find("\r\n\r\n");
  if (!answer.starts_with("HTTP/1.") || answer.size() < 12 || head_end == std::string::npos) {
    return make_error(base + ": not an HTTP answer");
  }
  CallAnswer out;
  out.status = std::atoi(answer.c_str() + 9);
  out.body = answer.substr(head_end + 4);
  // The listener always sends Content-Length: a shorter body was cut off on the way.
  const std::string head = answer.substr(0, head_end + 2);
  if (const std::size_t at = head.find("\r\nContent-Length: "); at != std::string::npos) {
    const std::size_t length = std::strtoull(head.c_str() + at + 18, nullptr, 10);
    if (out.body.size() != length) return make_error(base + ": the answer was cut short");
  }
  return out;
}

}  // namespace ringmta::http
