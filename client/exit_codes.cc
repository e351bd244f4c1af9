#include "client/exit_codes.h"

namespace ccs::client {

const char kExitCodeHelp[] =
    "Exit codes: 0 ok; 1 local error (a file unreadable or unwritable);\n"
    "2 usage error; 3 request rejected (INVALID_ARGUMENT,\n"
    "FAILED_PRECONDITION, OUT_OF_RANGE, UNIMPLEMENTED, ALREADY_EXISTS);\n"
    "4 try again later (UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED,\n"
    "CANCELLED, ABORTED); 5 server error (INTERNAL, UNKNOWN, DATA_LOSS);\n"
    "6 not found (NOT_FOUND); 7 not allowed (UNAUTHENTICATED,\n"
    "PERMISSION_DENIED).\n";

ExitCode ExitCodeFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kAborted:
      return kExitTryLater;
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
      return kExitServerError;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return kExitNotAllowed;
    default:  // INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE, ...
      return kExitRejected;
  }
}

}  // namespace ccs::client
