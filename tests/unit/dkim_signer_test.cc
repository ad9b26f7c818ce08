// Unit tests for dkim::Signer and key loading: the RFC 8463 Appendix A signature verifies over
// our canonicalization (an independent vector), our signatures verify with OpenSSL for RSA and
// Ed25519, dual signing, h= with over-signing, dot-stuffed copies, key choice by From: domain,
// and the start-up errors of bad key files. Keys live in a temporary directory; no network.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "dkim/signer.h"
#include "util/base64.h"
#include "util/strings.h"

namespace ringmta::dkim {
namespace {

namespace fs = std::filesystem;

// Verifies one DKIM-Signature field of message (not dot-stuffed) with public key: the verifier's
// side of RFC 6376 §3.7, written here from the RFC for the test.
bool verifies(std::string_view message, std::size_t signature_index, EVP_PKEY* key) {
  SplitMessage split = split_message(message);
  std::vector<HeaderField> signatures;
  for (const HeaderField& f : split.fields) {
    if (iequals(f.name, "DKIM-Signature")) signatures.push_back(f);
  }
  if (signature_index >= signatures.size()) return false;
  std::string value(signatures[signature_index].text.substr(15));  // after "DKIM-Signature:"
  auto tag = [&](std::string_view name) -> std::string {
    std::string flat;
    for (char c : value) {
      if (c != '\r' && c != '\n' && c != ' ' && c != '\t') flat.push_back(c);
    }
    std::size_t pos = 0;
    while (pos < flat.size()) {
      std::size_t end = flat.find(';', pos);
      if (end == std::string::npos) end = flat.size();
      std::string item = flat.substr(pos, end - pos);
      if (item.starts_with(std::string(name) + "=")) return item.substr(name.size() + 1);
      pos = end + 1;
    }
    return {};
  };
  Canon header = tag("c").starts_with("simple") ? Canon::kSimple : Canon::kRelaxed;
  Canon body = tag("c").ends_with("/relaxed") ? Canon::kRelaxed : Canon::kSimple;
  std::string canonical_body;
  append_canonical_body(canonical_body, split.body, body);
  unsigned char digest[32];
  unsigned int length = 0;
  EVP_Digest(canonical_body.data(), canonical_body.size(), digest, &length, EVP_sha256(), nullptr);
  if (base64_encode(std::string_view(reinterpret_cast<char*>(digest), 32)) != tag("bh")) {
    return false;
  }
  std::string hashed;
  std::vector<bool> used(split.fields.size(), false);
  std::string h = tag("h");
  for (std::size_t pos = 0; pos <= h.size();) {
    std::size_t end = std::min(h.find(':', pos), h.size());
    std::string name = h.substr(pos, end - pos);
    for (std::size_t i = split.fields.size(); i-- > 0;) {
      if (!used[i] && iequals(split.fields[i].name, name)) {
        used[i] = true;
        append_canonical_field(hashed, split.fields[i], header);
        break;
      }
    }
    pos = end + 1;
  }
  // The signature field itself with b='s value (and the white space around it) removed.
  std::size_t b = value.find("b=", value.find("bh=") + 3);
  std::size_t b_end = value.find(';', b);
  std::string without_b =
      value.substr(0, b + 2) + (b_end == std::string::npos ? "" : value.substr(b_end));
  if (header == Canon::kRelaxed) {
    append_relaxed_field(hashed, "DKIM-Signature", without_b);
  } else {
    hashed.append("DKIM-Signature:").append(without_b);
  }
  EVP_Digest(hashed.data(), hashed.size(), digest, &length, EVP_sha256(), nullptr);
  auto signature = base64_decode(tag("b"));
  if (!signature) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok;
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
    ok = EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key) == 1 &&
         EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature->data()),
                          signature->size(), digest, 32) == 1;
  } else {
    EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new(key, nullptr);
    ok = EVP_PKEY_verify_init(pctx) == 1 &&
         EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
         EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) == 1 &&
         EVP_PKEY_verify(pctx, reinterpret_cast<const unsigned char*>(signature->data()),
                         signature->size(), digest, 32) == 1;
    EVP_PKEY_CTX_free(pctx);
  }
  EVP_MD_CTX_free(ctx);
  return ok;
}

TEST(Rfc8463, AppendixASignatureVerifiesOverOurCanonicalization) {
  const std::string message =
      "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
      " d=football.example.com; i=@football.example.com;\r\n"
      " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
      " subject : date : message-id : from : subject : date;\r\n"
      " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
      " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
      " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
      "From: Joe SixPack <joe@football.example.com>\r\n"
      "To: Suzie Q <suzie@shopping.example.net>\r\n"
      "Subject: Is dinner ready?\r\n"
      "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
      "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
      "\r\n"
      "Hi.\r\n"
      "\r\n"
      "We lost the game.  Are you hungry yet?\r\n"
      "\r\n"
      "Joe.\r\n";
  auto raw = base64_decode("11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
  ASSERT_TRUE(raw);
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw->data()), raw->size());
  ASSERT_NE(key, nullptr);
  EXPECT_TRUE(verifies(message, 0, key));
  std::string altered = message;
  altered.replace(altered.find("Is dinner"), 2, "IS");
  EXPECT_FALSE(verifies(altered, 0, key));
  EVP_PKEY_free(key);
}

class SignerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dkim_signer_test." + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  SigningKey key(const std::string& domain, const std::string& kind,
                 const std::string& canonicalization = "") {
    auto generated = generate_key(kind);
    EXPECT_TRUE(generated) << generated.error().message;
    KeySettings s{.domain = domain,
                  .selector = "s-" + kind,
                  .key_file = write(domain + kind + ".pem", generated->private_pem),
                  .canonicalization = canonicalization};
    auto loaded = load_signing_key(s);
    EXPECT_TRUE(loaded) << loaded.error().message;
    return std::move(*loaded);
  }

  fs::path dir_;
};

const std::string kCopy =
    "Date: Thu, 03 Dec 2026 08:00:00 +0000\r\n"
    "Message-ID: <1.0.1@news.example.org>\r\n"
    "From: \"News, Example\" <news@Example.ORG>\r\n"
    "To: Jürgen <j@example.net>\r\n"
    "Subject: A long subject that is folded\r\n"
    "  onto a second line\r\n"
    "X-Not-Signed: 1\r\n"
    "\r\n"
    "Hello,\r\n"
    "..a line that began with a dot\r\n"
    "  spaced   out  \r\n"
    "\r\n"
    "\r\n";

std::string unstuffed(std::string wire) {
  std::string out;
  for (std::size_t pos = 0; pos < wire.size();) {
    if (wire[pos] == '.') ++pos;
    std::size_t next = wire.find("\r\n", pos) + 2;
    out.append(wire, pos, next - pos);
    pos = next;
  }
  return out;
}

TEST_F(SignerTest, RsaAndEd25519DualSignaturesVerify) {
  std::vector<SigningKey> keys{key("example.org", "rsa-2048"), key("example.org", "ed25519")};
  auto signer = Signer::create(keys);
  ASSERT_TRUE(signer);
  for (int copy = 0; copy < 2; ++copy) {  // the RSA context is reused: the second must verify too
    std::string out = "prefix";
    out += kCopy;
    auto r = (*signer)->sign(out, 6, 1796284800 + copy, 0);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, SignResult::kSigned);
    ASSERT_TRUE(out.starts_with("prefixDKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;"));
    std::string message = unstuffed(out.substr(6));
    EXPECT_TRUE(verifies(message, 0, keys[0].key.get())) << message;
    EXPECT_TRUE(verifies(message, 1, keys[1].key.get())) << message;
    EXPECT_NE(message.find("a=ed25519-sha256"), std::string::npos);
    EXPECT_NE(message.find("h=from:from:to:subject:date:message-id;"), std::string::npos)
        << message;
    EXPECT_EQ(message.find("l="), std::string::npos);
    EXPECT_FALSE(verifies(message, 0, keys[1].key.get()));  // the other key: no
    for (std::size_t pos = 0, eol; (eol = message.find("\r\n", pos)) != std::string::npos;
         pos = eol + 2) {
      EXPECT_LE(eol - pos, 78u) << message.substr(pos, eol - pos);
    }
  }
}

TEST_F(SignerTest, SimpleCanonicalizationAndReusedBodyHash) {
  std::vector<SigningKey> keys{key("example.org", "rsa-1024", "simple/simple")};
  auto signer = Signer::create(keys);
  ASSERT_TRUE(signer);
  for (int copy = 0; copy < 3; ++copy) {
    std::string out = kCopy;
    ASSERT_TRUE((*signer)->sign(out, 0, 1796284800, 42));
    EXPECT_NE(out.find("c=simple/simple"), std::string::npos);
    EXPECT_TRUE(verifies(unstuffed(out), 0, keys[0].key.get())) << out;
  }
}

TEST_F(SignerTest, ACopyLikeTheLastReusesItsSignatureAnyDifferenceSignsAgain) {
  std::vector<SigningKey> keys{key("example.org", "rsa-2048"), key("example.org", "ed25519")};
  auto signer = Signer::create(keys);
  ASSERT_TRUE(signer);
  auto sign = [&](std::string copy, int64_t at) {
    auto r = (*signer)->sign(copy, 0, at, 42);
    EXPECT_TRUE(r && *r == SignResult::kSigned);
    EXPECT_TRUE(verifies(unstuffed(copy), 0, keys[0].key.get())) << copy;
    EXPECT_TRUE(verifies(unstuffed(copy), 1, keys[1].key.get())) << copy;
    return copy;
  };
  const std::string first = sign(kCopy, 1796284800);
  EXPECT_EQ(sign(kCopy, 1796284800), first);  // the same copy in the same second
  EXPECT_EQ((*signer)->stats().signatures_made, 2u);
  EXPECT_EQ((*signer)->stats().signatures_reused, 2u);
  EXPECT_NE(sign(kCopy, 1796284801), first);  // t= differs
  std::string other = kCopy;
  other.replace(other.find("Jürgen"), 7, "Jurgen");
  sign(other, 1796284801);  // a signed field differs
  EXPECT_EQ((*signer)->stats().signatures_made, 6u);
  EXPECT_EQ((*signer)->stats().signatures_reused, 2u);
  EXPECT_EQ((*signer)->stats().copies_signed, 4u);
  std::string no_key = "From: a@elsewhere.net\r\n\r\nbody\r\n";
  ASSERT_TRUE((*signer)->sign(no_key, 0, 1796284801, 0));
  EXPECT_EQ((*signer)->stats().copies_unsigned, 1u);

  // With a copy identity (the composer's word that the copy is the same as the last one with it in
  // the same second), the last copy's fields are reused without even hashing.
  auto sign_as = [&](int64_t at, uint64_t identity) {
    std::string copy = kCopy;
    auto r = (*signer)->sign(copy, 0, at, 42, identity);
    EXPECT_TRUE(r && *r == SignResult::kSigned);
    EXPECT_TRUE(verifies(unstuffed(copy), 0, keys[0].key.get())) << copy;
    EXPECT_TRUE(verifies(unstuffed(copy), 1, keys[1].key.get())) << copy;
    return copy;
  };
  const SignerStats before = (*signer)->stats();
  const std::string a = sign_as(1796284900, 7);
  EXPECT_EQ(sign_as(1796284900, 7), a);
  EXPECT_EQ((*signer)->stats().signatures_made, before.signatures_made + 2);
  EXPECT_EQ((*signer)->stats().signatures_reused, before.signatures_reused + 2);
  EXPECT_NE(sign_as(1796284901, 7), a);  // another second: t= differs, signed again
  EXPECT_EQ((*signer)->stats().signatures_made, before.signatures_made + 4);
}

TEST_F(SignerTest, AlteredCopyFailsVerification) {
  std::vector<SigningKey> keys{key("example.org", "ed25519")};
  auto signer = Signer::create(keys);
  std::string out = kCopy;
  ASSERT_TRUE((*signer)->sign(out, 0, 1796284800, 0));
  std::string message = unstuffed(out);
  std::string body_changed = message;
  body_changed.replace(body_changed.find("Hello"), 5, "Hullo");
  EXPECT_FALSE(verifies(body_changed, 0, keys[0].key.get()));
  std::string from_added = "From: evil@example.com\r\n" + message;
  // Over-signing From: a second From: field breaks the signature.
  EXPECT_FALSE(verifies(from_added, 0, keys[0].key.get()));
  std::string unsigned_added = message;
  unsigned_added.insert(unsigned_added.find("X-Not-Signed"), "X-Added: 1\r\n");
  EXPECT_TRUE(verifies(unsigned_added, 0, keys[0].key.get()));
}

TEST_F(SignerTest, KeyChoiceByFromDomain) {
  std::vector<SigningKey> keys{key("example.org", "ed25519"), key("mail.example.com", "ed25519")};
  auto signer = Signer::create(keys);
  EXPECT_EQ((*signer)->keys_for("example.org").size(), 1u);
  EXPECT_EQ((*signer)->keys_for("news.example.org").size(), 1u);  // relaxed alignment: parent
  EXPECT_EQ((*signer)->keys_for("example.com").size(), 0u);       // a child's key: no
  EXPECT_EQ((*signer)->keys_for("otherexample.org").size(), 0u);
  std::string out = "From: someone@elsewhere.net\r\n\r\nbody\r\n";
  const std::string before = out;
  auto r = (*signer)->sign(out, 0, 1796284800, 0);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, SignResult::kNoKey);
  EXPECT_EQ(out, before);
  std::string no_from = "To: a@example.org\r\n\r\nbody\r\n";
  EXPECT_EQ((*signer)->sign(no_from, 0, 1796284800, 0).value(), SignResult::kNoKey);
}

TEST_F(SignerTest, KeyFileErrorsNameTheFile) {
  KeySettings s{
      .domain = "example.org", .selector = "s1", .key_file = (dir_ / "missing.pem").string()};
  auto missing = load_signing_key(s);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("missing.pem"), std::string::npos);

  s.key_file = write("garbage.pem", "not a key\n");
  auto garbage = load_signing_key(s);
  ASSERT_FALSE(garbage);
  EXPECT_NE(garbage.error().message.find("garbage.pem: not a PEM private key"), std::string::npos);

  // An encrypted key, and a 512-bit RSA key.
  EVP_PKEY* small = EVP_RSA_gen(512);
  ASSERT_NE(small, nullptr);
  for (bool encrypted : {true, false}) {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, small, encrypted ? EVP_aes_128_cbc() : nullptr,
                             reinterpret_cast<const unsigned char*>("secret"), encrypted ? 6 : 0,
                             nullptr, nullptr);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    s.key_file =
        write(encrypted ? "enc.pem" : "small.pem", std::string(data, static_cast<std::size_t>(n)));
    BIO_free(bio);
    auto loaded = load_signing_key(s);
    ASSERT_FALSE(loaded);
    EXPECT_NE(loaded.error().message.find(encrypted ? "encrypted" : "512-bit"), std::string::npos)
        << loaded.error().message;
  }
  EVP_PKEY_free(small);

  auto ed = generate_key("ed25519");
  s.key_file = write("ed.pem", ed->private_pem);
  s.algorithm = "rsa-sha256";
  auto wrong = load_signing_key(s);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("holds a key for ed25519-sha256"), std::string::npos);
  s.algorithm = "";
  s.selector = "bad selector";
  EXPECT_FALSE(load_signing_key(s));
  s.selector = "s1";
  s.fields = std::vector<std::string>{"to", "subject"};
  EXPECT_FALSE(load_signing_key(s));  // From must be signed
  s.fields.reset();
  s.canonicalization = "relaxed/loose";
  EXPECT_FALSE(load_signing_key(s));
}

TEST(GeneratedKey, RecordsAndZoneLines) {
  auto ed = generate_key("ed25519");
  ASSERT_TRUE(ed);
  EXPECT_TRUE(ed->record.starts_with("v=DKIM1; k=ed25519; p="));
  EXPECT_EQ(ed->record.size(), std::string("v=DKIM1; k=ed25519; p=").size() + 44);
  auto rsa = generate_key("rsa-2048");
  ASSERT_TRUE(rsa);
  EXPECT_TRUE(rsa->record.starts_with("v=DKIM1; k=rsa; p=MIIBIjAN"));  // SubjectPublicKeyInfo
  std::string zone = zone_file_line("s1", "example.org", rsa->record);
  EXPECT_TRUE(zone.starts_with("s1._domainkey.example.org. IN TXT ( \""));
  EXPECT_EQ(std::count(zone.begin(), zone.end(), '"'), 4);  // two strings: 410 bytes
  EXPECT_FALSE(generate_key("dsa-1024"));
}

}  // namespace
}  // namespace ringmta::dkim
