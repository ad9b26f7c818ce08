// End to end inside one process: ingest → queue → shards → SMTP → the built-in sink, on loopback.
// Checks exactly-once delivery over reused connections, a refused smart host deferring everything
// (nothing lost), and an interrupt leaving the undelivered recipients queued.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "engine/delivery.h"
#include "ingest/ingest.h"
#include "loadgen/sink_server.h"
#include "storage/records.h"

namespace ringmta::engine {
namespace {

namespace fs = std::filesystem;
using loadgen::SinkOptions;
using loadgen::SinkServer;

class DeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ringmta-delivery-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto q = storage::Queue::open((dir_ / "queue").string());
    ASSERT_TRUE(q.ok()) << q.error().message;
    queue_ = std::move(q.value());
  }
  void TearDown() override {
    queue_.reset();
    fs::remove_all(dir_);
  }

  void enqueue(int n) {
    std::string csv = (dir_ / "list.csv").string();
    std::ofstream out(csv);
    out << "email,name\n";
    for (int i = 0; i < n; ++i) out << "r" << i << "@d" << (i % 7) << ".test,Name" << i << "\n";
    out.close();
    ingest::IngestOptions io;
    io.recipients_path = csv;
    io.envelope_sender = "bounces@sender.test";
    io.raw_message = "From: a@sender.test\nSubject: hi {{name}}\n\nHello {{name}}\n.dot\n";
    io.campaign = "t";
    auto done = ingest::ingest(*queue_, io);
    ASSERT_TRUE(done.ok()) << done.error().message;
    ASSERT_EQ(done->accepted, static_cast<uint64_t>(n));
  }

  RouteConfig route_to(const std::string& spec) {
    RouteConfig route;
    auto ep = resolve_endpoint(spec, 25);
    EXPECT_TRUE(ep.ok());
    route.target.endpoint = ep.value();
    route.client.tls = protocol::TlsMode::kNone;
    route.client.ehlo_name = "client.test";
    scheduler::Limits limits;
    limits.max_connections = 4;
    limits.max_messages_per_connection = 50;  // forces reconnects during the run
    route.throttle = scheduler::ThrottleRules(limits);
    route.message_id_domain = "client.test";
    route.target.connect_timeout = 2000;
    return route;
  }

  fs::path dir_;
  std::unique_ptr<storage::Queue> queue_;
};

TEST_F(DeliveryTest, EveryRecipientExactlyOnceOverReusedConnections) {
  enqueue(3000);
  SinkOptions so;
  so.listen = "127.0.0.1:0";
  so.record_path = (dir_ / "record.txt").string();
  SinkServer sink(so);
  ASSERT_TRUE(sink.start().ok());
  RouteConfig route = route_to("127.0.0.1:" + std::to_string(sink.port()));
  DeliveryOptions options;
  options.shards = 2;
  DeliverySummary summary = deliver(*queue_, route, options);
  sink.stop();
  EXPECT_EQ(summary.error, "");
  EXPECT_EQ(summary.totals.delivered, 3000u);
  EXPECT_EQ(summary.totals.failed, 0u);
  EXPECT_EQ(summary.queued, 0u);
  EXPECT_EQ(sink.stats().messages, 3000u);
  EXPECT_GE(summary.totals.connections_opened, 3000u / 50);  // the per-connection limit held
  std::ifstream record(so.record_path);
  std::set<std::string> seen;
  std::string line;
  int lines = 0;
  while (std::getline(record, line)) {
    ++lines;
    seen.insert(line);
  }
  EXPECT_EQ(lines, 3000);
  EXPECT_EQ(seen.size(), 3000u);  // no duplicates
}

TEST_F(DeliveryTest, SmartHostThrottleCapsConnectionsAndMessageRate) {
  // 2 connections and 100 messages/second (burst 1) for the smart host, over 2 shards: the sink
  // never sees a third connection, and 150 messages cannot take less than ~1.5 s.
  enqueue(150);
  SinkOptions so;
  so.listen = "127.0.0.1:0";
  SinkServer sink(so);
  ASSERT_TRUE(sink.start().ok());
  RouteConfig route = route_to("127.0.0.1:" + std::to_string(sink.port()));
  auto rules = scheduler::ThrottleRules::parse(
      "[default]\nmax_connections = 2\nmessages_per_second = 100\nmessage_burst = 1\n", "t.toml");
  ASSERT_TRUE(rules.ok()) << rules.error().message;
  route.throttle = std::move(rules.value());
  DeliveryOptions options;
  options.shards = 2;
  Millis started = monotonic_now();
  DeliverySummary summary = deliver(*queue_, route, options);
  Millis took = monotonic_now() - started;
  sink.stop();
  EXPECT_EQ(summary.error, "");
  EXPECT_EQ(summary.totals.delivered, 150u);
  EXPECT_LE(sink.stats().peak_connections, 2u);
  EXPECT_GE(took, 1400);  // 149 tokens at 100/s (one each shard at start)
}

// Wall-clock time running `speedup` times faster than real time from its creation.
class RunningAheadClock final : public QueueClock {
 public:
  explicit RunningAheadClock(int64_t speedup) : speedup_(speedup), start_ms_(unix_now_millis()) {}
  UnixSeconds now() const override {
    return (start_ms_ + (unix_now_millis() - start_ms_) * speedup_) / 1000;
  }

 private:
  int64_t speedup_;
  int64_t start_ms_;
};

TEST_F(DeliveryTest, TwoDaysOfRetriesInSecondsEndInExpiry) {
  // Every RCPT is answered 451: with the default schedule (5 min, doubling, at most 4 h apart)
  // each recipient is retried for 48 h and then fails as expired. The queue's clock runs 20,000
  // times faster, so the two days take about 9 s.
  enqueue(20);
  SinkOptions so;
  so.listen = "127.0.0.1:0";
  so.scripts = {"*:rcpt-4xx=100"};
  SinkServer sink(so);
  ASSERT_TRUE(sink.start().ok());
  RouteConfig route = route_to("127.0.0.1:" + std::to_string(sink.port()));
  RunningAheadClock clock(20'000);
  DeliveryOptions options;
  options.shards = 1;
  options.until_done = true;
  options.clock = &clock;
  Millis started = monotonic_now();
  DeliverySummary summary = deliver(*queue_, route, options);
  Millis took = monotonic_now() - started;
  sink.stop();
  EXPECT_EQ(summary.error, "");
  EXPECT_EQ(summary.totals.delivered, 0u);
  EXPECT_EQ(summary.totals.failed_expired, 20u);
  EXPECT_EQ(summary.queued, 0u);
  EXPECT_LT(took, 30'000);
  // Retried many times over the two simulated days, never more often than the schedule allows.
  EXPECT_GE(sink.stats().refused_temporary, 20u * 6);
  EXPECT_LE(sink.stats().refused_temporary, 20u * 20);
}

// Expired after soft failures: recorded for the report, final, and never suppressed (the address
// may be fine; the server was not answering).
TEST_F(DeliveryTest, ExpiryIsRecordedButNotSuppressed) {
  enqueue(7);
  SinkOptions so;
  so.listen = "127.0.0.1:0";
  so.scripts = {"*:rcpt-4xx=100"};
  SinkServer sink(so);
  ASSERT_TRUE(sink.start().ok());
  RouteConfig route = route_to("127.0.0.1:" + std::to_string(sink.port()));
  route.retry.max_age = 0;  // the first 451 already finds the recipient too old
  DeliveryOptions options;
  options.shards = 1;
  options.bounces.mode = BounceMode::kNone;
  DeliverySummary summary = deliver(*queue_, route, options);
  sink.stop();
  EXPECT_EQ(summary.totals.failed_expired, 7u);
  int records = 0;
  ASSERT_TRUE(storage::visit_failures(*queue_, "t", [&](const storage::FailureRecord& r) {
                EXPECT_EQ(r.category, "expired") << r.reply;
                return ++records, true;
              }).ok());
  EXPECT_EQ(records, 7);
  EXPECT_EQ(summary.totals.suppressions_added, 0u);
}

// Every recipient of d1.test is refused 550: their failures reach the envelope Sender
// (bounces@sender.test) as DSNs through the same engine and sink, and deliver() returns only once
// the DSNs are delivered.
TEST_F(DeliveryTest, FailuresBecomeDigestDsnsToTheEnvelopeSender) {
  enqueue(70);  // 10 recipients in each of d0.test ... d6.test
  SinkOptions so;
  so.listen = "127.0.0.1:0";
  so.record_path = (dir_ / "record.txt").string();
  so.scripts = {"d1.test:rcpt-5xx=100"};
  SinkServer sink(so);
  ASSERT_TRUE(sink.start().ok());
  RouteConfig route = route_to("127.0.0.1:" + std::to_string(sink.port()));
  DeliveryOptions options;
  options.shards = 2;
  options.bounces.max_per_dsn = 4;
  options.bounces.reporting_mta = "client.test";
  DeliverySummary summary = deliver(*queue_, route, options);
  sink.stop();
  EXPECT_EQ(summary.error, "");
  EXPECT_EQ(summary.totals.failed, 10u);
  EXPECT_EQ(summary.totals.dsns_queued, 3u);  // 4 + 4 + 2 (one shard owns d1.test)
  EXPECT_EQ(summary.totals.delivered, 63u);
  EXPECT_EQ(summary.queued, 0u);
  std::ifstream record(so.record_path);
  int to_sender = 0;
  for (std::string line; std::getline(record, line);) to_sender += line == "bounces@sender.test";
  EXPECT_EQ(to_sender, 3);
}

TEST_F(DeliveryTest, PerRecipientDsnsAndNeverABounceOfABounce) {
  enqueue(70);
  SinkOptions so;
  so.listen = "127.0.0.1:0";
  so.scripts = {"d1.test:rcpt-5xx=100", "sender.test:rcpt-5xx=100"};  // the DSNs fail too
  SinkServer sink(so);
  ASSERT_TRUE(sink.start().ok());
  RouteConfig route = route_to("127.0.0.1:" + std::to_string(sink.port()));
  DeliveryOptions options;
  options.shards = 1;
  options.bounces.mode = BounceMode::kPerRecipient;
  options.bounces.reporting_mta = "client.test";
  DeliverySummary summary = deliver(*queue_, route, options);
  sink.stop();
  EXPECT_EQ(summary.error, "");
  EXPECT_EQ(summary.totals.dsns_queued, 10u);   // one per failed recipient ...
  EXPECT_EQ(summary.totals.failed, 10u + 10u);  // ... each refused in turn, and not bounced
  EXPECT_EQ(summary.totals.delivered, 60u);
  EXPECT_EQ(summary.queued, 0u);
}

// Hard bounces join the suppression list and leave failure records, written with the removal;
// the DSNs that fail in turn (their recipient is our own sender) leave neither.
TEST_F(DeliveryTest, HardBouncesAreSuppressedAndRecordedDsnFailuresAreNot) {
  enqueue(70);
  SinkOptions so;
  so.listen = "127.0.0.1:0";
  so.scripts = {"d1.test:rcpt-5xx=100", "sender.test:rcpt-5xx=100"};
  SinkServer sink(so);
  ASSERT_TRUE(sink.start().ok());
  RouteConfig route = route_to("127.0.0.1:" + std::to_string(sink.port()));
  DeliveryOptions options;
  options.shards = 2;
  options.bounces.reporting_mta = "client.test";
  DeliverySummary summary = deliver(*queue_, route, options);
  sink.stop();
  EXPECT_EQ(summary.totals.suppressions_added, 10u);
  std::vector<std::string> probe;
  for (int i = 1; i < 70; i += 7) probe.push_back("r" + std::to_string(i) + "@d1.test");
  probe.push_back("r0@d0.test");
  probe.push_back("bounces@sender.test");
  auto found = storage::SuppressionList(*queue_).contains(probe);
  ASSERT_TRUE(found.ok());
  std::vector<bool> expected(10, true);
  expected.push_back(false);
  expected.push_back(false);
  EXPECT_EQ(*found, expected);
  int records = 0;
  ASSERT_TRUE(storage::visit_failures(*queue_, "t", [&](const storage::FailureRecord& r) {
                EXPECT_EQ(r.category, "invalid_recipient");
                EXPECT_TRUE(r.hard);
                EXPECT_TRUE(r.recipient.ends_with("@d1.test")) << r.recipient;
                return ++records, true;
              }).ok());
  EXPECT_EQ(records, 10);

  // The next send of the same list skips them.
  std::string csv = (dir_ / "again.csv").string();
  std::ofstream out(csv);
  out << "email\n";
  for (const auto& a : probe) out << a << "\n";
  out.close();
  ingest::IngestOptions io;
  io.recipients_path = csv;
  io.envelope_sender = "bounces@sender.test";
  io.raw_message = "Subject: again\n\nHello\n";
  auto again = ingest::ingest(*queue_, io);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->suppressed, 10u);
  EXPECT_EQ(again->accepted, 2u);
}

TEST_F(DeliveryTest, BounceModeNoneSendsNoDsn) {
  enqueue(14);
  SinkOptions so;
  so.listen = "127.0.0.1:0";
  so.scripts = {"d1.test:rcpt-5xx=100"};
  SinkServer sink(so);
  ASSERT_TRUE(sink.start().ok());
  RouteConfig route = route_to("127.0.0.1:" + std::to_string(sink.port()));
  DeliveryOptions options;
  options.shards = 1;
  options.bounces.mode = BounceMode::kNone;
  DeliverySummary summary = deliver(*queue_, route, options);
  sink.stop();
  EXPECT_EQ(summary.totals.failed, 2u);
  EXPECT_EQ(summary.totals.dsns_queued, 0u);
  EXPECT_EQ(summary.totals.delivered, 12u);
}

TEST_F(DeliveryTest, UnreachableSmartHostDefersEverythingAndLosesNothing) {
  enqueue(200);
  // A port nobody listens on: bind one, note it, close it.
  SinkOptions so;
  so.listen = "127.0.0.1:0";
  uint16_t port;
  {
    SinkServer probe(so);
    ASSERT_TRUE(probe.start().ok());
    port = probe.port();
  }
  RouteConfig route = route_to("127.0.0.1:" + std::to_string(port));
  DeliveryOptions options;
  options.shards = 1;
  DeliverySummary summary = deliver(*queue_, route, options);
  EXPECT_EQ(summary.totals.delivered, 0u);
  EXPECT_EQ(summary.totals.failed, 0u);
  EXPECT_EQ(summary.queued, 200u);
  EXPECT_EQ(summary.deferred, 200u);
  EXPECT_NE(summary.diagnosis.find("could not be used"), std::string::npos) << summary.diagnosis;
}

TEST_F(DeliveryTest, InterruptKeepsUndeliveredRecipientsQueued) {
  enqueue(500);
  std::atomic<bool> interrupt{true};  // Ctrl-C before anything could be sent
  SinkOptions so;
  so.listen = "127.0.0.1:0";
  SinkServer sink(so);
  ASSERT_TRUE(sink.start().ok());
  RouteConfig route = route_to("127.0.0.1:" + std::to_string(sink.port()));
  DeliveryOptions options;
  options.shards = 2;
  options.interrupt = &interrupt;
  DeliverySummary summary = deliver(*queue_, route, options);
  sink.stop();
  EXPECT_TRUE(summary.interrupted);
  EXPECT_EQ(summary.totals.delivered + summary.queued, 500u);
  EXPECT_EQ(sink.stats().messages, summary.totals.delivered);
}

}  // namespace
}  // namespace ringmta::engine
