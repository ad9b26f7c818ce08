// Tests for ingest::ingest against a real storage::Queue in a temporary directory: accepted rows,
// the rejects file, duplicates, header errors, batching. They may not touch anything outside /tmp.
#include "ingest/ingest.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "storage/records.h"

namespace fs = std::filesystem;
using ringmta::ingest::ingest;
using ringmta::ingest::IngestOptions;
using ringmta::ingest::IngestSummary;

namespace {

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ringmta_ingest_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto q = ringmta::storage::Queue::open((dir_ / "queue").string());
    ASSERT_TRUE(q.ok()) << q.error().message;
    queue_ = std::move(q).value();
    options_.recipients_path = (dir_ / "rcpt.csv").string();
    options_.rejects_path = (dir_ / "rejects.csv").string();
    options_.envelope_sender = "bounce@shop.example";
    options_.campaign = "spring";
    options_.raw_message =
        "From: Shop <news@shop.example>\nSubject: Hi {{name}}\n\nDear {{name}}\n";
  }
  void TearDown() override {
    queue_.reset();
    fs::remove_all(dir_);
  }
  void write_csv(const std::string& data) {
    std::ofstream(options_.recipients_path, std::ios::binary) << data;
  }
  std::string rejects() {
    std::ifstream in(options_.rejects_path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::vector<ringmta::storage::QueueEntry> all_entries() {
    std::vector<ringmta::storage::QueueEntry> out;
    for (int p = 0; p < ringmta::storage::kPartitions; ++p) {
      std::optional<ringmta::storage::QueueKey> after;
      for (;;) {
        auto r =
            queue_->fetch_ready(static_cast<uint8_t>(p), ringmta::unix_now() + 10, 1000, after);
        EXPECT_TRUE(r.ok());
        if (!r.ok() || r->empty()) break;
        after = r->back().key;
        for (auto& e : *r) out.push_back(std::move(e));
      }
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.record.address < b.record.address; });
    return out;
  }

  fs::path dir_;
  std::unique_ptr<ringmta::storage::Queue> queue_;
  IngestOptions options_;
};

TEST_F(IngestTest, AcceptsRowsAndStoresMessage) {
  options_.raw_message =
      "From: news@shop.example\nTo: {{EMAIL}}\nSubject: {{code}} for {{name}}\n\nx\n";
  write_csv(
      "\xEF\xBB\xBF Email ,name,code,unused\nann@Example.COM,Ann,A1,z\nbob@x.example,Bob,B2,z\n");
  auto r = ingest(*queue_, options_);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->accepted, 2u);
  EXPECT_EQ(r->rejected_rows, 0u);
  EXPECT_EQ(r->duplicates, 0u);
  auto m = queue_->get_message(r->message);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->raw, options_.raw_message);
  EXPECT_EQ(m->envelope_sender, "bounce@shop.example");
  EXPECT_EQ(m->campaign, "spring");
  EXPECT_EQ(m->fields, (std::vector<std::string>{"EMAIL", "code", "name"}));
  auto entries = all_entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].record.address, "ann@example.com");
  EXPECT_EQ(entries[0].domain, "example.com");
  EXPECT_EQ(entries[0].record.values, (std::vector<std::string>{"ann@example.com", "A1", "Ann"}));
  EXPECT_EQ(entries[1].record.values, (std::vector<std::string>{"bob@x.example", "B2", "Bob"}));
  EXPECT_FALSE(std::filesystem::exists(options_.rejects_path)) << "no row rejected: no file";
}

TEST_F(IngestTest, RejectsFileAndCounts) {
  write_csv(
      "email,name\n"
      "good@x.example,Good\n"               // 2 accepted
      "no-domain,Nobody\n"                  // 3 invalid address
      "short@x.example\n"                   // 4 wrong column count
      "evil@x.example,\"x\r\nBcc: v@x\"\n"  // 5-6 header injection
      "bad\"quote@x.example,Q\n"            // 7 malformed CSV
      ",Empty\n"                            // 8 missing address
      "\"a,b\"@x.example,Comma\n"           // 9 malformed (text after quote)
      "last@x.example,Last\n");             // 10 accepted
  auto r = ingest(*queue_, options_);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->accepted, 2u);
  EXPECT_EQ(r->rejected_rows, 6u);
  const std::string rej = rejects();
  EXPECT_EQ(rej.substr(0, 18), "line,reason,email\n");
  std::vector<std::string> lines;
  std::stringstream ss(rej);
  for (std::string l; std::getline(ss, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 7u) << rej;  // the header and 6 rejects
  EXPECT_EQ(lines[1], "3,address: no domain,no-domain");
  EXPECT_EQ(lines[2], "4,\"1 columns, expected 2\",short@x.example");
  EXPECT_EQ(lines[3], "5,field name: line break in a header value,evil@x.example");
  EXPECT_EQ(lines[4].substr(0, 2), "7,");
  EXPECT_NE(lines[4].find("malformed CSV"), std::string::npos);
  EXPECT_EQ(lines[5].substr(0, 2), "8,");
  EXPECT_EQ(lines[6].substr(0, 2), "9,");
  EXPECT_EQ(all_entries().size(), 2u);
}

TEST_F(IngestTest, DuplicatesCountedAndSkipped) {
  write_csv(
      "email,name\n"
      "a@x.example,1\n"
      "a@X.EXAMPLE,2\n"    // same after domain lower-casing
      "<a@x.example>,3\n"  // same address in brackets
      "A@x.example,4\n"    // different local part: not a duplicate
      "bad@,5\n"
      "b@y.example,6\n"
      "b@y.example,7\n");
  auto r = ingest(*queue_, options_);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->accepted, 3u);
  EXPECT_EQ(r->duplicates, 3u);
  EXPECT_EQ(r->rejected_rows, 1u);
  auto entries = all_entries();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].record.address, "A@x.example");
  EXPECT_EQ(entries[1].record.address, "a@x.example");
  EXPECT_EQ(entries[1].record.values, (std::vector<std::string>{"1"}));  // the first one wins
}

TEST_F(IngestTest, MissingTemplateFieldIsAnError) {
  options_.raw_message = "Subject: {{name}}\n\n{{coupon}}\n";
  write_csv("email,name\na@x.example,A\n");
  auto r = ingest(*queue_, options_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("coupon"), std::string::npos) << r.error().message;
  EXPECT_TRUE(all_entries().empty());
}

TEST_F(IngestTest, HeaderWithoutEmailIsAnError) {
  write_csv("mail,name\na@x.example,A\n");
  auto r = ingest(*queue_, options_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("no \"email\" column (found \"mail\", \"name\")"),
            std::string::npos)
      << r.error().message;
  write_csv("email;name\na@x.example;A\n");  // a spreadsheet's "CSV" with ';'
  r = ingest(*queue_, options_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("separated by ';'"), std::string::npos) << r.error().message;
  write_csv("email\tname\na@x.example\tA\n");
  r = ingest(*queue_, options_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("separated by tabs"), std::string::npos) << r.error().message;
  write_csv("");
  EXPECT_FALSE(ingest(*queue_, options_).ok());
}

TEST_F(IngestTest, BadTemplateAndMissingFilesAreErrors) {
  write_csv("email\na@x.example\n");
  options_.raw_message = "not a header\n\nbody\n";
  auto r = ingest(*queue_, options_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("line 1"), std::string::npos);
  options_.raw_message = "Subject: x\n\nbody\n";
  options_.recipients_path = (dir_ / "missing.csv").string();
  EXPECT_FALSE(ingest(*queue_, options_).ok());
  options_.recipients_path = (dir_ / "rcpt.csv").string();
  options_.rejects_path = (dir_ / "no" / "such" / "dir.csv").string();
  EXPECT_FALSE(ingest(*queue_, options_).ok());
}

TEST_F(IngestTest, NoRejectsFileStillCounts) {
  options_.rejects_path.clear();
  write_csv("email,name\nbad,B\nok@x.example,O\n");
  auto r = ingest(*queue_, options_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->accepted, 1u);
  EXPECT_EQ(r->rejected_rows, 1u);
}

TEST_F(IngestTest, BatchesReportProgress) {
  std::string csv = "email,name\n";
  const std::size_t n = ringmta::ingest::kBatch * 2 + 123;
  for (std::size_t i = 0; i < n; ++i)
    csv += "u" + std::to_string(i) + "@d" + std::to_string(i % 7) + ".example,N\n";
  write_csv(csv);
  std::vector<uint64_t> seen;
  auto r = ingest(*queue_, options_, [&](const IngestSummary& s) { seen.push_back(s.accepted); });
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->accepted, n);
  EXPECT_EQ(seen, (std::vector<uint64_t>{ringmta::ingest::kBatch, 2 * ringmta::ingest::kBatch, n}));
  EXPECT_EQ(queue_->counts(ringmta::unix_now() + 10)->total(), n);
}

TEST_F(IngestTest, SuppressedAddressesAreSkippedIgnoringCaseAcrossBatches) {
  ringmta::storage::SuppressionList list(*queue_);
  ASSERT_TRUE(list.add(std::vector<ringmta::storage::SuppressionEntry>{
                           {.address = "Gone@D1.example", .category = "manual"},
                           {.address = "u20005@d6.example", .category = "import"},
                           {.address = "never-listed@nowhere.example", .category = "manual"}})
                  .ok());
  std::string csv = "email,name\ngone@d1.example,Gone\nGONE@d1.example,Again\n";
  const std::size_t n = ringmta::ingest::kBatch * 2 + 10;  // u20005 is in the third batch
  for (std::size_t i = 0; i < n; ++i)
    csv += "u" + std::to_string(i) + "@d" + std::to_string(i % 7) + ".example,N\n";
  write_csv(csv);
  auto r = ingest(*queue_, options_);
  ASSERT_TRUE(r.ok()) << r.error().message;
  // "GONE@d1.example" keeps its local part's case, so it is no duplicate of the first row; the
  // suppression list ignores case and takes both.
  EXPECT_EQ(r->suppressed, 3u);
  EXPECT_EQ(r->accepted, n - 1);
  EXPECT_EQ(queue_->counts(ringmta::unix_now() + 10)->total(), n - 1);

  options_.skip_suppressed = false;  // --ignore-suppression
  options_.campaign = "again";
  auto all = ingest(*queue_, options_);
  ASSERT_TRUE(all.ok()) << all.error().message;
  EXPECT_EQ(all->suppressed, 0u);
  EXPECT_EQ(all->accepted, n + 2);
}

}  // namespace
