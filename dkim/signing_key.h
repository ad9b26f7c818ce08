// SigningKey: one DKIM signing identity — domain (d=), selector (s=), private key, algorithm,
// canonicalization and the header fields it signs — loaded and checked once at start-up, then
// only read by every shard's Signer. Also the key generator of `ringmta dkim keygen` and the DNS
// TXT record that publishes a key's public half.
// It may not sign (Signer does), read DNS, or be changed after loading.
#pragma once

#include <openssl/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dkim/canonicalization.h"
#include "util/result.h"

namespace ringmta::dkim {

enum class Algorithm { kRsaSha256, kEd25519Sha256 };

// "rsa-sha256", "ed25519-sha256": the a= tag.
std::string_view algorithm_name(Algorithm algorithm);

// The fields signed unless the configuration says otherwise (RFC 6376 §5.4.1 and the providers'
// guidance), and those over-signed: listed once more than they appear, so that a field of that
// name added later breaks the signature.
const std::vector<std::string>& default_signed_fields();
const std::vector<std::string>& default_oversigned_fields();

// What the flags or the TOML say about one key.
struct KeySettings {
  std::string domain;
  std::string selector;
  std::string key_file;
  std::string algorithm;         // "" = what the key is
  std::string canonicalization;  // "" = relaxed/relaxed; "HEADER/BODY" or "HEADER"
  std::optional<std::vector<std::string>> fields;    // "" = default_signed_fields()
  std::optional<std::vector<std::string>> oversign;  // "" = default_oversigned_fields()
};

struct SigningKey {
  std::string domain;  // lower case
  std::string selector;
  Algorithm algorithm = Algorithm::kRsaSha256;
  Canon header_canon = Canon::kRelaxed;
  Canon body_canon = Canon::kRelaxed;
  std::vector<std::string> fields;    // lower case, in h= order
  std::vector<std::string> oversign;  // lower case, each also in fields
  std::shared_ptr<EVP_PKEY> key;      // read concurrently by every shard, never changed
  int bits = 0;                       // RSA modulus size; 256 for Ed25519
};

// Reads and checks the key file: an unencrypted PEM private key, RSA of 1024 to 4096 bits or
// Ed25519, of the algorithm asked for if one is. Errors name the file (or the setting) and why.
Result<SigningKey> load_signing_key(const KeySettings& settings);

// A PEM private key (PKCS#8 or PKCS#1, unencrypted); errors start with name.
Result<std::shared_ptr<EVP_PKEY>> parse_private_key(std::string_view pem, const std::string& name);

// The TXT record's text for the public half: "v=DKIM1; k=rsa; p=BASE64".
Result<std::string> public_key_record(const EVP_PKEY* key);

struct GeneratedKey {
  std::string private_pem;  // PKCS#8
  std::string record;       // public_key_record of it
};
// kind: "rsa-1024", "rsa-2048", "rsa-3072", "rsa-4096" or "ed25519".
Result<GeneratedKey> generate_key(std::string_view kind);

// The record as a zone file line: NAME TXT with the text split into strings of at most 255 bytes
// (RFC 1035 character-strings; 2048-bit keys need two), e.g. for BIND, nsd or a provider's UI.
std::string zone_file_line(std::string_view selector, std::string_view domain,
                           std::string_view record);

}  // namespace ringmta::dkim
