#include "server/auth.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace ccs::server {
namespace {

constexpr size_t kMinTokenLength = 16;
constexpr size_t kMaxTokenLength = 512;
constexpr size_t kMaxTenantLength = 64;

constexpr char kHowToSend[] =
    "send the metadata \"authorization: Bearer <token>\" with a token the server's "
    "--auth_token_file lists";

bool IsAlnum(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); }

// RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
bool IsValidToken(absl::string_view token) {
  size_t i = 0;
  while (i < token.size() && (IsAlnum(token[i]) || absl::string_view("-._~+/").find(token[i]) !=
                                                       absl::string_view::npos)) {
    ++i;
  }
  if (i == 0) return false;
  while (i < token.size() && token[i] == '=') ++i;
  return i == token.size();
}

bool IsValidTenant(absl::string_view tenant) {
  if (tenant.empty() || tenant.size() > kMaxTenantLength) return false;
  for (char c : tenant) {
    if (!IsAlnum(c) && c != '-' && c != '.' && c != '_') return false;
  }
  return true;
}

}  // namespace

bool ConstantTimeEquals(absl::string_view a, absl::string_view secret) {
  if (secret.empty()) return a.empty();
  // Reads secret cyclically so the loop runs a.size() times whatever
  // secret's length; the length difference is folded into the result.
  unsigned diff = a.size() == secret.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(secret[i % secret.size()]);
  }
  return diff == 0;
}

absl::StatusOr<TokenAuthenticator> TokenAuthenticator::FromText(absl::string_view text,
                                                                absl::string_view source) {
  std::vector<Entry> entries;
  std::unordered_map<std::string, int> line_of_token;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    std::vector<absl::string_view> fields;
    for (absl::string_view field : absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty())) {
      if (absl::StartsWith(field, "#")) break;  // a comment runs to the end of the line
      fields.push_back(field);
    }
    if (fields.empty()) continue;
    const std::string where = absl::StrCat(source, ":", line_number);
    if (fields.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": expected \"TOKEN TENANT\" (two fields), found ", fields.size(), " field",
          fields.size() == 1 ? "" : "s"));
    }
    const absl::string_view token = fields[0];
    const absl::string_view tenant = fields[1];
    if (token.size() < kMinTokenLength || token.size() > kMaxTokenLength || !IsValidToken(token)) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": the token must be ", kMinTokenLength, " to ", kMaxTokenLength,
          " characters of A-Z a-z 0-9 - . _ ~ + / with optional trailing '=' (it has ",
          token.size(), " characters); e.g. make one with: openssl rand -base64 24"));
    }
    if (!IsValidTenant(tenant)) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": tenant \"", tenant, "\" must be 1 to ", kMaxTenantLength,
          " characters of A-Z a-z 0-9 - . _"));
    }
    const auto [it, inserted] = line_of_token.emplace(std::string(token), line_number);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": duplicate token (first on line ", it->second,
          "); each token must map to exactly one tenant"));
    }
    entries.push_back(Entry{std::string(token), std::string(tenant)});
  }
  if (entries.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": no tokens; add lines \"TOKEN TENANT\" (with no tokens every call would be "
                "refused)"));
  }
  return TokenAuthenticator(std::move(entries));
}

absl::StatusOr<TokenAuthenticator> TokenAuthenticator::FromFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    const int error = errno;
    const std::string message = absl::StrCat(path, ": cannot read the token file: ", strerror(error));
    if (error == EACCES) return absl::PermissionDeniedError(message);
    return absl::NotFoundError(message);
  }
  std::stringstream contents;
  contents << file.rdbuf();
  return FromText(contents.str(), path);
}

absl::StatusOr<std::string> TokenAuthenticator::Authenticate(
    absl::Span<const absl::string_view> authorization_values) const {
  if (authorization_values.empty()) {
    return absl::UnauthenticatedError(absl::StrCat("no credentials: ", kHowToSend));
  }
  if (authorization_values.size() > 1) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the call carries ", authorization_values.size(),
        " \"authorization\" metadata values; send exactly one"));
  }
  absl::string_view value = absl::StripAsciiWhitespace(authorization_values[0]);
  constexpr absl::string_view kScheme = "bearer ";
  if (value.size() < kScheme.size() ||
      !absl::EqualsIgnoreCase(value.substr(0, kScheme.size()), kScheme)) {
    return absl::UnauthenticatedError(
        absl::StrCat("the \"authorization\" metadata is not a Bearer token: ", kHowToSend));
  }
  const absl::string_view token = absl::StripLeadingAsciiWhitespace(value.substr(kScheme.size()));
  // Every entry is compared, with no early exit, so that the time taken
  // depends only on the number of tokens and the presented token's length.
  const Entry* match = nullptr;
  for (const Entry& entry : entries_) {
    const bool equal = ConstantTimeEquals(token, entry.token);
    if (equal) match = &entry;
  }
  if (match == nullptr) {
    return absl::UnauthenticatedError(absl::StrCat("the bearer token is not valid: ", kHowToSend));
  }
  return match->tenant;
}

}  // namespace ccs::server
