// Exit codes of the command-line tools (ccs, ccs_load): what kind of failure,
// so that a script can tell "fix the request" from "try again later".
//
//   0  ok
//   1  local error: input or output file unreadable or unwritable
//   2  usage error: bad command line
//   3  request rejected: INVALID_ARGUMENT, FAILED_PRECONDITION,
//      OUT_OF_RANGE, UNIMPLEMENTED, ALREADY_EXISTS: change the request
//   4  try again later: UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED,
//      CANCELLED, ABORTED
//   5  server error: INTERNAL, UNKNOWN, DATA_LOSS
//   6  not found: NOT_FOUND (unknown, expired or deleted session; unknown
//      model)
//   7  not allowed: UNAUTHENTICATED, PERMISSION_DENIED
#ifndef CCS_CLIENT_EXIT_CODES_H_
#define CCS_CLIENT_EXIT_CODES_H_

#include "absl/status/status.h"

namespace ccs::client {

enum ExitCode {
  kExitOk = 0,
  kExitLocalError = 1,
  kExitUsage = 2,
  kExitRejected = 3,
  kExitTryLater = 4,
  kExitServerError = 5,
  kExitNotFound = 6,
  kExitNotAllowed = 7,
};

// ExitCodeFor: the exit code for a call that ended with `code`.
ExitCode ExitCodeFor(absl::StatusCode code);

// The table above, for --help texts.
extern const char kExitCodeHelp[];

}  // namespace ccs::client

#endif  // CCS_CLIENT_EXIT_CODES_H_
