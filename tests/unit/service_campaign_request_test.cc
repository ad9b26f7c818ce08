// Tests for parse_campaign_request: the fields it takes, the CSV it writes for ingest, and the
// error (with the field named) for each kind of bad body. No sockets, no files.
#include <gtest/gtest.h>

#include <string>

#include "service/campaign_request.h"

using ringmta::service::parse_campaign_request;

namespace {

constexpr const char* kMessage =
    R"("From: News <news@example.org>\r\nSubject: Hi {{name}}\r\n\r\nHello\r\n")";

std::string body(const std::string& recipients, const std::string& extra = "") {
  return std::string("{\"message\": ") + kMessage + extra + ", \"recipients\": " + recipients + "}";
}

void expect_error(const std::string& text, const std::string& field, const std::string& words) {
  auto parsed = parse_campaign_request(text);
  ASSERT_FALSE(parsed.ok) << text;
  EXPECT_EQ(parsed.error.field, field) << text;
  EXPECT_NE(parsed.error.message.find(words), std::string::npos)
      << parsed.error.message << "\n for " << text;
}

TEST(CampaignRequest, TakesTheMessageTheOptionsAndTheRecipientsAsCsvRows) {
  auto parsed = parse_campaign_request(body(
      R"([{"email": "ann@example.net", "name": "Ann"}, {"name": "Bob, Jr.", "email": "bob@example.net"}])",
      R"(, "campaign": "spring", "sender": "b@example.org", "verp": true, "list_id": "News <n.example.org>",
         "unsubscribe_url": "https://example.org/u/{token}", "ignore_suppression": false, "new_campaign": true)"));
  ASSERT_TRUE(parsed.ok) << parsed.error.message;
  const auto& r = parsed.request;
  EXPECT_EQ(r.message, "From: News <news@example.org>\r\nSubject: Hi {{name}}\r\n\r\nHello\r\n");
  EXPECT_EQ(r.campaign, "spring");
  EXPECT_EQ(r.sender, "b@example.org");
  EXPECT_TRUE(r.verp);
  EXPECT_TRUE(r.new_campaign);
  EXPECT_EQ(r.list.list_id, "News <n.example.org>");
  EXPECT_EQ(r.list.unsubscribe_url, "https://example.org/u/{token}");
  // The first recipient's keys are the columns, in its order; a later one's order does not matter.
  EXPECT_EQ(r.csv, "email,name\nann@example.net,Ann\nbob@example.net,\"Bob, Jr.\"\n");
  EXPECT_EQ(r.row_lines, (std::vector<std::size_t>{2, 3}));
}

TEST(CampaignRequest, AMissingColumnNullAndNumbersAreValues) {
  auto parsed = parse_campaign_request(body(
      R"([{"email": "a@x.org", "name": "A", "age": 41}, {"email": "b@x.org", "name": null}, {"email": "c@x.org", "age": 1.5}])"));
  ASSERT_TRUE(parsed.ok) << parsed.error.message;
  EXPECT_EQ(parsed.request.csv,
            "email,name,age\na@x.org,A,41\nb@x.org,\"\",\"\"\nc@x.org,\"\",1.5\n");
}

TEST(CampaignRequest, ARowThatSpansLinesKeepsTheLineMapRight) {
  auto parsed = parse_campaign_request(
      body(R"([{"email": "a@x.org", "name": "two\nlines"}, {"email": "b@x.org", "name": "B"}])"));
  ASSERT_TRUE(parsed.ok) << parsed.error.message;
  EXPECT_EQ(parsed.request.row_lines, (std::vector<std::size_t>{2, 4}));
  EXPECT_EQ(parsed.request.recipient_at_line(4), 1);
  EXPECT_EQ(parsed.request.recipient_at_line(3), -1);
}

TEST(CampaignRequest, EachBadBodyNamesItsField) {
  expect_error("", "", "not valid JSON");
  expect_error("[1]", "", "must be a JSON object");
  expect_error("{\"message\": \"x\", \"recipients\": [", "", "not valid JSON");
  expect_error(R"({"recipients": [{"email": "a@x.org"}]})", "message", "missing");
  expect_error(std::string("{\"message\": ") + kMessage + "}", "recipients", "missing");
  expect_error(body("[]"), "recipients", "empty");
  expect_error(body("{}"), "recipients", "must be an array of objects");
  expect_error(body("[\"a@x.org\"]"), "recipients[0]", "must be an object");
  expect_error(body(R"([{"name": "A"}])"), "recipients[0]", "no \"email\"");
  expect_error(body(R"([{"email": "a@x.org"}, {"email": "b@x.org", "city": "Oslo"}])"),
               "recipients[1].city", "not a key of recipients[0]");
  expect_error(body(R"([{"email": "a@x.org", "email": "b@x.org"}])"), "recipients[0].email",
               "given twice");
  expect_error(body(R"([{"email": ["a@x.org"]}])"), "recipients[0].email",
               "must be a string or a number, not an array");
  expect_error(body(R"([{"email": {"deep": {"deeper": 1}}}])"), "recipients[0].email",
               "must be a string or a number, not an object");
  expect_error(body(R"([{"email": true}])"), "recipients[0].email", "not a boolean");
  expect_error(body(R"([{"email": "a@x.org"}])", R"(, "verp": "yes")"), "verp", "true or false");
  expect_error(body(R"([{"email": "a@x.org"}])", R"(, "campaign": 7)"), "campaign",
               "must be a string");
  expect_error(body(R"([{"email": "a@x.org"}])", R"(, "sender": {"a": 1})"), "sender",
               "must be a string, not an object");
  expect_error(body(R"([{"email": "a@x.org"}])", R"(, "subject": "x")"), "subject",
               "unknown field");
  expect_error(body(R"([{"email": "a@x.org"}])") + " trailing", "", "not valid JSON");
}

}  // namespace
