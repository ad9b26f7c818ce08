// UserDirectory: the submission listener's users, read from the --users file: one line per user,
//
//   NAME:HASH[:OPTIONS]       e.g.  news:$6$hQ...$x1...:senders=news@example.org,@lists.example.org
//   rate=5000/hour max_recipients=1000
//
// HASH as `openssl passwd -6` (SHA-512 crypt) or `mkpasswd` (yescrypt) prints it: a salted
// crypt(3) string, never a password in plain text (refused, naming the line). OPTIONS are
// space-separated: senders= the envelope Senders (MAIL FROM) the user may use, addresses or
// "@domain" (default: any); rate= messages per second/minute/hour (default: unlimited);
// max_recipients= per message (default: the listener's). '#' starts a comment line.
//
// verify() runs crypt(3) on the caller's thread (a few milliseconds, on purpose); a success is
// remembered as a keyed digest of the password (never the password), so a client that logs in on
// every connection costs one crypt per password change, not one per connection.
// It may not: read files after load, or log passwords.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "scheduler/token_bucket.h"
#include "util/result.h"

namespace ringmta::submission {

struct SubmissionUser {
  std::string name;
  std::string hash;                  // crypt(3) string
  std::vector<std::string> senders;  // "a@b" or "@domain"; empty = any sender
  scheduler::Rate rate;              // messages; unlimited by default
  uint32_t max_recipients = 0;       // per message; 0 = the listener's limit

  // Whether this user may give `sender` as MAIL FROM (domains compared case-insensitively).
  bool may_send_as(std::string_view sender) const;
};

class UserDirectory {
 public:
  UserDirectory();
  ~UserDirectory();
  UserDirectory(UserDirectory&&) noexcept;
  UserDirectory& operator=(UserDirectory&&) noexcept;

  // Errors name "PATH:LINE" and what is wrong there.
  static Result<UserDirectory> load(const std::string& path);
  static Result<UserDirectory> parse(std::string_view text, std::string_view source);

  const SubmissionUser* find(std::string_view name) const;
  std::size_t size() const { return users_.size(); }
  bool empty() const { return users_.empty(); }

  // Whether password is user's. Not thread-safe (one directory per listener thread).
  bool verify(const SubmissionUser& user, std::string_view password);

 private:
  using Digest = std::array<unsigned char, 32>;
  Digest keyed_digest(const SubmissionUser& user, std::string_view password) const;

  std::vector<SubmissionUser> users_;
  std::unordered_map<std::string, std::size_t> index_;  // name -> users_ index
  std::unordered_map<std::string, Digest> verified_;    // name -> digest of the last good password
  std::array<unsigned char, 32> secret_{};              // random, per process
  struct CryptBuffer;
  std::unique_ptr<CryptBuffer> crypt_;  // crypt_rn's work area (large: not on the stack)
};

}  // namespace ringmta::submission
