// The gRPC front end of ccs.v1.ContextCompression (callback API). Handlers
// only convert and validate: each checks its request (validation.h), then
// hands the model work to the Scheduler and returns without blocking. A
// worker prepares the request (session, tokens, memory prefix) and either
// runs it or hands it to the compress batcher or the decode scheduler, which
// finish the call (unary) or stream it (Generate, Reconstruct). A request
// whose client cancelled, or whose deadline passed, while it waited is
// answered CANCELLED or DEADLINE_EXCEEDED without running the model.
//
// Sessions live in the SessionStore; model work goes through one
// model::Engine (the model loaded at start-up; none: every model RPC answers
// FAILED_PRECONDITION). Tenancy: with a TokenAuthenticator every call must
// carry a bearer token, which names its tenant (UNAUTHENTICATED otherwise);
// without one every caller is tenant "default". Each call is logged and
// counted in ServerMetrics (request_log.h).
//
// Thread-safety: one instance serves all calls concurrently.
#ifndef CCS_SERVER_SERVICE_H_
#define CCS_SERVER_SERVICE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ccs/v1/context_compression.grpc.pb.h"
#include "model/engine/engine.h"
#include "server/auth.h"
#include "server/request_log.h"
#include "server/server_metrics.h"
#include "server/session_store.h"
#include "server/validation.h"
#include "server/scheduler.h"

namespace ccs::server {

template <typename Response>
class StreamReactor;

class ContextCompressionService final : public v1::ContextCompression::CallbackService {
 public:
  // `engine` may be null (no model loaded), and `auth` (authentication
  // off); `store`, `scheduler` and `metrics` must not. All must outlive the
  // service.
  ContextCompressionService(const RequestLimits& limits, const model::Engine* engine,
                            SessionStore* store, Scheduler* scheduler,
                            const TokenAuthenticator* auth, ServerMetrics* metrics);

  grpc::ServerUnaryReactor* Compress(grpc::CallbackServerContext* context,
                                     const v1::CompressRequest* request,
                                     v1::CompressResponse* response) override;
  grpc::ServerWriteReactor<v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext* context, const v1::GenerateRequest* request) override;
  grpc::ServerWriteReactor<v1::ReconstructResponse>* Reconstruct(
      grpc::CallbackServerContext* context, const v1::ReconstructRequest* request) override;
  grpc::ServerUnaryReactor* GetSession(grpc::CallbackServerContext* context,
                                       const v1::GetSessionRequest* request,
                                       v1::Session* response) override;
  grpc::ServerUnaryReactor* ListSessions(grpc::CallbackServerContext* context,
                                         const v1::ListSessionsRequest* request,
                                         v1::ListSessionsResponse* response) override;
  grpc::ServerUnaryReactor* DeleteSession(grpc::CallbackServerContext* context,
                                          const v1::DeleteSessionRequest* request,
                                          v1::DeleteSessionResponse* response) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const v1::ListModelsRequest* request,
                                       v1::ListModelsResponse* response) override;

 private:
  // The tenant of a call: the one its bearer token maps to, or "default"
  // when authentication is off. UNAUTHENTICATED without a valid token.
  absl::StatusOr<std::string> TenantOf(const grpc::CallbackServerContext& context) const;
  absl::Status CheckModel(const std::string& model) const;
  // INVALID_ARGUMENT if `prompt` is longer than limits_.max_prompt_tokens.
  absl::Status CheckPromptLength(const std::string& prompt) const;
  // RESOURCE_EXHAUSTED if a session holding `held` tokens of context may not
  // take `added` more (limits_.max_session_tokens).
  absl::Status CheckSessionTokens(int64_t held, int64_t added) const;
  // ABORTED if `request` expects its session to hold a token count other
  // than `held` (CompressRequest.expected_session_tokens; 0 expects nothing).
  static absl::Status CheckExpectedTokens(const v1::CompressRequest& request, int64_t held);
  absl::StatusOr<model::Method> ResolveMethod(v1::Method requested, bool prefer_low_latency) const;
  // Tokenizes a Compress request's context and checks its length.
  absl::StatusOr<std::vector<int32_t>> ContextIds(const std::string& text,
                                                  const google::protobuf::RepeatedField<int32_t>& ids) const;
  // What a Compress call compresses: its method and context tokens, after
  // the session look-up (appends) and the limits are checked.
  struct CompressPlan {
    model::Method method = model::Method::kNone;
    std::vector<int32_t> ids;
  };
  absl::StatusOr<CompressPlan> PlanCompress(const std::string& tenant,
                                            const v1::CompressRequest& request) const;
  // Stores `added` (compressed from the plan) as a new session or appended
  // to the request's, and fills the response.
  absl::Status StoreCompressed(const std::string& tenant, const v1::CompressRequest& request,
                               model::Method method,
                               const std::shared_ptr<const model::Memory>& added,
                               v1::CompressResponse* response) const;
  // Runs a planned Compress call: alone (batching off) or through the
  // compress batcher; `finish` ends the call.
  void RunCompress(const std::string& tenant, CompressPlan plan,
                   grpc::CallbackServerContext* context, const v1::CompressRequest* request,
                   v1::CompressResponse* response, absl::Time queued,
                   std::function<void(const absl::Status&)> finish) const;
  template <typename Response>
  void RunGeneration(const std::string& tenant, model::GenerationJob job,
                     const std::string& session_id, std::vector<std::string> stops,
                     grpc::CallbackServerContext* context, StreamReactor<Response>* stream) const;

  const RequestLimits limits_;
  const model::Engine* const engine_;
  SessionStore* const store_;
  Scheduler* const scheduler_;
  const TokenAuthenticator* const auth_;
  ServerMetrics* const metrics_;
  RequestTracker requests_;
};

}  // namespace ccs::server

#endif  // CCS_SERVER_SERVICE_H_
