// Bounce classification: what an SMTP reply (code, RFC 3463 enhanced status code, text) means for a
// recipient — a category, hard or soft, and whether it is a configuration problem of ours rather
// than the recipient's. Table-driven: an ordered list of rules, the first match wins; user rules
// from TOML files are tried before the built-in defaults. The one classifier of replies: the
// engine pauses a route on exactly the replies this calls configuration problems (refusal), and
// `ringmta classify` prints this verdict. Below the built-in table, the smart-host refusal
// wordings of protocol/diagnosis.h (what the diagnosis explains) also make a reply a
// configuration problem; a user rule's `configuration` is final.
// Sans-I/O except load_rules_file(), which reads one file: no sockets, no clocks, no exceptions
// out of it. Matching is linear in the reply (substrings with '*' wildcards, no backtracking
// regex), so a hostile server's reply cannot stall a shard.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/diagnosis.h"
#include "protocol/smtp_reply.h"
#include "util/result.h"

namespace ringmta::bounce {

enum class Category {
  kInvalidRecipient,  // no such user / mailbox disabled
  kMailboxFull,       // over quota (soft even as 5xx)
  kMessageTooLarge,   // size limits
  kPolicyBlock,       // spam, reputation, blocklists, content
  kRateLimited,       // too many connections/messages, throttling (soft even as 5xx)
  kRelayingDenied,    // the smart host will not relay for us: configuration
  kAuthRequired,  // SMTP AUTH required (not given), sender not owned by the login: configuration
  kDnsFailure,    // NXDOMAIN, null MX, no MX host address, DNS temporarily failing
  kTlsFailure,    // the TLS handshake or the certificate failed
  kConnectionFailure,  // refused, timed out, lost
  kExpired,            // too long in the queue (RFC 3463 X.4.7)
  kOther,
  // Mail not authenticated for the sender's domain (DMARC/DKIM, SPF, reverse DNS): configuration
  // of the sender's DNS or signing, never the recipient's fault.
  kSenderAuthentication,
  // What the user must do differs for each of these (issue 17), so each has its own:
  kGreylisted,       // "try again in a few minutes": retried, never a reputation signal
  kServerTemporary,  // the receiving server's own trouble (local error, no resources, unavailable)
  kSenderRefused,    // the envelope Sender or its domain refused (verify failed, bad sender)
  kHeloPtrRefused,   // the EHLO name or the sending IP's reverse DNS (PTR) refused: configuration
  kAuthFailed,       // SMTP AUTH given and refused (wrong user or password): configuration
  kTlsRequired,      // the server wants TLS (STARTTLS first, encryption required): configuration
};
inline constexpr int kCategoryCount = 19;

std::string_view category_name(Category category);  // "invalid_recipient", ...
std::optional<Category> category_from_name(std::string_view name);

// The verdict for one reply.
struct Classification {
  Category category = Category::kOther;
  bool hard = false;           // permanent for this recipient: do not retry
  bool configuration = false;  // our setup's fault (relaying, AUTH): pause the route, do not bounce
  std::string rule;            // which rule decided, e.g. "default:gmail-no-such-user" or "FILE#2"
  // What a smart-host route does with the reply, decided here so that `classify` and delivery
  // never disagree: a permanent configuration refusal pauses the route (its kind names the
  // diagnosis); any other permanent refusal is this recipient's (kRecipientRejected); a 4xx is
  // retried (kTransient), whatever its category — the server asked for a retry.
  protocol::RefusalKind refusal = protocol::RefusalKind::kNone;
};

// Whether a failure says the address itself cannot receive mail, so later sends should skip it:
// a hard invalid recipient, or a hard DNS failure (the domain does not exist or has a null MX).
// Policy blocks, size limits and full mailboxes are about the message or the moment, not the
// address: never suppressed.
bool should_suppress(const Classification& verdict);

// How a rule sets hard/soft. A 4xx reply is always soft whatever the rule says (the server asked
// for a retry); kByCode means 5xx hard, 4xx soft.
enum class Severity { kByCode, kHard, kSoft };

// One rule. Every criterion given must hold; an empty list means "any".
struct Rule {
  struct CodeRange {
    int low = 0, high = 999;
  };
  // An enhanced-code pattern: class / subject / detail, -1 = any. "5.2" is {5, 2, -1}: 5.2.x;
  // "x.2.2" is {-1, 2, 2}; "5.1.1" matches 5.1.1 only (not 5.1.10).
  struct StatusPattern {
    int klass = -1, subject = -1, detail = -1;
  };
  std::string name;
  std::vector<CodeRange> codes;         // any of
  std::vector<StatusPattern> statuses;  // any of; a reply without an enhanced code never matches
  std::vector<std::string> text;        // any of: lower-case, '*' matches any run of characters
  std::optional<bool> local;            // only ringmta's own replies (true) / only servers' (false)
  Category category = Category::kOther;
  Severity severity = Severity::kByCode;
  std::optional<bool> configuration;  // default: relaying_denied and auth_required are
};

// Parses rule fields as they appear in rule files (exposed for tests and the fuzz target):
// codes "550", "5xx", "55x", "550-554"; statuses "5.1.1", "5.2", "4", "x.2.2".
Result<Rule::CodeRange> parse_code_pattern(std::string_view text);
Result<Rule::StatusPattern> parse_status_pattern(std::string_view text);

// A rule's fields written back as rule files write them (for `ringmta classify --list-rules`):
// codes "550" or "550-559", statuses "x.7.8" or "5.2"; and whether the rule's verdict is a
// configuration problem (its `configuration`, else its category's default).
std::string code_pattern_text(Rule::CodeRange range);
std::string status_pattern_text(Rule::StatusPattern pattern);
bool rule_is_configuration(const Rule& rule);

// Case-insensitive wildcard match of pattern (lower-case, '*' = any run) anywhere in text.
// O(text × pattern) worst case, no recursion.
bool wildcard_contains(std::string_view text, std::string_view pattern);

// Lenient reading of a reply as users paste it: "550 5.1.1 text", "550-5.1.1 a 550 5.1.1 b"
// (a multi-line reply joined), several lines, "smtp; 550 ..." (a DSN Diagnostic-Code), or bare
// text without a code (code 0).
protocol::Reply parse_reply_text(std::string_view text);

class Classifier {
 public:
  Classifier();  // the built-in defaults only

  // Adds the rules of a TOML rule file, tried before the defaults and after rules added earlier.
  // Errors name the file and the rule's index ("rules.toml: rule 3: unknown category 'spam'").
  // Nothing is added when the file has an error.
  Result<void> load_rules_file(const std::string& path);
  // The same from text; source names the rules in errors and in Classification::rule.
  Result<void> add_rules_toml(std::string_view toml, const std::string& source);

  Classification classify(const protocol::Reply& reply) const;
  Classification classify_text(std::string_view text) const {
    return classify(parse_reply_text(text));
  }

  std::size_t user_rule_count() const { return user_.size(); }
  const std::vector<Rule>& user_rules() const { return user_; }
  static const std::vector<Rule>& default_rules();

 private:
  std::vector<Rule> user_;
};

}  // namespace ringmta::bounce
