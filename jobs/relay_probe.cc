// probe_relay: a Probe (an SmtpSession owner that submits one probe envelope) on its own
// event loop, after the POP-before-SMTP login when the route has one.
#include "jobs/relay_probe.h"

#include <memory>

#include "engine/io/pop3_login.h"
#include "engine/io/smtp_connection.h"
#include "protocol/diagnosis.h"

namespace ringmta::jobs {
namespace {

class Probe final : public engine::ConnectionOwner {
 public:
  Probe(engine::EventLoop& loop, const engine::RouteConfig& route, std::string sender,
        std::string to, const std::function<void(std::string_view)>& note)
      : loop_(loop), route_(route), sender_(std::move(sender)), to_(std::move(to)), note_(note) {}

  void start() {
    conn_ = std::make_unique<engine::SmtpConnection>(loop_, *this, route_.target, route_.client, 1);
    conn_->start();
  }

  void on_session_ready(engine::SmtpSession& conn) override {
    const auto& seen = conn.observations();
    note_("session ready: TLS " + (seen.tls_active ? conn.tls_description() : "off") + ", " +
          (seen.authenticated ? "authenticated" : "not authenticated"));
    protocol::Envelope env;
    env.id = 1;
    env.mail_from = sender_;
    env.recipients.push_back(to_);
    env.probe = true;
    conn.submit(std::move(env));
  }

  void on_transaction_done(engine::SmtpSession& conn, protocol::TransactionDone&& done) override {
    const protocol::Reply& rcpt =
        done.recipient_replies.empty() ? done.final_reply : done.recipient_replies[0];
    observations_ = conn.observations();
    if (rcpt.positive()) {
      accepted_ = true;
    } else {
      // A MAIL refusal shows as the final reply; otherwise the RCPT reply decides.
      bool mail_refused =
          !done.final_reply.positive() && !done.final_reply.local && done.recipient_replies.empty();
      const protocol::Reply& refusal = mail_refused ? done.final_reply : rcpt;
      auto stage = mail_refused ? protocol::Stage::kMail : protocol::Stage::kRcpt;
      report(protocol::classify_refusal(stage, refusal), refusal);
    }
    conn.quit();
  }

  void on_session_failed(engine::SmtpSession& conn,
                         const protocol::SessionFailed& failed) override {
    observations_ = conn.observations();
    if (accepted_ || !diagnosis_.empty()) return;
    report(protocol::classify_session_failure(failed), failed.reply);
    note_(std::string("the session failed at ") + protocol::stage_name(failed.stage) + ": " +
          failed.reply.summary());
  }

  void on_connection_closed(engine::SmtpSession&) override { loop_.stop(); }

  bool accepted() const { return accepted_; }
  const std::string& diagnosis() const { return diagnosis_; }

 private:
  void report(protocol::RefusalKind kind, const protocol::Reply& reply) {
    diagnosis_ = protocol::diagnose(kind, reply, observations_, route_.facts);
  }

  engine::EventLoop& loop_;
  const engine::RouteConfig& route_;
  std::string sender_;
  std::string to_;
  const std::function<void(std::string_view)>& note_;
  std::unique_ptr<engine::SmtpConnection> conn_;
  protocol::Observations observations_;
  bool accepted_ = false;
  std::string diagnosis_;
};

}  // namespace

Result<ProbeOutcome> probe_relay(const engine::RouteConfig& route, const std::string& sender,
                                 const std::string& recipient,
                                 const std::function<void(std::string_view)>& note) {
  auto loop = engine::EventLoop::create(64);
  if (!loop) return loop.error();
  Probe probe(*loop.value(), route, sender, recipient, note);
  std::unique_ptr<engine::Pop3Login> pop;
  std::string pop_error;
  if (route.pop_before_smtp) {
    const auto& creds = *route.client.credentials;
    pop = std::make_unique<engine::Pop3Login>(*loop.value(), *route.pop_before_smtp, creds.user,
                                              creds.password, route.client.timeouts.greeting,
                                              [&](const std::string& outcome) {
                                                if (!outcome.empty()) {
                                                  pop_error = outcome;
                                                  loop.value()->stop();
                                                  return;
                                                }
                                                note("POP-before-SMTP login: ok");
                                                probe.start();
                                              });
    pop->start();
  } else {
    probe.start();
  }
  loop.value()->run();
  ProbeOutcome outcome;
  outcome.accepted = probe.accepted() && pop_error.empty();
  if (!outcome.accepted) {
    outcome.diagnosis = pop_error.empty()
                            ? probe.diagnosis()
                            : protocol::diagnose_pop_login(route.pop_before_smtp->str(), pop_error);
    if (outcome.diagnosis.empty()) outcome.diagnosis = "the probe ended without an answer";
  }
  return outcome;
}

}  // namespace ringmta::jobs
