// TcpStream: one TCP connection driven by the EventLoop — connect (or adopt an accepted socket), a
// receive always outstanding, one send in flight with further bytes queued, and a safe close.
//
// Safe close: the object is never released while one of its operations is still in the ring.
// close() shuts the socket down so the pending receive completes, and on_closed() fires only when
// no operation is outstanding — possibly from inside close() itself, so the owner must defer
// destroying the stream (e.g. to the end of the loop tick), never delete it inside the callback.
// It may not: interpret bytes, or know about TLS or SMTP.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>
#include <string_view>

#include "engine/io/event_loop.h"

namespace ringmta::engine {

struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string host;             // the name (or literal) the user gave, for TLS and messages
  std::string str() const;      // "host (1.2.3.4:587)"
  std::string address() const;  // "1.2.3.4:587" or "[::1]:25"
  uint16_t port() const;
};

class StreamHandler {
 public:
  virtual void on_connected() = 0;
  virtual void on_data(std::string_view data) = 0;
  // The connection failed or ended; reason is "" for an orderly close we asked for.
  virtual void on_stream_error(std::string reason) = 0;
  // No operation is outstanding any more; the stream may be destroyed after this returns.
  virtual void on_closed() = 0;

 protected:
  ~StreamHandler() = default;
};

class TcpStream {
 public:
  TcpStream(EventLoop& loop, StreamHandler& handler);
  ~TcpStream();
  TcpStream(const TcpStream&) = delete;
  TcpStream& operator=(const TcpStream&) = delete;

  void connect(const Endpoint& to, const sockaddr_storage* bind_to = nullptr);
  // A connection a server accepted: the stream owns fd from now on and starts receiving.
  void adopt(int fd);
  void write(std::string_view bytes);
  // The same, taking the buffer over when nothing is waiting (no copy of a 10 KB message).
  void write(std::string&& bytes);
  void close();
  // Closes once everything written so far is sent (a server's last reply before it hangs up).
  void close_after_sending();
  bool open() const { return fd_ >= 0 && !closing_; }
  bool send_pending() const { return sending_; }
  Millis send_started() const { return send_started_; }
  // Bytes ever handed to write(), and of those, the ones the kernel has taken (sent).
  uint64_t bytes_queued() const { return bytes_queued_; }
  uint64_t bytes_sent() const { return bytes_sent_; }

 private:
  void on_connect(int result);
  void on_recv(int result);
  void on_send(int result);
  void start_recv();
  void start_send();
  void finish_if_idle();
  void fail(std::string reason);
  void begin_close();

  EventLoop& loop_;
  StreamHandler& handler_;
  int fd_ = -1;
  int outstanding_ = 0;
  bool closing_ = false;
  bool connecting_ = false;
  bool sending_ = false;
  bool closed_notified_ = false;
  bool close_when_sent_ = false;
  Millis send_started_ = 0;
  uint64_t bytes_queued_ = 0;
  uint64_t bytes_sent_ = 0;
  std::string in_buf_;
  std::string send_buf_;
  std::size_t send_off_ = 0;
  std::string pending_;
  MemberCompletion<TcpStream, &TcpStream::on_connect> connect_done_{this};
  MemberCompletion<TcpStream, &TcpStream::on_recv> recv_done_{this};
  MemberCompletion<TcpStream, &TcpStream::on_send> send_done_{this};
};

// Parses "host", "host:port", "1.2.3.4:port", "[::1]:port", "::1" (no port) and resolves it
// (getaddrinfo: start-up only, never on the ring). Errors name the host.
Result<Endpoint> resolve_endpoint(const std::string& spec, uint16_t default_port);

}  // namespace ringmta::engine
