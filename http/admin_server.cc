// AdminServer implementation: a poll() loop over the listening socket and its clients.
#include "http/admin_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "engine/io/tcp_stream.h"
#include "engine/io/tls_channel.h"
#include "http/request_parser.h"
#include "metrics/exposition.h"
#include "metrics/prometheus_text.h"
#include "metrics/status_json.h"
#include "metrics/status_page.h"
#include "util/errno_text.h"

namespace ringmta::http {
namespace {

struct Client {
  explicit Client(std::size_t max_body) : parser(max_body) {}
  int fd = -1;
  HttpRequestParser parser;
  std::unique_ptr<BodyReader> upload;  // the streamed body being read, if any
  bool upload_keep_alive = true;
  std::unique_ptr<engine::TlsChannel> tls;  // HTTPS: bytes on the socket are its ciphertext
  std::string out;
  std::size_t sent = 0;
  bool close_after = false;
  // A rejected request's answer is out and the write side shut: what the client still sends (the
  // rest of a body too large) is read and dropped until it closes, so that it gets to read the
  // answer instead of a reset (a "lingering close", RFC 9112 §9.6), for at most kLinger.
  bool lingering = false;
  bool rejected = false;
  Millis last_active = 0;
  Millis linger_until = 0;
};

constexpr Millis kLinger = 5'000;

// Plaintext out to the client: encrypted first with TLS.
void emit(Client& c, std::string_view plaintext) {
  if (c.tls == nullptr) {
    c.out.append(plaintext);
    return;
  }
  c.tls->write(plaintext);
  c.out += c.tls->take_ciphertext();
}

// Bytes read from the socket, as the plaintext the parser reads; false: TLS failed or ended.
bool decrypt(Client& c, std::string_view bytes, std::string& plain) {
  plain.clear();
  return c.tls->receive(bytes, plain, c.out) != engine::TlsChannel::Status::kFailed;
}

// "socket: Too many open files", from errno.
std::string call_error(const char* what) {
  return std::string(what) + ": " + errno_text(errno);
}

}  // namespace

Result<std::unique_ptr<AdminServer>> AdminServer::start(const std::string& listen,
                                                        ListenerOptions options) {
  auto ep = engine::resolve_endpoint(listen, kDefaultPort);
  if (!ep) return ep.error();
  std::unique_ptr<AdminServer> s(new AdminServer());
  s->options_ = options;
  int fd = ::socket(ep->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(call_error("socket"));
  s->listen_fd_ = fd;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&ep->addr), ep->len) < 0) {
    return make_error("cannot listen on " + listen + ": " + errno_text(errno));
  }
  if (::listen(fd, 64) < 0) return make_error(call_error("listen"));
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  char host[INET6_ADDRSTRLEN] = {};
  if (bound.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&bound);
    ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    s->port_ = ntohs(a->sin6_port);
    s->url_ = std::string(options.tls ? "https" : "http") + "://[" + std::string(host) +
              "]:" + std::to_string(s->port_) + "/";
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&bound);
    ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    s->port_ = ntohs(a->sin_port);
    s->url_ = std::string(options.tls ? "https" : "http") + "://" + std::string(host) + ":" +
              std::to_string(s->port_) + "/";
  }
  if (::pipe2(s->wake_fds_, O_CLOEXEC | O_NONBLOCK) < 0) return make_error(call_error("pipe"));
  AdminServer* raw = s.get();
  s->thread_ = std::thread([raw] { raw->run(); });
  return s;
}

AdminServer::~AdminServer() {
  stop();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  for (int fd : wake_fds_) {
    if (fd >= 0) ::close(fd);
  }
}

void AdminServer::publish(std::shared_ptr<const metrics::Snapshot> snapshot) {
  snapshot_.store(std::move(snapshot));
}

void AdminServer::stop() {
  if (stopping_.exchange(true)) {
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
    return;
  }
  char c = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fds_[1], &c, 1);
  if (thread_.joinable()) thread_.join();
}

void AdminServer::handle(std::string prefix, Handler handler) {
  // Copy-on-write: the listener's thread reads the routes without a lock.
  auto routes = std::make_shared<Routes>();
  if (auto old = routes_.load()) *routes = *old;
  routes->emplace_back(std::move(prefix), std::move(handler));
  routes_.store(std::move(routes));
}

void AdminServer::add_metrics(std::function<std::string()> families) {
  auto sources = std::make_shared<MetricSources>();
  if (auto old = metric_sources_.load()) *sources = *old;
  sources->push_back(std::move(families));
  metric_sources_.store(std::move(sources));
}

void AdminServer::handle_stream(StreamRoute route) {
  auto routes = std::make_shared<StreamRoutes>();
  if (auto old = stream_routes_.load()) *routes = *old;
  routes->push_back(std::move(route));
  stream_routes_.store(std::move(routes));
}

bool AdminServer::wants_stream(const HttpRequest& head) const {
  auto routes = stream_routes_.load();
  if (!routes) return false;
  return std::any_of(routes->begin(), routes->end(), [&head](const StreamRoute& r) {
    return head.path == r.path && r.wants(head);
  });
}

StreamStart AdminServer::open_stream(const HttpRequest& head) const {
  if (auto routes = stream_routes_.load()) {
    for (const StreamRoute& r : *routes) {
      if (head.path == r.path && r.wants(head)) return r.open(head);
    }
  }
  return StreamStart{nullptr, HttpAnswer{404, "text/plain; charset=utf-8", "not found\n", {}}};
}

std::string AdminServer::answer(const HttpRequest& request) const {
  const std::string& method = request.method;
  const std::string& path = request.path;
  const bool keep_alive = request.keep_alive;
  if (auto routes = routes_.load()) {
    for (const auto& [prefix, handler] : *routes) {
      if (!path.starts_with(prefix)) continue;
      HttpAnswer a = handler(request);
      return http_response(a.status, a.content_type, a.body, keep_alive, method == "HEAD",
                           a.extra_headers);
    }
  }
  bool head = method == "HEAD";
  if (!options_.builtin_pages) {
    return http_response(404, "text/plain; charset=utf-8", "not found\n", keep_alive, head);
  }
  if (method != "GET" && !head) {
    return http_response(405, "text/plain; charset=utf-8", "only GET and HEAD\n", keep_alive, false,
                         "Allow: GET, HEAD\r\n");
  }
  if (path != "/" && path != "/metrics" && path != "/status") {
    return http_response(404, "text/plain; charset=utf-8",
                         "not found; try /, /status or /metrics\n", keep_alive, head);
  }
  if (path == "/") {
    return http_response(200, "text/html; charset=utf-8", metrics::status_page_html(), keep_alive,
                         head);
  }
  std::shared_ptr<const metrics::Snapshot> s = snapshot_.load();
  if (!s) {
    return http_response(503, "text/plain; charset=utf-8", "no snapshot yet\n", keep_alive, head,
                         "Retry-After: 1\r\n");
  }
  if (path == "/metrics") {
    std::string text = metrics::prometheus_text(*s);
    if (auto sources = metric_sources_.load()) {
      for (const auto& families : *sources) text += families();
    }
    return http_response(200, metrics::Exposition::kContentType, text, keep_alive, head);
  }
  return http_response(200, "application/json", metrics::status_json(*s), keep_alive, head);
}

void AdminServer::run() {
  std::vector<Client> clients;
  std::vector<pollfd> fds;
  std::vector<char> buf(64 * 1024);  // large enough that a big request body takes few reads
  std::string plain;                 // a read's plaintext (HTTPS)
  std::string piece;                 // of a streamed body
  // An answer that ends the connection once it is out, the rest of the request unread.
  const auto answer_and_close = [](Client& c, const HttpAnswer& a) {
    emit(c, http_response(a.status, a.content_type, a.body, false, false, a.extra_headers));
    c.close_after = true;
    c.rejected = true;  // linger: the client may still be sending the body
    c.upload.reset();
  };
  // The requests (and streamed bodies) the parser holds, answered in order.
  const auto serve = [&](Client& c) {
    while (!c.close_after) {
      if (c.parser.in_body()) {
        piece.clear();
        const auto status = c.parser.read_body(piece);
        if (!piece.empty() && c.upload != nullptr) {
          if (auto early = c.upload->consume(piece)) {
            answer_and_close(c, *early);
            break;
          }
        }
        if (status != HttpRequestParser::BodyStatus::kEnd) break;
        if (c.upload != nullptr) {
          const HttpAnswer a = c.upload->finish();
          c.upload.reset();
          emit(c, http_response(a.status, a.content_type, a.body, c.upload_keep_alive, false,
                                a.extra_headers));
          if (!c.upload_keep_alive) c.close_after = true;
        }
        continue;
      }
      auto req = c.parser.next();
      if (!req) break;
      if (req->streamed) {
        StreamStart start = open_stream(*req);
        if (start.reader == nullptr) {
          answer_and_close(c, start.answer);
          break;
        }
        c.upload = std::move(start.reader);
        c.upload_keep_alive = req->keep_alive;
        continue;
      }
      emit(c, answer(*req));
      if (!req->keep_alive) c.close_after = true;
    }
  };
  while (!stopping_.load()) {
    fds.clear();
    fds.push_back({wake_fds_[0], POLLIN, 0});
    fds.push_back({listen_fd_, static_cast<short>(clients.size() < kMaxClients ? POLLIN : 0), 0});
    for (const Client& c : clients) {
      fds.push_back({c.fd, static_cast<short>(c.out.size() > c.sent ? POLLOUT : POLLIN), 0});
    }
    int rc = ::poll(fds.data(), fds.size(), 1000);
    if (rc < 0 && errno != EINTR) break;
    if (stopping_.load()) break;
    Millis now = monotonic_now();
    if (fds[1].revents & POLLIN) {
      for (;;) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        if (clients.size() >= kMaxClients) {
          ::close(fd);
          break;
        }
        Client c(options_.max_body);
        c.parser.stream_bodies([this](const HttpRequest& head) { return wants_stream(head); },
                               options_.max_streamed_body);
        c.fd = fd;
        c.last_active = now;
        if (options_.tls != nullptr) {
          auto channel = engine::TlsChannel::server(options_.tls);
          if (!channel) {
            ::close(fd);
            continue;
          }
          c.tls = std::move(channel.value());
        }
        clients.push_back(std::move(c));
      }
    }
    for (std::size_t i = 0; i < clients.size(); ++i) {
      Client& c = clients[i];
      short revents = i + 2 < fds.size() && fds[i + 2].fd == c.fd ? fds[i + 2].revents : 0;
      bool drop = false;
      if (revents & (POLLERR | POLLNVAL)) drop = true;
      if (!drop && c.lingering && (revents & (POLLIN | POLLHUP))) {
        const ssize_t n = ::recv(c.fd, buf.data(), buf.size(), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) drop = true;
        if (now > c.linger_until) drop = true;
      } else if (!drop && (revents & (POLLIN | POLLHUP)) && c.out.size() == c.sent) {
        ssize_t n = ::recv(c.fd, buf.data(), buf.size(), 0);
        if (n <= 0) {
          drop = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
        } else {
          c.last_active = now;
          std::string_view input(buf.data(), static_cast<std::size_t>(n));
          if (c.tls != nullptr) {
            if (!decrypt(c, input, plain)) {
              c.close_after = true;  // once the alert (if any) is out
              if (c.out.size() == c.sent) drop = true;
            }
            input = plain;
          }
          c.parser.feed(input);
          serve(c);
          if (c.parser.take_continue() && !c.close_after) emit(c, kContinue);
          if (const auto& bad = c.parser.rejection(); bad && !c.close_after) {
            emit(c, http_response(bad->status, "text/plain; charset=utf-8", bad->reason + "\n",
                                  false));
            c.close_after = true;
            c.rejected = true;
          }
        }
      }
      if (!drop && c.out.size() > c.sent) {
        ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
        if (n > 0) {
          c.sent += static_cast<std::size_t>(n);
          c.last_active = now;
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
          drop = true;
        }
        if (c.sent == c.out.size()) {
          c.out.clear();
          c.sent = 0;
          if (c.close_after && c.rejected) {
            ::shutdown(c.fd, SHUT_WR);
            c.lingering = true;
            c.linger_until = now + kLinger;
          } else if (c.close_after) {
            drop = true;
          }
        }
      }
      if (now - c.last_active > kIdleTimeout || (c.lingering && now > c.linger_until)) drop = true;
      if (drop) {
        ::close(c.fd);
        c.fd = -1;
      }
    }
    std::erase_if(clients, [](const Client& c) { return c.fd < 0; });
  }
  for (Client& c : clients) ::close(c.fd);
}

Result<AdminListen> open_admin(const std::string& spec, bool required) {
  AdminListen out;
  if (spec == "none") return out;
  auto server = AdminServer::start(spec);
  if (server) {
    out.server = std::move(server.value());
    return out;
  }
  if (required) return make_error("--admin " + spec + ": " + server.error().message);
  out.warning = "admin listener not started (" + server.error().message +
                "); delivering without /metrics and the status page. Pass --admin HOST:PORT "
                "or --admin none.";
  return out;
}

}  // namespace ringmta::http
