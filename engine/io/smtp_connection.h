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
#include "engine/io/smtp_session.h"
#include "engine/io/tcp_stream.h"
#include "engine/io/tls_channel.h"
#include "protocol/smtp_client.h"

namespace ringmta::engine {

struct ConnectionTarget {
  Endpoint endpoint;
  std::shared_ptr<TlsContext> tls;  // required for kStartTls and kImplicit
  // The name the certificate is verified against and sent as SNI (--tls-name, like Postfix's
  // TLS policy match=): for a server reached by its address whose certificate names its host.
  // "": endpoint.host, a name or an IP literal.
  std::string tls_name;
  Millis connect_timeout = 30'000;
  Millis tls_handshake_timeout = 120'000;
  Millis send_timeout = 180'000;                 // RFC 5321 data block timeout
  std::optional<sockaddr_storage> bind_address;  // the source address (--bind-address)
};

class SmtpConnection final : public SmtpSession, private StreamHandler {
 public:
  SmtpConnection(EventLoop& loop, ConnectionOwner& owner, const ConnectionTarget& target,
                 protocol::ClientConfig config, uint64_t id);
  ~SmtpConnection() override;

  void start() override;
  void submit(protocol::Envelope envelope) override;
  void quit() override;
  void abort() override;
  bool can_submit() const override { return client_.can_submit(); }
  std::optional<Millis> waiting_since() const override { return client_.waiting_since(); }
  std::size_t in_flight() const override { return client_.in_flight(); }
  const protocol::Observations& observations() const override { return client_.observations(); }
  std::string tls_description() const override { return tls_ ? tls_->description() : ""; }

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
