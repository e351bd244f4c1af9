#include "server/auth.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccs::server {
namespace {

using ::testing::HasSubstr;

constexpr char kTokenA[] = "tokenAAAAAAAAAAAAAAAA";
constexpr char kTokenB[] = "tokenBBBBBBBBBBBBBBBB";

absl::StatusOr<TokenAuthenticator> Parse(absl::string_view text) {
  return TokenAuthenticator::FromText(text, "tokens.txt");
}

absl::StatusOr<std::string> Tenant(const TokenAuthenticator& auth, absl::string_view header) {
  const absl::string_view values[] = {header};
  return auth.Authenticate(values);
}

TEST(TokenFileTest, ParsesPairsCommentsAndBlankLines) {
  absl::StatusOr<TokenAuthenticator> auth = Parse(
      "# token tenant\n"
      "\n"
      "   \t\n"
      "tokenAAAAAAAAAAAAAAAA acme\n"
      "  tokenBBBBBBBBBBBBBBBB\tglobex   # rotated\r\n"
      "abc+/-._~0123456789xyz== acme\n");
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ(auth->token_count(), 3);
  EXPECT_EQ(*Tenant(*auth, "Bearer tokenAAAAAAAAAAAAAAAA"), "acme");
  EXPECT_EQ(*Tenant(*auth, "Bearer tokenBBBBBBBBBBBBBBBB"), "globex");
  EXPECT_EQ(*Tenant(*auth, "Bearer abc+/-._~0123456789xyz=="), "acme");
}

TEST(TokenFileTest, RejectsBadLinesNamingThem) {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {"tokenAAAAAAAAAAAAAAAA\n", "tokens.txt:1: expected \"TOKEN TENANT\" (two fields), found 1 field"},
      {"# ok\ntokenAAAAAAAAAAAAAAAA acme extra\n", "tokens.txt:2: expected \"TOKEN TENANT\""},
      {"short acme\n", "tokens.txt:1: the token must be 16 to 512 characters"},
      {"token*AAAAAAAAAAAAAAA acme\n", "tokens.txt:1: the token must be"},
      {"tokenAAAAAAAAAAAAAAAA=x acme\n", "tokens.txt:1: the token must be"},
      {"tokenAAAAAAAAAAAAAAAA ac/me\n", "tokens.txt:1: tenant \"ac/me\" must be"},
      {"tokenAAAAAAAAAAAAAAAA acme\n\ntokenAAAAAAAAAAAAAAAA globex\n",
       "tokens.txt:3: duplicate token (first on line 1)"},
      {"# only comments\n\n", "tokens.txt: no tokens"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<TokenAuthenticator> auth = Parse(c.text);
    ASSERT_FALSE(auth.ok()) << c.text;
    EXPECT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(auth.status().message(), HasSubstr(c.message)) << c.text;
  }
}

TEST(TokenFileTest, ReadsAFileAndReportsAMissingOne) {
  const char* tmp = getenv("TEST_TMPDIR");
  const std::string path = std::string(tmp ? tmp : "/tmp") + "/auth_test_tokens";
  {
    std::ofstream file(path);
    file << kTokenA << " acme\n";
  }
  absl::StatusOr<TokenAuthenticator> auth = TokenAuthenticator::FromFile(path);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ(auth->token_count(), 1);
  std::remove(path.c_str());

  auth = TokenAuthenticator::FromFile(path);
  EXPECT_EQ(auth.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(auth.status().message(), HasSubstr(path));
}

TEST(AuthenticateTest, AcceptsBearerCaseInsensitivelyAndRejectsEverythingElse) {
  absl::StatusOr<TokenAuthenticator> auth =
      Parse(absl::StrCat(kTokenA, " acme\n", kTokenB, " globex\n"));
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ(*Tenant(*auth, "bearer tokenBBBBBBBBBBBBBBBB"), "globex");
  EXPECT_EQ(*Tenant(*auth, "BEARER   tokenBBBBBBBBBBBBBBBB "), "globex");

  const char* rejected[] = {
      "",
      "Bearer",
      "Bearer ",
      "Basic dXNlcjpwYXNz",
      "tokenAAAAAAAAAAAAAAAA",
      "Bearer tokenAAAAAAAAAAAAAAA",    // a prefix
      "Bearer tokenAAAAAAAAAAAAAAAAA",  // one more character
      "Bearer tokenAAAAAAAAAAAAAAAa",   // last character differs
      "Bearer tokenBBBBBBBBBBBBBBBB tokenAAAAAAAAAAAAAAAA",
  };
  for (const char* header : rejected) {
    absl::StatusOr<std::string> tenant = Tenant(*auth, header);
    EXPECT_EQ(tenant.status().code(), absl::StatusCode::kUnauthenticated) << header;
    EXPECT_THAT(tenant.status().message(), HasSubstr("authorization: Bearer <token>")) << header;
  }
}

TEST(AuthenticateTest, MissingOrRepeatedHeaderIsUnauthenticated) {
  absl::StatusOr<TokenAuthenticator> auth = Parse(absl::StrCat(kTokenA, " acme\n"));
  ASSERT_TRUE(auth.ok()) << auth.status();
  absl::StatusOr<std::string> tenant = auth->Authenticate({});
  EXPECT_EQ(tenant.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(tenant.status().message(), HasSubstr("no credentials"));

  const absl::string_view two[] = {"Bearer tokenAAAAAAAAAAAAAAAA", "Bearer tokenAAAAAAAAAAAAAAAA"};
  tenant = auth->Authenticate(two);
  EXPECT_EQ(tenant.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(tenant.status().message(), HasSubstr("send exactly one"));
}

TEST(ConstantTimeEqualsTest, ComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("secret-token", "secret-token"));
  EXPECT_FALSE(ConstantTimeEquals("secret-tokeN", "secret-token"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secret-token"));
  EXPECT_FALSE(ConstantTimeEquals("secret-tokensecret-token", "secret-token"));
  EXPECT_FALSE(ConstantTimeEquals("", "secret-token"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_FALSE(ConstantTimeEquals("x", ""));
}

}  // namespace
}  // namespace ccs::server
