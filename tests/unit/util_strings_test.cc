// Unit tests for the small helpers in util/: ASCII case folding and comparison, trimming, the
// HOST:PORT split (each form the address options accept, and the two syntax errors), and
// read_file's errors, which callers show as they are. It may not depend on the locale.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "util/file.h"
#include "util/host_port.h"
#include "util/strings.h"

namespace ringmta {
namespace {

TEST(Strings, FoldOnlyAsciiLetters) {
  EXPECT_EQ(lower("MiXeD-09_\xC3\x89"), "mixed-09_\xC3\x89");
  EXPECT_TRUE(iequals("STARTTLS", "StartTls"));
  EXPECT_FALSE(iequals("STARTTLS", "STARTTL"));
  EXPECT_FALSE(iequals("\xC3\x89", "\xC3\xA9"));
  EXPECT_TRUE(istarts_with("Diagnostic-Code: smtp; 550", "diagnostic-code:"));
  EXPECT_FALSE(istarts_with("smtp", "smtp;"));
}

TEST(Strings, TrimRemovesOnlyTheGivenCharacters) {
  EXPECT_EQ(trim(" \tvalue \t"), "value");
  EXPECT_EQ(trim(" value\r\n"), "value\r\n");
  EXPECT_EQ(trim(" value\r\n", " \t\r\n"), "value");
  EXPECT_EQ(trim(" \t "), "");
}

TEST(HostPort, SplitsEachForm) {
  HostPort a = split_host_port("mail.example.org");
  EXPECT_EQ(a.syntax, HostPort::Syntax::kOk);
  EXPECT_EQ(a.host, "mail.example.org");
  EXPECT_FALSE(a.port);
  HostPort b = split_host_port("192.0.2.1:587");
  EXPECT_EQ(b.host, "192.0.2.1");
  EXPECT_EQ(b.port, "587");
  HostPort c = split_host_port("[2001:db8::1]:25");
  EXPECT_EQ(c.host, "2001:db8::1");
  EXPECT_EQ(c.port, "25");
  HostPort d = split_host_port("2001:db8::1");
  EXPECT_EQ(d.host, "2001:db8::1");
  EXPECT_FALSE(d.port);
  HostPort e = split_host_port("host:");
  EXPECT_EQ(e.host, "host");
  EXPECT_EQ(e.port, "");
  HostPort f = split_host_port("[::1]");
  EXPECT_EQ(f.host, "::1");
  EXPECT_FALSE(f.port);
}

TEST(HostPort, ReportsBracketErrors) {
  EXPECT_EQ(split_host_port("[::1").syntax, HostPort::Syntax::kMissingBracket);
  EXPECT_EQ(split_host_port("[::1]25").syntax, HostPort::Syntax::kTextAfterBracket);
}

TEST(ReadFile, ReadsAllAndNamesThePathOnErrors) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("ringmta_util_test_" + std::to_string(getpid())))
          .string();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  const std::string content((3u << 20) + 1, 'x');
  ASSERT_EQ(std::fwrite(content.data(), 1, content.size(), f), content.size());
  std::fclose(f);

  auto all = read_file(path, "rule file", 4u << 20);
  ASSERT_TRUE(all.ok()) << all.error().message;
  EXPECT_EQ(*all, content);
  auto big = read_file(path, "rule file", 2u << 20);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().message, path + ": rule file larger than 2 MiB");
  std::filesystem::remove(path);
  auto missing = read_file(path, "rule file", 1u << 20);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, path + ": cannot open the rule file");
  const std::string directory = std::filesystem::temp_directory_path().string();
  auto unreadable = read_file(directory, "rule file", 1u << 20);
  ASSERT_FALSE(unreadable.ok());
  EXPECT_EQ(unreadable.error().message, directory + ": read error");
}

}  // namespace
}  // namespace ringmta
