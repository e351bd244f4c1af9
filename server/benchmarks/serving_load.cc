// serving_load: closed-loop load on a running ccs_server, for the serving
// benchmark (run_serving_benchmark.py). `clients` threads, each with its own
// channel, send requests back to back until `requests` have been sent in
// all; prints one JSON line: throughput and latency percentiles, measured at
// the client.
//
//   serving_load --server=127.0.0.1:6000 --rpc=generate --clients=8 --requests=16
//
// compress: a new session per request, of a ~400-token context that differs
// per request (--method picks the compression). generate: each client first
// makes its own NONE session of a ~100-token context (not timed), then asks
// it questions, greedy, --max_new_tokens each.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/client.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051", "host:port of the server");
ABSL_FLAG(std::string, rpc, "generate", "compress or generate");
ABSL_FLAG(int, clients, 1, "concurrent clients");
ABSL_FLAG(int, requests, 16, "requests in all");
ABSL_FLAG(int, warmup, 2, "untimed requests first (one client)");
ABSL_FLAG(std::string, method, "IC_FORMER", "compress: NONE, RCC or IC_FORMER");
ABSL_FLAG(int, max_new_tokens, 16, "generate: tokens per answer at most");

namespace {

using ccs::client::Client;

// English-ish text of about `sentences` sentences, different for each seed.
std::string Text(int seed, int sentences) {
  static const char* const kSubjects[] = {"The river", "A small town", "The old library",
                                          "Our neighbour", "The morning train", "A red kite"};
  static const char* const kVerbs[] = {"passes", "remembers", "watches", "follows", "crosses",
                                       "waits for"};
  static const char* const kObjects[] = {"the quiet hills", "a long winter", "the market square",
                                         "seven bridges", "the harbour lights", "an open window"};
  std::string text;
  for (int i = 0; i < sentences; ++i) {
    const int k = seed * 31 + i * 7;
    absl::StrAppend(&text, kSubjects[k % 6], " ", kVerbs[(k / 6) % 6], " ", kObjects[(k / 36) % 6],
                    " in year ", 1900 + (seed * 13 + i) % 120, ". ");
  }
  return text;
}

ccs::v1::Method MethodFlag() {
  const std::string m = absl::GetFlag(FLAGS_method);
  if (m == "NONE") return ccs::v1::METHOD_NONE;
  if (m == "RCC") return ccs::v1::METHOD_RCC;
  return ccs::v1::METHOD_IC_FORMER;
}

std::unique_ptr<Client> Connect() {
  ccs::client::ClientOptions options;
  options.target = absl::GetFlag(FLAGS_server);
  options.timeout = absl::Minutes(10);
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
  if (!client.ok()) {
    std::fprintf(stderr, "connect: %s\n", client.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(client);
}

// One timed request; its generated tokens (0 for compress).
absl::StatusOr<int64_t> Compress(Client& client, int request) {
  ccs::v1::CompressRequest compress;
  compress.set_text(Text(request, 32));
  compress.set_method(MethodFlag());
  absl::StatusOr<ccs::v1::CompressResponse> reply = client.Compress(compress);
  if (!reply.ok()) return reply.status();
  return 0;
}

absl::StatusOr<int64_t> Generate(Client& client, const std::string& session, int request) {
  ccs::v1::GenerateRequest generate;
  generate.set_session_id(session);
  generate.set_prompt(absl::StrCat("In one sentence, question ", request,
                                   ": what does the text say about the river?"));
  generate.mutable_sampling()->set_max_new_tokens(absl::GetFlag(FLAGS_max_new_tokens));
  absl::StatusOr<ccs::v1::GenerateResponse> last =
      client.Generate(generate, [](const ccs::v1::GenerateResponse&) {});
  if (!last.ok()) return last.status();
  return last->usage().generated_tokens();
}

absl::StatusOr<std::string> MakeSession(Client& client, int seed) {
  ccs::v1::CompressRequest compress;
  compress.set_text(Text(1000 + seed, 8));
  compress.set_method(ccs::v1::METHOD_NONE);
  absl::StatusOr<ccs::v1::CompressResponse> reply = client.Compress(compress);
  if (!reply.ok()) return reply.status();
  return reply->session_id();
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  // Nearest rank.
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * values.size()));
  return values[std::min(values.size(), std::max<size_t>(rank, 1)) - 1];
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const bool generate = absl::GetFlag(FLAGS_rpc) == "generate";
  const int clients = std::max(1, absl::GetFlag(FLAGS_clients));
  const int requests = absl::GetFlag(FLAGS_requests);

  std::vector<std::unique_ptr<Client>> channels;
  std::vector<std::string> sessions;
  for (int c = 0; c < clients; ++c) {
    channels.push_back(Connect());
    if (generate) {
      absl::StatusOr<std::string> session = MakeSession(*channels.back(), c);
      if (!session.ok()) {
        std::fprintf(stderr, "session: %s\n", session.status().ToString().c_str());
        return 1;
      }
      sessions.push_back(*session);
    }
  }
  for (int w = 0; w < absl::GetFlag(FLAGS_warmup); ++w) {
    absl::StatusOr<int64_t> done = generate ? Generate(*channels[0], sessions[0], -1 - w)
                                            : Compress(*channels[0], -1 - w);
    if (!done.ok()) {
      std::fprintf(stderr, "warm-up: %s\n", done.status().ToString().c_str());
      return 1;
    }
  }

  std::atomic<int> next{0};
  absl::Mutex mutex;
  std::vector<double> latencies_ms;
  int64_t tokens = 0;
  int errors = 0;
  std::string first_error;
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (int r = next++; r < requests; r = next++) {
        const absl::Time sent = absl::Now();
        absl::StatusOr<int64_t> done =
            generate ? Generate(*channels[c], sessions[c], r) : Compress(*channels[c], r);
        const double ms = absl::ToDoubleMilliseconds(absl::Now() - sent);
        absl::MutexLock lock(&mutex);
        if (!done.ok()) {
          if (errors++ == 0) first_error = done.status().ToString();
          continue;
        }
        latencies_ms.push_back(ms);
        tokens += *done;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (errors > 0) std::fprintf(stderr, "%d errors, the first: %s\n", errors, first_error.c_str());
  std::printf(
      "{\"rpc\": \"%s\", \"clients\": %d, \"requests\": %d, \"errors\": %d, \"seconds\": %.3f, "
      "\"requests_per_s\": %.3f, \"tokens_per_s\": %.2f, \"p50_ms\": %.1f, \"p99_ms\": %.1f}\n",
      generate ? "generate" : "compress", clients, requests, errors, seconds,
      latencies_ms.size() / seconds, tokens / seconds, Percentile(latencies_ms, 50),
      Percentile(latencies_ms, 99));
  return errors == 0 ? 0 : 2;
}
