// SmtpSession: one SMTP connection as its owner drives it — start, submit envelopes, QUIT or
// abort — and ConnectionOwner, the events it reports back. SmtpConnection (io_uring, TLS) is the
// real one; a RouteWorker takes a factory of sessions, so that tests can drive its decisions with
// scripted sessions and no sockets. It may not: choose recipients, retry, or touch storage.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/smtp_client.h"

namespace ringmta::engine {

class SmtpSession;

class ConnectionOwner {
 public:
  virtual void on_session_ready(SmtpSession& conn) = 0;
  virtual void on_transaction_done(SmtpSession& conn, protocol::TransactionDone&& done) = 0;
  virtual void on_session_failed(SmtpSession& conn, const protocol::SessionFailed& failed) = 0;
  // Nothing is outstanding; the owner destroys the connection later (not inside this call).
  virtual void on_connection_closed(SmtpSession& conn) = 0;
  // Every reply as it arrived, before the events it caused; only with ClientConfig::record_replies
  // (`ringmta blast` times commands with it).
  virtual void on_replies(SmtpSession&, const std::vector<protocol::ReplyRecord>&) {}

 protected:
  ~ConnectionOwner() = default;
};

class SmtpSession {
 public:
  virtual ~SmtpSession() = default;
  SmtpSession(const SmtpSession&) = delete;
  SmtpSession& operator=(const SmtpSession&) = delete;

  virtual void start() = 0;
  virtual void submit(protocol::Envelope envelope) = 0;
  virtual void quit() = 0;
  // Closes the socket now, without QUIT; unfinished transactions get no TransactionDone.
  virtual void abort() = 0;
  virtual bool can_submit() const = 0;
  virtual std::size_t in_flight() const = 0;
  // Since when the session has been waiting for the server's reply (nullopt: it is not).
  virtual std::optional<Millis> waiting_since() const = 0;
  // What the session learned of the server (EHLO extensions, TLS, AUTH), for diagnoses.
  virtual const protocol::Observations& observations() const = 0;
  virtual std::string tls_description() const = 0;  // "" in clear text

  uint64_t id() const { return id_; }
  uint32_t messages_sent = 0;  // owner's count, for max messages per connection
  bool retired = false;        // owner's mark: told to QUIT, takes no more work

 protected:
  explicit SmtpSession(uint64_t id) : id_(id) {}

 private:
  uint64_t id_;
};

}  // namespace ringmta::engine
