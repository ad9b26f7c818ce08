// Unit tests for the records kept beside the queue (storage/records.h): the suppression list
// (add, case-insensitive lookup, remove, list, survival across a reopen), failure records written
// in an outcome batch with the recipient's removal, listed per campaign and dropped with it, the
// records API refusing the queue's own keys, and the value codecs on good and corrupt bytes.
// It may not: depend on timing or on other tests' state.
#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "storage/codec.h"
#include "storage/records.h"
#include "storage_test_queue.h"

namespace ringmta::storage {
namespace {

constexpr UnixSeconds kNow = 1'700'000'000;

using test_support::must_open;
using test_support::TempDir;

std::vector<SuppressionEntry> listed(SuppressionList& list) {
  std::vector<SuppressionEntry> out;
  auto ok = list.list([&](const SuppressionEntry& e) {
    out.push_back(e);
    return true;
  });
  EXPECT_TRUE(ok.ok()) << (ok.ok() ? "" : ok.error().message);
  return out;
}

TEST(SuppressionList, AddLookUpIgnoringCaseRemoveAndList) {
  TempDir dir;
  auto q = must_open(dir.path());
  SuppressionList list(*q);
  std::vector<SuppressionEntry> entries = {
      {.address = "Ann@Example.ORG", .category = "manual", .reason = "asked", .since = kNow},
      {.address = "bob@example.org",
       .category = "invalid_recipient",
       .reason = "550 5.1.1",
       .campaign = "spring",
       .since = kNow + 1}};
  ASSERT_TRUE(list.add(entries).ok());

  std::vector<std::string> probe = {"ann@example.org", "BOB@example.org", "carl@example.org"};
  auto found = list.contains(probe);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(*found, (std::vector<bool>{true, true, false}));

  auto all = listed(list);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].address, "ann@example.org");  // listed by key: lower-case
  EXPECT_EQ(all[0].reason, "asked");
  EXPECT_EQ(all[1].category, "invalid_recipient");
  EXPECT_EQ(all[1].campaign, "spring");
  EXPECT_EQ(all[1].since, kNow + 1);

  std::vector<std::string> gone = {"ANN@example.org", "nobody@example.org"};
  auto removed = list.remove(gone);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 1u);
  EXPECT_EQ(listed(list).size(), 1u);
}

TEST(SuppressionList, OutcomeBatchEntriesSurviveAReopen) {
  TempDir dir;
  {
    auto q = must_open(dir.path());
    OutcomeBatch batch;
    SuppressionList::add_to(batch, {.address = "gone@example.net", .category = "dns_failure"});
    ASSERT_TRUE(q->apply(std::move(batch)).ok());
    ASSERT_TRUE(q->sync_wal().ok());
  }
  auto q = must_open(dir.path());
  SuppressionList list(*q);
  std::vector<std::string> probe = {"gone@example.net"};
  auto found = list.contains(probe);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(*found, std::vector<bool>{true});
}

TEST(SuppressionList, LastAddedTellsWhichRecipientsNeedACheck) {
  TempDir dir;
  auto q = must_open(dir.path());
  SuppressionList list(*q);
  EXPECT_EQ(list.last_added().value(), 0) << "an empty list: nothing to check";
  const UnixSeconds before = unix_now();
  std::vector<SuppressionEntry> one = {{.address = "a@example.org", .category = "manual"}};
  ASSERT_TRUE(list.add(one).ok());
  EXPECT_GE(list.last_added().value(), before);
  EXPECT_LE(list.last_added().value(), unix_now());
  OutcomeBatch batch;  // a hard bounce recorded with the outcomes counts too
  SuppressionList::add_to(batch, {.address = "b@example.org", .category = "invalid_recipient"});
  ASSERT_TRUE(q->apply(std::move(batch)).ok());
  EXPECT_GE(list.last_added().value(), before);

  // A list written before the time was recorded: every recipient must be checked.
  TempDir old_dir;
  auto old = must_open(old_dir.path());
  const std::vector<std::pair<std::string, std::string>> puts = {
      {"supp/c@example.org", codec::encode_suppression({.address = "c@example.org"})}};
  ASSERT_TRUE(old->write_records(puts, {}).ok());
  EXPECT_EQ(SuppressionList(*old).last_added().value(), std::numeric_limits<UnixSeconds>::max());
}

TEST(FailureRecords, WrittenWithTheRemovalListedPerCampaignAndDropped) {
  TempDir dir;
  auto q = must_open(dir.path());
  OutcomeBatch batch;
  add_failure_record(batch, {.campaign = "spring",
                             .recipient = "b@x.org",
                             .category = "invalid_recipient",
                             .hard = true,
                             .reply = "550 5.1.1 no",
                             .time = kNow});
  add_failure_record(batch, {.campaign = "spring",
                             .recipient = "a@x.org",
                             .category = "expired",
                             .hard = false,
                             .reply = "550 5.4.7 expired",
                             .time = kNow + 5});
  // "springtime" extends "spring": its records must not show up under "spring".
  add_failure_record(batch, {.campaign = "springtime",
                             .recipient = "c@x.org",
                             .category = "other",
                             .reply = "554",
                             .time = kNow});
  ASSERT_TRUE(q->apply(std::move(batch)).ok());

  std::vector<FailureRecord> seen;
  ASSERT_TRUE(visit_failures(*q, "spring", [&](const FailureRecord& r) {
                seen.push_back(r);
                return true;
              }).ok());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].recipient, "a@x.org");
  EXPECT_FALSE(seen[0].hard);
  EXPECT_EQ(seen[0].time, kNow + 5);
  EXPECT_EQ(seen[1].recipient, "b@x.org");
  EXPECT_EQ(seen[1].category, "invalid_recipient");
  EXPECT_EQ(seen[1].reply, "550 5.1.1 no");
  EXPECT_EQ(seen[1].campaign, "spring");

  auto dropped = drop_failures(*q, "spring");
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(*dropped, 2u);
  int left = 0;
  ASSERT_TRUE(
      visit_failures(*q, "spring", [&](const FailureRecord&) { return ++left, true; }).ok());
  EXPECT_EQ(left, 0);
  ASSERT_TRUE(
      visit_failures(*q, "springtime", [&](const FailureRecord&) { return ++left, true; }).ok());
  EXPECT_EQ(left, 1);
}

TEST(Records, TheQueuesOwnKeysAreRefused) {
  TempDir dir;
  auto q = must_open(dir.path());
  std::vector<std::pair<std::string, std::string>> puts = {{"bounce/x", "v"}};
  EXPECT_FALSE(q->write_records(puts, {}).ok());
  puts = {{"seq_limit", "v"}};
  EXPECT_FALSE(q->write_records(puts, {}).ok());
  std::vector<std::string> deletes = {"campaign_size/spring"};
  EXPECT_FALSE(q->write_records({}, deletes).ok());
  OutcomeBatch batch;
  batch.put_record("next_message", "x");
  EXPECT_FALSE(q->apply(std::move(batch)).ok());
}

TEST(RecordCodecs, RoundTripAndCorruptBytesAreErrors) {
  SuppressionEntry e{
      .address = "a@b.c", .category = "manual", .reason = "r", .campaign = "c", .since = -5};
  auto back = codec::decode_suppression("a@b.c", codec::encode_suppression(e));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->since, -5);
  EXPECT_EQ(back->reason, "r");
  FailureRecord f{.category = "other", .hard = false, .reply = "554 x", .time = kNow};
  auto fb = codec::decode_failure("c", "r@x", codec::encode_failure(f));
  ASSERT_TRUE(fb.ok());
  EXPECT_FALSE(fb->hard);
  EXPECT_EQ(fb->reply, "554 x");

  std::string bytes = codec::encode_failure(f);
  EXPECT_FALSE(codec::decode_failure("c", "r", bytes.substr(0, bytes.size() - 1)).ok());
  EXPECT_FALSE(codec::decode_failure("c", "r", bytes + "x").ok());
  EXPECT_FALSE(codec::decode_suppression("a", "").ok());
  EXPECT_FALSE(codec::decode_suppression("a", "\x02").ok());  // unknown version
  std::string hard2 = bytes;
  hard2[1 + 1 + f.category.size()] = 2;  // the hard flag's varint
  EXPECT_FALSE(codec::decode_failure("c", "r", hard2).ok());
}

}  // namespace
}  // namespace ringmta::storage
