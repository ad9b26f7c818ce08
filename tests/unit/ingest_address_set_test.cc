// Tests for ingest::AddressSet and the address hashes: insert/contains through growth, the
// case-folded hash, the zero hash. No files, no sockets.
#include <gtest/gtest.h>

#include <string>

#include "ingest/address_set.h"

using ringmta::ingest::AddressSet;
using ringmta::ingest::hash_address;
using ringmta::ingest::hash_address_folded;

TEST(AddressSet, InsertReportsNewAndSeenThroughGrowth) {
  AddressSet set;
  EXPECT_FALSE(set.contains(hash_address("a@example.com")));
  for (int i = 0; i < 5000; ++i) {  // several doublings past the first 1024 slots
    EXPECT_TRUE(set.insert(hash_address("user" + std::to_string(i) + "@example.com"))) << i;
  }
  EXPECT_EQ(set.size(), 5000u);
  for (int i = 0; i < 5000; ++i) {
    EXPECT_FALSE(set.insert(hash_address("user" + std::to_string(i) + "@example.com"))) << i;
    EXPECT_TRUE(set.contains(hash_address("user" + std::to_string(i) + "@example.com"))) << i;
  }
  EXPECT_FALSE(set.contains(hash_address("user5000@example.com")));
  EXPECT_EQ(set.size(), 5000u);
}

TEST(AddressSet, ZeroHashIsStoredLikeAnyOther) {
  AddressSet set;
  EXPECT_FALSE(set.contains(0));
  EXPECT_TRUE(set.insert(0));
  EXPECT_TRUE(set.contains(0));
  EXPECT_FALSE(set.insert(0));
  EXPECT_FALSE(set.empty());
}

TEST(AddressHash, FoldedIgnoresAsciiCaseOnly) {
  EXPECT_EQ(hash_address_folded("Ann.Lee@Example.COM"), hash_address("ann.lee@example.com"));
  EXPECT_EQ(hash_address_folded("ann.lee@example.com"), hash_address("ann.lee@example.com"));
  EXPECT_NE(hash_address("Ann.Lee@example.com"), hash_address("ann.lee@example.com"));
  EXPECT_NE(hash_address_folded("\xC3\x84@example.com"),
            hash_address_folded("\xC3\xA4@example.com"));
}
