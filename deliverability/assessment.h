// The deliverability assessment: from the records looked up for a sender (and what ringmta is
// configured to do), each thing that makes Gmail, Yahoo or Outlook refuse or junk the mail, in
// plain words with the fix — SPF of the envelope Sender's domain, each DKIM selector's key
// record against the configured key, DMARC of the From: domain and its alignment, an MX for the
// Sender's domain (bounces come back), and for direct delivery the source address's PTR,
// forward-confirmed, against the EHLO name, and whether outbound port 25 reaches the big
// providers' MX hosts at all.
// Pure: the lookups are the caller's (jobs/deliverability_check). It may not do I/O (but for the
// public suffix list that organizational_domain reads once).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deliverability/spf.h"
#include "dns/mx_policy.h"

namespace ringmta::deliverability {

// "k=v; k2=v2" (RFC 6376 §3.2 tag-lists, DMARC records): tags lower case, values trimmed, white
// space inside a value removed (p= of a key record is often split across strings).
std::map<std::string, std::string> parse_tags(std::string_view text);

// The looked-up facts. A std::nullopt lookup could not be done (a DNS failure).
struct Facts {
  std::string from_domain;
  std::string sender_domain;  // the envelope Sender's
  bool direct = false;
  std::string ehlo;
  struct DkimKey {
    std::string domain, selector;
    std::string public_record;  // what `ringmta dkim keygen` printed for the configured key
    std::optional<std::vector<std::string>> txt;  // SELECTOR._domainkey.DOMAIN
  };
  std::vector<DkimKey> dkim;
  std::optional<std::vector<std::string>> dmarc_txt;  // _dmarc.FROM-DOMAIN
  std::string dmarc_parent;  // the organizational domain, asked when the From: domain has none
  std::optional<std::vector<std::string>> dmarc_parent_txt;
  std::string spf_source;                                  // what the addresses are: "this machine"
  std::vector<std::pair<dns::IpAddress, SpfVerdict>> spf;  // per sending address
  dns::LookupStatus sender_mx = dns::LookupStatus::kOk;
  std::size_t sender_mx_hosts = 0;
  bool sender_null_mx = false;
  struct Ptr {
    dns::IpAddress address;
    std::optional<std::vector<std::string>> names;  // PTR names
    std::vector<std::string> confirmed;             // those whose A/AAAA include the address
  };
  std::optional<Ptr> ptr;  // direct delivery with a known source address
  struct GreetingTry {
    std::string domain;      // whose MX host was tried
    std::string where;       // "mx.example.com (192.0.2.1:25)", or the domain when none was found
    bool connected = false;  // a connection was tried (false: the DNS had no address for it)
    bool greeted = false;
    std::string detail;  // the greeting, or why there was none
  };
  std::vector<GreetingTry> port25;  // direct delivery: the providers' MX hosts tried
};

struct Finding {
  std::string check;  // "spf", "dkim", "dmarc", "mx", "ptr", "port25"
  bool ok = false;
  std::string words;
};

std::vector<Finding> assess(const Facts& facts);

}  // namespace ringmta::deliverability
