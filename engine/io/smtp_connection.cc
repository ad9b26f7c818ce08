// SmtpConnection implementation: byte plumbing between socket, TLS and the SMTP client.
#include "engine/io/smtp_connection.h"

#include <algorithm>

namespace ringmta::engine {

using protocol::ClientEvent;

SmtpConnection::SmtpConnection(EventLoop& loop, ConnectionOwner& owner,
                               const ConnectionTarget& target, protocol::ClientConfig config,
                               uint64_t id)
    : SmtpSession(id),
      loop_(loop),
      owner_(owner),
      target_(target),
      implicit_tls_(config.tls == protocol::TlsMode::kImplicit),
      record_replies_(config.record_replies),
      client_(std::move(config)),
      stream_(loop, *this) {}

SmtpConnection::~SmtpConnection() {
  if (timer_ != 0) loop_.cancel_timer(timer_);
}

void SmtpConnection::start() {
  io_deadline_ = loop_.now() + target_.connect_timeout;
  arm_timer();
  stream_.connect(target_.endpoint, target_.bind_address ? &*target_.bind_address : nullptr);
}

void SmtpConnection::on_connected() {
  connected_ = true;
  io_deadline_ = 0;
  // Implicit TLS: the handshake comes before the SMTP greeting.
  if (implicit_tls_) {
    start_tls();
  } else {
    client_.on_connected(loop_.now());
  }
  pump();
}

void SmtpConnection::start_tls() {
  if (target_.tls == nullptr) {
    client_.on_tls_failed("no TLS context for this route", loop_.now());
    return;
  }
  auto channel = TlsChannel::client(
      target_.tls, target_.tls_name.empty() ? target_.endpoint.host : target_.tls_name);
  if (!channel) {
    client_.on_tls_failed(channel.error().message, loop_.now());
    return;
  }
  tls_ = std::move(channel.value());
  handshaking_ = true;
  io_deadline_ = loop_.now() + target_.tls_handshake_timeout;
  continue_handshake();
}

void SmtpConnection::continue_handshake() {
  TlsChannel::Status status = tls_->handshake();
  if (tls_->has_ciphertext()) stream_.write(tls_->take_ciphertext());
  if (status == TlsChannel::Status::kWantMore) return;
  handshaking_ = false;
  io_deadline_ = 0;
  if (status == TlsChannel::Status::kFailed) {
    client_.on_tls_failed(tls_->error(), loop_.now());
    return;
  }
  tls_ready_ = true;
  if (implicit_tls_) {
    client_.on_connected(loop_.now());
  } else {
    client_.on_tls_established(loop_.now());
  }
}

void SmtpConnection::on_data(std::string_view data) {
  if (closing_) return;
  note_written();
  if (tls_) {
    tls_->feed(data);
    if (handshaking_) {
      continue_handshake();
    }
    if (tls_ready_) {
      std::string plain;
      bool ok = tls_->read(plain);
      if (!plain.empty()) client_.on_received(plain, loop_.now());
      if (!ok) client_.on_connection_lost(tls_->error(), loop_.now());
      if (tls_->has_ciphertext()) stream_.write(tls_->take_ciphertext());
    }
  } else {
    client_.on_received(data, loop_.now());
  }
  pump();
}

void SmtpConnection::on_stream_error(std::string reason) {
  note_written();
  if (!connected_) {
    client_.on_connection_lost("cannot connect to " + target_.endpoint.str() + ": " + reason,
                               loop_.now());
  } else {
    client_.on_connection_lost(reason, loop_.now());
  }
  pump();
}

void SmtpConnection::on_closed() {
  if (timer_ != 0) {
    loop_.cancel_timer(timer_);
    timer_ = 0;
  }
  owner_.on_connection_closed(*this);
}

void SmtpConnection::submit(protocol::Envelope envelope) {
  client_.submit(std::move(envelope), loop_.now());
  pump();
}

void SmtpConnection::quit() {
  client_.quit(loop_.now());
  pump();
}

void SmtpConnection::abort() {
  closing_ = true;
  stream_.close();
}

void SmtpConnection::pump() {
  if (pumping_) return;  // an owner callback re-entered; the loop below picks its work up
  pumping_ = true;
  for (;;) {
    bool progressed = false;
    if (record_replies_) {
      std::vector<protocol::ReplyRecord> replies = client_.take_replies();
      if (!replies.empty()) owner_.on_replies(*this, replies);
    }
    while (auto event = client_.poll_event()) {
      progressed = true;
      if (std::holds_alternative<protocol::TlsHandshakeNeeded>(*event)) {
        start_tls();
      } else if (std::holds_alternative<protocol::SessionReady>(*event)) {
        owner_.on_session_ready(*this);
      } else if (auto* done = std::get_if<protocol::TransactionDone>(&*event)) {
        owner_.on_transaction_done(*this, std::move(*done));
      } else if (auto* failed = std::get_if<protocol::SessionFailed>(&*event)) {
        owner_.on_session_failed(*this, *failed);
      } else if (std::holds_alternative<protocol::SessionClosed>(*event)) {
        closing_ = true;
      }
    }
    if (client_.has_output()) {
      progressed = true;
      std::string out = client_.take_output();
      plaintext_taken_ += out.size();
      if (tls_ready_) {
        tls_->write(out);
        stream_.write(tls_->take_ciphertext());
      } else {
        stream_.write(std::move(out));
      }
      unsent_.push_back({plaintext_taken_, stream_.bytes_queued()});
    }
    if (!progressed) break;
  }
  note_written();
  pumping_ = false;
  if (closing_) {
    stream_.close();
    return;
  }
  arm_timer();
}

void SmtpConnection::note_written() {
  uint64_t written = 0;
  while (!unsent_.empty() && unsent_.front().wire_end <= stream_.bytes_sent()) {
    written = unsent_.front().plaintext_end;
    unsent_.pop_front();
  }
  if (written != 0) client_.on_written(written);
}

void SmtpConnection::arm_timer() {
  Millis at = 0;
  if (auto d = client_.deadline()) at = *d;
  if (io_deadline_ != 0) at = at == 0 ? io_deadline_ : std::min(at, io_deadline_);
  if (stream_.send_pending()) {
    Millis send_deadline = stream_.send_started() + target_.send_timeout;
    at = at == 0 ? send_deadline : std::min(at, send_deadline);
  }
  if (at == timer_at_ && timer_ != 0) return;
  if (timer_ != 0) loop_.cancel_timer(timer_);
  timer_ = 0;
  timer_at_ = at;
  if (at != 0) timer_ = loop_.add_timer(at, [this] { on_timer(); });
}

void SmtpConnection::on_timer() {
  timer_ = 0;
  timer_at_ = 0;
  Millis now = loop_.now();
  note_written();
  if (io_deadline_ != 0 && now >= io_deadline_) {
    io_deadline_ = 0;
    client_.on_connection_lost(connected_ ? "TLS handshake timed out"
                                          : "connect to " + target_.endpoint.str() + " timed out",
                               now);
  } else if (stream_.send_pending() && now >= stream_.send_started() + target_.send_timeout) {
    client_.on_connection_lost("sending timed out (the server stopped reading)", now);
  } else if (auto d = client_.deadline(); d && now >= *d) {
    client_.on_timeout(now);
  }
  pump();
}

}  // namespace ringmta::engine
