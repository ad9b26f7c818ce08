// SASL helpers for SMTP AUTH (RFC 4954): PLAIN (RFC 4616), LOGIN, CRAM-MD5 (RFC 2195).
// Pure functions; CRAM-MD5 uses OpenSSL's HMAC-MD5.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ringmta::protocol {

std::string sasl_plain_response(std::string_view user, std::string_view password);  // base64
// challenge_b64 is the text after "334 "; returns the base64 response line.
std::optional<std::string> cram_md5_response(std::string_view user, std::string_view password,
                                             std::string_view challenge_b64);

}  // namespace ringmta::protocol
