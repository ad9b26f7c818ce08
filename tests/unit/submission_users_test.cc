// UserDirectory: the users file's syntax and errors, allowed senders, crypt(3) verification.
#include <gtest/gtest.h>

#include "submission/users.h"

namespace ringmta::submission {
namespace {

constexpr const char* kHash =  // "s3cret-pass"
    "$6$testsalt$vAX27x9WPO14/FAlaesL5z4gqWoXtfBNmh1dIkHCCwpc2QRrZGr0VJcrUH3/D4xnjgSqR5L2fK0IUhx/"
    "R0Nnz1";

std::string error_of(const std::string& text) {
  auto parsed = UserDirectory::parse(text, "users.txt");
  return parsed ? std::string("(parsed)") : parsed.error().message;
}

TEST(UserDirectory, ParsesUsersAndOptions) {
  auto dir = UserDirectory::parse(std::string("# comment\n\nnews:") + kHash +
                                      ":senders=news@example.org,@lists.example.org  "
                                      "rate=500/hour max_recipients=50\r\nplain:" +
                                      kHash + "\n",
                                  "users.txt");
  ASSERT_TRUE(dir) << dir.error().message;
  EXPECT_EQ(dir->size(), 2u);
  const SubmissionUser* news = dir->find("news");
  ASSERT_NE(news, nullptr);
  EXPECT_EQ(news->senders.size(), 2u);
  EXPECT_EQ(news->rate, scheduler::Rate::per_hour(500));
  EXPECT_EQ(news->max_recipients, 50u);
  EXPECT_TRUE(dir->find("plain")->senders.empty());
  EXPECT_EQ(dir->find("nobody"), nullptr);
}

TEST(UserDirectory, ErrorsNameTheLine) {
  EXPECT_EQ(error_of("\nalice:hunter2\n"),
            "users.txt:2: the password must be a crypt(3) hash such as `openssl passwd -6` "
            "prints ($6$...), not plain text");
  EXPECT_NE(error_of("bob:$1$ab$e2KlfqG5YBMTjSz7XF.Eu1\n")
                .find("users.txt:1: the hash's method is too weak"),
            std::string::npos);
  EXPECT_NE(error_of("bob:$9$nonsense\n").find("users.txt:1: '$9$n...' is not a hash"),
            std::string::npos);
  EXPECT_NE(error_of(std::string("a:") + kHash + ":colour=blue\n").find("unknown option 'colour'"),
            std::string::npos);
  EXPECT_NE(error_of(std::string("a:") + kHash + ":senders=nobody\n").find("neither an address"),
            std::string::npos);
  EXPECT_NE(error_of(std::string("a:") + kHash + ":rate=fast\n").find("users.txt:1: rate:"),
            std::string::npos);
  EXPECT_NE(error_of(std::string("a:") + kHash + "\na:" + kHash + "\n")
                .find("users.txt:2: user 'a' is listed twice"),
            std::string::npos);
  EXPECT_EQ(error_of("no-colon\n"), "users.txt:1: expected NAME:HASH");
}

TEST(UserDirectory, VerifiesPasswords) {
  auto dir = UserDirectory::parse(std::string("news:") + kHash + "\n", "u");
  ASSERT_TRUE(dir);
  const SubmissionUser& news = *dir->find("news");
  EXPECT_TRUE(dir->verify(news, "s3cret-pass"));
  EXPECT_TRUE(dir->verify(news, "s3cret-pass"));  // remembered
  EXPECT_FALSE(dir->verify(news, "s3cret-pasS"));
  EXPECT_FALSE(dir->verify(news, ""));
  EXPECT_FALSE(dir->verify(news, std::string("s3cret-pass\0x", 13)));
}

TEST(SubmissionUser, AllowedSenders) {
  SubmissionUser u{.name = "n", .senders = {"news@example.org", "@lists.example.org"}};
  EXPECT_TRUE(u.may_send_as("news@example.org"));
  EXPECT_TRUE(u.may_send_as("news@EXAMPLE.ORG"));
  EXPECT_FALSE(u.may_send_as("NEWS@example.org"));  // local parts are case-sensitive
  EXPECT_TRUE(u.may_send_as("anything@lists.example.org"));
  EXPECT_FALSE(u.may_send_as("x@sub.lists.example.org"));
  EXPECT_FALSE(u.may_send_as(""));
  EXPECT_TRUE(SubmissionUser{}.may_send_as(""));
}

}  // namespace
}  // namespace ringmta::submission
