// UnsubscribeTokens (see token.h).
#include "unsubscribe/token.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "util/base64.h"

namespace ringmta::unsubscribe {
namespace {

// Bound to this use, so the secret's MACs can never be mistaken for another purpose's.
constexpr std::string_view kContext = "ringmta-unsubscribe-v1\n";
constexpr std::size_t kTagBytes = 16;

}  // namespace

struct UnsubscribeTokens::Mac {
  EVP_MAC* mac = nullptr;
  EVP_MAC_CTX* ctx = nullptr;
  std::string key;
  ~Mac() {
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    OPENSSL_cleanse(key.data(), key.size());
  }
};

Result<std::unique_ptr<UnsubscribeTokens>> UnsubscribeTokens::create(std::string_view secret) {
  if (secret.size() < kSecretBytes) {
    return make_error("the unsubscribe secret is shorter than " + std::to_string(kSecretBytes) +
                      " bytes");
  }
  std::unique_ptr<UnsubscribeTokens> tokens(new UnsubscribeTokens());
  tokens->mac_ = std::make_unique<Mac>();
  Mac& m = *tokens->mac_;
  m.key.assign(secret);
  m.mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  m.ctx = m.mac != nullptr ? EVP_MAC_CTX_new(m.mac) : nullptr;
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (m.ctx == nullptr || EVP_MAC_init(m.ctx, reinterpret_cast<const unsigned char*>(m.key.data()),
                                       m.key.size(), params) != 1) {
    return make_error("OpenSSL has no HMAC-SHA256");
  }
  return tokens;
}

UnsubscribeTokens::~UnsubscribeTokens() = default;

bool UnsubscribeTokens::mac(std::string_view payload, unsigned char (&out)[32]) {
  // A null key re-initializes with the key given at create().
  std::size_t length = 0;
  return EVP_MAC_init(mac_->ctx, nullptr, 0, nullptr) == 1 &&
         EVP_MAC_update(mac_->ctx, reinterpret_cast<const unsigned char*>(kContext.data()),
                        kContext.size()) == 1 &&
         EVP_MAC_update(mac_->ctx, reinterpret_cast<const unsigned char*>(payload.data()),
                        payload.size()) == 1 &&
         EVP_MAC_final(mac_->ctx, out, &length, sizeof out) == 1 && length == sizeof out;
}

std::string UnsubscribeTokens::make(std::string_view campaign, std::string_view address) {
  std::string payload;
  payload.reserve(campaign.size() + address.size() + 1);
  payload.append(campaign).append("\n").append(address);
  unsigned char tag[32];
  if (!mac(payload, tag)) return {};  // OpenSSL failed after create() succeeded: no token
  std::string token = base64_encode(payload, Base64::kUrl);
  token.push_back('.');
  token += base64_encode(std::string_view(reinterpret_cast<char*>(tag), kTagBytes), Base64::kUrl);
  return token;
}

std::optional<TokenClaims> UnsubscribeTokens::verify(std::string_view token) {
  std::size_t dot = token.find('.');
  if (dot == std::string_view::npos || token.size() > 2048) return std::nullopt;
  auto payload = base64_decode(token.substr(0, dot), Base64::kUrl);
  auto tag = base64_decode(token.substr(dot + 1), Base64::kUrl);
  if (!payload || !tag || tag->size() != kTagBytes) return std::nullopt;
  unsigned char expected[32];
  if (!mac(*payload, expected) || CRYPTO_memcmp(expected, tag->data(), kTagBytes) != 0) {
    return std::nullopt;
  }
  std::size_t newline = payload->find('\n');
  if (newline == std::string::npos) return std::nullopt;
  return TokenClaims{payload->substr(0, newline), payload->substr(newline + 1)};
}

}  // namespace ringmta::unsubscribe
