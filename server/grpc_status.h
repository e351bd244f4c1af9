// The one mapping from absl::Status (used everywhere inside the server) to
// grpc::Status (what goes on the wire). The codes are the same numbers in both
// libraries; the message passes through unchanged.
#ifndef CCS_SERVER_GRPC_STATUS_H_
#define CCS_SERVER_GRPC_STATUS_H_

#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace ccs::server {

grpc::Status ToGrpcStatus(const absl::Status& status);

// Upper-case canonical name of a gRPC code, e.g. "INVALID_ARGUMENT", for logs.
const char* GrpcCodeName(grpc::StatusCode code);

}  // namespace ccs::server

#endif  // CCS_SERVER_GRPC_STATUS_H_
