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
//   ccs::v1::GenerateRequest question;  // session_id, prompt, sampling
//   (*client)->Generate(question, [](const ccs::v1::GenerateResponse& m) {
//     std::cout << m.text() << std::flush;  // each piece as it is decoded
//   });
//
// Every RPC has a synchronous call. Generate and Reconstruct stream: their
// streaming call passes each message to a callback as it arrives and returns
// the last one (finish reason and usage); GenerateText / ReconstructText
// wait for the whole stream and return it in one piece.
//
// Errors: one error type, absl::Status (inside absl::StatusOr<T>). Its code
// is the gRPC code (absl and gRPC share the numbering: INVALID_ARGUMENT,
// NOT_FOUND, UNAVAILABLE, ...), its message the server's, followed by
// "[request id ID]" when the server assigned one (the same id is in the
// server's log line); RequestIdOf(status) returns that id alone. Errors made
// on the client side carry codes too: DEADLINE_EXCEEDED when the call's
// deadline passed, UNAVAILABLE when the server cannot be reached.
//
// Deadlines: each call has one (ClientOptions::timeout, or
// CallOptions::timeout for one call); it covers the call's retries.
//
// Retries (client/retry.h): on UNAVAILABLE and RESOURCE_EXHAUSTED only, never
// on INVALID_ARGUMENT or any other code, with exponential backoff and full
// jitter, within the call's deadline. A stream that has passed a message to
// the callback is never retried.
//
// Thread-safety: a Client may be used from many threads at once; calls share
// one channel (HTTP/2 connection).
#ifndef CCS_CLIENT_CLIENT_H_
#define CCS_CLIENT_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ccs/v1/context_compression.pb.h"
#include "client/retry.h"

namespace ccs::client {

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

// Settings of one call; the defaults take the client's.
struct CallOptions {
  // Deadline of this call, retries included; zero means
  // ClientOptions::timeout.
  absl::Duration timeout = absl::ZeroDuration();
};

// A whole Generate or Reconstruct stream.
template <typename Response>
struct Completion {
  // Every message's text, concatenated: the answer.
  std::string text;
  std::vector<int32_t> token_ids;
  // The last message: finish reason and usage.
  Response last;
};

// RequestIdOf: the request id the server gave the call that failed with
// `status`, or "" when it gave none.
std::string RequestIdOf(const absl::Status& status);

class Client {
 public:
  // Called for each message of a stream, in order, on the calling thread.
  template <typename Response>
  using OnMessage = std::function<void(const Response&)>;

  // Creates the channel; does not wait for the server (the first call
  // does). Errors: INVALID_ARGUMENT for bad options.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(
      const ClientOptions& options);

  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // grpc.health.v1: "SERVING", "NOT_SERVING", ... for `service` ("" is the
  // whole server).
  absl::StatusOr<std::string> Health(const std::string& service,
                                     const CallOptions& call = {});

  // Full names of the services the server lists through reflection.
  absl::StatusOr<std::vector<std::string>> ListServices(
      const CallOptions& call = {});

  absl::StatusOr<v1::CompressResponse> Compress(
      const v1::CompressRequest& request, const CallOptions& call = {});

  // Streams every message to `on_message`; returns the last one (which
  // carries the finish reason and usage).
  absl::StatusOr<v1::GenerateResponse> Generate(
      const v1::GenerateRequest& request,
      const OnMessage<v1::GenerateResponse>& on_message,
      const CallOptions& call = {});
  absl::StatusOr<Completion<v1::GenerateResponse>> GenerateText(
      const v1::GenerateRequest& request, const CallOptions& call = {});

  absl::StatusOr<v1::ReconstructResponse> Reconstruct(
      const v1::ReconstructRequest& request,
      const OnMessage<v1::ReconstructResponse>& on_message,
      const CallOptions& call = {});
  absl::StatusOr<Completion<v1::ReconstructResponse>> ReconstructText(
      const v1::ReconstructRequest& request, const CallOptions& call = {});

  absl::StatusOr<v1::Session> GetSession(const v1::GetSessionRequest& request,
                                         const CallOptions& call = {});
  absl::StatusOr<v1::ListSessionsResponse> ListSessions(
      const v1::ListSessionsRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::DeleteSessionResponse> DeleteSession(
      const v1::DeleteSessionRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::ListModelsResponse> ListModels(
      const CallOptions& call = {});

 private:
  class Impl;
  explicit Client(std::unique_ptr<Impl> impl);

  const std::unique_ptr<Impl> impl_;
};

}  // namespace ccs::client

#endif  // CCS_CLIENT_CLIENT_H_
