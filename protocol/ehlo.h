// EHLO reply parsing: which extensions (RFC 5321 §4.1.1.1) the server announced.
// Sans-I/O, no allocation beyond the returned struct.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/smtp_reply.h"

namespace ringmta::protocol {

struct Capabilities {
  bool esmtp = false;  // answered EHLO (not only HELO)
  bool pipelining = false;
  bool starttls = false;
  bool eight_bit_mime = false;
  bool enhanced_status_codes = false;
  bool smtputf8 = false;
  bool chunking = false;
  uint64_t size_limit = 0;  // SIZE n; 0 = none announced
  bool size = false;
  std::vector<std::string> auth_mechanisms;  // upper case, from "AUTH ..." and "AUTH=..."
  bool offers_auth(std::string_view mechanism) const;
};

// Parses a positive EHLO reply (lines after the first are keywords).
Capabilities parse_ehlo(const Reply& reply);

}  // namespace ringmta::protocol
