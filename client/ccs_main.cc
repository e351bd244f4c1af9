// ccs: the command-line client of the context-compression service.
// `ccs help` lists the commands; `ccs <command> --help` explains one.
#include <sys/stat.h>
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
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "client/cli_flags.h"
#include "client/client.h"
#include "client/exit_codes.h"
#include "client/progress_bar.h"
#include "client/text_chunker.h"
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
ABSL_FLAG(int64_t, chunk_bytes, 64 << 10,
          "compress: send the input as appends of at most this many bytes "
          "(cut at paragraph, line, word or at least character boundaries); "
          "0 = all in one request");
ABSL_FLAG(std::string, progress, "auto",
          "compress: progress bar on stderr: auto (when stderr is a "
          "terminal and --json is off), on, off");

namespace {

using ccs::client::ExitCodeFor;
using ccs::client::kExitCodeHelp;
using ccs::client::kExitLocalError;
using ccs::client::kExitOk;
using ccs::client::kExitTryLater;
using ccs::client::kExitUsage;

constexpr char kGlobalFlags[] =
    "Global flags: --server=host:port (default localhost:50051) "
    "--timeout=60s --json\n  --token=T (or env CCS_TOKEN) --tls "
    "--ca_file=roots.pem\n";

const std::map<std::string, std::string>& CommandHelp() {
  static const auto* const help = new std::map<std::string, std::string>{
      {"health",
       "ccs health\n  Health of the server and the services it lists through "
       "reflection.\n"},
      {"models", "ccs models\n  The models the server has loaded.\n"},
      {"compress",
       "ccs compress [FILE|-] [--session=ID] [--model=NAME] "
       "[--method=auto|rcc|ic_former|none] [--low_latency]\n"
       "    [--chunk_bytes=65536] [--progress=auto|on|off]\n"
       "  Compresses FILE (or stdin) into a new session, or appends it to\n"
       "  --session. Input larger than --chunk_bytes is sent as successive\n"
       "  appends to the one session, cut at paragraph, line or word\n"
       "  boundaries (never inside a UTF-8 character); a progress bar shows\n"
       "  on stderr when it is a terminal. Prints the session id and what\n"
       "  the memory holds (--json: the replies' counts summed).\n"},
      {"generate",
       "ccs generate PROMPT (--session=ID | --context_file=FILE) "
       "[--max_new_tokens=N] [--temperature=T] [--top_k=K] [--top_p=P]\n"
       "  [--repetition_penalty=R] [--stop=a,b] [--seed=S] "
       "[--instruction_reconstruction]\n"
       "  Answers PROMPT from the session's memory; tokens print on stdout as\n"
       "  they stream, the finish reason and usage on stderr. With\n"
       "  --context_file (- for stdin) and optional --method and --model, the\n"
       "  context is compressed for this call only.\n"},
      {"reconstruct",
       "ccs reconstruct --session=ID [--max_tokens=N]\n"
       "  Regenerates the compressed text from the session's memory, greedily, with\n"
       "  no end before half as many tokens as were compressed (or N, if fewer).\n"},
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
  absl::StrAppend(&text, "\n`ccs COMMAND --help` or `ccs help COMMAND` for "
                  "details.\n", kExitCodeHelp);
  return text;
}

int Report(const absl::Status& status) {
  std::cerr << "error: " << absl::StatusCodeToString(status.code()) << ": "
            << status.message() << "\n";
  return ExitCodeFor(status.code());
}

int UsageError(const std::string& message) {
  std::cerr << "usage error: " << message
            << "\n(`ccs help` lists the commands)\n";
  return kExitUsage;
}

int LocalError(const std::string& message) {
  std::cerr << "error: " << message << "\n";
  return kExitLocalError;
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

void PrintSession(const ccs::v1::Session& s) {
  std::cout << absl::StrFormat(
      "%s  %s  model=%s  tokens=%d  memory=%d  bytes=%s  tier=%s\n",
      s.session_id(), MethodName(s.method()), s.model(), s.tokens(),
      s.memory_slots(), ccs::client::HumanBytes(s.bytes()),
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
  return *health == "SERVING" ? kExitOk : kExitTryLater;
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
  return kExitOk;
}

// Where the compress command reads from: a file or stdin, with its size
// when known (for the progress bar's percentage).
struct CompressInput {
  std::ifstream file;
  std::istream* stream = nullptr;
  int64_t size = -1;
};

absl::Status OpenInput(const std::string& path, CompressInput* input) {
  struct stat info;
  if (path == "-") {
    input->stream = &std::cin;
    if (fstat(STDIN_FILENO, &info) == 0 && S_ISREG(info.st_mode)) {
      input->size = info.st_size;
    }
    return absl::OkStatus();
  }
  input->file.open(path, std::ios::binary);
  if (!input->file) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  input->stream = &input->file;
  if (stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode)) {
    input->size = info.st_size;
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> ProgressWanted() {
  const std::string mode = absl::GetFlag(FLAGS_progress);
  if (mode == "on") return true;
  if (mode == "off") return false;
  if (mode == "auto") {
    return isatty(STDERR_FILENO) == 1 && !absl::GetFlag(FLAGS_json);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--progress=", mode, ": use auto, on or off"));
}

// Adds one append's reply to the running totals of the command.
void Accumulate(const ccs::v1::CompressResponse& reply,
                ccs::v1::CompressResponse* total) {
  const int64_t tokens = total->tokens_in() + reply.tokens_in();
  const int64_t vectors = total->memory_vectors_out() + reply.memory_vectors_out();
  const int32_t segments = total->segments() + reply.segments();
  const int64_t compute = total->compute_micros() + reply.compute_micros();
  const int64_t queue = total->queue_micros() + reply.queue_micros();
  *total = reply;
  total->set_tokens_in(tokens);
  total->set_memory_vectors_out(vectors);
  total->set_segments(segments);
  total->set_compute_micros(compute);
  total->set_queue_micros(queue);
}

int Compress(Client& client, const Args& args) {
  if (args.size() > 1) return UsageError("compress takes one FILE (or -)");
  absl::StatusOr<ccs::v1::Method> method = ParseMethod(absl::GetFlag(FLAGS_method));
  if (!method.ok()) return UsageError(std::string(method.status().message()));
  const int64_t chunk_bytes = absl::GetFlag(FLAGS_chunk_bytes);
  if (chunk_bytes != 0 && chunk_bytes < 16) {
    return UsageError("--chunk_bytes must be 0 (one request) or at least 16");
  }
  absl::StatusOr<bool> progress_wanted = ProgressWanted();
  if (!progress_wanted.ok()) {
    return UsageError(std::string(progress_wanted.status().message()));
  }
  const std::string path = args.empty() ? "-" : args[0];
  CompressInput input;
  if (absl::Status opened = OpenInput(path, &input); !opened.ok()) {
    return LocalError(std::string(opened.message()));
  }
  // 0 = one request: the whole input as one piece.
  ccs::client::TextChunker chunker(
      input.stream, chunk_bytes == 0 ? ccs::client::kMaxChunkBytes
                                     : static_cast<size_t>(chunk_bytes));
  ccs::client::ProgressBar progress(stderr, input.size, *progress_wanted);

  std::string session_id = absl::GetFlag(FLAGS_session);
  // Every append states the session's token count it builds on
  // (expected_session_tokens), so that a retried append the server had
  // already stored fails with ABORTED instead of landing twice.
  int64_t session_tokens = 0;
  if (!session_id.empty()) {
    ccs::v1::GetSessionRequest get;
    get.set_session_id(session_id);
    absl::StatusOr<ccs::v1::Session> session = client.GetSession(get);
    if (!session.ok()) return Report(session.status());
    session_tokens = session->tokens();
  }
  ccs::v1::CompressResponse total;
  int appends = 0;
  for (;;) {
    const int64_t offset = chunker.consumed();
    absl::StatusOr<std::string> chunk = chunker.Next();
    if (!chunk.ok()) return LocalError(std::string(chunk.status().message()));
    // An empty input is still sent once: the server says what it wants.
    if (chunk->empty() && appends > 0) break;
    ccs::v1::CompressRequest request;
    request.set_session_id(session_id);
    request.set_text(*std::move(chunk));
    request.set_model(absl::GetFlag(FLAGS_model));
    request.set_method(*method);
    request.set_prefer_low_latency(absl::GetFlag(FLAGS_low_latency));
    request.set_expected_session_tokens(session_tokens);
    absl::StatusOr<ccs::v1::CompressResponse> reply = client.Compress(request);
    if (!reply.ok()) {
      progress.Finish();
      if (appends > 0) {
        std::cerr << absl::StrFormat(
            "the first %d bytes of the input are in session %s (%d "
            "request(s)); the append of bytes [%d, %d) failed:\n",
            offset, session_id, appends, offset, chunker.consumed());
      }
      if (reply.status().code() == absl::StatusCode::kAborted) {
        // After a lost connection, the usual cause is a retried try of an
        // append the server had stored; the CLI cannot tell that from
        // another client's append, so it stops and says how to go on.
        std::cerr << absl::StrFormat(
            "the session is not at the %d tokens this append expected: an earlier try of it "
            "(retried after a lost connection) or another client appended; nothing more was "
            "stored. `ccs sessions get %s` shows the session. If this chunk landed, send the "
            "rest with `tail -c +%d INPUT | ccs compress --session=%s -`, if not with "
            "`tail -c +%d INPUT | ccs compress --session=%s -`\n",
            session_tokens, session_id, chunker.consumed() + 1, session_id, offset + 1,
            session_id);
      }
      return Report(reply.status());
    }
    session_id = reply->session_id();
    session_tokens = reply->session().tokens();
    ++appends;
    Accumulate(*reply, &total);
    progress.Update(chunker.consumed(),
                    absl::StrFormat("%d request(s)  %d tokens", appends,
                                    total.tokens_in()));
    if (chunker.consumed() == offset) break;  // the empty input's one request
  }
  progress.Finish();
  if (absl::GetFlag(FLAGS_json)) {
    PrintJson(total);
  } else {
    std::cout << absl::StrFormat(
        "session %s (%s, model %s): %d tokens -> %d memory vectors in %d "
        "segment(s), %d request(s), %.1f ms\n",
        total.session_id(), MethodName(total.method()), total.model(),
        total.tokens_in(), total.memory_vectors_out(), total.segments(),
        appends, total.compute_micros() / 1000.0);
    PrintSession(total.session());
  }
  return kExitOk;
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

  // Ends the text's line, so that an error or the finish line that follows
  // starts on its own.
  void EndLine() {
    if (!at_line_start_) std::cout << "\n" << std::flush;
    at_line_start_ = true;
  }

  template <typename Response>
  void Finish(const Response& last) {
    if (absl::GetFlag(FLAGS_json)) return;
    EndLine();
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
  if (absl::GetFlag(FLAGS_session).empty() ==
      absl::GetFlag(FLAGS_context_file).empty()) {
    return UsageError("generate needs exactly one of --session and --context_file");
  }
  ccs::v1::GenerateRequest request;
  request.set_prompt(args[0]);
  request.set_session_id(absl::GetFlag(FLAGS_session));
  if (!absl::GetFlag(FLAGS_context_file).empty()) {
    absl::StatusOr<std::string> context = ReadInput(absl::GetFlag(FLAGS_context_file));
    if (!context.ok()) return LocalError(std::string(context.status().message()));
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
  if (!last.ok()) {
    printer.EndLine();
    return Report(last.status());
  }
  printer.Finish(*last);
  return kExitOk;
}

int Reconstruct(Client& client, const Args& args) {
  if (!args.empty()) return UsageError("reconstruct takes no arguments");
  if (absl::GetFlag(FLAGS_session).empty()) {
    return UsageError("reconstruct needs --session=ID");
  }
  ccs::v1::ReconstructRequest request;
  request.set_session_id(absl::GetFlag(FLAGS_session));
  request.set_max_tokens(absl::GetFlag(FLAGS_max_tokens));
  StreamPrinter printer;
  absl::StatusOr<ccs::v1::ReconstructResponse> last = client.Reconstruct(
      request, [&](const ccs::v1::ReconstructResponse& m) { printer(m); });
  if (!last.ok()) {
    printer.EndLine();
    return Report(last.status());
  }
  printer.Finish(*last);
  return kExitOk;
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
    return kExitOk;
  }
  if ((verb == "get" || verb == "delete") && args.size() == 2) {
    if (verb == "get") {
      ccs::v1::GetSessionRequest request;
      request.set_session_id(args[1]);
      absl::StatusOr<ccs::v1::Session> session = client.GetSession(request);
      if (!session.ok()) return Report(session.status());
      absl::GetFlag(FLAGS_json) ? PrintJson(*session) : PrintSession(*session);
      return kExitOk;
    }
    ccs::v1::DeleteSessionRequest request;
    request.set_session_id(args[1]);
    absl::StatusOr<ccs::v1::DeleteSessionResponse> reply = client.DeleteSession(request);
    if (!reply.ok()) return Report(reply.status());
    if (absl::GetFlag(FLAGS_json)) {
      PrintJson(*reply);
    } else {
      std::cout << "deleted " << args[1] << " (" << ccs::client::HumanBytes(reply->bytes_freed())
                << " freed)\n";
    }
    return kExitOk;
  }
  return UsageError("use: sessions list | sessions get ID | sessions delete ID");
}

std::string CommandHelpText(const std::string& help) {
  return absl::StrCat(help, "\n", kGlobalFlags, "\n", kExitCodeHelp);
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
        std::cout << CommandHelpText(it->second);
        return kExitOk;
      }
    }
    std::cout << GeneralHelp();
    return argc < 2 ? kExitUsage : kExitOk;
  }
  absl::StatusOr<std::vector<std::string>> positional =
      ccs::client::ParseFlags(argc, argv);
  if (!positional.ok()) return UsageError(std::string(positional.status().message()));
  if (positional->empty()) return UsageError("no command given");
  const std::string command = (*positional)[0];
  const Args args(positional->begin() + 1, positional->end());
  if (command == "help") {
    const auto it = args.empty() ? CommandHelp().end() : CommandHelp().find(args[0]);
    std::cout << (it == CommandHelp().end() ? GeneralHelp() : CommandHelpText(it->second));
    return kExitOk;
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
      return kExitLocalError;
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
      return LocalError(absl::StrCat("--ca_file: ", pem.status().message()));
    }
    options.root_certs_pem = *pem;
  }
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
  if (!client.ok()) return UsageError(std::string(client.status().message()));
  return handler->second(**client, args);
}
