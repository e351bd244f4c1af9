// Request validation: the first thing every RPC handler does. Each function
// checks one request against the contract in proto/ccs/v1/
// context_compression.proto and the server's limits, and returns
// INVALID_ARGUMENT with a message that names the field, what was wrong and
// what is allowed. Checks that need a model (token counts after
// tokenization, vocabulary range, known model names) happen later, in the
// engine; these are the ones that need nothing but the request.
//
//   absl::Status status = ValidateCompressRequest(request, limits);
//   if (!status.ok()) return Finish(ToGrpcStatus(status));
//
// Stateless; thread-safe.
#ifndef CCS_SERVER_VALIDATION_H_
#define CCS_SERVER_VALIDATION_H_

#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "ccs/v1/context_compression.pb.h"

namespace ccs::server {

// Limits on requests, set from the server's flags.
struct RequestLimits {
  // Tokens of context per Compress call (or per inline Generate context).
  int max_context_tokens = 131072;
  // Tokens of context one session may hold, appends included.
  int64_t max_session_tokens = int64_t{1} << 20;
  // Tokens of a Generate prompt.
  int max_prompt_tokens = 4096;
  // Tokens one Generate or Reconstruct call may produce.
  int max_new_tokens = 2048;
};

// Session ids are 128 random bits written as 32 lowercase hex digits.
constexpr int kSessionIdLength = 32;

// ValidateSessionId checks the syntax of a session id. `field` names the
// request field in the message.
absl::Status ValidateSessionId(absl::string_view id, absl::string_view field);

absl::Status ValidateCompressRequest(const v1::CompressRequest& request,
                                     const RequestLimits& limits);
absl::Status ValidateGenerateRequest(const v1::GenerateRequest& request,
                                     const RequestLimits& limits);
absl::Status ValidateReconstructRequest(const v1::ReconstructRequest& request,
                                        const RequestLimits& limits);
absl::Status ValidateGetSessionRequest(const v1::GetSessionRequest& request);
absl::Status ValidateListSessionsRequest(
    const v1::ListSessionsRequest& request);
absl::Status ValidateDeleteSessionRequest(
    const v1::DeleteSessionRequest& request);

}  // namespace ccs::server

#endif  // CCS_SERVER_VALIDATION_H_
