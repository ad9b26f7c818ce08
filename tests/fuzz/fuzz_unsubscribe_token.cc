// libFuzzer target for unsubscribe/: arbitrary bytes as a token from a URL (verify must refuse
// them: nobody can make a valid one without the secret), as a mailto request's message
// (token_in_request), and as a campaign and address that must round-trip through make/verify.
// It may not touch files or the network.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "unsubscribe/list_fields.h"
#include "unsubscribe/token.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static std::unique_ptr<ringmta::unsubscribe::UnsubscribeTokens> tokens = [] {
    auto t = ringmta::unsubscribe::UnsubscribeTokens::create(std::string(32, 'k'));
    if (!t) std::abort();
    return std::move(t.value());
  }();
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  if (tokens->verify(raw)) std::abort();  // a forgery
  std::string token = ringmta::unsubscribe::token_in_request(raw);
  if (token.find_first_of(" \t\r\n") != std::string::npos) std::abort();
  std::size_t newline = raw.find('\n');
  // Campaign ids and addresses (at most 254 bytes) make tokens well under verify's 2048-byte limit.
  if (newline == std::string_view::npos && raw.size() <= 500) {
    std::string_view campaign = raw.substr(0, raw.size() / 2), address = raw.substr(raw.size() / 2);
    auto claims = tokens->verify(tokens->make(campaign, address));
    if (!claims || claims->campaign != campaign || claims->address != address) std::abort();
  }
  return 0;
}
