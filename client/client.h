// A C++ client for ccs.v1.ContextCompression.
//
//   ccs::client::ClientOptions options;
//   options.target = "localhost:50051";
//   absl::StatusOr<std::unique_ptr<ccs::client::Client>> client =
//       ccs::client::Client::Connect(options);
//   ccs::v1::CompressRequest request;
//   request.set_text(long_document);
//   absl::StatusOr<ccs::v1::CompressResponse> reply = (*client)->Compress(request);
//   if (!reply.ok()) { ... reply.status().code() is the gRPC code ... }
//
// Errors: every call returns absl::Status carrying the server's gRPC code
// (absl and gRPC share the numbering) and its message, followed by the
// request id the server assigned, when there was one.
//
// Retries: unary calls, and streaming calls that have not yet received a
// message, are retried on UNAVAILABLE and RESOURCE_EXHAUSTED only (never on
// INVALID_ARGUMENT or any other code), with exponential backoff and full
// jitter, within the call's deadline.
//
// Thread-safety: a Client may be used from many threads at once.
#ifndef CCS_CLIENT_CLIENT_H_
#define CCS_CLIENT_CLIENT_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ccs/v1/context_compression.pb.h"

namespace ccs::client {

struct RetryPolicy {
  // Attempts in all, the first included; 1 disables retries.
  int max_attempts = 4;
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  double multiplier = 2.0;
};

struct ClientOptions {
  // host:port of the server.
  std::string target = "localhost:50051";
  // Deadline of each call, retries included.
  absl::Duration timeout = absl::Seconds(60);
  // TLS: when true, the channel uses TLS, verified against root_certs_pem
  // (PEM text; empty means the system's roots).
  bool use_tls = false;
  std::string root_certs_pem;
  // Sent as "authorization: Bearer <token>" when not empty.
  std::string bearer_token;
  RetryPolicy retry;
  // Largest message accepted from the server.
  int max_receive_message_bytes = 64 << 20;
};

// Whether a failed call may be retried under the rules above.
bool IsRetryable(absl::StatusCode code);

// Backoff before retry number `retry` (1-based): a uniformly random
// duration in [0, min(max_backoff, initial_backoff * multiplier^(retry-1))].
// `unit_random` is in [0, 1); passed in so that tests can pin it.
absl::Duration BackoffBeforeRetry(const RetryPolicy& policy, int retry,
                                  double unit_random);

class Client {
 public:
  // Called for each message of a stream, in order.
  template <typename Response>
  using OnMessage = std::function<void(const Response&)>;

  // Creates the channel; does not wait for the server. Errors:
  // INVALID_ARGUMENT for bad options.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(
      const ClientOptions& options);

  virtual ~Client() = default;

  // grpc.health.v1: "SERVING", "NOT_SERVING", ... for `service` ("" is the
  // whole server).
  virtual absl::StatusOr<std::string> Health(const std::string& service) = 0;

  // Full names of the services the server lists through reflection.
  virtual absl::StatusOr<std::vector<std::string>> ListServices() = 0;

  virtual absl::StatusOr<v1::CompressResponse> Compress(
      const v1::CompressRequest& request) = 0;
  // Streams every message to `on_message`; returns the last one (which
  // carries the finish reason and usage).
  virtual absl::StatusOr<v1::GenerateResponse> Generate(
      const v1::GenerateRequest& request,
      const OnMessage<v1::GenerateResponse>& on_message) = 0;
  virtual absl::StatusOr<v1::ReconstructResponse> Reconstruct(
      const v1::ReconstructRequest& request,
      const OnMessage<v1::ReconstructResponse>& on_message) = 0;
  virtual absl::StatusOr<v1::Session> GetSession(
      const v1::GetSessionRequest& request) = 0;
  virtual absl::StatusOr<v1::ListSessionsResponse> ListSessions(
      const v1::ListSessionsRequest& request) = 0;
  virtual absl::StatusOr<v1::DeleteSessionResponse> DeleteSession(
      const v1::DeleteSessionRequest& request) = 0;
  virtual absl::StatusOr<v1::ListModelsResponse> ListModels() = 0;
};

}  // namespace ccs::client

#endif  // CCS_CLIENT_CLIENT_H_
