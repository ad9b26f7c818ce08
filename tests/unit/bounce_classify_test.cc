// Unit tests for bounce::Classifier: a corpus of real-world style replies from large providers
// (written from their public documentation of their codes), ringmta's own synthesised replies,
// user rule files (precedence, severity, errors naming the file and rule) and the small parsers.
// Pure: no sockets; the rule-file tests write temporary files only.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "bounce/classify.h"

namespace ringmta::bounce {
namespace {

using C = Category;

struct Case {
  const char* who;
  const char* reply;
  Category want;
  bool hard;
};

// Each entry: the provider or MTA, the reply as it shows up in logs and DSNs, the category, hard.
const Case kCorpus[] = {
    // Gmail / Google Workspace.
    {"gmail",
     "550-5.1.1 The email account that you tried to reach does not exist. Please try 550-5.1.1 "
     "double-checking the recipient's email address for typos or 550-5.1.1 unnecessary spaces. "
     "Learn more at 550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si123 - gsmtp",
     C::kInvalidRecipient, true},
    {"gmail", "550 5.2.1 The email account that you tried to reach is disabled. a1si123 - gsmtp",
     C::kInvalidRecipient, true},
    {"gmail",
     "452 4.2.2 The email account that you tried to reach is over quota. Please direct the "
     "recipient to https://support.google.com/mail/?p=OverQuotaTemp - gsmtp",
     C::kMailboxFull, false},
    {"gmail", "552 5.2.2 The email account that you tried to reach is over quota and inactive.",
     C::kMailboxFull, false},
    {"gmail",
     "552 5.3.4 Your message exceeded Google's message size limits. Please visit "
     "https://support.google.com/mail/?p=MaxSizeError - gsmtp",
     C::kMessageTooLarge, true},
    {"gmail",
     "421 4.7.28 Our system has detected an unusual rate of unsolicited mail originating from "
     "your IP address. To protect our users from spam, mail sent from your IP address has been "
     "temporarily rate limited. - gsmtp",
     C::kRateLimited, false},
    {"gmail",
     "421 4.7.0 Our system has detected an unusual rate of unsolicited mail originating from "
     "your IP address. To protect our users from spam, mail sent from your IP address has been "
     "temporarily blocked.",
     C::kPolicyBlock, false},
    {"gmail",
     "550 5.7.1 Our system has detected an unusual rate of unsolicited mail originating from "
     "your IP address. To protect our users from spam, mail sent from your IP address has been "
     "blocked.",
     C::kPolicyBlock, true},
    {"gmail",
     "550 5.7.26 This mail is unauthenticated, which poses a security risk to the sender and "
     "Gmail users, and has been blocked. The sender must authenticate with at least one of SPF "
     "or DKIM.",
     C::kSenderAuthentication, true},
    {"gmail",
     "450 4.2.1 The user you are trying to contact is receiving mail too quickly. Please resend "
     "your message at a later time.",
     C::kRateLimited, false},
    {"gmail", "421 4.7.0 TLS required for RCPT domain, closing connection.", C::kTlsRequired,
     false},
    {"gmail", "530 5.7.0 Must issue a STARTTLS command first. - gsmtp", C::kTlsRequired, true},
    {"gmail",
     "535 5.7.8 Username and Password not accepted. Learn more at "
     "https://support.google.com/mail/?p=BadCredentials",
     C::kAuthFailed, true},
    {"gmail",
     "530 5.7.0 Authentication Required. Learn more at "
     "https://support.google.com/mail/?p=WantAuthError",
     C::kAuthRequired, true},
    {"gmail", "550 5.4.5 Daily user sending quota exceeded.", C::kRateLimited, false},
    {"gmail", "452 4.5.3 Your message has too many recipients.", C::kRateLimited, false},
    {"gmail", "421 4.4.5 Server busy, try again later.", C::kRateLimited, false},
    {"gmail", "451 4.4.2 Timeout - closing connection.", C::kConnectionFailure, false},
    {"gmail",
     "550 5.7.25 The IP address sending this message does not have a PTR record setup, or the "
     "corresponding forward DNS entry does not point to the sending IP.",
     C::kHeloPtrRefused, true},
    {"gmail",
     "550 5.7.0 Mail relay denied [192.0.2.1]. Invalid credentials for relay for one or more "
     "domains",
     C::kRelayingDenied, true},
    {"gmail",
     "550 5.7.1 The user or domain that you are sending to (or from) has a policy that "
     "prohibited the mail that you sent.",
     C::kPolicyBlock, true},
    {"gmail", "554 5.6.0 Message exceeded 50 hops, this may indicate a mail loop.", C::kOther,
     true},
    {"gmail", "421 4.7.0 IP not in whitelist for RCPT domain, closing connection.", C::kPolicyBlock,
     false},
    // Outlook.com / Office 365 / Exchange Online.
    {"outlook",
     "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). "
     "[DM6NAM11FT004.eop-nam11.prod.protection.outlook.com]",
     C::kInvalidRecipient, true},
    {"office365",
     "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) "
     "[BN1NAM02FT022.eop-nam02.prod.protection.outlook.com]",
     C::kInvalidRecipient, true},
    {"office365",
     "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
     C::kInvalidRecipient, true},
    {"exchange", "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found", C::kInvalidRecipient, true},
    {"exchange",
     "554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException."
     "MapiExceptionShutoffQuotaExceeded; Failed to process message due to a permanent exception",
     C::kMailboxFull, false},
    {"outlook",
     "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.",
     C::kPolicyBlock, true},
    {"outlook",
     "550 5.7.606 Access denied, banned sending IP [192.0.2.1]. To request removal from this "
     "list please visit https://sender.office.com/",
     C::kPolicyBlock, true},
    {"outlook", "451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (S77714)",
     C::kRateLimited, false},
    {"outlook",
     "451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP "
     "reputation. For e-mail delivery information, see https://postmaster.live.com (S775)",
     C::kRateLimited, false},
    {"outlook",
     "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your "
     "Internet service provider since part of their network is on our block list (S3140).",
     C::kPolicyBlock, true},
    {"office365",
     "530 5.7.57 Client not authenticated to send mail. [DB6PR0802CA0034.eurprd08.prod.outlook."
     "com]",
     C::kAuthRequired, true},
    {"office365",
     "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the "
     "Tenant.",
     C::kAuthFailed, true},
    {"office365", "550 5.7.60 SMTP; Client does not have permissions to send as this sender",
     C::kAuthRequired, true},
    {"exchange", "550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain",
     C::kRelayingDenied, true},
    {"exchange", "550 4.4.7 QUEUE.Expired; message expired", C::kExpired, true},
    {"exchange", "554 5.4.4 SMTPSEND.DNS.NonExistentDomain; nonexistent domain", C::kDnsFailure,
     true},
    {"exchange",
     "451 4.4.0 DNS query failed. The error was: DNS query failed with error: ErrorRetry",
     C::kDnsFailure, false},
    {"office365",
     "550 5.7.509 Access denied, sending domain example.org does not pass DMARC verification "
     "and has a DMARC policy of reject.",
     C::kSenderAuthentication, true},
    {"office365", "452 4.5.3 Too many recipients (AS780090)", C::kRateLimited, false},
    {"office365", "550 5.1.8 Access denied, bad outbound sender.", C::kSenderRefused, true},
    {"exchange", "554 5.4.14 Hop count exceeded - possible mail loop ATTR34", C::kOther, true},
    {"exchange", "550 5.7.1 RESOLVER.RST.NotAuthorized; not authorized", C::kPolicyBlock, true},
    {"exchange", "550 5.7.1 Unable to relay", C::kRelayingDenied, true},
    {"exchange", "452 4.3.1 Insufficient system resources", C::kServerTemporary, false},
    {"exchange", "421 4.3.2 Service not available, closing transmission channel",
     C::kServerTemporary, false},
    {"exchange", "552 5.2.2 Mailbox size limit exceeded", C::kMailboxFull, false},
    // Yahoo / AOL.
    {"yahoo",
     "554 delivery error: dd This user doesn't have a yahoo.com account (someone@yahoo.com) [0] "
     "- mta1234.mail.bf1.yahoo.com",
     C::kInvalidRecipient, true},
    {"yahoo", "552 1 Requested mail action aborted, mailbox not found", C::kInvalidRecipient, true},
    {"yahoo",
     "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or "
     "user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
     C::kPolicyBlock, false},
    {"yahoo",
     "553 5.7.2 [TSS09] All messages from 192.0.2.1 will be permanently deferred; Retrying will "
     "NOT succeed. See https://postmaster.yahooinc.com/error-codes",
     C::kPolicyBlock, true},
    {"yahoo",
     "554 5.7.9 Message not accepted for policy reasons.  See "
     "https://postmaster.yahooinc.com/error-codes",
     C::kPolicyBlock, true},
    {"yahoo",
     "550 5.7.9 This mail has been blocked because the sender is unauthenticated. Yahoo requires "
     "all senders to authenticate with either SPF or DKIM.",
     C::kSenderAuthentication, true},
    {"yahoo", "421 Max message per connection reached, closing transmission channel",
     C::kRateLimited, false},
    {"yahoo", "554 30 Sorry, your message size exceeds 41943040 bytes", C::kMessageTooLarge, true},
    {"yahoo", "451 Message temporarily deferred - [160]", C::kServerTemporary, false},
    {"yahoo", "450 User is receiving mail too quickly", C::kRateLimited, false},
    // Apple iCloud.
    {"icloud", "550 5.1.1 <someone@icloud.com>: user does not exist", C::kInvalidRecipient, true},
    {"icloud",
     "550 5.7.1 [CS01] Message rejected due to local policy. Please visit "
     "https://support.apple.com/en-us/HT204137",
     C::kPolicyBlock, true},
    {"icloud",
     "421 4.7.1 Messages to someone@icloud.com deferred due to excessive volume. Try again later "
     "- https://support.apple.com/en-us/HT204137",
     C::kRateLimited, false},
    {"icloud", "450 4.2.2 <someone@icloud.com>: user is overquota", C::kMailboxFull, false},
    {"icloud",
     "550 5.7.1 Your email was rejected due to having a domain present in the Spamhaus DBL -- "
     "see https://www.spamhaus.org/dbl/",
     C::kPolicyBlock, true},
    // Comcast.
    {"comcast", "550 5.1.1 <someone@comcast.net> Not our Customer", C::kInvalidRecipient, true},
    {"comcast",
     "554 5.7.1 [192.0.2.1] Comcast block for spam. Please see "
     "http://postmaster.comcast.net/smtp-error-codes.php#BL000000",
     C::kPolicyBlock, true},
    {"comcast", "421 Too many sessions opened", C::kRateLimited, false},
    {"comcast",
     "554 5.7.1 [192.0.2.1] Comcast requires that all mail servers must have a PTR record with a "
     "valid Reverse DNS entry.",
     C::kHeloPtrRefused, true},
    {"comcast", "552 5.2.2 <someone@comcast.net> The recipient's mailbox is full", C::kMailboxFull,
     false},
    // GMX / web.de (United Internet: no enhanced codes).
    {"gmx", "550 Requested action not taken: mailbox unavailable", C::kInvalidRecipient, true},
    {"gmx",
     "554-gmx.net (mxgmx104) Nemesis ESMTP Service not available 554-No SMTP service 554-IP "
     "address is block listed. 554 For explanation visit "
     "https://postmaster.gmx.net/en/case?c=r0201&i=ip&v=198.51.100.42",
     C::kPolicyBlock, true},
    {"gmx", "554-Transaction failed 554-Reject due to policy restrictions.", C::kPolicyBlock, true},
    {"gmx",
     "550 <someone@gmx.net>: Reject due to SPF policy. The originating IP of the message is not "
     "permitted by the domain owner",
     C::kSenderAuthentication, true},
    {"web.de",
     "550 Benutzer hat das Speichervolumen ueberschritten. / User has exhausted allowed storage "
     "space.",
     C::kMailboxFull, false},
    {"web.de", "421 Rate limit reached. Please try again later", C::kRateLimited, false},
    {"web.de", "550 Benutzer nicht bekannt/User unknown", C::kInvalidRecipient, true},
    // Mail.ru.
    {"mail.ru",
     "550 Message was not accepted -- invalid mailbox.  Local mailbox someone@mail.ru is "
     "unavailable: user not found",
     C::kInvalidRecipient, true},
    {"mail.ru",
     "550 Message was not accepted -- invalid mailbox.  Local mailbox someone@mail.ru is "
     "unavailable: account is disabled",
     C::kInvalidRecipient, true},
    {"mail.ru",
     "550 spam message rejected. Please visit http://help.mail.ru/notspam-support/id or report "
     "details to abuse@corp.mail.ru.",
     C::kPolicyBlock, true},
    {"mail.ru", "452 4.2.2 Mailbox full (user quota exceeded)", C::kMailboxFull, false},
    // Postfix defaults.
    {"postfix",
     "550 5.1.1 <someone@example.com>: Recipient address rejected: User unknown in local "
     "recipient table",
     C::kInvalidRecipient, true},
    {"postfix",
     "550 5.1.1 <someone@example.com>: Recipient address rejected: User unknown in virtual "
     "mailbox table",
     C::kInvalidRecipient, true},
    {"postfix", "554 5.7.1 <someone@example.net>: Relay access denied", C::kRelayingDenied, true},
    {"postfix",
     "450 4.1.2 <someone@nonexistent.example>: Recipient address rejected: Domain not found",
     C::kDnsFailure, false},
    {"postfix", "450 4.7.1 Client host rejected: cannot find your hostname, [192.0.2.1]",
     C::kHeloPtrRefused, false},
    {"postfix",
     "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; "
     "https://www.spamhaus.org/query/ip/192.0.2.1",
     C::kPolicyBlock, true},
    {"postfix", "552 5.3.4 Message size exceeds fixed limit", C::kMessageTooLarge, true},
    {"postfix",
     "450 4.2.0 <someone@example.com>: Recipient address rejected: Greylisted, see "
     "http://postgrey.schweikert.ch/help/example.com.html",
     C::kGreylisted, false},
    {"postfix", "421 4.7.0 mx.example.com Error: too many connections from 192.0.2.1",
     C::kRateLimited, false},
    {"postfix", "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname",
     C::kHeloPtrRefused, true},
    {"postfix", "553 5.7.1 <a@example.org>: Sender address rejected: not owned by user alice",
     C::kAuthRequired, true},
    {"postfix", "450 4.1.8 <bounces@example.org>: Sender address rejected: Domain not found",
     C::kSenderRefused, false},
    {"postfix", "452 4.3.1 Insufficient system storage", C::kServerTemporary, false},
    {"postfix",
     "550 5.1.1 <someone@example.com>: Recipient address rejected: undeliverable address: host "
     "mx.example.com[192.0.2.7] said: 550 5.1.1 <someone@example.com>: User unknown",
     C::kInvalidRecipient, true},
    {"postfix", "530 5.7.0 Must issue a STARTTLS command first", C::kTlsRequired, true},
    {"postfix", "535 5.7.8 Error: authentication failed: authentication failure", C::kAuthFailed,
     true},
    // Exim defaults.
    {"exim", "550 Unrouteable address", C::kInvalidRecipient, true},
    {"exim",
     "550-Verification failed for <bounces@example.org> 550-Unrouteable address 550 Sender verify "
     "failed",
     C::kSenderRefused, true},
    {"exim", "550 relay not permitted", C::kRelayingDenied, true},
    {"exim", "552 Message size exceeds maximum permitted", C::kMessageTooLarge, true},
    {"exim", "550 Administrative prohibition", C::kPolicyBlock, true},
    {"exim",
     "421 Too many concurrent SMTP connections from this IP address; please try again later.",
     C::kRateLimited, false},
    {"exim", "535 Incorrect authentication data", C::kAuthFailed, true},
    {"exim", "451 Temporary local problem - please try later", C::kServerTemporary, false},
    {"exim", "550 No Such User Here", C::kInvalidRecipient, true},
    {"exim", "550 rejected because 192.0.2.1 is in a black list at zen.spamhaus.org",
     C::kPolicyBlock, true},
    {"exim", "550 Mailbox quota exceeded", C::kMailboxFull, false},
    // qmail.
    {"qmail", "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)",
     C::kRelayingDenied, true},
    {"qmail", "550 sorry, no mailbox here by that name. (#5.1.1)", C::kInvalidRecipient, true},
    // Bare codes and enhanced codes without telling text.
    {"bare", "550 5.1.1 <someone@example.com>", C::kInvalidRecipient, true},
    {"bare", "452 4.2.2", C::kMailboxFull, false},
    {"bare", "550 5.7.1", C::kPolicyBlock, true},
    {"bare", "551 User not local", C::kInvalidRecipient, true},
    {"bare", "554 Transaction failed", C::kOther, true},
    {"bare", "450 Requested mail action not taken: mailbox unavailable", C::kOther, false},
    // The finer categories (issue 17): what the user must do differs for each.
    // Greylisting: come back in minutes.
    {"postgrey",
     "450 4.7.1 <a@example.com>: Recipient address rejected: Greylisted for 300 seconds (see "
     "http://isg.ee.ethz.ch/tools/postgrey/help/example.com.html)",
     C::kGreylisted, false},
    {"exim", "451 4.7.1 Greylisted, please try again later", C::kGreylisted, false},
    {"mdaemon", "451 Greylisting in action, please come back later", C::kGreylisted, false},
    {"haraka", "450 4.7.1 Greylisted, come back later", C::kGreylisted, false},
    // The receiving server's own trouble.
    {"gmail", "421 4.3.0 Temporary System Problem. Try again later (10). - gsmtp",
     C::kServerTemporary, false},
    {"gmail", "451 4.3.0 Mail server temporarily rejected message. - gsmtp", C::kServerTemporary,
     false},
    {"office365", "451 4.3.2 Temporary server error. Please try again later ATTR218",
     C::kServerTemporary, false},
    {"postfix", "451 4.3.0 Error: queue file write error", C::kServerTemporary, false},
    {"postfix", "421 4.3.2 Service currently unavailable", C::kServerTemporary, false},
    {"sendmail", "451 4.3.0 Temporary system failure. Please try again later.", C::kServerTemporary,
     false},
    {"qmail", "451 qq temporary problem (#4.3.0)", C::kServerTemporary, false},
    // The envelope Sender or its domain.
    {"postfix",
     "553 5.1.8 <bounces@nonexistent.example>: Sender address rejected: Domain not found",
     C::kSenderRefused, true},
    {"exim", "550 5.7.1 Sender verification failed", C::kSenderRefused, true},
    // The EHLO name, the reverse DNS.
    {"postfix", "450 4.7.1 <vm>: Helo command rejected: Host not found", C::kHeloPtrRefused, false},
    {"exim", "550 5.7.1 Reverse DNS lookup failed for host 192.0.2.1", C::kHeloPtrRefused, true},
    {"gmx", "554-No SMTP service 554 invalid DNS PTR resource record, IP=192.0.2.1",
     C::kHeloPtrRefused, true},
    // AUTH refused vs AUTH required.
    {"office365", "535 5.7.3 Authentication unsuccessful [AM0PR01CA0001.eurprd01.prod.outlook.com]",
     C::kAuthFailed, true},
    {"zoho", "535 Authentication Failed", C::kAuthFailed, true},
    {"yahoo", "535 5.7.0 (#AUTH005) Too many bad auth attempts.", C::kAuthFailed, true},
    {"postfix", "530 5.7.0 Authentication required", C::kAuthRequired, true},
    // TLS required.
    {"office365", "451 5.7.3 STARTTLS is required to send mail [AM0PR01CA0001]", C::kTlsRequired,
     false},
    {"exim", "530 5.7.0 Must issue a STARTTLS command first", C::kTlsRequired, true},
};

TEST(BounceClassify, Corpus) {
  Classifier classifier;
  int n = 0;
  for (const Case& c : kCorpus) {
    SCOPED_TRACE(std::string(c.who) + ": " + c.reply);
    Classification got = classifier.classify_text(c.reply);
    EXPECT_EQ(category_name(got.category), category_name(c.want)) << "rule " << got.rule;
    EXPECT_EQ(got.hard, c.hard) << "rule " << got.rule;
    // Configuration problems: relaying, AUTH required or failed, the sender domain's
    // authentication, a refused HELO or PTR, a TLS requirement (what a smart host's route pauses
    // on, each in the category that says what to mend).
    EXPECT_EQ(got.configuration, c.want == C::kRelayingDenied || c.want == C::kAuthRequired ||
                                     c.want == C::kAuthFailed ||
                                     c.want == C::kSenderAuthentication ||
                                     c.want == C::kSenderRefused || c.want == C::kHeloPtrRefused ||
                                     c.want == C::kTlsRequired);
    ++n;
  }
  EXPECT_GE(n, 60);
}

// The one classifier: a permanent reply it calls a configuration problem pauses a smart-host
// route (refusal is a configuration kind), one it does not is the recipient's, and every
// refusal wording the diagnosis explains (protocol::classify_refusal) is a configuration verdict.
TEST(BounceClassify, TheRouteDecisionFollowsTheVerdict) {
  Classifier classifier;
  for (const Case& c : kCorpus) {
    SCOPED_TRACE(std::string(c.who) + ": " + c.reply);
    const protocol::Reply reply = parse_reply_text(c.reply);
    const Classification got = classifier.classify(reply);
    if (reply.code >= 400 && reply.code < 500) {
      EXPECT_EQ(got.refusal, protocol::RefusalKind::kTransient);
      continue;
    }
    EXPECT_EQ(protocol::is_configuration_refusal(got.refusal), got.configuration);
    if (protocol::is_configuration_refusal(
            protocol::classify_refusal(protocol::Stage::kRcpt, reply))) {
      EXPECT_TRUE(got.configuration);
    }
  }
}

// The same corpus read as the reply parser sees it on the wire (one line, code and text).
TEST(BounceClassify, CorpusFromTheWire) {
  Classifier classifier;
  for (const Case& c : kCorpus) {
    std::string text = c.reply;
    if (text.size() > 3 && text[3] == '-') text[3] = ' ';  // one line, not a continuation
    protocol::ReplyParser parser;
    ASSERT_TRUE(parser.feed(text + "\r\n")) << text;
    auto reply = parser.next();
    ASSERT_TRUE(reply) << text;
    SCOPED_TRACE(text);
    EXPECT_EQ(category_name(classifier.classify(*reply).category), category_name(c.want));
  }
}

TEST(BounceClassify, MultiLineReply) {
  protocol::ReplyParser parser;
  ASSERT_TRUE(parser.feed(
      "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n"
      "550-5.1.1 double-checking the recipient's email address for typos or\r\n"
      "550-5.1.1 unnecessary spaces. Learn more at\r\n"
      "550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si - gsmtp\r\n"));
  auto reply = parser.next();
  ASSERT_TRUE(reply);
  Classification got = Classifier().classify(*reply);
  EXPECT_EQ(got.category, C::kInvalidRecipient);
  EXPECT_TRUE(got.hard);
  // The same pasted with newlines.
  got = Classifier().classify_text(
      "550-5.1.1 The email account that you tried to reach does not exist.\n"
      "550 5.1.1 https://support.google.com/mail/?p=NoSuchUser");
  EXPECT_EQ(got.category, C::kInvalidRecipient);
}

struct LocalCase {
  int code;
  const char* enhanced;
  const char* text;
  Category want;
  bool hard;
};

// What ringmta itself synthesises (grep make_local in protocol/, engine/, dns/).
const LocalCase kLocal[] = {
    {451, "4.4.1", "cannot connect", C::kConnectionFailure, false},
    {451, "4.4.1", "connect to 192.0.2.1:25: Connection refused", C::kConnectionFailure, false},
    {451, "4.4.1", "all MX hosts failed; last: MX 192.0.2.1:25: 421 4.7.0 too many connections",
     C::kConnectionFailure, false},
    {451, "4.4.2", "connection lost after DATA", C::kConnectionFailure, false},
    {451, "4.4.2", "timeout waiting for reply to RCPT", C::kConnectionFailure, false},
    {451, "4.4.2", "the SMTP session is closed", C::kConnectionFailure, false},
    {451, "4.4.3", "DNS lookup failed, will retry (MX: SERVFAIL)", C::kDnsFailure, false},
    {550, "5.1.2", "domain does not exist", C::kDnsFailure, true},
    {550, "5.1.2", "invalid domain name", C::kDnsFailure, true},
    {556, "5.1.10", "domain accepts no mail (null MX)", C::kDnsFailure, true},
    {550, "5.4.4", "no MX host has an address", C::kDnsFailure, true},
    {550, "5.4.4", "MX records point at invalid host names", C::kDnsFailure, true},
    {550, "5.4.6", "MX points at ourselves/loopback (mx.example.org)", C::kDnsFailure, true},
    {550, "5.4.7",
     "expired in the queue; last reply: 450 4.2.0 <a@example.com>: Recipient address rejected: "
     "Greylisted",
     C::kExpired, true},
    {550, "5.4.7", "expired in the queue; last reply: 451 4.4.1 cannot connect", C::kExpired, true},
    {454, "4.7.5", "TLS handshake failed: certificate verify failed", C::kTlsFailure, false},
    {454, "4.7.5", "TLS handshake failed", C::kTlsFailure, false},
    {530, "5.7.10", "STARTTLS required but not offered by the server", C::kTlsRequired, true},
    {530, "5.7.10", "refusing to send AUTH without TLS", C::kTlsRequired, true},
    {530, "5.7.10", "refusing to send MAIL without TLS", C::kTlsRequired, true},
    {530, "5.7.0", "POP3 login failed: -ERR [AUTH] Invalid login", C::kAuthFailed, true},
    {535, "5.7.0", "unexpected AUTH challenge from the server", C::kAuthFailed, true},
    {553, "5.1.3", "address with control characters or angle brackets refused before sending",
     C::kInvalidRecipient, true},
    {552, "5.3.4", "message size 2000000 exceeds the server's limit of 1000000 bytes",
     C::kMessageTooLarge, true},
    {452, "4.5.3", "recipient not tried after the server's 452 4.5.3 Too many recipients",
     C::kRateLimited, false},
    {451, "4.5.0", "malformed reply: unexpected reply 250 2.0.0 Ok", C::kServerTemporary, false},
    {451, "4.3.0", "transaction incomplete", C::kServerTemporary, false},
    {554, "5.5.1", "no recipients", C::kOther, true},
    {554, "5.6.0", "body is not dot-stuffed; not sent", C::kOther, true},
};

TEST(BounceClassify, LocalReplies) {
  Classifier classifier;
  for (const LocalCase& c : kLocal) {
    protocol::Reply reply = protocol::Reply::make_local(c.code, c.enhanced, c.text);
    SCOPED_TRACE(reply.summary());
    Classification got = classifier.classify(reply);
    EXPECT_EQ(category_name(got.category), category_name(c.want)) << got.rule;
    EXPECT_EQ(got.hard, c.hard) << got.rule;
    // The delivery log only keeps the summary: read back, it must classify the same way.
    Classification logged = classifier.classify_text(reply.summary());
    EXPECT_EQ(category_name(logged.category), category_name(c.want)) << logged.rule;
    EXPECT_EQ(logged.hard, c.hard);
  }
}

TEST(BounceClassify, PositiveRepliesAreNotFailures) {
  Classification got = Classifier().classify_text("250 2.1.5 Ok");
  EXPECT_EQ(got.category, C::kOther);
  EXPECT_FALSE(got.hard);
  EXPECT_EQ(got.rule, "not-a-failure");
}

TEST(BounceClassify, TextWithoutCode) {
  Classifier classifier;
  Classification got = classifier.classify_text("mailbox full");
  EXPECT_EQ(got.category, C::kMailboxFull);
  EXPECT_FALSE(got.hard);
  got = classifier.classify_text("5.1.1 user unknown");  // the enhanced code gives the class
  EXPECT_EQ(got.category, C::kInvalidRecipient);
  EXPECT_TRUE(got.hard);
  got = classifier.classify_text("smtp; 550 5.1.1 <a@example.com>: User unknown");
  EXPECT_EQ(got.category, C::kInvalidRecipient);
  EXPECT_TRUE(got.hard);
  got = classifier.classify_text("Diagnostic-Code: smtp; 552 5.2.2 Over quota");
  EXPECT_EQ(got.category, C::kMailboxFull);
  got = classifier.classify_text("");
  EXPECT_EQ(got.category, C::kOther);
  EXPECT_FALSE(got.hard);
}

TEST(BounceClassify, ParseReplyText) {
  protocol::Reply r = parse_reply_text(
      "550-5.1.1 The email account does not exist. 550-5.1.1 double-checking 550 5.1.1 https://x");
  EXPECT_EQ(r.code, 550);
  ASSERT_TRUE(r.enhanced);
  EXPECT_EQ(r.enhanced->str(), "5.1.1");
  ASSERT_EQ(r.lines.size(), 1u);
  EXPECT_EQ(r.lines[0], "5.1.1 The email account does not exist. double-checking https://x");
  r = parse_reply_text("  421 Too many sessions\r\n");
  EXPECT_EQ(r.code, 421);
  EXPECT_FALSE(r.enhanced);
  EXPECT_EQ(r.text(), "Too many sessions");
  r = parse_reply_text("550");
  EXPECT_EQ(r.code, 550);
  r = parse_reply_text("5500 not a code");
  EXPECT_EQ(r.code, 0);
  r = parse_reply_text("550 5.1.10 x\n550 5.1.10 y");
  EXPECT_EQ(r.lines.size(), 2u);
  EXPECT_EQ(r.enhanced->str(), "5.1.10");
}

TEST(BounceClassify, ConfigurationFlag) {
  Classifier classifier;
  EXPECT_TRUE(classifier.classify_text("554 5.7.1 <x@y.org>: Relay access denied").configuration);
  EXPECT_TRUE(
      classifier.classify_text("535 5.7.8 Authentication credentials invalid").configuration);
  EXPECT_FALSE(classifier.classify_text("550 5.1.1 User unknown").configuration);
  EXPECT_FALSE(classifier.classify_text("421 Too many sessions opened").configuration);
}

TEST(BounceClassify, DefaultRulesLoad) {
  const auto& rules = Classifier::default_rules();
  EXPECT_GT(rules.size(), 20u);
  for (const Rule& r : rules) {
    EXPECT_TRUE(r.name.starts_with("default:")) << r.name;
    EXPECT_FALSE(r.codes.empty() && r.statuses.empty() && r.text.empty()) << r.name;
    for (const auto& t : r.text)
      EXPECT_EQ(t, [&] {
        std::string l = t;
        for (char& ch : l) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        return l;
      }()) << r.name;
  }
}

TEST(BounceClassify, CategoryNames) {
  for (int i = 0; i < kCategoryCount; ++i) {
    auto c = static_cast<Category>(i);
    auto back = category_from_name(category_name(c));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, c);
  }
  EXPECT_EQ(category_name(C::kInvalidRecipient), "invalid_recipient");
  EXPECT_EQ(category_name(C::kConnectionFailure), "connection_failure");
  EXPECT_FALSE(category_from_name("spam"));
}

TEST(BounceClassify, CodePatterns) {
  auto r = parse_code_pattern("550");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->low, 550);
  EXPECT_EQ(r->high, 550);
  r = parse_code_pattern("5xx");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->low, 500);
  EXPECT_EQ(r->high, 599);
  r = parse_code_pattern("45X");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->low, 450);
  EXPECT_EQ(r->high, 459);
  r = parse_code_pattern("550-554");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->low, 550);
  EXPECT_EQ(r->high, 554);
  for (const char* bad : {"", "55", "5500", "650", "5x0", "554-550", "abc", "x50", "-"}) {
    EXPECT_FALSE(parse_code_pattern(bad)) << bad;
  }
}

TEST(BounceClassify, StatusPatterns) {
  auto s = parse_status_pattern("5.1.1");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->klass, 5);
  EXPECT_EQ(s->subject, 1);
  EXPECT_EQ(s->detail, 1);
  s = parse_status_pattern("x.2.2");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->klass, -1);
  s = parse_status_pattern("4.7");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->detail, -1);
  for (const char* bad : {"", "3.1.1", "5.1.1.1", "5..1", "5.1.1000", "a.b.c", "5.1."}) {
    EXPECT_FALSE(parse_status_pattern(bad)) << bad;
  }
  // 5.1.1 must not match 5.1.10 and the reverse.
  Classifier c;
  ASSERT_TRUE(c.add_rules_toml("[[rule]]\nstatus = \"5.1.1\"\ncategory = \"expired\"\n", "t.toml"));
  EXPECT_EQ(c.classify_text("550 5.1.1 x").category, C::kExpired);
  EXPECT_NE(c.classify_text("550 5.1.10 x").category, C::kExpired);
}

TEST(BounceClassify, Wildcards) {
  EXPECT_TRUE(wildcard_contains("mailbox is full", "mailbox*full"));
  EXPECT_TRUE(wildcard_contains("mailbox is full", "is"));
  EXPECT_TRUE(wildcard_contains("abc", "*"));
  EXPECT_TRUE(wildcard_contains("a-b-c", "a*b*c"));
  EXPECT_FALSE(wildcard_contains("full mailbox", "mailbox*full"));
  EXPECT_FALSE(wildcard_contains("", "x"));
  EXPECT_TRUE(wildcard_contains("aaab", "a*ab"));
}

// --- user rules ---------------------------------------------------------------------------------

std::string write_temp(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(BounceRules, UserRulesComeFirst) {
  Classifier c;
  // By default a Gmail over-quota 5.2.2 is mailbox_full and soft.
  EXPECT_EQ(c.classify_text("552 5.2.2 over quota").category, C::kMailboxFull);
  std::string path = write_temp("rules1.toml", R"(
# treat permanent over-quota as a bad address, and our ISP's odd wording as a block
[[rule]]
name = "quota-is-dead"
status = "5.2.2"
codes = ["5xx"]
category = "invalid_recipient"

[[rule]]
text = ["acme says*go away"]
category = "policy_block"
severity = "soft"
)");
  ASSERT_TRUE(c.load_rules_file(path));
  EXPECT_EQ(c.user_rule_count(), 2u);
  Classification got = c.classify_text("552 5.2.2 over quota");
  EXPECT_EQ(got.category, C::kInvalidRecipient);
  EXPECT_TRUE(got.hard);
  EXPECT_EQ(got.rule, "quota-is-dead");
  // 4xx keeps its own category (the rule asks for 5xx).
  EXPECT_EQ(c.classify_text("452 4.2.2 over quota").category, C::kMailboxFull);
  got = c.classify_text("550 5.7.1 ACME says: please go away");
  EXPECT_EQ(got.category, C::kPolicyBlock);
  EXPECT_FALSE(got.hard);  // severity = "soft" on a 5xx
  EXPECT_EQ(got.rule, path + "#2");
}

TEST(BounceRules, SeverityAndFlags) {
  Classifier c;
  ASSERT_TRUE(c.add_rules_toml(R"(
[[rule]]
text = "hard always"
category = "other"
severity = "hard"

[[rule]]
text = "our relay"
category = "other"
configuration = true

[[rule]]
text = "mine only"
local = true
category = "expired"

[[rule]]
text = "quota thing"
category = "mailbox_full"
severity = "auto"
)",
                               "inline"));
  EXPECT_TRUE(c.classify_text("550 hard always").hard);
  EXPECT_FALSE(c.classify_text("450 hard always").hard);  // 4xx is always soft
  EXPECT_TRUE(c.classify_text("550 our relay").configuration);
  EXPECT_NE(c.classify_text("550 mine only").category, C::kExpired);
  EXPECT_EQ(c.classify(protocol::Reply::make_local(550, "5.0.0", "mine only")).category,
            C::kExpired);
  EXPECT_TRUE(c.classify_text("552 quota thing").hard);  // "auto": by code even for mailbox_full
}

TEST(BounceRules, ErrorsNameFileAndRule) {
  struct Bad {
    const char* toml;
    const char* want;  // a substring of the error
  };
  const Bad cases[] = {
      {"[[rule]]\ntext = \"x\"\ncategory = \"spam\"\n",
       "rules.toml: rule 1: unknown category 'spam'"},
      {"[[rule]]\ntext = \"x\"\ncategory = \"other\"\n[[rule]]\ncategory = \"other\"\n",
       "rules.toml: rule 2: give at least one of"},
      {"[[rule]]\ntext = \"x\"\n", "rules.toml: rule 1: 'category' is required"},
      {"[[rule]]\ncodes = [\"5x0\"]\ncategory = \"other\"\n",
       "rules.toml: rule 1: bad reply code '5x0'"},
      {"[[rule]]\nstatus = \"9.1.1\"\ncategory = \"other\"\n",
       "rules.toml: rule 1: bad status '9.1.1'"},
      {"[[rule]]\ntext = \"x\"\ncategory = \"other\"\ncolour = \"red\"\n",
       "rules.toml: rule 1: unknown key 'colour'"},
      {"[[rule]]\ntext = \"x\"\ncategory = \"other\"\nseverity = \"very\"\n",
       "rules.toml: rule 1: 'severity' must be"},
      {"[[rule]]\ntext = [\"\"]\ncategory = \"other\"\n",
       "rules.toml: rule 1: 'text' has an empty"},
      {"[[rule]]\ntext = []\ncategory = \"other\"\n",
       "rules.toml: rule 1: 'text' is an empty list"},
      {"[[rule]]\ntext = 5\ncategory = \"other\"\n", "rules.toml: rule 1: 'text' must be"},
      {"[[rule]]\ntext = \"x\"\ncategory = \"other\"\nlocal = \"yes\"\n",
       "rules.toml: rule 1: 'local' must be true or false"},
      {"rule = 5\n", "rules.toml: 'rule' must be an array of tables"},
      {"[rules]\n", "rules.toml: unknown top-level key 'rules'"},
      {"[[rule]\n", "rules.toml: "},
      {"[[rule]]\ntext = \"x\"\ncategory = \"other\"\n[[rule]]\ntext = \"unterminated\n",
       "(line 5)"},
  };
  for (const Bad& b : cases) {
    Classifier c;
    auto r = c.add_rules_toml(b.toml, "rules.toml");
    ASSERT_FALSE(r) << b.toml;
    EXPECT_NE(r.error().message.find(b.want), std::string::npos)
        << r.error().message << "\nwanted: " << b.want;
    EXPECT_EQ(c.user_rule_count(), 0u) << "nothing is added from a bad file";
  }
}

TEST(BounceRules, MissingFile) {
  Classifier c;
  auto r = c.load_rules_file("/nonexistent/rules.toml");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("/nonexistent/rules.toml"), std::string::npos);
}

TEST(BounceRules, IntegerCodesAndRanges) {
  Classifier c;
  ASSERT_TRUE(c.add_rules_toml(
      "[[rule]]\ncodes = [421, \"550-551\"]\ntext = \"frobnicated\"\ncategory = \"tls_failure\"\n",
      "x"));
  EXPECT_EQ(c.classify_text("421 frobnicated").category, C::kTlsFailure);
  EXPECT_EQ(c.classify_text("551 frobnicated").category, C::kTlsFailure);
  EXPECT_NE(c.classify_text("552 frobnicated").category, C::kTlsFailure);
}

}  // namespace
}  // namespace ringmta::bounce
