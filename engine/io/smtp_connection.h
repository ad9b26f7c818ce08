// SmtpConnection: glues one TcpStream, an optional TlsChannel and a protocol::SmtpClient.
// It moves bytes between them, arms the client's deadline as a loop timer, and reports the
// client's events to its owner. All SMTP decisions are the client's; all delivery decisions are
// the owner's. It may not: choose recipients, retry, or touch storage.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "engine/io/event_loop.h"
#include "engine/io/tcp_stream.h"
#include "engine/io/tls_channel.h"
#include "protocol/smtp_client.h"

namespace ringmta::engine {

class SmtpConnection;

class ConnectionOwner {
 public:
  virtual void on_session_ready(SmtpConnection& conn) = 0;
  virtual void on_transaction_done(SmtpConnection& conn, protocol::TransactionDone&& done) = 0;
  virtual void on_session_failed(SmtpConnection& conn, const protocol::SessionFailed& failed) = 0;
  // Nothing is outstanding; the owner destroys the connection later (not inside this call).
  virtual void on_connection_closed(SmtpConnection& conn) = 0;
  // Every reply as it arrived, before the events it caused; only with ClientConfig::record_replies
  // (`ringmta blast` times commands with it).
  virtual void on_replies(SmtpConnection&, const std::vector<protocol::ReplyRecord>&) {}

 protected:
  ~ConnectionOwner() = default;
};

struct ConnectionTarget {
  Endpoint endpoint;
  std::shared_ptr<TlsContext> tls;  // required for kStartTls and kImplicit
  Millis connect_timeout = 30'000;
  Millis tls_handshake_timeout = 120'000;
  Millis send_timeout = 180'000;                 // RFC 5321 data block timeout
  std::optional<sockaddr_storage> bind_address;  // the source address (--bind-address)
};

class SmtpConnection final : private StreamHandler {
 public:
  SmtpConnection(EventLoop& loop, ConnectionOwner& owner, const ConnectionTarget& target,
                 protocol::ClientConfig config, uint64_t id);
  ~SmtpConnection();

  void start();
  void submit(protocol::Envelope envelope);
  void quit();
  // Closes the socket now, without QUIT; unfinished transactions get no TransactionDone.
  void abort();
  bool can_submit() const { return client_.can_submit(); }
  std::size_t in_flight() const { return client_.in_flight(); }
  const protocol::SmtpClient& client() const { return client_; }
  uint64_t id() const { return id_; }
  uint32_t messages_sent = 0;  // owner's count, for max messages per connection
  bool retired = false;        // owner's mark: told to QUIT, takes no more work
  std::string tls_description() const { return tls_ ? tls_->description() : ""; }

 private:
  void on_connected() override;
  void on_data(std::string_view data) override;
  void on_stream_error(std::string reason) override;
  void on_closed() override;

  void start_tls();
  void continue_handshake();
  void pump();
  void note_written();
  void arm_timer();
  void on_timer();

  EventLoop& loop_;
  ConnectionOwner& owner_;
  const ConnectionTarget& target_;
  bool implicit_tls_;
  bool record_replies_;
  protocol::SmtpClient client_;
  uint64_t id_;
  TcpStream stream_;
  std::unique_ptr<TlsChannel> tls_;
  bool handshaking_ = false;
  bool tls_ready_ = false;
  bool connected_ = false;
  bool pumping_ = false;
  bool closing_ = false;
  Millis io_deadline_ = 0;  // connect or TLS handshake deadline; 0 when none
  // Where each piece of the client's output ends, in its plaintext and on the wire (after TLS),
  // until the stream has sent it: tells the client how much of what it wrote reached the socket.
  struct OutputMark {
    uint64_t plaintext_end;
    uint64_t wire_end;
  };
  std::deque<OutputMark> unsent_;
  uint64_t plaintext_taken_ = 0;
  TimerId timer_ = 0;
  Millis timer_at_ = 0;
};

}  // namespace ringmta::engine
