// SPF evaluation (RFC 7208) as a pure function of the DNS records looked up so far: evaluate_spf()
// either decides (pass, fail, softfail, neutral, none, permerror) or names the lookups it still
// needs; the caller looks them up and calls it again with more. Mechanisms all, ip4, ip6, a, mx,
// include and the redirect= modifier, with qualifiers; the 10-lookup limit (§4.6.4) is a
// permerror. Macros, exists and ptr are not evaluated (exists/ptr never match, a macro is
// permerror): they are rare in a sending domain's own record and say so in the verdict.
// It may not: do I/O, or follow more than 10 DNS-querying terms.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "dns/mx_policy.h"

namespace ringmta::deliverability {

// What the caller has looked up. A name missing from a map has not been looked up yet; one
// present with nullopt could not be (a DNS failure).
struct SpfData {
  std::map<std::string, std::optional<std::vector<std::string>>> txt;
  std::map<std::string, std::optional<std::vector<dns::IpAddress>>> addresses;  // A and AAAA
  std::map<std::string, std::optional<std::vector<std::string>>> mx;            // exchange names
};

struct SpfNeeds {
  std::set<std::string> txt, addresses, mx;
};

enum class SpfResult { kPass, kFail, kSoftFail, kNeutral, kNone, kPermError, kTempError };
std::string_view spf_result_name(SpfResult result);  // "pass", "fail", ...

struct SpfVerdict {
  SpfResult result = SpfResult::kNone;
  std::string record;  // the domain's SPF record, "" when it has none
  std::string reason;  // which term decided, or why it is an error ("include:x.org: no record")
};

// The SPF record among a name's TXT records (exactly one "v=spf1" record, §4.5); "" for none,
// nullopt for more than one (a permerror).
std::optional<std::string> pick_spf_record(const std::vector<std::string>& texts);

std::variant<SpfVerdict, SpfNeeds> evaluate_spf(const SpfData& data, std::string_view domain,
                                                const dns::IpAddress& ip);

}  // namespace ringmta::deliverability
