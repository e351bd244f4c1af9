#include "client/client.h"

#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "ccs/v1/context_compression.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace ccs::client {
namespace {

using grpc::health::v1::Health;
using grpc::reflection::v1alpha::ServerReflection;

// Where the request id travels inside an absl::Status.
constexpr char kRequestIdPayload[] = "type.ccs/request-id";

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
  absl::Status converted(static_cast<absl::StatusCode>(status.error_code()),
                         message);
  if (!id.empty()) converted.SetPayload(kRequestIdPayload, absl::Cord(id));
  return converted;
}

// Collects a whole stream.
template <typename Response>
struct Collector {
  void operator()(const Response& message) {
    completion.text += message.text();
    completion.token_ids.insert(completion.token_ids.end(),
                                message.token_ids().begin(),
                                message.token_ids().end());
  }
  Completion<Response> completion;
};

}  // namespace

std::string RequestIdOf(const absl::Status& status) {
  const absl::optional<absl::Cord> id = status.GetPayload(kRequestIdPayload);
  return id.has_value() ? std::string(*id) : "";
}

class Client::Impl {
 public:
  Impl(const ClientOptions& options, std::shared_ptr<grpc::Channel> channel)
      : options_(options),
        stub_(v1::ContextCompression::NewStub(channel)),
        health_(Health::NewStub(channel)),
        reflection_(ServerReflection::NewStub(channel)) {}

  Health::Stub& health() { return *health_; }
  ServerReflection::Stub& reflection() { return *reflection_; }

  // Runs `attempt(context, &delivered_output)` under the retry rules, each
  // try with a fresh context carrying the call's deadline and credentials.
  template <typename Attempt>
  absl::Status Call(const CallOptions& call, Attempt attempt) {
    const absl::Duration timeout =
        call.timeout > absl::ZeroDuration() ? call.timeout : options_.timeout;
    const absl::Time deadline = absl::Now() + timeout;
    return CallWithRetries(
        options_.retry, deadline, environment_,
        [&](int, bool* delivered_output) {
          grpc::ClientContext context;
          context.set_deadline(absl::ToChronoTime(deadline));
          if (!options_.bearer_token.empty()) {
            context.AddMetadata("authorization",
                                "Bearer " + options_.bearer_token);
          }
          const grpc::Status wire = attempt(&context, delivered_output);
          return FromGrpc(wire, RequestIdOf(context));
        });
  }

  template <typename Request, typename Response>
  absl::StatusOr<Response> Unary(
      grpc::Status (v1::ContextCompression::Stub::*method)(
          grpc::ClientContext*, const Request&, Response*),
      const Request& request, const CallOptions& call) {
    Response response;
    absl::Status status =
        Call(call, [&](grpc::ClientContext* context, bool*) {
          return (stub_.get()->*method)(context, request, &response);
        });
    if (!status.ok()) return status;
    return response;
  }

  template <typename Request, typename Response>
  absl::StatusOr<Response> Stream(
      std::unique_ptr<grpc::ClientReader<Response>> (
          v1::ContextCompression::Stub::*method)(grpc::ClientContext*,
                                                 const Request&),
      const Request& request, const OnMessage<Response>& on_message,
      const CallOptions& call) {
    Response last;
    absl::Status status = Call(
        call, [&](grpc::ClientContext* context, bool* delivered_output) {
          std::unique_ptr<grpc::ClientReader<Response>> reader =
              (stub_.get()->*method)(context, request);
          Response message;
          while (reader->Read(&message)) {
            *delivered_output = true;  // the caller has seen output
            on_message(message);
            last = std::move(message);
            message.Clear();
          }
          return reader->Finish();
        });
    if (!status.ok()) return status;
    return last;
  }

 private:
  const ClientOptions options_;
  const std::unique_ptr<v1::ContextCompression::Stub> stub_;
  const std::unique_ptr<Health::Stub> health_;
  const std::unique_ptr<ServerReflection::Stub> reflection_;
  RealRetryEnvironment environment_;
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

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
  return std::unique_ptr<Client>(new Client(std::make_unique<Impl>(
      options,
      grpc::CreateCustomChannel(options.target, credentials, arguments))));
}

absl::StatusOr<std::string> Client::Health(const std::string& service,
                                           const CallOptions& call) {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  absl::Status status =
      impl_->Call(call, [&](grpc::ClientContext* context, bool*) {
        return impl_->health().Check(context, request, &response);
      });
  if (!status.ok()) return status;
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
      response.status());
}

absl::StatusOr<std::vector<std::string>> Client::ListServices(
    const CallOptions& call) {
  std::vector<std::string> names;
  absl::Status status =
      impl_->Call(call, [&](grpc::ClientContext* context, bool*) {
        names.clear();
        auto stream = impl_->reflection().ServerReflectionInfo(context);
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

absl::StatusOr<v1::CompressResponse> Client::Compress(
    const v1::CompressRequest& request, const CallOptions& call) {
  return impl_->Unary(&v1::ContextCompression::Stub::Compress, request, call);
}

absl::StatusOr<v1::GenerateResponse> Client::Generate(
    const v1::GenerateRequest& request,
    const OnMessage<v1::GenerateResponse>& on_message,
    const CallOptions& call) {
  return impl_->Stream(&v1::ContextCompression::Stub::Generate, request,
                       on_message, call);
}

absl::StatusOr<Completion<v1::GenerateResponse>> Client::GenerateText(
    const v1::GenerateRequest& request, const CallOptions& call) {
  Collector<v1::GenerateResponse> collector;
  absl::StatusOr<v1::GenerateResponse> last = Generate(
      request, [&](const v1::GenerateResponse& m) { collector(m); }, call);
  if (!last.ok()) return last.status();
  collector.completion.last = *std::move(last);
  return std::move(collector.completion);
}

absl::StatusOr<v1::ReconstructResponse> Client::Reconstruct(
    const v1::ReconstructRequest& request,
    const OnMessage<v1::ReconstructResponse>& on_message,
    const CallOptions& call) {
  return impl_->Stream(&v1::ContextCompression::Stub::Reconstruct, request,
                       on_message, call);
}

absl::StatusOr<Completion<v1::ReconstructResponse>> Client::ReconstructText(
    const v1::ReconstructRequest& request, const CallOptions& call) {
  Collector<v1::ReconstructResponse> collector;
  absl::StatusOr<v1::ReconstructResponse> last = Reconstruct(
      request, [&](const v1::ReconstructResponse& m) { collector(m); }, call);
  if (!last.ok()) return last.status();
  collector.completion.last = *std::move(last);
  return std::move(collector.completion);
}

absl::StatusOr<v1::Session> Client::GetSession(
    const v1::GetSessionRequest& request, const CallOptions& call) {
  return impl_->Unary(&v1::ContextCompression::Stub::GetSession, request,
                      call);
}

absl::StatusOr<v1::ListSessionsResponse> Client::ListSessions(
    const v1::ListSessionsRequest& request, const CallOptions& call) {
  return impl_->Unary(&v1::ContextCompression::Stub::ListSessions, request,
                      call);
}

absl::StatusOr<v1::DeleteSessionResponse> Client::DeleteSession(
    const v1::DeleteSessionRequest& request, const CallOptions& call) {
  return impl_->Unary(&v1::ContextCompression::Stub::DeleteSession, request,
                      call);
}

absl::StatusOr<v1::ListModelsResponse> Client::ListModels(
    const CallOptions& call) {
  return impl_->Unary(&v1::ContextCompression::Stub::ListModels,
                      v1::ListModelsRequest(), call);
}

}  // namespace ccs::client
