// Unit tests for protocol::SmtpClient against a server that answers out of place: every stage of
// a session and a transaction (greeting, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, end of data) is
// answered with each wrong kind of reply — a 2xx or 3xx outside the codes that may answer it, a
// 4xx, a 5xx, a malformed line, a multiline reply with mixed codes, and a reply sent ahead of its
// command — with PIPELINING on and off. Whatever the server does, only a 2xx to the end of data
// may count as delivered. The server is a script fed the client's bytes; no sockets.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/smtp_client.h"

namespace ringmta::protocol {
namespace {

enum class At { kGreeting, kEhlo, kStartTls, kAuth, kMail, kRcpt, kData, kDot };
enum class Wrong { kNone, kWrong2xx, kWrong3xx, k4xx, k5xx, kMalformed, kMixedMultiline, kEarly };

const char* at_name(At at) {
  switch (at) {
    case At::kGreeting:
      return "greeting";
    case At::kEhlo:
      return "EHLO";
    case At::kStartTls:
      return "STARTTLS";
    case At::kAuth:
      return "AUTH";
    case At::kMail:
      return "MAIL";
    case At::kRcpt:
      return "RCPT";
    case At::kData:
      return "DATA";
    case At::kDot:
      return "end of data";
  }
  return "?";
}

const char* wrong_name(Wrong w) {
  switch (w) {
    case Wrong::kNone:
      return "none";
    case Wrong::kWrong2xx:
      return "wrong 2xx";
    case Wrong::kWrong3xx:
      return "wrong 3xx";
    case Wrong::k4xx:
      return "4xx";
    case Wrong::k5xx:
      return "5xx";
    case Wrong::kMalformed:
      return "malformed";
    case Wrong::kMixedMultiline:
      return "mixed multiline";
    case Wrong::kEarly:
      return "early";
  }
  return "?";
}

// The reply a well-behaved server gives at each stage.
std::string good_reply(At at, bool pipelining) {
  switch (at) {
    case At::kGreeting:
      return "220 mx.example.com ESMTP\r\n";
    case At::kEhlo:
      return std::string("250-mx.example.com\r\n250-STARTTLS\r\n250-AUTH PLAIN\r\n") +
             (pipelining ? "250-PIPELINING\r\n" : "") + "250 8BITMIME\r\n";
    case At::kStartTls:
      return "220 2.0.0 go ahead\r\n";
    case At::kAuth:
      return "235 2.7.0 authenticated\r\n";
    case At::kMail:
      return "250 2.1.0 ok\r\n";
    case At::kRcpt:
      return "250 2.1.5 ok\r\n";
    case At::kData:
      return "354 go ahead\r\n";
    case At::kDot:
      return "250 2.0.0 queued as X\r\n";
  }
  return "";
}

// The wrong reply of each kind for a stage (kEarly: none here, the good reply sent too soon).
std::string wrong_reply(At at, Wrong w) {
  switch (w) {
    case Wrong::kWrong2xx:
      // A 2xx that is not the one due: 250 where 220 or 354 is due, 220 where 250 is due.
      if (at == At::kGreeting || at == At::kStartTls || at == At::kData) return "250 2.0.0 OK\r\n";
      if (at == At::kAuth) return "250 2.0.0 OK\r\n";
      if (at == At::kDot) return "";  // every 2xx accepts the mail there
      return "220 2.0.0 hello again\r\n";
    case Wrong::kWrong3xx:
      return at == At::kData ? "399 keep talking\r\n" : "354 go ahead\r\n";
    case Wrong::k4xx:
      return "451 4.3.0 try again later\r\n";
    case Wrong::k5xx:
      return "554 5.3.0 no\r\n";
    case Wrong::kMalformed:
      return "hello there\r\n";
    case Wrong::kMixedMultiline: {
      std::string good = good_reply(at, false);
      std::string other = at == At::kData ? "250" : "354";
      if (at == At::kDot) other = "354";
      return good.substr(0, 3) + "-first line\r\n" + other + " second line\r\n";
    }
    case Wrong::kNone:
    case Wrong::kEarly:
      break;
  }
  return "";
}

ClientConfig config_for(At at) {
  ClientConfig c;
  c.ehlo_name = "client.example.com";
  c.tls = at == At::kStartTls ? TlsMode::kStartTls : TlsMode::kNone;
  if (at == At::kAuth) c.credentials = Credentials{"tim", "secret"};
  return c;
}

// Plays a server that answers every command well, except at `at`, where it answers `wrong`.
// It reads the client's bytes as a server would (commands by line, the body until the dot line)
// and answers only once a command's bytes have been taken, except for kEarly, where the reply to
// the stage at `at` goes out with the reply before it, ahead of the command it answers.
class Play {
 public:
  Play(At at, Wrong wrong, bool pipelining)
      : at_(at), wrong_(wrong), pipelining_(pipelining), client_(config_for(at)) {}

  void run() {
    client_.on_connected(now_);
    Envelope env;
    env.id = 7;
    env.mail_from = "a@x.org";
    env.recipients = {"b@y.org", "c@y.org"};
    env.body = "Subject: t\r\n\r\nhello\r\n";
    client_.submit(env, now_);  // waits for the session to be ready
    serve(reply_for(At::kGreeting));
    for (int round = 0; round < 50 && !client_.closed(); ++round) {
      std::string written = client_.take_output();
      written_total_ += written.size();
      client_.on_written(written_total_);
      std::string replies = answer(written);
      if (!replies.empty()) {
        serve(replies);
      } else if (done_) {
        client_.quit(now_);
        collect();
      } else if (auto d = client_.deadline()) {
        // The server says nothing more: the client's timeout ends the session.
        now_ = *d;
        client_.on_timeout(now_);
        collect();
      }
    }
    collect();
  }

  std::vector<TransactionDone> dones;
  std::vector<SessionFailed> failures;

 private:
  // The reply the server gives at a stage: the good one, or the wrong one where it misbehaves
  // (every time it is at that stage: both RCPTs, EHLO and the HELO after it).
  std::string reply_for(At stage) {
    std::string good = good_reply(stage, pipelining_);
    if (stage == At::kEhlo && (tls_up_ || (at_ != At::kStartTls && at_ != At::kAuth))) {
      good = std::string("250-mx.example.com\r\n") + (pipelining_ ? "250-PIPELINING\r\n" : "") +
             "250 8BITMIME\r\n";
    }
    if (wrong_ == Wrong::kEarly) {
      // The reply before `at` carries the reply to `at` too; `at` itself then gets nothing.
      std::string out = good;
      if (stage == at_ && early_pending_) {
        early_pending_ = false;
        out.clear();
      }
      if (next_stage(stage) == at_ && !early_sent_) {
        early_sent_ = early_pending_ = true;
        out += good_reply(at_, pipelining_);
      }
      return out;
    }
    if (stage != at_ || wrong_ == Wrong::kNone) return good;
    return wrong_reply(stage, wrong_);
  }

  At next_stage(At stage) const {
    switch (stage) {
      case At::kGreeting:
        return At::kEhlo;
      case At::kEhlo:
        if (at_ == At::kStartTls && !tls_up_) return At::kStartTls;
        if (at_ == At::kAuth) return At::kAuth;
        return At::kMail;
      case At::kStartTls:
        return At::kEhlo;
      case At::kAuth:
        return At::kMail;
      case At::kMail:
        return At::kRcpt;
      case At::kRcpt:
        return At::kData;
      case At::kData:
        return At::kDot;
      case At::kDot:
        return At::kDot;
    }
    return At::kDot;
  }

  // The replies to what the client wrote, command by command.
  std::string answer(std::string_view written) {
    pending_ += written;
    std::string replies;
    for (;;) {
      std::size_t nl = pending_.find("\r\n");
      if (nl == std::string::npos) break;
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 2);
      if (in_body_) {
        if (line == ".") {
          in_body_ = false;
          replies += reply_for(At::kDot);
          done_ = true;
        }
        continue;
      }
      std::string verb = line.substr(0, 4);
      if (verb == "EHLO" || verb == "HELO") {
        replies += reply_for(At::kEhlo);
      } else if (verb == "STAR") {
        replies += reply_for(At::kStartTls);
      } else if (verb == "AUTH") {
        replies += reply_for(At::kAuth);
      } else if (verb == "MAIL") {
        replies += reply_for(At::kMail);
      } else if (verb == "RCPT") {
        replies += reply_for(At::kRcpt);
      } else if (verb == "DATA") {
        std::string r = reply_for(At::kData);
        replies += r;
        // The server reads a body after its 354, also one it sent ahead of the DATA.
        if (r.starts_with("354") || (r.empty() && at_ == At::kData)) in_body_ = true;
      } else if (verb == "RSET") {
        replies += "250 ok\r\n";
      } else if (verb == "QUIT") {
        replies += "221 bye\r\n";
      }
    }
    return replies;
  }

  void serve(std::string_view replies) {
    client_.on_received(replies, now_);
    collect();
    if (starttls_accepted_ && !tls_up_) {
      starttls_accepted_ = false;
      tls_up_ = true;
      client_.on_tls_established(now_);
      collect();
    }
  }

  void collect() {
    while (auto e = client_.poll_event()) {
      if (auto* d = std::get_if<TransactionDone>(&*e)) dones.push_back(*d);
      if (auto* f = std::get_if<SessionFailed>(&*e)) failures.push_back(*f);
      if (std::holds_alternative<TlsHandshakeNeeded>(*e)) starttls_accepted_ = true;
    }
  }

  At at_;
  Wrong wrong_;
  bool pipelining_;
  SmtpClient client_;
  Millis now_ = 1'000;
  uint64_t written_total_ = 0;
  std::string pending_;
  bool in_body_ = false;
  bool done_ = false;
  bool early_sent_ = false;
  bool early_pending_ = false;
  bool starttls_accepted_ = false;
  bool tls_up_ = false;
};

struct Case {
  At at;
  Wrong wrong;
  bool pipelining;
};

std::string case_name(const Case& c) {
  return std::string(at_name(c.at)) + " / " + wrong_name(c.wrong) +
         (c.pipelining ? " / PIPELINING" : " / no PIPELINING");
}

std::vector<Case> all_cases() {
  std::vector<Case> out;
  for (At at : {At::kGreeting, At::kEhlo, At::kStartTls, At::kAuth, At::kMail, At::kRcpt, At::kData,
                At::kDot}) {
    for (Wrong w : {Wrong::kWrong2xx, Wrong::kWrong3xx, Wrong::k4xx, Wrong::k5xx, Wrong::kMalformed,
                    Wrong::kMixedMultiline, Wrong::kEarly}) {
      if (at == At::kDot && w == Wrong::kWrong2xx) continue;    // any 2xx there is an acceptance
      if (at == At::kGreeting && w == Wrong::kEarly) continue;  // nothing comes before it
      for (bool pipelining : {false, true}) {
        // With PIPELINING, MAIL, RCPT and DATA go out in one write: their replies are all due.
        bool due = pipelining && (at == At::kRcpt || at == At::kData);
        if (w == Wrong::kEarly && due) continue;
        out.push_back({at, w, pipelining});
      }
    }
  }
  return out;
}

bool is_protocol_error(Wrong w) {
  return w == Wrong::kWrong2xx || w == Wrong::kWrong3xx || w == Wrong::kMalformed ||
         w == Wrong::kMixedMultiline || w == Wrong::kEarly;
}

TEST(SmtpClientMisbehaving, AWellBehavedServerDelivers) {
  // The control: the same script without misbehaviour delivers, so the cases below can fail.
  for (At at : {At::kGreeting, At::kStartTls, At::kAuth, At::kDot}) {
    for (bool pipelining : {false, true}) {
      SCOPED_TRACE(std::string(at_name(at)) + (pipelining ? " pipelining" : ""));
      Play play(at, Wrong::kNone, pipelining);
      play.run();
      ASSERT_EQ(play.dones.size(), 1u);
      EXPECT_TRUE(play.dones[0].delivered);
      EXPECT_EQ(play.dones[0].final_reply.code, 250);
      EXPECT_TRUE(play.failures.empty());
    }
  }
}

TEST(SmtpClientMisbehaving, NothingCountsAsDeliveredUnlessTheEndOfDataGotA2xx) {
  for (const Case& c : all_cases()) {
    SCOPED_TRACE(case_name(c));
    Play play(c.at, c.wrong, c.pipelining);
    play.run();
    ASSERT_EQ(play.dones.size(), 1u) << "every submitted transaction ends";
    const TransactionDone& d = play.dones[0];
    EXPECT_FALSE(d.delivered);
    // No recipient may look accepted with a final reply that says the mail went through.
    for (const auto& r : d.recipient_replies) {
      EXPECT_FALSE(r.positive() && d.final_reply.positive()) << d.final_reply.summary();
    }
    if (is_protocol_error(c.wrong)) {
      ASSERT_EQ(play.failures.size(), 1u);
      EXPECT_TRUE(play.failures[0].protocol_error);
      EXPECT_TRUE(play.failures[0].reply.local);
      EXPECT_EQ(play.failures[0].reply.code, 451) << play.failures[0].reply.summary();
      const std::string why = play.failures[0].reply.summary();
      EXPECT_TRUE(why.find("protocol error") != std::string::npos ||
                  why.find("malformed reply") != std::string::npos)
          << why;
      // The recipients are deferred by a local 4xx.
      EXPECT_TRUE(d.final_reply.local);
      EXPECT_TRUE(d.final_reply.transient());
      // Only an end of data that was written and never properly answered may be a duplicate
      // (an early reply to it came before it was written).
      EXPECT_EQ(d.maybe_delivered, c.at == At::kDot && c.wrong != Wrong::kEarly) << why;
    } else {
      EXPECT_FALSE(d.maybe_delivered);
      for (const auto& f : play.failures) EXPECT_FALSE(f.protocol_error) << f.reply.summary();
    }
    if (c.wrong == Wrong::k5xx && c.at >= At::kMail) {
      // A refusal inside the transaction is the server's own, by its class.
      bool refused = d.final_reply.permanent();
      for (const auto& r : d.recipient_replies) refused = refused || r.permanent();
      EXPECT_TRUE(refused);
    }
  }
}

TEST(SmtpClientMisbehaving, FloodOfRepliesAfterTheGreetingEndsTheSession) {
  SmtpClient client(config_for(At::kMail));
  client.on_connected(0);
  std::string flood = "220 mx ESMTP\r\n";
  for (int i = 0; i < 100; ++i) flood += "250 OK\r\n";
  client.on_received(flood, 1);
  Envelope env;
  env.id = 1;
  env.mail_from = "a@x.org";
  env.recipients = {"b@y.org"};
  env.body = "x\r\n";
  client.submit(env, 2);
  bool failed = false;
  bool delivered = false;
  while (auto e = client.poll_event()) {
    if (auto* f = std::get_if<SessionFailed>(&*e)) {
      failed = true;
      EXPECT_TRUE(f->protocol_error);
      EXPECT_NE(f->reply.summary().find("arrived before EHLO was sent"), std::string::npos)
          << f->reply.summary();
    }
    if (auto* d = std::get_if<TransactionDone>(&*e)) delivered = delivered || d->delivered;
  }
  EXPECT_TRUE(failed);
  EXPECT_FALSE(delivered);
  EXPECT_TRUE(client.closed());
}

TEST(SmtpClientMisbehaving, BodyCutOffBeforeTheDotIsNotAPossibleDuplicate) {
  SmtpClient client(config_for(At::kMail));
  client.on_connected(0);
  client.on_received("220 mx\r\n", 0);
  uint64_t taken = client.take_output().size();
  client.on_received("250-mx\r\n250 PIPELINING\r\n", 0);
  Envelope env;
  env.id = 1;
  env.mail_from = "a@x.org";
  env.recipients = {"b@y.org"};
  env.body = std::string(100'000, 'x') + "\r\n";
  client.submit(env, 0);
  taken += client.take_output().size();
  client.on_written(taken);
  client.on_received("250 ok\r\n250 ok\r\n354 go\r\n", 0);
  std::string body = client.take_output();
  ASSERT_TRUE(body.ends_with("\r\n.\r\n"));
  client.on_written(taken + body.size() / 2);  // half the body reached the socket
  client.on_connection_lost("connection reset by peer", 0);
  bool seen = false;
  while (auto e = client.poll_event()) {
    if (auto* d = std::get_if<TransactionDone>(&*e)) {
      seen = true;
      EXPECT_FALSE(d->delivered);
      EXPECT_FALSE(d->maybe_delivered);
      EXPECT_TRUE(d->final_reply.transient());
    }
  }
  EXPECT_TRUE(seen);
}

}  // namespace
}  // namespace ringmta::protocol
