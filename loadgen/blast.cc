// Blast implementation: one Blaster (a ConnectionOwner on its own EventLoop) per thread.
#include "loadgen/blast.h"

#include <algorithm>
#include <future>
#include <memory>
#include <thread>
#include <unordered_map>

#include "engine/io/event_loop.h"
#include "metrics/duration_tracker.h"
#include "scheduler/token_bucket.h"

namespace ringmta::loadgen {
namespace {

constexpr Millis kReconnectDelay = 100;  // after a connection closed while the run goes on
constexpr std::size_t kMaxErrors = 5;

std::string reply_key(const protocol::Reply& r) {
  std::string key = std::to_string(r.code);
  if (r.enhanced && r.code != 250) key += " " + r.enhanced->str();
  if (r.local) key += " (local: " + r.text() + ")";
  return key;
}

class Blaster final : private engine::ConnectionOwner {
 public:
  Blaster(engine::EventLoop& loop, const BlastOptions& options, int connections, double rate,
          uint64_t messages, uint64_t first_id, const std::string& body)
      : loop_(loop),
        options_(options),
        connections_wanted_(connections),
        messages_left_(messages),
        unlimited_messages_(messages == 0),
        next_id_(first_id),
        body_(body) {
    client_ = options.client;
    client_.record_replies = true;
    if (rate > 0)
      bucket_ = scheduler::TokenBucket(scheduler::Rate::per_second(rate), 1, loop.now());
  }

  void start() {
    started_us_ = metrics::steady_micros();
    if (options_.duration > 0) {
      loop_.add_timer(loop_.now() + options_.duration, [this] { stop(); });
    }
    for (int i = 0; i < connections_wanted_; ++i) open();
    if (connections_wanted_ == 0 || (!unlimited_messages_ && messages_left_ == 0)) stop();
  }

  BlastReport take_report() {
    report_.seconds =
        static_cast<double>(last_done_us_ > started_us_ ? last_done_us_ - started_us_ : 0) / 1e6;
    return std::move(report_);
  }

 private:
  struct Timing {
    uint64_t submitted = 0;
    uint64_t data_ready = 0;  // the 354 arrived: the body goes out now
  };
  struct Conn {
    std::unique_ptr<engine::SmtpConnection> conn;
    uint64_t opened_us = 0;
    uint64_t last_reply_us = 0;
  };

  void open() {
    uint64_t id = ++connection_ids_;
    auto conn = std::make_unique<engine::SmtpConnection>(
        loop_, static_cast<engine::ConnectionOwner&>(*this), options_.target, client_, id);
    engine::SmtpConnection& raw = *conn;
    uint64_t now = metrics::steady_micros();
    conns_.emplace(id, Conn{std::move(conn), now, now});
    raw.start();
  }

  bool budget_left() const { return !stopping_ && (unlimited_messages_ || messages_left_ > 0); }

  void feed(engine::SmtpSession& conn) {
    while (budget_left() && !conn.retired && conn.can_submit()) {
      if (!bucket_.try_take(loop_.now())) {
        wake_at(bucket_.next_available(loop_.now()));
        return;
      }
      submit(conn);
    }
  }

  void submit(engine::SmtpSession& conn) {
    if (!unlimited_messages_ && --messages_left_ == 0) {
      // The last message is going out: the run ends once it is answered.
      loop_.post([this] { stop(); });
    }
    protocol::Envelope env;
    env.id = next_id_++;
    env.mail_from = options_.sender;
    for (int k = 0; k < options_.recipients_per_message; ++k) {
      env.recipients.push_back("b" + std::to_string(env.id) + "-" + std::to_string(k) + "@" +
                               options_.recipient_domain);
    }
    env.body = body_;
    report_.bytes += body_.size();
    timings_[env.id] = Timing{metrics::steady_micros(), 0};
    conn.submit(std::move(env));
  }

  void wake_at(Millis at) {
    if (wake_timer_ != 0) return;
    wake_timer_ = loop_.add_timer(at, [this] {
      wake_timer_ = 0;
      for (auto& [id, c] : conns_) feed(*c.conn);
    });
  }

  void stop() {
    if (stopping_) return;
    stopping_ = true;
    for (auto& [id, c] : conns_) {
      if (!c.conn->retired) {
        c.conn->retired = true;
        c.conn->quit();
      }
    }
    // Transactions under way get options_.drain to finish; then the rest is cut.
    loop_.add_timer(loop_.now() + options_.drain, [this] {
      for (auto& [id, c] : conns_) c.conn->abort();
    });
    maybe_finish();
  }

  void maybe_finish() {
    if (stopping_ && conns_.empty()) loop_.stop();
  }

  void on_session_ready(engine::SmtpSession& conn) override {
    ++report_.sessions_ready;
    auto it = conns_.find(conn.id());
    if (it != conns_.end()) report_.session.add(metrics::steady_micros() - it->second.opened_us);
    if (stopping_) return conn.quit();
    feed(conn);
  }

  void on_replies(engine::SmtpSession& conn,
                  const std::vector<protocol::ReplyRecord>& replies) override {
    uint64_t now = metrics::steady_micros();
    auto c = conns_.find(conn.id());
    for (const protocol::ReplyRecord& r : replies) {
      uint64_t since = c != conns_.end() ? c->second.last_reply_us : now;
      if (r.envelope != 0) {
        auto t = timings_.find(r.envelope);
        if (t != timings_.end()) {
          // Pipelined commands go out together when the transaction is submitted; the body goes
          // out when the 354 arrives.
          since = std::string_view(r.command) == "end of data" && t->second.data_ready != 0
                      ? t->second.data_ready
                      : t->second.submitted;
          if (std::string_view(r.command) == "DATA") t->second.data_ready = now;
        }
      }
      report_.commands[r.command].add(now > since ? now - since : 0);
      if (c != conns_.end()) c->second.last_reply_us = now;
    }
  }

  void on_transaction_done(engine::SmtpSession& conn, protocol::TransactionDone&& done) override {
    uint64_t now = metrics::steady_micros();
    last_done_us_ = now;
    ++report_.messages;
    if (auto t = timings_.find(done.id); t != timings_.end()) {
      report_.end_to_end.add(now - t->second.submitted);
      timings_.erase(t);
    }
    std::size_t accepted = 0;
    const protocol::Reply* refusal = nullptr;
    for (const protocol::Reply& r : done.recipient_replies) {
      if (r.positive()) {
        ++accepted;
      } else if (refusal == nullptr) {
        refusal = &r;
      }
    }
    const protocol::Reply& decisive = accepted > 0         ? done.final_reply
                                      : refusal != nullptr ? *refusal
                                                           : done.final_reply;
    ++report_.replies[reply_key(decisive)];
    if (done.delivered) {
      ++report_.messages_accepted;
      report_.recipients_accepted += accepted;
      report_.recipients_refused += done.recipient_replies.size() - accepted;
    } else {
      report_.recipients_refused += done.recipient_replies.size();
    }
    feed(conn);
  }

  void on_session_failed(engine::SmtpSession&, const protocol::SessionFailed& failed) override {
    if (failed.stage > protocol::Stage::kAuth) return;  // a session that worked, ended by a reply
    ++report_.sessions_failed;
    if (report_.errors.size() < kMaxErrors) report_.errors.push_back(failed.reply.summary());
    // Nothing ever worked and every connection failed: the server is not there; do not retry.
    if (report_.sessions_ready == 0 &&
        report_.sessions_failed >= static_cast<uint64_t>(connections_wanted_)) {
      loop_.post([this] { stop(); });
    }
  }

  void on_connection_closed(engine::SmtpSession& conn) override {
    auto it = conns_.find(conn.id());
    if (it == conns_.end()) return;
    graveyard_.push_back(std::move(it->second.conn));
    conns_.erase(it);
    loop_.post([this] { graveyard_.clear(); });
    if (budget_left()) {
      // The server closed (e.g. a 421 after N messages): keep the connection count.
      loop_.add_timer(loop_.now() + kReconnectDelay, [this] {
        if (budget_left()) open();
      });
      return;
    }
    maybe_finish();
  }

  engine::EventLoop& loop_;
  const BlastOptions& options_;
  protocol::ClientConfig client_;
  int connections_wanted_;
  uint64_t messages_left_;
  bool unlimited_messages_;
  uint64_t next_id_;
  const std::string& body_;
  scheduler::TokenBucket bucket_;  // unlimited unless a rate is given
  engine::TimerId wake_timer_ = 0;
  bool stopping_ = false;
  uint64_t connection_ids_ = 0;
  std::unordered_map<uint64_t, Conn> conns_;
  std::vector<std::unique_ptr<engine::SmtpConnection>> graveyard_;
  std::unordered_map<uint64_t, Timing> timings_;
  uint64_t started_us_ = 0, last_done_us_ = 0;
  BlastReport report_;
};

}  // namespace

void BlastReport::merge(BlastReport&& o) {
  messages += o.messages;
  messages_accepted += o.messages_accepted;
  recipients_accepted += o.recipients_accepted;
  recipients_refused += o.recipients_refused;
  sessions_ready += o.sessions_ready;
  sessions_failed += o.sessions_failed;
  bytes += o.bytes;
  seconds = std::max(seconds, o.seconds);
  for (auto& [k, n] : o.replies) replies[k] += n;
  for (auto& [k, r] : o.commands) commands[k].merge(r);
  end_to_end.merge(o.end_to_end);
  session.merge(o.session);
  for (auto& e : o.errors) {
    if (errors.size() < kMaxErrors) errors.push_back(std::move(e));
  }
}

std::string blast_message(std::size_t size, const std::string& sender) {
  std::string m = "From: <" + sender +
                  ">\r\nTo: undisclosed-recipients:;\r\nSubject: ringmta blast\r\n"
                  "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n";
  static constexpr std::string_view kLine =
      "The quick brown fox jumps over the lazy dog, again and again, for the load test.\r\n";
  while (m.size() + kLine.size() <= size) m.append(kLine);
  if (m.size() + 2 < size) m.append(size - m.size() - 2, 'x').append("\r\n");
  return m;
}

Result<BlastReport> run_blast(const BlastOptions& options) {
  int threads = std::max(1, std::min(options.threads, std::max(1, options.connections)));
  std::string body = blast_message(options.size, options.sender);
  std::vector<std::thread> workers;
  std::vector<BlastReport> reports(static_cast<std::size_t>(threads));
  std::vector<std::string> errors(static_cast<std::size_t>(threads));
  for (int i = 0; i < threads; ++i) {
    // Connections, rate and message count split evenly; the first threads take the remainders.
    int connections = options.connections / threads + (i < options.connections % threads ? 1 : 0);
    double rate = options.rate / threads;
    uint64_t messages = options.messages / static_cast<uint64_t>(threads) +
                        (static_cast<uint64_t>(i) < options.messages % threads ? 1 : 0);
    if (options.messages > 0 && messages == 0) connections = 0;
    // The ring is created on its own thread (see SinkServer::Worker::run for why).
    workers.emplace_back([&, i, connections, rate, messages] {
      auto loop = engine::EventLoop::create();
      if (!loop) {
        errors[static_cast<std::size_t>(i)] = loop.error().message;
        return;
      }
      Blaster blaster(*loop.value(), options, connections, rate, messages,
                      (static_cast<uint64_t>(i) << 40) + 1, body);
      blaster.start();
      loop.value()->run();
      reports[static_cast<std::size_t>(i)] = blaster.take_report();
    });
  }
  for (auto& t : workers) t.join();
  for (const auto& e : errors) {
    if (!e.empty()) return make_error(e);
  }
  BlastReport total;
  for (auto& r : reports) total.merge(std::move(r));
  return total;
}

}  // namespace ringmta::loadgen
