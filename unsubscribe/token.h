// UnsubscribeTokens: the token in each copy's List-Unsubscribe URL that names its campaign and
// recipient, authenticated with HMAC-SHA256 under the queue's secret, so the unsubscribe endpoint
// trusts it without a lookup and nobody can forge one for another address or alter one.
//
// Token: base64url(campaign "\n" address) "." base64url(first 16 bytes of the HMAC), no padding;
// only [A-Za-z0-9_.-], so it can stand in a URL path or a mailto subject as it is.
// It may not: read or write storage, or keep what it verified. One instance per thread (its
// OpenSSL MAC context is reused from token to token).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "util/result.h"

namespace ringmta::unsubscribe {

struct TokenClaims {
  std::string campaign;
  std::string address;
};

class UnsubscribeTokens {
 public:
  static constexpr std::size_t kSecretBytes = 32;
  // secret: at least kSecretBytes of random bytes (UnsubscribeSecret keeps them in the queue).
  static Result<std::unique_ptr<UnsubscribeTokens>> create(std::string_view secret);
  ~UnsubscribeTokens();
  UnsubscribeTokens(const UnsubscribeTokens&) = delete;
  UnsubscribeTokens& operator=(const UnsubscribeTokens&) = delete;

  std::string make(std::string_view campaign, std::string_view address);
  // The claims of a token made with this secret; nullopt for anything else (malformed, forged,
  // altered, or made with another secret).
  std::optional<TokenClaims> verify(std::string_view token);

 private:
  UnsubscribeTokens() = default;
  bool mac(std::string_view payload, unsigned char (&out)[32]);
  struct Mac;
  std::unique_ptr<Mac> mac_;
};

}  // namespace ringmta::unsubscribe
