// ccs_server: the context-compression gRPC service.
//
//   ccs_server --listen=0.0.0.0:50051 --device=cpu --threads=2
//
// Stops on SIGTERM or SIGINT: health turns NOT_SERVING, new calls are
// refused, in-flight calls get --drain_seconds to finish, the rest are
// cancelled, and the process exits 0.
#include <signal.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "model/runtime.h"
#include "server/server.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50051",
          "host:port for gRPC; port 0 picks a free port (printed at start)");
ABSL_FLAG(std::string, port_file, "",
          "if set, the bound port is written to this file once serving "
          "(for scripts and tests that use --listen=host:0)");
ABSL_FLAG(std::string, device, "cpu", "where models run: cpu, cuda or cuda:N");
ABSL_FLAG(int, threads, 0,
          "threads for model work (libtorch intra-op); 0 = all cores");
ABSL_FLAG(std::string, model_dir, "",
          "directory of the model to serve (model loading is not built yet: "
          "see README.md, \"Status\")");
ABSL_FLAG(std::string, data_dir, "data",
          "directory of the persistent session tier; created if missing");
ABSL_FLAG(std::string, log_level, "info",
          "trace, debug, info, warn, error or off");
ABSL_FLAG(int, max_receive_message_bytes, 64 << 20,
          "largest request message; larger ones get RESOURCE_EXHAUSTED");
ABSL_FLAG(int, max_send_message_bytes, 64 << 20, "largest response message");
ABSL_FLAG(int, max_context_tokens, 131072,
          "tokens of context per Compress call");
ABSL_FLAG(int, max_prompt_tokens, 4096, "tokens of a Generate prompt");
ABSL_FLAG(int, max_new_tokens, 2048,
          "tokens one Generate or Reconstruct call may produce");
ABSL_FLAG(double, drain_seconds, 10,
          "on SIGTERM/SIGINT, how long in-flight calls may run before they "
          "are cancelled");

namespace {

// Reports a bad flag or start-up failure and exits: the only place the server
// exits on an error.
[[noreturn]] void Fail(const std::string& message) {
  spdlog::critical("{}", message);
  std::exit(2);
}

int PositiveFlag(const absl::Flag<int>& flag, const char* name) {
  const int value = absl::GetFlag(flag);
  if (value <= 0) {
    Fail(absl::StrCat("--", name, "=", value, ": must be a positive number"));
  }
  return value;
}

ccs::server::ServerOptions OptionsFromFlags() {
  ccs::server::ServerOptions options;
  options.listen_address = absl::GetFlag(FLAGS_listen);
  options.max_receive_message_bytes =
      PositiveFlag(FLAGS_max_receive_message_bytes, "max_receive_message_bytes");
  options.max_send_message_bytes =
      PositiveFlag(FLAGS_max_send_message_bytes, "max_send_message_bytes");
  options.limits.max_context_tokens =
      PositiveFlag(FLAGS_max_context_tokens, "max_context_tokens");
  options.limits.max_prompt_tokens =
      PositiveFlag(FLAGS_max_prompt_tokens, "max_prompt_tokens");
  options.limits.max_new_tokens =
      PositiveFlag(FLAGS_max_new_tokens, "max_new_tokens");
  return options;
}

void SetLogLevel() {
  const std::string name = absl::GetFlag(FLAGS_log_level);
  const spdlog::level::level_enum level = spdlog::level::from_str(name);
  // from_str maps unknown names to "off"; only accept "off" when asked for.
  if (level == spdlog::level::off && name != "off") {
    Fail(absl::StrCat("--log_level=", name,
                      ": use trace, debug, info, warn, error or off"));
  }
  spdlog::set_level(level);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%L%$ %v");
}

void PrepareDataDir() {
  const std::filesystem::path dir = absl::GetFlag(FLAGS_data_dir);
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    Fail(absl::StrCat("--data_dir=", dir.string(),
                      ": cannot create it: ", error.message()));
  }
}

// Writes the port to --port_file atomically (write, then rename), so a
// reader never sees a partial number.
void WritePortFile(int port) {
  const std::string path = absl::GetFlag(FLAGS_port_file);
  if (path.empty()) return;
  const std::string temporary = path + ".tmp";
  {
    std::ofstream file(temporary);
    file << port << "\n";
    if (!file) Fail(absl::StrCat("--port_file=", path, ": cannot write it"));
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) Fail(absl::StrCat("--port_file=", path, ": ", error.message()));
}

// Blocks SIGINT and SIGTERM in this thread and every thread started after
// it, so that WaitForStopSignal can take them synchronously: no handler, no
// global state.
sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

int WaitForStopSignal(const sigset_t& signals) {
  int signal = 0;
  while (sigwait(&signals, &signal) != 0) {
  }
  return signal;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "The context-compression gRPC service. See README.md for the API.");
  absl::ParseCommandLine(argc, argv);
  SetLogLevel();
  const sigset_t stop_signals = BlockStopSignals();

  ccs::model::TorchOptions torch_options;
  torch_options.device = absl::GetFlag(FLAGS_device);
  torch_options.intra_op_threads = absl::GetFlag(FLAGS_threads);
  if (torch_options.intra_op_threads < 0) {
    Fail(absl::StrCat("--threads=", torch_options.intra_op_threads,
                      ": use 0 (all cores) or a positive count"));
  }
  const absl::StatusOr<ccs::model::TorchRuntime> runtime =
      ccs::model::ConfigureTorch(torch_options);
  if (!runtime.ok()) Fail(std::string(runtime.status().message()));
  spdlog::info("libtorch {} (CUDA {}; {} GPU(s) visible), device {}, {} thread(s)",
               runtime->torch_version,
               runtime->cuda_compiled ? "built in" : "not built",
               runtime->cuda_device_count, runtime->device,
               runtime->intra_op_threads);

  PrepareDataDir();
  if (!absl::GetFlag(FLAGS_model_dir).empty()) {
    spdlog::warn("--model_dir={} ignored: model loading is not built yet",
                 absl::GetFlag(FLAGS_model_dir));
  }

  absl::StatusOr<std::unique_ptr<ccs::server::Server>> server =
      ccs::server::Server::Start(OptionsFromFlags());
  if (!server.ok()) Fail(std::string(server.status().message()));
  spdlog::info("serving ccs.v1.ContextCompression on port {} "
               "(health and reflection enabled)",
               (*server)->port());
  WritePortFile((*server)->port());

  const int signal = WaitForStopSignal(stop_signals);
  const absl::Duration drain = absl::Seconds(absl::GetFlag(FLAGS_drain_seconds));
  spdlog::info("signal {}: stopping; in-flight calls have {} to finish",
               strsignal(signal), absl::FormatDuration(drain));
  (*server)->Shutdown(drain);
  spdlog::info("stopped");
  return 0;
}
