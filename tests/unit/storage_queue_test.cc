// Unit tests for storage::Queue and its private helpers (key layout, record codec): ordering,
// corrupt input, ready scans, outcomes, durability across reopen, id reuse, and disk full.
// Each test uses its own temporary directory; the disk-full test mounts a tiny tmpfs (root only).
// It may not: depend on timing, on other tests' state, or leave mounts or directories behind.
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <sys/mount.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "storage/codec.h"
#include "storage/keys.h"
#include "storage/queue.h"
#include "storage_test_queue.h"

namespace ringmta::storage {
namespace {

namespace fs = std::filesystem;

using test_support::damage_queue_files;
using test_support::must_open;
using test_support::RawDb;
using test_support::TempDir;

MessageId must_put_message(Queue& q, std::vector<std::string> fields = {"name"}) {
  StoredMessage m;
  m.envelope_sender = "bounce@sender.example";
  m.raw = "Subject: hi {{name}}\r\n\r\nHello {{name}}\r\n";
  m.fields = std::move(fields);
  m.campaign = "spring";
  m.created = 1700000000;
  auto id = q.put_message(m);
  EXPECT_TRUE(id.ok()) << (id.ok() ? "" : id.error().message);
  return id.ok() ? *id : 0;
}

// Distinct domains that all hash to `partition`.
std::vector<std::string> domains_in_partition(uint8_t partition, std::size_t n,
                                              const std::string& tag = "d") {
  std::vector<std::string> out;
  for (int i = 0; out.size() < n; ++i) {
    std::string d = tag + std::to_string(i) + ".example";
    if (partition_of(d) == partition) out.push_back(d);
  }
  return out;
}

std::vector<NewRecipient> recipients_for(const std::string& domain, int n,
                                         const std::string& prefix = "user") {
  std::vector<NewRecipient> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(NewRecipient{
        prefix + std::to_string(i) + "@" + domain, domain, {"Name " + std::to_string(i)}});
  }
  return out;
}

std::vector<QueueEntry> must_fetch(const Queue& q, uint8_t p, UnixSeconds now,
                                   std::size_t max = 1000000,
                                   const std::optional<QueueKey>& after = std::nullopt) {
  auto r = q.fetch_ready(p, now, max, after);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  if (!r.ok()) return {};
  return std::move(r).value();
}

std::vector<QueueEntry> fetch_all(const Queue& q, UnixSeconds now) {
  std::vector<QueueEntry> out;
  for (int p = 0; p < kPartitions; ++p) {
    auto part = must_fetch(q, static_cast<uint8_t>(p), now);
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

std::vector<std::string> addresses(const std::vector<QueueEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.record.address);
  return out;
}

// ----------------------------------------------------------------------------------- keys

TEST(QueueKeyTest, EncodesSeventeenBytesBigEndian) {
  QueueKey k{0x3f, 0x01020304, 0x05060708, 0x090a0b0c0d0e0f10ULL};
  const std::string b = k.encode();
  ASSERT_EQ(b.size(), 17u);
  const std::string expected("\x3f\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10",
                             17);
  EXPECT_EQ(b, expected);
  EXPECT_EQ(QueueKey::decode(b), k);
  EXPECT_FALSE(QueueKey::decode(b.substr(0, 16)).has_value());
  EXPECT_FALSE(QueueKey::decode(b + "x").has_value());
  EXPECT_FALSE(QueueKey::decode("").has_value());
}

TEST(QueueKeyTest, ByteOrderEqualsPartitionDomainDueSeqOrder) {
  std::mt19937_64 rng(42);
  std::vector<QueueKey> keys;
  const uint32_t edges[] = {0, 1, 255, 256, 65535, 65536, 0x7fffffff, 0x80000000, 0xffffffff};
  for (int i = 0; i < 5000; ++i) {
    QueueKey k;
    k.partition = static_cast<uint8_t>(rng() % kPartitions);
    k.domain = (i % 3 == 0) ? edges[rng() % 9] : static_cast<uint32_t>(rng());
    k.due = (i % 5 == 0) ? edges[rng() % 9] : static_cast<uint32_t>(rng());
    k.seq = (i % 7 == 0) ? (rng() % 2 ? ~0ULL : 0) : rng();
    keys.push_back(k);
  }
  auto by_tuple = keys;
  std::sort(by_tuple.begin(), by_tuple.end(), [](const QueueKey& a, const QueueKey& b) {
    return std::tie(a.partition, a.domain, a.due, a.seq) <
           std::tie(b.partition, b.domain, b.due, b.seq);
  });
  auto by_bytes = keys;
  std::sort(by_bytes.begin(), by_bytes.end(),
            [](const QueueKey& a, const QueueKey& b) { return a.encode() < b.encode(); });
  // std::string compares chars as unsigned (char_traits<char>::lt), like RocksDB's bytewise order.
  EXPECT_EQ(by_tuple, by_bytes);
  for (const auto& k : keys) EXPECT_EQ(QueueKey::decode(k.encode()), k);
}

TEST(PartitionTest, StableCaseInsensitiveAndSpread) {
  EXPECT_EQ(partition_of("Example.COM"), partition_of("example.com"));
  EXPECT_LT(partition_of(""), kPartitions);
  std::set<uint8_t> seen;
  for (int i = 0; i < 2000; ++i) {
    const auto p = partition_of("host" + std::to_string(i) + ".example");
    ASSERT_LT(p, kPartitions);
    seen.insert(p);
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kPartitions));
  // Pinned: FNV-1a 64 of "example.com" is 0x... ; the value must never change between builds.
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : std::string("example.com")) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  EXPECT_EQ(partition_of("example.com"), h % kPartitions);
}

// ----------------------------------------------------------------------------------- codec

RecipientRecord sample_record() {
  RecipientRecord r;
  r.address = "alice@example.com";
  r.message = 0x123456789aULL;
  r.values = {"Alice", "", std::string("with\0nul", 8), std::string(300, 'x')};
  r.attempts = 7;
  r.first_enqueued = 1700000000;
  r.last_reply = "451 4.7.1 greylisted, try later";
  return r;
}

void expect_same(const RecipientRecord& a, const RecipientRecord& b) {
  EXPECT_EQ(a.address, b.address);
  EXPECT_EQ(a.message, b.message);
  EXPECT_EQ(a.values, b.values);
  EXPECT_EQ(a.attempts, b.attempts);
  EXPECT_EQ(a.first_enqueued, b.first_enqueued);
  EXPECT_EQ(a.last_reply, b.last_reply);
}

TEST(CodecTest, RecordRoundTrips) {
  const auto r = sample_record();
  auto d = codec::decode_record(codec::encode_record(r));
  ASSERT_TRUE(d.ok()) << d.error().message;
  expect_same(*d, r);

  RecipientRecord empty;
  auto e = codec::decode_record(codec::encode_record(empty));
  ASSERT_TRUE(e.ok());
  expect_same(*e, empty);

  RecipientRecord extremes;
  extremes.message = ~0ULL;
  extremes.attempts = ~0u;
  extremes.first_enqueued = std::numeric_limits<int64_t>::min();
  auto x = codec::decode_record(codec::encode_record(extremes));
  ASSERT_TRUE(x.ok()) << x.error().message;
  expect_same(*x, extremes);
  extremes.first_enqueued = -1;
  x = codec::decode_record(codec::encode_record(extremes));
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(x->first_enqueued, -1);
}

TEST(CodecTest, RecordIsCompact) {
  RecipientRecord r;
  r.address = "bob@example.org";  // 15 bytes
  r.message = 12;
  r.values = {"Bob"};
  r.first_enqueued = 1700000000;
  // version + (1+15) + 1 + (1 + 1+3) + 1 + 5 + 1
  EXPECT_LE(codec::encode_record(r).size(), 30u);
}

TEST(CodecTest, NewRecordIsTheRecordOfAFreshRecipient) {
  RecipientRecord r;
  r.address = "ann.longer-than-sso@example.org";
  r.message = 300;  // a two-byte varint
  r.values = {"Ann", "", std::string(200, 'x')};
  r.first_enqueued = 1700000000;
  std::string out = "left over from the last record";
  codec::encode_new_record(out, r.address, r.message, r.values, r.first_enqueued);
  EXPECT_EQ(out, codec::encode_record(r));
  auto back = codec::decode_record(out);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->values, r.values);
  EXPECT_EQ(back->attempts, 0u);
  EXPECT_EQ(back->last_reply, "");
}

TEST(CodecTest, MessageRoundTrips) {
  StoredMessage m;
  m.envelope_sender = "";
  m.raw = std::string("Subject: x\r\n\r\nbody\0more", 23);
  m.fields = {"first", "last"};
  m.campaign = "c1";
  m.created = 1700000123;
  auto d = codec::decode_message(codec::encode_message(m));
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->envelope_sender, m.envelope_sender);
  EXPECT_EQ(d->raw, m.raw);
  EXPECT_EQ(d->fields, m.fields);
  EXPECT_EQ(d->campaign, m.campaign);
  EXPECT_EQ(d->created, m.created);
}

TEST(CodecTest, CorruptRecordIsAnError) {
  const std::string good = codec::encode_record(sample_record());
  EXPECT_FALSE(codec::decode_record("").ok());
  // Every truncation fails.
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(codec::decode_record(good.substr(0, n)).ok()) << "prefix " << n;
  }
  // Trailing garbage and unknown versions fail.
  EXPECT_FALSE(codec::decode_record(good + "z").ok());
  std::string v2 = good;
  v2[0] = 2;
  auto e = codec::decode_record(v2);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("version"), std::string::npos) << e.error().message;
  // A huge count or length must not allocate or read out of bounds.
  std::string huge(
      "\x01\x05"
      "a@b.c"
      "\x01"
      "\xff\xff\xff\xff\xff\xff\xff\xff\x7f",
      18);
  EXPECT_FALSE(codec::decode_record(huge).ok());
  std::string long_len("\x01\xff\xff\xff\xff\x0f", 6);
  EXPECT_FALSE(codec::decode_record(long_len).ok());
  // An over-long varint (11 continuation bytes) fails.
  std::string overlong("\x01\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 13);
  EXPECT_FALSE(codec::decode_record(overlong).ok());
  // Random corruption never crashes (under ASan/UBSan this also checks memory safety).
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string b = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) b[rng() % b.size()] = static_cast<char>(rng());
    (void)codec::decode_record(b);
    std::string junk(rng() % 40, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    (void)codec::decode_record(junk);
    (void)codec::decode_message(junk);
  }
}

TEST(CodecTest, CorruptMessageIsAnError) {
  StoredMessage m;
  m.raw = "Subject: x\r\n\r\nbody";
  m.fields = {"a"};
  const std::string good = codec::encode_message(m);
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(codec::decode_message(good.substr(0, n)).ok()) << "prefix " << n;
  }
  EXPECT_FALSE(codec::decode_message(good + '\0').ok());
  // A record is not a message.
  EXPECT_FALSE(codec::decode_message("\x02").ok());
}

// ----------------------------------------------------------------------------------- queue

TEST(QueueTest, OpenCreatesAndMessagesRoundTrip) {
  TempDir dir;
  auto q = must_open(dir.path());
  ASSERT_TRUE(q);
  EXPECT_EQ(q->counts(0)->total(), 0u);
  EXPECT_FALSE(q->earliest_due()->has_value());
  const MessageId id = must_put_message(*q, {"name", "city"});
  EXPECT_GT(id, 0u);
  auto m = q->get_message(id);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->fields, (std::vector<std::string>{"name", "city"}));
  EXPECT_EQ(m->campaign, "spring");
  auto missing = q->get_message(id + 100);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("not found"), std::string::npos);
}

TEST(QueueTest, OpenFailsClearlyWhenTheDirectoryIsUnusable) {
  TempDir dir;
  const std::string file = dir.path() + "/not-a-dir";
  std::ofstream(file) << "x";
  auto q = Queue::open(file + "/db");
  ASSERT_FALSE(q.ok());
  EXPECT_NE(q.error().message.find("cannot open the queue database"), std::string::npos)
      << q.error().message;
}

TEST(QueueTest, SecondOpenOfTheSameDirectoryIsRefused) {
  TempDir dir;
  auto q = must_open(dir.path());
  ASSERT_TRUE(q);
  auto again = Queue::open(dir.path());
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("database in use"), std::string::npos)
      << again.error().message;
}

TEST(QueueTest, FetchReadyTakesDueEntriesAndSkipsDeferredDomains) {
  TempDir dir;
  auto q = must_open(dir.path());
  ASSERT_TRUE(q);
  const MessageId msg = must_put_message(*q);
  const uint8_t p = 5;
  const auto d = domains_in_partition(p, 4);
  // Domain ids follow first enqueue order: d0 < d1 < d2 < d3.
  ASSERT_TRUE(q->enqueue(msg, recipients_for(d[0], 3), 1000).ok());
  ASSERT_TRUE(q->enqueue(msg, recipients_for(d[1], 2), 5000).ok());  // deferred
  ASSERT_TRUE(q->enqueue(msg, recipients_for(d[2], 2), 1000).ok());
  ASSERT_TRUE(q->enqueue(msg, recipients_for(d[2], 1, "late"), 1500).ok());
  ASSERT_TRUE(q->enqueue(msg, recipients_for(d[2], 1, "later"), 2500).ok());  // deferred
  ASSERT_TRUE(q->enqueue(msg, recipients_for(d[3], 1), 2000).ok());
  // Another partition's entries never show up.
  const auto other = domains_in_partition(p + 1, 1);
  ASSERT_TRUE(q->enqueue(msg, recipients_for(other[0], 2), 1000).ok());

  const auto ready = must_fetch(*q, p, 2000);
  EXPECT_EQ(
      addresses(ready),
      (std::vector<std::string>{"user0@" + d[0], "user1@" + d[0], "user2@" + d[0], "user0@" + d[2],
                                "user1@" + d[2], "late0@" + d[2], "user0@" + d[3]}));
  for (std::size_t i = 0; i < ready.size(); ++i) {
    const auto& e = ready[i];
    EXPECT_EQ(e.key.partition, p);
    EXPECT_LE(e.key.due, 2000u);
    EXPECT_EQ(partition_of(e.domain), p);
    EXPECT_NE(e.record.address.find("@" + e.domain), std::string::npos);
    EXPECT_EQ(e.record.message, msg);
    EXPECT_EQ(e.record.attempts, 0u);
    EXPECT_EQ(e.record.values.size(), 1u);
    EXPECT_EQ(static_cast<UnixSeconds>(e.key.due), e.record.first_enqueued);
    if (i > 0) {
      EXPECT_LT(ready[i - 1].key.encode(), e.key.encode());
    }
  }
  EXPECT_EQ(must_fetch(*q, p, 999).size(), 0u);
  EXPECT_EQ(must_fetch(*q, p, 1000).size(), 5u);
  EXPECT_EQ(must_fetch(*q, p, 6000).size(), 10u);
  EXPECT_EQ(must_fetch(*q, p, 2000, 4).size(), 4u);
  EXPECT_EQ(must_fetch(*q, p, 2000, 0).size(), 0u);
  EXPECT_EQ(must_fetch(*q, p + 1, 2000).size(), 2u);

  const auto c = q->counts(2000).value();
  EXPECT_EQ(c.ready, 9u);
  EXPECT_EQ(c.deferred, 3u);
  EXPECT_EQ(q->earliest_due().value(), 1000);
}

TEST(QueueTest, FetchReadyRejectsBadArguments) {
  TempDir dir;
  auto q = must_open(dir.path());
  ASSERT_TRUE(q);
  EXPECT_FALSE(q->fetch_ready(kPartitions, 0, 10, std::nullopt).ok());
  EXPECT_FALSE(q->fetch_ready(3, 0, 10, QueueKey{4, 0, 0, 0}).ok());
  EXPECT_TRUE(q->fetch_ready(kPartitions - 1, 0, 10, std::nullopt).ok());
}

TEST(QueueTest, EnqueueRefusesUnknownMessagesAndDomainlessRecipients) {
  TempDir dir;
  auto q = must_open(dir.path());
  ASSERT_TRUE(q);
  EXPECT_FALSE(q->enqueue(1, recipients_for("a.example", 1), 10).ok());
  const MessageId msg = must_put_message(*q);
  EXPECT_FALSE(q->enqueue(msg + 1, recipients_for("a.example", 1), 10).ok());
  std::vector<NewRecipient> bad{{"nobody", "", {}}};
  auto r = q->enqueue(msg, bad, 10);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("no domain"), std::string::npos);
  EXPECT_TRUE(q->enqueue(msg, {}, 10).ok());
  EXPECT_EQ(q->counts(10)->total(), 0u);
}

TEST(QueueTest, AfterCursorPages) {
  TempDir dir;
  auto q = must_open(dir.path());
  ASSERT_TRUE(q);
  const MessageId msg = must_put_message(*q);
  const uint8_t p = 9;
  const auto d = domains_in_partition(p, 3);
  ASSERT_TRUE(q->enqueue(msg, recipients_for(d[0], 4), 100).ok());
  ASSERT_TRUE(q->enqueue(msg, recipients_for(d[1], 3), 900).ok());  // deferred at 500
  ASSERT_TRUE(q->enqueue(msg, recipients_for(d[2], 5), 100).ok());
  const auto all = must_fetch(*q, p, 500);
  ASSERT_EQ(all.size(), 9u);

  std::vector<QueueEntry> paged;
  std::optional<QueueKey> after;
  for (int guard = 0; guard < 20; ++guard) {
    auto page = must_fetch(*q, p, 500, 2, after);
    if (page.empty()) break;
    EXPECT_LE(page.size(), 2u);
    after = page.back().key;
    paged.insert(paged.end(), page.begin(), page.end());
  }
  EXPECT_EQ(addresses(paged), addresses(all));

  // A cursor whose key has since been removed still resumes right after it.
  OutcomeBatch b;
  b.remove(all[3].key);
  ASSERT_TRUE(q->apply(std::move(b)).ok());
  auto rest = must_fetch(*q, p, 500, 100, all[3].key);
  ASSERT_EQ(rest.size(), 5u);
  EXPECT_EQ(rest.front().record.address, all[4].record.address);
  // A cursor inside a deferred domain continues with the next domain.
  auto deferred = must_fetch(*q, p, 900, 100);
  ASSERT_EQ(deferred.size(), 11u);
  QueueKey inside = deferred[3].key;  // first d1 entry
  ASSERT_EQ(inside.due, 900u);
  rest = must_fetch(*q, p, 500, 100, inside);
  EXPECT_EQ(rest.size(), 5u);
}

TEST(QueueTest, RescheduleMovesDueKeepsSeqAndHidesUntilThen) {
  TempDir dir;
  auto q = must_open(dir.path());
  ASSERT_TRUE(q);
  const MessageId msg = must_put_message(*q);
  const uint8_t p = 12;
  const auto d = domains_in_partition(p, 1);
  ASSERT_TRUE(q->enqueue(msg, recipients_for(d[0], 3), 1000).ok());
  auto ready = must_fetch(*q, p, 1000);
  ASSERT_EQ(ready.size(), 3u);

  OutcomeBatch b;
  RecipientRecord rec = ready[1].record;
  rec.attempts = 1;
  rec.last_reply = "451 4.7.1 try later";
  b.reschedule(ready[1].key, 3000, rec);
  EXPECT_EQ(b.size(), 1u);
  ASSERT_TRUE(q->apply(std::move(b)).ok());

  auto now_ready = must_fetch(*q, p, 2999);
  EXPECT_EQ(addresses(now_ready),
            (std::vector<std::string>{ready[0].record.address, ready[2].record.address}));
  EXPECT_EQ(q->counts(2999)->deferred, 1u);
  auto later = must_fetch(*q, p, 3000);
  ASSERT_EQ(later.size(), 3u);
  const auto& moved = later[2];
  EXPECT_EQ(moved.record.address, ready[1].record.address);
  EXPECT_EQ(moved.key.seq, ready[1].key.seq);
  EXPECT_EQ(moved.key.due, 3000u);
  EXPECT_EQ(moved.key.domain, ready[1].key.domain);
  EXPECT_EQ(moved.record.attempts, 1u);
  EXPECT_EQ(moved.record.last_reply, "451 4.7.1 try later");
  EXPECT_EQ(moved.record.first_enqueued, 1000);

  // Rescheduling to the same due time (SingleDelete + Put of the same key) keeps one entry.
  OutcomeBatch same;
  rec.attempts = 2;
  same.reschedule(moved.key, 3000, rec);
  ASSERT_TRUE(q->apply(std::move(same)).ok());
  later = must_fetch(*q, p, 3000);
  ASSERT_EQ(later.size(), 3u);
  EXPECT_EQ(later[2].record.attempts, 2u);
  // And again, then removed: gone for good.
  OutcomeBatch gone;
  gone.remove(later[2].key);
  ASSERT_TRUE(q->apply(std::move(gone)).ok());
  EXPECT_EQ(must_fetch(*q, p, 10000).size(), 2u);
}

TEST(QueueTest, RemoveDeletesEntries) {
  TempDir dir;
  auto q = must_open(dir.path());
  ASSERT_TRUE(q);
  const MessageId msg = must_put_message(*q);
  const uint8_t p = 20;
  const auto d = domains_in_partition(p, 2);
  ASSERT_TRUE(q->enqueue(msg, recipients_for(d[0], 3), 10).ok());
  ASSERT_TRUE(q->enqueue(msg, recipients_for(d[1], 3), 10).ok());
  auto ready = must_fetch(*q, p, 10);
  ASSERT_EQ(ready.size(), 6u);
  OutcomeBatch b;
  EXPECT_TRUE(b.empty());
  b.remove(ready[0].key);
  b.remove(ready[4].key);
  ASSERT_TRUE(q->apply(std::move(b)).ok());
  ASSERT_TRUE(q->sync_wal().ok());
  auto after = must_fetch(*q, p, 10);
  EXPECT_EQ(addresses(after),
            (std::vector<std::string>{ready[1].record.address, ready[2].record.address,
                                      ready[3].record.address, ready[5].record.address}));
  EXPECT_EQ(q->counts(10)->total(), 4u);
  ASSERT_TRUE(q->apply(OutcomeBatch{}).ok());

  OutcomeBatch bad;
  bad.remove(QueueKey{200, 0, 0, 0});
  EXPECT_FALSE(q->apply(std::move(bad)).ok());
}

TEST(CodecTest, DsnFlagRoundTripsAndOldMessagesStayPlain) {
  StoredMessage m;
  m.raw = "Subject: x\r\n\r\nreport {{not a field}}\r\n";
  m.is_dsn = true;
  auto d = codec::decode_message(codec::encode_message(m));
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_TRUE(d->is_dsn);
  m.is_dsn = false;
  const std::string plain = codec::encode_message(m);
  d = codec::decode_message(plain);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->is_dsn);
  EXPECT_FALSE(codec::decode_message(plain + '\x10').ok());  // an unknown flag
  EXPECT_FALSE(codec::decode_message(plain + '\x04').ok());  // list flag without its fields
}

TEST(QueueTest, SubmissionsAreStoredOnceAndQueuedInOneWrite) {
  TempDir dir;
  auto q = must_open(dir.path());
  std::vector<Submission> batch(2);
  batch[0].message = StoredMessage{.envelope_sender = "news@example.org",
                                   .raw = "Subject: a\r\n\r\n{{x}}\r\n",
                                   .campaign = "smtp-news",
                                   .submitted = true};
  batch[0].recipients = {{"a@example.com", "example.com", {}},
                         {"b@example.net", "example.net", {}}};
  batch[1].message = StoredMessage{.envelope_sender = "",
                                   .raw = "Subject: b\r\n\r\nb\r\n",
                                   .campaign = "smtp-news",
                                   .submitted = true};
  batch[1].recipients = {{"c@example.com", "example.com", {}}};
  auto ids = q->put_submissions(batch, 1'000);
  ASSERT_TRUE(ids.ok()) << ids.error().message;
  ASSERT_EQ(ids->size(), 2u);
  EXPECT_NE((*ids)[0], (*ids)[1]);
  auto stored = q->get_message((*ids)[0]);
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(stored->submitted);
  EXPECT_EQ(stored->raw, batch[0].message.raw);
  auto size = q->campaign_size("smtp-news");
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(size->value_or(0), 3u);
  std::map<std::string, MessageId> queued;
  ASSERT_TRUE(q->scan_all({}, [&](const QueueEntry& e) {
                 queued[e.record.address] = e.record.message;
                 return true;
               }).ok());
  EXPECT_EQ(queued, (std::map<std::string, MessageId>{{"a@example.com", (*ids)[0]},
                                                      {"b@example.net", (*ids)[0]},
                                                      {"c@example.com", (*ids)[1]}}));
  // After a reopen, new messages get new ids (the next id was written with the batch).
  q.reset();
  q = must_open(dir.path());
  auto next = q->put_message(StoredMessage{.raw = "Subject: c\r\n\r\nc\r\n"});
  ASSERT_TRUE(next.ok());
  EXPECT_GT(*next, (*ids)[1]);
  // A submission without recipients is refused, and nothing of its batch is queued.
  std::vector<Submission> bad(2);
  bad[0] = batch[1];
  bad[1].message = batch[1].message;
  EXPECT_FALSE(q->put_submissions(bad, 1'000).ok());
  size = q->campaign_size("smtp-news");
  EXPECT_EQ(size->value_or(0), 3u);
}

TEST(QueueTest, CollectMessagesDeletesOneOffMessagesNobodyNeeds) {
  TempDir dir;
  auto q = must_open(dir.path());
  auto submission = [](std::string subject, std::vector<std::string> to) {
    Submission s;
    s.message = StoredMessage{
        .raw = "Subject: " + subject + "\r\n\r\nx\r\n", .campaign = "smtp", .submitted = true};
    for (auto& r : to) s.recipients.push_back({r, r.substr(r.find('@') + 1), {}});
    return s;
  };
  std::vector<Submission> batch{submission("done", {"a@example.com", "b@example.net"}),
                                submission("pending", {"c@example.com"}),
                                submission("bounced", {"d@example.org"})};
  auto ids = q->put_submissions(batch, 1'000);
  ASSERT_TRUE(ids.ok());
  auto campaign = q->put_message(StoredMessage{.raw = "Subject: c\r\n\r\nc\r\n", .campaign = "c1"});
  auto dsn = q->put_message(StoredMessage{.raw = "Subject: d\r\n\r\nd\r\n", .is_dsn = true});
  ASSERT_TRUE(campaign.ok() && dsn.ok());
  // The first message's recipients are delivered; the third's failed, its DSN still to be made.
  OutcomeBatch outcomes;
  ASSERT_TRUE(q->scan_all({}, [&](const QueueEntry& e) {
                 if (e.record.message == (*ids)[0]) outcomes.remove(e.key);
                 if (e.record.message == (*ids)[2]) {
                   outcomes.remove(e.key);
                   outcomes.add_bounce(e.key, e.record.message, "report");
                 }
                 return true;
               }).ok());
  ASSERT_TRUE(q->apply(std::move(outcomes)).ok());
  auto collected = q->collect_messages();
  ASSERT_TRUE(collected.ok()) << collected.error().message;
  EXPECT_EQ(*collected, 2u);  // the delivered submission and the DSN nobody is queued for
  EXPECT_FALSE(q->get_message((*ids)[0]).ok());
  EXPECT_FALSE(q->get_message(*dsn).ok());
  EXPECT_TRUE(q->get_message((*ids)[1]).ok());  // a recipient still queued
  EXPECT_TRUE(q->get_message((*ids)[2]).ok());  // a bounce report still to be made
  EXPECT_TRUE(q->get_message(*campaign).ok());  // a campaign's message stays
  // Once the report is made, the failed submission goes too.
  auto reports = q->pending_bounces(partition_of("example.org"), 10);
  ASSERT_TRUE(reports.ok());
  ASSERT_EQ(reports->size(), 1u);
  ASSERT_TRUE(q->forget_bounces(*reports).ok());
  collected = q->collect_messages();
  ASSERT_TRUE(collected.ok());
  EXPECT_EQ(*collected, 1u);
  EXPECT_FALSE(q->get_message((*ids)[2]).ok());
  EXPECT_EQ(q->collect_messages().value(), 0u);
}

TEST(CodecTest, ListFieldsRoundTrip) {
  StoredMessage m;
  m.raw = "Subject: x\r\n\r\nhi\r\n";
  m.verp = true;
  m.list = ListFields{"https://news.example.org/u/{token}", "unsub@example.org",
                      "News <news.example.org>"};
  auto d = codec::decode_message(codec::encode_message(m));
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_TRUE(d->verp);
  EXPECT_EQ(d->list.unsubscribe_url, m.list.unsubscribe_url);
  EXPECT_EQ(d->list.unsubscribe_mailto, m.list.unsubscribe_mailto);
  EXPECT_EQ(d->list.list_id, m.list.list_id);
  // Cut anywhere after the flags: an error, never a message with half its list fields.
  StoredMessage bare = m;
  bare.verp = false;
  bare.list = {};
  const std::string good = codec::encode_message(m);
  for (std::size_t n = codec::encode_message(bare).size() + 1; n < good.size(); ++n) {
    EXPECT_FALSE(codec::decode_message(good.substr(0, n)).ok()) << "prefix " << n;
  }
}

TEST(QueueTest, HintsSkipWhatWasHandedOutAndKeepTheRest) {
  TempDir dir;
  auto q = must_open(dir.path());
  ASSERT_TRUE(q);
  const MessageId msg = must_put_message(*q);
  const uint8_t p = 9;
  const auto d = domains_in_partition(p, 3);
  for (const auto& domain : d) ASSERT_TRUE(q->enqueue(msg, recipients_for(domain, 5), 10).ok());
  auto all = must_fetch(*q, p, 10);
  ASSERT_EQ(all.size(), 15u);
  // Handed out: the first 3 of the first domain and all 5 of the second; the first two of those
  // decided (removed), the rest still in flight.
  FetchHints hints{{all[2].key.domain, all[2].key}, {all[9].key.domain, all[9].key}};
  OutcomeBatch b;
  b.remove(all[0].key);
  b.remove(all[1].key);
  ASSERT_TRUE(q->apply(std::move(b)).ok());
  auto r = q->fetch_ready(p, 10, 100, std::nullopt, &hints);
  ASSERT_TRUE(r.ok()) << r.error().message;
  std::vector<std::string> expected;
  for (std::size_t i : {3u, 4u, 10u, 11u, 12u, 13u, 14u}) expected.push_back(all[i].record.address);
  EXPECT_EQ(addresses(r.value()), expected);
  // With a cursor and a window: paging still works, hints or not.
  r = q->fetch_ready(p, 10, 2, all[3].key, &hints);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(addresses(r.value()),
            (std::vector<std::string>{all[4].record.address, all[10].record.address}));
  // Due times still rule: nothing is ready before it is due.
  r = q->fetch_ready(p, 9, 100, std::nullopt, &hints);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(QueueTest, PendingBouncesAreWrittenWithTheRemovalAndForgotten) {
  TempDir dir;
  auto q = must_open(dir.path());
  ASSERT_TRUE(q);
  const MessageId msg = must_put_message(*q);
  const uint8_t p = 4;
  const auto d = domains_in_partition(p, 1);
  ASSERT_TRUE(q->enqueue(msg, recipients_for(d[0], 3), 10).ok());
  auto all = must_fetch(*q, p, 10);
  OutcomeBatch b;
  b.remove(all[0].key);
  b.add_bounce(all[0].key, msg, "report 0");
  b.remove(all[2].key);
  b.add_bounce(all[2].key, msg, "report 2");
  ASSERT_TRUE(q->apply(std::move(b)).ok());
  auto pending = q->pending_bounces(p, 100);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].message, msg);
  EXPECT_EQ((*pending)[0].seq, all[0].key.seq);
  EXPECT_EQ((*pending)[1].report, "report 2");
  EXPECT_TRUE(q->pending_bounces(static_cast<uint8_t>(p + 1), 100)->empty());
  ASSERT_TRUE(q->forget_bounces(std::span(pending->data(), 1)).ok());
  pending = q->pending_bounces(p, 100);
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].report, "report 2");
}

TEST(QueueTest, StateSurvivesCloseAndReopen) {
  TempDir dir;
  std::vector<std::string> before;
  MessageId msg = 0;
  {
    auto q = must_open(dir.path());
    ASSERT_TRUE(q);
    msg = must_put_message(*q);
    for (int i = 0; i < 30; ++i) {
      const std::string dom = "host" + std::to_string(i) + ".example";
      ASSERT_TRUE(q->enqueue(msg, recipients_for(dom, 1 + i % 4), 100 + i).ok());
    }
    auto all = fetch_all(*q, 1000);
    ASSERT_EQ(all.size(), 73u);  // sum of 1 + i % 4 for i < 30
    OutcomeBatch b;
    b.remove(all[0].key);
    RecipientRecord r = all[1].record;
    r.attempts = 3;
    b.reschedule(all[1].key, 5000, r);
    ASSERT_TRUE(q->apply(std::move(b)).ok());
    ASSERT_TRUE(q->sync_wal().ok());
    before = addresses(fetch_all(*q, 10000));
    ASSERT_EQ(before.size(), 72u);
  }
  auto q = must_open(dir.path());
  ASSERT_TRUE(q);
  const auto all = fetch_all(*q, 10000);
  EXPECT_EQ(addresses(all), before);
  for (const auto& e : all) EXPECT_EQ(partition_of(e.domain), e.key.partition);
  EXPECT_EQ(q->counts(1000)->ready, 71u);
  EXPECT_EQ(q->counts(1000)->deferred, 1u);
  UnixSeconds min_due = 1 << 30;
  for (const auto& e : all) min_due = std::min<UnixSeconds>(min_due, e.key.due);
  EXPECT_EQ(q->earliest_due().value(), min_due);
  auto m = q->get_message(msg);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->campaign, "spring");
  // Existing domains keep their ids after reopen.
  ASSERT_TRUE(q->enqueue(msg, recipients_for(all[0].domain, 1, "again"), 100).ok());
  bool found = false;
  for (const auto& e : must_fetch(*q, all[0].key.partition, 10000)) {
    if (e.record.address == "again0@" + all[0].domain) {
      EXPECT_EQ(e.key.domain, all[0].key.domain);
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST(QueueTest, SeqAndMessageIdsAreNeverReusedAfterReopen) {
  TempDir dir;
  std::set<uint64_t> seqs;
  std::set<MessageId> messages;
  std::set<uint32_t> domain_ids;
  for (int round = 0; round < 4; ++round) {
    auto q = must_open(dir.path());
    ASSERT_TRUE(q);
    const MessageId msg = must_put_message(*q);
    EXPECT_TRUE(messages.insert(msg).second) << "message id reused: " << msg;
    EXPECT_EQ(*messages.rbegin(), msg);
    const std::string dom = "round" + std::to_string(round) + ".example";
    ASSERT_TRUE(q->enqueue(msg, recipients_for(dom, 10), 50).ok());
    auto all = fetch_all(*q, 50);
    uint64_t max_before = seqs.empty() ? 0 : *seqs.rbegin();
    for (const auto& e : all) {
      if (e.domain == dom) {
        EXPECT_TRUE(seqs.insert(e.key.seq).second) << "seq reused: " << e.key.seq;
        EXPECT_GT(e.key.seq, max_before);
        domain_ids.insert(e.key.domain);
      }
    }
    // Remove everything, so an implementation deriving ids from the queue's content would fail.
    OutcomeBatch b;
    for (const auto& e : all) b.remove(e.key);
    ASSERT_TRUE(q->apply(std::move(b)).ok());
    ASSERT_TRUE(q->sync_wal().ok());
  }
  EXPECT_EQ(seqs.size(), 40u);
  EXPECT_EQ(domain_ids.size(), 4u);
}

TEST(QueueTest, ConcurrentEnqueuesGetDistinctSeqs) {
  TempDir dir;
  auto q = must_open(dir.path());
  ASSERT_TRUE(q);
  const MessageId msg = must_put_message(*q);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        const std::string dom = "t" + std::to_string(t) + "-" + std::to_string(i % 5) + ".example";
        EXPECT_TRUE(q->enqueue(msg, recipients_for(dom, 5, "b" + std::to_string(i)), 10).ok());
      }
    });
  }
  std::thread reader([&] {
    for (int i = 0; i < 50; ++i)
      (void)q->fetch_ready(static_cast<uint8_t>(i % kPartitions), 10, 50, {});
  });
  for (auto& th : threads) th.join();
  reader.join();
  const auto all = fetch_all(*q, 10);
  ASSERT_EQ(all.size(), 400u);
  std::set<uint64_t> seqs;
  std::map<std::string, uint32_t> ids;
  for (const auto& e : all) {
    seqs.insert(e.key.seq);
    auto [it, fresh] = ids.emplace(e.domain, e.key.domain);
    EXPECT_EQ(it->second, e.key.domain) << e.domain;
  }
  EXPECT_EQ(seqs.size(), 400u);
  EXPECT_EQ(ids.size(), 20u);
}

TEST(QueueTest, CountsAndEarliestDue) {
  TempDir dir;
  auto q = must_open(dir.path());
  ASSERT_TRUE(q);
  const MessageId msg = must_put_message(*q);
  ASSERT_TRUE(q->enqueue(msg, recipients_for("a.example", 4), 300).ok());
  ASSERT_TRUE(q->enqueue(msg, recipients_for("b.example", 2), 200).ok());
  ASSERT_TRUE(q->enqueue(msg, recipients_for("c.example", 3), 400).ok());
  EXPECT_EQ(q->earliest_due().value(), 200);
  auto c = q->counts(300).value();
  EXPECT_EQ(c.ready, 6u);
  EXPECT_EQ(c.deferred, 3u);
  EXPECT_EQ(c.total(), 9u);
  EXPECT_EQ(q->counts(199)->ready, 0u);
  EXPECT_EQ(q->counts(400)->ready, 9u);
  // Remove b: the earliest becomes 300.
  OutcomeBatch b;
  for (const auto& e : must_fetch(*q, partition_of("b.example"), 1000)) {
    if (e.domain == "b.example") b.remove(e.key);
  }
  ASSERT_TRUE(q->apply(std::move(b)).ok());
  EXPECT_EQ(q->earliest_due().value(), 300);
  EXPECT_EQ(q->counts(1000)->total(), 7u);
}

TEST(QueueTest, DomainsAreCaseInsensitive) {
  TempDir dir;
  auto q = must_open(dir.path());
  ASSERT_TRUE(q);
  const MessageId msg = must_put_message(*q);
  std::vector<NewRecipient> rs{{"a@Mixed.Example", "Mixed.Example", {}},
                               {"b@mixed.example", "mixed.example", {}}};
  ASSERT_TRUE(q->enqueue(msg, rs, 5).ok());
  auto got = must_fetch(*q, partition_of("mixed.example"), 5);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].key.domain, got[1].key.domain);
  EXPECT_EQ(got[0].domain, "mixed.example");
}

TEST(QueueTest, CorruptRecordOnDiskIsAnErrorNotACrash) {
  TempDir dir;
  QueueKey key;
  {
    auto q = must_open(dir.path());
    ASSERT_TRUE(q);
    const MessageId msg = must_put_message(*q);
    ASSERT_TRUE(q->enqueue(msg, recipients_for("x.example", 1), 10).ok());
    key = must_fetch(*q, partition_of("x.example"), 10).at(0).key;
  }
  {
    // Overwrite the record with garbage behind the queue's back.
    RawDb raw(dir.path());
    ASSERT_TRUE(raw.opened());
    ASSERT_TRUE(
        raw.db()->Put(rocksdb::WriteOptions(), raw.queue(), key.encode(), "\x01\xff\xff").ok());
  }
  auto q = must_open(dir.path());
  ASSERT_TRUE(q);
  auto r = q->fetch_ready(key.partition, 10, 10, std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("corrupt recipient record"), std::string::npos)
      << r.error().message;
}

// A read error under counts() and earliest_due() (here a damaged block of the queue's SST file)
// is an Error, not a short count or an empty queue.
TEST(QueueTest, CountsAndEarliestDueReportReadErrors) {
  TempDir dir;
  {
    auto q = must_open(dir.path());
    ASSERT_TRUE(q);
    const MessageId msg = must_put_message(*q);
    // kIngestMin recipients are written as one SST file of the queue column family.
    ASSERT_TRUE(q->enqueue(msg, recipients_for("sst.example", Queue::kIngestMin), 10).ok());
  }
  ASSERT_GT(damage_queue_files(dir.path()), 0u);
  auto q = must_open(dir.path());
  ASSERT_TRUE(q);
  auto counts = q->counts(100);
  ASSERT_FALSE(counts.ok()) << counts->total() << " counted";
  EXPECT_NE(counts.error().message.find("queue read failed"), std::string::npos)
      << counts.error().message;
  auto due = q->earliest_due();
  ASSERT_FALSE(due.ok());
  EXPECT_NE(due.error().message.find("queue read failed"), std::string::npos)
      << due.error().message;
}

TEST(QueueTest, PendingBouncesReportAMalformedKey) {
  TempDir dir;
  {
    auto q = must_open(dir.path());
    ASSERT_TRUE(q);
  }
  {
    // A report key is "bounce/", the partition, then message and seq (8 bytes each): this one is
    // short.
    RawDb raw(dir.path());
    ASSERT_TRUE(raw.opened());
    std::string key = "bounce/";
    key.push_back('\x04');
    key += "short";
    ASSERT_TRUE(raw.db()->Put(rocksdb::WriteOptions(), raw.meta(), key, "report").ok());
  }
  auto q = must_open(dir.path());
  ASSERT_TRUE(q);
  auto pending = q->pending_bounces(4, 100);
  ASSERT_FALSE(pending.ok()) << pending->size() << " reports";
  EXPECT_NE(pending.error().message.find("malformed bounce report key"), std::string::npos)
      << pending.error().message;
}

TEST(QueueTest, HundredThousandRecipientsInBatches) {
  TempDir dir;
  auto q = must_open(dir.path());
  ASSERT_TRUE(q);
  const MessageId msg = must_put_message(*q);
  constexpr int kBatch = 1000;
  constexpr int kTotal = 100000;
  std::vector<NewRecipient> batch;
  batch.reserve(kBatch);
  for (int i = 0; i < kTotal; ++i) {
    const std::string dom = "dom" + std::to_string(i % 500) + ".example";
    batch.push_back(
        NewRecipient{"user" + std::to_string(i) + "@" + dom, dom, {"Name " + std::to_string(i)}});
    if (batch.size() == kBatch) {
      ASSERT_TRUE(q->enqueue(msg, batch, 1000).ok());
      batch.clear();
    }
  }
  const auto c = q->counts(1000).value();
  EXPECT_EQ(c.ready, static_cast<uint64_t>(kTotal));
  // Page through every partition in windows of 512 and see each recipient once.
  std::size_t seen = 0;
  std::set<uint64_t> seqs;
  for (int p = 0; p < kPartitions; ++p) {
    std::optional<QueueKey> after;
    for (;;) {
      auto page = must_fetch(*q, static_cast<uint8_t>(p), 1000, 512, after);
      if (page.empty()) break;
      seen += page.size();
      for (const auto& e : page) seqs.insert(e.key.seq);
      after = page.back().key;
    }
  }
  EXPECT_EQ(seen, static_cast<std::size_t>(kTotal));
  EXPECT_EQ(seqs.size(), static_cast<std::size_t>(kTotal));
}

// Mixed bulk (SST ingest) and small (WAL) enqueues: every recipient reads back with its record,
// in key order, across a reopen; the staging directory is left empty.
TEST(QueueTest, BulkEnqueuesAreIngestedAsFilesAndReadLikeSmallOnes) {
  TempDir dir;
  std::vector<std::string> expected;
  auto bulk = [](int batch, std::size_t n) {
    std::vector<NewRecipient> out;
    for (std::size_t i = 0; i < n; ++i) {
      const std::string dom = "bulk" + std::to_string(i % 37) + ".example";
      out.push_back(NewRecipient{"b" + std::to_string(batch) + "x" + std::to_string(i) + "@" + dom,
                                 dom,
                                 {"Name " + std::to_string(i)}});
    }
    return out;
  };
  {
    auto q = must_open(dir.path());
    ASSERT_TRUE(q);
    const MessageId msg = must_put_message(*q);
    for (int b = 0; b < 3; ++b) {
      auto big = bulk(b, Queue::kIngestMin + 7 * b);
      ASSERT_TRUE(q->enqueue(msg, big, 500 + b).ok());
      for (const auto& r : big) expected.push_back(r.address);
      auto small =
          recipients_for("bulk" + std::to_string(b) + ".example", 2, "s" + std::to_string(b));
      ASSERT_TRUE(q->enqueue(msg, small, 500 + b).ok());
      for (const auto& r : small) expected.push_back(r.address);
    }
    EXPECT_TRUE(fs::is_empty(fs::path(dir.path()) / "ingest"));
  }
  std::sort(expected.begin(), expected.end());
  auto q = must_open(dir.path());
  ASSERT_TRUE(q);
  auto all = fetch_all(*q, 1000);
  std::set<uint64_t> seqs;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto& e = all[i];
    seqs.insert(e.key.seq);
    EXPECT_EQ(e.record.address.substr(e.record.address.find('@') + 1), e.domain);
    EXPECT_EQ(e.record.attempts, 0u);
    EXPECT_GE(e.record.first_enqueued, 500);
    ASSERT_EQ(e.record.values.size(), 1u);
    if (i > 0 && all[i - 1].key.partition == e.key.partition) {
      EXPECT_LT(all[i - 1].key, e.key);
    }
  }
  auto got = addresses(all);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, expected);
  EXPECT_EQ(seqs.size(), expected.size());
  EXPECT_EQ(q->counts(1000)->ready, expected.size());
}

// A crash between building an SST and ingesting it leaves a file in the staging directory: it was
// never part of the queue, and the next open removes it.
TEST(QueueTest, StagingLeftoversAreRemovedAtOpen) {
  TempDir dir;
  {
    auto q = must_open(dir.path());
    ASSERT_TRUE(q);
    ASSERT_TRUE(q->enqueue(must_put_message(*q), recipients_for("kept.example", 3), 10).ok());
  }
  const fs::path leftover = fs::path(dir.path()) / "ingest" / "7.sst";
  std::ofstream(leftover) << "half an SST file";
  auto q = must_open(dir.path());
  ASSERT_TRUE(q);
  EXPECT_FALSE(fs::exists(leftover));
  EXPECT_EQ(fetch_all(*q, 1000).size(), 3u);
}

// ----------------------------------------------------------------------------------- disk full

class TmpfsMount {
 public:
  explicit TmpfsMount(const std::string& dir, const char* size) : dir_(dir) {
    const std::string opts = std::string("size=") + size;
    mounted_ = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) == 0;
  }
  ~TmpfsMount() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

// Writes until the file system is full; returns bytes written.
std::size_t fill(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::setvbuf(f, nullptr, _IONBF, 0);
  const std::string chunk(4096, 'f');
  std::size_t total = 0;
  while (std::fwrite(chunk.data(), 1, chunk.size(), f) == chunk.size()) total += chunk.size();
  for (;;) {  // the last partial page
    if (std::fwrite("f", 1, 1, f) != 1) break;
    ++total;
  }
  std::fclose(f);
  return total;
}

TEST(QueueDiskFullTest, EnqueueRefusesClearlyAndKeepsWhatWasQueued) {
  TempDir dir;
  TmpfsMount mnt(dir.path(), "2m");
  if (!mnt.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  const std::string db = dir.path() + "/db";
  const std::string filler = dir.path() + "/filler";
  std::vector<std::string> queued;
  {
    auto q = must_open(db);
    ASSERT_TRUE(q);
    const MessageId msg = must_put_message(*q);
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(
          q->enqueue(msg, recipients_for("full" + std::to_string(i) + ".example", 20), 10).ok());
    }
    queued = addresses(fetch_all(*q, 10));
    ASSERT_EQ(queued.size(), 100u);
    ASSERT_GT(fill(filler), 0u);

    // Keep enqueueing until the WAL cannot grow: the error must name the cause.
    std::optional<Error> err;
    for (int i = 0; i < 2000 && !err; ++i) {
      auto r = q->enqueue(msg, recipients_for("more" + std::to_string(i) + ".example", 200), 10);
      if (!r.ok()) err = r.error();
    }
    ASSERT_TRUE(err.has_value()) << "the disk never filled";
    std::cout << "disk-full error: " << err->message << "\n";
    EXPECT_NE(err->message.find("no space left on device"), std::string::npos) << err->message;
    EXPECT_NE(err->message.find("queue write failed"), std::string::npos) << err->message;
    // Further writes keep failing clearly while the disk is full (no crash, no silent success).
    auto again = q->enqueue(msg, recipients_for("again.example", 1), 10);
    EXPECT_FALSE(again.ok());
    // Every other write path also fails cleanly while full.
    (void)q->sync_wal();
    EXPECT_FALSE(q->check_writable().ok());
    EXPECT_FALSE(q->put_message(StoredMessage{}).ok());
    OutcomeBatch b;
    b.remove(QueueKey{0, 0, 0, 1});
    EXPECT_FALSE(q->apply(std::move(b)).ok());
    EXPECT_EQ(addresses(fetch_all(*q, 10)).size() >= queued.size(), true);

    // Space comes back. A failed WAL append stops RocksDB until the database is reopened, so
    // the queue may keep refusing here; it must not crash or pretend success for a lost write.
    fs::remove(filler);
    auto after_free = q->enqueue(msg, recipients_for("after-free.example", 1), 10);
    if (!after_free.ok()) {
      EXPECT_NE(after_free.error().message.find("queue write failed"), std::string::npos);
    }
  }
  auto q = must_open(db);
  ASSERT_TRUE(q);
  std::set<std::string> after;
  for (const auto& a : addresses(fetch_all(*q, 10))) after.insert(a);
  for (const auto& a : queued) EXPECT_TRUE(after.count(a)) << "lost " << a;
  EXPECT_TRUE(q->check_writable().ok());
  const MessageId msg2 = must_put_message(*q);
  EXPECT_TRUE(q->enqueue(msg2, recipients_for("fresh.example", 3), 10).ok());
}

// The bulk path (SST files) on a full disk: a clear error, nothing half-queued, no file left
// behind, and the queue keeps working once space returns (no reopen needed: the database itself
// never failed a write).
TEST(QueueDiskFullTest, BulkEnqueueRefusesClearlyAndLeavesNothingBehind) {
  TempDir dir;
  TmpfsMount mnt(dir.path(), "4m");
  if (!mnt.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  const std::string db = dir.path() + "/db";
  const std::string filler = dir.path() + "/filler";
  auto q = must_open(db);
  ASSERT_TRUE(q);
  const MessageId msg = must_put_message(*q);
  ASSERT_TRUE(q->enqueue(msg, recipients_for("first.example", Queue::kIngestMin), 10).ok());
  const std::size_t before = fetch_all(*q, 10).size();
  ASSERT_EQ(before, Queue::kIngestMin);
  ASSERT_GT(fill(filler), 0u);
  auto r = q->enqueue(msg, recipients_for("second.example", Queue::kIngestMin), 10);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("queue write failed"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("o space left on device"), std::string::npos)
      << r.error().message;
  EXPECT_TRUE(fs::is_empty(fs::path(db) / "ingest"));
  EXPECT_EQ(fetch_all(*q, 10).size(), before);
  fs::remove(filler);
  EXPECT_TRUE(q->enqueue(msg, recipients_for("third.example", Queue::kIngestMin), 10).ok());
  EXPECT_EQ(fetch_all(*q, 10).size(), before + Queue::kIngestMin);
}

}  // namespace
}  // namespace ringmta::storage
