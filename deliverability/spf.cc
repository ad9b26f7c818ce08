// SPF evaluation (see spf.h).
#include "deliverability/spf.h"

#include <cstdlib>

#include "util/strings.h"

namespace ringmta::deliverability {
namespace {

constexpr int kMaxLookups = 10;

struct Walk {
  const SpfData& data;
  const dns::IpAddress& ip;
  SpfNeeds needs;
  int lookups = 0;
};

// An address within prefix bits of network.
bool in_network(const dns::IpAddress& ip, const dns::IpAddress& network, int prefix) {
  if (ip.family != network.family) return false;
  const int bits = ip.family == AF_INET ? 32 : 128;
  if (prefix < 0 || prefix > bits) return false;
  for (int i = 0; i < prefix; ++i) {
    const int byte = i / 8, bit = 7 - i % 8;
    if (((ip.bytes[static_cast<std::size_t>(byte)] >> bit) & 1) !=
        ((network.bytes[static_cast<std::size_t>(byte)] >> bit) & 1)) {
      return false;
    }
  }
  return true;
}

// "name/24//64" → name, v4 prefix, v6 prefix.
struct Target {
  std::string name;
  int v4 = 32;
  int v6 = 128;
};

std::optional<Target> parse_target(std::string_view arg, std::string_view domain) {
  Target t;
  std::size_t slash = arg.find('/');
  std::string_view name = arg.substr(0, slash);
  t.name = name.empty() ? std::string(domain) : lower(name);
  if (slash != std::string_view::npos) {
    std::string_view cidr = arg.substr(slash);
    std::size_t dual = cidr.find("//");
    std::string_view v4 = cidr.substr(0, dual), v6;
    if (dual != std::string_view::npos) v6 = cidr.substr(dual + 2);
    if (!v4.empty() && v4 != "/") {
      if (v4.front() != '/' || v4.size() > 4) return std::nullopt;
      t.v4 = std::atoi(std::string(v4.substr(1)).c_str());
    }
    if (!v6.empty()) t.v6 = std::atoi(std::string(v6).c_str());
  }
  if (t.name.find('%') != std::string::npos) return std::nullopt;  // a macro: not evaluated
  return t;
}

bool matches_any(const dns::IpAddress& ip, const std::vector<dns::IpAddress>& addresses,
                 const Target& t) {
  for (const auto& a : addresses) {
    if (in_network(ip, a, a.family == AF_INET ? t.v4 : t.v6)) return true;
  }
  return false;
}

SpfResult qualifier_result(char q) {
  switch (q) {
    case '-':
      return SpfResult::kFail;
    case '~':
      return SpfResult::kSoftFail;
    case '?':
      return SpfResult::kNeutral;
    default:
      return SpfResult::kPass;
  }
}

// nullopt: still missing data (recorded in walk.needs).
std::optional<SpfVerdict> check_host(Walk& walk, const std::string& domain, int depth);

// One mechanism: true/false for a match, nullopt for missing data; error set on a permerror.
std::optional<bool> mechanism_matches(Walk& walk, std::string_view name, std::string_view arg,
                                      const std::string& domain, int depth,
                                      std::optional<SpfVerdict>& error) {
  auto fail = [&](std::string why) {
    error = SpfVerdict{SpfResult::kPermError, "", std::move(why)};
    return std::optional<bool>(false);
  };
  if (name == "all") return true;
  if (name == "ip4" || name == "ip6") {
    std::size_t slash = arg.find('/');
    auto network = dns::IpAddress::parse(arg.substr(0, slash));
    if (!network || (network->family == AF_INET) != (name == "ip4")) {
      return fail(std::string(name) + ":" + std::string(arg) + " is not an address");
    }
    int prefix = slash == std::string_view::npos
                     ? (name == "ip4" ? 32 : 128)
                     : std::atoi(std::string(arg.substr(slash + 1)).c_str());
    return in_network(walk.ip, *network, prefix);
  }
  if (name == "exists" || name == "ptr") return false;  // not evaluated (see spf.h)
  if (name != "a" && name != "mx" && name != "include") {
    return fail("unknown mechanism '" + std::string(name) + "'");
  }
  if (++walk.lookups > kMaxLookups) return fail("more than 10 DNS lookups (RFC 7208 §4.6.4)");
  if (name == "include") {
    if (arg.empty()) return fail("include without a domain");
    std::string target = lower(arg);
    if (target.find('%') != std::string::npos) return fail("macros are not evaluated");
    auto inner = check_host(walk, target, depth + 1);
    if (!inner) return std::nullopt;
    switch (inner->result) {
      case SpfResult::kPass:
        return true;
      case SpfResult::kFail:
      case SpfResult::kSoftFail:
      case SpfResult::kNeutral:
        return false;
      case SpfResult::kNone:
        return fail("include:" + target + " has no SPF record");
      default:
        error = SpfVerdict{inner->result, "", "include:" + target + ": " + inner->reason};
        return false;
    }
  }
  auto target = parse_target(arg, domain);
  if (!target) return fail(std::string(name) + ":" + std::string(arg) + " is not evaluated");
  if (name == "a") {
    auto it = walk.data.addresses.find(target->name);
    if (it == walk.data.addresses.end()) {
      walk.needs.addresses.insert(target->name);
      return std::nullopt;
    }
    return it->second && matches_any(walk.ip, *it->second, *target);
  }
  auto it = walk.data.mx.find(target->name);
  if (it == walk.data.mx.end()) {
    walk.needs.mx.insert(target->name);
    return std::nullopt;
  }
  if (!it->second) return false;
  bool missing = false;
  for (const std::string& host : *it->second) {
    auto found = walk.data.addresses.find(host);
    if (found == walk.data.addresses.end()) {
      walk.needs.addresses.insert(host);
      missing = true;
    } else if (found->second && matches_any(walk.ip, *found->second, *target)) {
      return true;
    }
  }
  if (missing) return std::nullopt;
  return false;
}

std::optional<SpfVerdict> check_host(Walk& walk, const std::string& domain, int depth) {
  if (depth > kMaxLookups) return SpfVerdict{SpfResult::kPermError, "", "include loop"};
  auto txt = walk.data.txt.find(domain);
  if (txt == walk.data.txt.end()) {
    walk.needs.txt.insert(domain);
    return std::nullopt;
  }
  if (!txt->second)
    return SpfVerdict{SpfResult::kTempError, "", "the TXT lookup of " + domain + " failed"};
  auto record = pick_spf_record(*txt->second);
  if (!record)
    return SpfVerdict{SpfResult::kPermError, "", domain + " has more than one SPF record"};
  if (record->empty()) return SpfVerdict{SpfResult::kNone, "", domain + " has no SPF record"};
  SpfVerdict verdict{SpfResult::kNeutral, *record, "no mechanism matched (no \"all\")"};
  std::string redirect;
  std::string_view terms = *record;
  terms.remove_prefix(6);  // "v=spf1"
  while (!terms.empty()) {
    std::size_t space = terms.find(' ');
    std::string_view term = terms.substr(0, space);
    terms = space == std::string_view::npos ? std::string_view() : terms.substr(space + 1);
    if (term.empty()) continue;
    std::size_t eq = term.find('=');
    std::size_t colon = term.find(':');
    if (eq != std::string_view::npos && (colon == std::string_view::npos || eq < colon)) {
      std::string key = lower(term.substr(0, eq));
      if (key == "redirect") redirect = lower(term.substr(eq + 1));
      continue;  // exp= and unknown modifiers are ignored (§6)
    }
    char qualifier = '+';
    if (term.front() == '+' || term.front() == '-' || term.front() == '~' || term.front() == '?') {
      qualifier = term.front();
      term.remove_prefix(1);
    }
    std::size_t sep = term.find_first_of(":/");
    std::string name = lower(term.substr(0, sep));
    std::string_view arg;
    if (sep != std::string_view::npos) arg = term.substr(term[sep] == ':' ? sep + 1 : sep);
    std::optional<SpfVerdict> error;
    auto matched = mechanism_matches(walk, name, arg, domain, depth, error);
    if (error) return error;
    // Missing data: asked for, and evaluated again from the start once it is there (terms are
    // evaluated in order and the first match decides, so nothing after this may be counted).
    if (!matched) return std::nullopt;
    if (*matched) {
      verdict.result = qualifier_result(qualifier);
      verdict.reason = std::string(1, qualifier) + std::string(term);
      return verdict;
    }
  }
  if (!redirect.empty()) {
    if (++walk.lookups > kMaxLookups) {
      return SpfVerdict{SpfResult::kPermError, *record, "more than 10 DNS lookups"};
    }
    auto inner = check_host(walk, redirect, depth + 1);
    if (!inner) return std::nullopt;
    if (inner->result == SpfResult::kNone) {
      return SpfVerdict{SpfResult::kPermError, *record, "redirect=" + redirect + ": no SPF record"};
    }
    inner->record = *record;
    return inner;
  }
  return verdict;
}

}  // namespace

std::string_view spf_result_name(SpfResult result) {
  switch (result) {
    case SpfResult::kPass:
      return "pass";
    case SpfResult::kFail:
      return "fail";
    case SpfResult::kSoftFail:
      return "softfail";
    case SpfResult::kNeutral:
      return "neutral";
    case SpfResult::kNone:
      return "none";
    case SpfResult::kPermError:
      return "permerror";
    case SpfResult::kTempError:
      return "temperror";
  }
  return "none";
}

std::optional<std::string> pick_spf_record(const std::vector<std::string>& texts) {
  std::string found;
  int count = 0;
  for (const std::string& t : texts) {
    if (iequals(t, "v=spf1") || istarts_with(t, "v=spf1 ")) {
      found = t;
      ++count;
    }
  }
  if (count > 1) return std::nullopt;
  return found;
}

std::variant<SpfVerdict, SpfNeeds> evaluate_spf(const SpfData& data, std::string_view domain,
                                                const dns::IpAddress& ip) {
  Walk walk{data, ip, {}, 0};
  auto verdict = check_host(walk, lower(domain), 0);
  if (verdict) return *verdict;
  return walk.needs;
}

}  // namespace ringmta::deliverability
