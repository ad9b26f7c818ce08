// Unit tests for SmtpServerSession: bytes in, replies and events out. No sockets, no clock.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "loadgen/smtp_server.h"

namespace ringmta::loadgen {
namespace {

ServerConfig config() {
  ServerConfig c;
  c.hostname = "sink.test";
  c.session_id = 0x2a;
  return c;
}

// Feeds `input` and returns the output produced by it (the greeting is dropped first).
std::string run(SmtpServerSession& s, std::string_view input) {
  s.feed(input);
  std::string out(s.output());
  s.clear_output();
  return out;
}

SmtpServerSession greeted_session() {
  SmtpServerSession s(config());
  s.clear_output();
  s.feed("EHLO client.test\r\n");
  s.clear_output();
  return s;
}

TEST(SmtpServerSession, GreetingAndEhlo) {
  SmtpServerSession s(config());
  EXPECT_EQ(s.output(), "220 sink.test ESMTP ringmta-sink\r\n");
  s.clear_output();
  EXPECT_EQ(run(s, "EHLO client.test\r\n"),
            "250-sink.test\r\n"
            "250-PIPELINING\r\n"
            "250-8BITMIME\r\n"
            "250-SIZE 104857600\r\n"
            "250-ENHANCEDSTATUSCODES\r\n"
            "250-CHUNKING\r\n"
            "250 SMTPUTF8\r\n");
  EXPECT_EQ(run(s, "HELO client.test\r\n"), "250 sink.test\r\n");
  EXPECT_EQ(run(s, "EHLO\r\n"), "501 5.5.4 Syntax: EHLO hostname\r\n");
}

TEST(SmtpServerSession, StartTlsOfferedOnlyWithACertificateAndOnlyOnce) {
  SmtpServerSession plain = greeted_session();
  EXPECT_EQ(run(plain, "STARTTLS\r\n"), "502 5.5.1 Error: command not implemented\r\n");
  EXPECT_FALSE(plain.starttls_requested());

  ServerConfig c = config();
  c.offer_starttls = true;
  SmtpServerSession s(c);
  s.clear_output();
  EXPECT_EQ(run(s, "STARTTLS\r\n"), "503 5.5.1 Error: send EHLO first\r\n");
  EXPECT_NE(run(s, "EHLO client.test\r\n").find("250-STARTTLS\r\n"), std::string::npos);
  EXPECT_EQ(run(s, "STARTTLS now\r\n"), "501 5.5.4 Syntax: STARTTLS\r\n");
  // Commands pipelined behind STARTTLS in clear text are dropped (RFC 3207 §4.2: a man in the
  // middle could have injected them), even across feeds, until TLS is up.
  EXPECT_EQ(run(s, "starttls\r\nMAIL FROM:<evil@x.test>\r\n"), "220 2.0.0 Ready to start TLS\r\n");
  EXPECT_TRUE(s.starttls_requested());
  EXPECT_EQ(run(s, "RCPT TO:<b@x.test>\r\n"), "");
  s.tls_started();
  EXPECT_FALSE(s.starttls_requested());
  // The session starts over: EHLO again, no STARTTLS offered, no transaction carried over.
  EXPECT_EQ(run(s, "MAIL FROM:<a@x.test>\r\n"), "503 5.5.1 Error: send HELO/EHLO first\r\n");
  std::string ehlo = run(s, "EHLO client.test\r\n");
  EXPECT_EQ(ehlo.find("STARTTLS"), std::string::npos) << ehlo;
  EXPECT_EQ(run(s, "STARTTLS\r\n"), "554 5.5.1 Error: TLS already active\r\n");
  EXPECT_EQ(
      run(s, "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\nhi\r\n.\r\n").substr(0, 3),
      "250");
  ASSERT_EQ(s.events().size(), 1u);
  EXPECT_EQ(s.events()[0].mail_from, "a@x.test");
}

TEST(SmtpServerSession, BdatChunksAreCountedByTheirSize) {
  SmtpServerSession s = greeted_session();
  // Two chunks, the first holding a line that is only a dot (no stuffing in BDAT), pipelined with
  // the next transaction's commands, split at odd places.
  std::string input =
      "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nBDAT 12\r\nab\r\n.\r\nxyz\r\n"
      "BDAT 3 LAST\r\nend"
      "MAIL FROM:<c@x.test>\r\nRCPT TO:<d@y.test>\r\nBDAT 0 LAST\r\n";
  std::string out;
  for (std::size_t i = 0; i < input.size(); i += 5) {
    s.feed(std::string_view(input).substr(i, 5));
    out += s.output();
    s.clear_output();
  }
  EXPECT_EQ(out,
            "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: 12 octets received\r\n"
            "250 2.0.0 queued as 2a.1\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
            "250 2.0.0 queued as 2a.2\r\n");
  ASSERT_EQ(s.events().size(), 2u);
  EXPECT_EQ(s.events()[0].body_bytes, 15u);
  EXPECT_EQ(s.events()[0].recipients, (std::vector<std::string>{"b@y.test"}));
  EXPECT_EQ(s.events()[1].body_bytes, 0u);
}

TEST(SmtpServerSession, KeptBodiesAreTheMessageUnstuffed) {
  ServerConfig c = config();
  c.keep_bodies = true;
  for (std::size_t step : {1u, 7u, 4096u}) {  // split at every byte, at odd places, not at all
    SmtpServerSession s(c);
    s.feed("EHLO client.test\r\n");
    std::string input =
        "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n"
        "Subject: s\r\n\r\n..dot\r\nmid.dle\r\n.\rx\r\n\r\n.\r\n"
        "MAIL FROM:<a@x.test>\r\nRCPT TO:<c@y.test>\r\nBDAT 6 LAST\r\n.\r\nab\r";
    for (std::size_t i = 0; i < input.size(); i += step)
      s.feed(std::string_view(input).substr(i, step));
    ASSERT_EQ(s.events().size(), 2u) << step;
    EXPECT_EQ(s.events()[0].body, "Subject: s\r\n\r\n.dot\r\nmid.dle\r\n\rx\r\n\r\n");
    EXPECT_EQ(s.events()[0].body.size(), s.events()[0].body_bytes);
    EXPECT_EQ(s.events()[1].body, ".\r\nab\r");  // BDAT: as sent, no stuffing
  }
  SmtpServerSession plain = greeted_session();
  plain.feed("MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nx\r\n.\r\n");
  ASSERT_EQ(plain.events().size(), 1u);
  EXPECT_EQ(plain.events()[0].body, "");  // not kept unless asked
}

TEST(SmtpServerSession, BdatRefusalsStillReadTheChunk) {
  SmtpServerSession s = greeted_session();
  // No transaction: the 5 octets are read (not taken as a command), then refused.
  EXPECT_EQ(run(s, "BDAT 6 LAST\r\nQUIT\r"), "");
  EXPECT_EQ(run(s, "\nNOOP\r\n"), "503 5.5.1 Error: need MAIL command\r\n250 2.0.0 Ok\r\n");
  EXPECT_EQ(run(s, "BDAT x\r\n"), "501 5.5.4 Syntax: BDAT chunk-size [LAST]\r\n");
  EXPECT_EQ(run(s, "BDAT 5 FIRST\r\n"), "501 5.5.4 Syntax: BDAT chunk-size [LAST]\r\n");
  EXPECT_EQ(run(s, "MAIL FROM:<a@x.test>\r\nBDAT 2\r\nhi"),
            "250 2.1.0 Ok\r\n554 5.5.1 Error: no valid recipients\r\n");
  EXPECT_EQ(run(s, "RCPT TO:<b@y.test>\r\nBDAT 2\r\nhiDATA\r\n"),
            "250 2.1.5 Ok\r\n250 2.0.0 Ok: 2 octets received\r\n"
            "503 5.5.1 Error: BDAT in progress, DATA not allowed\r\n");
  ServerConfig small = config();
  small.max_message_size = 10;
  SmtpServerSession t(small);
  t.clear_output();
  std::string out =
      run(t, "EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nBDAT 11 LAST\r\n0123456789A");
  EXPECT_TRUE(out.ends_with(
      "250 2.1.5 Ok\r\n552 5.3.4 Message size exceeds fixed maximum message size\r\n"))
      << out;
  EXPECT_TRUE(t.events().empty());
}

TEST(SmtpServerSession, PipelinedSessionAnswersInOrderInOneBuffer) {
  SmtpServerSession s(config());
  s.clear_output();
  std::string out = run(s,
                        "EHLO c\r\n"
                        "MAIL FROM:<a@x.test>\r\n"
                        "RCPT TO:<b@y.test>\r\n"
                        "RCPT TO:<c@y.test>\r\n"
                        "DATA\r\n"
                        "Subject: hi\r\n"
                        "\r\n"
                        "hello\r\n"
                        ".\r\n"
                        "MAIL FROM:<>\r\n"
                        "RCPT TO:<postmaster>\r\n"
                        "DATA\r\n"
                        ".\r\n"
                        "NOOP\r\n"
                        "QUIT\r\n"
                        "NOOP\r\n");
  EXPECT_EQ(out,
            "250-sink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 104857600\r\n"
            "250-ENHANCEDSTATUSCODES\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n"
            "250 2.1.0 Ok\r\n"
            "250 2.1.5 Ok\r\n"
            "250 2.1.5 Ok\r\n"
            "354 End data with <CR><LF>.<CR><LF>\r\n"
            "250 2.0.0 queued as 2a.1\r\n"
            "250 2.1.0 Ok\r\n"
            "250 2.1.5 Ok\r\n"
            "354 End data with <CR><LF>.<CR><LF>\r\n"
            "250 2.0.0 queued as 2a.2\r\n"
            "250 2.0.0 Ok\r\n"
            "221 2.0.0 Bye\r\n");
  EXPECT_TRUE(s.closed());
  ASSERT_EQ(s.events().size(), 2u);
  const MessageAccepted& m = s.events()[0];
  EXPECT_EQ(m.queue_id, "2a.1");
  EXPECT_EQ(m.mail_from, "a@x.test");
  EXPECT_EQ(m.recipients, (std::vector<std::string>{"b@y.test", "c@y.test"}));
  EXPECT_EQ(m.body_bytes, std::string("Subject: hi\r\n\r\nhello\r\n").size());
  EXPECT_EQ(s.events()[1].mail_from, "");
  EXPECT_EQ(s.events()[1].recipients, std::vector<std::string>{"postmaster"});
  EXPECT_EQ(s.events()[1].body_bytes, 0u);
  // Input after QUIT is ignored.
  s.feed("NOOP\r\n");
  EXPECT_EQ(s.output(), "");
}

TEST(SmtpServerSession, ByteByByteFeedGivesTheSameResult) {
  const std::string input =
      "EHLO c\r\nMAIL FROM:<a@x.test> SIZE=100 BODY=8BITMIME\r\nRCPT TO:<b@y.test>\r\nDATA\r\n"
      "line one\r\n..stuffed\r\n.\rx\r\n\n.\nz\r\n.\r\n"
      "QUIT\r\n";
  SmtpServerSession whole(config());
  whole.feed(input);
  SmtpServerSession bytes(config());
  for (char c : input) bytes.feed(std::string_view(&c, 1));
  EXPECT_EQ(whole.output(), bytes.output());
  ASSERT_EQ(whole.events().size(), 1u);
  ASSERT_EQ(bytes.events().size(), 1u);
  EXPECT_EQ(whole.events()[0].body_bytes, bytes.events()[0].body_bytes);
  // "line one\r\n" + ".stuffed\r\n" + "\rx\r\n" + "\n.\nz\r\n" (the bare-LF dot is content)
  EXPECT_EQ(whole.events()[0].body_bytes, 10u + 10u + 4u + 6u);
}

TEST(SmtpServerSession, DotUnstuffing) {
  SmtpServerSession s = greeted_session();
  run(s, "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n");
  EXPECT_TRUE(s.in_data());
  // "..\r\n" is a line holding one dot; "...x" is "..x".
  EXPECT_EQ(run(s, "..\r\n...x\r\n.\r\n"), "250 2.0.0 queued as 2a.1\r\n");
  ASSERT_EQ(s.events().size(), 1u);
  EXPECT_EQ(s.events()[0].body_bytes, std::string(".\r\n..x\r\n").size());
}

TEST(SmtpServerSession, OnlyCrLfDotCrLfEndsData) {
  SmtpServerSession s = greeted_session();
  run(s, "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n");
  // None of these end the body: bare LF dot, dot bare LF, bare CR dot.
  EXPECT_EQ(run(s, "a\n.\nb\r\n.\nc\r.\r\nd\n.\r\ne\r\n"), "");
  EXPECT_TRUE(s.in_data());
  EXPECT_EQ(run(s, "MAIL FROM:<evil@x.test>\r\n"), "");  // still body
  // The terminator split across feeds.
  EXPECT_EQ(run(s, "\r"), "");
  EXPECT_EQ(run(s, "\n"), "");
  EXPECT_EQ(run(s, "."), "");
  EXPECT_EQ(run(s, "\r"), "");
  EXPECT_EQ(run(s, "\n"), "250 2.0.0 queued as 2a.1\r\n");
  EXPECT_FALSE(s.in_data());
  ASSERT_EQ(s.events().size(), 1u);
  EXPECT_EQ(
      s.events()[0].body_bytes,
      std::string("a\n.\nb\r\n.\nc\r.\r\nd\n.\r\ne\r\nMAIL FROM:<evil@x.test>\r\n\r\n").size() -
          1);  // "\nc\r.\r\n": the dot after "c\r" is content; ".\nc" lost its stuffed dot
}

TEST(SmtpServerSession, LongLineIsRejectedWithBoundedMemory) {
  SmtpServerSession s = greeted_session();
  std::string longline = "NOOP " + std::string(5000, 'x');
  // Fed in pieces: the session never holds more than one line.
  for (std::size_t i = 0; i < longline.size(); i += 100) {
    s.feed(std::string_view(longline).substr(i, 100));
    EXPECT_LE(s.buffered_bytes(), SmtpServerSession::kMaxLineLength + 1);
  }
  EXPECT_EQ(run(s, "\r\nNOOP\r\n"), "500 5.5.6 Line too long\r\n250 2.0.0 Ok\r\n");
  // In one feed, too.
  EXPECT_EQ(run(s, longline + "\r\nNOOP\r\n"), "500 5.5.6 Line too long\r\n250 2.0.0 Ok\r\n");
  // Exactly the limit is fine.
  std::string max = "NOOP " + std::string(SmtpServerSession::kMaxLineLength - 5, 'x');
  EXPECT_EQ(run(s, max + "\r\n"), "250 2.0.0 Ok\r\n");
  EXPECT_EQ(run(s, max + "x\r\n"), "500 5.5.6 Line too long\r\n");
}

TEST(SmtpServerSession, RsetAbortsTheTransaction) {
  SmtpServerSession s = greeted_session();
  EXPECT_EQ(
      run(s, "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nRSET\r\nDATA\r\n"),
      "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok\r\n503 5.5.1 Error: need MAIL command\r\n");
  EXPECT_EQ(run(s, "RCPT TO:<b@y.test>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
  EXPECT_EQ(run(s, "MAIL FROM:<a2@x.test>\r\nRCPT TO:<c@y.test>\r\nDATA\r\nbody\r\n.\r\n"),
            "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
            "250 2.0.0 queued as 2a.1\r\n");
  ASSERT_EQ(s.events().size(), 1u);
  EXPECT_EQ(s.events()[0].mail_from, "a2@x.test");
  EXPECT_EQ(s.events()[0].recipients, std::vector<std::string>{"c@y.test"});
}

TEST(SmtpServerSession, SequenceErrors) {
  SmtpServerSession s(config());
  s.clear_output();
  EXPECT_EQ(run(s, "MAIL FROM:<a@x.test>\r\n"), "503 5.5.1 Error: send HELO/EHLO first\r\n");
  EXPECT_EQ(run(s, "HELO c\r\nDATA\r\n"),
            "250 sink.test\r\n503 5.5.1 Error: need MAIL command\r\n");
  EXPECT_EQ(run(s, "MAIL FROM:<a@x.test>\r\nMAIL FROM:<a@x.test>\r\nDATA\r\n"),
            "250 2.1.0 Ok\r\n503 5.5.1 Error: nested MAIL command\r\n"
            "554 5.5.1 Error: no valid recipients\r\n");
}

TEST(SmtpServerSession, SyntaxChecks) {
  SmtpServerSession s = greeted_session();
  EXPECT_EQ(run(s, "MAIL TO:<a@x.test>\r\n"), "501 5.5.4 Syntax: MAIL FROM:<address>\r\n");
  EXPECT_EQ(run(s, "MAIL FROM:a@x.test\r\n"), "501 5.1.7 Bad sender address syntax\r\n");
  EXPECT_EQ(run(s, "MAIL FROM:<a b@x.test>\r\n"), "501 5.1.7 Bad sender address syntax\r\n");
  EXPECT_EQ(run(s, "MAIL FROM:<a@>\r\n"), "501 5.1.7 Bad sender address syntax\r\n");
  EXPECT_EQ(run(s, "MAIL FROM:<a@x.test> FOO=1\r\n"), "555 5.5.4 Unsupported MAIL parameter\r\n");
  EXPECT_EQ(run(s, "MAIL FROM:<a@x.test> SIZE=104857601\r\n"),
            "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
  EXPECT_EQ(run(s, "mail from: <\"a b\"@x.test> SMTPUTF8\r\n"), "250 2.1.0 Ok\r\n");
  EXPECT_EQ(run(s, "RCPT TO:<>\r\n"), "501 5.1.3 Bad recipient address syntax\r\n");
  EXPECT_EQ(run(s, "RCPT TO:<b@y.test> NOTIFY=NEVER\r\n"),
            "555 5.5.4 Unsupported RCPT parameter\r\n");
  EXPECT_EQ(run(s, "rcpt to:<@relay.test:b@y.test>\r\n"), "250 2.1.5 Ok\r\n");
  EXPECT_EQ(run(s, "RCPT TO:<ü@bücher.test>\r\n"), "250 2.1.5 Ok\r\n");
  EXPECT_EQ(run(s, "DATA x\r\n"), "501 5.5.4 Syntax: DATA\r\n");
  EXPECT_EQ(run(s, "VRFY bob\r\n"),
            "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery\r\n");
  EXPECT_EQ(
      run(s, "STARTTLS\r\nFOO\r\n\r\n"),
      "502 5.5.1 Error: command not implemented\r\n500 5.5.2 Error: command not recognized\r\n"
      "500 5.5.2 Error: command not recognized\r\n");
  EXPECT_EQ(run(s, "noop\n"), "250 2.0.0 Ok\r\n");  // bare LF ends a command line
  EXPECT_EQ(run(s, "DATA\r\n.\r\n"),
            "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 queued as 2a.1\r\n");
  ASSERT_EQ(s.events().size(), 1u);
  EXPECT_EQ(s.events()[0].mail_from, "\"a b\"@x.test");
  EXPECT_EQ(s.events()[0].recipients, (std::vector<std::string>{"b@y.test", "ü@bücher.test"}));
}

TEST(SmtpServerSession, TooManyRecipients) {
  SmtpServerSession s = greeted_session();
  std::string cmds = "MAIL FROM:<a@x.test>\r\n";
  for (int i = 0; i < 1001; ++i) cmds += "RCPT TO:<r" + std::to_string(i) + "@y.test>\r\n";
  cmds += "DATA\r\nx\r\n.\r\n";
  std::string out = run(s, cmds);
  std::string expected = "250 2.1.0 Ok\r\n";
  for (int i = 0; i < 1000; ++i) expected += "250 2.1.5 Ok\r\n";
  expected += "452 4.5.3 Error: too many recipients\r\n";
  expected += "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 queued as 2a.1\r\n";
  EXPECT_EQ(out, expected);
  ASSERT_EQ(s.events().size(), 1u);
  EXPECT_EQ(s.events()[0].recipients.size(), 1000u);
  EXPECT_EQ(s.events()[0].body_bytes, 3u);
}

TEST(SmtpServerSession, OversizedBodyIsRejected) {
  ServerConfig c = config();
  c.max_message_size = 10;
  SmtpServerSession s(c);
  s.feed("EHLO c\r\n");
  s.clear_output();
  EXPECT_EQ(run(s, "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n0123456789\r\n.\r\n"),
            "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
            "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
  EXPECT_TRUE(s.events().empty());
  EXPECT_EQ(run(s, "RCPT TO:<b@y.test>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
}

TEST(SmtpServerSession, EventsAndOutputCanBeTaken) {
  SmtpServerSession s = greeted_session();
  s.feed("MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nx\r\n.\r\n");
  std::string dst;
  s.move_output_to(dst);
  EXPECT_EQ(s.output(), "");
  s.feed("NOOP\r\n");
  s.move_output_to(dst);
  EXPECT_EQ(dst,
            "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
            "250 2.0.0 queued as 2a.1\r\n250 2.0.0 Ok\r\n");
  EXPECT_EQ(s.events().size(), 1u);
  s.clear_events();
  EXPECT_TRUE(s.events().empty());
}

}  // namespace
}  // namespace ringmta::loadgen
