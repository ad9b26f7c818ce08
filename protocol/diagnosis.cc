// Diagnosis of smart-host refusals: classifies a reply and explains it in plain words, naming the
// command-line flag to change. Pure functions; they may not do I/O or read configuration.
#include "protocol/diagnosis.h"

#include <initializer_list>
#include <string_view>

#include "util/strings.h"

namespace ringmta::protocol {
namespace {

bool contains_any(const std::string& haystack, std::initializer_list<std::string_view> needles) {
  for (std::string_view n : needles) {
    if (haystack.find(n) != std::string::npos) return true;
  }
  return false;
}

bool enhanced_is(const Reply& reply, int klass, int subject, int detail) {
  return reply.enhanced && reply.enhanced->klass == klass && reply.enhanced->subject == subject &&
         reply.enhanced->detail == detail;
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

// A refusal of mail that is not authenticated for the sender's domains (Gmail, Yahoo, Outlook).
bool sender_authentication(const Reply& reply, const std::string& text) {
  if (reply.enhanced && reply.enhanced->klass == 5 && reply.enhanced->subject == 7) {
    switch (reply.enhanced->detail) {
      case 23:   // SPF validation failed (RFC 7372)
      case 24:   // SPF validation error
      case 25:   // reverse DNS validation failed
      case 26:   // multiple authentication checks failed: DMARC (RFC 7372)
      case 27:   // sender address has null MX / SPF (Gmail: "does not pass SPF")
      case 509:  // Outlook.com: the sending domain does not pass DMARC
      case 515:  // Outlook.com: "does not meet the required authentication level"
        return true;
      default:
        break;
    }
  }
  return contains_any(text, {"unauthenticated", "dmarc", "dkim", "spf", "ptr record", "reverse dns",
                             "reverse-dns", "rdns", "cannot find your hostname",
                             "cannot find your reverse hostname", "authentication level"});
}

// What to fix for a refusal of unauthenticated mail: the record its code or wording names.
std::string sender_authentication_advice(const Reply& refusal, const RouteFacts& facts) {
  const std::string text = lower(refusal.text());
  const int detail = refusal.enhanced ? refusal.enhanced->detail : 0;
  const std::string sender_domain = facts.sender.find('@') == std::string::npos
                                        ? "the envelope Sender's domain"
                                        : facts.sender.substr(facts.sender.find('@') + 1);
  if (detail == 25 || contains_any(text, {"ptr record", "reverse dns", "reverse-dns"})) {
    return facts.direct
               ? " The address ringmta sends from has no reverse DNS (PTR) record naming a host "
                 "whose address points back to it: ask your network provider for one, use that "
                 "host name as --ehlo, or deliver through your provider's smart host (--smarthost)."
               : " The smart host's sending address lacks a valid reverse DNS (PTR) record: ask "
                 "its administrator.";
  }
  if (detail == 23 || detail == 24 || detail == 27 || contains_any(text, {"spf"})) {
    return " The SPF record of " + sender_domain +
           " does not authorize the server that sent it: publish one (a TXT record \"v=spf1 "
           "... -all\") that includes " +
           (facts.direct ? std::string("this machine's address (ip4:/ip6:)")
                         : std::string("your smart host provider (its include: mechanism)")) +
           ".";
  }
  std::string out =
      " Gmail, Yahoo and Outlook want bulk mail to pass DMARC: a DKIM signature whose d= is the "
      "From: domain (or its parent), or SPF for an envelope Sender in that domain.";
  if (facts.dkim_domains.empty()) {
    return out +
           " No DKIM key is configured: make one with `ringmta dkim keygen`, publish its TXT "
           "record, and sign with --dkim-domain, --dkim-selector and --dkim-key.";
  }
  return out + " Mail is signed for " + facts.dkim_domains +
         ": check that the selector's TXT record is published and matches the key, and that the "
         "From: domain is one of those (or below one).";
}

bool looks_fully_qualified(const std::string& name) {
  auto dot = name.find('.');
  return dot != std::string::npos && dot != 0 && name.back() != '.';
}

// Why relaying (or a sender) was refused, from what was configured and what the server offered.
std::string credentials_advice(const Observations& seen, const RouteFacts& facts) {
  const Capabilities& caps = seen.latest_caps();
  bool auth_offered = !caps.auth_mechanisms.empty();
  bool auth_maybe_after_tls = facts.tls == TlsMode::kNone && !seen.tls_active &&
                              seen.caps_before_tls.starttls &&
                              seen.caps_before_tls.auth_mechanisms.empty();
  if (seen.authenticated) {
    std::string who = facts.user.empty() ? std::string("the configured user") : facts.user;
    return " The session was authenticated as " + who +
           ", and the server still refused: the account may not relay for this recipient/sender "
           "(ask the administrator, or check --sender).";
  }
  if (seen.auth_refusal) {
    return " The login was refused (" + seen.auth_refusal->summary() +
           "): check the user name and password (--user, --password-file).";
  }
  if (auth_maybe_after_tls) {
    return " The server offers STARTTLS but no AUTH in clear text; servers commonly offer AUTH "
           "only "
           "after STARTTLS, and --tls none was given: use --tls starttls" +
           std::string(facts.credentials_given ? "." : ", with --user and --password-file.");
  }
  if (!facts.credentials_given) {
    if (auth_offered) {
      return " No user name and password were given, but the server offers AUTH (" +
             join(caps.auth_mechanisms) + "): pass --user and --password-file.";
    }
    if (!facts.pop_before_smtp) {
      return " No user name and password were given and the server offers no AUTH: the server may "
             "need POP-before-SMTP (--pop-before-smtp HOST) or to allow your IP.";
    }
    return " POP-before-SMTP was used and relaying was still refused: the POP3 login may not "
           "authorise this IP (or it expired); ask the administrator to allow your IP.";
  }
  if (!auth_offered) {
    if (!facts.pop_before_smtp) {
      return " A user name and password were given, but the server offers no AUTH, so they were "
             "not used: the server may need POP-before-SMTP (--pop-before-smtp HOST) or to allow "
             "your IP.";
    }
    return " The server offers no AUTH and POP-before-SMTP was used, yet relaying was refused: ask "
           "the administrator to allow your IP.";
  }
  return " A user name and password were given, but the session did not authenticate: check --auth "
         "(the server offers " +
         join(caps.auth_mechanisms) + ").";
}

}  // namespace

RefusalKind classify_refusal(Stage stage, const Reply& reply) {
  if (reply.code < 400) return RefusalKind::kNone;
  if (reply.code < 500) return RefusalKind::kTransient;
  const std::string text = lower(reply.text());
  if (contains_any(text, {"must issue a starttls command first", "starttls required",
                          "tls required", "encryption required"}) ||
      ((reply.code == 530 || enhanced_is(reply, 5, 7, 0)) && contains_any(text, {"starttls"})) ||
      enhanced_is(reply, 5, 7, 10) || enhanced_is(reply, 5, 7, 11)) {
    return RefusalKind::kTlsRequired;
  }
  if (stage == Stage::kAuth || reply.code == 535 || enhanced_is(reply, 5, 7, 8)) {
    return RefusalKind::kAuthFailed;
  }
  if (sender_authentication(reply, text)) return RefusalKind::kSenderAuthentication;
  if (contains_any(text, {"authentication required", "authentication is required",
                          "must authenticate", "auth required", "not authenticated"}) ||
      reply.code == 530) {
    return RefusalKind::kAuthRequired;
  }
  if (contains_any(text, {"helo command rejected", "need fully-qualified hostname", "invalid ehlo",
                          "invalid helo", "ehlo/helo"}) ||
      stage == Stage::kEhlo) {
    return RefusalKind::kHeloRejected;
  }
  if (contains_any(text,
                   {"sender address rejected", "not owned by user", "sender login mismatch"})) {
    return RefusalKind::kSenderRejected;
  }
  if (contains_any(text, {"relay access denied", "relaying denied", "not permitted to relay",
                          "relay not permitted", "unable to relay", "relaying not allowed",
                          "relay denied", "relaying disallowed"})) {
    return RefusalKind::kRelayDenied;
  }
  return RefusalKind::kRecipientRejected;
}

RefusalKind classify_session_failure(const SessionFailed& failed) {
  // A server that broke the protocol refused nothing: it is treated like one that is down.
  if (failed.protocol_error) return RefusalKind::kTransient;
  const Stage stage = failed.stage;
  const Reply& reply = failed.reply;
  const RefusalKind kind = classify_refusal(stage, reply);
  if (is_configuration_refusal(kind)) return kind;
  if (stage == Stage::kTlsHandshake || stage == Stage::kStartTls) return RefusalKind::kTlsRequired;
  if (stage == Stage::kAuth && reply.permanent()) return RefusalKind::kAuthFailed;
  if (stage == Stage::kEhlo && reply.permanent()) return RefusalKind::kHeloRejected;
  return kind;
}

bool is_configuration_refusal(RefusalKind kind) {
  switch (kind) {
    case RefusalKind::kRelayDenied:
    case RefusalKind::kAuthRequired:
    case RefusalKind::kAuthFailed:
    case RefusalKind::kSenderRejected:
    case RefusalKind::kSenderAuthentication:
    case RefusalKind::kHeloRejected:
    case RefusalKind::kTlsRequired:
      return true;
    case RefusalKind::kNone:
    case RefusalKind::kRecipientRejected:
    case RefusalKind::kTransient:
      return false;
  }
  return false;
}

std::string diagnose(RefusalKind kind, const Reply& refusal, const Observations& seen,
                     const RouteFacts& facts) {
  const std::string said = "(" + refusal.summary() + ")";
  const Capabilities& caps = seen.latest_caps();
  switch (kind) {
    case RefusalKind::kNone:
      return "The smart host did not refuse " + said + ".";
    case RefusalKind::kTransient:
      return "The smart host deferred the mail temporarily " + said + "; it will be retried.";
    case RefusalKind::kRecipientRejected:
      return "The smart host refused this recipient " + said +
             "; the address is probably wrong or does not exist there.";
    case RefusalKind::kRelayDenied:
      return "The smart host refused to relay " + said + "." + credentials_advice(seen, facts);
    case RefusalKind::kAuthRequired:
      return "The smart host requires authentication " + said + "." +
             credentials_advice(seen, facts);
    case RefusalKind::kAuthFailed: {
      std::string out = "The smart host refused the login " + said + ".";
      if (!caps.auth_mechanisms.empty() && !seen.auth_attempted) {
        return out + " The configured AUTH mechanism is not among those the server offers (" +
               join(caps.auth_mechanisms) + "): pass --auth auto or one of those.";
      }
      if (seen.auth_mechanism_used) {
        out += std::string(" Mechanism: ") + mechanism_name(*seen.auth_mechanism_used) + ".";
      }
      std::string who = facts.user.empty() ? std::string() : " (user " + facts.user + ")";
      return out + " Check the user name and password" + who + ": --user and --password-file.";
    }
    case RefusalKind::kSenderAuthentication:
      return std::string(facts.direct ? "The receiving server" : "The smart host") +
             " refuses the mail as not authenticated for the sender's domain " + said + "." +
             sender_authentication_advice(refusal, facts) +
             " The recipients stay queued: nothing is bounced.";
    case RefusalKind::kSenderRejected: {
      std::string text = lower(refusal.text());
      if (contains_any(text, {"not owned by user", "sender login mismatch"})) {
        std::string user = facts.user.empty() ? std::string("the logged-in user") : facts.user;
        return "The smart host refused the envelope sender " + said + ": the envelope Sender " +
               (facts.sender.empty() ? std::string("<>") : facts.sender) +
               " is not owned by the logged-in user " + user +
               ": set --sender to an address of that user.";
      }
      std::string out = "The smart host refused the envelope sender " +
                        (facts.sender.empty() ? std::string("<>") : facts.sender) + " " + said +
                        ": set --sender to an address the smart host accepts.";
      if (!seen.authenticated && !facts.credentials_given && !caps.auth_mechanisms.empty()) {
        out += " The server offers AUTH (" + join(caps.auth_mechanisms) +
               "); logging in (--user and --password-file) may be required for this sender.";
      }
      return out;
    }
    case RefusalKind::kHeloRejected: {
      std::string out =
          "The smart host refused the EHLO/HELO name \"" + facts.ehlo_name + "\" " + said + ".";
      if (!looks_fully_qualified(facts.ehlo_name) ||
          contains_any(lower(refusal.text()), {"fully-qualified", "fully qualified"})) {
        return out +
               " It wants a fully-qualified host name: pass --ehlo with a fully-qualified "
               "host name (for example mail.example.com) that resolves in DNS.";
      }
      return out + " Pass --ehlo with this host's real, resolvable fully-qualified host name.";
    }
    case RefusalKind::kTlsRequired: {
      std::string out = "TLS could not be used with the smart host " + said + ".";
      if (facts.tls == TlsMode::kNone) {
        return out + " The server requires STARTTLS, but --tls none was given: use --tls starttls.";
      }
      if (facts.smarthost_is_address && !facts.tls_name_given &&
          contains_any(lower(refusal.text()), {"ip address mismatch"})) {
        return out +
               " Its certificate does not name the address it was reached at: servers' "
               "certificates name their host. Keep the address and pass --tls-name with the host "
               "name the certificate carries (e.g. --tls-name mail.example.net).";
      }
      if (facts.tls == TlsMode::kStartTls && !seen.caps_before_tls.starttls &&
          seen.caps_before_tls.esmtp) {
        return out +
               " The server does not offer STARTTLS: if it takes TLS on connect (port 465) "
               "use --tls implicit; --tls none only on a network you trust.";
      }
      return out +
             " The TLS handshake or STARTTLS failed: check the server certificate "
             "(--ca-file, or --insecure only for testing), or try again later.";
    }
  }
  return "The smart host refused " + said + ".";
}

std::string diagnose_pop_login(const std::string& server, const std::string& reason) {
  return "POP-before-SMTP login to " + server + " failed: " + reason +
         ". Check --user and the password; the smart host will not relay until the POP3 login "
         "succeeds.";
}

}  // namespace ringmta::protocol
