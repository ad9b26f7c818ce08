// Inbound reports: a Postfix DSN (as its bounce daemon writes it), ringmta's own DSN from
// bounce/dsn, an ARF complaint, folded headers and quoted boundaries, and messages that are not
// reports. No files: the messages are literals.
#include <gtest/gtest.h>

#include "bounce/dsn.h"
#include "bounce/inbound.h"

namespace ringmta::bounce {
namespace {

constexpr const char* kPostfixBounce =
    "Return-Path: <>\n"
    "Delivered-To: news+m42-ann=example.org@bounces.test\n"
    "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\n"
    "Subject: Undelivered Mail Returned to Sender\n"
    "To: news+m42-ann=example.org@bounces.test\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/report; report-type=delivery-status;\n"
    "\tboundary=\"8C1A2.1700000000/mx.example.org\"\n"
    "\n"
    "This is a MIME-encapsulated message.\n"
    "\n"
    "--8C1A2.1700000000/mx.example.org\n"
    "Content-Description: Notification\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "I'm sorry to have to inform you that your message could not\n"
    "be delivered to one or more recipients.\n"
    "\n"
    "--8C1A2.1700000000/mx.example.org\n"
    "Content-Description: Delivery report\n"
    "Content-Type: message/delivery-status\n"
    "\n"
    "Reporting-MTA: dns; mx.example.org\n"
    "X-Postfix-Queue-ID: 8C1A2\n"
    "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000 (UTC)\n"
    "\n"
    "Final-Recipient: rfc822; ann@example.org\n"
    "Original-Recipient: rfc822;ann@example.org\n"
    "Action: failed\n"
    "Status: 5.1.1\n"
    "Diagnostic-Code: X-Postfix; unknown user: \"ann\"\n"
    "\n"
    "--8C1A2.1700000000/mx.example.org\n"
    "Content-Description: Undelivered Message Headers\n"
    "Content-Type: text/rfc822-headers\n"
    "\n"
    "Message-ID: <abc.1@news.example.org>\n"
    "Subject: Issue 7\n"
    "\n"
    "--8C1A2.1700000000/mx.example.org--\n";

TEST(InboundReport, PostfixBounceWithFoldedContentType) {
  auto r = parse_inbound_report(kPostfixBounce);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->kind, InboundReport::Kind::kDeliveryStatus);
  ASSERT_GE(r->delivered_to.size(), 1u);
  EXPECT_EQ(r->delivered_to[0], "news+m42-ann=example.org@bounces.test");
  ASSERT_EQ(r->recipients.size(), 1u);
  EXPECT_EQ(r->recipients[0].address, "ann@example.org");
  EXPECT_EQ(r->recipients[0].action, "failed");
  EXPECT_EQ(r->recipients[0].status, "5.1.1");
  EXPECT_EQ(r->recipients[0].diagnostic, "unknown user: \"ann\"");
  EXPECT_EQ(r->original_message_id, "abc.1@news.example.org");
}

TEST(InboundReport, ReadsBackWhatBuildDsnWrites) {
  DsnInput in;
  in.reporting_mta = "mail.example.org";
  in.envelope_sender = "news@example.org";
  in.original_headers = "Message-ID: <m1@example.org>\r\nSubject: hi";
  in.now = 1'767'225'600;
  in.arrival_date = in.now - 60;
  in.unique = "u1";
  for (const char* a : {"a@x.org", "b@y.org"}) {
    DsnRecipient r;
    r.final_recipient = a;
    r.action = DsnAction::kFailed;
    r.status = "5.1.1";
    r.remote_mta = "mx.x.org";
    r.diagnostic = "550 5.1.1 no such user";
    r.last_attempt = in.now;
    in.recipients.push_back(r);
  }
  auto dsn = build_dsn(in);
  ASSERT_TRUE(dsn.ok()) << dsn.error().message;
  auto r = parse_inbound_report(*dsn);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->recipients.size(), 2u);
  EXPECT_EQ(r->recipients[1].address, "b@y.org");
  EXPECT_EQ(r->recipients[1].diagnostic, "550 5.1.1 no such user");
  EXPECT_EQ(r->recipients[1].remote_mta, "mx.x.org");
  EXPECT_EQ(r->original_message_id, "m1@example.org");
}

TEST(InboundReport, ArfComplaint) {
  auto r = parse_inbound_report(
      "From: fbl@isp.example\r\nTo: fbl@sender.test\r\n"
      "Content-Type: multipart/report; report-type=feedback-report; boundary=b1\r\n\r\n"
      "--b1\r\nContent-Type: text/plain\r\n\r\nA complaint.\r\n"
      "--b1\r\nContent-Type: message/feedback-report\r\n\r\n"
      "Feedback-Type: abuse\r\nUser-Agent: FBL/1.0\r\nVersion: 1\r\n"
      "Original-Mail-From: <news+m3-bob=isp.example@sender.test>\r\n"
      "Original-Rcpt-To: <bob@isp.example>\r\n\r\n"
      "--b1\r\nContent-Type: message/rfc822\r\n\r\nMessage-ID: <x@y>\r\nSubject: s\r\n\r\nbody\r\n"
      "--b1--\r\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->kind, InboundReport::Kind::kComplaint);
  EXPECT_EQ(r->feedback_type, "abuse");
  EXPECT_EQ(r->original_rcpt_to, "bob@isp.example");
  EXPECT_EQ(r->original_mail_from, "news+m3-bob=isp.example@sender.test");
  EXPECT_EQ(r->original_message_id, "x@y");
}

TEST(InboundReport, NotAReportIsAnError) {
  auto plain = parse_inbound_report("From: a@b\nSubject: hi\n\nhello\n");
  ASSERT_FALSE(plain.ok());
  EXPECT_NE(plain.error().message.find("no multipart/report"), std::string::npos);
  EXPECT_FALSE(parse_inbound_report("").ok());
  auto empty = parse_inbound_report(
      "Content-Type: multipart/report; report-type=delivery-status; boundary=q\n\n"
      "--q\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x\n\n--q--\n");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("without any recipient"), std::string::npos);
}

TEST(InboundReport, NestingIsBounded) {
  std::string msg;
  for (int i = 0; i < 50; ++i) {
    msg += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n--b" +
           std::to_string(i) + "\n";
  }
  EXPECT_FALSE(parse_inbound_report(msg).ok());  // no report found, and no deep recursion
}

}  // namespace
}  // namespace ringmta::bounce
