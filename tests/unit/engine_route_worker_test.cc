// Unit tests for RouteWorker's decisions (engine/route_worker.h), with scripted sessions from its
// session factory instead of sockets: the test plays the server's side by calling the owner's
// events (session ready, transaction done, session failed, closed) and checks what the worker did
// with each recipient (delivered, failed, deferred, released back to the queue), when it pauses
// the route with a diagnosis, and how many messages it sends on one connection.
// It may not: open sockets or depend on timing (the loop is created for its clock, never run).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "engine/route_worker.h"
#include "storage_test_queue.h"

namespace ringmta::engine {
namespace {

using protocol::Reply;

Reply reply(int code, const char* enhanced, const char* text) {
  Reply r = Reply::make_local(code, enhanced, text);
  r.local = false;  // as a server sent it
  return r;
}

class ScriptedSession final : public SmtpSession {
 public:
  ScriptedSession(ConnectionOwner& owner, uint64_t id) : SmtpSession(id), owner_(owner) {}
  void start() override { started = true; }
  void submit(protocol::Envelope envelope) override { submitted.push_back(std::move(envelope)); }
  void quit() override { quit_sent = true; }
  void abort() override { aborted = true; }
  // As SmtpClient: envelopes only once the session is ready, never after QUIT or a loss.
  bool can_submit() const override { return is_ready && !quit_sent && !aborted; }
  std::size_t in_flight() const override { return submitted.size() - answered; }
  std::optional<Millis> waiting_since() const override { return waiting; }
  const protocol::Observations& observations() const override { return seen; }
  std::string tls_description() const override { return ""; }

  // The server's side.
  void ready() {
    is_ready = true;
    owner_.on_session_ready(*this);
  }
  void answer(std::size_t index, Reply rcpt, Reply final_reply, bool delivered) {
    ++answered;
    protocol::TransactionDone done{.id = submitted.at(index).id,
                                   .recipient_replies = {std::move(rcpt)},
                                   .final_reply = std::move(final_reply),
                                   .delivered = delivered};
    owner_.on_transaction_done(*this, std::move(done));
  }
  void closed() { owner_.on_connection_closed(*this); }
  // A session that fails is closed, as SmtpConnection does.
  void fail(protocol::Stage stage, Reply why) {
    owner_.on_session_failed(*this, {.stage = stage, .reply = std::move(why)});
    owner_.on_connection_closed(*this);
  }

  std::vector<protocol::Envelope> submitted;
  std::size_t answered = 0;
  std::optional<Millis> waiting;  // as the client says: since when a reply is awaited
  bool started = false, is_ready = false, quit_sent = false, aborted = false;
  protocol::Observations seen;

 private:
  ConnectionOwner& owner_;
};

class RecordingSink final : public OutcomeSink {
 public:
  void delivered(const storage::QueueEntry& e, const Reply&, const Attempt&) override {
    outcome[e.record.address] = "delivered";
  }
  void deferred(const storage::QueueEntry& e, const Reply& r, const Attempt&) override {
    outcome[e.record.address] = "deferred " + r.summary();
  }
  void failed(const storage::QueueEntry& e, const Reply& r, const Attempt&) override {
    outcome[e.record.address] = "failed " + r.summary();
  }
  void released(const storage::QueueEntry& e) override { outcome[e.record.address] = "released"; }
  const bounce::Classifier& classifier() const override { return classifier_; }
  std::map<std::string, std::string> outcome;

 private:
  const bounce::Classifier classifier_;  // the built-in table, as a shard without rule files
};

class RouteWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    queue_ = storage::test_support::must_open(dir_.path());
    ASSERT_NE(queue_, nullptr);
    auto id = queue_->put_message({.envelope_sender = "bounces@example.org",
                                   .raw = "From: news@example.org\r\nSubject: Hi\r\n\r\nHello\r\n",
                                   .campaign = "spring"});
    ASSERT_TRUE(id.ok());
    message_ = *id;
    messages_ = std::make_unique<MessageCache>(*queue_);
    auto loop = EventLoop::create(64);
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(loop).value();
    config_.target.endpoint.host = "smtp.example.net";
    config_.client.ehlo_name = "mta.example.org";
  }

  void make_worker(uint32_t max_connections, uint32_t per_connection) {
    scheduler::Limits limits;
    limits.max_connections = max_connections;
    limits.max_messages_per_connection = per_connection;
    throttle_ =
        std::make_unique<ThrottleGroup>("smart host", "smtp.example.net:587", limits, loop_->now());
    worker_ = std::make_unique<RouteWorker>(
        *loop_, config_, std::vector<Candidate>{Candidate{config_.target, "", false}}, *throttle_,
        sink_, *messages_, composer_, counters_,
        [this](ConnectionOwner& owner, const ConnectionTarget&, protocol::ClientConfig,
               uint64_t id) {
          auto session = std::make_unique<ScriptedSession>(owner, id);
          sessions_.push_back(session.get());
          return session;
        });
  }

  void add(const std::string& address, uint64_t seq) {
    storage::QueueEntry entry;
    entry.key.seq = seq;
    entry.domain = "example.net";
    entry.record.address = address;
    entry.record.message = message_;
    worker_->add(std::move(entry));
  }

  storage::test_support::TempDir dir_;
  std::unique_ptr<storage::Queue> queue_;
  storage::MessageId message_ = 0;
  std::unique_ptr<EventLoop> loop_;
  RouteConfig config_;
  std::unique_ptr<ThrottleGroup> throttle_;
  RecordingSink sink_;
  std::unique_ptr<MessageCache> messages_;
  MessageComposer composer_{"ringmta.test", 1, ""};
  metrics::ShardCounters counters_;
  std::vector<ScriptedSession*> sessions_;  // owned by the worker
  std::unique_ptr<RouteWorker> worker_;
};

TEST_F(RouteWorkerTest, EachRecipientIsDecidedByItsOwnReplies) {
  make_worker(1, 100);
  add("ann@example.net", 1);
  add("bob@example.net", 2);
  add("carl@example.net", 3);
  add("dora@example.net", 4);
  worker_->kick();
  ASSERT_EQ(sessions_.size(), 1u);
  EXPECT_TRUE(sessions_[0]->started);
  sessions_[0]->ready();
  ASSERT_EQ(sessions_[0]->submitted.size(), 4u);
  EXPECT_EQ(sessions_[0]->submitted[0].mail_from, "bounces@example.org");
  EXPECT_EQ(sessions_[0]->submitted[0].recipients, std::vector<std::string>{"ann@example.net"});
  const Reply ok = reply(250, "2.0.0", "queued");
  sessions_[0]->answer(0, reply(250, "2.1.5", "ok"), ok, true);
  sessions_[0]->answer(1, reply(550, "5.1.1", "user unknown"), ok, false);
  sessions_[0]->answer(2, reply(450, "4.2.1", "mailbox busy"), ok, false);
  // Accepted at RCPT, but the end of data was refused for good.
  sessions_[0]->answer(3, reply(250, "2.1.5", "ok"), reply(554, "5.6.0", "content refused"), false);
  EXPECT_EQ(sink_.outcome["ann@example.net"], "delivered");
  EXPECT_EQ(sink_.outcome["bob@example.net"], "failed 550 5.1.1 user unknown");
  EXPECT_EQ(sink_.outcome["carl@example.net"], "deferred 450 4.2.1 mailbox busy");
  EXPECT_EQ(sink_.outcome["dora@example.net"], "failed 554 5.6.0 content refused");
  EXPECT_FALSE(worker_->paused());
}

TEST_F(RouteWorkerTest, ConnectionsWhoseServerStoppedAnsweringGetNoMoreWorkAndNewOnesOpen) {
  make_worker(4, 100);
  for (uint64_t i = 1; i <= 6; ++i) add("u" + std::to_string(i) + "@example.net", i);
  worker_->kick();
  ASSERT_EQ(sessions_.size(), 3u);  // six envelopes, two each to pipeline
  for (ScriptedSession* s : sessions_) s->ready();
  EXPECT_EQ(sessions_[0]->submitted.size(), 6u);  // the first ready one takes the backlog
  // Its server has not answered for 5 s (a RCPT never answered): two more recipients come.
  sessions_[0]->waiting = loop_->now() - 5000;
  add("late1@example.net", 7);
  add("late2@example.net", 8);
  worker_->kick();
  EXPECT_EQ(sessions_[0]->submitted.size(), 6u) << "nothing more behind a stalled connection";
  EXPECT_EQ(sessions_[1]->submitted.size() + sessions_[2]->submitted.size(), 2u);
  // All three stalled: the work waits for no timeout, a fourth connection opens for it.
  for (ScriptedSession* s : sessions_) s->waiting = loop_->now() - 5000;
  add("late3@example.net", 9);
  worker_->kick();
  ASSERT_EQ(sessions_.size(), 4u);
  sessions_[3]->ready();
  EXPECT_EQ(sessions_[3]->submitted.size(), 1u);
  // A reply within kStalledAfter is a connection that moves: it takes work again.
  sessions_[0]->waiting = loop_->now() - 100;
  add("late4@example.net", 10);
  worker_->kick();
  EXPECT_EQ(sessions_[0]->submitted.size() + sessions_[3]->submitted.size(), 8u);
}

TEST_F(RouteWorkerTest, RelayDeniedPausesTheRouteAndKeepsEveryRecipient) {
  make_worker(1, 100);
  add("ann@example.net", 1);
  add("bob@example.net", 2);
  worker_->kick();
  ASSERT_EQ(sessions_.size(), 1u);
  sessions_[0]->ready();
  ASSERT_EQ(sessions_[0]->submitted.size(), 2u);
  sessions_[0]->answer(0, reply(554, "5.7.1", "<ann@example.net>: Relay access denied"),
                       reply(250, "2.0.0", "ok"), false);
  EXPECT_TRUE(worker_->paused());
  EXPECT_NE(worker_->diagnosis().find("relay"), std::string::npos) << worker_->diagnosis();
  EXPECT_EQ(sink_.outcome["ann@example.net"], "released") << "kept for after the fix";
  EXPECT_TRUE(sessions_[0]->quit_sent) << "the route's connections are retired";
  EXPECT_EQ(worker_->backlog(), 0u);
}

// Wordings that protocol/diagnosis.h does not list but the classifier's table calls relay or
// authentication refusals: the route pauses on them too (one table decides both).
TEST_F(RouteWorkerTest, EveryRefusalTheClassifierCallsConfigurationPausesTheRoute) {
  for (const char* text :
       {"we do not relay for this domain",
        "sorry, that domain isn't in my list "
        "of allowed rcpthosts",
        "Relaying prohibited", "SendAsDenied; not allowed to send as this sender"}) {
    SCOPED_TRACE(text);
    sessions_.clear();
    sink_.outcome.clear();
    make_worker(1, 100);
    add("ann@example.net", 1);
    worker_->kick();
    ASSERT_EQ(sessions_.size(), 1u);
    sessions_[0]->ready();
    sessions_[0]->answer(0, reply(550, "5.7.1", text), reply(250, "2.0.0", "ok"), false);
    EXPECT_TRUE(worker_->paused());
    EXPECT_EQ(sink_.outcome["ann@example.net"], "released");
  }
}

TEST_F(RouteWorkerTest, AnMxRefusingUnauthenticatedMailHoldsTheDomainWithoutBouncing) {
  config_.direct = DirectDelivery{};
  config_.facts.direct = true;
  make_worker(1, 100);
  add("ann@example.net", 1);
  add("bob@example.net", 2);
  worker_->kick();
  ASSERT_EQ(sessions_.size(), 1u);
  sessions_[0]->ready();
  ASSERT_EQ(sessions_[0]->submitted.size(), 2u);
  // An ordinary refusal of one recipient fails it; the DMARC refusal holds the domain.
  sessions_[0]->answer(0, reply(550, "5.1.1", "user unknown"), reply(250, "2.0.0", "ok"), false);
  EXPECT_EQ(sink_.outcome["ann@example.net"], "failed 550 5.1.1 user unknown");
  sessions_[0]->answer(1, reply(250, "2.1.5", "ok"),
                       reply(550, "5.7.26",
                             "This mail is unauthenticated, which poses a security "
                             "risk to the sender and Gmail users"),
                       false);
  const std::string& bob = sink_.outcome["bob@example.net"];
  EXPECT_TRUE(
      bob.starts_with("deferred 451 4.7.0 The receiving server refuses the mail as not "
                      "authenticated"))
      << bob;
  EXPECT_NE(bob.find("No DKIM key is configured"), std::string::npos) << bob;
  EXPECT_FALSE(worker_->paused()) << "direct delivery goes on for the other domains";
  // Held: the domain's next recipient is deferred with the same words, not tried.
  const std::size_t submitted = sessions_[0]->submitted.size();
  add("carl@example.net", 3);
  EXPECT_EQ(sink_.outcome["carl@example.net"], bob);
  EXPECT_EQ(sessions_[0]->submitted.size(), submitted);
}

TEST_F(RouteWorkerTest, ASmartHostRefusingUnauthenticatedMailPausesTheRoute) {
  make_worker(1, 100);
  add("ann@example.net", 1);
  worker_->kick();
  sessions_[0]->ready();
  sessions_[0]->answer(0, reply(250, "2.1.5", "ok"),
                       reply(550, "5.7.515",
                             "Access denied, sending domain example.org doesn't "
                             "meet the required authentication level"),
                       false);
  EXPECT_TRUE(worker_->paused());
  EXPECT_EQ(sink_.outcome["ann@example.net"], "released");
  EXPECT_NE(worker_->diagnosis().find("DMARC"), std::string::npos) << worker_->diagnosis();
}

TEST_F(RouteWorkerTest, AConnectionCarriesAtMostItsMessagesThenQuits) {
  make_worker(1, 2);
  for (uint64_t i = 1; i <= 3; ++i) add("r" + std::to_string(i) + "@example.net", i);
  worker_->kick();
  ASSERT_EQ(sessions_.size(), 1u);
  sessions_[0]->ready();
  EXPECT_EQ(sessions_[0]->submitted.size(), 2u);
  EXPECT_TRUE(sessions_[0]->quit_sent);
  EXPECT_EQ(worker_->backlog(), 1u) << "the third waits for the next connection";
}

TEST_F(RouteWorkerTest, ALostConnectionTriesTheRecipientOnceMoreThenDefers) {
  make_worker(1, 100);
  add("ann@example.net", 1);
  const Reply lost = Reply::make_local(451, "4.4.2", "connection lost");
  for (std::size_t i = 0; i < 2; ++i) {
    worker_->kick();
    ASSERT_EQ(sessions_.size(), i + 1);
    sessions_[i]->ready();
    ASSERT_EQ(sessions_[i]->submitted.size(), 1u);
    sessions_[i]->aborted = true;  // the connection is gone: its transaction ends unanswered
    sessions_[i]->answer(0, lost, lost, false);
    sessions_[i]->closed();
    worker_->collect_garbage();
    if (i == 0) {
      EXPECT_EQ(sink_.outcome.count("ann@example.net"), 0u) << "back in the backlog";
      EXPECT_EQ(worker_->backlog(), 1u);
    }
  }
  EXPECT_EQ(sink_.outcome["ann@example.net"], "deferred 451 4.4.2 connection lost");
}

TEST_F(RouteWorkerTest, A452ToALaterMessageRetiresTheConnectionAndSendsAgainAtOnce) {
  make_worker(1, 100);
  add("ann@example.net", 1);
  add("bob@example.net", 2);
  add("carl@example.net", 3);
  worker_->kick();
  sessions_[0]->ready();
  ASSERT_EQ(sessions_[0]->submitted.size(), 3u);
  const Reply ok = reply(250, "2.0.0", "queued");
  sessions_[0]->answer(0, reply(250, "2.1.5", "ok"), ok, true);
  sessions_[0]->answer(1, reply(452, "4.5.3", "too many messages in this session"), ok, false);
  EXPECT_TRUE(sessions_[0]->quit_sent)
      << "the server's per-connection limit: that connection is done";
  EXPECT_EQ(sink_.outcome.count("bob@example.net"), 0u) << "not deferred: sent again at once";
  // A full mailbox is about the recipient, whatever the connection.
  sessions_[0]->answer(2, reply(452, "4.2.2", "mailbox full"), ok, false);
  EXPECT_EQ(sink_.outcome["carl@example.net"], "deferred 452 4.2.2 mailbox full");
  sessions_[0]->closed();
  worker_->collect_garbage();
  worker_->kick();
  ASSERT_EQ(sessions_.size(), 2u);
  sessions_[1]->ready();
  ASSERT_EQ(sessions_[1]->submitted.size(), 1u);
  EXPECT_EQ(sessions_[1]->submitted[0].recipients, std::vector<std::string>{"bob@example.net"});
  sessions_[1]->answer(0, reply(250, "2.1.5", "ok"), ok, true);
  EXPECT_EQ(sink_.outcome["bob@example.net"], "delivered");
}

TEST_F(RouteWorkerTest, A452ToAConnectionsFirstMessageIsADeferral) {
  make_worker(1, 100);
  add("ann@example.net", 1);
  worker_->kick();
  sessions_[0]->ready();
  sessions_[0]->answer(0, reply(452, "4.3.1", "insufficient system storage"),
                       reply(250, "2.0.0", "ok"), false);
  EXPECT_EQ(sink_.outcome["ann@example.net"], "deferred 452 4.3.1 insufficient system storage");
  EXPECT_FALSE(sessions_[0]->quit_sent);
}

TEST_F(RouteWorkerTest, RepeatedSessionFailuresDeferTheBacklogWithAPlainDiagnosis) {
  config_.connect_failures_before_defer = 2;
  make_worker(1, 100);
  add("ann@example.net", 1);
  worker_->kick();
  ASSERT_EQ(sessions_.size(), 1u);
  sessions_[0]->fail(protocol::Stage::kConnect,
                     Reply::make_local(421, "4.4.1", "connection refused"));
  EXPECT_EQ(sink_.outcome.count("ann@example.net"), 0u) << "one failure: still waiting";
  worker_->collect_garbage();
  worker_->kick();
  ASSERT_EQ(sessions_.size(), 2u) << "a new connection";
  sessions_[1]->fail(protocol::Stage::kConnect,
                     Reply::make_local(421, "4.4.1", "connection refused"));
  EXPECT_TRUE(sink_.outcome["ann@example.net"].starts_with("deferred 451 4.4.1 The smart host"))
      << sink_.outcome["ann@example.net"];
  EXPECT_NE(worker_->diagnosis().find("2 times in a row"), std::string::npos)
      << worker_->diagnosis();
  EXPECT_FALSE(worker_->paused()) << "a smart host that is down is not a configuration problem";
}

}  // namespace
}  // namespace ringmta::engine
