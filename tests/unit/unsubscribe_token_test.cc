// Unit tests for unsubscribe/: tokens (round trip, URL-safe, forged, altered, another secret),
// the list fields of a copy, the mailto request's token, and the endpoint on a real temporary
// queue: a one-click POST suppresses synced, a forged token or a GET changes nothing.
#include <gtest/gtest.h>

#include <array>

#include "storage/records.h"
#include "storage_test_queue.h"
#include "unsubscribe/endpoint.h"
#include "unsubscribe/list_fields.h"
#include "unsubscribe/secret.h"
#include "unsubscribe/token.h"

namespace ringmta::unsubscribe {
namespace {

using storage::test_support::must_open;
using storage::test_support::TempDir;

const std::string kSecret(32, 's');

std::unique_ptr<UnsubscribeTokens> tokens(const std::string& secret = kSecret) {
  auto t = UnsubscribeTokens::create(secret);
  EXPECT_TRUE(t);
  return std::move(t.value());
}

TEST(UnsubscribeTokens, RoundTripAndUrlSafe) {
  auto t = tokens();
  std::string token = t->make("c6b11249398f7", "Ann.Lee+news@Example.org");
  EXPECT_EQ(
      token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."),
      std::string::npos)
      << token;
  auto claims = t->verify(token);
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->campaign, "c6b11249398f7");
  EXPECT_EQ(claims->address, "Ann.Lee+news@Example.org");
  EXPECT_EQ(t->make("c", "a@x.test"), t->make("c", "a@x.test"));  // the same link every attempt
}

TEST(UnsubscribeTokens, ForgedAlteredOrForeignTokensFail) {
  auto t = tokens();
  std::string token = t->make("camp", "ann@example.org");
  std::string other = t->make("camp", "bob@example.org");
  // Bob's payload with Ann's tag: a forged token for another address.
  std::string forged = other.substr(0, other.find('.')) + token.substr(token.find('.'));
  EXPECT_FALSE(t->verify(forged));
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '.') continue;
    std::string altered = token;
    altered[i] = altered[i] == 'A' ? 'B' : 'A';
    auto claims = t->verify(altered);
    // A change in the last character's unused bits may decode to the same bytes: then the claims
    // are the very same, never another address.
    if (claims) {
      EXPECT_EQ(claims->address, "ann@example.org") << altered;
    }
  }
  EXPECT_FALSE(t->verify(""));
  EXPECT_FALSE(t->verify("no-dot"));
  EXPECT_FALSE(t->verify(token + "A"));
  EXPECT_FALSE(tokens(std::string(32, 'x'))->verify(token));
  EXPECT_FALSE(UnsubscribeTokens::create("short"));
}

TEST(ListFields, FieldsOfACopy) {
  storage::ListFields f{"https://news.example.org/u/{token}?src=mail", "unsub@example.org",
                        "news.example.org"};
  ASSERT_TRUE(check_list_fields(f));
  std::string out;
  append_list_fields(out, f, "TOK.EN");
  EXPECT_EQ(out,
            "List-Unsubscribe: <https://news.example.org/u/TOK.EN?src=mail>,\r\n"
            " <mailto:unsub@example.org?subject=unsubscribe%20TOK.EN>\r\n"
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
            "List-Id: <news.example.org>\r\n");
  out.clear();
  append_list_fields(out, {"", "unsub@example.org", "News <news.example.org>"}, "T");
  EXPECT_EQ(out,
            "List-Unsubscribe: <mailto:unsub@example.org?subject=unsubscribe%20T>\r\n"
            "List-Id: News <news.example.org>\r\n");  // no one-click POST without an HTTPS URI
  out.clear();
  append_list_fields(out, {}, "T");
  EXPECT_EQ(out, "");
}

TEST(ListFields, RefusedSettingsNameTheFlag) {
  auto refused = [](storage::ListFields f) {
    auto ok = check_list_fields(f);
    return ok ? std::string() : ok.error().message;
  };
  EXPECT_NE(refused({"http://news.example.org/u/{token}", "", ""}).find("https://"),
            std::string::npos);
  EXPECT_NE(refused({"https://news.example.org/u/", "", ""}).find("no {token}"), std::string::npos);
  EXPECT_NE(refused({"https://x.org/u/{token}\r\nBcc: a@b", "", ""}).find("--unsubscribe-url"),
            std::string::npos);
  EXPECT_NE(refused({"", "not an address", ""}).find("--unsubscribe-mailto"), std::string::npos);
  EXPECT_NE(refused({"", "a@b.org?subject=x", ""}).find("--unsubscribe-mailto"), std::string::npos);
  EXPECT_NE(refused({"", "", "News\r\nBcc: x"}).find("--list-id"), std::string::npos);
}

TEST(ListFields, TokenOfAMailtoRequest) {
  EXPECT_EQ(token_in_request("From: a@x\r\nSubject: unsubscribe TOK.EN\r\n\r\nbody"), "TOK.EN");
  EXPECT_EQ(token_in_request("Subject:\n Unsubscribe   T1 extra\nFrom: a\n\n"), "T1");
  EXPECT_EQ(token_in_request("Subject: Re: news\r\n\r\nunsubscribe TOK"), "");
  EXPECT_EQ(token_in_request("From: a\r\n\r\nSubject: unsubscribe TOK\r\n"), "");  // in the body
}

TEST(UnsubscribeEndpoint, OneClickSuppressesAForgedTokenAndAGetDoNot) {
  TempDir dir;
  auto queue = must_open(dir.path());
  auto secret = queue_secret(*queue, true);
  ASSERT_TRUE(secret);
  EXPECT_EQ(queue_secret(*queue, false).value(), *secret);  // kept: the same one later
  auto maker = tokens(*secret);
  UnsubscribeEndpoint endpoint(*queue, tokens(*secret));
  const std::string token = maker->make("camp1", "Ann@Example.org");
  storage::SuppressionList list(*queue);
  const std::array<std::string, 1> ann{"ann@example.org"};

  EXPECT_EQ(endpoint.handle("GET", "/u/" + token, "", 1000).status, 200);
  EXPECT_FALSE(list.contains(ann).value().front());  // a GET never unsubscribes
  EXPECT_EQ(endpoint.handle("POST", "/u/" + token, "other=1", 1000).status, 400);
  std::string forged = maker->make("camp1", "bob@example.org");
  forged = forged.substr(0, forged.find('.')) + token.substr(token.find('.'));
  EXPECT_EQ(endpoint.handle("POST", "/u/" + forged, "List-Unsubscribe=One-Click", 1000).status,
            400);
  EXPECT_EQ(endpoint.handle("GET", "/u/" + forged, "", 1000).status, 400);
  EXPECT_FALSE(list.contains(ann).value().front());

  EXPECT_EQ(endpoint.handle("POST", "/u/" + token, "List-Unsubscribe=One-Click", 1000).status, 200);
  std::vector<storage::SuppressionEntry> entries;
  ASSERT_TRUE(list.list([&](const storage::SuppressionEntry& e) {
    entries.push_back(e);
    return true;
  }));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].category, "unsubscribe");
  EXPECT_EQ(entries[0].campaign, "camp1");
  EXPECT_EQ(entries[0].since, 1000);
  // Again: still 200, the first entry kept.
  EXPECT_EQ(endpoint.handle("POST", "/u/" + token, "List-Unsubscribe=One-Click", 2000).status, 200);
  ASSERT_TRUE(list.list([&](const storage::SuppressionEntry& e) {
    EXPECT_EQ(e.since, 1000);
    return true;
  }));
}

}  // namespace
}  // namespace ringmta::unsubscribe
