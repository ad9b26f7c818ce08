// The queue's unsubscribe secret (see secret.h).
#include "unsubscribe/secret.h"

#include <openssl/rand.h>

#include <array>
#include <utility>

#include "unsubscribe/token.h"

namespace ringmta::unsubscribe {
namespace {

const std::string kSecretKey = "unsubscribe/secret";

}  // namespace

Result<std::string> queue_secret(storage::Queue& queue, bool create) {
  auto found = queue.get_records(std::span<const std::string>(&kSecretKey, 1));
  if (!found) return found.error();
  if (const auto& value = found->front()) {
    if (value->size() < UnsubscribeTokens::kSecretBytes) {
      return make_error("queue: the unsubscribe secret is corrupt (" +
                        std::to_string(value->size()) + " bytes)");
    }
    return *value;
  }
  if (!create) return std::string();
  std::string secret(UnsubscribeTokens::kSecretBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()),
                 static_cast<int>(secret.size())) != 1) {
    return make_error("no random bytes for the unsubscribe secret");
  }
  const std::array<std::pair<std::string, std::string>, 1> puts{{{kSecretKey, secret}}};
  if (auto ok = queue.write_records(puts, {}); !ok) return ok.error();
  return secret;
}

}  // namespace ringmta::unsubscribe
