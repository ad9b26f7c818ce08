// `ringmta check`: probes a smart host the way a delivery would — connect, EHLO, STARTTLS, AUTH,
// MAIL, RCPT, then RSET and QUIT — without sending a message, and says whether relaying would be
// accepted or, in plain words, why not.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/report.h"
#include "cli/route_options.h"
#include "engine/io/pop3_login.h"
#include "engine/io/smtp_connection.h"
#include "message/address.h"
#include "protocol/diagnosis.h"

namespace ringmta::cli {
namespace {

class Probe final : public engine::ConnectionOwner {
 public:
  Probe(engine::EventLoop& loop, const engine::RouteConfig& route, std::string sender,
        std::string to)
      : loop_(loop), route_(route), sender_(std::move(sender)), to_(std::move(to)) {}

  void start() {
    conn_ = std::make_unique<engine::SmtpConnection>(loop_, *this, route_.target, route_.client, 1);
    conn_->start();
  }

  void on_session_ready(engine::SmtpConnection& conn) override {
    const auto& seen = conn.client().observations();
    std::fprintf(stderr, "session ready: TLS %s, %s\n",
                 seen.tls_active ? conn.tls_description().c_str() : "off",
                 seen.authenticated ? "authenticated" : "not authenticated");
    protocol::Envelope env;
    env.id = 1;
    env.mail_from = sender_;
    env.recipients.push_back(to_);
    env.probe = true;
    conn.submit(std::move(env));
  }

  void on_transaction_done(engine::SmtpConnection& conn,
                           protocol::TransactionDone&& done) override {
    const protocol::Reply& rcpt =
        done.recipient_replies.empty() ? done.final_reply : done.recipient_replies[0];
    observations_ = conn.client().observations();
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

  void on_session_failed(engine::SmtpConnection& conn,
                         const protocol::SessionFailed& failed) override {
    observations_ = conn.client().observations();
    if (accepted_ || !diagnosis_.empty()) return;
    report(protocol::classify_session_failure(failed.stage, failed.reply), failed.reply);
    std::fprintf(stderr, "the session failed at %s: %s\n", protocol::stage_name(failed.stage),
                 failed.reply.summary().c_str());
  }

  void on_connection_closed(engine::SmtpConnection&) override { loop_.stop(); }

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
  std::unique_ptr<engine::SmtpConnection> conn_;
  protocol::Observations observations_;
  bool accepted_ = false;
  std::string diagnosis_;
};

}  // namespace

Command add_check_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "check", "Probe the smart host (EHLO, STARTTLS, AUTH, MAIL, RCPT) without sending mail");
  auto o = std::make_shared<RouteOptions>();
  auto to = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  add_route_options(*sub, *o);
  sub->add_option("--to", *to, "A recipient to try RCPT TO with")->required();
  sub->add_flag("--json", *json, "Print {\"accepted\":BOOL,\"diagnosis\":...} at the end");
  return {sub, [=]() -> int {
            auto route = build_route(*o);
            if (!route) {
              std::fprintf(stderr, "ringmta: %s\n", route.error().message.c_str());
              return kUsage;
            }
            if (route->direct) {
              std::fprintf(stderr, "ringmta: check probes a smart host: give --smarthost\n");
              return kUsage;
            }
            auto rcpt = message::parse_address(*to);
            if (!rcpt) {
              std::fprintf(stderr, "ringmta: --to: %s\n", rcpt.error().message.c_str());
              return kUsage;
            }
            std::string sender = route->sender_override;
            if (sender.empty()) sender = o->user.find('@') != std::string::npos ? o->user : "";
            route->facts.sender = sender;
            auto loop = engine::EventLoop::create(64);
            if (!loop) {
              std::fprintf(stderr, "ringmta: %s\n", loop.error().message.c_str());
              return kUsage;
            }
            Probe probe(*loop.value(), route.value(), sender, rcpt->str());
            std::unique_ptr<engine::Pop3Login> pop;
            std::string pop_error;
            if (route->pop_before_smtp) {
              const auto& creds = *route->client.credentials;
              pop = std::make_unique<engine::Pop3Login>(
                  *loop.value(), *route->pop_before_smtp, creds.user, creds.password,
                  route->client.timeouts.greeting, [&](const std::string& outcome) {
                    if (!outcome.empty()) {
                      pop_error = outcome;
                      loop.value()->stop();
                      return;
                    }
                    std::fprintf(stderr, "POP-before-SMTP login: ok\n");
                    probe.start();
                  });
              pop->start();
            } else {
              probe.start();
            }
            loop.value()->run();
            std::string diagnosis = probe.diagnosis();
            if (!pop_error.empty()) {
              diagnosis = "POP-before-SMTP login to " + route->pop_before_smtp->str() +
                          " failed: " + pop_error + ". Check --user and the password.";
            }
            bool accepted = probe.accepted() && pop_error.empty();
            if (accepted) {
              std::printf("relaying would be accepted\n");
            } else {
              if (diagnosis.empty()) diagnosis = "the probe ended without an answer";
              std::printf("%s\n", diagnosis.c_str());
            }
            if (*json) {
              nlohmann::json j;
              j["accepted"] = accepted;
              j["diagnosis"] = accepted ? nlohmann::json(nullptr) : nlohmann::json(diagnosis);
              std::printf("%s\n", j.dump().c_str());
            }
            return accepted ? kAllDelivered : kStillQueued;
          }};
}

}  // namespace ringmta::cli
