// http_call and http_upload (see client.h): a socket, one request, the answer read until the
// server closes.
#include "http/client.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <random>

#include "engine/io/tcp_stream.h"
#include "util/errno_text.h"
#include "util/poll_wait.h"

namespace ringmta::http {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

using SslCtx = std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)>;
using Ssl = std::unique_ptr<SSL, void (*)(SSL*)>;

// One connection to the listener, plain or TLS, each operation bounded by `timeout` of
// inactivity.
class Connection {
 public:
  Connection(std::string base, Millis timeout) : base_(std::move(base)), timeout_(timeout) {}

  // Connects to HOST:PORT; with TLS, the server's certificate must be the first of pinned_cert.
  Result<void> open(const std::string& hostport, bool https, const std::string& pinned_cert) {
    auto ep = engine::resolve_endpoint(hostport, 80);
    if (!ep) return ep.error();
    socket_.fd = ::socket(ep->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (socket_.fd < 0) return make_error("socket: " + errno_text(errno));
    if (::connect(socket_.fd, reinterpret_cast<const sockaddr*>(&ep->addr), ep->len) < 0) {
      return make_error("cannot connect to " + base_ + ": " + errno_text(errno));
    }
    if (!https) return {};
    timeval tv{static_cast<time_t>(timeout_ / 1000),
               static_cast<suseconds_t>(timeout_ % 1000 * 1000)};
    ::setsockopt(socket_.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(socket_.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return handshake(pinned_cert);
  }

  Result<void> send(std::string_view bytes) {
    while (!bytes.empty()) {
      if (ssl_) {
        const int n = SSL_write(ssl_.get(), bytes.data(), static_cast<int>(bytes.size()));
        if (n <= 0) return make_error(base_ + ": timed out or failed sending");
        bytes.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (!wait_ready(socket_.fd, POLLOUT, timeout_))
        return make_error(base_ + ": timed out sending");
      const ssize_t n = ::send(socket_.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return make_error(base_ + ": " + errno_text(errno));
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
  }

  // Everything until the server closes (Connection: close), at most kMaxAnswer bytes.
  Result<std::string> read_to_end() {
    std::string answer;
    char buf[64 * 1024];
    for (;;) {
      if (ssl_) {
        const int n = SSL_read(ssl_.get(), buf, sizeof buf);
        if (n <= 0) {
          const int e = SSL_get_error(ssl_.get(), n);
          if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
            break;
          }
          return make_error(base_ + ": no answer in time");
        }
        answer.append(buf, static_cast<std::size_t>(n));
      } else {
        if (!wait_ready(socket_.fd, POLLIN, timeout_))
          return make_error(base_ + ": no answer in time");
        const ssize_t n = ::recv(socket_.fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return make_error(base_ + ": " + errno_text(errno));
        if (n == 0) break;
        answer.append(buf, static_cast<std::size_t>(n));
      }
      if (answer.size() > kMaxAnswer) return make_error(base_ + ": the answer is too large");
    }
    return answer;
  }

 private:
  Result<void> handshake(const std::string& pinned_cert) {
    if (pinned_cert.empty()) {
      return make_error(base_ + ": an https API needs its certificate file to check it against");
    }
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(pinned_cert.c_str(), "r"),
                                                         std::fclose);
    if (!file) return make_error(base_ + ": cannot read the API's certificate " + pinned_cert);
    std::unique_ptr<X509, void (*)(X509*)> expected(
        PEM_read_X509(file.get(), nullptr, nullptr, nullptr), X509_free);
    if (!expected) return make_error(pinned_cert + ": no PEM certificate");
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    ssl_.reset(ctx_ ? SSL_new(ctx_.get()) : nullptr);
    if (!ssl_) return make_error("TLS: cannot set up OpenSSL");
    // The listener closes the connection after its answer without a TLS close_notify; the
    // answer's Content-Length says whether it came whole.
    SSL_set_options(ssl_.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_set_fd(ssl_.get(), socket_.fd);
    if (SSL_connect(ssl_.get()) != 1) {
      char why[256] = "handshake failed";
      if (const unsigned long e = ERR_get_error(); e != 0) ERR_error_string_n(e, why, sizeof why);
      return make_error(base_ + ": TLS: " + why);
    }
    std::unique_ptr<X509, void (*)(X509*)> presented(SSL_get1_peer_certificate(ssl_.get()),
                                                     X509_free);
    if (!presented || X509_cmp(presented.get(), expected.get()) != 0) {
      return make_error(base_ + ": the server's certificate is not the one in " + pinned_cert);
    }
    return {};
  }

  std::string base_;
  Millis timeout_;
  Fd socket_;
  SslCtx ctx_{nullptr, SSL_CTX_free};
  Ssl ssl_{nullptr, SSL_free};  // destroyed before ctx_ and the socket
};

// The answer's status and body.
Result<CallAnswer> parse_answer(const std::string& base, const std::string& answer) {
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

// One request: its head, the body that send_body sends, and the answer read to the end.
Result<CallAnswer> exchange(const std::string& base, std::string_view method, std::string_view path,
                            std::string_view bearer, std::string_view content_type,
                            std::optional<uint64_t> content_length,
                            const std::function<Result<void>(Connection&)>& send_body,
                            Millis timeout, const std::string& pinned_cert) {
  std::string hostport = base;
  const bool https = hostport.starts_with("https://");
  if (hostport.starts_with("http://")) hostport.erase(0, 7);
  if (https) hostport.erase(0, 8);
  if (!hostport.empty() && hostport.back() == '/') hostport.pop_back();
  Connection connection(base, timeout);
  if (auto opened = connection.open(hostport, https, pinned_cert); !opened) return opened.error();
  std::string head = std::string(method) + " " + std::string(path) +
                     " HTTP/1.1\r\nHost: " + hostport + "\r\nConnection: close\r\n";
  if (!bearer.empty()) head += "Authorization: Bearer " + std::string(bearer) + "\r\n";
  if (content_length) {
    head += "Content-Type: " + std::string(content_type) +
            "\r\nContent-Length: " + std::to_string(*content_length) + "\r\n";
  }
  head += "\r\n";
  if (auto sent = connection.send(head); !sent) return sent.error();
  if (auto sent = send_body(connection); !sent) {
    // The server may have answered early (401, 413, 507) and closed: its answer says why.
    auto early = connection.read_to_end();
    if (!early || early->empty()) return sent.error();
    std::string answer = std::move(*early);
    return parse_answer(base, answer);
  }
  auto answer = connection.read_to_end();
  if (!answer) return answer.error();
  return parse_answer(base, *answer);
}

}  // namespace

Result<CallAnswer> http_call(const std::string& base, std::string_view method,
                             std::string_view path, std::string_view bearer, std::string_view body,
                             Millis timeout, const std::string& pinned_cert) {
  const bool has_body = !body.empty() || method == "POST";
  return exchange(
      base, method, path, bearer, "application/json",
      has_body ? std::optional<uint64_t>(body.size()) : std::nullopt,
      [body](Connection& c) { return c.send(body); }, timeout, pinned_cert);
}

Result<CallAnswer> http_upload(const std::string& base, std::string_view method,
                               std::string_view path, std::string_view bearer,
                               const UploadBody& body, Millis timeout,
                               const std::string& pinned_cert) {
  uint64_t length = 0;
  for (const BodyPiece& piece : body.pieces) {
    if (piece.file.empty()) {
      length += piece.bytes.size();
      continue;
    }
    struct stat st {};
    if (::stat(piece.file.c_str(), &st) != 0) {
      return make_error("cannot read " + piece.file + ": " + errno_text(errno));
    }
    length += static_cast<uint64_t>(st.st_size);
  }
  const auto send_pieces = [&body](Connection& c) -> Result<void> {
    std::vector<char> buf(256 * 1024);
    for (const BodyPiece& piece : body.pieces) {
      if (piece.file.empty()) {
        if (auto sent = c.send(piece.bytes); !sent) return sent;
        continue;
      }
      std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(piece.file.c_str(), "rb"),
                                                           std::fclose);
      if (!file) return make_error("cannot read " + piece.file + ": " + errno_text(errno));
      for (;;) {
        const std::size_t n = std::fread(buf.data(), 1, buf.size(), file.get());
        if (n > 0) {
          if (auto sent = c.send(std::string_view(buf.data(), n)); !sent) return sent;
        }
        if (n < buf.size()) break;
      }
      if (std::ferror(file.get())) return make_error("read error in " + piece.file);
    }
    return {};
  };
  return exchange(base, method, path, bearer, body.content_type, length, send_pieces, timeout,
                  pinned_cert);
}

UploadBody multipart_form(const std::vector<std::pair<std::string, std::string>>& fields,
                          const std::vector<std::pair<std::string, std::string>>& files) {
  unsigned char random[16];
  std::string boundary = "ringmta-";
  if (RAND_bytes(random, sizeof random) != 1) {
    std::random_device device;
    for (unsigned char& b : random) b = static_cast<unsigned char>(device());
  }
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char b : random) {
    boundary += kHex[b >> 4];
    boundary += kHex[b & 15];
  }
  UploadBody body{.content_type = "multipart/form-data; boundary=" + boundary, .pieces = {}};
  std::string text;
  for (const auto& [name, value] : fields) {
    text += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" +
            value + "\r\n";
  }
  for (const auto& [name, path] : files) {
    std::string filename = path.substr(path.rfind('/') + 1);
    std::erase_if(filename, [](char c) { return c == '"' || c == '\\' || c == '\r' || c == '\n'; });
    text += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name +
            "\"; filename=\"" + filename + "\"\r\nContent-Type: application/octet-stream\r\n\r\n";
    body.pieces.push_back({std::move(text), {}});
    text.clear();
    body.pieces.push_back({{}, path});
    text = "\r\n";
  }
  text += "--" + boundary + "--\r\n";
  body.pieces.push_back({std::move(text), {}});
  return body;
}

}  // namespace ringmta::http
