// The delivery log's line format (valid JSON, escaping, nulls where no server was involved) and
// DnsDestination::translate (what a DNS outcome means for the router: endpoints on --mx-port,
// NXDOMAIN 550 5.1.2, null MX 556 5.1.10, a failed lookup 451 4.4.3).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/delivery_log.h"
#include "engine/dns_destination.h"

namespace ringmta::engine {
namespace {

storage::QueueEntry entry() {
  storage::QueueEntry e;
  e.domain = "example.org";
  e.record.address = "ann\"\x01@example.org";
  e.record.attempts = 2;
  e.record.first_enqueued = 1'800'000'000;
  return e;
}

TEST(DeliveryLog, LineIsJsonWithEveryField) {
  storage::QueueEntry e = entry();
  protocol::Reply reply = protocol::Reply::make_local(250, "2.0.0", "queued as A1\r\nx");
  Attempt where{"mx1.example.org", "192.0.2.1:25", "TLSv1.3 TLS_AES_256_GCM_SHA384"};
  std::string out;
  format_delivery_line(out, {.unix_millis = 1'800'000'090'123,
                             .outcome = "delivered",
                             .campaign = "spring",
                             .entry = &e,
                             .reply = &reply,
                             .where = &where});
  ASSERT_EQ(out.back(), '\n');
  ASSERT_EQ(out.find('\n'), out.size() - 1) << "one line";
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["time"], "2027-01-15T08:01:30.123Z");
  EXPECT_EQ(j["outcome"], "delivered");
  EXPECT_EQ(j["campaign"], "spring");
  EXPECT_EQ(j["recipient"], "ann\"\x01@example.org");
  EXPECT_EQ(j["domain"], "example.org");
  EXPECT_EQ(j["attempt"], 3);
  EXPECT_EQ(j["queue_seconds"], 90);
  EXPECT_EQ(j["host"], "mx1.example.org");
  EXPECT_EQ(j["ip"], "192.0.2.1:25");
  EXPECT_EQ(j["tls"], "TLSv1.3 TLS_AES_256_GCM_SHA384");
  EXPECT_EQ(j["reply"], reply.summary());
}

TEST(DeliveryLog, NoServerMeansNulls) {
  storage::QueueEntry e = entry();
  protocol::Reply reply = protocol::Reply::make_local(550, "5.1.2", "domain does not exist");
  Attempt nowhere;
  std::string out;
  format_delivery_line(out, {.unix_millis = 1'800'000'000'000,
                             .outcome = "failed",
                             .entry = &e,
                             .reply = &reply,
                             .where = &nowhere});
  auto j = nlohmann::json::parse(out);
  EXPECT_TRUE(j["host"].is_null());
  EXPECT_TRUE(j["ip"].is_null());
  EXPECT_TRUE(j["tls"].is_null());
  EXPECT_TRUE(j["campaign"].is_null());
  EXPECT_EQ(j["reply"], "550 5.1.2 domain does not exist");
  EXPECT_TRUE(j["category"].is_null());
  EXPECT_TRUE(j["hard"].is_null());
}

TEST(DeliveryLog, FailuresCarryTheirBounceCategory) {
  storage::QueueEntry e = entry();
  protocol::Reply reply = protocol::Reply::make_local(550, "5.1.1", "no such user");
  const bounce::Classification verdict = bounce::Classifier().classify(reply);
  Attempt where{"mx1.example.org", "192.0.2.1:25", ""};
  std::string out;
  format_delivery_line(out, {.unix_millis = 1'800'000'000'000,
                             .outcome = "failed",
                             .entry = &e,
                             .reply = &reply,
                             .where = &where,
                             .verdict = &verdict});
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["category"], "invalid_recipient");
  EXPECT_EQ(j["hard"], true);
}

TEST(DeliveryLog, RotatesBySizeKeepingTheNewestFiles) {
  auto dir =
      std::filesystem::temp_directory_path() / ("ringmta-dlog-rot-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "d.jsonl").string();
  auto log = DeliveryLog::open(path, {.max_bytes = 20, .keep = 2});
  ASSERT_TRUE(log.ok()) << log.error().message;
  for (int i = 0; i < 5; ++i) {  // 12-byte buffers: every second append reaches 20 bytes
    ASSERT_TRUE(log.value()->append("{\"n\":" + std::to_string(i) + "00000}\n").ok());
  }
  auto read = [](const std::string& p) {
    std::ifstream in(p);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  EXPECT_EQ(read(path), "{\"n\":400000}\n");
  EXPECT_EQ(read(path + ".1"), "{\"n\":200000}\n{\"n\":300000}\n");
  EXPECT_EQ(read(path + ".2"), "{\"n\":000000}\n{\"n\":100000}\n");
  EXPECT_FALSE(std::filesystem::exists(path + ".3"));
  ASSERT_TRUE(log.value()->append("{\"n\":500000}\n").ok());  // the oldest (.2) goes
  EXPECT_EQ(read(path + ".2"), "{\"n\":200000}\n{\"n\":300000}\n");
  EXPECT_EQ(read(path), "");
  std::filesystem::remove_all(dir);
}

TEST(DeliveryLog, AppendsWholeLinesToTheFile) {
  auto path = std::filesystem::temp_directory_path() /
              ("ringmta-dlog-" + std::to_string(::getpid()) + ".jsonl");
  std::filesystem::remove(path);
  {
    auto log = DeliveryLog::open(path.string());
    ASSERT_TRUE(log.ok()) << log.error().message;
    ASSERT_TRUE(log.value()->append("{\"a\":1}\n{\"a\":2}\n").ok());
  }
  auto again = DeliveryLog::open(path.string());
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(again.value()->append("{\"a\":3}\n").ok());
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n");
  std::filesystem::remove(path);
}

TEST(DeliveryLog, UnwritablePathIsAClearError) {
  auto log = DeliveryLog::open("/nonexistent-dir/x.jsonl");
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.error().message.find("/nonexistent-dir/x.jsonl"), std::string::npos);
}

TEST(DnsDestination, CandidatesBecomeEndpointsOnTheMxPort) {
  dns::DestinationAddresses found;
  found.candidates.push_back({"mx1.example.org", 10, *dns::IpAddress::parse("192.0.2.1")});
  found.candidates.push_back({"mx2.example.org", 20, *dns::IpAddress::parse("2001:db8::2")});
  DestinationResult r = DnsDestination::translate(found, 2525);
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.candidates.size(), 2u);
  EXPECT_EQ(r.candidates[0].endpoint.str(), "mx1.example.org (192.0.2.1:2525)");
  EXPECT_EQ(r.candidates[1].endpoint.str(), "mx2.example.org ([2001:db8::2]:2525)");
  EXPECT_EQ(r.candidates[1].preference, 20);
}

TEST(DnsDestination, FailuresBecomeLocalReplies) {
  auto failure = [](bool permanent, const char* code, const char* text) {
    dns::DestinationAddresses found;
    found.failure = dns::DnsFailure{permanent, code, text};
    return DnsDestination::translate(found, 25);
  };
  DestinationResult nx = failure(true, "5.1.2", "domain does not exist");
  EXPECT_FALSE(nx.ok);
  EXPECT_EQ(nx.failure.summary(), "550 5.1.2 domain does not exist");
  EXPECT_TRUE(nx.failure.local);
  EXPECT_EQ(failure(true, "5.1.10", "null MX").failure.code, 556);
  DestinationResult servfail = failure(false, "4.4.3", "DNS lookup failed, will retry");
  EXPECT_TRUE(servfail.failure.transient());
  EXPECT_EQ(servfail.failure.code, 451);
}

}  // namespace
}  // namespace ringmta::engine
