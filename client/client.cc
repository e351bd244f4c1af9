#include "client/client.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "ccs/v1/context_compression.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace ccs::client {
namespace {

using grpc::health::v1::Health;
using grpc::reflection::v1alpha::ServerReflection;

// The server's request id for a finished call, or "" if it sent none.
std::string RequestIdOf(const grpc::ClientContext& context) {
  const auto& metadata = context.GetServerInitialMetadata();
  const auto it = metadata.find("x-request-id");
  if (it == metadata.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

absl::Status FromGrpc(const grpc::Status& status, const std::string& id) {
  if (status.ok()) return absl::OkStatus();
  std::string message = status.error_message();
  if (!id.empty()) absl::StrAppend(&message, " [request id ", id, "]");
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      message);
}

class GrpcClient final : public Client {
 public:
  GrpcClient(const ClientOptions& options,
             std::shared_ptr<grpc::Channel> channel)
      : options_(options),
        stub_(v1::ContextCompression::NewStub(channel)),
        health_(Health::NewStub(channel)),
        reflection_(ServerReflection::NewStub(channel)) {}

  absl::StatusOr<std::string> Health(const std::string& service) override {
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    absl::Status status = Unary([&](grpc::ClientContext* context) {
      return health_->Check(context, request, &response);
    });
    if (!status.ok()) return status;
    return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
        response.status());
  }

  absl::StatusOr<std::vector<std::string>> ListServices() override {
    std::vector<std::string> names;
    absl::Status status = Call([&](grpc::ClientContext* context, bool*) {
      names.clear();
      auto stream = reflection_->ServerReflectionInfo(context);
      grpc::reflection::v1alpha::ServerReflectionRequest request;
      request.set_list_services("*");
      stream->Write(request);
      stream->WritesDone();
      grpc::reflection::v1alpha::ServerReflectionResponse response;
      while (stream->Read(&response)) {
        for (const auto& service :
             response.list_services_response().service()) {
          names.push_back(service.name());
        }
      }
      return stream->Finish();
    });
    if (!status.ok()) return status;
    return names;
  }

  absl::StatusOr<v1::CompressResponse> Compress(
      const v1::CompressRequest& request) override {
    return UnaryCall(&v1::ContextCompression::Stub::Compress, request);
  }

  absl::StatusOr<v1::GenerateResponse> Generate(
      const v1::GenerateRequest& request,
      const OnMessage<v1::GenerateResponse>& on_message) override {
    return StreamCall(&v1::ContextCompression::Stub::Generate, request,
                      on_message);
  }

  absl::StatusOr<v1::ReconstructResponse> Reconstruct(
      const v1::ReconstructRequest& request,
      const OnMessage<v1::ReconstructResponse>& on_message) override {
    return StreamCall(&v1::ContextCompression::Stub::Reconstruct, request,
                      on_message);
  }

  absl::StatusOr<v1::Session> GetSession(
      const v1::GetSessionRequest& request) override {
    return UnaryCall(&v1::ContextCompression::Stub::GetSession, request);
  }

  absl::StatusOr<v1::ListSessionsResponse> ListSessions(
      const v1::ListSessionsRequest& request) override {
    return UnaryCall(&v1::ContextCompression::Stub::ListSessions, request);
  }

  absl::StatusOr<v1::DeleteSessionResponse> DeleteSession(
      const v1::DeleteSessionRequest& request) override {
    return UnaryCall(&v1::ContextCompression::Stub::DeleteSession, request);
  }

  absl::StatusOr<v1::ListModelsResponse> ListModels() override {
    return UnaryCall(&v1::ContextCompression::Stub::ListModels,
                     v1::ListModelsRequest());
  }

 private:
  // Runs `attempt(context, &retry_allowed)` until it succeeds, fails with a
  // code that is not retryable, clears retry_allowed (a stream that already
  // delivered messages), runs out of attempts, or the deadline would pass
  // during the backoff.
  template <typename Attempt>
  absl::Status Call(Attempt attempt) {
    const absl::Time deadline = absl::Now() + options_.timeout;
    for (int number = 1;; ++number) {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(deadline));
      if (!options_.bearer_token.empty()) {
        context.AddMetadata("authorization",
                            "Bearer " + options_.bearer_token);
      }
      bool retry_allowed = true;
      const grpc::Status wire = attempt(&context, &retry_allowed);
      absl::Status status = FromGrpc(wire, RequestIdOf(context));
      if (status.ok() || !retry_allowed || !IsRetryable(status.code()) ||
          number >= options_.retry.max_attempts) {
        return status;
      }
      const absl::Duration backoff =
          BackoffBeforeRetry(options_.retry, number, UnitRandom());
      if (absl::Now() + backoff >= deadline) return status;
      absl::SleepFor(backoff);
    }
  }

  template <typename Attempt>
  absl::Status Unary(Attempt attempt) {
    return Call([&](grpc::ClientContext* context, bool*) {
      return attempt(context);
    });
  }

  template <typename Request, typename Response>
  absl::StatusOr<Response> UnaryCall(
      grpc::Status (v1::ContextCompression::Stub::*method)(
          grpc::ClientContext*, const Request&, Response*),
      const Request& request) {
    Response response;
    absl::Status status = Unary([&](grpc::ClientContext* context) {
      return (stub_.get()->*method)(context, request, &response);
    });
    if (!status.ok()) return status;
    return response;
  }

  template <typename Request, typename Response>
  absl::StatusOr<Response> StreamCall(
      std::unique_ptr<grpc::ClientReader<Response>> (
          v1::ContextCompression::Stub::*method)(grpc::ClientContext*,
                                                 const Request&),
      const Request& request, const OnMessage<Response>& on_message) {
    Response last;
    absl::Status status =
        Call([&](grpc::ClientContext* context, bool* retry_allowed) {
          std::unique_ptr<grpc::ClientReader<Response>> reader =
              (stub_.get()->*method)(context, request);
          Response message;
          while (reader->Read(&message)) {
            *retry_allowed = false;  // the caller has seen output
            on_message(message);
            last = message;
          }
          return reader->Finish();
        });
    if (!status.ok()) return status;
    return last;
  }

  double UnitRandom() {
    absl::MutexLock lock(&random_mutex_);
    return absl::Uniform(random_, 0.0, 1.0);
  }

  const ClientOptions options_;
  const std::unique_ptr<v1::ContextCompression::Stub> stub_;
  const std::unique_ptr<Health::Stub> health_;
  const std::unique_ptr<ServerReflection::Stub> reflection_;
  absl::Mutex random_mutex_;
  absl::BitGen random_ ABSL_GUARDED_BY(random_mutex_);
};

}  // namespace

bool IsRetryable(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable ||
         code == absl::StatusCode::kResourceExhausted;
}

absl::Duration BackoffBeforeRetry(const RetryPolicy& policy, int retry,
                                  double unit_random) {
  const double growth = std::pow(policy.multiplier, std::max(0, retry - 1));
  const absl::Duration ceiling =
      std::min(policy.max_backoff, policy.initial_backoff * growth);
  return ceiling * std::clamp(unit_random, 0.0, 1.0);
}

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(
    const ClientOptions& options) {
  if (options.target.empty()) {
    return absl::InvalidArgumentError("target is empty: use host:port");
  }
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeout must be positive");
  }
  if (options.retry.max_attempts < 1 || options.retry.multiplier < 1.0) {
    return absl::InvalidArgumentError(
        "retry.max_attempts must be at least 1 and retry.multiplier at "
        "least 1.0");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.use_tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.root_certs_pem;
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  return std::unique_ptr<Client>(new GrpcClient(
      options,
      grpc::CreateCustomChannel(options.target, credentials, arguments)));
}

}  // namespace ccs::client
