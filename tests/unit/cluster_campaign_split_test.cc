// The campaign split (cluster/campaign_split.h), without Redis or sockets: the owner of a domain is
// the same whatever the nodes' order and moves only from or to a node that joins or leaves; a
// list is cut by domain with every row in exactly one part, quoted fields (commas, quotes, line
// breaks) kept whole, each row's line in the list kept; a list cut twice gives the same bytes; an
// unreadable row is returned with ingest's reason; a list without an email column is not split;
// a part's rows taken over by another part keep their lines.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "cluster/campaign_split.h"

namespace ringmta::cluster {
namespace {

class SplitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ringmta-split-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  static std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::filesystem::path dir_;
};

TEST(OwnerOf, IsTheSameInAnyOrderAndMovesOnlyTheDomainsOfANodeThatJoinsOrLeaves) {
  const std::vector<std::string> three{"node0", "node1", "node2"};
  const std::vector<std::string> reversed{"node2", "node1", "node0"};
  const std::vector<std::string> four{"node0", "node1", "node2", "node3"};
  std::map<std::string, int> counts;
  int moved = 0;
  for (int i = 0; i < 3000; ++i) {
    const std::string domain = "d" + std::to_string(i) + ".example";
    const std::string& owner = three[owner_of(domain, three)];
    EXPECT_EQ(owner, reversed[owner_of(domain, reversed)]) << domain;
    ++counts[owner];
    const std::string& with_fourth = four[owner_of(domain, four)];
    if (with_fourth != owner) {
      EXPECT_EQ(with_fourth, "node3") << domain << " moved between two old nodes";
      ++moved;
    }
  }
  for (const auto& [node, n] : counts) EXPECT_NEAR(n, 1000, 150) << node;
  EXPECT_NEAR(moved, 750, 150);  // a quarter goes to the new node
}

TEST_F(SplitTest, EveryRowGoesToItsDomainsNodeWithItsLineAndQuotedFieldsWhole) {
  const std::string list = write("l.csv",
                                 "name,Email\n"
                                 "Ann,ann@a.example\n"
                                 "\"Müller, Jürgen\",j@b.example\n"
                                 "\"two\nlines \"\"quoted\"\"\",t@A.Example\n"
                                 "\n"
                                 "Bob,bob@b.example\n");
  const std::vector<std::string> nodes{"x", "y", "z"};
  auto split = split_list(list, nodes, dir_.string());
  ASSERT_TRUE(split) << split.error().message;
  ASSERT_TRUE(split->split);
  ASSERT_EQ(split->parts.size(), 3u);
  const std::size_t a = owner_of("a.example", nodes);
  const std::size_t b = owner_of("b.example", nodes);
  uint64_t rows = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    rows += split->parts[i].rows();
    EXPECT_EQ(split->parts[i].node(), nodes[i]);
    EXPECT_TRUE(read(split->parts[i].path()).starts_with("name,Email\n"));
  }
  EXPECT_EQ(rows, 4u);
  const ListPart& pa = split->parts[a];
  const std::string text = read(pa.path());
  EXPECT_NE(text.find("Ann,ann@a.example\n"), std::string::npos) << text;
  // The domain is compared in any case: T@A.Example is a.example's.
  EXPECT_NE(text.find("\"two\nlines \"\"quoted\"\"\",t@A.Example\n"), std::string::npos) << text;
  EXPECT_EQ(pa.list_line(2), 2u);
  EXPECT_EQ(pa.list_line(3), 4u);  // the quoted row started on the list's line 4
  EXPECT_EQ(pa.list_line(99), 0u);
  if (b != a) {
    const ListPart& pb = split->parts[b];
    EXPECT_EQ(read(pb.path()), "name,Email\n\"Müller, Jürgen\",j@b.example\nBob,bob@b.example\n");
    EXPECT_EQ(pb.list_line(2), 3u);
    EXPECT_EQ(pb.list_line(3), 7u);  // after the blank line
  }
}

TEST_F(SplitTest, TheSameListIsCutIntoTheSameBytesAndBadRowsGoToOneNode) {
  std::string csv = "email,name\n";
  for (int i = 0; i < 200; ++i)
    csv += "u" + std::to_string(i) + "@d" + std::to_string(i % 17) + ".test,N\n";
  csv += "not-an-address,X\n,Y\n";
  const std::string list = write("l.csv", csv);
  const std::vector<std::string> nodes{"n1", "n2", "n3"};
  auto first = split_list(list, nodes, dir_.string());
  auto second = split_list(list, nodes, dir_.string());
  ASSERT_TRUE(first && second);
  const std::size_t bad_owner = owner_of("", nodes);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    EXPECT_EQ(read(first->parts[i].path()), read(second->parts[i].path())) << nodes[i];
    EXPECT_NE(first->parts[i].path(), second->parts[i].path());
  }
  const std::string bad = read(first->parts[bad_owner].path());
  EXPECT_NE(bad.find("not-an-address,X\n"), std::string::npos);
  EXPECT_NE(bad.find("\n,Y\n"), std::string::npos);
}

TEST_F(SplitTest, UnreadableRowsAreReturnedAndAListWithoutEmailIsNotSplit) {
  const std::string list = write("l.csv", "email\na@x.test\n\"open quote\nb@y.test\n");
  auto split = split_list(list, {"n1", "n2"}, dir_.string());
  ASSERT_TRUE(split);
  ASSERT_EQ(split->unreadable.size(), 1u);
  EXPECT_EQ(split->unreadable[0].line, 3u);
  EXPECT_NE(split->unreadable[0].reason.find("malformed CSV"), std::string::npos);
  auto none = split_list(write("n.csv", "address,name\na@x.test,A\n"), {"n1", "n2"}, dir_.string());
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->split);
  EXPECT_TRUE(none->parts.empty());
}

TEST_F(SplitTest, APartsRowsTakenOverKeepTheirListLinesAndThePartFilesGoWithTheParts) {
  std::string csv = "email\n";
  for (int i = 0; i < 40; ++i) csv += "u@d" + std::to_string(i) + ".test\n";
  const std::vector<std::string> nodes{"n1", "n2"};
  std::string kept_path;
  {
    auto split = split_list(write("l.csv", csv), nodes, dir_.string());
    ASSERT_TRUE(split);
    ListPart& here = split->parts[0];
    const ListPart& gone = split->parts[1];
    const uint64_t before = here.rows();
    ASSERT_GT(gone.rows(), 0u);
    ASSERT_TRUE(here.take_rows_of(gone));
    ASSERT_TRUE(here.close());
    EXPECT_EQ(here.rows(), before + gone.rows());
    const std::string text = read(here.path());
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 41);
    // The first row of the part that went: its line in `here` is after here's own rows.
    EXPECT_EQ(here.list_line(static_cast<std::size_t>(before) + 2), gone.list_line(2));
    std::set<std::size_t> lines;
    for (std::size_t l = 2; l <= 41; ++l) lines.insert(here.list_line(l));
    EXPECT_EQ(lines.size(), 40u);
    EXPECT_EQ(*lines.begin(), 2u);
    EXPECT_EQ(*lines.rbegin(), 41u);
    kept_path = here.path();
  }
  EXPECT_FALSE(std::filesystem::exists(kept_path));
}

}  // namespace
}  // namespace ringmta::cluster
