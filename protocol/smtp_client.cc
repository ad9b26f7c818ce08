// SmtpClient: the client side of one SMTP session as a sans-I/O state machine (RFC 5321, RFC 2920
// pipelining, RFC 3207 STARTTLS, RFC 4954 AUTH). It may not touch sockets, TLS or clocks, throw on
// server input, or write a password anywhere but the AUTH exchange itself.
//
// Design: every command sent pushes what it awaits (kind, timeout, transaction) on a queue; each
// complete reply pops the head. Pipelining is then only a matter of pushing several at once. The
// head's deadline is fixed when it becomes the head (when its command is sent, or when the reply
// before it completed: a server cannot answer a pipelined command before the previous one); bytes
// of an incomplete reply never move it, so a trickling server cannot hold the session.
#include "protocol/smtp_client.h"

#include <algorithm>
#include <utility>

#include "protocol/sasl.h"
#include "util/base64.h"
#include "util/strings.h"

namespace ringmta::protocol {
namespace {

enum class Phase {
  kConnect,
  kGreeting,
  kEhlo,
  kStartTls,
  kTlsHandshake,
  kAuth,
  kReady,
  kQuit,
  kClosed
};

enum class Await {
  kGreeting,
  kEhlo,
  kHelo,
  kStartTls,
  kAuth,
  kRset,
  kMail,
  kRcpt,
  kData,
  kDot,
  kProbeRset,
  kQuit
};

struct Pending {
  Await kind;
  Millis timeout = 0;
  Millis deadline = 0;  // set when it becomes the head of the queue
  uint64_t txn = 0;     // transaction sequence number (0: none)
  std::size_t rcpt = 0;
  uint64_t sent_at = 0;  // output offset just after its command; 0 for the greeting
};

struct Txn {
  uint64_t seq = 0;
  Envelope env;
  std::vector<std::optional<Reply>> rcpt;  // one per recipient, once known
  std::optional<Reply> final_reply;        // once decided
  bool started = false;                    // its first command went out
  bool sending_done = false;               // no more bytes will be written for it
  bool mail_ok = false;
  std::size_t rcpt_sent = 0;
  std::size_t accepted = 0;
  std::optional<Reply> cut_off;  // 452 without pipelining: later recipients are not tried
  uint64_t dot_end = 0;          // output offset just after its ".\r\n"; 0 = not written
  bool dot_answered = false;     // final_reply is the server's answer to the end of data
};

Stage stage_of(Await kind) {
  switch (kind) {
    case Await::kGreeting:
      return Stage::kGreeting;
    case Await::kEhlo:
    case Await::kHelo:
      return Stage::kEhlo;
    case Await::kStartTls:
      return Stage::kStartTls;
    case Await::kAuth:
      return Stage::kAuth;
    case Await::kRset:
    case Await::kMail:
      return Stage::kMail;
    case Await::kRcpt:
    case Await::kProbeRset:
      return Stage::kRcpt;
    case Await::kData:
    case Await::kDot:
      return Stage::kData;
    case Await::kQuit:
      return Stage::kQuit;
  }
  return Stage::kConnect;
}

// The two names of the command a reply answers: as an error message says it ("timeout waiting
// for reply to MAIL FROM") and as a ReplyRecord names it for timing ("MAIL").
struct CommandNames {
  const char* phrase;
  const char* record;
};

CommandNames names_of(Await kind) {
  switch (kind) {
    case Await::kGreeting:
      return {"the greeting", "greeting"};
    case Await::kEhlo:
      return {"EHLO", "EHLO"};
    case Await::kHelo:
      return {"HELO", "EHLO"};
    case Await::kStartTls:
      return {"STARTTLS", "STARTTLS"};
    case Await::kAuth:
      return {"AUTH", "AUTH"};
    case Await::kRset:
    case Await::kProbeRset:
      return {"RSET", "RSET"};
    case Await::kMail:
      return {"MAIL FROM", "MAIL"};
    case Await::kRcpt:
      return {"RCPT TO", "RCPT"};
    case Await::kData:
      return {"DATA", "DATA"};
    case Await::kDot:
      return {"end of data", "end of data"};
    case Await::kQuit:
      return {"QUIT", "QUIT"};
  }
  return {"?", "?"};
}

const char* command_name(Await kind) {
  return names_of(kind).phrase;
}

// RFC 5321 §4.3.2 (and RFC 3207, RFC 4954): the success replies that may answer each command —
// the codes low..high, or also — and how an error message names them. A 4xx or 5xx is the
// command's refusal; any other code — a 2xx where only 354 lets the body follow, a 3xx where a
// completion is due — is the server's protocol error and never counts as success.
struct SuccessReplies {
  int low;
  int high;
  int also;  // 0: none
  const char* text;

  bool contain(int code) const { return (code >= low && code <= high) || code == also; }
};

SuccessReplies success_replies(Await kind) {
  switch (kind) {
    case Await::kGreeting:
    case Await::kStartTls:
      return {220, 220, 0, "220"};
    case Await::kEhlo:
    case Await::kHelo:
    case Await::kMail:
    case Await::kRset:
    case Await::kProbeRset:
      return {250, 250, 0, "250"};
    case Await::kRcpt:
      return {250, 252, 0, "250, 251 or 252"};
    case Await::kAuth:
      return {235, 235, 334, "235 or 334"};
    case Await::kData:
      return {354, 354, 0, "354"};
    case Await::kDot:
      return {200, 299, 0, "2xx"};  // the only reply that makes the mail the server's
    case Await::kQuit:
      break;
  }
  return {100, 999, 0, "any"};  // QUIT: whatever it says, the session is over
}

// Characters that could end or split an SMTP command line are never sent.
bool safe_token(std::string_view s, bool allow_space) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '<' || c == '>' || (!allow_space && c == ' ')) return false;
  }
  return true;
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out.empty() ? "none" : out;
}

}  // namespace

const char* mechanism_name(AuthMechanism m) {
  switch (m) {
    case AuthMechanism::kPlain:
      return "PLAIN";
    case AuthMechanism::kLogin:
      return "LOGIN";
    case AuthMechanism::kCramMd5:
      return "CRAM-MD5";
    case AuthMechanism::kAuto:
      break;
  }
  return "auto";
}

static_assert(static_cast<std::size_t>(Stage::kQuit) + 1 == kStageCount);

const char* stage_name(Stage stage) {
  switch (stage) {
    case Stage::kConnect:
      return "connect";
    case Stage::kGreeting:
      return "greeting";
    case Stage::kEhlo:
      return "EHLO";
    case Stage::kStartTls:
      return "STARTTLS";
    case Stage::kTlsHandshake:
      return "TLS handshake";
    case Stage::kAuth:
      return "AUTH";
    case Stage::kMail:
      return "MAIL";
    case Stage::kRcpt:
      return "RCPT";
    case Stage::kData:
      return "DATA";
    case Stage::kQuit:
      return "QUIT";
  }
  return "?";
}

struct SmtpClient::State {
  explicit State(ClientConfig c) : config(std::move(c)) {}

  ClientConfig config;
  ReplyParser parser;
  Phase phase = Phase::kConnect;
  std::string out;
  uint64_t out_total = 0;      // bytes ever appended to out
  uint64_t taken_total = 0;    // bytes ever taken by the driver
  uint64_t written_total = 0;  // bytes the driver reported written to the socket
  std::deque<ClientEvent> events;
  std::deque<Pending> awaited;
  std::deque<Txn> txns;
  uint64_t next_seq = 1;
  Observations seen;
  Capabilities caps;
  bool ready_emitted = false;
  bool quit_requested = false;
  bool need_rset = false;  // the last transaction ended without an end-of-data reply
  AuthMechanism mechanism = AuthMechanism::kAuto;
  int auth_step = 0;
  Millis now = 0;
  std::vector<ReplyRecord> replies;  // with config.record_replies

  // --- plumbing ---
  void send(std::string_view bytes) {
    out.append(bytes);
    out_total += bytes.size();
  }

  void expect(Await kind, Millis timeout, uint64_t txn = 0, std::size_t rcpt = 0) {
    Pending p{kind, timeout, 0, txn, rcpt, out_total};
    if (awaited.empty()) p.deadline = now + timeout;
    awaited.push_back(p);
  }

  void record_reply(const Pending& p, int code) {
    const Txn* t = p.txn != 0 ? find_txn(p.txn) : nullptr;
    replies.push_back(ReplyRecord{names_of(p.kind).record, code, t != nullptr ? t->env.id : 0});
  }

  Txn* find_txn(uint64_t seq) {
    for (auto& t : txns) {
      if (t.seq == seq) return &t;
    }
    return nullptr;
  }

  Stage current_stage() const {
    if (!awaited.empty()) return stage_of(awaited.front().kind);
    switch (phase) {
      case Phase::kConnect:
        return Stage::kConnect;
      case Phase::kGreeting:
        return Stage::kGreeting;
      case Phase::kEhlo:
        return Stage::kEhlo;
      case Phase::kStartTls:
        return Stage::kStartTls;
      case Phase::kTlsHandshake:
        return Stage::kTlsHandshake;
      case Phase::kAuth:
        return Stage::kAuth;
      case Phase::kReady:
        return Stage::kMail;
      case Phase::kQuit:
      case Phase::kClosed:
        return Stage::kQuit;
    }
    return Stage::kConnect;
  }

  std::string current_command() const {
    if (!awaited.empty()) return command_name(awaited.front().kind);
    return stage_name(current_stage());
  }

  // --- ending ---
  void finish(Txn& t, const Reply& unanswered) {
    TransactionDone done;
    done.id = t.env.id;
    Reply final_reply = t.final_reply ? *t.final_reply : unanswered;
    done.recipient_replies.reserve(t.rcpt.size());
    for (auto& r : t.rcpt) done.recipient_replies.push_back(r ? std::move(*r) : unanswered);
    // Only a 2xx to the end of data makes the mail the server's. Without any answer, the mail may
    // have been taken only if its end of data reached the socket.
    done.delivered = t.dot_answered && t.accepted > 0 && final_reply.positive();
    done.maybe_delivered =
        !t.final_reply && t.accepted > 0 && t.dot_end != 0 && written_total >= t.dot_end;
    done.final_reply = std::move(final_reply);
    events.emplace_back(std::move(done));
  }

  void complete(uint64_t seq) {
    for (auto it = txns.begin(); it != txns.end(); ++it) {
      if (it->seq != seq) continue;
      Reply fallback = it->final_reply ? *it->final_reply
                                       : Reply::make_local(451, "4.3.0", "transaction incomplete");
      finish(*it, fallback);
      txns.erase(it);
      return;
    }
  }

  // Ends the session: unfinished transactions done, then SessionFailed (unless quitting) and
  // SessionClosed. send_quit: the server is still talking sense, say goodbye without waiting.
  // protocol_error: the server broke the protocol (SessionFailed::protocol_error).
  void abort(Stage stage, const Reply& failure, const Reply& unanswered, bool send_quit,
             bool protocol_error = false) {
    if (phase == Phase::kClosed) return;
    bool quitting = phase == Phase::kQuit;
    if (!send_quit) out.clear();  // never written: nothing more goes to this connection
    for (auto& t : txns) finish(t, unanswered);
    txns.clear();
    awaited.clear();
    if (send_quit) send("QUIT\r\n");
    phase = Phase::kClosed;
    if (!quitting) events.emplace_back(SessionFailed{stage, failure, protocol_error});
    events.emplace_back(SessionClosed{});
  }

  void fail_local(Stage stage, int code, std::string_view enhanced, std::string text,
                  bool send_quit) {
    Reply r = Reply::make_local(code, enhanced, std::move(text));
    abort(stage, r, r, send_quit);
  }

  void fail_local_tls(const std::string& reason) {
    if (phase == Phase::kClosed) return;
    fail_local(Stage::kTlsHandshake, 454, "4.7.5",
               "TLS handshake failed" + (reason.empty() ? std::string() : ": " + reason), false);
  }

  void fail_transient(std::string text) {
    Reply r = Reply::make_local(451, "4.4.2", std::move(text));
    abort(current_stage(), r, r, false);
  }

  // --- session setup ---
  void send_ehlo(bool helo) {
    const std::string& name = config.ehlo_name;
    if (name.empty() || !safe_token(name, false)) {
      fail_local(Stage::kEhlo, 501, "5.5.2", "invalid EHLO name configured", true);
      return;
    }
    phase = Phase::kEhlo;
    send((helo ? "HELO " : "EHLO ") + name + "\r\n");
    expect(helo ? Await::kHelo : Await::kEhlo, config.timeouts.ehlo);
  }

  // Asked to quit and nothing is waiting to be sent: QUIT may shortcut the session setup.
  bool quit_now() const { return quit_requested && txns.empty(); }

  void start_quit() {
    if (phase == Phase::kQuit || phase == Phase::kClosed) return;
    phase = Phase::kQuit;
    send("QUIT\r\n");
    expect(Await::kQuit, config.timeouts.quit);
  }

  void record_caps() {
    if (seen.tls_active && config.tls != TlsMode::kImplicit) {
      seen.caps_after_tls = caps;
    } else {
      seen.caps_before_tls = caps;
    }
  }

  // Opportunistic TLS may go on in clear when the server offers no STARTTLS; the other modes not.
  bool tls_missing() const {
    return config.tls != TlsMode::kNone && config.tls != TlsMode::kOpportunistic &&
           !seen.tls_active;
  }

  void after_ehlo() {
    if (quit_now()) return start_quit();
    bool wants_tls = config.tls == TlsMode::kStartTls ||
                     (config.tls == TlsMode::kOpportunistic && caps.starttls);
    if (wants_tls && !seen.tls_active) {
      if (!caps.starttls) {
        return fail_local(Stage::kStartTls, 530, "5.7.10",
                          "STARTTLS required but not offered by the server", true);
      }
      phase = Phase::kStartTls;
      send("STARTTLS\r\n");
      expect(Await::kStartTls, config.timeouts.starttls);
      return;
    }
    start_auth();
  }

  void start_auth() {
    if (!config.credentials || caps.auth_mechanisms.empty()) {
      // No AUTH offered: go on unauthenticated; a later relay refusal is diagnosed from this.
      return become_ready();
    }
    if (tls_missing()) {
      return fail_local(Stage::kAuth, 530, "5.7.10", "refusing to send AUTH without TLS", true);
    }
    AuthMechanism m = config.auth;
    if (m == AuthMechanism::kAuto) {
      if (caps.offers_auth("CRAM-MD5")) {
        m = AuthMechanism::kCramMd5;
      } else if (caps.offers_auth("PLAIN")) {
        m = AuthMechanism::kPlain;
      } else if (caps.offers_auth("LOGIN")) {
        m = AuthMechanism::kLogin;
      } else {
        return fail_local(Stage::kAuth, 504, "5.7.4",
                          "server offers no AUTH mechanism ringmta supports (offers: " +
                              join(caps.auth_mechanisms) + ")",
                          true);
      }
    } else if (!caps.offers_auth(mechanism_name(m))) {
      return fail_local(Stage::kAuth, 504, "5.7.4",
                        std::string("server does not offer AUTH ") + mechanism_name(m) +
                            " (offers: " + join(caps.auth_mechanisms) + ")",
                        true);
    }
    mechanism = m;
    auth_step = 0;
    phase = Phase::kAuth;
    seen.auth_attempted = true;
    seen.auth_mechanism_used = m;
    const Credentials& c = *config.credentials;
    switch (m) {
      case AuthMechanism::kPlain:
        send("AUTH PLAIN " + sasl_plain_response(c.user, c.password) + "\r\n");
        break;
      case AuthMechanism::kLogin:
        send("AUTH LOGIN\r\n");
        break;
      case AuthMechanism::kCramMd5:
      case AuthMechanism::kAuto:
        send("AUTH CRAM-MD5\r\n");
        break;
    }
    expect(Await::kAuth, config.timeouts.auth);
  }

  void on_auth_reply(const Reply& r) {
    if (r.code == 235) {
      seen.authenticated = true;
      return become_ready();
    }
    if (r.code != 334) {
      seen.auth_refusal = r;
      return abort(Stage::kAuth, r, r, true);
    }
    const Credentials& c = *config.credentials;
    std::string response;
    int step = auth_step++;
    if (mechanism == AuthMechanism::kPlain && step == 0) {
      // A server that does not take the initial response asks again with an empty challenge.
      response = sasl_plain_response(c.user, c.password);
    } else if (mechanism == AuthMechanism::kLogin && step == 0) {
      response = base64_encode(c.user);
    } else if (mechanism == AuthMechanism::kLogin && step == 1) {
      response = base64_encode(c.password);
    } else if (mechanism == AuthMechanism::kCramMd5 && step == 0) {
      const std::string_view challenge =
          trim(r.lines.empty() ? std::string_view() : r.lines.front(), " ");
      auto cram = cram_md5_response(c.user, c.password, challenge);
      if (!cram) {
        send("*\r\n");  // cancel the exchange (RFC 4954 §4)
        Reply local = Reply::make_local(501, "5.5.2", "server sent an invalid CRAM-MD5 challenge");
        seen.auth_refusal = local;
        return abort(Stage::kAuth, local, local, true);
      }
      response = std::move(*cram);
    } else {
      send("*\r\n");
      Reply local = Reply::make_local(535, "5.7.0", "unexpected AUTH challenge from the server");
      seen.auth_refusal = local;
      return abort(Stage::kAuth, local, local, true);
    }
    send(response + "\r\n");
    expect(Await::kAuth, config.timeouts.auth);
  }

  void become_ready() {
    phase = Phase::kReady;
    if (!ready_emitted && !quit_requested) {
      ready_emitted = true;
      events.emplace_back(SessionReady{});
    }
    pump();
  }

  // --- transactions ---
  std::string mail_command(const Txn& t) const {
    std::string cmd = "MAIL FROM:<" + t.env.mail_from + ">";
    if (caps.size) cmd += " SIZE=" + std::to_string(t.env.body.size());
    if (t.env.eight_bit && caps.eight_bit_mime) cmd += " BODY=8BITMIME";
    // The driver sends a non-ASCII address only to a server that offers SMTPUTF8 (RFC 6531).
    if (t.env.smtputf8 && caps.smtputf8) cmd += " SMTPUTF8";
    cmd += "\r\n";
    return cmd;
  }

  void send_rcpt(Txn& t) {
    std::size_t i = t.rcpt_sent++;
    send("RCPT TO:<" + t.env.recipients[i] + ">\r\n");
    expect(Await::kRcpt, config.timeouts.rcpt, t.seq, i);
  }

  // Fails a transaction before any of it was sent.
  void fail_txn_locally(Txn& t, const Reply& reply) {
    t.final_reply = reply;
    for (auto& r : t.rcpt) r = reply;
    t.sending_done = true;
    complete(t.seq);
  }

  // Returns false if the transaction ended at once (nothing sent).
  bool start_txn(Txn& t) {
    t.started = true;
    if (t.env.recipients.empty()) {
      fail_txn_locally(t, Reply::make_local(554, "5.5.1", "no recipients"));
      return false;
    }
    bool addresses_ok = safe_token(t.env.mail_from, true);
    for (const auto& r : t.env.recipients) addresses_ok = addresses_ok && safe_token(r, true);
    if (!addresses_ok) {
      fail_txn_locally(t, Reply::make_local(553, "5.1.3",
                                            "address with control characters or angle brackets "
                                            "refused before sending"));
      return false;
    }
    if (!t.env.probe && caps.size_limit > 0 && t.env.body.size() > caps.size_limit) {
      fail_txn_locally(t, Reply::make_local(552, "5.3.4",
                                            "message size " + std::to_string(t.env.body.size()) +
                                                " exceeds the server's limit of " +
                                                std::to_string(caps.size_limit) + " bytes"));
      return false;
    }
    if (!t.env.probe &&
        (t.env.body.starts_with(".\r\n") || t.env.body.find("\r\n.\r\n") != std::string::npos)) {
      // An unstuffed dot line would end the data early and smuggle the rest as commands.
      fail_txn_locally(t, Reply::make_local(554, "5.6.0", "body is not dot-stuffed; not sent"));
      return false;
    }
    if (tls_missing()) {
      fail_local(Stage::kMail, 530, "5.7.10", "refusing to send MAIL without TLS", true);
      return false;
    }
    if (!caps.pipelining) {
      if (need_rset) {
        need_rset = false;
        send("RSET\r\n");
        expect(Await::kRset, config.timeouts.rset, t.seq);
        return true;
      }
      send(mail_command(t));
      expect(Await::kMail, config.timeouts.mail, t.seq);
      return true;
    }
    // RFC 2920: the whole envelope in one write, DATA (or RSET for a probe) last.
    if (need_rset) {
      need_rset = false;
      send("RSET\r\n");
      expect(Await::kRset, config.timeouts.rset, t.seq);
    }
    send(mail_command(t));
    expect(Await::kMail, config.timeouts.mail, t.seq);
    while (t.rcpt_sent < t.env.recipients.size()) send_rcpt(t);
    if (t.env.probe) {
      send("RSET\r\n");
      expect(Await::kProbeRset, config.timeouts.rset, t.seq);
      t.sending_done = true;
    } else {
      send("DATA\r\n");
      expect(Await::kData, config.timeouts.data, t.seq);
    }
    return true;
  }

  // Without pipelining: the next RCPT, or DATA/RSET once all recipients are answered.
  void continue_envelope(Txn& t) {
    if (!t.cut_off && t.rcpt_sent < t.env.recipients.size()) return send_rcpt(t);
    if (t.cut_off) {
      Reply rest = Reply::make_local(
          452, "4.5.3", "recipient not tried after the server's " + t.cut_off->summary());
      for (auto& r : t.rcpt) {
        if (!r) r = rest;
      }
    }
    if (t.accepted == 0) {
      // Nothing accepted: no DATA. The last refusal speaks for the transaction.
      for (auto it = t.rcpt.rbegin(); it != t.rcpt.rend(); ++it) {
        if (*it && !(*it)->local) {
          t.final_reply = **it;
          break;
        }
      }
      if (!t.final_reply) t.final_reply = t.rcpt.back();
      t.sending_done = true;
      need_rset = true;
      return complete(t.seq);
    }
    if (t.env.probe) {
      send("RSET\r\n");
      expect(Await::kProbeRset, config.timeouts.rset, t.seq);
      t.sending_done = true;
      return;
    }
    send("DATA\r\n");
    expect(Await::kData, config.timeouts.data, t.seq);
  }

  // success: the reply is one that may answer the command (success_replies); else it is a 4xx/5xx
  // refusal.
  void on_txn_reply(const Pending& p, Reply r, bool success) {
    Txn* t = find_txn(p.txn);
    if (t == nullptr) return;
    bool pipelined = caps.pipelining;
    switch (p.kind) {
      case Await::kRset:
        if (!pipelined) {
          send(mail_command(*t));
          expect(Await::kMail, config.timeouts.mail, t->seq);
        }
        break;
      case Await::kMail:
        if (success) {
          t->mail_ok = true;
          if (!pipelined) continue_envelope(*t);
        } else {
          // Every recipient shares the MAIL refusal; pipelined RCPT answers (503) are ignored.
          t->final_reply = r;
          for (auto& rr : t->rcpt) rr = r;
          if (!pipelined) {
            t->sending_done = true;
            need_rset = true;
            complete(t->seq);
          }
        }
        break;
      case Await::kRcpt: {
        if (!t->mail_ok) break;
        if (r.code == 552) {
          // RFC 5321 §4.5.3.1.10: 552 to RCPT means "too many recipients"; treat it as 452.
          r.code = 452;
          if (r.enhanced && r.enhanced->klass == 5) r.enhanced->klass = 4;
        }
        if (success) ++t->accepted;
        if (r.code == 452 && !t->cut_off) t->cut_off = r;
        if (p.rcpt < t->rcpt.size()) t->rcpt[p.rcpt] = std::move(r);
        if (!pipelined) continue_envelope(*t);
        break;
      }
      case Await::kData:
        if (success) {
          // Only the accepted recipients' mail goes out; with none, only the end of data.
          if (t->mail_ok && t->accepted > 0) {
            send(t->env.body);
            if (!t->env.body.empty() && !t->env.body.ends_with("\r\n")) send("\r\n");
          }
          send(".\r\n");
          t->dot_end = out_total;
          t->sending_done = true;
          need_rset = false;
          expect(Await::kDot, config.timeouts.final_dot, t->seq);
        } else {
          if (!t->final_reply) t->final_reply = r;
          t->sending_done = true;
          need_rset = true;
          complete(t->seq);
        }
        break;
      case Await::kDot:
        if (!t->final_reply) {
          t->final_reply = r;
          t->dot_answered = true;
        }
        complete(t->seq);
        break;
      case Await::kProbeRset:
        if (!t->final_reply) t->final_reply = r;
        need_rset = false;
        complete(t->seq);
        break;
      default:
        break;
    }
  }

  // Starts whatever transactions may go out now; sends QUIT once idle and asked to.
  void pump() {
    if (phase != Phase::kReady) return;
    for (;;) {
      Txn* next = nullptr;
      for (auto& t : txns) {
        if (!t.sending_done) {
          next = &t;
          break;
        }
      }
      if (next == nullptr || next->started) break;
      if (!caps.pipelining && !awaited.empty()) break;  // one command at a time
      start_txn(*next);
      if (phase != Phase::kReady) return;
    }
    if (quit_requested && txns.empty() && awaited.empty()) start_quit();
  }

  // --- replies ---
  // The server broke the protocol: nothing it says on this connection can be trusted any more.
  // What it did not accept with the expected reply stays undelivered (a local 4xx: deferred).
  void protocol_error(Stage stage, std::string text) {
    Reply r = Reply::make_local(451, "4.5.0", "protocol error: " + std::move(text));
    abort(stage, r, r, false, true);
  }

  void on_reply(Reply r) {
    if (awaited.empty()) {
      if (r.code == 421) return abort(current_stage(), r, r, false);
      return protocol_error(current_stage(),
                            "reply " + r.summary() + " when no command was awaiting one");
    }
    Pending p = awaited.front();
    if (p.sent_at > taken_total) {
      // A reply to a command the server cannot have read yet: it talks ahead without reading
      // (or replays a script), so its replies are no longer answers to our commands. PIPELINING
      // does not change this: pipelined commands were all written before their replies are due.
      return protocol_error(stage_of(p.kind), "reply " + r.summary() + " arrived before " +
                                                  command_name(p.kind) + " was sent");
    }
    awaited.pop_front();
    if (config.record_replies) record_reply(p, r.code);
    if (config.reply_observer != nullptr) config.reply_observer->on_reply(stage_of(p.kind), r.code);
    if (!awaited.empty()) awaited.front().deadline = now + awaited.front().timeout;
    if (r.code == 421 && p.kind != Await::kQuit) {
      // Service closing: everything unanswered is transient; no further command, not even QUIT.
      // A 421 to the end of data is a definite answer: not delivered.
      if (Txn* t = find_txn(p.txn); t != nullptr && !t->final_reply) t->final_reply = r;
      return abort(stage_of(p.kind), r, r, false);
    }
    const SuccessReplies expected = success_replies(p.kind);
    const bool success = expected.contain(r.code);
    if (!success && !r.transient() && !r.permanent()) {
      return protocol_error(stage_of(p.kind), "the server answered " +
                                                  std::string(command_name(p.kind)) + " with " +
                                                  r.summary() + " (only " + expected.text +
                                                  " may answer it, or a 4xx/5xx refusal)");
    }
    switch (p.kind) {
      case Await::kGreeting:
        if (!success) return abort(Stage::kGreeting, r, r, false);
        seen.greeting_seen = true;
        if (quit_now()) return start_quit();
        return send_ehlo(false);
      case Await::kEhlo:
        if (success) {
          caps = parse_ehlo(r);
          record_caps();
          return after_ehlo();
        }
        if (r.permanent()) {
          seen.ehlo_rejected = true;
          return send_ehlo(true);
        }
        return abort(Stage::kEhlo, r, r, true);
      case Await::kHelo:
        if (success) {
          caps = Capabilities{};
          record_caps();
          return after_ehlo();
        }
        seen.helo_refusal = r;
        return abort(Stage::kEhlo, r, r, true);
      case Await::kStartTls:
        if (!success) return abort(Stage::kStartTls, r, r, true);
        // Anything after the 220 came before TLS and may be an attacker's (CVE-2011-0411).
        parser.discard_buffered();
        phase = Phase::kTlsHandshake;
        events.emplace_back(TlsHandshakeNeeded{});
        return;
      case Await::kAuth:
        return on_auth_reply(r);
      case Await::kQuit:
        return abort(Stage::kQuit, r, r, false);  // while quitting: only SessionClosed
      default:
        on_txn_reply(p, std::move(r), success);
        return pump();
    }
  }
};

SmtpClient::SmtpClient(ClientConfig config) : s_(std::make_unique<State>(std::move(config))) {}
SmtpClient::~SmtpClient() = default;
SmtpClient::SmtpClient(SmtpClient&&) noexcept = default;
SmtpClient& SmtpClient::operator=(SmtpClient&&) noexcept = default;

void SmtpClient::on_connected(Millis now) {
  State& s = *s_;
  if (s.phase != Phase::kConnect) return;
  s.now = now;
  s.seen.tls_active = s.config.tls == TlsMode::kImplicit;
  s.phase = Phase::kGreeting;
  s.expect(Await::kGreeting, s.config.timeouts.greeting);
}

void SmtpClient::on_received(std::string_view data, Millis now) {
  State& s = *s_;
  // Before the greeting is awaited, or during the TLS handshake, plaintext is not ours to read.
  if (s.phase == Phase::kClosed || s.phase == Phase::kConnect || s.phase == Phase::kTlsHandshake) {
    return;
  }
  s.now = now;
  s.parser.feed(data);
  while (s.phase != Phase::kClosed && s.phase != Phase::kTlsHandshake) {
    auto reply = s.parser.next();
    if (!reply) break;
    s.on_reply(std::move(*reply));
  }
  if (s.phase != Phase::kClosed && s.parser.failed()) {
    Reply local = Reply::make_local(451, "4.5.0", "malformed reply: " + s.parser.error());
    s.abort(s.current_stage(), local, local, false, true);
  }
}

void SmtpClient::on_written(uint64_t bytes) {
  State& s = *s_;
  s.written_total = std::max(s.written_total, std::min(bytes, s.taken_total));
}

void SmtpClient::on_tls_established(Millis now) {
  State& s = *s_;
  if (s.phase != Phase::kTlsHandshake) return;
  s.now = now;
  s.parser.discard_buffered();
  s.seen.tls_active = true;
  if (s.quit_now()) return s.start_quit();
  s.send_ehlo(false);
}

void SmtpClient::on_tls_failed(std::string reason, Millis now) {
  State& s = *s_;
  s.now = now;
  s.fail_local_tls(reason);
}

void SmtpClient::on_connection_lost(std::string reason, Millis now) {
  State& s = *s_;
  if (s.phase == Phase::kClosed) return;
  s.now = now;
  if (s.phase == Phase::kConnect) {
    Reply r = Reply::make_local(451, "4.4.1", reason.empty() ? "cannot connect" : reason);
    return s.abort(Stage::kConnect, r, r, false);
  }
  std::string text = s.awaited.empty() ? "connection lost during " + s.current_command()
                                       : "connection lost after " + s.current_command();
  if (s.phase == Phase::kGreeting) text = "connection lost before the greeting";
  if (!reason.empty()) text += ": " + reason;
  s.fail_transient(std::move(text));
}

void SmtpClient::on_timeout(Millis now) {
  State& s = *s_;
  if (s.phase == Phase::kClosed || s.awaited.empty() || now < s.awaited.front().deadline) return;
  s.now = now;
  Await kind = s.awaited.front().kind;
  s.fail_transient(kind == Await::kGreeting
                       ? std::string("timeout waiting for the greeting")
                       : std::string("timeout waiting for reply to ") + command_name(kind));
}

bool SmtpClient::can_submit() const {
  const State& s = *s_;
  std::size_t max_in_flight = s.caps.pipelining ? 2 : 1;
  return s.phase == Phase::kReady && !s.quit_requested && s.txns.size() < max_in_flight;
}

void SmtpClient::submit(Envelope envelope, Millis now) {
  State& s = *s_;
  s.now = now;
  if (s.phase == Phase::kClosed || s.phase == Phase::kQuit) {
    TransactionDone done;
    done.id = envelope.id;
    done.final_reply = Reply::make_local(451, "4.4.2", "the SMTP session is closed");
    done.recipient_replies.assign(envelope.recipients.size(), done.final_reply);
    s.events.emplace_back(std::move(done));
    return;
  }
  Txn t;
  t.seq = s.next_seq++;
  t.rcpt.resize(envelope.recipients.size());
  t.env = std::move(envelope);
  s.txns.push_back(std::move(t));
  s.pump();
}

std::size_t SmtpClient::in_flight() const {
  return s_->txns.size();
}

void SmtpClient::quit(Millis now) {
  State& s = *s_;
  s.now = now;
  s.quit_requested = true;
  s.pump();
}

std::string SmtpClient::take_output() {
  State& s = *s_;
  s.taken_total += s.out.size();
  std::string out = std::move(s.out);
  s.out.clear();
  return out;
}

bool SmtpClient::has_output() const {
  return !s_->out.empty();
}

std::vector<ReplyRecord> SmtpClient::take_replies() {
  std::vector<ReplyRecord> out;
  out.swap(s_->replies);
  return out;
}

std::optional<ClientEvent> SmtpClient::poll_event() {
  State& s = *s_;
  if (s.events.empty()) return std::nullopt;
  ClientEvent e = std::move(s.events.front());
  s.events.pop_front();
  return e;
}

std::optional<Millis> SmtpClient::deadline() const {
  const State& s = *s_;
  if (s.awaited.empty()) return std::nullopt;
  return s.awaited.front().deadline;
}

std::optional<Millis> SmtpClient::waiting_since() const {
  const State& s = *s_;
  if (s.awaited.empty()) return std::nullopt;
  return s.awaited.front().deadline - s.awaited.front().timeout;
}

const Observations& SmtpClient::observations() const {
  return s_->seen;
}
const Capabilities& SmtpClient::capabilities() const {
  return s_->caps;
}
bool SmtpClient::closed() const {
  return s_->phase == Phase::kClosed;
}

}  // namespace ringmta::protocol
