// organizational_domain: a domain's organizational domain (DMARC, RFC 7489 §3.2): the registrable
// domain under the public suffix list — example.co.uk for news.example.co.uk, example.org for
// mail.example.org. It decides DMARC's relaxed alignment and where a subdomain's policy is found.
// The list is libpsl's: the system's copy (Debian's publicsuffix package) when present, else the
// one built into the library. It may not look up DNS.
#pragma once

#include <string>
#include <string_view>

namespace ringmta::deliverability {

// domain lower case, without a trailing dot. A public suffix itself (co.uk), or a name the list
// does not know, is its own organizational domain.
std::string organizational_domain(std::string_view domain);

// DMARC relaxed alignment: the two domains have the same organizational domain.
bool relaxed_aligned(std::string_view a, std::string_view b);

}  // namespace ringmta::deliverability
