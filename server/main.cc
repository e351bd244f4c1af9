// ccs_server: the context-compression gRPC service.
//
//   ccs_server --listen=0.0.0.0:50051 --device=cpu --threads=2
//
// Stops on SIGTERM or SIGINT: health turns NOT_SERVING (and /readyz 503),
// new calls are refused, in-flight calls get --drain_seconds to finish, the
// rest are cancelled, and the process exits 0.
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "model/runtime.h"
#include "server/auth.h"
#include "server/metrics.h"
#include "server/monitoring_server.h"
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
          "Hugging Face directory of the decoder to serve (config.json, "
          "safetensors, tokenizer.json); empty: no model");
ABSL_FLAG(std::string, rcc_dir, "",
          "RCC checkpoint for the model (rcc_config.json, *.safetensors); empty: "
          "no RCC");
ABSL_FLAG(std::string, icformer_dir, "",
          "IC-Former checkpoint for the model (config.json, model.safetensors, "
          "param.pt or params.safetensors); empty: no IC-Former");
ABSL_FLAG(std::string, model_name, "default", "the name clients use for the model");
ABSL_FLAG(std::string, dtype, "float32", "model weights and activations: float32 or bfloat16");
ABSL_FLAG(int, workers, 1,
          "threads preparing requests, and running model work that is not batched (each uses "
          "--threads)");
ABSL_FLAG(int, queue_capacity, 64,
          "requests that may wait in each scheduler queue (work queue, compress batcher, decode "
          "batch); more get RESOURCE_EXHAUSTED");
ABSL_FLAG(int, compress_max_batch, 1,
          "contexts of concurrent Compress calls compressed in one model call; 1 = no batching "
          "(the default: on a CPU one context already fills the matrix units, and the measured "
          "effect of batching is a loss; see docs/benchmarks.md)");
ABSL_FLAG(int, compress_max_wait_us, 2000,
          "microseconds a Compress call may wait for others to join its batch");
ABSL_FLAG(int, decode_max_batch, 16,
          "Generate and Reconstruct streams decoded together, joining and leaving between "
          "steps; 1 = no batching (each stream alone on a worker)");
ABSL_FLAG(int64_t, session_ram_bytes, int64_t{4} << 30,
          "bytes of session memory (and cached prefixes) held in RAM");
ABSL_FLAG(absl::Duration, session_ttl, absl::Hours(24),
          "sessions unused this long are deleted; 0 = never");
ABSL_FLAG(int, max_sessions_per_tenant, 10000, "sessions one tenant may hold");
ABSL_FLAG(int64_t, max_bytes_per_tenant, int64_t{2} << 30,
          "bytes of session memory one tenant may hold");
ABSL_FLAG(int64_t, max_memory_slots_per_session, 1 << 20,
          "memory vectors one session may hold");
ABSL_FLAG(std::string, data_dir, "",
          "directory of the persistent session tier (created if missing): "
          "sessions are written there before Compress answers, survive "
          "restarts and crashes, and are evicted from RAM to it when "
          "--session_ram_bytes is full; empty: RAM only, and a full RAM "
          "budget refuses new sessions");
ABSL_FLAG(std::string, log_level, "info",
          "trace, debug, info, warn, error or off");
ABSL_FLAG(int, max_receive_message_bytes, 64 << 20,
          "largest request message; larger ones get RESOURCE_EXHAUSTED");
ABSL_FLAG(int, max_send_message_bytes, 64 << 20, "largest response message");
ABSL_FLAG(int, max_context_tokens, 131072,
          "tokens of context per Compress call");
ABSL_FLAG(int, max_prompt_tokens, 4096, "tokens of a Generate prompt");
ABSL_FLAG(int64_t, max_session_tokens, int64_t{1} << 20,
          "tokens of context one session may hold, appends included; more get "
          "RESOURCE_EXHAUSTED");
ABSL_FLAG(int, max_new_tokens, 2048,
          "tokens one Generate or Reconstruct call may produce");
ABSL_FLAG(int, metrics_port, 0,
          "HTTP port for /metrics (Prometheus), /healthz and /readyz, on the "
          "host of --listen; 0 = off");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain for TLS on the gRPC port (with --tls_key); "
          "empty: plaintext");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, auth_token_file, "",
          "file of \"TOKEN TENANT\" lines; when set, every RPC but health "
          "checks needs \"authorization: Bearer TOKEN\" and runs as that "
          "tenant; empty: no authentication, every caller is tenant "
          "\"default\"");
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
  options.limits.max_session_tokens = absl::GetFlag(FLAGS_max_session_tokens);
  if (options.limits.max_session_tokens <= 0) {
    Fail(absl::StrCat("--max_session_tokens=", options.limits.max_session_tokens,
                      ": must be a positive number"));
  }
  options.limits.max_new_tokens =
      PositiveFlag(FLAGS_max_new_tokens, "max_new_tokens");
  options.scheduler.workers = PositiveFlag(FLAGS_workers, "workers");
  options.scheduler.queue_capacity = PositiveFlag(FLAGS_queue_capacity, "queue_capacity");
  options.scheduler.compress_max_batch =
      PositiveFlag(FLAGS_compress_max_batch, "compress_max_batch");
  options.scheduler.decode_max_batch = PositiveFlag(FLAGS_decode_max_batch, "decode_max_batch");
  const int max_wait_us = absl::GetFlag(FLAGS_compress_max_wait_us);
  if (max_wait_us < 0) {
    Fail(absl::StrCat("--compress_max_wait_us=", max_wait_us, ": must not be negative"));
  }
  options.scheduler.compress_max_wait = absl::Microseconds(max_wait_us);
  options.sessions.ram_bytes = absl::GetFlag(FLAGS_session_ram_bytes);
  options.sessions.ttl = absl::GetFlag(FLAGS_session_ttl);
  options.sessions.max_sessions_per_tenant =
      PositiveFlag(FLAGS_max_sessions_per_tenant, "max_sessions_per_tenant");
  options.sessions.max_bytes_per_tenant = absl::GetFlag(FLAGS_max_bytes_per_tenant);
  options.sessions.max_slots_per_session = absl::GetFlag(FLAGS_max_memory_slots_per_session);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.sessions.sweep_interval = absl::Minutes(1);
  if (options.sessions.ram_bytes <= 0 || options.sessions.max_bytes_per_tenant <= 0 ||
      options.sessions.max_slots_per_session <= 0 ||
      options.sessions.ttl < absl::ZeroDuration()) {
    Fail("--session_ram_bytes, --max_bytes_per_tenant and --max_memory_slots_per_session "
         "must be positive and --session_ttl not negative");
  }
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
  if (dir.empty()) return;
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

// The whole of a PEM file named by --`flag`, checked to hold a PEM block.
std::string ReadPemFlag(const char* flag, const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) Fail(absl::StrCat("--", flag, "=", path, ": cannot read it: ", strerror(errno)));
  std::stringstream contents;
  contents << file.rdbuf();
  if (contents.str().find("-----BEGIN ") == std::string::npos) {
    Fail(absl::StrCat("--", flag, "=", path, ": not a PEM file (no \"-----BEGIN\" line)"));
  }
  return contents.str();
}

// Reads --tls_cert and --tls_key: both or neither.
void SetTlsFromFlags(ccs::server::ServerOptions& options) {
  const std::string cert = absl::GetFlag(FLAGS_tls_cert);
  const std::string key = absl::GetFlag(FLAGS_tls_key);
  if (cert.empty() != key.empty()) {
    Fail("--tls_cert and --tls_key go together: pass both PEM files for TLS, or "
         "neither for plaintext");
  }
  if (cert.empty()) {
    spdlog::info("TLS is off: the gRPC port is plaintext (see --tls_cert)");
    return;
  }
  options.tls_cert_chain_pem = ReadPemFlag("tls_cert", cert);
  options.tls_private_key_pem = ReadPemFlag("tls_key", key);
  spdlog::info("TLS on the gRPC port with the certificate in {}", cert);
}

// Loads --auth_token_file, or warns that authentication is off.
void SetAuthFromFlags(ccs::server::ServerOptions& options) {
  const std::string path = absl::GetFlag(FLAGS_auth_token_file);
  if (path.empty()) {
    spdlog::warn("authentication is off (no --auth_token_file): every caller is tenant "
                 "\"default\" and sees every session");
    return;
  }
  absl::StatusOr<ccs::server::TokenAuthenticator> auth =
      ccs::server::TokenAuthenticator::FromFile(path);
  if (!auth.ok()) Fail(absl::StrCat("--auth_token_file: ", auth.status().message()));
  std::error_code error;
  const auto permissions = std::filesystem::status(path, error).permissions();
  if (!error && (permissions & std::filesystem::perms::others_read) != std::filesystem::perms::none) {
    spdlog::warn("--auth_token_file={} is readable by every user: chmod 600 it", path);
  }
  spdlog::info("authentication on: {} token(s) from {}", auth->token_count(), path);
  options.auth = std::make_shared<const ccs::server::TokenAuthenticator>(*std::move(auth));
}

// The host part of a gRPC "host:port" address ("[::]:50051" -> "::").
std::string HostOf(const std::string& address) {
  std::string host = address.substr(0, address.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host.empty() ? "0.0.0.0" : host;
}

// Loads the model named by the flags, or returns null when --model_dir is
// empty (the server then answers model RPCs with FAILED_PRECONDITION).
std::unique_ptr<ccs::model::Engine> LoadEngine(const std::string& device) {
  ccs::model::EngineOptions options;
  options.name = absl::GetFlag(FLAGS_model_name);
  options.decoder_dir = absl::GetFlag(FLAGS_model_dir);
  options.rcc_dir = absl::GetFlag(FLAGS_rcc_dir);
  options.icformer_dir = absl::GetFlag(FLAGS_icformer_dir);
  options.device = device;
  options.dtype = absl::GetFlag(FLAGS_dtype);
  if (options.decoder_dir.empty()) {
    spdlog::warn("no --model_dir: serving without a model (model RPCs answer "
                 "FAILED_PRECONDITION)");
    return nullptr;
  }
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<ccs::model::Engine>> engine = ccs::model::Engine::Load(options);
  if (!engine.ok()) Fail(absl::StrCat("cannot load the model: ", engine.status().message()));
  std::string methods;
  for (ccs::model::Method m : (*engine)->description().methods) {
    absl::StrAppend(&methods, methods.empty() ? "" : ", ", ccs::model::MethodName(m));
  }
  spdlog::info("model \"{}\" loaded from {} in {}: {} layers, hidden {}, methods {}",
               options.name, options.decoder_dir, absl::FormatDuration(absl::Now() - start),
               (*engine)->description().num_layers, (*engine)->description().hidden_size,
               methods);
  return *std::move(engine);
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

  // Readiness for /readyz: not ready while the model loads or after a stop
  // signal (draining).
  enum class Phase { kStarting, kServing, kDraining };
  std::atomic<Phase> phase{Phase::kStarting};
  auto registry = std::make_shared<ccs::server::MetricsRegistry>();
  std::unique_ptr<ccs::server::MonitoringServer> monitor;
  if (const int metrics_port = absl::GetFlag(FLAGS_metrics_port); metrics_port != 0) {
    const std::string host = HostOf(absl::GetFlag(FLAGS_listen));
    absl::StatusOr<std::unique_ptr<ccs::server::MonitoringServer>> started =
        ccs::server::MonitoringServer::Start(host, metrics_port, registry.get(), [&phase] {
          switch (phase.load()) {
            case Phase::kServing:
              return absl::OkStatus();
            case Phase::kStarting:
              return absl::UnavailableError("starting (loading the model)");
            case Phase::kDraining:
              return absl::UnavailableError("draining before shutdown");
          }
          return absl::UnavailableError("unknown");
        });
    if (!started.ok()) {
      Fail(absl::StrCat("--metrics_port=", metrics_port, ": ", started.status().message()));
    }
    monitor = *std::move(started);
    spdlog::info("metrics on http://{}:{}/metrics (also /healthz, /readyz)", host,
                 monitor->port());
  }

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
  ccs::server::ServerOptions options = OptionsFromFlags();
  SetTlsFromFlags(options);
  SetAuthFromFlags(options);
  options.metrics = registry;
  std::unique_ptr<ccs::model::Engine> engine = LoadEngine(runtime->device);

  absl::StatusOr<std::unique_ptr<ccs::server::Server>> server =
      ccs::server::Server::Start(options, std::move(engine));
  if (!server.ok()) Fail(std::string(server.status().message()));
  spdlog::info("serving ccs.v1.ContextCompression on port {} "
               "(health and reflection enabled)",
               (*server)->port());
  phase = Phase::kServing;
  WritePortFile((*server)->port());

  const int signal = WaitForStopSignal(stop_signals);
  phase = Phase::kDraining;
  const absl::Duration drain = absl::Seconds(absl::GetFlag(FLAGS_drain_seconds));
  spdlog::info("signal {}: stopping; in-flight calls have {} to finish",
               strsignal(signal), absl::FormatDuration(drain));
  (*server)->Shutdown(drain);
  monitor.reset();
  spdlog::info("stopped");
  return 0;
}
