// ccs_load: a load generator for the context-compression service. It sends
// a mix of Compress, Generate and Reconstruct calls to the one --target it
// is given, in closed loop (N clients back to back) or open loop (Poisson
// arrivals at a rate, latency from the scheduled time), and reports latency
// percentiles, throughput, time to first token and errors by status code,
// as a table and as JSON (--report). `ccs_load --help` explains the flags.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "client/cli_flags.h"
#include "client/client.h"
#include "client/exit_codes.h"
#include "client/load_report.h"
#include "client/load_runner.h"
#include "client/load_workload.h"

ABSL_FLAG(std::string, target, "", "server address host:port (required)");
ABSL_FLAG(std::string, mode, "closed", "closed (N clients back to back) or open (Poisson arrivals at --rate)");
ABSL_FLAG(int, concurrency, 4, "closed loop: concurrent clients");
ABSL_FLAG(double, rate, 10, "open loop: mean requests per second");
ABSL_FLAG(int, max_in_flight, 64, "open loop: most requests in flight at once (later arrivals wait, and the wait is measured)");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "length of the measurement, after the warm-up");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2), "warm-up before the measurement; its requests are not counted");
ABSL_FLAG(int64_t, requests, 0, "stop after this many measured requests (0: --duration only)");
ABSL_FLAG(std::string, mix, "compress:1,generate:3,reconstruct:1", "operations and their weights");
ABSL_FLAG(std::string, corpus, "", "draw contexts as random slices of this UTF-8 text file (default: generated English-like text)");
ABSL_FLAG(std::string, context_tokens, "256:1024", "context size range MIN:MAX in tokens (converted with the bytes per token the server's replies show)");
ABSL_FLAG(std::string, context_bytes, "", "context size range MIN:MAX in bytes, instead of --context_tokens");
ABSL_FLAG(int, sessions, 4, "sessions made during set-up for Generate and Reconstruct");
ABSL_FLAG(std::string, method, "auto", "compression method: auto, rcc, ic_former or none");
ABSL_FLAG(std::string, model, "", "model name (default: the server's)");
ABSL_FLAG(int, max_new_tokens, 32, "Generate: tokens to generate at most");
ABSL_FLAG(int, reconstruct_tokens, 64, "Reconstruct: tokens to produce at most");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(30), "deadline of each call");
ABSL_FLAG(int, retries, 0, "retries of a measured call on UNAVAILABLE or RESOURCE_EXHAUSTED (0: failures count as they come)");
ABSL_FLAG(uint64_t, seed, 1, "seed of every random choice: arrivals, operations, contexts");
ABSL_FLAG(std::string, report, "", "write the JSON report to this file (- for stdout, then the table goes to stderr)");
ABSL_FLAG(bool, keep_sessions, false, "keep the sessions the run made instead of deleting them");
ABSL_FLAG(std::string, progress, "auto", "progress line on stderr: auto (when stderr is a terminal), on, off");
ABSL_FLAG(std::string, token, "", "bearer token (or env CCS_TOKEN)");
ABSL_FLAG(bool, tls, false, "use TLS");
ABSL_FLAG(std::string, ca_file, "", "PEM root certificates for --tls");

namespace {

using ccs::client::ExitCodeFor;
using ccs::client::kExitLocalError;
using ccs::client::kExitOk;
using ccs::client::kExitUsage;

constexpr char kHelp[] =
    "ccs_load: load generator for the context-compression service.\n\n"
    "Usage: ccs_load --target=host:port [--mode=closed --concurrency=4 | "
    "--mode=open --rate=10]\n"
    "    [--duration=10s] [--requests=N] [--warmup=2s] "
    "[--mix=compress:1,generate:3,reconstruct:1]\n"
    "    [--corpus=FILE] [--context_tokens=256:1024 | --context_bytes=MIN:MAX] "
    "[--report=report.json]\n\n"
    "Closed loop: --concurrency clients, each sending its next request when the\n"
    "previous one ends. Open loop: requests arrive at --rate per second as a\n"
    "Poisson process (seeded), whether or not earlier ones ended; latency counts\n"
    "from each request's scheduled arrival, so queueing is measured, not hidden.\n"
    "The run stops by itself after --duration or --requests measured requests,\n"
    "whichever comes first; requests in flight then finish. Set-up makes\n"
    "--sessions sessions for Generate and Reconstruct (not measured); sessions\n"
    "are deleted at the end. It sends only to --target.\n\n"
    "Output: a table on stdout (latency percentiles of succeeded requests, \n"
    "throughput, time to first message of streams, tokens/s, failures by status\n"
    "code) and, with --report, the same as JSON. sent = succeeded + failed.\n\n"
    "Exit codes: 0 the run completed (request failures are in the report);\n"
    "1 corpus unreadable or report unwritable; 2 usage error; set-up failures\n"
    "exit as `ccs` does: 3 rejected, 4 try again later, 5 server error,\n"
    "6 not found, 7 not allowed.\n\nFlags:\n";

int UsageError(const std::string& message) {
  std::cerr << "usage error: " << message << "\n(`ccs_load --help` explains the flags)\n";
  return kExitUsage;
}

std::string FlagHelp() {
  // The flags of this tool, with their help and defaults.
  std::string text;
  for (const char* name :
       {"target", "mode", "concurrency", "rate", "max_in_flight", "duration", "warmup",
        "requests", "mix", "corpus", "context_tokens", "context_bytes", "sessions", "method",
        "model", "max_new_tokens", "reconstruct_tokens", "timeout", "retries", "seed",
        "report", "keep_sessions", "progress", "token", "tls", "ca_file"}) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr) continue;
    absl::StrAppendFormat(&text, "  --%s (default \"%s\")\n      %s\n", name,
                          flag->DefaultValue(), flag->Help());
  }
  return text;
}

absl::StatusOr<ccs::v1::Method> ParseMethod(std::string name) {
  absl::AsciiStrToLower(&name);
  if (name == "auto") return ccs::v1::METHOD_AUTO;
  if (name == "rcc") return ccs::v1::METHOD_RCC;
  if (name == "ic_former" || name == "icformer") return ccs::v1::METHOD_IC_FORMER;
  if (name == "none") return ccs::v1::METHOD_NONE;
  return absl::InvalidArgumentError(
      absl::StrCat("--method=", name, ": use auto, rcc, ic_former or none"));
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream content;
  content << file.rdbuf();
  if (file.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path));
  return content.str();
}

// Builds the run's configuration from the flags; errors are usage errors.
absl::StatusOr<ccs::client::LoadConfig> ConfigFromFlags() {
  ccs::client::LoadConfig config;
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "closed") {
    config.mode = ccs::client::LoadConfig::Mode::kClosedLoop;
  } else if (mode == "open") {
    config.mode = ccs::client::LoadConfig::Mode::kOpenLoop;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--mode=", mode, ": use closed or open"));
  }
  config.concurrency = absl::GetFlag(FLAGS_concurrency);
  config.rate = absl::GetFlag(FLAGS_rate);
  config.max_in_flight = absl::GetFlag(FLAGS_max_in_flight);
  config.duration = absl::GetFlag(FLAGS_duration);
  config.warmup = absl::GetFlag(FLAGS_warmup);
  config.max_requests = absl::GetFlag(FLAGS_requests);
  config.timeout = absl::GetFlag(FLAGS_timeout);
  if (config.concurrency < 1 || config.concurrency > 10000) {
    return absl::InvalidArgumentError("--concurrency must be 1 to 10000");
  }
  if (!(config.rate > 0) || config.rate > 1e6) {
    return absl::InvalidArgumentError("--rate must be in (0, 1000000] requests/s");
  }
  if (config.max_in_flight < 1 || config.max_in_flight > 10000) {
    return absl::InvalidArgumentError("--max_in_flight must be 1 to 10000");
  }
  if (config.duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--duration must be positive");
  }
  if (config.warmup < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--warmup must not be negative");
  }
  if (config.max_requests < 0) {
    return absl::InvalidArgumentError("--requests must not be negative");
  }
  if (config.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--timeout must be positive");
  }
  absl::StatusOr<ccs::client::Mix> mix = ccs::client::Mix::Parse(absl::GetFlag(FLAGS_mix));
  if (!mix.ok()) return mix.status();
  config.mix = *mix;
  const std::string bytes = absl::GetFlag(FLAGS_context_bytes);
  config.context_in_tokens = bytes.empty();
  absl::StatusOr<ccs::client::SizeRange> range = ccs::client::SizeRange::Parse(
      bytes.empty() ? absl::GetFlag(FLAGS_context_tokens) : bytes);
  if (!range.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        bytes.empty() ? "--context_tokens: " : "--context_bytes: ", range.status().message()));
  }
  config.context_size = *range;
  config.sessions = absl::GetFlag(FLAGS_sessions);
  if (config.sessions < 1 || config.sessions > 10000) {
    return absl::InvalidArgumentError("--sessions must be 1 to 10000");
  }
  absl::StatusOr<ccs::v1::Method> method = ParseMethod(absl::GetFlag(FLAGS_method));
  if (!method.ok()) return method.status();
  config.method = *method;
  config.model = absl::GetFlag(FLAGS_model);
  config.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  config.reconstruct_tokens = absl::GetFlag(FLAGS_reconstruct_tokens);
  if (config.max_new_tokens < 1 || config.reconstruct_tokens < 1) {
    return absl::InvalidArgumentError("--max_new_tokens and --reconstruct_tokens must be positive");
  }
  config.seed = absl::GetFlag(FLAGS_seed);
  config.keep_sessions = absl::GetFlag(FLAGS_keep_sessions);
  if (absl::GetFlag(FLAGS_retries) < 0 || absl::GetFlag(FLAGS_retries) > 10) {
    return absl::InvalidArgumentError("--retries must be 0 to 10");
  }
  return config;
}

// Prints "  12.0 s  sent 120  ok 118  failed 2  in flight 3" once a second
// until stopped.
class ProgressLine {
 public:
  ProgressLine(const ccs::client::LoadProgress& progress, bool enabled)
      : progress_(progress) {
    if (!enabled) return;
    thread_ = std::thread([this] {
      const absl::Time start = absl::Now();
      while (!stop_.WaitForNotificationWithTimeout(absl::Seconds(1))) {
        std::fprintf(stderr, "\r%6.1f s  sent %lld  ok %lld  failed %lld  in flight %lld   ",
                     absl::ToDoubleSeconds(absl::Now() - start),
                     static_cast<long long>(progress_.sent.load()),
                     static_cast<long long>(progress_.succeeded.load()),
                     static_cast<long long>(progress_.failed.load()),
                     static_cast<long long>(progress_.in_flight.load()));
        std::fflush(stderr);
      }
      std::fprintf(stderr, "\r%70s\r", "");
      std::fflush(stderr);
    });
  }
  ~ProgressLine() {
    stop_.Notify();
    if (thread_.joinable()) thread_.join();
  }

 private:
  const ccs::client::LoadProgress& progress_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "-help" || arg == "help") {
      std::cout << kHelp << FlagHelp();
      return kExitOk;
    }
  }
  absl::StatusOr<std::vector<std::string>> positional = ccs::client::ParseFlags(argc, argv);
  if (!positional.ok()) return UsageError(std::string(positional.status().message()));
  if (!positional->empty()) {
    return UsageError(absl::StrCat("unexpected argument \"", (*positional)[0], "\""));
  }
  const std::string target = absl::GetFlag(FLAGS_target);
  if (target.empty()) return UsageError("--target=host:port is required");
  absl::StatusOr<ccs::client::LoadConfig> config = ConfigFromFlags();
  if (!config.ok()) return UsageError(std::string(config.status().message()));
  const std::string progress_mode = absl::GetFlag(FLAGS_progress);
  if (progress_mode != "auto" && progress_mode != "on" && progress_mode != "off") {
    return UsageError("--progress: use auto, on or off");
  }

  const std::string corpus_path = absl::GetFlag(FLAGS_corpus);
  absl::StatusOr<ccs::client::ContextSource> contexts = ccs::client::ContextSource::Generated();
  if (!corpus_path.empty()) {
    absl::StatusOr<std::string> corpus = ReadFile(corpus_path);
    if (!corpus.ok()) {
      std::cerr << "error: --corpus: " << corpus.status().message() << "\n";
      return kExitLocalError;
    }
    contexts = ccs::client::ContextSource::FromCorpus(*std::move(corpus));
    if (!contexts.ok()) {
      std::cerr << "error: --corpus=" << corpus_path << ": " << contexts.status().message()
                << "\n";
      return kExitLocalError;
    }
  }
  // Check that the report can be written before spending the run on it.
  const std::string report_path = absl::GetFlag(FLAGS_report);
  if (!report_path.empty() && report_path != "-" &&
      !std::ofstream(report_path, std::ios::app)) {
    std::cerr << "error: --report: cannot write " << report_path << "\n";
    return kExitLocalError;
  }

  ccs::client::ClientOptions options;
  options.target = target;
  options.timeout = config->timeout;
  options.bearer_token = absl::GetFlag(FLAGS_token);
  if (options.bearer_token.empty() && getenv("CCS_TOKEN") != nullptr) {
    options.bearer_token = getenv("CCS_TOKEN");
  }
  options.use_tls = absl::GetFlag(FLAGS_tls);
  if (!absl::GetFlag(FLAGS_ca_file).empty()) {
    absl::StatusOr<std::string> pem = ReadFile(absl::GetFlag(FLAGS_ca_file));
    if (!pem.ok()) {
      std::cerr << "error: --ca_file: " << pem.status().message() << "\n";
      return kExitLocalError;
    }
    options.root_certs_pem = *pem;
  }
  // Set-up and clean-up retry as any client would; the measured calls retry
  // only as --retries says, so that failures are reported as they happen.
  absl::StatusOr<std::unique_ptr<ccs::client::Client>> setup =
      ccs::client::Client::Connect(options);
  options.retry.max_attempts = 1 + absl::GetFlag(FLAGS_retries);
  absl::StatusOr<std::unique_ptr<ccs::client::Client>> load =
      ccs::client::Client::Connect(options);
  if (!setup.ok()) return UsageError(std::string(setup.status().message()));
  if (!load.ok()) return UsageError(std::string(load.status().message()));

  ccs::client::LoadProgress progress;
  absl::StatusOr<ccs::client::LoadResult> result;
  {
    const bool show = progress_mode == "on" ||
                      (progress_mode == "auto" && isatty(STDERR_FILENO) == 1);
    ProgressLine line(progress, show);
    result = ccs::client::RunLoad(**load, **setup, *contexts, *config, &progress);
  }
  if (!result.ok()) {
    std::cerr << "error: " << absl::StatusCodeToString(result.status().code()) << ": "
              << result.status().message() << "\n";
    return ExitCodeFor(result.status().code());
  }
  const nlohmann::json report = ccs::client::BuildReport(
      *config, target, corpus_path.empty() ? "generated text" : corpus_path, *result);
  const std::string table = ccs::client::RenderTable(report);
  if (report_path == "-") {
    std::cerr << table;
    std::cout << report.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << table;
  if (!report_path.empty()) {
    std::ofstream file(report_path, std::ios::trunc);
    file << report.dump(2) << "\n";
    if (!file.good()) {
      std::cerr << "error: --report: cannot write " << report_path << "\n";
      return kExitLocalError;
    }
  }
  return kExitOk;
}
