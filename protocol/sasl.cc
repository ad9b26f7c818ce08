// SASL helpers for SMTP AUTH: PLAIN (RFC 4616), CRAM-MD5 (RFC 2195).
// Pure functions; they may not log, keep or echo the password anywhere but the returned response.
#include "protocol/sasl.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>

#include "util/base64.h"

namespace ringmta::protocol {
std::string sasl_plain_response(std::string_view user, std::string_view password) {
  std::string message;
  message.reserve(user.size() + password.size() + 2);
  message += '\0';  // empty authorization identity: act as the authenticated user
  message += user;
  message += '\0';
  message += password;
  std::string out = base64_encode(message);
  OPENSSL_cleanse(message.data(), message.size());
  return out;
}

std::optional<std::string> cram_md5_response(std::string_view user, std::string_view password,
                                             std::string_view challenge_b64) {
  auto challenge = base64_decode(challenge_b64);
  if (!challenge) return std::nullopt;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (HMAC(EVP_md5(), password.data(), static_cast<int>(password.size()),
           reinterpret_cast<const unsigned char*>(challenge->data()), challenge->size(), digest,
           &digest_len) == nullptr) {
    return std::nullopt;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string message(user);
  message += ' ';
  for (unsigned int i = 0; i < digest_len; ++i) {
    message += kHex[digest[i] >> 4];
    message += kHex[digest[i] & 15];
  }
  return base64_encode(message);
}

}  // namespace ringmta::protocol
