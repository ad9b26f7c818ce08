// RouteWorker: a shard's deliveries through one route (the smart host): its backlog of claimed
// recipients, its pool of reused SMTP connections, POP-before-SMTP, and what each reply means for
// each recipient (delivered / deferred / failed / released because the route is paused).
//
// A relay refusal, an AUTH failure, a TLS or EHLO-name problem is a configuration error, not a bad
// recipient: the route pauses with a plain-words diagnosis and every recipient stays queued.
// Its pace is its ThrottleGroup's: connections opened only while the group allows more (and only
// when every open one is busy), messages started only when the group's rate has a token, every
// decisive reply fed back so that "slow down" replies cut the pace and successes restore it.
// It may not: read or write storage (OutcomeSink does), or block.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bounce/classify.h"
#include "engine/dispatcher.h"
#include "engine/io/pop3_login.h"
#include "engine/io/smtp_connection.h"
#include "engine/message_cache.h"
#include "engine/message_composer.h"
#include "engine/route_config.h"
#include "engine/throttle_group.h"
#include "metrics/counters.h"
#include "storage/queue.h"

namespace ringmta::engine {

// Where an outcome was decided, for the delivery log; all empty when no server was involved
// (a DNS failure, an unreadable message, expiry).
struct Attempt {
  std::string host;     // the smart host or MX host name
  std::string address;  // "192.0.2.1:25", "[2001:db8::1]:25"
  std::string tls;      // "TLSv1.3 TLS_AES_256_GCM_SHA384"; "" in clear text
};

class OutcomeSink {
 public:
  virtual void delivered(const storage::QueueEntry& entry, const protocol::Reply& reply,
                         const Attempt& where) = 0;
  virtual void deferred(const storage::QueueEntry& entry, const protocol::Reply& reply,
                        const Attempt& where) = 0;
  virtual void failed(const storage::QueueEntry& entry, const protocol::Reply& reply,
                      const Attempt& where) = 0;
  // Deferred because the session ended under it (a second time), not for a reply about it: due
  // again in seconds (scheduler::next_session_retry).
  virtual void deferred_session_lost(const storage::QueueEntry& entry, const protocol::Reply& reply,
                                     const Attempt& where) {
    deferred(entry, reply, where);
  }
  // Not attempted or not decided: stays queued exactly as it was.
  virtual void released(const storage::QueueEntry& entry) = 0;
  // Asked just before entry is composed: true when it must not be sent after all (its address
  // joined the suppression list while it waited), and the sink has recorded that.
  virtual bool withdrawn(const storage::QueueEntry&) { return false; }
  // The one classifier of replies (bounce/classify.h): which refusals pause the route.
  virtual const bounce::Classifier& classifier() const = 0;

 protected:
  ~OutcomeSink() = default;
};

// One place to connect to: an endpoint with its TLS settings. The smart host is one candidate;
// a domain's MX hosts are several, tried in order.
struct Candidate {
  ConnectionTarget target;
  std::string mx_host;      // for logs and TLS names in direct delivery; "" for the smart host
  bool tls_failed = false;  // opportunistic TLS failed here once: next time in clear text
};

// Makes the session for a new connection; the default makes an SmtpConnection on the worker's loop.
using SessionFactory = std::function<std::unique_ptr<SmtpSession>(
    ConnectionOwner& owner, const ConnectionTarget& target, protocol::ClientConfig config,
    uint64_t id)>;

class RouteWorker final : public Dispatcher,
                          private ConnectionOwner,
                          private protocol::ReplyObserver {
 public:
  // candidates must not be empty. With config.direct set the worker delivers to MX hosts: a
  // refusal is about the recipient (never a reason to pause), and the next candidate is tried
  // when one cannot be connected to or refuses the session.
  // throttle must outlive the worker; several workers may share it.
  RouteWorker(EventLoop& loop, const RouteConfig& config, std::vector<Candidate> candidates,
              ThrottleGroup& throttle, OutcomeSink& sink, MessageCache& messages,
              MessageComposer& composer, metrics::ShardCounters& counters,
              SessionFactory sessions = {});
  ~RouteWorker() override;

  void add(storage::QueueEntry entry) override;
  void kick() override;
  void release_idle() override;
  void shutdown() override;
  void collect_garbage() override;

  std::size_t backlog() const override { return backlog_.size(); }
  bool busy() const override {
    return !connections_.empty() || pop_ != nullptr || !in_flight_.empty();
  }
  bool paused() const override { return paused_; }
  const std::string& diagnosis() const override { return diagnosis_; }
  void report_routes(metrics::OutcomeTally& tally) override { throttle_.report(tally); }

 private:
  static constexpr Millis kStalledAfter = 3000;  // no reply this long: not moving (kick)

  void on_session_ready(SmtpSession& conn) override;
  void on_transaction_done(SmtpSession& conn, protocol::TransactionDone&& done) override;
  void on_session_failed(SmtpSession& conn, const protocol::SessionFailed& failed) override;
  void on_connection_closed(SmtpSession& conn) override;
  // Every server reply of its connections, counted by stage and class (ShardCounters::replies).
  void on_reply(protocol::Stage stage, int code) override;

  void open_connection();
  void mx_session_failed(SmtpSession& conn, const protocol::SessionFailed& failed);
  void start_pop_login();
  void feed(SmtpSession& conn);
  void pause(protocol::RefusalKind kind, const protocol::Reply& reply,
             const protocol::Observations& seen);
  // Defers the backlog with reply, and what comes for how_long, without trying; brief: for
  // seconds (the route backs off), not for the retry schedule.
  void hold(Millis how_long, protocol::Reply reply, const Attempt& where, bool brief = false);
  // Defers entry with the hold's reply, in seconds or for the schedule as the hold says.
  void defer_held(const storage::QueueEntry& entry, const Attempt& where);
  // An MX host refused entry's mail as unauthenticated for the sender's domain: says why once,
  // defers it and holds the domain.
  void hold_unauthenticated(storage::QueueEntry&& entry, const protocol::Reply& refusal,
                            const Attempt& where, const protocol::Observations& seen);
  // connection_ended: the reply ended that connection's use (its per-connection limit).
  void requeue_or_defer(storage::QueueEntry&& entry, const protocol::Reply& reply,
                        const Attempt& where, bool connection_ended = false);
  void decide(storage::QueueEntry&& entry, const protocol::Reply& rcpt,
              const protocol::TransactionDone& done, const Attempt& where,
              const protocol::Observations& seen);
  Attempt attempt_of(const SmtpSession& conn) const;
  // A connection that can take another envelope now: not retired, under the per-connection
  // limit, and not stalled (its server answered within kStalledAfter).
  bool takes_work(const SmtpSession& conn, Millis now) const;
  static bool stalled(const SmtpSession& conn, Millis now);
  uint32_t per_connection_limit() const;  // the throttle's, UINT32_MAX for none
  bool has_idle_connection(Millis now) const;
  void throttle_reply(const protocol::Reply& reply);
  void wake_at(Millis at);         // kick() again then (the throttle said "not yet")
  void retire(SmtpSession& conn);  // QUIT; it counts as closing until it is gone

  static constexpr Millis kShutdownGrace = 5000;  // for transactions under way at shutdown()

  EventLoop& loop_;
  const RouteConfig& config_;
  std::vector<Candidate> candidates_;  // never resized: connections keep references into it
  std::size_t next_candidate_ = 0;     // only grows; % candidates_.size() is the host to use
  uint32_t candidates_failed_ = 0;     // in a row, across hosts, since a server last answered
  // Connection id → the value of next_candidate_ when it was opened (% size: its candidate), so
  // a failure can tell whether the worker has already moved past that host.
  std::unordered_map<uint64_t, std::size_t> connection_candidate_;
  ThrottleGroup& throttle_;
  OutcomeSink& sink_;
  MessageCache& messages_;
  metrics::ShardCounters& counters_;
  SessionFactory sessions_;

  std::deque<storage::QueueEntry> backlog_;
  std::unordered_map<uint64_t, storage::QueueEntry> in_flight_;  // by envelope id
  uint64_t next_envelope_ = 1;
  std::unordered_set<uint64_t> requeued_;  // seqs already retried at once after a lost connection
  std::unordered_map<uint64_t, std::unique_ptr<SmtpSession>> connections_;
  std::vector<std::unique_ptr<SmtpSession>> closed_;
  uint64_t next_connection_ = 1;
  std::unique_ptr<Pop3Login> pop_;
  std::vector<std::unique_ptr<Pop3Login>> pop_closed_;
  Millis pop_logged_in_at_ = 0;
  bool pop_ever_ = false;
  uint32_t consecutive_failures_ = 0;
  Millis reconnect_after_ = 0;   // held until then: recipients deferred without trying
  protocol::Reply held_reply_;   // what they are deferred with
  bool hold_brief_ = false;      // the hold is a back-off of seconds (deferred_session_lost)
  uint32_t holds_in_a_row_ = 0;  // smart-host back-offs since a transaction was last answered
  static constexpr uint32_t kBriefHolds = 3;  // 15, 30, 60 s; then the retry schedule
  Millis wake_at_ = 0;                        // a pending wake_at timer's time, 0 = none
  TimerId wake_timer_ = 0;
  bool paused_ = false;
  bool shutting_down_ = false;
  std::string diagnosis_;
  MessageComposer& composer_;          // the shard's (its DKIM signer is per shard)
  std::size_t body_size_hint_ = 4096;  // the last rendered size: reserved for the next one
};

}  // namespace ringmta::engine
