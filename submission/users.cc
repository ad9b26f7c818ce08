// UserDirectory implementation: the file's syntax, crypt(3) through libxcrypt's crypt_rn, and the
// cache of verified passwords (HMAC-SHA-256 under a per-process random key).
#include "submission/users.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>
#include <cstring>

#include "util/file.h"
#include "util/strings.h"

namespace ringmta::submission {

struct UserDirectory::CryptBuffer {
  crypt_data data{};
};

bool SubmissionUser::may_send_as(std::string_view sender) const {
  if (senders.empty()) return true;
  const std::size_t at = sender.rfind('@');
  for (const std::string& allowed : senders) {
    if (allowed.front() == '@') {
      if (at != std::string_view::npos && iequals(sender.substr(at), allowed)) return true;
      continue;
    }
    const std::size_t allowed_at = allowed.rfind('@');
    if (at == std::string_view::npos || allowed_at == std::string::npos) {
      if (sender == allowed) return true;
      continue;
    }
    // The local part as written, the domain in any case.
    if (sender.substr(0, at) == std::string_view(allowed).substr(0, allowed_at) &&
        iequals(sender.substr(at), std::string_view(allowed).substr(allowed_at))) {
      return true;
    }
  }
  return false;
}

UserDirectory::UserDirectory() : crypt_(std::make_unique<CryptBuffer>()) {
  if (RAND_bytes(secret_.data(), static_cast<int>(secret_.size())) != 1) {
    // Without randomness the cache is keyed by zeros: still a one-way digest, never the password.
    secret_.fill(0);
  }
}
UserDirectory::~UserDirectory() = default;
UserDirectory::UserDirectory(UserDirectory&&) noexcept = default;
UserDirectory& UserDirectory::operator=(UserDirectory&&) noexcept = default;

namespace {

Result<void> parse_option(SubmissionUser& user, std::string_view option, const std::string& where) {
  const std::size_t eq = option.find('=');
  if (eq == std::string_view::npos) {
    return make_error(where + ": option '" + std::string(option) + "' is not NAME=VALUE");
  }
  const std::string_view name = option.substr(0, eq);
  const std::string_view value = option.substr(eq + 1);
  if (name == "senders") {
    std::string_view rest = value;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      std::string_view one = trim(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      if (one.empty()) continue;
      if (one.find('@') == std::string_view::npos) {
        return make_error(where + ": sender '" + std::string(one) +
                          "' is neither an address nor @domain");
      }
      user.senders.emplace_back(one);
    }
    if (user.senders.empty()) return make_error(where + ": senders= names no sender");
    return {};
  }
  if (name == "rate") {
    auto rate = scheduler::parse_rate(value);
    if (!rate) return make_error(where + ": rate: " + rate.error().message);
    user.rate = *rate;
    return {};
  }
  if (name == "max_recipients") {
    uint32_t n = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || ec != std::errc() || ptr != value.data() + value.size() || n == 0) {
      return make_error(where + ": max_recipients must be a whole number above 0");
    }
    user.max_recipients = n;
    return {};
  }
  return make_error(where + ": unknown option '" + std::string(name) +
                    "' (known: senders, rate, max_recipients)");
}

Result<void> check_hash(std::string_view hash, const std::string& where) {
  if (hash.empty() || hash.front() != '$') {
    return make_error(where +
                      ": the password must be a crypt(3) hash such as `openssl passwd -6` "
                      "prints ($6$...), not plain text");
  }
  const std::string h(hash);
  switch (crypt_checksalt(h.c_str())) {
    case CRYPT_SALT_OK:
      return {};
    case CRYPT_SALT_METHOD_LEGACY:
    case CRYPT_SALT_TOO_CHEAP:
      return make_error(where +
                        ": the hash's method is too weak; make it with `openssl passwd -6`");
    default:
      return make_error(where + ": '" + h.substr(0, 4) +
                        "...' is not a hash crypt(3) knows; make it with `openssl passwd -6`");
  }
}

}  // namespace

Result<UserDirectory> UserDirectory::parse(std::string_view text, std::string_view source) {
  UserDirectory dir;
  std::size_t lineno = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    const std::string where = std::string(source) + ":" + std::to_string(lineno);
    const std::size_t first = line.find(':');
    if (first == std::string_view::npos || first == 0) {
      return make_error(where + ": expected NAME:HASH");
    }
    SubmissionUser user;
    user.name = std::string(line.substr(0, first));
    std::string_view rest = line.substr(first + 1);
    const std::size_t second = rest.find(':');
    const std::string_view hash = rest.substr(0, second);
    if (auto ok = check_hash(hash, where); !ok) return ok.error();
    user.hash = std::string(hash);
    if (second != std::string_view::npos) {
      std::string_view options = rest.substr(second + 1);
      while (!(options = trim(options)).empty()) {
        const std::size_t sp = options.find_first_of(" \t");
        if (auto ok = parse_option(user, options.substr(0, sp), where); !ok) return ok.error();
        options = sp == std::string_view::npos ? std::string_view() : options.substr(sp);
      }
    }
    if (dir.index_.contains(user.name)) {
      return make_error(where + ": user '" + user.name + "' is listed twice");
    }
    dir.index_.emplace(user.name, dir.users_.size());
    dir.users_.push_back(std::move(user));
  }
  return dir;
}

Result<UserDirectory> UserDirectory::load(const std::string& path) {
  auto text = read_file(path, "users file", std::size_t{16} << 20);
  if (!text) return text.error();
  return parse(*text, path);
}

const SubmissionUser* UserDirectory::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &users_[it->second];
}

UserDirectory::Digest UserDirectory::keyed_digest(const SubmissionUser& user,
                                                  std::string_view password) const {
  std::string data = user.name;
  data.push_back('\0');
  data.append(user.hash).push_back('\0');  // a changed hash forgets the old password
  data.append(password);
  Digest out{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &length);
  OPENSSL_cleanse(data.data(), data.size());
  return out;
}

bool UserDirectory::verify(const SubmissionUser& user, std::string_view password) {
  if (password.find('\0') != std::string_view::npos) return false;
  const Digest digest = keyed_digest(user, password);
  if (auto it = verified_.find(user.name); it != verified_.end()) {
    if (CRYPTO_memcmp(it->second.data(), digest.data(), digest.size()) == 0) return true;
  }
  const std::string phrase(password);
  const char* result = crypt_rn(phrase.c_str(), user.hash.c_str(), &crypt_->data,
                                static_cast<int>(sizeof crypt_->data));
  const bool ok = result != nullptr && result[0] != '*' &&
                  std::strlen(result) == user.hash.size() &&
                  CRYPTO_memcmp(result, user.hash.data(), user.hash.size()) == 0;
  if (ok) verified_[user.name] = digest;
  return ok;
}

}  // namespace ringmta::submission
