// SigningKey loading, key generation and the public key record (see signing_key.h).
#include "dkim/signing_key.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>

#include "util/base64.h"
#include "util/file.h"
#include "util/strings.h"

namespace ringmta::dkim {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};

// A passphrase callback that refuses: ringmta runs unattended, an encrypted key cannot be used.
int no_passphrase(char*, int, int, void* asked) {
  *static_cast<bool*>(asked) = true;
  return 0;
}

Result<Canon> parse_canon(std::string_view word, const std::string& what) {
  if (word == "relaxed") return Canon::kRelaxed;
  if (word == "simple") return Canon::kSimple;
  return make_error(what + ": canonicalization '" + std::string(word) +
                    "' is neither relaxed nor simple");
}

std::vector<std::string> lowered(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const std::string& n : names) out.push_back(lower(trim(n)));
  return out;
}

bool is_field_name(std::string_view name) {
  // RFC 5322 ftext: printable US-ASCII except the colon.
  return !name.empty() && std::all_of(name.begin(), name.end(),
                                      [](char c) { return c > 32 && c < 127 && c != ':'; });
}

}  // namespace

std::string_view algorithm_name(Algorithm algorithm) {
  return algorithm == Algorithm::kRsaSha256 ? "rsa-sha256" : "ed25519-sha256";
}

const std::vector<std::string>& default_signed_fields() {
  static const std::vector<std::string> fields{"from",
                                               "to",
                                               "cc",
                                               "reply-to",
                                               "subject",
                                               "date",
                                               "message-id",
                                               "mime-version",
                                               "content-type",
                                               "content-transfer-encoding",
                                               "list-id",
                                               "list-unsubscribe",
                                               "list-unsubscribe-post",
                                               "feedback-id"};
  return fields;
}

const std::vector<std::string>& default_oversigned_fields() {
  static const std::vector<std::string> fields{"from"};
  return fields;
}

Result<SigningKey> load_signing_key(const KeySettings& settings) {
  const std::string what = "DKIM key for " + settings.domain;
  SigningKey key;
  key.domain = lower(settings.domain);
  key.selector = settings.selector;
  if (!is_host_name(key.domain)) {
    return make_error("--dkim-domain '" + settings.domain + "': not a domain name");
  }
  if (!is_host_name(key.selector)) {
    return make_error(what + ": selector '" + settings.selector +
                      "' is not made of DNS labels (letters, digits, '-', '.')");
  }
  std::string_view canon = settings.canonicalization;
  if (canon.empty()) canon = "relaxed/relaxed";
  std::size_t slash = canon.find('/');
  auto header = parse_canon(canon.substr(0, slash), what);
  if (!header) return header.error();
  // RFC 6376 §3.5: "c=relaxed" alone means a simple body.
  auto body = slash == std::string_view::npos ? Result<Canon>(Canon::kSimple)
                                              : parse_canon(canon.substr(slash + 1), what);
  if (!body) return body.error();
  key.header_canon = *header;
  key.body_canon = *body;
  key.fields = lowered(settings.fields.value_or(default_signed_fields()));
  key.oversign = lowered(settings.oversign.value_or(default_oversigned_fields()));
  if (std::find(key.fields.begin(), key.fields.end(), "from") == key.fields.end()) {
    return make_error(what + ": the signed fields must include From (RFC 6376 §5.4)");
  }
  for (const std::string& name : key.fields) {
    if (!is_field_name(name)) return make_error(what + ": '" + name + "' is not a field name");
  }
  for (const std::string& name : key.oversign) {
    if (std::find(key.fields.begin(), key.fields.end(), name) == key.fields.end()) {
      return make_error(what + ": over-signed field '" + name + "' is not among the signed ones");
    }
  }

  if (!settings.algorithm.empty() && settings.algorithm != "rsa-sha256" &&
      settings.algorithm != "ed25519-sha256") {
    return make_error(what + ": algorithm '" + settings.algorithm +
                      "' is neither rsa-sha256 nor ed25519-sha256");
  }
  auto pem = read_file(settings.key_file, "DKIM private key", 1 << 20);
  if (!pem) return pem.error();
  auto parsed = parse_private_key(*pem, settings.key_file);
  if (!parsed) return parsed.error();
  std::shared_ptr<EVP_PKEY> pkey = std::move(*parsed);
  const int type = EVP_PKEY_get_base_id(pkey.get());
  if (type == EVP_PKEY_RSA) {
    key.algorithm = Algorithm::kRsaSha256;
    key.bits = EVP_PKEY_get_bits(pkey.get());
    if (key.bits < 1024 || key.bits > 4096) {
      return make_error(settings.key_file + ": a " + std::to_string(key.bits) +
                        "-bit RSA key; DKIM needs 1024 to 4096 bits (2048 is usual)");
    }
  } else if (type == EVP_PKEY_ED25519) {
    key.algorithm = Algorithm::kEd25519Sha256;
    key.bits = 256;
  } else {
    return make_error(settings.key_file + ": neither an RSA nor an Ed25519 key");
  }
  if (!settings.algorithm.empty() && settings.algorithm != algorithm_name(key.algorithm)) {
    return make_error(settings.key_file + ": --dkim-algorithm " + settings.algorithm +
                      ", but the file holds a key for " +
                      std::string(algorithm_name(key.algorithm)));
  }
  key.key = std::move(pkey);
  return key;
}

Result<std::shared_ptr<EVP_PKEY>> parse_private_key(std::string_view pem, const std::string& name) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  bool asked_passphrase = false;
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, &asked_passphrase);
  if (pkey == nullptr) {
    return make_error(name + ": " +
                      (asked_passphrase ? "the DKIM key is encrypted; ringmta needs it without a "
                                          "passphrase (openssl pkey -in KEY -out PLAIN)"
                                        : "not a PEM private key (BEGIN PRIVATE KEY or BEGIN RSA "
                                          "PRIVATE KEY)"));
  }
  return std::shared_ptr<EVP_PKEY>(pkey, PkeyFree{});
}

Result<std::string> public_key_record(const EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
    // RFC 8463 §4.2: the bare 32-byte public key.
    unsigned char raw[32];
    size_t length = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(key, raw, &length) != 1) {
      return make_error("cannot read the Ed25519 public key");
    }
    return "v=DKIM1; k=ed25519; p=" +
           base64_encode(std::string_view(reinterpret_cast<char*>(raw), length));
  }
  // RFC 6376 §3.6.1: the DER SubjectPublicKeyInfo.
  unsigned char* der = nullptr;
  int length = i2d_PUBKEY(key, &der);
  if (length <= 0) return make_error("cannot encode the RSA public key");
  std::string record =
      "v=DKIM1; k=rsa; p=" + base64_encode(std::string_view(reinterpret_cast<char*>(der),
                                                            static_cast<std::size_t>(length)));
  OPENSSL_free(der);
  return record;
}

Result<GeneratedKey> generate_key(std::string_view kind) {
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx;
  if (kind == "ed25519") {
    ctx.reset(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
  } else if (kind == "rsa-1024" || kind == "rsa-2048" || kind == "rsa-3072" || kind == "rsa-4096") {
    ctx.reset(EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nullptr));
  } else {
    return make_error("--algorithm " + std::string(kind) +
                      ": one of rsa-1024, rsa-2048, rsa-3072, rsa-4096, ed25519");
  }
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1) return make_error("key generation failed");
  if (kind.starts_with("rsa-") &&
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), std::stoi(std::string(kind.substr(4)))) != 1) {
    return make_error("key generation failed");
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_keygen(ctx.get(), &raw) != 1) return make_error("key generation failed");
  std::unique_ptr<EVP_PKEY, PkeyFree> pkey(raw);
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(bio.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return make_error("cannot write the key as PEM");
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  GeneratedKey out;
  out.private_pem.assign(data, static_cast<std::size_t>(size));
  auto record = public_key_record(pkey.get());
  if (!record) return record.error();
  out.record = std::move(*record);
  return out;
}

std::string zone_file_line(std::string_view selector, std::string_view domain,
                           std::string_view record) {
  std::string line;
  line.append(selector).append("._domainkey.").append(domain).append(". IN TXT (");
  for (std::size_t pos = 0; pos < record.size(); pos += 255) {
    line.append(" \"").append(record.substr(pos, 255)).append("\"");
  }
  line.append(" )");
  return line;
}

}  // namespace ringmta::dkim
