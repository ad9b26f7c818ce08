// Unit tests for the small helpers in util/: ASCII case folding and comparison, trimming, the
// HOST:PORT split (each form the address options accept, and the two syntax errors), and
// read_file's errors, which callers show as they are. It may not depend on the locale.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

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
  struct Case {
    std::string_view spec, host;
    std::optional<std::string_view> port;
  };
  for (const Case& c :
       {Case{"mail.example.org", "mail.example.org", std::nullopt},
        Case{"192.0.2.1:587", "192.0.2.1", "587"}, Case{"[2001:db8::1]:25", "2001:db8::1", "25"},
        Case{"2001:db8::1", "2001:db8::1", std::nullopt}, Case{"host:", "host", ""},
        Case{"[::1]", "::1", std::nullopt}}) {
    const HostPort split = split_host_port(c.spec);
    EXPECT_EQ(split.syntax, HostPort::Syntax::kOk) << c.spec;
    EXPECT_EQ(split.host, c.host) << c.spec;
    EXPECT_EQ(split.port, c.port) << c.spec;
  }
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
  EXPECT_EQ(missing.error().message,
            path + ": cannot open the rule file (No such file or directory)");
  const std::string directory = std::filesystem::temp_directory_path().string();
  auto unreadable = read_file(directory, "rule file", 1u << 20);
  ASSERT_FALSE(unreadable.ok());
  EXPECT_EQ(unreadable.error().message, directory + ": read error (Is a directory)");
}

}  // namespace
}  // namespace ringmta
