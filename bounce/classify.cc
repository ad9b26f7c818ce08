// Bounce classification rules: the built-in table, the TOML rule-file reader and the matcher.
// It may not touch sockets or clocks; the only I/O is reading a rule file in load_rules_file().
// toml++ throws on bad syntax: that is caught here and turned into an Error naming the file.
#include "bounce/classify.h"

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cstdlib>

#include "util/file.h"
#include "util/strings.h"
#include "util/toml_document.h"

namespace ringmta::bounce {
namespace {

constexpr std::array<std::string_view, kCategoryCount> kNames = {
    "invalid_recipient",     "mailbox_full",       "message_too_large", "policy_block",
    "rate_limited",          "relaying_denied",    "auth_required",     "dns_failure",
    "tls_failure",           "connection_failure", "expired",           "other",
    "sender_authentication", "greylisted",         "server_temporary",  "sender_refused",
    "helo_ptr_refused",      "auth_failed",        "tls_required",
};

// Limits on rule files, so a mistaken (or fuzzed) file cannot make classification slow.
constexpr std::size_t kMaxRules = 10000;
constexpr std::size_t kMaxItemsPerField = 200;
constexpr std::size_t kMaxPatternLength = 500;
// Only the first this many bytes of a reply's text are matched (real replies are far shorter).
constexpr std::size_t kMaxMatchedText = 8192;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// What trim() removes here: rule items and pasted replies may carry line ends as well as blanks.
constexpr std::string_view kSpace = " \t\r\n";

// "550 rest" / "550-rest" / "550": the code and the rest; nullopt when the line has no code.
std::optional<std::pair<int, std::string_view>> leading_code(std::string_view line) {
  if (line.size() < 3 || line[0] < '2' || line[0] > '5' || !is_digit(line[1]) ||
      !is_digit(line[2])) {
    return std::nullopt;
  }
  if (line.size() > 3 && line[3] != ' ' && line[3] != '-' && line[3] != '\t') return std::nullopt;
  int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  return std::make_pair(code, line.size() > 3 ? line.substr(4) : std::string_view());
}

Severity default_severity(Category c) {
  return c == Category::kMailboxFull || c == Category::kRateLimited || c == Category::kGreylisted
             ? Severity::kSoft
             : Severity::kByCode;
}

bool default_configuration(Category c) {
  return c == Category::kRelayingDenied || c == Category::kAuthRequired ||
         c == Category::kAuthFailed || c == Category::kSenderAuthentication ||
         c == Category::kSenderRefused || c == Category::kHeloPtrRefused ||
         c == Category::kTlsRequired;
}

std::vector<std::string_view> split_bar(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    std::size_t bar = s.find('|');
    out.push_back(s.substr(0, bar));
    if (bar == std::string_view::npos) break;
    s.remove_prefix(bar + 1);
  }
  return out;
}

// --- the built-in rules -------------------------------------------------------------------------
// Order matters: the first match wins. First what ringmta itself says and enhanced codes that mean
// one thing only; then wording, most specific first; then RFC 3463 codes; then bare reply codes.
struct DefaultSpec {
  const char* name;
  const char* codes;     // '|'-separated code patterns, "" = any
  const char* statuses;  // '|'-separated status patterns
  const char* text;      // '|'-separated lower-case wildcard patterns
  Category category;
  int local = -1;  // -1 any, 0 servers' replies, 1 ringmta's own
};

using C = Category;
const DefaultSpec kDefaults[] = {
    // ringmta's own replies and unambiguous enhanced codes.
    {"expired-status", "", "x.4.7", "", C::kExpired},
    // Non-ASCII addresses refused (RFC 6531/6533: X.6.7-X.6.9), ringmta's own when the server has
    // no SMTPUTF8: the server's limit, not a bad address (never a reason to suppress it).
    {"smtputf8-status", "", "x.6.7|x.6.8|x.6.9", "", C::kOther},
    {"tls-handshake", "", "4.7.5", "", C::kTlsFailure},
    {"tls-encryption-needed", "", "x.7.10|x.7.11", "", C::kTlsRequired},
    {"connection-status", "", "4.4.1|4.4.2", "", C::kConnectionFailure},
    {"dns-status", "", "4.4.3|x.4.4|x.1.2", "", C::kDnsFailure},
    {"dns-local", "", "x.1.10|x.4.6", "", C::kDnsFailure, 1},
    {"null-mx", "", "", "null mx", C::kDnsFailure},
    {"too-large-status", "", "x.3.4", "", C::kMessageTooLarge},
    {"auth-failed-local", "535", "", "", C::kAuthFailed, 1},
    {"auth-failed-local-wording", "530", "", "login failed|invalid login|authentication failed",
     C::kAuthFailed, 1},
    {"auth-local", "530", "", "", C::kAuthRequired, 1},
    // Wording, most specific first.
    {"relaying-denied", "", "",
     "relay access denied|relaying denied|relay not permitted|not permitted to relay|unable to "
     "relay|relaying not allowed|relay not allowed|not allowed to relay|relay denied|relaying "
     "disallowed|we do not relay|relaying prohibited|relay prohibited|allowed rcpthosts|relay "
     "access not allowed",
     C::kRelayingDenied},
    // Greylisting says "come back in a few minutes" in many ways, often with "Recipient address
    // rejected" (Postgrey): before the recipient and sender wordings.
    {"greylisted", "", "",
     "greylist|graylist|grey-list|gray-list|grey listed|gray listed|greylisting in "
     "action|temporarily deferred due to grey|not yet authorized to deliver mail from",
     C::kGreylisted},
    {"tls-failure-wording", "", "", "tls handshake failed|certificate verif|tls negotiation failed",
     C::kTlsFailure},
    {"tls-required-wording", "", "",
     "must issue a starttls|starttls required|starttls is required|tls required|tls is "
     "required|encryption required|encryption needed|without tls|tls not available|requires "
     "tls|requires encryption|use starttls",
     C::kTlsRequired},
    {"auth-sender-mismatch", "", "",
     "not owned by user|sender login mismatch|send as this sender|sendasdenied|does not have "
     "permissions to send",
     C::kAuthRequired},
    {"auth-failed-wording", "", "",
     "authentication failed|authentication failure|authentication unsuccessful|authentication "
     "credentials invalid|incorrect authentication|username and password not "
     "accepted|invalid credentials|invalid login|login failed|auth failed|bad username or "
     "password|invalid user name or password|wrong password",
     C::kAuthFailed},
    {"auth-wording", "", "",
     "authentication required|authentication is required|auth required|client was not "
     "authenticated|not authenticated to send|smtp auth|pop-before-smtp|pop3 login|"
     "authentication is disabled|smtpclientauthentication is disabled",
     C::kAuthRequired},
    {"auth-failed-codes", "535", "", "", C::kAuthFailed},
    {"auth-codes", "530|538", "", "", C::kAuthRequired},
    {"auth-failed-status", "", "x.7.8", "", C::kAuthFailed},
    {"auth-status", "", "x.7.57|x.7.139", "", C::kAuthRequired},
    {"mailbox-full-wording", "", "",
     "mailbox full|mailbox is full|mailbox size limit|too many messages on the server|over "
     "quota|overquota|exceeded storage allocation|exhausted allowed storage|storage "
     "quota|storage space|quotaexceeded|mailbox quota|user quota|disk quota|quota limit|exceeds "
     "quota|over its quota|mailbox has exceeded|mailbox exceeds|speichervolumen",
     C::kMailboxFull},
    {"too-large-wording", "", "",
     "message size exceeds|size exceeds|message too large|message is too large|too "
     "large|message too big|too big|size limit|message length exceeds|maximum message size",
     C::kMessageTooLarge},
    {"rate-limited-wording", "", "",
     "rate limit|ratelimit|rate-limit|too many connections|too many concurrent|too many "
     "sessions|too many smtp sessions|too many messages|too many recipients|too many "
     "errors|too quickly|too fast|throttl|server busy|excessive volume|sending quota|sending "
     "limit|max message per connection|per connection exceeded|connection limit|relay limit "
     "exceeded|exceeded the rate|try again in an hour|receiving mail at a rate",
     C::kRateLimited},
    {"quota-wording", "", "", "quota exceeded|quota", C::kMailboxFull},
    // The EHLO name and the reverse DNS of the sending address (Gmail's 5.7.25, Comcast's PTR
    // requirement, Postfix's reject_non_fqdn_helo_hostname): before sender and policy wordings.
    {"helo-ptr-status", "", "x.7.25", "", C::kHeloPtrRefused},
    {"helo-ptr-wording", "", "",
     "helo command rejected|fully-qualified hostname|fully qualified hostname|invalid helo|bad "
     "helo|helo rejected|ehlo rejected|helo/ehlo|helo name|ehlo name|reverse dns|reverse "
     "lookup|ptr record|no ptr|rdns|cannot find your hostname|cannot find your reverse "
     "hostname|hostname does not resolve|client host name|reverse hostname|dns ptr",
     C::kHeloPtrRefused},
    {"sender-rejected", "", "",
     "sender verify failed|sender verification failed|sender address rejected|bad outbound "
     "sender|sender domain|sender rejected|sender is not allowed|sender address is not "
     "valid|invalid sender|sender not allowed|from address rejected|mail from rejected",
     C::kSenderRefused},
    // The providers' refusals of mail not authenticated for the sender's domain (Gmail 5.7.26,
    // 5.7.25, 5.7.27; Outlook 5.7.509, 5.7.515; RFC 7372's SPF codes), before spam wording.
    {"sender-authentication-status", "", "x.7.23|x.7.24|x.7.26|x.7.27|x.7.509|x.7.515", "",
     C::kSenderAuthentication},
    {"sender-authentication-wording", "", "", "dmarc|spf|dkim|unauthenticated|authentication level",
     C::kSenderAuthentication},
    {"policy-wording", "", "",
     "spamhaus|spamcop|barracuda|sorbs|blacklist|black list|blocklist|block list|blocked "
     "using|listed on|listed at|dnsbl|spam|unsolicited|"
     "reputation|client host rejected|virus|malware|phishing|complaints|content "
     "restrictions|policy restrictions|policy violation|policy reasons|local "
     "policy|administrative prohibition|not accepted for policy",
     C::kPolicyBlock},
    {"dns-wording", "", "",
     "domain not found|host or domain name not found|domain does not exist|domain doesn't "
     "exist|no mx|mx record|dns lookup failed|dns query failed|dns error|dns failure|dns "
     "lookup|nonexistentdomain|nonexistent domain|name or service not known|host not "
     "found|host unknown|unrouteable domain|unroutable domain|mx points at|mx host",
     C::kDnsFailure},
    {"invalid-recipient-wording", "", "",
     "user unknown|unknown user|user is unknown|unknown recipient|recipient unknown|addressee "
     "unknown|no such user|no such recipient|no such mailbox|no such address|no mailbox|does "
     "not exist|doesn't exist|not exist|user not found|recipient not found|mailbox not "
     "found|address not found|account not found|recipnotfound|recipientnotfound|invalid "
     "recipient|invalid mailbox|invalid address|not a valid|unrouteable address|unroutable "
     "address|mailbox is unavailable|account is disabled|account has been disabled|account "
     "disabled|is disabled|disabled or discontinued|inactive|doesn't have a|not our "
     "customer|account closed|unavailable mail user|bad destination mailbox|undeliverable "
     "address|unknown local part|benutzer nicht bekannt|not listed in domino|mailbox "
     "disabled|no longer|recipient rejected|address rejected|not a known user|unknown or illegal "
     "alias|refused before sending",
     C::kInvalidRecipient},
    {"mailbox-unavailable", "5xx", "", "mailbox unavailable|mailbox currently unavailable",
     C::kInvalidRecipient},
    {"expired-wording", "", "",
     "message expired|queue.expired|retry timeout exceeded|delivery time expired|expired in the "
     "queue|could not be delivered within|too long in the queue|delivery expired|has expired",
     C::kExpired},
    {"server-temporary-wording", "4xx", "",
     "local error in processing|temporary local problem|temporary failure|temporarily "
     "unavailable|service not available|service unavailable|service is unavailable|temporary "
     "server error|internal server error|internal error|system resources|insufficient system|"
     "queue file write error|resources temporarily|try again later|please try later|system "
     "not accepting|server is shutting down|temporarily deferred|temporarily rejected|temporary "
     "problem",
     C::kServerTemporary},
    {"connection-wording", "", "",
     "connection refused|connection timed out|connection reset|connection dropped|connection "
     "lost|lost connection|no route to host|network is unreachable|cannot connect|could not "
     "connect|unable to connect|timeout waiting|timed out",
     C::kConnectionFailure},
    // A bad sender's status is more telling than the weak words below ("550 5.1.7 refused").
    {"status-bad-sender", "", "x.1.7|x.1.8", "", C::kSenderRefused},
    {"policy-weak-wording", "", "",
     "blocked|banned|prohibit|denied|not authorized|refused|policy|rejected due to|reject due "
     "to|not allowed|restricted|not permitted|message rejected|forbidden",
     C::kPolicyBlock},
    // RFC 3463 enhanced codes.
    {"status-invalid-recipient", "", "x.1.1|x.1.0|x.1.3|x.1.4|x.1.6|x.1.10|x.2.1", "",
     C::kInvalidRecipient},
    {"status-mailbox-full", "", "x.2.2", "", C::kMailboxFull},
    {"status-too-large", "", "x.2.3", "", C::kMessageTooLarge},
    {"status-connection", "", "x.4.1|x.4.2", "", C::kConnectionFailure},
    {"status-congestion", "", "x.4.5|x.5.3", "", C::kRateLimited},
    {"status-system", "", "x.3.0|x.3.1|x.3.2|x.3.5", "", C::kServerTemporary},
    {"status-security", "", "x.7", "", C::kPolicyBlock},
    // Bare reply codes (RFC 5321 §4.2.3).
    {"code-mailbox-name", "551|553", "", "", C::kInvalidRecipient},
    {"code-server-temporary", "421|451|452", "", "", C::kServerTemporary},
};

std::vector<Rule> build_defaults() {
  std::vector<Rule> rules;
  for (const DefaultSpec& spec : kDefaults) {
    Rule rule;
    rule.name = std::string("default:") + spec.name;
    rule.category = spec.category;
    rule.severity = default_severity(spec.category);
    if (spec.local >= 0) rule.local = spec.local == 1;
    for (std::string_view c : split_bar(spec.codes)) {
      auto parsed = parse_code_pattern(c);
      if (!parsed) std::abort();  // a typo in the table above; the unit tests load it
      rule.codes.push_back(*parsed);
    }
    for (std::string_view s : split_bar(spec.statuses)) {
      auto parsed = parse_status_pattern(s);
      if (!parsed) std::abort();
      rule.statuses.push_back(*parsed);
    }
    for (std::string_view t : split_bar(spec.text)) rule.text.emplace_back(t);
    rules.push_back(std::move(rule));
  }
  return rules;
}

// --- matching -----------------------------------------------------------------------------------

bool code_matches(const Rule& rule, int code) {
  if (rule.codes.empty()) return true;
  return std::any_of(rule.codes.begin(), rule.codes.end(),
                     [&](const Rule::CodeRange& r) { return code >= r.low && code <= r.high; });
}

bool status_matches(const Rule& rule, const std::optional<protocol::EnhancedCode>& enhanced) {
  if (rule.statuses.empty()) return true;
  if (!enhanced) return false;
  return std::any_of(rule.statuses.begin(), rule.statuses.end(), [&](const auto& p) {
    return (p.klass < 0 || p.klass == enhanced->klass) &&
           (p.subject < 0 || p.subject == enhanced->subject) &&
           (p.detail < 0 || p.detail == enhanced->detail);
  });
}

bool text_matches(const Rule& rule, std::string_view lower_text) {
  if (rule.text.empty()) return true;
  return std::any_of(rule.text.begin(), rule.text.end(),
                     [&](const std::string& p) { return wildcard_contains(lower_text, p); });
}

bool rule_matches(const Rule& rule, const protocol::Reply& reply, std::string_view lower_text) {
  if (rule.local && *rule.local != reply.local) return false;
  return code_matches(rule, reply.code) && status_matches(rule, reply.enhanced) &&
         text_matches(rule, lower_text);
}

Classification verdict(const Rule& rule, const protocol::Reply& reply) {
  Classification c;
  c.category = rule.category;
  c.rule = rule.name;
  int klass = reply.code != 0 ? reply.code / 100 : reply.enhanced ? reply.enhanced->klass : 0;
  if (klass == 4) {
    c.hard = false;
  } else if (rule.severity == Severity::kByCode) {
    c.hard = klass == 5;
  } else {
    c.hard = rule.severity == Severity::kHard;
  }
  c.configuration = rule.configuration.value_or(default_configuration(rule.category));
  return c;
}

// --- rule files ---------------------------------------------------------------------------------

// A TOML value that may be one item or an array of items, as strings (integers allowed for codes).
Result<std::vector<std::string>> string_list(const toml::node& node, bool integers_ok) {
  std::vector<std::string> out;
  auto one = [&](const toml::node& item) -> bool {
    if (auto s = item.value_exact<std::string>()) {
      out.push_back(*s);
      return true;
    }
    if (integers_ok) {
      if (auto i = item.value_exact<int64_t>()) {
        out.push_back(std::to_string(*i));
        return true;
      }
    }
    return false;
  };
  if (const toml::array* list = node.as_array()) {
    if (list->size() > kMaxItemsPerField) {
      return make_error("more than " + std::to_string(kMaxItemsPerField) + " items");
    }
    for (const auto& item : *list) {
      if (!one(item))
        return make_error(integers_ok ? "must list strings or numbers" : "must list strings");
    }
    if (out.empty()) return make_error("is an empty list");
    return out;
  }
  if (!one(node))
    return make_error(integers_ok ? "must be a string, a number or a list"
                                  : "must be a string or a list of strings");
  return out;
}

Result<Rule> parse_rule(const toml::table& table, const std::string& label) {
  Rule rule;
  bool has_category = false;
  for (const auto& [key, node] : table) {
    std::string k(key.str());
    auto fail = [&](const std::string& why) { return make_error(label + ": '" + k + "' " + why); };
    if (k == "name") {
      auto s = node.value_exact<std::string>();
      if (!s) return fail("must be a string");
      rule.name = *s;
    } else if (k == "category") {
      auto s = node.value_exact<std::string>();
      if (!s) return fail("must be a string");
      auto c = category_from_name(*s);
      if (!c) return make_error(label + ": unknown category '" + *s + "'");
      rule.category = *c;
      has_category = true;
    } else if (k == "codes" || k == "code") {
      auto items = string_list(node, true);
      if (!items) return fail(items.error().message);
      for (const auto& item : *items) {
        auto r = parse_code_pattern(item);
        if (!r) return make_error(label + ": " + r.error().message);
        rule.codes.push_back(*r);
      }
    } else if (k == "status") {
      auto items = string_list(node, false);
      if (!items) return fail(items.error().message);
      for (const auto& item : *items) {
        auto r = parse_status_pattern(item);
        if (!r) return make_error(label + ": " + r.error().message);
        rule.statuses.push_back(*r);
      }
    } else if (k == "text") {
      auto items = string_list(node, false);
      if (!items) return fail(items.error().message);
      for (const auto& item : *items) {
        std::string p = lower(trim(item, kSpace));
        if (p.empty() || p.find_first_not_of('*') == std::string::npos) {
          return fail("has an empty pattern");
        }
        if (p.size() > kMaxPatternLength) {
          return fail("has a pattern longer than " + std::to_string(kMaxPatternLength));
        }
        rule.text.push_back(std::move(p));
      }
    } else if (k == "severity") {
      auto s = node.value_exact<std::string>();
      if (!s) return fail("must be a string");
      if (*s == "hard") {
        rule.severity = Severity::kHard;
      } else if (*s == "soft") {
        rule.severity = Severity::kSoft;
      } else if (*s == "auto") {
        rule.severity = Severity::kByCode;
      } else {
        return fail("must be \"hard\", \"soft\" or \"auto\"");
      }
    } else if (k == "configuration" || k == "local") {
      auto b = node.value_exact<bool>();
      if (!b) return fail("must be true or false");
      (k == "local" ? rule.local : rule.configuration) = *b;
    } else {
      return make_error(label + ": unknown key '" + k +
                        "' (known: name, category, codes, status, text, severity, "
                        "configuration, local)");
    }
  }
  if (!has_category) return make_error(label + ": 'category' is required");
  if (rule.codes.empty() && rule.statuses.empty() && rule.text.empty()) {
    return make_error(label + ": give at least one of 'codes', 'status', 'text'");
  }
  if (!table.contains("severity")) rule.severity = default_severity(rule.category);
  return rule;
}

}  // namespace

std::string_view category_name(Category category) {
  auto i = static_cast<std::size_t>(category);
  return i < kNames.size() ? kNames[i] : "other";
}

std::optional<Category> category_from_name(std::string_view name) {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<Category>(i);
  }
  return std::nullopt;
}

Result<Rule::CodeRange> parse_code_pattern(std::string_view text) {
  std::string_view t = trim(text, kSpace);
  auto bad = [&] {
    return make_error("bad reply code '" + std::string(t.substr(0, 40)) +
                      "' (want e.g. \"550\", \"5xx\", \"55x\", \"550-554\")");
  };
  auto three = [](std::string_view s) -> int {
    if (s.size() != 3 || s[0] < '2' || s[0] > '5' || !is_digit(s[1]) || !is_digit(s[2])) {
      return -1;
    }
    return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
  };
  if (std::size_t dash = t.find('-'); dash != std::string_view::npos) {
    int low = three(trim(t.substr(0, dash), kSpace));
    int high = three(trim(t.substr(dash + 1), kSpace));
    if (low < 0 || high < 0 || high < low) return bad();
    return Rule::CodeRange{low, high};
  }
  if (t.size() != 3 || t[0] < '2' || t[0] > '5') return bad();
  int low = t[0] - '0', high = low;
  bool wild = false;
  for (std::size_t i = 1; i < 3; ++i) {
    char c = lower(t[i]);
    if (c == 'x') {
      wild = true;
      low = low * 10;
      high = high * 10 + 9;
    } else if (is_digit(c) && !wild) {
      low = low * 10 + (c - '0');
      high = high * 10 + (c - '0');
    } else {
      return bad();  // a digit after an x ("5x0") is not a range
    }
  }
  return Rule::CodeRange{low, high};
}

std::string code_pattern_text(Rule::CodeRange range) {
  if (range.low == range.high) return std::to_string(range.low);
  return std::to_string(range.low) + "-" + std::to_string(range.high);
}

std::string status_pattern_text(Rule::StatusPattern pattern) {
  const auto part = [](int v) { return v < 0 ? std::string("x") : std::to_string(v); };
  std::string out = part(pattern.klass) + "." + part(pattern.subject);
  if (pattern.detail >= 0) out += "." + part(pattern.detail);
  return out;
}

bool rule_is_configuration(const Rule& rule) {
  return rule.configuration.value_or(default_configuration(rule.category));
}

Result<Rule::StatusPattern> parse_status_pattern(std::string_view text) {
  std::string_view t = trim(text, kSpace);
  auto bad = [&] {
    return make_error("bad status '" + std::string(t.substr(0, 40)) +
                      "' (want e.g. \"5.1.1\", \"5.2\", \"x.2.2\")");
  };
  int parts[3] = {-1, -1, -1};
  std::size_t n = 0;
  std::string_view rest = t;
  while (true) {
    if (n == 3) return bad();
    std::size_t dot = rest.find('.');
    std::string_view part = rest.substr(0, dot);
    if (part == "x" || part == "X" || part == "*") {
      parts[n] = -1;
    } else {
      if (part.empty() || part.size() > 3) return bad();
      int v = 0;
      for (char c : part) {
        if (!is_digit(c)) return bad();
        v = v * 10 + (c - '0');
      }
      parts[n] = v;
    }
    ++n;
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  if (parts[0] != -1 && parts[0] != 2 && parts[0] != 4 && parts[0] != 5) return bad();
  return Rule::StatusPattern{parts[0], parts[1], parts[2]};
}

bool wildcard_contains(std::string_view text, std::string_view pattern) {
  // Segments between '*' must appear in order; taking each at its leftmost position is optimal.
  std::size_t pos = 0;
  while (!pattern.empty()) {
    std::size_t star = pattern.find('*');
    std::string_view segment = pattern.substr(0, star);
    if (!segment.empty()) {
      std::size_t found = text.find(segment, pos);
      if (found == std::string_view::npos) return false;
      pos = found + segment.size();
    }
    if (star == std::string_view::npos) break;
    pattern.remove_prefix(star + 1);
  }
  return true;
}

protocol::Reply parse_reply_text(std::string_view text) {
  protocol::Reply reply;
  std::string_view t = trim(text, kSpace);
  if (istarts_with(t, "diagnostic-code:")) t = trim(t.substr(16), kSpace);
  if (istarts_with(t, "smtp;")) t = trim(t.substr(5), kSpace);
  bool first = true;
  while (!t.empty() || first) {
    std::size_t nl = t.find('\n');
    std::string_view line = trim(t.substr(0, nl), kSpace);
    t = nl == std::string_view::npos ? std::string_view() : t.substr(nl + 1);
    if (line.empty()) {
      if (first && t.empty()) break;
      continue;
    }
    if (auto coded = leading_code(line)) {
      if (first) reply.code = coded->first;
      line = trim(coded->second, kSpace);
    }
    if (!reply.enhanced) reply.enhanced = protocol::parse_enhanced(line);
    first = false;
    reply.lines.emplace_back(line);
  }
  if (reply.code == 0 || reply.lines.empty()) return reply;
  // A multi-line reply pasted as one line: "550-5.1.1 The email account ... 550-5.1.1 double-
  // checking ... 550 5.1.1 https://...". Drop the repeated "550-5.1.1" / "550 5.1.1" markers.
  std::string code = std::to_string(reply.code);
  std::vector<std::string> markers;
  if (reply.enhanced) {
    markers.push_back(" " + code + "-" + reply.enhanced->str() + " ");
    markers.push_back(" " + code + " " + reply.enhanced->str() + " ");
  } else {
    markers.push_back(" " + code + "-");
  }
  for (std::string& l : reply.lines) {
    for (const std::string& marker : markers) {
      std::size_t at;
      while ((at = l.find(marker)) != std::string::npos) l.replace(at, marker.size(), " ");
    }
  }
  return reply;
}

const std::vector<Rule>& Classifier::default_rules() {
  static const std::vector<Rule> rules = build_defaults();
  return rules;
}

Classifier::Classifier() = default;

Result<void> Classifier::add_rules_toml(std::string_view toml_text, const std::string& source) {
  auto parsed = parse_toml_document(toml_text, source);
  if (!parsed) return parsed.error();
  const toml::table& root = parsed.value();
  std::vector<Rule> added;
  for (const auto& [key, node] : root) {
    if (key.str() != "rule") {
      return make_error(source + ": unknown top-level key '" + std::string(key.str()) +
                        "' (rules are [[rule]] tables)");
    }
    const toml::array* list = node.as_array();
    if (list == nullptr || !list->is_array_of_tables()) {
      return make_error(source + ": 'rule' must be an array of tables ([[rule]])");
    }
    for (std::size_t i = 0; i < list->size(); ++i) {
      if (user_.size() + added.size() >= kMaxRules) {
        return make_error(source + ": more than " + std::to_string(kMaxRules) + " rules");
      }
      std::string label = source + ": rule " + std::to_string(i + 1);
      auto rule = parse_rule(*(*list)[i].as_table(), label);
      if (!rule) return rule.error();
      if (rule->name.empty()) rule->name = source + "#" + std::to_string(i + 1);
      added.push_back(std::move(rule.value()));
    }
  }
  for (auto& r : added) user_.push_back(std::move(r));
  return {};
}

Result<void> Classifier::load_rules_file(const std::string& path) {
  auto text = read_file(path, "rule file", 16u << 20);
  if (!text) return text.error();
  return add_rules_toml(*text, path);
}

bool should_suppress(const Classification& verdict) {
  return verdict.hard && !verdict.configuration &&
         (verdict.category == Category::kInvalidRecipient ||
          verdict.category == Category::kDnsFailure);
}

namespace {

// The route's refusal kind of a configuration verdict whose wording protocol/diagnosis.h does
// not name: from the category.
protocol::RefusalKind refusal_of(Category category) {
  switch (category) {
    case Category::kAuthRequired:
      return protocol::RefusalKind::kAuthRequired;
    case Category::kAuthFailed:
      return protocol::RefusalKind::kAuthFailed;
    case Category::kSenderAuthentication:
      return protocol::RefusalKind::kSenderAuthentication;
    case Category::kHeloPtrRefused:
      return protocol::RefusalKind::kHeloRejected;
    case Category::kSenderRefused:
      return protocol::RefusalKind::kSenderRejected;
    case Category::kTlsFailure:
    case Category::kTlsRequired:
      return protocol::RefusalKind::kTlsRequired;
    default:
      return protocol::RefusalKind::kRelayDenied;
  }
}

// The verdict's configuration flag and refusal kind, with the protocol's refusal wordings
// (`words`) below the table: a user rule's word is final.
Classification settle(Classification c, const protocol::Reply& reply, bool user_rule) {
  const int klass = reply.code != 0 ? reply.code / 100 : reply.enhanced ? reply.enhanced->klass : 0;
  const protocol::RefusalKind words = protocol::classify_refusal(protocol::Stage::kRcpt, reply);
  if (!user_rule && protocol::is_configuration_refusal(words)) c.configuration = true;
  if (klass == 4) {
    c.refusal = protocol::RefusalKind::kTransient;
  } else if (c.configuration) {
    c.refusal = protocol::is_configuration_refusal(words) ? words : refusal_of(c.category);
  } else {
    c.refusal = protocol::RefusalKind::kRecipientRejected;
  }
  return c;
}

}  // namespace

Classification Classifier::classify(const protocol::Reply& reply) const {
  if (reply.code >= 200 && reply.code < 400) {
    return Classification{Category::kOther, false, false, "not-a-failure"};
  }
  std::string text = lower(std::string_view(reply.text()).substr(0, kMaxMatchedText));
  for (const Rule& rule : user_) {
    if (rule_matches(rule, reply, text)) return settle(verdict(rule, reply), reply, true);
  }
  for (const Rule& rule : default_rules()) {
    if (rule_matches(rule, reply, text)) return settle(verdict(rule, reply), reply, false);
  }
  Rule fallback;
  fallback.name = "default:fallback";
  return settle(verdict(fallback, reply), reply, false);
}

}  // namespace ringmta::bounce
