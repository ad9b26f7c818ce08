// TcpStream implementation and start-up address resolution.
#include "engine/io/tcp_stream.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/host_port.h"

namespace ringmta::engine {

std::string Endpoint::str() const {
  return host + " (" + address() + ")";
}

std::string Endpoint::address() const {
  char ip[INET6_ADDRSTRLEN] = "?";
  if (addr.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&addr)->sin_addr, ip, sizeof ip);
    return std::string(ip) + ":" + std::to_string(port());
  }
  inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_addr, ip, sizeof ip);
  return "[" + std::string(ip) + "]:" + std::to_string(port());
}

uint16_t Endpoint::port() const {
  if (addr.ss_family == AF_INET)
    return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
}

Result<Endpoint> resolve_endpoint(const std::string& spec, uint16_t default_port) {
  const HostPort split = split_host_port(spec);
  if (split.syntax == HostPort::Syntax::kMissingBracket) {
    return make_error("bad address '" + spec + "': missing ']'");
  }
  if (split.syntax == HostPort::Syntax::kTextAfterBracket) {
    return make_error("bad address '" + spec + "'");
  }
  const std::string host(split.host);
  const std::string port = split.port ? std::string(*split.port) : std::to_string(default_port);
  if (host.empty()) return make_error("bad address '" + spec + "': no host");
  if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) > 65535) {
    return make_error("bad port in '" + spec + "'");
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  if (rc == EAI_ADDRFAMILY || rc == EAI_NONAME) {
    hints.ai_flags = 0;  // loopback-only machines: AI_ADDRCONFIG can hide ::1
    rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  }
  if (rc != 0 || found == nullptr) {
    return make_error("cannot resolve '" + host + "': " + gai_strerror(rc));
  }
  Endpoint ep;
  std::memcpy(&ep.addr, found->ai_addr, found->ai_addrlen);
  ep.len = found->ai_addrlen;
  ep.host = host;
  freeaddrinfo(found);
  return ep;
}

TcpStream::TcpStream(EventLoop& loop, StreamHandler& handler) : loop_(loop), handler_(handler) {}

TcpStream::~TcpStream() {
  if (fd_ >= 0) ::close(fd_);
}

void TcpStream::connect(const Endpoint& to, const sockaddr_storage* bind_to) {
  fd_ = ::socket(to.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    closing_ = true;
    handler_.on_stream_error(std::string("socket: ") + std::strerror(errno));
    finish_if_idle();
    return;
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (bind_to != nullptr &&
      ::bind(fd_, reinterpret_cast<const sockaddr*>(bind_to),
             bind_to->ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6)) != 0) {
    fail(std::string("bind: ") + std::strerror(errno));
    return;
  }
  connecting_ = true;
  ++outstanding_;
  loop_.connect(fd_, reinterpret_cast<const sockaddr*>(&to.addr), to.len, &connect_done_);
}

void TcpStream::adopt(int fd) {
  fd_ = fd;
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  start_recv();
}

void TcpStream::on_connect(int result) {
  --outstanding_;
  connecting_ = false;
  if (closing_) return finish_if_idle();
  if (result < 0) return fail(std::strerror(-result));
  start_recv();
  handler_.on_connected();
}

void TcpStream::start_recv() {
  if (closing_) return;
  in_buf_.resize(65536);
  ++outstanding_;
  loop_.recv(fd_, in_buf_.data(), in_buf_.size(), &recv_done_);
}

void TcpStream::on_recv(int result) {
  --outstanding_;
  if (closing_) return finish_if_idle();
  if (result == 0) return fail("connection closed by the peer");
  if (result < 0) return fail(std::strerror(-result));
  std::string_view data(in_buf_.data(), static_cast<std::size_t>(result));
  // Copy out: the handler may write or close, and the buffer is reused for the next receive.
  std::string copy(data);
  start_recv();
  handler_.on_data(copy);
}

void TcpStream::write(std::string_view bytes) {
  if (closing_ || fd_ < 0) return;
  bytes_queued_ += bytes.size();
  pending_.append(bytes);
  if (!sending_) start_send();
}

void TcpStream::write(std::string&& bytes) {
  if (closing_ || fd_ < 0) return;
  bytes_queued_ += bytes.size();
  if (pending_.empty()) {
    pending_.swap(bytes);
  } else {
    pending_.append(bytes);
  }
  if (!sending_) start_send();
}

void TcpStream::start_send() {
  if (closing_) return;
  if (pending_.empty()) {
    if (close_when_sent_) close();
    return;
  }
  send_buf_.swap(pending_);
  pending_.clear();
  send_off_ = 0;
  sending_ = true;
  send_started_ = loop_.now();
  ++outstanding_;
  loop_.send(fd_, send_buf_.data(), send_buf_.size(), &send_done_);
}

void TcpStream::on_send(int result) {
  --outstanding_;
  sending_ = false;
  if (closing_) return finish_if_idle();
  if (result < 0) return fail(std::strerror(-result));
  send_off_ += static_cast<std::size_t>(result);
  bytes_sent_ += static_cast<uint64_t>(result);
  if (send_off_ < send_buf_.size()) {
    sending_ = true;
    ++outstanding_;
    loop_.send(fd_, send_buf_.data() + send_off_, send_buf_.size() - send_off_, &send_done_);
    return;
  }
  start_send();
}

void TcpStream::fail(std::string reason) {
  if (closing_) return;
  begin_close();
  handler_.on_stream_error(std::move(reason));
  finish_if_idle();
}

void TcpStream::close() {
  if (closing_) return;
  begin_close();
  finish_if_idle();
}

void TcpStream::close_after_sending() {
  close_when_sent_ = true;
  if (!sending_) start_send();
}

void TcpStream::begin_close() {
  closing_ = true;
  if (fd_ >= 0) {
    ::shutdown(fd_, SHUT_RDWR);  // completes the pending receive
    if (connecting_) loop_.cancel(&connect_done_);
  }
}

void TcpStream::finish_if_idle() {
  if (!closing_ || outstanding_ > 0 || closed_notified_) return;
  closed_notified_ = true;
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  handler_.on_closed();
}

}  // namespace ringmta::engine
