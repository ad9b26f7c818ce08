// Unit tests for OutcomeRecorder (engine/outcome_recorder.h), from a table and without an event
// loop: each row is one outcome of one queued recipient (delivered, deferred, failed, deferred
// past the max age; a newsletter or a DSN; suppression on or off), and the test applies the
// recorder's batch to a real temporary queue and checks what it holds afterwards — the recipient
// removed or rescheduled, the failure record, the suppression entry, the DSN report — and the
// counters. record_failure() on its own (the `bounces ingest` step) is checked the same way.
// It may not: depend on timing or on other tests' state.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "engine/outcome_recorder.h"
#include "storage/records.h"
#include "storage_test_queue.h"

namespace ringmta::engine {
namespace {

using storage::test_support::must_open;
using storage::test_support::TempDir;

constexpr UnixSeconds kNow = 1'700'000'000;

enum class Call { kDelivered, kDeferred, kFailed };

struct Row {
  const char* name;
  Call call;
  std::string reply;        // "" for delivered: 250 OK
  bool local = false;       // ringmta's own refusal (Reply::make_local)
  UnixSeconds age = 0;      // how long ago the recipient was first queued
  bool is_dsn = false;      // the message is a DSN (no report, no failure record)
  bool suppress = true;     // BounceOptions::suppress
  Disposition disposition;  // expected
  bool kept;                // still in the queue, rescheduled
  bool failure_record;
  bool suppressed;
  bool dsn_report;
  const char* failed_counter;  // "permanent", "expired", "local" or nullptr
};

const Row kRows[] = {
    {"delivered", Call::kDelivered, "", false, 0, false, true, Disposition::kDelivered, false,
     false, false, false, nullptr},
    {"greylisted", Call::kDeferred, "450 4.7.1 greylisted, try again later", false, 600, false,
     true, Disposition::kDeferred, true, false, false, false, nullptr},
    {"deferred past max age", Call::kDeferred, "451 4.3.0 try later", false, 49 * 3600, false, true,
     Disposition::kExpired, false, true, false, true, "expired"},
    {"user unknown", Call::kFailed, "550 5.1.1 <ann@example.net>: user unknown", false, 0, false,
     true, Disposition::kFailed, false, true, true, true, "permanent"},
    {"user unknown, no suppression", Call::kFailed, "550 5.1.1 user unknown", false, 0, false,
     false, Disposition::kFailed, false, true, false, true, "permanent"},
    {"policy refusal is not suppressed", Call::kFailed, "554 5.7.1 message refused as spam", false,
     0, false, true, Disposition::kFailed, false, true, false, true, "permanent"},
    {"local refusal", Call::kFailed, "bad merge field", true, 0, false, true, Disposition::kFailed,
     false, true, false, true, "local"},
    {"a DSN that fails", Call::kFailed, "550 5.1.1 user unknown", false, 0, true, true,
     Disposition::kFailed, false, false, false, false, "permanent"},
    {"a DSN that expires", Call::kDeferred, "451 4.3.0 try later", false, 49 * 3600, true, true,
     Disposition::kExpired, false, false, false, false, "expired"},
};

void PrintTo(const Row& row, std::ostream* out) {
  *out << row.name;
}

protocol::Reply reply_of(const Row& row) {
  if (row.call == Call::kDelivered) return protocol::Reply::make_local(250, "2.0.0", "OK");
  if (row.local) return protocol::Reply::make_local(550, "5.6.0", row.reply);
  protocol::ReplyParser parser;
  parser.feed(row.reply + "\r\n");
  auto reply = parser.next();
  EXPECT_TRUE(reply.has_value()) << row.reply;
  return reply.value_or(protocol::Reply{});
}

class OutcomeRecorderTable : public ::testing::TestWithParam<Row> {};

TEST_P(OutcomeRecorderTable, WritesWhatTheOutcomeMeans) {
  const Row& row = GetParam();
  TempDir dir;
  auto queue = must_open(dir.path());
  ASSERT_NE(queue, nullptr);
  const std::string raw =
      "From: News <news@example.org>\r\nTo: {{email}}\r\nSubject: Hi\r\n\r\nHello\r\n";
  storage::StoredMessage stored{.envelope_sender = row.is_dsn ? "" : "bounces@example.org",
                                .raw = raw,
                                .campaign = "spring",
                                .created = kNow,
                                .is_dsn = row.is_dsn};
  auto id = queue->put_message(stored);
  ASSERT_TRUE(id.ok());
  std::vector<storage::NewRecipient> recipients = {
      {.address = "ann@example.net", .domain = "example.net", .values = {}}};
  ASSERT_TRUE(queue->enqueue(*id, recipients, kNow - row.age).ok());
  std::optional<storage::QueueEntry> entry;
  for (uint8_t p = 0; p < storage::kPartitions && !entry; ++p) {
    auto ready = queue->fetch_ready(p, kNow, 10, std::nullopt);
    ASSERT_TRUE(ready.ok());
    if (!ready->empty()) entry = ready->front();
  }
  ASSERT_TRUE(entry.has_value());
  auto tpl = message::MessageTemplate::parse(raw, !row.is_dsn);
  ASSERT_TRUE(tpl.ok());
  const LoadedMessage message{.stored = stored, .tpl = std::move(tpl).value()};

  const scheduler::RetryPolicy retry;  // 300 s first retry, 48 h max age
  const bounce::Classifier classifier;
  const BounceOptions bounce_options{.mode = BounceMode::kPerRecipient, .suppress = row.suppress};
  std::vector<uint8_t> partitions;
  for (int p = 0; p < storage::kPartitions; ++p) partitions.push_back(static_cast<uint8_t>(p));
  BounceReporter bounces(*queue, bounce_options, "", "example.org", partitions, 0);
  metrics::ShardCounters counters;
  OutcomeRecorder recorder({.retry = retry,
                            .classifier = classifier,
                            .suppress = row.suppress,
                            .log_lines = true,
                            .jitter_seed = 7},
                           counters, &bounces);

  const protocol::Reply reply = reply_of(row);
  const Attempt where{.host = "mx.example.net", .address = "192.0.2.1:25", .tls = ""};
  Recorded recorded;
  switch (row.call) {
    case Call::kDelivered:
      recorded = recorder.delivered(*entry, &message, reply, where);
      break;
    case Call::kDeferred:
      recorded = recorder.deferred(*entry, &message, reply, where, kNow);
      break;
    case Call::kFailed:
      recorded = recorder.failed(*entry, &message, reply, where, kNow);
      break;
  }
  EXPECT_EQ(recorded.disposition, row.disposition);
  EXPECT_EQ(recorded.suppressed, row.suppressed);
  ASSERT_TRUE(queue->apply(recorder.take_batch()).ok());
  EXPECT_FALSE(recorder.has_batch());

  // The recipient: gone, or rescheduled with its attempt and reply, between 300 and 360 s ahead.
  std::vector<storage::QueueEntry> left;
  for (uint8_t p = 0; p < storage::kPartitions; ++p) {
    auto later = queue->fetch_ready(p, kNow + 10 * 3600, 10, std::nullopt);
    ASSERT_TRUE(later.ok());
    left.insert(left.end(), later->begin(), later->end());
  }
  if (row.kept) {
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left[0].record.attempts, 1u);
    EXPECT_EQ(left[0].record.last_reply, reply.summary());
    EXPECT_GE(recorded.retry_at, kNow + 300);
    EXPECT_LE(recorded.retry_at, kNow + 360);
    EXPECT_EQ(left[0].key.due, recorded.retry_at);
  } else {
    EXPECT_TRUE(left.empty());
  }

  std::vector<storage::FailureRecord> failures;
  ASSERT_TRUE(storage::visit_failures(*queue, "spring", [&](const storage::FailureRecord& f) {
                failures.push_back(f);
                return true;
              }).ok());
  ASSERT_EQ(failures.size(), row.failure_record ? 1u : 0u);
  if (row.failure_record) {
    EXPECT_EQ(failures[0].recipient, "ann@example.net");
    EXPECT_EQ(failures[0].reply, recorded.reply);
    EXPECT_EQ(failures[0].time, kNow);
  }
  if (row.disposition == Disposition::kExpired) {
    EXPECT_EQ(recorded.verdict.category, bounce::Category::kExpired);
    EXPECT_NE(recorded.reply.find("5.4.7"), std::string::npos) << recorded.reply;
    EXPECT_NE(recorded.reply.find("451 4.3.0 try later"), std::string::npos) << recorded.reply;
  }

  storage::SuppressionList list(*queue);
  std::vector<std::string> probe = {"ann@example.net"};
  auto suppressed = list.contains(probe);
  ASSERT_TRUE(suppressed.ok());
  EXPECT_EQ((*suppressed)[0], row.suppressed);
  EXPECT_EQ(counters.suppressions_added.get(), row.suppressed ? 1u : 0u);

  std::size_t reports = 0;
  for (uint8_t p = 0; p < storage::kPartitions; ++p) {
    auto pending = queue->pending_bounces(p, 10);
    ASSERT_TRUE(pending.ok());
    reports += pending->size();
  }
  EXPECT_EQ(reports, row.dsn_report ? 1u : 0u);

  const std::string failed = row.failed_counter == nullptr ? "" : row.failed_counter;
  EXPECT_EQ(counters.delivered.get(), row.disposition == Disposition::kDelivered ? 1u : 0u);
  EXPECT_EQ(counters.deferred.get(), row.disposition == Disposition::kDeferred ? 1u : 0u);
  EXPECT_EQ(counters.failed.get(), failed.empty() ? 0u : 1u);
  EXPECT_EQ(counters.failed_permanent.get(), failed == "permanent" ? 1u : 0u);
  EXPECT_EQ(counters.failed_expired.get(), failed == "expired" ? 1u : 0u);
  EXPECT_EQ(counters.failed_local.get(), failed == "local" ? 1u : 0u);

  // One delivery-log line, with the outcome the disposition stands for.
  const std::string& lines = recorder.log_lines();
  const char* outcome = row.disposition == Disposition::kDelivered  ? "\"outcome\":\"delivered\""
                        : row.disposition == Disposition::kDeferred ? "\"outcome\":\"deferred\""
                                                                    : "\"outcome\":\"failed\"";
  EXPECT_NE(lines.find(outcome), std::string::npos) << lines;
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 1) << lines;
}

INSTANTIATE_TEST_SUITE_P(Outcomes, OutcomeRecorderTable, ::testing::ValuesIn(kRows),
                         [](const ::testing::TestParamInfo<Row>& info) {
                           std::string name;
                           for (const char* c = info.param.name; *c != '\0'; ++c) {
                             name += std::isalnum(static_cast<unsigned char>(*c)) ? *c : '_';
                           }
                           return name;
                         });

TEST(OutcomeRecorder, RetriesSpreadAndGrowWithTheAttempts) {
  const scheduler::RetryPolicy retry;
  const bounce::Classifier classifier;
  metrics::ShardCounters counters;
  OutcomeRecorder recorder({.retry = retry, .classifier = classifier, .jitter_seed = 42}, counters,
                           nullptr);
  storage::QueueEntry entry;
  entry.record.address = "ann@example.net";
  entry.record.first_enqueued = kNow;
  const protocol::Reply reply = protocol::Reply::make_local(451, "4.3.0", "try later");
  std::vector<UnixSeconds> first_tries;
  for (int i = 0; i < 8; ++i) {
    first_tries.push_back(recorder.deferred(entry, nullptr, reply, {}, kNow).retry_at);
  }
  std::sort(first_tries.begin(), first_tries.end());
  EXPECT_NE(first_tries.front(), first_tries.back()) << "jitter spreads the retries";
  entry.record.attempts = 3;  // the fourth try waits 300 × 2³ = 2400 s, plus up to 20 %
  const UnixSeconds fourth = recorder.deferred(entry, nullptr, reply, {}, kNow).retry_at;
  EXPECT_GE(fourth, kNow + 2400);
  EXPECT_LE(fourth, kNow + 2880);
  EXPECT_TRUE(recorder.log_lines().empty()) << "log_lines off: nothing formatted";
}

TEST(RecordFailure, RecordsAlwaysAndSuppressesWhenAsked) {
  TempDir dir;
  auto queue = must_open(dir.path());
  ASSERT_NE(queue, nullptr);
  storage::OutcomeBatch batch;
  record_failure(batch,
                 {.campaign = "spring",
                  .recipient = "Ann@Example.NET",
                  .category = "invalid_recipient",
                  .reply = "550 5.1.1 user unknown",
                  .time = kNow},
                 true);
  record_failure(batch,
                 {.campaign = "spring",
                  .recipient = "bob@example.net",
                  .category = "mailbox_full",
                  .hard = false,
                  .reply = "452 4.2.2 mailbox full",
                  .time = kNow},
                 false);
  ASSERT_TRUE(queue->apply(std::move(batch)).ok());
  std::vector<std::string> recorded;
  ASSERT_TRUE(storage::visit_failures(*queue, "spring", [&](const storage::FailureRecord& f) {
                recorded.push_back(f.recipient + " " + f.category + (f.hard ? " hard" : " soft"));
                return true;
              }).ok());
  EXPECT_EQ(recorded, (std::vector<std::string>{"Ann@Example.NET invalid_recipient hard",
                                                "bob@example.net mailbox_full soft"}));
  storage::SuppressionList list(*queue);
  std::vector<std::string> probe = {"ann@example.net", "bob@example.net"};
  auto found = list.contains(probe);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(*found, (std::vector<bool>{true, false}));
  std::vector<storage::SuppressionEntry> entries;
  ASSERT_TRUE(list.list([&](const storage::SuppressionEntry& e) {
                    entries.push_back(e);
                    return true;
                  })
                  .ok());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].campaign, "spring");
  EXPECT_EQ(entries[0].reason, "550 5.1.1 user unknown");
  EXPECT_EQ(entries[0].since, kNow);
}

}  // namespace
}  // namespace ringmta::engine
