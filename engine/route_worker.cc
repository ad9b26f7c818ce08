// RouteWorker implementation: the pool, the hand-out of work, and the meaning of replies.
#include "engine/route_worker.h"

#include <algorithm>
#include <cstdio>

#include "message/template.h"
#include "util/strings.h"

namespace ringmta::engine {

using protocol::RefusalKind;
using protocol::Reply;

RouteWorker::RouteWorker(EventLoop& loop, const RouteConfig& config,
                         std::vector<Candidate> candidates, ThrottleGroup& throttle,
                         OutcomeSink& sink, MessageCache& messages, MessageComposer& composer,
                         metrics::ShardCounters& counters, SessionFactory sessions)
    : loop_(loop),
      config_(config),
      candidates_(std::move(candidates)),
      throttle_(throttle),
      sink_(sink),
      messages_(messages),
      counters_(counters),
      sessions_(std::move(sessions)),
      composer_(composer) {}

RouteWorker::~RouteWorker() {
  if (wake_at_ != 0) loop_.cancel_timer(wake_timer_);
}

void RouteWorker::add(storage::QueueEntry entry) {
  if (paused_ || shutting_down_) {
    sink_.released(entry);
    return;
  }
  if (loop_.now() < reconnect_after_) {
    // The route is held (unreachable, or refusing our mail as unauthenticated): defer without
    // trying, until the hold ends.
    return defer_held(entry, Attempt{});
  }
  backlog_.push_back(std::move(entry));
}

void RouteWorker::kick() {
  if (paused_ || shutting_down_) return;
  for (auto& [id, conn] : connections_) feed(*conn);
  if (backlog_.empty() || loop_.now() < reconnect_after_) return;
  if (config_.pop_before_smtp) {
    if (pop_ != nullptr) return;  // wait for the POP3 login
    if (!pop_ever_ || loop_.now() - pop_logged_in_at_ > config_.pop_valid_for) {
      if (connections_.empty()) return start_pop_login();
    }
  }
  // Grow the pool while there is more work than the moving connections can pipeline, as far as
  // the throttle allows. A connection still able to take work means connections are not what
  // holds the route back (its message rate is): then the pool does not grow. A connection whose
  // server has not answered for kStalledAfter is not moving (a RCPT never answered, a server
  // that stopped reading): counted as capacity, a few of them would hold a small backlog until
  // their timeouts, minutes away.
  const Millis now = loop_.now();
  scheduler::RouteThrottle& throttle = throttle_.throttle;
  std::size_t moving = 0;
  for (const auto& [id, conn] : connections_) {
    if (!conn->retired && !stalled(*conn, now) && conn->messages_sent < per_connection_limit()) {
      ++moving;
    }
  }
  for (; backlog_.size() > moving * 2 && !has_idle_connection(now); ++moving) {
    if (!throttle.may_open_connection(now, throttle_.open_connections)) {
      if (throttle_.open_connections < throttle.allowed_connections()) {
        wake_at(throttle.next_open_at(now));  // the connection-open rate: later
      }
      break;
    }
    open_connection();
  }
}

bool RouteWorker::takes_work(const SmtpSession& conn, Millis now) const {
  return !conn.retired && conn.can_submit() && conn.messages_sent < per_connection_limit() &&
         !stalled(conn, now);
}

bool RouteWorker::stalled(const SmtpSession& conn, Millis now) {
  const auto waiting = conn.waiting_since();
  return waiting && now - *waiting >= kStalledAfter;
}

uint32_t RouteWorker::per_connection_limit() const {
  const uint32_t limit = throttle_.throttle.max_messages_per_connection();
  return limit == 0 ? UINT32_MAX : limit;
}

bool RouteWorker::has_idle_connection(Millis now) const {
  return std::any_of(connections_.begin(), connections_.end(),
                     [this, now](const auto& c) { return takes_work(*c.second, now); });
}

void RouteWorker::wake_at(Millis at) {
  if (wake_at_ != 0 && wake_at_ <= at) return;
  if (wake_at_ != 0) loop_.cancel_timer(wake_timer_);
  wake_at_ = at;
  wake_timer_ = loop_.add_timer(at, [this] {
    wake_at_ = 0;
    kick();
  });
}

void RouteWorker::throttle_reply(const Reply& reply) {
  UnixSeconds now = unix_now();
  throttle_.saw_reply(reply, now);
  report_throttle_changes(throttle_, throttle_.throttle.on_reply(reply, loop_.now()), counters_,
                          now);
}

void RouteWorker::retire(SmtpSession& conn) {
  if (!conn.retired) {
    conn.retired = true;
    ++throttle_.closing_connections;
  }
  conn.quit();
}

void RouteWorker::start_pop_login() {
  const auto& creds = config_.client.credentials;
  pop_ = std::make_unique<Pop3Login>(
      loop_, *config_.pop_before_smtp, creds ? creds->user : "", creds ? creds->password : "",
      config_.client.timeouts.greeting, [this](const std::string& outcome) {
        pop_closed_.push_back(std::move(pop_));
        if (outcome.empty()) {
          pop_ever_ = true;
          pop_logged_in_at_ = loop_.now();
          kick();
          return;
        }
        Reply reply = Reply::make_local(530, "5.7.0", outcome);
        pause(RefusalKind::kAuthFailed, reply, protocol::Observations{});
        diagnosis_ = protocol::diagnose_pop_login(config_.pop_before_smtp->str(), outcome);
      });
  pop_->start();
}

void RouteWorker::open_connection() {
  uint64_t id = next_connection_++;
  const Candidate& candidate = candidates_[next_candidate_ % candidates_.size()];
  protocol::ClientConfig client = config_.client;
  client.reply_observer = this;
  if (candidate.tls_failed && client.tls == protocol::TlsMode::kOpportunistic) {
    client.tls = protocol::TlsMode::kNone;
  }
  connection_candidate_[id] = next_candidate_;
  ++throttle_.open_connections;
  auto& owner = static_cast<ConnectionOwner&>(*this);
  std::unique_ptr<SmtpSession> conn =
      sessions_
          ? sessions_(owner, candidate.target, std::move(client), id)
          : std::make_unique<SmtpConnection>(loop_, owner, candidate.target, std::move(client), id);
  SmtpSession* raw = conn.get();
  connections_.emplace(id, std::move(conn));
  counters_.connections_opened.add();
  counters_.connect_started.start(id);
  raw->start();
}

void RouteWorker::feed(SmtpSession& conn) {
  if (conn.retired) return;
  scheduler::RouteThrottle& throttle = throttle_.throttle;
  if (throttle_.open_connections - throttle_.closing_connections > throttle.allowed_connections() &&
      conn.can_submit() && conn.in_flight() == 0) {
    return retire(conn);  // the throttle cut the connections: close the surplus as it falls idle
  }
  const Millis now = loop_.now();
  // Without 8BITMIME in the server's latest EHLO answer, a copy's 8-bit parts go 7-bit.
  const bool seven_bit = !conn.observations().latest_caps().eight_bit_mime;
  const bool smtputf8 = conn.observations().latest_caps().smtputf8;
  // Nothing more for a connection whose server stopped answering: what it holds waits for its
  // timeout, the rest goes to the connections that move (kick opens them).
  while (!backlog_.empty() && takes_work(conn, now)) {
    if (!throttle.may_send(now)) {
      wake_at(throttle.next_send_at(now));
      break;
    }
    storage::QueueEntry entry = std::move(backlog_.front());
    backlog_.pop_front();
    if (sink_.withdrawn(entry)) continue;
    auto loaded = messages_.get(entry.record.message);
    if (!loaded) {
      sink_.failed(entry, Reply::make_local(554, "5.3.0", loaded.error().message), Attempt{});
      continue;
    }
    const LoadedMessage& msg = *loaded.value();
    protocol::Envelope env;
    env.mail_from = composer_.envelope_sender(entry, msg);
    // A UTF-8 local part (the queue keeps domains as A-labels) goes only with SMTPUTF8: to a
    // server without it, the recipient fails with the reason, and is not suppressed (X.6.7).
    env.smtputf8 = has_8bit(env.mail_from) || has_8bit(entry.record.address);
    if (env.smtputf8 && !smtputf8) {
      sink_.failed(
          entry,
          Reply::make_local(553, "5.6.7",
                            "<" + (has_8bit(env.mail_from) ? env.mail_from : entry.record.address) +
                                ">: a non-ASCII address needs SMTPUTF8 (RFC 6531), "
                                "which this server does not offer"),
          attempt_of(conn));
      continue;
    }
    // Composed straight into the envelope (the client owns it until it is written).
    env.body.reserve(body_size_hint_);
    if (auto ok = composer_.compose(env.body, entry, msg, unix_now(), seven_bit); !ok) {
      if (ok.error().kind == ErrorKind::kTemporary) {
        sink_.deferred(entry, Reply::make_local(451, "4.7.0", ok.error().message), Attempt{});
      } else {
        sink_.failed(entry, Reply::make_local(554, "5.6.0", ok.error().message), Attempt{});
      }
      continue;
    }
    body_size_hint_ = env.body.size() + 256;
    env.id = next_envelope_++;
    env.recipients.push_back(entry.record.address);
    env.eight_bit =
        msg.tpl.eight_bit(entry.record.values);  // this copy's bytes, not the template's
    counters_.bytes_sent.add(env.body.size());
    counters_.transaction_started.start(env.id);
    in_flight_.emplace(env.id, std::move(entry));
    ++conn.messages_sent;
    conn.submit(std::move(env));
  }
  if (conn.messages_sent >= per_connection_limit()) retire(conn);
}

void RouteWorker::release_idle() {
  if (!backlog_.empty()) return;  // its connections have work (or wait for the throttle)
  for (auto& [id, conn] : connections_) {
    if (conn->in_flight() == 0 && conn->can_submit()) retire(*conn);
  }
}

void RouteWorker::on_session_ready(SmtpSession& conn) {
  counters_.session_ready(conn.id(), conn.observations().tls_active);
  ++throttle_.sessions_ok;
  throttle_.throttle.on_connected(loop_.now());
  feed(conn);
}

void RouteWorker::decide(storage::QueueEntry&& entry, const Reply& rcpt,
                         const protocol::TransactionDone& done, const Attempt& where,
                         const protocol::Observations& seen) {
  const Reply& final_reply = done.final_reply;
  // A smart host's refusal that is about our configuration pauses the route instead of failing
  // the recipient. An MX host's refusal is about the recipient, except one of mail that is not
  // authenticated for the sender's domain (DMARC, SPF, PTR): that holds the whole domain.
  for (const Reply* reply : {&rcpt, &final_reply}) {
    if (reply->positive()) continue;
    const RefusalKind kind = sink_.classifier().classify(*reply).refusal;
    if (config_.direct) {
      if (kind == RefusalKind::kSenderAuthentication) {
        return hold_unauthenticated(std::move(entry), *reply, where, seen);
      }
      continue;
    }
    if (protocol::is_configuration_refusal(kind)) {
      sink_.released(entry);
      pause(kind, *reply, seen);
      return;
    }
  }
  if (!rcpt.positive()) {
    if (rcpt.permanent()) return sink_.failed(entry, rcpt, where);
    return requeue_or_defer(std::move(entry), rcpt, where);
  }
  if (done.delivered) return sink_.delivered(entry, final_reply, where);
  if (final_reply.permanent()) return sink_.failed(entry, final_reply, where);
  if (done.maybe_delivered) {
    counters_.possible_duplicates.add();
    std::fprintf(stderr,
                 "ringmta: possible duplicate: %s — the end of data was sent but no reply came "
                 "(%s); it will be sent again\n",
                 entry.record.address.c_str(), final_reply.summary().c_str());
  }
  requeue_or_defer(std::move(entry), final_reply, where);
}

void RouteWorker::requeue_or_defer(storage::QueueEntry&& entry, const Reply& reply,
                                   const Attempt& where, bool connection_ended) {
  // A lost connection, a timeout or a 421 (the server closing the session, e.g. after its
  // per-connection message limit) says nothing about the recipient: try once more at once on
  // another connection; a second loss defers it for seconds, any other 4xx for the schedule.
  bool session_ended = connection_ended || reply.local || reply.code == 421;
  if (session_ended && !shutting_down_ && requeued_.insert(entry.key.seq).second) {
    backlog_.push_front(std::move(entry));
    return;
  }
  requeued_.erase(entry.key.seq);
  if (session_ended) return sink_.deferred_session_lost(entry, reply, where);
  sink_.deferred(entry, reply, where);
}

Attempt RouteWorker::attempt_of(const SmtpSession& conn) const {
  auto it = connection_candidate_.find(conn.id());
  const Candidate& c =
      candidates_[(it != connection_candidate_.end() ? it->second : 0) % candidates_.size()];
  return Attempt{c.mx_host.empty() ? c.target.endpoint.host : c.mx_host,
                 c.target.endpoint.address(), conn.tls_description()};
}

void RouteWorker::on_transaction_done(SmtpSession& conn, protocol::TransactionDone&& done) {
  auto node = in_flight_.extract(done.id);
  if (node.empty()) return;
  counters_.transaction_done(done.id);
  Reply rcpt = done.recipient_replies.empty() ? done.final_reply : done.recipient_replies[0];
  if (!rcpt.local) {
    // The server answered a transaction: the route works. (A session that gets ready and then
    // fails before any answer still counts as failed, or a server that breaks every session
    // right after EHLO would be reconnected to forever, its recipients never tried.)
    consecutive_failures_ = 0;
    candidates_failed_ = 0;
    holds_in_a_row_ = 0;
  }
  throttle_reply(rcpt);
  if (rcpt.positive()) throttle_reply(done.final_reply);
  // A 452 to the Nth message of a connection is the server's per-connection limit (RFC 5321
  // §4.5.3.1.10 "too many"), not a word about the recipient: that connection is done, and the
  // recipient goes out once more at once on a new one instead of waiting for --retry-after.
  // A full mailbox (4.2.2) is about the recipient and is deferred as usual.
  const Reply& refusal = !rcpt.positive() && !rcpt.local ? rcpt : done.final_reply;
  const bool connection_full = refusal.code == 452 && !refusal.local && conn.messages_sent > 1 &&
                               !(refusal.enhanced && refusal.enhanced->str() == "4.2.2");
  if (connection_full) {
    retire(conn);
    // Not counted as a lost attempt: another connection of the pool may be as full and say the
    // same, and each such 452 retires a connection that delivered before it, so this ends.
    if (!shutting_down_) {
      backlog_.push_front(std::move(node.mapped()));
      return kick();
    }
    return requeue_or_defer(std::move(node.mapped()), refusal, attempt_of(conn), true);
  }
  decide(std::move(node.mapped()), rcpt, done, attempt_of(conn), conn.observations());
  if (!paused_) feed(conn);
}

void RouteWorker::pause(RefusalKind kind, const Reply& reply, const protocol::Observations& seen) {
  if (paused_) return;
  paused_ = true;
  diagnosis_ = protocol::diagnose(kind, reply, seen, config_.facts);
  for (auto& entry : backlog_) sink_.released(entry);
  backlog_.clear();
  for (auto& [id, conn] : connections_) retire(*conn);
}

void RouteWorker::hold(Millis how_long, Reply reply, const Attempt& where, bool brief) {
  reconnect_after_ = loop_.now() + how_long;
  // A smart host's back-off is the route's state (/status shows it until when).
  if (brief && !config_.direct) throttle_.backing_off_until = unix_now() + how_long / 1000;
  held_reply_ = std::move(reply);
  hold_brief_ = brief;
  for (auto& entry : backlog_) defer_held(entry, where);
  backlog_.clear();
}

void RouteWorker::defer_held(const storage::QueueEntry& entry, const Attempt& where) {
  if (hold_brief_) return sink_.deferred_session_lost(entry, held_reply_, where);
  sink_.deferred(entry, held_reply_, where);
}

void RouteWorker::hold_unauthenticated(storage::QueueEntry&& entry, const Reply& refusal,
                                       const Attempt& where, const protocol::Observations& seen) {
  const bool first = loop_.now() >= reconnect_after_;
  diagnosis_ = protocol::diagnose(RefusalKind::kSenderAuthentication, refusal, seen, config_.facts);
  if (first) {
    std::fprintf(stderr, "ringmta: %s: %s\n", where.host.c_str(), diagnosis_.c_str());
  }
  // Deferred, not failed: the list is not bounced for the sender's DNS or signing; the domain
  // is tried again after the hold (the retry schedule's first step), and expires as usual.
  hold(config_.retry.first_retry * 1000, Reply::make_local(451, "4.7.0", diagnosis_), where);
  sink_.deferred(entry, held_reply_, where);
}

void RouteWorker::on_reply(protocol::Stage stage, int code) {
  static_assert(protocol::kStageCount <= metrics::kMaxReplyStages);
  const int reply_class = code / 100 - 2;
  if (reply_class < 0 || reply_class >= static_cast<int>(metrics::kReplyClasses)) return;
  counters_.replies[static_cast<std::size_t>(stage)][static_cast<std::size_t>(reply_class)].add();
}

void RouteWorker::on_session_failed(SmtpSession& conn, const protocol::SessionFailed& failed) {
  counters_.session_failed(failed.stage <= protocol::Stage::kAuth,
                           failed.stage == protocol::Stage::kTlsHandshake);
  if (failed.stage <= protocol::Stage::kAuth) ++throttle_.sessions_failed;
  throttle_reply(failed.reply);
  if (config_.direct) return mx_session_failed(conn, failed);
  const protocol::Observations& seen = conn.observations();
  RefusalKind kind = protocol::classify_session_failure(failed);
  // A reply the table calls a configuration problem pauses the route whatever the stage.
  if (!protocol::is_configuration_refusal(kind) && !failed.protocol_error) {
    kind = sink_.classifier().classify(failed.reply).refusal;
  }
  if (protocol::is_configuration_refusal(kind)) {
    pause(kind, failed.reply, seen);
    return;
  }
  counters_.connections_failed.add();
  if (++consecutive_failures_ >= config_.connect_failures_before_defer) {
    // The smart host is pushing back (421): stop hammering it for seconds, growing with each
    // hold in a row; what is waiting is due again when the hold ends. After kBriefHolds in a row
    // it is down, not busy, and so is a smart host that fails otherwise: its recipients wait for
    // the retry schedule.
    const std::string who = "The smart host " + candidates_[0].target.endpoint.str() +
                            " could not be used (" + failed.reply.summary() + ") " +
                            std::to_string(config_.connect_failures_before_defer) +
                            " times in a row";
    consecutive_failures_ = 0;
    // Only a 421 says "not now" (RFC 5321 §3.8): a refused connection, a TLS or protocol failure
    // is not fixed in seconds, and the user is better told at once.
    if (failed.reply.code == 421 && !failed.reply.local && holds_in_a_row_ < kBriefHolds) {
      const UnixSeconds back_off = std::min<UnixSeconds>(
          config_.retry.first_retry, scheduler::kSessionRetry << holds_in_a_row_);
      ++holds_in_a_row_;
      diagnosis_ = who + "; backing off for " + std::to_string(back_off) +
                   " s, then its recipients are tried again.";
      hold(back_off * 1000, Reply::make_local(451, "4.4.1", diagnosis_), attempt_of(conn), true);
    } else {
      diagnosis_ =
          who +
          (holds_in_a_row_ >= kBriefHolds ? ", after " + std::to_string(kBriefHolds) + " back-offs"
                                          : std::string()) +
          "; its recipients are deferred for the retry schedule.";
      hold(config_.retry.first_retry * 1000, Reply::make_local(451, "4.4.1", diagnosis_),
           attempt_of(conn));
    }
  }
}

void RouteWorker::mx_session_failed(SmtpSession& conn, const protocol::SessionFailed& failed) {
  using protocol::Stage;
  counters_.connections_failed.add();
  auto known = connection_candidate_.find(conn.id());
  std::size_t which = known != connection_candidate_.end() ? known->second : next_candidate_;
  Candidate& candidate = candidates_[which % candidates_.size()];
  // Several connections to one host fail together (they were opened at once): only the first
  // failure moves on to the next host and counts; the others belong to a host already left.
  if (which < next_candidate_) return;
  bool tls_failed = failed.stage == Stage::kTlsHandshake;
  if (tls_failed && config_.direct->tls == MxTls::kOpportunistic) {
    // RFC 7435: opportunistic TLS that fails is retried in clear text on the same host. Once
    // marked, new connections there are in clear text, so a later handshake failure is a sibling
    // opened before the mark.
    if (!candidate.tls_failed) {
      candidate.tls_failed = true;
      std::fprintf(stderr, "ringmta: TLS with MX %s failed (%s); retrying it in clear text\n",
                   candidate.target.endpoint.str().c_str(), failed.reply.summary().c_str());
    }
    return;
  }
  // Connection refused, a refused or 421 greeting, a timeout: the next MX host is tried.
  bool host_unusable = failed.stage == Stage::kConnect || failed.stage == Stage::kGreeting ||
                       failed.stage == Stage::kEhlo || failed.reply.code == 421 || tls_failed ||
                       failed.stage == Stage::kStartTls;
  if (host_unusable) next_candidate_ = which + 1;
  diagnosis_ = "MX " + candidate.target.endpoint.str() + ": " + failed.reply.summary();
  uint32_t limit = std::min<uint32_t>(static_cast<uint32_t>(candidates_.size()),
                                      static_cast<uint32_t>(config_.direct->max_hosts_per_attempt));
  if (++candidates_failed_ >= std::max<uint32_t>(limit, 1)) {
    // Every MX host we may try failed: defer the domain's recipients, try again later.
    candidates_failed_ = 0;
    // The next attempt starts again with the most preferred host.
    if (std::size_t r = next_candidate_ % candidates_.size(); r != 0) {
      next_candidate_ += candidates_.size() - r;
    }
    hold(config_.retry.first_retry * 1000,
         Reply::make_local(
             failed.reply.code >= 400 && failed.reply.code < 500 ? failed.reply.code : 451, "4.4.1",
             "all MX hosts failed; last: " + diagnosis_),
         attempt_of(conn));
  }
}

void RouteWorker::on_connection_closed(SmtpSession& conn) {
  counters_.connections_closed.add();
  if (conn.retired) --throttle_.closing_connections;
  --throttle_.open_connections;
  throttle_.throttle.connection_closed();
  connection_candidate_.erase(conn.id());
  auto node = connections_.extract(conn.id());
  if (!node.empty()) closed_.push_back(std::move(node.mapped()));
  if (!shutting_down_) kick();
}

void RouteWorker::shutdown() {
  shutting_down_ = true;
  if (wake_at_ != 0) loop_.cancel_timer(wake_timer_);
  wake_at_ = 0;
  for (auto& entry : backlog_) sink_.released(entry);
  backlog_.clear();
  // Transactions under way finish and their outcomes are recorded (aborting them would send
  // those messages again on the next run), then each connection QUITs; what has not finished
  // within kShutdownGrace is cut off and stays queued.
  for (auto& [id, conn] : connections_) retire(*conn);
  loop_.add_timer(loop_.now() + kShutdownGrace, [this] {
    for (auto& [id, entry] : in_flight_) sink_.released(entry);
    in_flight_.clear();
    std::vector<SmtpSession*> open;
    for (auto& [id, conn] : connections_) open.push_back(conn.get());
    for (SmtpSession* conn : open) conn->abort();
  });
}

void RouteWorker::collect_garbage() {
  closed_.clear();
  pop_closed_.clear();
}

}  // namespace ringmta::engine
