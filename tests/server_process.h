// Starts the real ccs_server binary on a free loopback port for a test, and
// stops it. The binary is found in the test's runfiles.
//
//   absl::StatusOr<std::unique_ptr<ServerProcess>> server =
//       ServerProcess::Start({"--max_new_tokens=64"});
//   ... connect to (*server)->address() ...
//   int exit_code = (*server)->Stop(SIGTERM);
//
// Not thread-safe; one owner.
#ifndef CCS_TESTS_SERVER_PROCESS_H_
#define CCS_TESTS_SERVER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ccs::testing {

class ServerProcess {
 public:
  // Starts ccs_server with --listen=127.0.0.1:0, a scratch --data_dir, the
  // given extra flags, and waits (up to `startup`) until it writes its port.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      const std::vector<std::string>& extra_flags,
      absl::Duration startup = absl::Seconds(60));

  ~ServerProcess();  // Kills the process if Stop was not called.
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  std::string address() const;
  const std::string& log_path() const { return log_path_; }

  // Sends `signal`, waits for exit, and returns the exit status (128 + n if
  // killed by signal n), or -1 if it had not exited within `timeout` (it is
  // then killed).
  int Stop(int signal, absl::Duration timeout = absl::Seconds(30));

 private:
  ServerProcess(pid_t pid, int port, std::string log_path)
      : pid_(pid), port_(port), log_path_(std::move(log_path)) {}

  pid_t pid_;
  const int port_;
  const std::string log_path_;
};

// Path of a file in the test's runfiles, e.g. "server/ccs_server".
std::string RunfilePath(const std::string& workspace_relative);

// Runs a shell command; returns its exit status and captures stdout.
int RunCommand(const std::string& command, std::string* output);

// A loopback port that was free a moment ago (the kernel hands out ephemeral
// ports in turn, so it stays free long enough for a server to bind it), or 0.
int FreePort();

// The value of the sample `series` (name and labels exactly as rendered) in
// a Prometheus /metrics scrape, or 0 if absent; a malformed value fails the
// calling test (EXPECT) and reads 0.
double Sample(const std::string& scrape, const std::string& series);

}  // namespace ccs::testing

#endif  // CCS_TESTS_SERVER_PROCESS_H_
