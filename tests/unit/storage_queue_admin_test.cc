// Unit tests for the queue's operator methods (`ringmta queue`): scan, scan_all with filters,
// counts_by_domain, campaign_messages/campaign_counts/campaign_size, flush (all or one domain) and
// drop_campaign, plus queue_in_use / queue_exists. Each test uses its own temporary directory.
// It may not: depend on timing or on other tests' state.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "storage/queue.h"
#include "storage_test_queue.h"

namespace ringmta::storage {
namespace {

constexpr UnixSeconds kNow = 1'700'000'000;

using test_support::must_open;
using test_support::TempDir;

MessageId put_message(Queue& q, const std::string& campaign) {
  StoredMessage m;
  m.envelope_sender = "bounce@sender.example";
  m.raw = "Subject: hi\r\n\r\nHello\r\n";
  m.campaign = campaign;
  m.created = kNow;
  auto id = q.put_message(m);
  EXPECT_TRUE(id.ok());
  return id.ok() ? *id : 0;
}

void enqueue(Queue& q, MessageId m, const std::string& domain, int n, UnixSeconds now = kNow,
             const std::string& prefix = "u") {
  std::vector<NewRecipient> rs;
  for (int i = 0; i < n; ++i) {
    rs.push_back(NewRecipient{prefix + std::to_string(i) + "@" + domain, domain, {}});
  }
  auto r = q.enqueue(m, rs, now);
  ASSERT_TRUE(r.ok()) << r.error().message;
}

std::vector<QueueEntry> all_entries(const Queue& q) {
  std::vector<QueueEntry> out;
  auto r = q.scan_all({}, [&](const QueueEntry& e) {
    out.push_back(e);
    return true;
  });
  EXPECT_TRUE(r.ok()) << r.error().message;
  return out;
}

// Defers every entry of `domain` to `due` with a last reply, as the engine's outcomes do.
void defer(Queue& q, const std::string& domain, uint32_t due, const std::string& reply) {
  OutcomeBatch b;
  for (const auto& e : all_entries(q)) {
    if (e.domain != domain) continue;
    RecipientRecord r = e.record;
    r.attempts += 1;
    r.last_reply = reply;
    b.reschedule(e.key, due, r);
  }
  ASSERT_TRUE(q.apply(std::move(b)).ok());
}

TEST(QueueAdminTest, ScanPagesThroughAPartitionWhateverTheDueTime) {
  TempDir dir;
  auto q = must_open(dir.path());
  const MessageId m = put_message(*q, "c1");
  enqueue(*q, m, "a.example", 5);
  defer(*q, "a.example", kNow + 600, "451 4.7.1 try later");
  enqueue(*q, m, "a.example", 3, kNow, "v");
  const uint8_t p = partition_of("a.example");
  std::vector<QueueEntry> got;
  std::optional<QueueKey> after;
  while (true) {
    auto page = q->scan(p, 3, after);
    ASSERT_TRUE(page.ok()) << page.error().message;
    if (page->empty()) break;
    after = page->back().key;
    for (auto& e : *page) got.push_back(std::move(e));
  }
  ASSERT_EQ(got.size(), 8u);
  for (const auto& e : got) EXPECT_EQ(e.domain, "a.example");
  // Key order: the 3 due now come before the 5 deferred.
  EXPECT_EQ(got[0].key.due, kNow);
  EXPECT_EQ(got[7].key.due, kNow + 600);
  EXPECT_EQ(got[7].record.last_reply, "451 4.7.1 try later");
  EXPECT_FALSE(q->scan(kPartitions, 1, std::nullopt).ok());
  QueueKey other{static_cast<uint8_t>((p + 1) % kPartitions), 0, 0, 0};
  EXPECT_FALSE(q->scan(p, 1, other).ok());
}

TEST(QueueAdminTest, ScanAllFiltersDeferredAndDomainAndStops) {
  TempDir dir;
  auto q = must_open(dir.path());
  const MessageId m = put_message(*q, "c1");
  enqueue(*q, m, "a.example", 4);
  enqueue(*q, m, "b.example", 6);
  enqueue(*q, m, "c.example", 2);
  defer(*q, "b.example", kNow + 300, "421 4.7.0 slow down");
  EXPECT_EQ(all_entries(*q).size(), 12u);

  std::multiset<std::string> deferred;
  ASSERT_TRUE(q->scan_all(ScanFilter{kNow, ""}, [&](const QueueEntry& e) {
                 deferred.insert(e.domain);
                 return true;
               }).ok());
  EXPECT_EQ(deferred.size(), 6u);
  EXPECT_EQ(deferred.count("b.example"), 6u);

  int only_a = 0;
  ASSERT_TRUE(q->scan_all(ScanFilter{std::nullopt, "A.Example"}, [&](const QueueEntry& e) {
                 EXPECT_EQ(e.domain, "a.example");
                 ++only_a;
                 return true;
               }).ok());
  EXPECT_EQ(only_a, 4);

  int seen = 0;
  ASSERT_TRUE(q->scan_all({}, [&](const QueueEntry&) { return ++seen < 5; }).ok());
  EXPECT_EQ(seen, 5);

  int unknown = 0;
  ASSERT_TRUE(q->scan_all(ScanFilter{std::nullopt, "nowhere.example"}, [&](const QueueEntry&) {
                 return ++unknown > 0;
               }).ok());
  EXPECT_EQ(unknown, 0);
}

TEST(QueueAdminTest, CountsByDomainLargestFirst) {
  TempDir dir;
  auto q = must_open(dir.path());
  const MessageId m = put_message(*q, "c1");
  enqueue(*q, m, "small.example", 1);
  enqueue(*q, m, "big.example", 7);
  enqueue(*q, m, "mid.example", 3);
  enqueue(*q, m, "tie.example", 3);
  defer(*q, "big.example", kNow + 60, "451 later");
  auto counts = q->counts_by_domain(kNow);
  ASSERT_TRUE(counts.ok()) << counts.error().message;
  ASSERT_EQ(counts->size(), 4u);
  EXPECT_EQ((*counts)[0].domain, "big.example");
  EXPECT_EQ((*counts)[0].ready, 0u);
  EXPECT_EQ((*counts)[0].deferred, 7u);
  EXPECT_EQ((*counts)[1].domain, "mid.example");
  EXPECT_EQ((*counts)[2].domain, "tie.example");
  EXPECT_EQ((*counts)[3].domain, "small.example");
  // Later, the deferred ones are ready; totals agree with counts().
  auto later = q->counts_by_domain(kNow + 60);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ((*later)[0].ready, 7u);
  uint64_t sum = 0;
  for (const auto& c : *counts) sum += c.total();
  EXPECT_EQ(sum, q->counts(kNow)->total());
}

TEST(QueueAdminTest, CampaignCountsAndSize) {
  TempDir dir;
  auto q = must_open(dir.path());
  const MessageId a1 = put_message(*q, "spring");
  const MessageId b = put_message(*q, "autumn");
  const MessageId a2 = put_message(*q, "spring");
  enqueue(*q, a1, "x.example", 3);
  enqueue(*q, b, "y.example", 4);
  enqueue(*q, a2, "z.example", 2);
  defer(*q, "z.example", kNow + 100, "451 later");
  auto ids = q->campaign_messages("spring");
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<MessageId>{a1, a2}));
  auto c = q->campaign_counts("spring", kNow);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->ready, 3u);
  EXPECT_EQ(c->deferred, 2u);
  EXPECT_EQ(q->campaign_counts("none", kNow)->total(), 0u);

  auto size = q->campaign_size("spring");
  ASSERT_TRUE(size.ok());
  EXPECT_FALSE(size->has_value());
  ASSERT_TRUE(q->add_campaign_size("spring", 3).ok());
  ASSERT_TRUE(q->add_campaign_size("spring", 2).ok());
  EXPECT_EQ(q->campaign_size("spring")->value_or(0), 5u);
  EXPECT_FALSE(q->campaign_size("autumn")->has_value());
}

TEST(QueueAdminTest, FlushMakesDeferredDueNowKeepingRecordsAndSeqs) {
  TempDir dir;
  auto q = must_open(dir.path());
  const MessageId m = put_message(*q, "c1");
  enqueue(*q, m, "a.example", 5);
  enqueue(*q, m, "b.example", 4);
  defer(*q, "a.example", kNow + 3600, "421 4.7.0 try later");
  defer(*q, "b.example", kNow + 3600, "451 4.3.0 later");
  std::map<uint64_t, std::string> seqs_before;
  for (const auto& e : all_entries(*q)) seqs_before[e.key.seq] = e.record.address;

  const UnixSeconds flush_at = kNow + 10;
  // One domain only.
  auto moved = q->flush(flush_at, "B.example");
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  EXPECT_EQ(*moved, 4u);
  auto counts = q->counts(flush_at).value();
  EXPECT_EQ(counts.ready, 4u);
  EXPECT_EQ(counts.deferred, 5u);
  // Everything else.
  moved = q->flush(flush_at);
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(*moved, 5u);
  EXPECT_EQ(q->counts(flush_at)->ready, 9u);
  // Nothing left to flush; an unknown domain flushes nothing.
  EXPECT_EQ(q->flush(flush_at).value(), 0u);
  EXPECT_EQ(q->flush(flush_at, "nowhere.example").value(), 0u);

  std::map<uint64_t, std::string> seqs_after;
  for (const auto& e : all_entries(*q)) {
    seqs_after[e.key.seq] = e.record.address;
    EXPECT_EQ(e.key.due, flush_at);
    EXPECT_EQ(e.record.attempts, 1u);
    EXPECT_FALSE(e.record.last_reply.empty());
  }
  EXPECT_EQ(seqs_after, seqs_before);
  // The flushed entries are fetched as ready, and a later reschedule of them still works
  // (SingleDelete on the key Put by the flush).
  std::vector<QueueEntry> ready;
  for (int p = 0; p < kPartitions; ++p) {
    auto part = q->fetch_ready(static_cast<uint8_t>(p), flush_at, 100, std::nullopt);
    ASSERT_TRUE(part.ok());
    ready.insert(ready.end(), part->begin(), part->end());
  }
  ASSERT_EQ(ready.size(), 9u);
  OutcomeBatch b;
  for (const auto& e : ready) b.remove(e.key);
  ASSERT_TRUE(q->apply(std::move(b)).ok());
  EXPECT_EQ(q->counts(flush_at)->total(), 0u);
}

TEST(QueueAdminTest, FlushSurvivesReopenAndWorksInChunks) {
  TempDir dir;
  const int n = static_cast<int>(Queue::kAdminChunk) * 2 + 17;
  {
    auto q = must_open(dir.path());
    const MessageId m = put_message(*q, "c1");
    enqueue(*q, m, "many.example", n);
    defer(*q, "many.example", kNow + 999, "451 later");
    auto moved = q->flush(kNow + 1);
    ASSERT_TRUE(moved.ok());
    EXPECT_EQ(*moved, static_cast<uint64_t>(n));
  }
  auto q = must_open(dir.path());
  auto c = q->counts(kNow + 1).value();
  EXPECT_EQ(c.ready, static_cast<uint64_t>(n));
  EXPECT_EQ(c.deferred, 0u);
}

TEST(QueueAdminTest, DropCampaignRemovesOnlyItsRecipientsAndMessages) {
  TempDir dir;
  auto q = must_open(dir.path());
  const MessageId keep = put_message(*q, "keep");
  const MessageId drop1 = put_message(*q, "drop");
  const MessageId drop2 = put_message(*q, "drop");
  enqueue(*q, keep, "a.example", 5);
  enqueue(*q, drop1, "a.example", 3, kNow, "d");
  enqueue(*q, drop2, "b.example", 4, kNow, "e");
  defer(*q, "b.example", kNow + 100, "451 later");
  ASSERT_TRUE(q->add_campaign_size("drop", 7).ok());

  auto dropped = q->drop_campaign("drop");
  ASSERT_TRUE(dropped.ok()) << dropped.error().message;
  EXPECT_EQ(*dropped, 7u);
  auto left = all_entries(*q);
  ASSERT_EQ(left.size(), 5u);
  for (const auto& e : left) EXPECT_EQ(e.record.message, keep);
  EXPECT_FALSE(q->get_message(drop1).ok());
  EXPECT_FALSE(q->get_message(drop2).ok());
  EXPECT_TRUE(q->get_message(keep).ok());
  EXPECT_FALSE(q->campaign_size("drop")->has_value());
  EXPECT_TRUE(q->campaign_messages("drop")->empty());
  // Dropping again, or an unknown campaign, drops nothing.
  EXPECT_EQ(q->drop_campaign("drop").value(), 0u);
  EXPECT_EQ(q->drop_campaign("never").value(), 0u);
}

TEST(QueueAdminTest, DropCampaignInChunks) {
  TempDir dir;
  auto q = must_open(dir.path());
  const MessageId m = put_message(*q, "big");
  const int n = static_cast<int>(Queue::kAdminChunk) + 5;
  enqueue(*q, m, "x.example", n);
  auto dropped = q->drop_campaign("big");
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(*dropped, static_cast<uint64_t>(n));
  EXPECT_EQ(q->counts(kNow)->total(), 0u);
}

TEST(QueueAdminTest, InUseAndExists) {
  TempDir dir;
  const std::string path = dir.path() + "/q";
  EXPECT_FALSE(queue_exists(path));
  auto q = must_open(path);
  EXPECT_TRUE(queue_exists(path));
  auto again = Queue::open(path);
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(queue_in_use(again.error()));
  EXPECT_FALSE(queue_in_use(make_error("cannot open the queue database: I/O error")));
  // The error's kind decides, not its words.
  EXPECT_FALSE(queue_in_use(make_error(again.error().message)));
}

}  // namespace
}  // namespace ringmta::storage
