// ccs: the command-line client of the context-compression service.
// `ccs help` lists the commands; `ccs <command> --help` explains one.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "google/protobuf/util/json_util.h"

ABSL_FLAG(std::string, server, "localhost:50051", "server address host:port");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(60),
          "deadline of each call, e.g. 30s, 2m");
ABSL_FLAG(bool, json, false, "print responses as JSON (for scripts)");
ABSL_FLAG(std::string, token, "", "bearer token (or env CCS_TOKEN)");
ABSL_FLAG(std::string, token_file, "",
          "file whose first line is the bearer token (keeps it out of ps and "
          "shell history)");
ABSL_FLAG(bool, tls, false, "use TLS");
ABSL_FLAG(std::string, ca_file, "", "PEM root certificates for --tls");
ABSL_FLAG(std::string, session, "", "session id");
ABSL_FLAG(std::string, model, "", "model name (default: the server's)");
ABSL_FLAG(std::string, method, "auto", "auto, rcc, ic_former or none");
ABSL_FLAG(bool, low_latency, false, "with --method=auto: prefer IC-Former");
ABSL_FLAG(std::string, context_file, "",
          "generate: one-shot context from this file (- for stdin) instead "
          "of --session");
ABSL_FLAG(int, max_new_tokens, 0, "generate: 0 = server default");
ABSL_FLAG(double, temperature, 0, "generate: 0 = greedy, up to 2");
ABSL_FLAG(int, top_k, 0, "generate: 0 = off");
ABSL_FLAG(double, top_p, 0, "generate: 0 = off, else (0, 1]");
ABSL_FLAG(double, repetition_penalty, 0, "generate: 0 = off, else (0, 10]");
ABSL_FLAG(std::vector<std::string>, stop, {},
          "generate: comma-separated stop strings");
ABSL_FLAG(int64_t, seed, -1, "generate: sampling seed; -1 = random");
ABSL_FLAG(bool, instruction_reconstruction, false,
          "generate (RCC): compress the prompt with the context");
ABSL_FLAG(int, max_tokens, 0, "reconstruct: 0 = about the compressed length");
ABSL_FLAG(int, page_size, 0, "sessions list: 0 = server default");

namespace {

// Exit codes: what kind of failure, so scripts can react.
enum ExitCode {
  kOk = 0,
  kLocalError = 1,     // cannot read input, bad local setup
  kUsage = 2,          // bad command line
  kRejected = 3,       // the server refused the request as asked
  kUnavailable = 4,    // unreachable, overloaded, timed out: try again
  kServerError = 5,    // the server failed (INTERNAL, UNKNOWN, DATA_LOSS)
};

constexpr char kExitCodes[] =
    "Exit codes: 0 ok; 1 local error (input unreadable); 2 usage error;\n"
    "3 request rejected (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION,\n"
    "UNIMPLEMENTED, UNAUTHENTICATED, PERMISSION_DENIED, CANCELLED); 4 try\n"
    "again later (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED);\n"
    "5 server error (INTERNAL, UNKNOWN, DATA_LOSS, ...).\n";

const std::map<std::string, std::string>& CommandHelp() {
  static const auto* const help = new std::map<std::string, std::string>{
      {"health",
       "ccs health\n  Health of the server and the services it lists through "
       "reflection.\n"},
      {"models", "ccs models\n  The models the server has loaded.\n"},
      {"compress",
       "ccs compress [FILE|-] [--session=ID] [--model=NAME] "
       "[--method=auto|rcc|ic_former|none] [--low_latency]\n"
       "  Compresses FILE (or stdin) into a new session, or appends it to\n"
       "  --session. Prints the session id and what the memory holds.\n"},
      {"generate",
       "ccs generate PROMPT (--session=ID | --context_file=FILE) "
       "[--max_new_tokens=N] [--temperature=T] [--top_k=K] [--top_p=P]\n"
       "  [--repetition_penalty=R] [--stop=a,b] [--seed=S] "
       "[--instruction_reconstruction]\n"
       "  Answers PROMPT from the session's memory; tokens print as they "
       "stream.\n"},
      {"reconstruct",
       "ccs reconstruct --session=ID [--max_tokens=N]\n"
       "  Regenerates the compressed text from the session's memory.\n"},
      {"sessions",
       "ccs sessions list [--page_size=N] | get ID | delete ID\n"
       "  Lists, describes or deletes your sessions.\n"},
  };
  return *help;
}

std::string GeneralHelp() {
  std::string text =
      "ccs: client of the context-compression service.\n\n"
      "Usage: ccs [--server=host:port] [--json] [--timeout=60s] "
      "[--token=T | --token_file=F] [--tls --ca_file=F] COMMAND ...\n\nCommands:\n";
  for (const auto& [name, help] : CommandHelp()) {
    absl::StrAppend(&text, "  ", help.substr(0, help.find('\n')), "\n");
  }
  absl::StrAppend(&text, "\n`ccs COMMAND --help` for details. ", kExitCodes);
  return text;
}

int ExitCodeFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return kOk;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
      return kUnavailable;
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
      return kServerError;
    default:
      return kRejected;
  }
}

int Report(const absl::Status& status) {
  std::cerr << "error: " << absl::StatusCodeToString(status.code()) << ": "
            << status.message() << "\n";
  return ExitCodeFor(status.code());
}

int UsageError(const std::string& message) {
  std::cerr << "usage error: " << message
            << "\n(`ccs help` lists the commands)\n";
  return kUsage;
}

void PrintJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  std::cout << json << "\n";
}

// Reads a whole file, or stdin for "-".
absl::StatusOr<std::string> ReadInput(const std::string& path) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), {});
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path));
  }
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

absl::StatusOr<ccs::v1::Method> ParseMethod(std::string name) {
  absl::AsciiStrToLower(&name);
  if (name == "auto") return ccs::v1::METHOD_AUTO;
  if (name == "rcc") return ccs::v1::METHOD_RCC;
  if (name == "ic_former" || name == "icformer") return ccs::v1::METHOD_IC_FORMER;
  if (name == "none") return ccs::v1::METHOD_NONE;
  return absl::InvalidArgumentError(absl::StrCat(
      "--method=", name, ": use auto, rcc, ic_former or none"));
}

std::string MethodName(ccs::v1::Method method) {
  std::string name = ccs::v1::Method_Name(method);
  return name.substr(name.find('_') + 1);  // METHOD_RCC -> RCC
}

std::string Bytes(int64_t bytes) {
  if (bytes < 10 * 1024) return absl::StrCat(bytes, " B");
  if (bytes < 10 * 1024 * 1024) return absl::StrFormat("%.1f KiB", bytes / 1024.0);
  return absl::StrFormat("%.1f MiB", bytes / (1024.0 * 1024.0));
}

void PrintSession(const ccs::v1::Session& s) {
  std::cout << absl::StrFormat(
      "%s  %s  model=%s  tokens=%d  memory=%d  bytes=%s  tier=%s\n",
      s.session_id(), MethodName(s.method()), s.model(), s.tokens(),
      s.memory_slots(), Bytes(s.bytes()),
      ccs::v1::StorageTier_Name(s.tier()));
}

using Args = std::vector<std::string>;
using ccs::client::Client;

int Health(Client& client, const Args&) {
  absl::StatusOr<std::string> health = client.Health("");
  if (!health.ok()) return Report(health.status());
  absl::StatusOr<std::vector<std::string>> services = client.ListServices();
  if (!services.ok()) return Report(services.status());
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << "{\"status\":\"" << *health << "\",\"services\":[\""
              << absl::StrJoin(*services, "\",\"") << "\"]}\n";
  } else {
    std::cout << *health << "\nservices: " << absl::StrJoin(*services, ", ")
              << "\n";
  }
  return *health == "SERVING" ? kOk : kUnavailable;
}

int Models(Client& client, const Args&) {
  absl::StatusOr<ccs::v1::ListModelsResponse> models = client.ListModels();
  if (!models.ok()) return Report(models.status());
  if (absl::GetFlag(FLAGS_json)) {
    PrintJson(*models);
  } else if (models->models().empty()) {
    std::cout << "no models loaded\n";
  } else {
    for (const ccs::v1::ModelInfo& m : models->models()) {
      std::vector<std::string> methods;
      for (int method : m.methods()) {
        methods.push_back(MethodName(static_cast<ccs::v1::Method>(method)));
      }
      std::cout << m.name() << (m.is_default() ? " (default)" : "") << "  "
                << m.architecture() << "  methods=" << absl::StrJoin(methods, ",")
                << "  device=" << m.device() << "\n";
    }
  }
  return kOk;
}

int Compress(Client& client, const Args& args) {
  if (args.size() > 1) return UsageError("compress takes one FILE (or -)");
  absl::StatusOr<ccs::v1::Method> method = ParseMethod(absl::GetFlag(FLAGS_method));
  if (!method.ok()) return UsageError(std::string(method.status().message()));
  const std::string path = args.empty() ? "-" : args[0];
  absl::StatusOr<std::string> text = ReadInput(path);
  if (!text.ok()) {
    std::cerr << "error: " << text.status().message() << "\n";
    return kLocalError;
  }
  ccs::v1::CompressRequest request;
  request.set_session_id(absl::GetFlag(FLAGS_session));
  request.set_text(*text);
  request.set_model(absl::GetFlag(FLAGS_model));
  request.set_method(*method);
  request.set_prefer_low_latency(absl::GetFlag(FLAGS_low_latency));
  absl::StatusOr<ccs::v1::CompressResponse> reply = client.Compress(request);
  if (!reply.ok()) return Report(reply.status());
  if (absl::GetFlag(FLAGS_json)) {
    PrintJson(*reply);
  } else {
    std::cout << absl::StrFormat(
        "session %s (%s, model %s): %d tokens -> %d memory vectors in %d "
        "segment(s), %.1f ms\n",
        reply->session_id(), MethodName(reply->method()), reply->model(),
        reply->tokens_in(), reply->memory_vectors_out(), reply->segments(),
        reply->compute_micros() / 1000.0);
    PrintSession(reply->session());
  }
  return kOk;
}

// Prints a stream's text as it arrives (or one JSON object per message),
// then its finish line on stderr.
class StreamPrinter {
 public:
  template <typename Response>
  void operator()(const Response& message) {
    if (absl::GetFlag(FLAGS_json)) {
      PrintJson(message);
      return;
    }
    std::cout << message.text() << std::flush;
    if (!message.text().empty()) at_line_start_ = message.text().back() == '\n';
  }

  template <typename Response>
  void Finish(const Response& last) {
    if (absl::GetFlag(FLAGS_json)) return;
    if (!at_line_start_) std::cout << "\n" << std::flush;  // end the text's line
    const ccs::v1::Usage& u = last.usage();
    std::cerr << absl::StrFormat(
        "[%s: %d tokens generated, %d memory slots, first token %.1f ms, "
        "total %.1f ms]\n",
        ccs::v1::FinishReason_Name(last.finish_reason()), u.generated_tokens(),
        u.memory_slots(), u.time_to_first_token_micros() / 1000.0,
        u.total_micros() / 1000.0);
  }

 private:
  bool at_line_start_ = true;
};

int Generate(Client& client, const Args& args) {
  if (args.size() != 1) return UsageError("generate takes one PROMPT");
  ccs::v1::GenerateRequest request;
  request.set_prompt(args[0]);
  request.set_session_id(absl::GetFlag(FLAGS_session));
  if (!absl::GetFlag(FLAGS_context_file).empty()) {
    absl::StatusOr<std::string> context = ReadInput(absl::GetFlag(FLAGS_context_file));
    if (!context.ok()) {
      std::cerr << "error: " << context.status().message() << "\n";
      return kLocalError;
    }
    request.set_context(*context);
    absl::StatusOr<ccs::v1::Method> method = ParseMethod(absl::GetFlag(FLAGS_method));
    if (!method.ok()) return UsageError(std::string(method.status().message()));
    request.set_method(*method);
    request.set_model(absl::GetFlag(FLAGS_model));
  }
  ccs::v1::SamplingParams& sampling = *request.mutable_sampling();
  sampling.set_max_new_tokens(absl::GetFlag(FLAGS_max_new_tokens));
  sampling.set_temperature(absl::GetFlag(FLAGS_temperature));
  sampling.set_top_k(absl::GetFlag(FLAGS_top_k));
  sampling.set_top_p(absl::GetFlag(FLAGS_top_p));
  sampling.set_repetition_penalty(absl::GetFlag(FLAGS_repetition_penalty));
  for (const std::string& stop : absl::GetFlag(FLAGS_stop)) sampling.add_stop(stop);
  if (absl::GetFlag(FLAGS_seed) >= 0) sampling.set_seed(absl::GetFlag(FLAGS_seed));
  request.set_instruction_reconstruction(
      absl::GetFlag(FLAGS_instruction_reconstruction));
  StreamPrinter printer;
  absl::StatusOr<ccs::v1::GenerateResponse> last = client.Generate(
      request, [&](const ccs::v1::GenerateResponse& m) { printer(m); });
  if (!last.ok()) return Report(last.status());
  printer.Finish(*last);
  return kOk;
}

int Reconstruct(Client& client, const Args& args) {
  if (!args.empty()) return UsageError("reconstruct takes no arguments");
  ccs::v1::ReconstructRequest request;
  request.set_session_id(absl::GetFlag(FLAGS_session));
  request.set_max_tokens(absl::GetFlag(FLAGS_max_tokens));
  StreamPrinter printer;
  absl::StatusOr<ccs::v1::ReconstructResponse> last = client.Reconstruct(
      request, [&](const ccs::v1::ReconstructResponse& m) { printer(m); });
  if (!last.ok()) return Report(last.status());
  printer.Finish(*last);
  return kOk;
}

int Sessions(Client& client, const Args& args) {
  const std::string verb = args.empty() ? "list" : args[0];
  if (verb == "list" && args.size() <= 1) {
    ccs::v1::ListSessionsRequest request;
    request.set_page_size(absl::GetFlag(FLAGS_page_size));
    absl::StatusOr<ccs::v1::ListSessionsResponse> page = client.ListSessions(request);
    if (!page.ok()) return Report(page.status());
    if (absl::GetFlag(FLAGS_json)) {
      PrintJson(*page);
    } else {
      for (const ccs::v1::Session& s : page->sessions()) PrintSession(s);
      if (page->sessions().empty()) std::cout << "no sessions\n";
    }
    return kOk;
  }
  if ((verb == "get" || verb == "delete") && args.size() == 2) {
    if (verb == "get") {
      ccs::v1::GetSessionRequest request;
      request.set_session_id(args[1]);
      absl::StatusOr<ccs::v1::Session> session = client.GetSession(request);
      if (!session.ok()) return Report(session.status());
      absl::GetFlag(FLAGS_json) ? PrintJson(*session) : PrintSession(*session);
      return kOk;
    }
    ccs::v1::DeleteSessionRequest request;
    request.set_session_id(args[1]);
    absl::StatusOr<ccs::v1::DeleteSessionResponse> reply = client.DeleteSession(request);
    if (!reply.ok()) return Report(reply.status());
    if (absl::GetFlag(FLAGS_json)) {
      PrintJson(*reply);
    } else {
      std::cout << "deleted " << args[1] << " (" << Bytes(reply->bytes_freed())
                << " freed)\n";
    }
    return kOk;
  }
  return UsageError("use: sessions list | sessions get ID | sessions delete ID");
}

bool WantsHelp(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "-help") return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(GeneralHelp());
  // Help is answered before flag parsing so that `ccs compress --help`
  // explains compress rather than printing every flag of the program.
  if (WantsHelp(argc, argv) || argc < 2) {
    for (int i = 1; i < argc; ++i) {
      const auto it = CommandHelp().find(argv[i]);
      if (it != CommandHelp().end()) {
        std::cout << it->second << "\n" << kExitCodes;
        return kOk;
      }
    }
    std::cout << GeneralHelp();
    return argc < 2 ? kUsage : kOk;
  }
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() < 2) return UsageError("no command given");
  const std::string command = positional[1];
  const Args args(positional.begin() + 2, positional.end());
  if (command == "help") {
    std::cout << GeneralHelp();
    return kOk;
  }
  using Handler = int (*)(Client&, const Args&);
  const std::map<std::string, Handler> handlers = {
      {"health", Health},   {"models", Models},
      {"compress", Compress}, {"generate", Generate},
      {"reconstruct", Reconstruct}, {"sessions", Sessions}};
  const auto handler = handlers.find(command);
  if (handler == handlers.end()) {
    return UsageError(absl::StrCat("unknown command \"", command, "\""));
  }

  ccs::client::ClientOptions options;
  options.target = absl::GetFlag(FLAGS_server);
  options.timeout = absl::GetFlag(FLAGS_timeout);
  options.bearer_token = absl::GetFlag(FLAGS_token);
  if (const std::string path = absl::GetFlag(FLAGS_token_file); !path.empty()) {
    if (!options.bearer_token.empty()) {
      return UsageError("--token and --token_file: pass one of them");
    }
    absl::StatusOr<std::string> text = ReadInput(path);
    if (!text.ok()) {
      std::cerr << "error: --token_file: " << text.status().message() << "\n";
      return kLocalError;
    }
    options.bearer_token = std::string(absl::StripAsciiWhitespace(
        absl::string_view(*text).substr(0, text->find('\n'))));
    if (options.bearer_token.empty()) {
      return UsageError(absl::StrCat("--token_file=", path, ": the first line is empty"));
    }
  }
  if (options.bearer_token.empty() && getenv("CCS_TOKEN") != nullptr) {
    options.bearer_token = getenv("CCS_TOKEN");
  }
  options.use_tls = absl::GetFlag(FLAGS_tls);
  if (!absl::GetFlag(FLAGS_ca_file).empty()) {
    absl::StatusOr<std::string> pem = ReadInput(absl::GetFlag(FLAGS_ca_file));
    if (!pem.ok()) {
      std::cerr << "error: --ca_file: " << pem.status().message() << "\n";
      return kLocalError;
    }
    options.root_certs_pem = *pem;
  }
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
  if (!client.ok()) return UsageError(std::string(client.status().message()));
  return handler->second(**client, args);
}
