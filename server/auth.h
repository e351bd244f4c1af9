// Bearer-token authentication: a token file maps each token to a tenant, and
// every call's "authorization: Bearer <token>" metadata is mapped to its
// tenant.
//
// The token file (--auth_token_file) has one `TOKEN TENANT` pair per line,
// separated by spaces or tabs. A '#' at the start of a field starts a comment
// that runs to the end of the line; blank lines are ignored:
//
//   # token                            tenant
//   3q2+7w-9Yb0cR1xLk8aP4s2mN6vT0uJ   acme
//   Zx81pL0aQ9wE7rT5yU3iO1pA8sD6fG4h   globex   # rotated 2024-05
//
// Tokens are 16 to 512 characters of the RFC 6750 token alphabet
// (A-Z a-z 0-9 - . _ ~ + / and trailing =); tenants are 1 to 64 characters
// of A-Z a-z 0-9 - . _ ; a token may appear once. Several tokens may share a
// tenant (for rotation).
//
//   absl::StatusOr<TokenAuthenticator> auth =
//       TokenAuthenticator::FromFile("/etc/ccs/tokens");
//   absl::StatusOr<std::string> tenant = auth->Authenticate({header_value});
//
// Thread-safety: a TokenAuthenticator is immutable after construction;
// Authenticate may be called from any thread.
#ifndef CCS_SERVER_AUTH_H_
#define CCS_SERVER_AUTH_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace ccs::server {

class TokenAuthenticator {
 public:
  // FromFile reads and checks a token file. INVALID_ARGUMENT naming the file
  // and line for a malformed line, a duplicate token or a file without
  // tokens; NOT_FOUND or PERMISSION_DENIED if it cannot be read.
  static absl::StatusOr<TokenAuthenticator> FromFile(const std::string& path);
  // FromText parses the file's contents; `source` names it in messages.
  static absl::StatusOr<TokenAuthenticator> FromText(absl::string_view text,
                                                     absl::string_view source);

  // Authenticate maps the values of a call's "authorization" metadata to the
  // token's tenant. UNAUTHENTICATED, with a message saying what to send,
  // when there is no value, more than one, a scheme other than Bearer, or a
  // token not in the file. Every known token is compared in constant time,
  // so the time taken does not reveal how much of a token matched.
  absl::StatusOr<std::string> Authenticate(
      absl::Span<const absl::string_view> authorization_values) const;

  int token_count() const { return static_cast<int>(entries_.size()); }

 private:
  struct Entry {
    std::string token;
    std::string tenant;
  };
  explicit TokenAuthenticator(std::vector<Entry> entries) : entries_(std::move(entries)) {}

  std::vector<Entry> entries_;
};

// ConstantTimeEquals compares `a` with `secret` in time that depends only on
// a.size(), not on where they differ nor on secret.size(). Exposed for tests.
bool ConstantTimeEquals(absl::string_view a, absl::string_view secret);

}  // namespace ccs::server

#endif  // CCS_SERVER_AUTH_H_
