// EHLO reply parsing: the extension keywords a server announced (RFC 5321 §4.1.1.1).
// Pure function over a Reply; it may not fail or throw on odd keywords, only ignore them.
#include "protocol/ehlo.h"

#include <algorithm>
#include <string_view>

#include "util/strings.h"

namespace ringmta::protocol {
namespace {

constexpr std::size_t kMaxMechanisms = 32;

char upper(char c) {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

// SASL mechanism names (RFC 4422 §3.1): 1-20 of A-Z, 0-9, '-', '_'.
void add_mechanism(Capabilities& caps, std::string_view word) {
  if (word.empty() || word.size() > 20 || caps.auth_mechanisms.size() >= kMaxMechanisms) return;
  std::string name;
  for (char c : word) {
    char u = upper(c);
    if (!((u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '-' || u == '_')) return;
    name += u;
  }
  if (std::find(caps.auth_mechanisms.begin(), caps.auth_mechanisms.end(), name) ==
      caps.auth_mechanisms.end()) {
    caps.auth_mechanisms.push_back(std::move(name));
  }
}

uint64_t parse_size(std::string_view text) {
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return 0;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return 0;
    value = value * 10 + digit;
  }
  return value;
}

}  // namespace

bool Capabilities::offers_auth(std::string_view mechanism) const {
  for (const auto& m : auth_mechanisms) {
    if (iequals(m, mechanism)) return true;
  }
  return false;
}

Capabilities parse_ehlo(const Reply& reply) {
  Capabilities caps;
  caps.esmtp = reply.positive();
  for (std::size_t i = 1; i < reply.lines.size(); ++i) {
    std::vector<std::string_view> words = split_words(reply.lines[i]);
    if (words.empty()) continue;
    std::string_view keyword = words[0];
    if (iequals(keyword, "PIPELINING")) {
      caps.pipelining = true;
    } else if (iequals(keyword, "STARTTLS")) {
      caps.starttls = true;
    } else if (iequals(keyword, "8BITMIME")) {
      caps.eight_bit_mime = true;
    } else if (iequals(keyword, "ENHANCEDSTATUSCODES")) {
      caps.enhanced_status_codes = true;
    } else if (iequals(keyword, "SMTPUTF8")) {
      caps.smtputf8 = true;
    } else if (iequals(keyword, "CHUNKING")) {
      caps.chunking = true;
    } else if (iequals(keyword, "SIZE")) {
      caps.size = true;
      if (words.size() > 1) caps.size_limit = parse_size(words[1]);
    } else if (iequals(keyword, "AUTH") ||
               (keyword.size() > 5 && iequals(keyword.substr(0, 5), "AUTH="))) {
      // "AUTH PLAIN LOGIN" (RFC 4954) or the pre-standard "AUTH=PLAIN LOGIN".
      if (keyword.size() > 5) add_mechanism(caps, keyword.substr(5));
      for (std::size_t w = 1; w < words.size(); ++w) add_mechanism(caps, words[w]);
    }
  }
  return caps;
}

}  // namespace ringmta::protocol
