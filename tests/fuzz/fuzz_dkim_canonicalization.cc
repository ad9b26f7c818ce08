// libFuzzer target for dkim/: split arbitrary bytes into fields and body, canonicalize them both
// ways and check the invariants (a relaxed field is one line ending in its only CRLF; relaxed body
// canonicalization is idempotent and never ends in an empty line; a simple body ends with CRLF),
// then sign the bytes with an Ed25519 key when they name a From: of its domain.
// It may not touch files or the network.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "dkim/canonicalization.h"
#include "dkim/signer.h"

namespace {

using ringmta::dkim::Canon;

ringmta::dkim::Signer& signer() {
  static const std::vector<ringmta::dkim::SigningKey> keys = [] {
    auto generated = ringmta::dkim::generate_key("ed25519");
    if (!generated) std::abort();
    ringmta::dkim::SigningKey key;
    key.domain = "example.org";
    key.selector = "fuzz";
    key.algorithm = ringmta::dkim::Algorithm::kEd25519Sha256;
    key.fields = ringmta::dkim::default_signed_fields();
    key.oversign = ringmta::dkim::default_oversigned_fields();
    auto parsed = ringmta::dkim::parse_private_key(generated->private_pem, "generated key");
    if (!parsed) std::abort();
    key.key = std::move(parsed.value());
    return std::vector<ringmta::dkim::SigningKey>{key};
  }();
  static std::unique_ptr<ringmta::dkim::Signer> s = [] {
    auto created = ringmta::dkim::Signer::create(keys);
    if (!created) std::abort();
    return std::move(created.value());
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  ringmta::dkim::SplitMessage split = ringmta::dkim::split_message(raw);
  for (const auto& field : split.fields) {
    std::string relaxed;
    ringmta::dkim::append_canonical_field(relaxed, field, Canon::kRelaxed);
    if (relaxed.find("\r\n") != relaxed.size() - 2) std::abort();  // unfolded: one line
    std::string simple;
    ringmta::dkim::append_canonical_field(simple, field, Canon::kSimple);
    if (!simple.ends_with("\r\n")) std::abort();
  }
  std::string once, twice, simple;
  ringmta::dkim::append_canonical_body(once, split.body, Canon::kRelaxed);
  ringmta::dkim::append_canonical_body(twice, once, Canon::kRelaxed);
  if (once != twice || once.ends_with("\r\n\r\n") || (!once.empty() && !once.ends_with("\r\n"))) {
    std::abort();
  }
  ringmta::dkim::append_canonical_body(simple, split.body, Canon::kSimple);
  if (!simple.ends_with("\r\n") || (simple.size() > 2 && simple.ends_with("\r\n\r\n")))
    std::abort();
  std::string copy(raw);
  auto signed_copy = signer().sign(copy, 0, 1796284800, 0);
  if (signed_copy && *signed_copy == ringmta::dkim::SignResult::kNoKey && copy != raw) std::abort();
  if (signed_copy && *signed_copy == ringmta::dkim::SignResult::kSigned &&
      (!copy.starts_with("DKIM-Signature:") || !copy.ends_with(raw))) {
    std::abort();
  }
  return 0;
}
