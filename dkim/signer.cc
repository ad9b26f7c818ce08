// Signer (see signer.h).
#include "dkim/signer.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <cstring>

#include "util/base64.h"
#include "util/strings.h"

namespace ringmta::dkim {

struct Signer::KeyContext {
  EVP_PKEY_CTX* rsa = nullptr;  // RSA: initialized once for PKCS#1 v1.5 over SHA-256, reused
  // Ed25519 signing is one-shot in OpenSSL: each signature starts from a copy of an initialized
  // context, cheaper than initializing one (which fetches the algorithm again).
  EVP_MD_CTX* eddsa_initialized = nullptr;
  EVP_MD_CTX* eddsa = nullptr;
  // The last signature made and the digest it signed: a copy whose signed fields, body and tags
  // are the same as the last one's (a message the same for every recipient, within a second's t=)
  // gets the same signature without signing again. Both algorithms are deterministic, so it is
  // the signature that signing would have made.
  unsigned char last_digest[32] = {};
  std::string last_signature;  // base64; empty: none yet
  ~KeyContext() {
    EVP_PKEY_CTX_free(rsa);
    EVP_MD_CTX_free(eddsa_initialized);
    EVP_MD_CTX_free(eddsa);
  }
};

struct Signer::Sha256 {
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);  // fetched once, not per digest
  ~Sha256() { EVP_MD_free(md); }
  bool digest(std::string_view data, unsigned char (&out)[32]) const {
    unsigned int length = 0;
    return EVP_Digest(data.data(), data.size(), out, &length, md, nullptr) == 1 && length == 32;
  }
};

namespace {

// The domain of the From: field's address: after the last '@' of the part in angle brackets if
// there is one, else of the whole value; "" when there is none.
std::string from_domain(std::string_view text) {
  std::string_view value = text.substr(text.find(':') + 1);
  if (std::size_t open = value.rfind('<'); open != std::string_view::npos) {
    value = value.substr(open + 1, value.find('>', open) - open - 1);
  }
  std::size_t at = value.rfind('@');
  if (at == std::string_view::npos) return {};
  return lower(trim(value.substr(at + 1), " \t\r\n>"));
}

// Folds base64 text into the field after "b=": lines of at most 76 characters.
void append_folded(std::string& out, std::string_view text, std::size_t first_line_room) {
  std::size_t take = std::min(text.size(), first_line_room);
  out.append(text.substr(0, take));
  for (std::size_t pos = take; pos < text.size(); pos += 72) {
    out.append("\r\n\t ").append(text.substr(pos, 72));
  }
}

}  // namespace

Result<std::unique_ptr<Signer>> Signer::create(const std::vector<SigningKey>& keys) {
  std::unique_ptr<Signer> signer(new Signer());
  signer->sha256_ = std::make_unique<Sha256>();
  if (signer->sha256_->md == nullptr) return make_error("OpenSSL has no SHA-256");
  signer->first_key_ = keys.data();
  for (const SigningKey& key : keys) {
    auto context = std::make_unique<KeyContext>();
    if (key.algorithm == Algorithm::kRsaSha256) {
      context->rsa = EVP_PKEY_CTX_new_from_pkey(nullptr, key.key.get(), nullptr);
      if (context->rsa == nullptr || EVP_PKEY_sign_init(context->rsa) != 1 ||
          EVP_PKEY_CTX_set_rsa_padding(context->rsa, RSA_PKCS1_PADDING) != 1 ||
          EVP_PKEY_CTX_set_signature_md(context->rsa, signer->sha256_->md) != 1) {
        return make_error("DKIM key for " + key.domain + ": OpenSSL cannot sign with it");
      }
    } else {
      context->eddsa_initialized = EVP_MD_CTX_new();
      context->eddsa = EVP_MD_CTX_new();
      if (context->eddsa == nullptr || context->eddsa_initialized == nullptr ||
          EVP_DigestSignInit(context->eddsa_initialized, nullptr, nullptr, nullptr,
                             key.key.get()) != 1) {
        return make_error("DKIM key for " + key.domain + ": OpenSSL cannot sign with it");
      }
    }
    signer->contexts_.push_back(std::move(context));
    signer->by_domain_[key.domain].push_back(&key);
  }
  return signer;
}

Signer::~Signer() = default;

std::span<const SigningKey* const> Signer::keys_for(std::string_view domain) const {
  // The domain itself, then each parent: news.example.org, example.org, org.
  while (!domain.empty()) {
    if (auto it = by_domain_.find(std::string(domain)); it != by_domain_.end()) return it->second;
    std::size_t dot = domain.find('.');
    if (dot == std::string_view::npos) break;
    domain.remove_prefix(dot + 1);
  }
  return {};
}

Result<std::string> Signer::body_hash(const SigningKey& key, std::string_view body,
                                      uint64_t body_identity) {
  auto& cache = body_hashes_[key.body_canon == Canon::kRelaxed ? 1 : 0];
  if (body_identity != 0) {
    if (auto it = cache.find(body_identity); it != cache.end()) return it->second;
  }
  canonical_.clear();
  append_canonical_body(canonical_, body, key.body_canon);
  unsigned char digest[32];
  if (!sha256_->digest(canonical_, digest)) return make_error("SHA-256 failed");
  std::string bh = base64_encode(std::string_view(reinterpret_cast<char*>(digest), 32));
  if (body_identity != 0) {
    if (cache.size() >= 256) cache.clear();  // bounded: a queue of many DSNs has many bodies
    cache.emplace(body_identity, bh);
  }
  return bh;
}

Result<void> Signer::sign_one(const SigningKey& key, KeyContext& context,
                              std::span<const HeaderField> fields, std::string_view bh,
                              int64_t unix_now) {
  // h= and the hashed fields: each configured name as often as the copy has it, instances taken
  // from the bottom up (RFC 6376 §5.4.2), over-signed names once more (they select nothing).
  // Folded with tabs: relaxed canonicalization makes them one space, verifiers ignore them.
  std::string value = " v=1; a=";
  value.append(algorithm_name(key.algorithm));
  value.append("; c=").append(key.header_canon == Canon::kRelaxed ? "relaxed" : "simple");
  value.append("/").append(key.body_canon == Canon::kRelaxed ? "relaxed" : "simple");
  value.append(";\r\n\td=").append(key.domain).append("; s=").append(key.selector);
  value.append("; t=").append(std::to_string(unix_now)).append(";\r\n\th=");
  canonical_.clear();
  std::size_t line_start = value.size() - 3;  // h= lines stay under 78 characters
  auto add_name = [&](std::string_view name) {
    if (value.back() != '=') {
      if (value.size() - line_start + name.size() + 1 > 76) {
        value.append("\r\n\t");
        line_start = value.size() - 1;
      }
      value.push_back(':');
    }
    value.append(name);
  };
  for (const std::string& name : key.fields) {
    for (std::size_t i = fields.size(); i-- > 0;) {
      if (!iequals(fields[i].name, name)) continue;
      append_canonical_field(canonical_, fields[i], key.header_canon);
      add_name(name);
    }
    if (std::find(key.oversign.begin(), key.oversign.end(), name) != key.oversign.end()) {
      add_name(name);
    }
  }
  value.append(";\r\n\tbh=").append(bh).append(";\r\n\tb=");
  if (key.header_canon == Canon::kRelaxed) {
    append_relaxed_field(canonical_, "DKIM-Signature", value);
  } else {
    canonical_.append("DKIM-Signature:").append(value);
  }
  unsigned char digest[32];
  if (!sha256_->digest(canonical_, digest)) return make_error("SHA-256 failed");
  if (!context.last_signature.empty() && std::memcmp(digest, context.last_digest, 32) == 0) {
    ++stats_.signatures_reused;
  } else {
    unsigned char signature[512];  // RSA-4096 at most
    std::size_t length = sizeof signature;
    bool ok;
    if (context.rsa != nullptr) {
      ok = EVP_PKEY_sign(context.rsa, signature, &length, digest, sizeof digest) == 1;
    } else {
      // RFC 8463 §3: PureEdDSA over the SHA-256 hash of the canonicalized fields.
      ok = EVP_MD_CTX_copy_ex(context.eddsa, context.eddsa_initialized) == 1 &&
           EVP_DigestSign(context.eddsa, signature, &length, digest, sizeof digest) == 1;
    }
    if (!ok) {
      context.last_signature.clear();
      return make_error("DKIM signing with the key of " + key.domain + " failed");
    }
    ++stats_.signatures_made;
    context.last_signature =
        base64_encode(std::string_view(reinterpret_cast<char*>(signature), length));
    std::memcpy(context.last_digest, digest, 32);
  }
  fields_.append("DKIM-Signature:").append(value);
  append_folded(fields_, context.last_signature, 70);
  fields_.append("\r\n");
  return {};
}

Result<SignResult> Signer::sign(std::string& out, std::size_t start, int64_t unix_now,
                                uint64_t body_identity, uint64_t copy_identity) {
  if (copy_identity != 0 && copy_identity == last_copy_identity_ && unix_now == last_copy_at_) {
    out.insert(start, last_copy_fields_);  // the same copy as the last: the same signatures
    ++stats_.copies_signed;
    stats_.signatures_reused += last_copy_signatures_;
    return SignResult::kSigned;
  }
  std::string_view copy = std::string_view(out).substr(start);
  if (copy.starts_with('.') || copy.find("\r\n.") != std::string_view::npos) {
    // The wire form doubles a leading dot; what is signed is the message itself.
    unstuffed_.clear();
    std::size_t pos = 0;
    while (pos < copy.size()) {
      if (copy[pos] == '.') ++pos;
      std::size_t eol = copy.find("\r\n", pos);
      std::size_t next = eol == std::string_view::npos ? copy.size() : eol + 2;
      unstuffed_.append(copy.substr(pos, next - pos));
      pos = next;
    }
    copy = unstuffed_;
  }
  SplitMessage split = split_message(copy);
  std::string domain;
  for (const HeaderField& field : split.fields) {
    if (iequals(field.name, "from")) {
      domain = from_domain(field.text);
      break;
    }
  }
  std::span<const SigningKey* const> keys = keys_for(domain);
  if (domain.empty() || keys.empty()) {
    ++stats_.copies_unsigned;
    return SignResult::kNoKey;
  }
  fields_.clear();
  for (const SigningKey* key : keys) {
    auto bh = body_hash(*key, split.body, body_identity);
    if (!bh) return bh.error();
    auto ok = sign_one(*key, *contexts_[static_cast<std::size_t>(key - first_key_)], split.fields,
                       *bh, unix_now);
    if (!ok) return ok.error();
  }
  out.insert(start, fields_);
  ++stats_.copies_signed;
  if (copy_identity != 0) {
    last_copy_identity_ = copy_identity;
    last_copy_at_ = unix_now;
    last_copy_fields_ = fields_;
    last_copy_signatures_ = keys.size();
  }
  return SignResult::kSigned;
}

}  // namespace ringmta::dkim
