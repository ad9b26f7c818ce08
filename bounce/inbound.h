// Reading reports that come back to the envelope Sender: RFC 3464 DSNs (multipart/report;
// report-type=delivery-status) and RFC 5965 ARF complaints (report-type=feedback-report), as
// Postfix, Exim, Exchange, Gmail and feedback loops send them. Out of a raw message it takes the
// address the report was delivered to (Delivered-To, X-Original-To, Envelope-To, To: the VERP
// address, if one of ours), and per recipient the address, action, status and diagnostic.
// A message that is not such a report is an error naming why.
// Sans-I/O: parses bytes; no files, no queue. Bounded work: at most kMaxParts MIME parts, nesting
// depth kMaxDepth, and linear scans, so a hostile message cannot stall it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace ringmta::bounce {

struct InboundRecipient {
  std::string address;     // Final-Recipient (else Original-Recipient), without "rfc822;"
  std::string action;      // lower-case: failed, delayed, delivered, relayed, expanded
  std::string status;      // "5.1.1"
  std::string diagnostic;  // Diagnostic-Code without its "smtp;" type
  std::string remote_mta;  // without "dns;"
};

struct InboundReport {
  enum class Kind { kDeliveryStatus, kComplaint };
  Kind kind = Kind::kDeliveryStatus;
  // Where it was delivered: the first of Delivered-To, X-Original-To, Envelope-To, To.
  std::vector<std::string> delivered_to;
  std::vector<InboundRecipient> recipients;  // delivery-status: one per recipient group
  std::string feedback_type;                 // complaint: "abuse", "fraud", ...
  std::string original_rcpt_to;              // complaint: Original-Rcpt-To, if given
  std::string original_mail_from;            // complaint: Original-Mail-From, if given
  std::string original_message_id;           // the returned message's Message-ID, if included
};

inline constexpr int kMaxParts = 64;
inline constexpr int kMaxDepth = 4;

Result<InboundReport> parse_inbound_report(std::string_view raw);

}  // namespace ringmta::bounce
