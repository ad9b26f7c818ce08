// Signer: a shard's DKIM signing of each rendered copy (RFC 6376, RFC 8463). The keys are shared
// and only read; the OpenSSL contexts are the Signer's own, so a shard signs with no lock.
//
// sign() reads the copy's From: domain, takes every key of that domain (or of its closest parent
// domain that has keys: DMARC's relaxed alignment), and prepends one DKIM-Signature field per key
// (RSA and Ed25519 for dual signing). Each signs the configured fields that the copy has, each
// over-signed field once more, never with l=. A body the same for every copy of a message is
// canonicalized and hashed once; a copy whose signed data is the same as the last copy's (a
// message the same for every recipient) reuses the last signature instead of signing again.
// It may not: read files or DNS, render or change the message other than prepending its fields,
// or block.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dkim/signing_key.h"
#include "util/result.h"

namespace ringmta::dkim {

enum class SignResult { kSigned, kNoKey };

// What a Signer has done, for the shard's metrics.
struct SignerStats {
  uint64_t copies_signed = 0;
  uint64_t copies_unsigned = 0;  // kNoKey
  uint64_t signatures_made = 0;
  uint64_t signatures_reused = 0;  // the same as the last one of its key (see sign())
};

class Signer {
 public:
  // keys must outlive the Signer. Fails only when OpenSSL cannot set up a context.
  static Result<std::unique_ptr<Signer>> create(const std::vector<SigningKey>& keys);
  ~Signer();
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  // The keys that sign mail whose From: address is in domain (lower case): empty when none.
  std::span<const SigningKey* const> keys_for(std::string_view domain) const;

  // Signs out[start..], a copy as it goes on the wire (CRLF line ends, dot-stuffed, no final
  // "."), inserting the DKIM-Signature fields at start. body_identity: nonzero when every copy
  // with that identity has the same body, whose hash is then reused. kNoKey: the From: domain has
  // no key (or the copy has no From: address); out is unchanged.
  // copy_identity: nonzero when every copy with that identity and the same unix_now is the same
  // copy (a message the same for every recipient): the last such copy's fields are reused whole.
  Result<SignResult> sign(std::string& out, std::size_t start, int64_t unix_now,
                          uint64_t body_identity, uint64_t copy_identity = 0);
  const SignerStats& stats() const { return stats_; }

 private:
  struct KeyContext;
  Signer() = default;
  Result<std::string> body_hash(const SigningKey& key, std::string_view body,
                                uint64_t body_identity);
  // Appends key's DKIM-Signature field for a copy with these header fields to fields_.
  Result<void> sign_one(const SigningKey& key, KeyContext& context,
                        std::span<const HeaderField> fields, std::string_view bh, int64_t unix_now);

  const SigningKey* first_key_ = nullptr;
  std::vector<std::unique_ptr<KeyContext>> contexts_;  // contexts_[i] is first_key_[i]'s
  std::unordered_map<std::string, std::vector<const SigningKey*>> by_domain_;
  std::unordered_map<uint64_t, std::string> body_hashes_[2];  // per Canon, by body identity
  struct Sha256;
  std::unique_ptr<Sha256> sha256_;
  std::string unstuffed_;  // the copy without dot-stuffing, when it had any
  std::string canonical_;  // what is hashed
  std::string fields_;     // the DKIM-Signature fields being built
  SignerStats stats_;
  // The fields of the last copy signed with a copy identity, for the next copy like it.
  uint64_t last_copy_identity_ = 0;
  int64_t last_copy_at_ = 0;
  std::string last_copy_fields_;
  uint64_t last_copy_signatures_ = 0;  // how many signatures last_copy_fields_ holds
};

}  // namespace ringmta::dkim
