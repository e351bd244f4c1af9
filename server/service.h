// The gRPC front end of ccs.v1.ContextCompression (callback API). Handlers
// only convert and validate: each checks its request (validation.h), then
// hands the work to the engine and returns without blocking. Model work never
// runs on gRPC's threads.
//
// Engine status in this version: no compression engine or session store is
// built in yet, so after validation Compress, Generate, Reconstruct and the
// session RPCs answer UNIMPLEMENTED with a message naming what is missing;
// ListModels lists the models loaded, which is none.
//
// Thread-safety: one instance serves all calls concurrently.
#ifndef CCS_SERVER_SERVICE_H_
#define CCS_SERVER_SERVICE_H_

#include "ccs/v1/context_compression.grpc.pb.h"
#include "server/request_log.h"
#include "server/validation.h"

namespace ccs::server {

class ContextCompressionService final
    : public v1::ContextCompression::CallbackService {
 public:
  explicit ContextCompressionService(const RequestLimits& limits);

  grpc::ServerUnaryReactor* Compress(grpc::CallbackServerContext* context,
                                     const v1::CompressRequest* request,
                                     v1::CompressResponse* response) override;
  grpc::ServerWriteReactor<v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext* context,
      const v1::GenerateRequest* request) override;
  grpc::ServerWriteReactor<v1::ReconstructResponse>* Reconstruct(
      grpc::CallbackServerContext* context,
      const v1::ReconstructRequest* request) override;
  grpc::ServerUnaryReactor* GetSession(grpc::CallbackServerContext* context,
                                       const v1::GetSessionRequest* request,
                                       v1::Session* response) override;
  grpc::ServerUnaryReactor* ListSessions(
      grpc::CallbackServerContext* context,
      const v1::ListSessionsRequest* request,
      v1::ListSessionsResponse* response) override;
  grpc::ServerUnaryReactor* DeleteSession(
      grpc::CallbackServerContext* context,
      const v1::DeleteSessionRequest* request,
      v1::DeleteSessionResponse* response) override;
  grpc::ServerUnaryReactor* ListModels(
      grpc::CallbackServerContext* context,
      const v1::ListModelsRequest* request,
      v1::ListModelsResponse* response) override;

 private:
  const RequestLimits limits_;
  RequestIdSource request_ids_;
};

}  // namespace ccs::server

#endif  // CCS_SERVER_SERVICE_H_
