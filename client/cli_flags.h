// Strict command-line parsing for the tools (ccs, ccs_load) over Abseil
// flags. absl::ParseCommandLine exits the process with status 1 on an
// unknown flag or a bad value, which a script cannot tell from a failed
// request; this parser returns the problem instead, so that the tool exits
// with its usage code (2).
//
//   absl::StatusOr<std::vector<std::string>> positional =
//       ParseFlags(argc, argv);
//   if (!positional.ok()) { ... usage error: positional.status().message() }
//
// Accepted forms: --name=value, -name=value, --name value (non-boolean
// flags), --name and --noname (boolean flags); "--" ends the flags. Flags
// and positional arguments may be mixed. --help, --helpfull and --flagfile
// are not handled here (the tools answer --help themselves).
#ifndef CCS_CLIENT_CLI_FLAGS_H_
#define CCS_CLIENT_CLI_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ccs::client {

// ParseFlags: sets every flag given and returns the positional arguments
// (argv[0] excluded), in order. Errors: INVALID_ARGUMENT naming the flag.
absl::StatusOr<std::vector<std::string>> ParseFlags(int argc, char** argv);

}  // namespace ccs::client

#endif  // CCS_CLIENT_CLI_FLAGS_H_
