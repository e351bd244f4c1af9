#include "server/service.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "server/grpc_status.h"

namespace ccs::server {
namespace {

// The answer of an RPC whose engine is not part of this build.
absl::Status NotBuiltYet(absl::string_view rpc, absl::string_view missing) {
  return absl::UnimplementedError(absl::StrCat(
      rpc, " is not available in this server version: ", missing,
      " is not built yet (see README.md, \"Status\")"));
}

constexpr char kNoEngine[] = "the compression engine (RCC, IC-Former)";
constexpr char kNoSessionStore[] = "the session store";

// Finishes a unary call: logs it and completes the reactor.
grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context,
                                      const RequestLog& log,
                                      const absl::Status& status) {
  const grpc::Status wire = ToGrpcStatus(status);
  log.Finish(wire);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(wire);
  return reactor;
}

// A server-streaming reactor that ends the stream at once with a status.
template <typename Response>
class FinishedWriter final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit FinishedWriter(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

template <typename Response>
grpc::ServerWriteReactor<Response>* FinishStream(const RequestLog& log,
                                                 const absl::Status& status) {
  const grpc::Status wire = ToGrpcStatus(status);
  log.Finish(wire);
  return new FinishedWriter<Response>(wire);
}

}  // namespace

ContextCompressionService::ContextCompressionService(
    const RequestLimits& limits)
    : limits_(limits) {}

grpc::ServerUnaryReactor* ContextCompressionService::Compress(
    grpc::CallbackServerContext* context, const v1::CompressRequest* request,
    v1::CompressResponse* /*response*/) {
  const RequestLog log(request_ids_, "Compress", context);
  absl::Status status = ValidateCompressRequest(*request, limits_);
  if (status.ok()) status = NotBuiltYet("Compress", kNoEngine);
  return FinishUnary(context, log, status);
}

grpc::ServerWriteReactor<v1::GenerateResponse>*
ContextCompressionService::Generate(grpc::CallbackServerContext* context,
                                    const v1::GenerateRequest* request) {
  const RequestLog log(request_ids_, "Generate", context);
  absl::Status status = ValidateGenerateRequest(*request, limits_);
  if (status.ok()) status = NotBuiltYet("Generate", kNoEngine);
  return FinishStream<v1::GenerateResponse>(log, status);
}

grpc::ServerWriteReactor<v1::ReconstructResponse>*
ContextCompressionService::Reconstruct(grpc::CallbackServerContext* context,
                                       const v1::ReconstructRequest* request) {
  const RequestLog log(request_ids_, "Reconstruct", context);
  absl::Status status = ValidateReconstructRequest(*request, limits_);
  if (status.ok()) status = NotBuiltYet("Reconstruct", kNoEngine);
  return FinishStream<v1::ReconstructResponse>(log, status);
}

grpc::ServerUnaryReactor* ContextCompressionService::GetSession(
    grpc::CallbackServerContext* context, const v1::GetSessionRequest* request,
    v1::Session* /*response*/) {
  const RequestLog log(request_ids_, "GetSession", context);
  absl::Status status = ValidateGetSessionRequest(*request);
  if (status.ok()) status = NotBuiltYet("GetSession", kNoSessionStore);
  return FinishUnary(context, log, status);
}

grpc::ServerUnaryReactor* ContextCompressionService::ListSessions(
    grpc::CallbackServerContext* context,
    const v1::ListSessionsRequest* request,
    v1::ListSessionsResponse* /*response*/) {
  const RequestLog log(request_ids_, "ListSessions", context);
  absl::Status status = ValidateListSessionsRequest(*request);
  if (status.ok()) status = NotBuiltYet("ListSessions", kNoSessionStore);
  return FinishUnary(context, log, status);
}

grpc::ServerUnaryReactor* ContextCompressionService::DeleteSession(
    grpc::CallbackServerContext* context,
    const v1::DeleteSessionRequest* request,
    v1::DeleteSessionResponse* /*response*/) {
  const RequestLog log(request_ids_, "DeleteSession", context);
  absl::Status status = ValidateDeleteSessionRequest(*request);
  if (status.ok()) status = NotBuiltYet("DeleteSession", kNoSessionStore);
  return FinishUnary(context, log, status);
}

grpc::ServerUnaryReactor* ContextCompressionService::ListModels(
    grpc::CallbackServerContext* context,
    const v1::ListModelsRequest* /*request*/,
    v1::ListModelsResponse* /*response*/) {
  // No model loader is built yet: the list of loaded models is empty.
  const RequestLog log(request_ids_, "ListModels", context);
  return FinishUnary(context, log, absl::OkStatus());
}

}  // namespace ccs::server
