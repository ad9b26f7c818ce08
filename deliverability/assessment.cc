// The deliverability assessment (see assessment.h).
#include "deliverability/assessment.h"

#include <algorithm>

#include "deliverability/organizational_domain.h"
#include "util/strings.h"

namespace ringmta::deliverability {
namespace {

std::string dkim_record_of(const std::vector<std::string>& texts) {
  for (const std::string& t : texts) {
    auto tags = parse_tags(t);
    if (tags.count("p") && (!tags.count("v") || tags["v"] == "DKIM1")) return t;
  }
  return {};
}

Finding check_spf(const Facts& f) {
  Finding out{"spf", true, ""};
  if (f.spf.empty()) {
    out.words = "SPF of " + f.sender_domain + " not checked: no sending address is known.";
    return out;
  }
  for (const auto& [address, v] : f.spf) {
    const std::string who = address.to_string() + " (" + f.spf_source + ")";
    switch (v.result) {
      case SpfResult::kPass:
        out.words += "SPF of " + f.sender_domain + " authorizes " + who + " (" + v.reason + "). ";
        break;
      case SpfResult::kNone:
        out.ok = false;
        out.words += f.sender_domain +
                     " has no SPF record: Gmail and Yahoo refuse bulk mail without SPF or DKIM, "
                     "and DMARC needs one of them aligned. Publish a TXT record at " +
                     f.sender_domain + " such as \"v=spf1 " +
                     (f.direct ? (address.family == AF_INET ? "ip4:" : "ip6:") + address.to_string()
                               : std::string("include:YOUR-PROVIDER")) +
                     " -all\". ";
        break;
      case SpfResult::kTempError:
        out.ok = false;
        out.words += "SPF of " + f.sender_domain + " could not be looked up (" + v.reason +
                     "): receivers that cannot either defer or refuse. ";
        break;
      case SpfResult::kPermError:
        out.ok = false;
        out.words += "The SPF record of " + f.sender_domain + " is broken (" + v.reason +
                     "): receivers treat it as a failure. Record: \"" + v.record + "\". ";
        break;
      default:
        out.ok = false;
        out.words += "SPF of " + f.sender_domain + " does not authorize " + who +
                     ": the result is " + std::string(spf_result_name(v.result)) + " (" + v.reason +
                     "). Add " +
                     (f.direct ? (address.family == AF_INET ? "ip4:" : "ip6:") + address.to_string()
                               : std::string("your smart host provider's include:")) +
                     " to \"" + v.record + "\". ";
    }
  }
  if (!out.words.empty() && out.words.back() == ' ') out.words.pop_back();
  return out;
}

// aligned_ok: a key of the From: domain's organizational domain (or below) is published and
// matches.
std::vector<Finding> check_dkim(const Facts& f, bool& aligned_ok) {
  std::vector<Finding> out;
  if (f.dkim.empty()) {
    out.push_back({"dkim", false,
                   "No DKIM key is configured: Gmail, Yahoo and Outlook refuse or junk bulk mail "
                   "that is not DKIM-signed by the From: domain. Make a key with `ringmta dkim "
                   "keygen --domain " +
                       f.from_domain +
                       " --selector SELECTOR`, publish its TXT record, and sign with "
                       "--dkim-domain, --dkim-selector and --dkim-key."});
    return out;
  }
  for (const auto& k : f.dkim) {
    const std::string name = k.selector + "._domainkey." + k.domain;
    Finding fnd{"dkim", false, ""};
    if (!k.txt) {
      fnd.words = "The DKIM key record " + name + " could not be looked up (a DNS failure).";
    } else if (std::string record = dkim_record_of(*k.txt); record.empty()) {
      fnd.words = "The DKIM key record " + name +
                  " is not published: receivers cannot check the signature, which counts as "
                  "unsigned. Publish: " +
                  k.public_record;
    } else {
      auto got = parse_tags(record);
      auto want = parse_tags(k.public_record);
      if (got["p"].empty()) {
        fnd.words = "The DKIM key " + name + " is revoked (empty p=): publish the current key.";
      } else if (got["p"] != want["p"]) {
        fnd.words = "The DKIM key published at " + name +
                    " is not the configured key's public half: every signature fails. Publish: " +
                    k.public_record;
      } else {
        fnd.ok = true;
        fnd.words = "The DKIM key " + name + " is published and matches the configured key.";
      }
    }
    if (fnd.ok && relaxed_aligned(f.from_domain, k.domain)) aligned_ok = true;
    out.push_back(std::move(fnd));
  }
  if (!std::any_of(f.dkim.begin(), f.dkim.end(),
                   [&](const auto& k) { return relaxed_aligned(f.from_domain, k.domain); })) {
    out.push_back({"dkim", false,
                   "No DKIM key is for the From: domain " + f.from_domain + " (or within " +
                       organizational_domain(f.from_domain) +
                       "): the signature does not align, and DMARC needs it to."});
  }
  return out;
}

Finding check_dmarc(const Facts& f, bool spf_aligned_pass, bool dkim_aligned_ok) {
  Finding out{"dmarc", false, ""};
  std::string record, where = "_dmarc." + f.from_domain;
  auto find = [](const std::optional<std::vector<std::string>>& texts) -> std::string {
    if (!texts) return {};
    for (const std::string& t : *texts) {
      if (istarts_with(t, "v=DMARC1")) return t;
    }
    return {};
  };
  record = find(f.dmarc_txt);
  if (record.empty() && !f.dmarc_parent.empty()) {
    record = find(f.dmarc_parent_txt);
    if (!record.empty()) where = "_dmarc." + f.dmarc_parent;
  }
  if (!f.dmarc_txt) {
    out.words = "The DMARC record " + where + " could not be looked up (a DNS failure).";
    return out;
  }
  if (record.empty()) {
    out.words = f.from_domain +
                " has no DMARC record: Gmail and Yahoo require one from bulk senders. Publish a "
                "TXT record at _dmarc." +
                f.from_domain + " such as \"v=DMARC1; p=none; rua=mailto:dmarc@" + f.from_domain +
                "\".";
    return out;
  }
  auto tags = parse_tags(record);
  const std::string policy = tags.count("p") ? tags["p"] : "";
  if (policy != "none" && policy != "quarantine" && policy != "reject") {
    out.words = "The DMARC record at " + where + " has no valid policy (p=): \"" + record + "\".";
    return out;
  }
  if (!dkim_aligned_ok && !spf_aligned_pass) {
    out.words =
        "DMARC (" + where + ", p=" + policy + ") will fail: neither a DKIM signature of " +
        f.from_domain + " that verifies nor SPF for an envelope Sender in that domain (" +
        f.sender_domain + ") passes" +
        (policy == "none"
             ? "; with p=none the mail is not refused for it, but Gmail "
               "and Yahoo still want DMARC to pass."
             : ": receivers " + std::string(policy == "reject" ? "refuse" : "junk") + " the mail.");
    return out;
  }
  out.ok = true;
  out.words = "DMARC (" + where + ", p=" + policy + ") passes: " +
              (dkim_aligned_ok ? "the DKIM signature of " + f.from_domain + " aligns"
                               : "SPF of " + f.sender_domain + " aligns") +
              ".";
  return out;
}

Finding check_mx(const Facts& f) {
  if (f.sender_null_mx) {
    return {"mx", false,
            f.sender_domain +
                " has a null MX (it receives no mail): bounces to the envelope "
                "Sender are lost, and receivers refuse senders that cannot take "
                "replies. Use a --sender whose domain receives mail."};
  }
  if (f.sender_mx == dns::LookupStatus::kOk && f.sender_mx_hosts > 0) {
    return {"mx", true,
            f.sender_domain + " has MX records: bounces to the envelope Sender can come back."};
  }
  if (f.sender_mx == dns::LookupStatus::kNoData || f.sender_mx == dns::LookupStatus::kNxDomain) {
    return {"mx", false,
            f.sender_domain +
                " has no MX record: bounces to the envelope Sender cannot come "
                "back, and many receivers refuse such senders. Add an MX, or use a "
                "--sender whose domain has one."};
  }
  return {"mx", false, "The MX of " + f.sender_domain + " could not be looked up (a DNS failure)."};
}

Finding check_ptr(const Facts::Ptr& p, const std::string& ehlo) {
  const std::string address = p.address.to_string();
  if (!p.names) {
    return {"ptr", false, "The PTR of " + address + " could not be looked up (a DNS failure)."};
  }
  if (p.names->empty()) {
    return {"ptr", false,
            address +
                " has no PTR record: Gmail refuses mail from it (550 5.7.25). Ask your "
                "network provider for a PTR naming this host, or deliver through a smart "
                "host (--smarthost) instead of --direct."};
  }
  if (p.confirmed.empty()) {
    return {"ptr", false,
            "The PTR of " + address + " (" + p.names->front() +
                ") does not point back to it (no A/AAAA record of that name holds the address): "
                "forward-confirmed reverse DNS fails, which Gmail refuses (550 5.7.25)."};
  }
  if (std::none_of(p.confirmed.begin(), p.confirmed.end(),
                   [&](const std::string& n) { return iequals(n, ehlo); })) {
    return {"ptr", false,
            "The PTR of " + address + " is " + p.confirmed.front() + ", but the EHLO name is " +
                ehlo + ": pass --ehlo " + p.confirmed.front() + "."};
  }
  return {"ptr", true,
          "The PTR of " + address + " is " + p.confirmed.front() +
              ", which points back to it and is the EHLO name."};
}

Finding check_port25(const std::vector<Facts::GreetingTry>& tries) {
  std::string tried;
  bool connected_any = false;  // a connection was tried (the rest failed in DNS)
  for (const auto& t : tries) {
    if (t.greeted) {
      return {"port25", true,
              "Outbound SMTP works from here: " + t.where + ", an MX host of " + t.domain +
                  ", greeted (" + t.detail + ")."};
    }
    connected_any = connected_any || t.connected;
    if (!tried.empty()) tried += "; ";
    tried += t.where + ": " + t.detail;
  }
  if (!connected_any) {
    return {"port25", true,
            "Outbound port 25 not checked: no MX host to try was found (" + tried + ")."};
  }
  return {"port25", false,
          "No MX host of the big providers answered from here (" + tried +
              "). Many networks — home and office lines, and cloud providers such as AWS, Google "
              "Cloud and Azure by default — block outbound port 25, and then direct delivery "
              "cannot work: deliver through your provider's smart host (--smarthost HOST:587 "
              "with --user/--password) instead, or ask the network's operator to open port 25."};
}

}  // namespace

std::map<std::string, std::string> parse_tags(std::string_view text) {
  std::map<std::string, std::string> tags;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = std::min(text.find(';', pos), text.size());
    std::string_view item = trim(text.substr(pos, end - pos), " \t\r\n");
    std::size_t eq = item.find('=');
    if (eq != std::string_view::npos) {
      std::string value;
      for (char c : trim(item.substr(eq + 1), " \t\r\n")) {
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') value.push_back(c);
      }
      tags.emplace(lower(trim(item.substr(0, eq), " \t\r\n")), value);
    }
    pos = end + 1;
  }
  return tags;
}

std::vector<Finding> assess(const Facts& f) {
  std::vector<Finding> out;
  Finding spf = check_spf(f);
  const bool spf_aligned_pass =
      spf.ok && !f.spf.empty() && relaxed_aligned(f.from_domain, f.sender_domain) &&
      std::all_of(f.spf.begin(), f.spf.end(),
                  [](const auto& s) { return s.second.result == SpfResult::kPass; });
  out.push_back(std::move(spf));
  bool dkim_aligned_ok = false;
  for (Finding& d : check_dkim(f, dkim_aligned_ok)) out.push_back(std::move(d));
  out.push_back(check_dmarc(f, spf_aligned_pass, dkim_aligned_ok));
  out.push_back(check_mx(f));
  if (f.ptr) out.push_back(check_ptr(*f.ptr, f.ehlo));
  if (!f.port25.empty()) out.push_back(check_port25(f.port25));
  return out;
}

}  // namespace ringmta::deliverability
