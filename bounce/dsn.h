// RFC 3464 delivery status notifications: builds the complete RFC 5322 message
// (multipart/report; report-type=delivery-status) that tells an envelope Sender which recipients
// failed or are delayed, and decides whether a sender may be bounced to at all.
// Sans-I/O: no clock, no randomness, no sockets — the caller passes the times and a unique token.
// Every text that came from a remote server is sanitised (no CR/LF/control characters, US-ASCII,
// folded) so a reply cannot inject headers or MIME parts; output lines are CRLF and ≤ 998 octets.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace ringmta::bounce {

enum class DsnAction { kFailed, kDelayed };

struct DsnRecipient {
  std::string final_recipient;  // the address, e.g. "someone@example.com"
  DsnAction action = DsnAction::kFailed;
  std::string status;            // RFC 3463 "5.1.1"; class 5 for failed, 4 for delayed
  std::string remote_mta;        // host name of the server that answered; "" = none (e.g. NXDOMAIN)
  std::string diagnostic;        // the reply, e.g. "550 5.1.1 User unknown" ("smtp; " is added)
  int64_t last_attempt = 0;      // unix seconds; 0 = omitted
  int64_t will_retry_until = 0;  // delayed only; 0 = omitted
};

struct DsnInput {
  std::string reporting_mta;         // this host's name, e.g. "mail.example.org"
  std::string reporting_domain;      // for From: MAILER-DAEMON@...; "" = reporting_mta
  std::string envelope_sender;       // the original MAIL FROM: where the DSN goes
  std::string original_headers;      // the original message's header block (raw; a body is cut off)
  std::string original_envelope_id;  // RFC 3461 ENVID; "" = omitted
  int64_t arrival_date = 0;          // when the original message was queued (unix seconds)
  int64_t now = 0;                   // the DSN's Date:
  std::string unique;  // a token unique to this DSN (Message-ID, MIME boundary); [A-Za-z0-9.-]
  std::vector<DsnRecipient> recipients;
};

// False for the null sender ("" or "<>"), for senders that are themselves mail systems
// (MAILER-DAEMON, postmaster, double-bounce, ...) and for anything that is not a valid address:
// a DSN to them could loop. A DSN itself is sent with the null sender, so it is never bounced.
bool should_bounce(std::string_view envelope_sender);

// The whole message, headers and body, CRLF line endings. Errors: should_bounce() is false for
// the sender, no recipients, an invalid recipient address, status, host name or unique token.
Result<std::string> build_dsn(const DsnInput& input);

// One recipient's entry as kept in the queue until its DSN is sent (storage::PendingBounce), and
// back. Fields are sanitised on the way in, so the tab-separated form is unambiguous.
std::string encode_report(const DsnRecipient& recipient);
Result<DsnRecipient> decode_report(std::string_view report);

// A value made safe for one header or delivery-status field: control characters (CR, LF, TAB,
// NUL, ...) become spaces, non-ASCII bytes become '?', runs of spaces collapse, ends trimmed, and
// at most max_length bytes are kept. Exposed for tests.
std::string sanitize_field(std::string_view value, std::size_t max_length = 2000);

}  // namespace ringmta::bounce
