// Unit tests for bounce::build_dsn and bounce::should_bounce: the RFC 3464 / RFC 3462 structure
// (headers, three MIME parts, per-message and per-recipient fields), CRLF and line limits, and
// that reply texts and original headers cannot inject headers or MIME boundaries. Pure.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bounce/dsn.h"

namespace ringmta::bounce {
namespace {

constexpr int64_t kNow = 1767225600;  // Thu, 01 Jan 2026 00:00:00 +0000

DsnInput sample() {
  DsnInput in;
  in.reporting_mta = "mail.example.org";
  in.envelope_sender = "bounces@example.org";
  in.original_headers =
      "From: News <news@example.org>\r\nTo: someone@example.com\r\nSubject: Our news\r\n"
      "Message-ID: <abc@example.org>\r\n\r\nbody that must not be included\r\n";
  in.arrival_date = kNow - 3600;
  in.now = kNow;
  in.unique = "c1-42";
  DsnRecipient r;
  r.final_recipient = "someone@example.com";
  r.action = DsnAction::kFailed;
  r.status = "5.1.1";
  r.remote_mta = "mx.example.com";
  r.diagnostic = "550 5.1.1 <someone@example.com>: User unknown";
  r.last_attempt = kNow - 60;
  in.recipients.push_back(r);
  r.final_recipient = "other@example.net";
  r.status = "5.2.2";
  r.remote_mta = "mx.example.net";
  r.diagnostic = "smtp; 552 5.2.2 Mailbox full";
  in.recipients.push_back(r);
  return in;
}

std::vector<std::string> crlf_lines(const std::string& msg) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < msg.size()) {
    std::size_t end = msg.find("\r\n", pos);
    if (end == std::string::npos) {
      lines.push_back(msg.substr(pos));
      break;
    }
    lines.push_back(msg.substr(pos, end - pos));
    pos = end + 2;
  }
  return lines;
}

// Wire rules every DSN must follow: only CRLF line ends, no line over 998 octets, ends in CRLF.
void expect_wire_clean(const std::string& msg) {
  ASSERT_GE(msg.size(), 2u);
  EXPECT_EQ(msg.substr(msg.size() - 2), "\r\n");
  for (const std::string& line : crlf_lines(msg)) {
    EXPECT_EQ(line.find('\r'), std::string::npos) << line;
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;
    EXPECT_EQ(line.find('\0'), std::string::npos);
    EXPECT_LE(line.size(), 998u);
  }
}

std::string header_block(const std::string& msg) {
  return msg.substr(0, msg.find("\r\n\r\n") + 2);
}

std::string boundary_of(const std::string& msg) {
  std::size_t at = msg.find("boundary=\"");
  EXPECT_NE(at, std::string::npos);
  at += 10;
  return msg.substr(at, msg.find('"', at) - at);
}

// The parts between the boundaries (without the delimiter lines' CRLFs), in order.
std::vector<std::string> parts_of(const std::string& msg) {
  std::string delim = "\r\n--" + boundary_of(msg);
  std::vector<std::string> parts;
  std::size_t at = msg.find(delim);
  while (at != std::string::npos) {
    std::size_t start = at + delim.size();
    if (msg.compare(start, 2, "--") == 0) break;  // the close delimiter
    start += 2;                                   // CRLF after the delimiter
    std::size_t next = msg.find(delim, start);
    parts.push_back(msg.substr(start, next - start));
    at = next;
  }
  return parts;
}

std::string part_body(const std::string& part) {
  return part.substr(part.find("\r\n\r\n") + 4);
}

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(BounceDsn, Structure) {
  auto dsn = build_dsn(sample());
  ASSERT_TRUE(dsn) << dsn.error().message;
  const std::string& msg = *dsn;
  expect_wire_clean(msg);
  std::string h = header_block(msg);
  EXPECT_TRUE(has(h, "From: Mail Delivery System <MAILER-DAEMON@mail.example.org>\r\n"));
  EXPECT_TRUE(has(h, "To: <bounces@example.org>\r\n"));
  EXPECT_TRUE(has(h, "Subject: Undelivered Mail Returned to Sender\r\n"));
  EXPECT_TRUE(has(h, "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"));
  EXPECT_TRUE(has(h, "Message-ID: <dsn.c1-42@mail.example.org>\r\n"));
  EXPECT_TRUE(has(h, "Auto-Submitted: auto-replied\r\n"));
  EXPECT_TRUE(has(h, "MIME-Version: 1.0\r\n"));
  EXPECT_TRUE(
      has(h, "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="));
  EXPECT_EQ(boundary_of(msg), "=_ringmta-dsn-c1-42");

  auto parts = parts_of(msg);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_TRUE(
      parts[0].starts_with("Content-Description: Notification\r\n"
                           "Content-Type: text/plain; charset=us-ascii\r\n\r\n"));
  EXPECT_TRUE(has(parts[0], "<someone@example.com>: host mx.example.com said: 550 5.1.1"));
  EXPECT_TRUE(has(parts[0], "mail.example.org"));
  EXPECT_TRUE(has(parts[1], "Content-Type: message/delivery-status\r\n\r\n"));
  EXPECT_TRUE(has(parts[2], "Content-Type: text/rfc822-headers\r\n\r\n"));
  EXPECT_TRUE(msg.ends_with("\r\n--=_ringmta-dsn-c1-42--\r\n"));

  // The delivery-status body: per-message fields, then each recipient after a blank line.
  EXPECT_EQ(part_body(parts[1]),
            "Reporting-MTA: dns; mail.example.org\r\n"
            "Arrival-Date: Wed, 31 Dec 2025 23:00:00 +0000\r\n"
            "\r\n"
            "Final-Recipient: rfc822; someone@example.com\r\n"
            "Action: failed\r\n"
            "Status: 5.1.1\r\n"
            "Remote-MTA: dns; mx.example.com\r\n"
            "Diagnostic-Code: smtp; 550 5.1.1 <someone@example.com>: User unknown\r\n"
            "Last-Attempt-Date: Wed, 31 Dec 2025 23:59:00 +0000\r\n"
            "\r\n"
            "Final-Recipient: rfc822; other@example.net\r\n"
            "Action: failed\r\n"
            "Status: 5.2.2\r\n"
            "Remote-MTA: dns; mx.example.net\r\n"
            "Diagnostic-Code: smtp; 552 5.2.2 Mailbox full\r\n"
            "Last-Attempt-Date: Wed, 31 Dec 2025 23:59:00 +0000\r\n");
  // Only the original header block, never its body.
  EXPECT_EQ(part_body(parts[2]),
            "From: News <news@example.org>\r\nTo: someone@example.com\r\nSubject: Our news\r\n"
            "Message-ID: <abc@example.org>\r\n");
  EXPECT_FALSE(has(msg, "body that must not be included"));
}

TEST(BounceDsn, DeterministicAndUnique) {
  DsnInput in = sample();
  auto a = build_dsn(in);
  auto b = build_dsn(in);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  in.unique = "c1-43";
  auto c = build_dsn(in);
  ASSERT_TRUE(c);
  EXPECT_NE(boundary_of(*a), boundary_of(*c));
  EXPECT_TRUE(has(*c, "Message-ID: <dsn.c1-43@mail.example.org>"));
}

TEST(BounceDsn, ReplyTextCannotInject) {
  DsnInput in = sample();
  in.recipients[0].diagnostic =
      "550 5.1.1 bad\r\nBcc: victim@example.net\r\n\r\n--=_ringmta-dsn-c1-42--\r\nX: \x01\x7f\xff";
  in.recipients[0].remote_mta = "mx.example.com";
  auto dsn = build_dsn(in);
  ASSERT_TRUE(dsn) << dsn.error().message;
  expect_wire_clean(*dsn);
  for (const std::string& line : crlf_lines(*dsn)) {
    EXPECT_FALSE(line.starts_with("Bcc:")) << line;
    EXPECT_FALSE(line.starts_with("X: ")) << line;
  }
  // The boundary that the reply tried to close is not the one in use.
  std::string boundary = boundary_of(*dsn);
  EXPECT_NE(boundary, "=_ringmta-dsn-c1-42");
  EXPECT_EQ(parts_of(*dsn).size(), 3u);
  std::string unfolded = *dsn;
  std::size_t fold;
  while ((fold = unfolded.find("\r\n ")) != std::string::npos) unfolded.erase(fold, 2);
  EXPECT_TRUE(has(unfolded,
                  "Diagnostic-Code: smtp; 550 5.1.1 bad Bcc: victim@example.net "
                  "--=_ringmta-dsn-c1-42-- X: ?\r\n"));
}

TEST(BounceDsn, BoundaryAvoidsOriginalHeaders) {
  DsnInput in = sample();
  in.original_headers = "Subject: --=_ringmta-dsn-c1-42 and --=_ringmta-dsn-c1-42-1\r\n";
  auto dsn = build_dsn(in);
  ASSERT_TRUE(dsn);
  EXPECT_EQ(boundary_of(*dsn), "=_ringmta-dsn-c1-42-2");
  EXPECT_EQ(parts_of(*dsn).size(), 3u);
}

TEST(BounceDsn, LongValuesAreFolded) {
  DsnInput in = sample();
  std::string words;
  for (int i = 0; i < 400; ++i) words += "word" + std::to_string(i) + " ";
  in.recipients[0].diagnostic = "550 5.7.1 " + words;
  in.recipients[1].diagnostic = "550 5.7.1 " + std::string(5000, 'x');  // no place to fold
  auto dsn = build_dsn(in);
  ASSERT_TRUE(dsn);
  expect_wire_clean(*dsn);
  std::string report = part_body(parts_of(*dsn)[1]);
  // Folded at spaces: every line of the first Diagnostic-Code is short.
  std::size_t at = report.find("Diagnostic-Code: smtp; 550 5.7.1 word0");
  ASSERT_NE(at, std::string::npos);
  std::size_t end = report.find("\r\nLast-Attempt-Date", at);
  for (const std::string& line : crlf_lines(report.substr(at, end - at))) {
    EXPECT_LE(line.size(), 78u) << line;
  }
  // Unfolded, it is the sanitised text, capped at 2,000 characters.
  std::string unfolded = report.substr(at, end - at);
  std::size_t fold;
  while ((fold = unfolded.find("\r\n ")) != std::string::npos) unfolded.erase(fold, 2);
  EXPECT_TRUE(unfolded.starts_with("Diagnostic-Code: smtp; 550 5.7.1 word0 word1 word2"));
  EXPECT_LE(unfolded.size(), std::string("Diagnostic-Code: smtp; ").size() + 2000);
}

TEST(BounceDsn, OriginalHeadersNormalised) {
  DsnInput in = sample();
  in.original_headers = "Subject: a\nX-Long: " + std::string(2500, 'y') + "\nX-Nul: a";
  in.original_headers += '\0';
  in.original_headers += "b\rc\nX-Utf8: caf\xc3\xa9\n\nbody\n";
  auto dsn = build_dsn(in);
  ASSERT_TRUE(dsn);
  expect_wire_clean(*dsn);
  auto parts = parts_of(*dsn);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_TRUE(has(parts[2], "Content-Transfer-Encoding: 8bit\r\n"));
  std::string body = part_body(parts[2]);
  EXPECT_TRUE(body.starts_with("Subject: a\r\nX-Long: yyy"));
  EXPECT_TRUE(has(body, "\r\n yyy"));  // the long line goes on as a folded continuation
  EXPECT_TRUE(has(body, "X-Nul: a b c\r\n"));
  EXPECT_TRUE(has(body, "X-Utf8: caf\xc3\xa9\r\n"));
  EXPECT_FALSE(has(body, "body"));
}

TEST(BounceDsn, NoHeadersNoThirdPart) {
  DsnInput in = sample();
  in.original_headers.clear();
  auto dsn = build_dsn(in);
  ASSERT_TRUE(dsn);
  EXPECT_EQ(parts_of(*dsn).size(), 2u);
  EXPECT_FALSE(has(*dsn, "text/rfc822-headers"));
}

TEST(BounceDsn, Delayed) {
  DsnInput in = sample();
  in.recipients.resize(1);
  in.recipients[0].action = DsnAction::kDelayed;
  in.recipients[0].status = "4.2.2";
  in.recipients[0].diagnostic = "452 4.2.2 over quota";
  in.recipients[0].will_retry_until = kNow + 86400;
  in.recipients[0].remote_mta.clear();
  in.original_envelope_id = "campaign-7";
  auto dsn = build_dsn(in);
  ASSERT_TRUE(dsn) << dsn.error().message;
  EXPECT_TRUE(has(*dsn, "Subject: Delayed Mail (still being retried)\r\n"));
  std::string report = part_body(parts_of(*dsn)[1]);
  EXPECT_TRUE(has(report, "Original-Envelope-Id: campaign-7\r\n"));
  EXPECT_TRUE(has(report, "Action: delayed\r\nStatus: 4.2.2\r\n"));
  EXPECT_TRUE(has(report, "Will-Retry-Until: Fri, 02 Jan 2026 00:00:00 +0000\r\n"));
  EXPECT_FALSE(has(report, "Remote-MTA"));
  EXPECT_TRUE(has(*dsn, "This is a warning only"));
}

TEST(BounceDsn, ReportingDomainAndLiteralRemote) {
  DsnInput in = sample();
  in.reporting_domain = "example.org";
  in.recipients[0].remote_mta = "[192.0.2.1]";
  auto dsn = build_dsn(in);
  ASSERT_TRUE(dsn) << dsn.error().message;
  EXPECT_TRUE(has(*dsn, "From: Mail Delivery System <MAILER-DAEMON@example.org>\r\n"));
  EXPECT_TRUE(has(*dsn, "Remote-MTA: dns; [192.0.2.1]\r\n"));
}

TEST(BounceDsn, Errors) {
  struct Bad {
    void (*edit)(DsnInput&);
    const char* want;
  };
  const Bad cases[] = {
      {[](DsnInput& in) { in.envelope_sender = ""; }, "no DSN to sender"},
      {[](DsnInput& in) { in.envelope_sender = "<>"; }, "no DSN to sender"},
      {[](DsnInput& in) { in.envelope_sender = "MAILER-DAEMON@example.net"; }, "no DSN to sender"},
      {[](DsnInput& in) { in.recipients.clear(); }, "at least one recipient"},
      {[](DsnInput& in) { in.recipients[1].status = "4.2.2"; }, "recipient 2: status '4.2.2'"},
      {[](DsnInput& in) { in.recipients[0].status = "5.1"; }, "recipient 1: status"},
      {[](DsnInput& in) { in.recipients[0].status = "5.1.1\r\nX: y"; }, "recipient 1: status"},
      {[](DsnInput& in) { in.recipients[0].final_recipient = "no at sign"; }, "recipient 1: "},
      {[](DsnInput& in) { in.recipients[0].final_recipient = "a@b\r\nBcc: c@d"; }, "recipient 1: "},
      {[](DsnInput& in) { in.recipients[0].remote_mta = "mx.example.com\r\nX: y"; },
       "recipient 1: invalid remote MTA"},
      {[](DsnInput& in) { in.reporting_mta = "mail example"; }, "invalid reporting MTA"},
      {[](DsnInput& in) { in.reporting_domain = "a\r\nb"; }, "invalid reporting domain"},
      {[](DsnInput& in) { in.unique = "a b"; }, "unique token"},
      {[](DsnInput& in) { in.unique = ""; }, "unique token"},
  };
  for (const Bad& b : cases) {
    DsnInput in = sample();
    b.edit(in);
    auto dsn = build_dsn(in);
    ASSERT_FALSE(dsn) << b.want;
    EXPECT_TRUE(has(dsn.error().message, b.want)) << dsn.error().message;
    EXPECT_FALSE(has(dsn.error().message, "\n")) << "errors are one line";
  }
}

TEST(BounceDsn, ShouldBounce) {
  EXPECT_TRUE(should_bounce("bounces@example.org"));
  EXPECT_TRUE(should_bounce("<bounces@example.org>"));
  EXPECT_TRUE(should_bounce("news+c42=someone=example.com@example.org"));  // VERP-style
  EXPECT_TRUE(should_bounce("postmasters@example.org"));
  EXPECT_FALSE(should_bounce(""));
  EXPECT_FALSE(should_bounce("<>"));
  EXPECT_FALSE(should_bounce("  <>  "));
  EXPECT_FALSE(should_bounce("MAILER-DAEMON@example.net"));
  EXPECT_FALSE(should_bounce("mailer-daemon@example.net"));
  EXPECT_FALSE(should_bounce("<Mailer-Daemon@example.net>"));
  EXPECT_FALSE(should_bounce("postmaster@example.net"));
  EXPECT_FALSE(should_bounce("Postmaster+x@example.net"));
  EXPECT_FALSE(should_bounce("double-bounce@example.net"));
  EXPECT_FALSE(should_bounce("\"postmaster\"@example.net"));
  EXPECT_FALSE(should_bounce("not an address"));
  EXPECT_FALSE(should_bounce("a@b\r\nRCPT TO:<x@y>"));
}

TEST(BounceDsn, SanitizeField) {
  EXPECT_EQ(sanitize_field("  a\r\n\tb  c\x01 "), "a b c");
  EXPECT_EQ(sanitize_field("caf\xc3\xa9"), "caf??");
  EXPECT_EQ(sanitize_field(std::string(50, 'x'), 10), std::string(10, 'x'));
  EXPECT_EQ(sanitize_field(""), "");
}

}  // namespace
TEST(BounceDsn, ReportsRoundTripAndSanitise) {
  DsnRecipient r;
  r.final_recipient = "a@b.example";
  r.status = "5.1.1";
  r.remote_mta = "mx.b.example";
  r.diagnostic = "550 5.1.1 no\tsuch\r\nuser";
  r.last_attempt = 1700000000;
  auto back = decode_report(encode_report(r));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->final_recipient, r.final_recipient);
  EXPECT_EQ(back->status, "5.1.1");
  EXPECT_EQ(back->remote_mta, "mx.b.example");
  EXPECT_EQ(back->diagnostic, "550 5.1.1 no such user");
  EXPECT_EQ(back->last_attempt, 1700000000);
  EXPECT_EQ(back->action, DsnAction::kFailed);
  EXPECT_FALSE(decode_report("failed\ta@b").ok());
  EXPECT_FALSE(decode_report("failed\ta\t5.1.1\t\t\tx\t0").ok());
}

}  // namespace ringmta::bounce
