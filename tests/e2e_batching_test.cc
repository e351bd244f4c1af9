// End-to-end with batching on: the real ccs_server on a loopback port over
// the tiny random model, with Compress batched dynamically and decode steps
// of Generate and Reconstruct streams batched continuously. 64 clients (one
// thread and one channel each) run a mix of all three at once; every call
// succeeds and gives exactly what the same calls give one at a time.
#include <signal.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/server_process.h"

namespace ccs {
namespace {

constexpr int kClients = 64;

using testing::FreePort;
using testing::Sample;

// One client's calls: compress a context, answer a question from it (greedy,
// so the answer is fixed), reconstruct it; one in four asks with an inline
// context instead.
struct Work {
  std::string context;
  v1::Method method = v1::METHOD_NONE;
  std::string prompt;
  int max_new_tokens = 0;
};

// What the calls gave; compared between the concurrent and sequential runs.
struct Result {
  absl::Status status;
  int64_t tokens_in = 0;
  int64_t memory_vectors_out = 0;
  std::string answer;
  std::vector<int32_t> answer_ids;
  std::string reconstruction;
  std::string inline_answer;
};

Work WorkOf(int client) {
  static const char* const kTopics[] = {"cats and sofas", "the weather in spring",
                                        "a train timetable", "how bread is baked",
                                        "the rules of chess", "a walk by the river"};
  static const v1::Method kMethods[] = {v1::METHOD_NONE, v1::METHOD_RCC, v1::METHOD_IC_FORMER};
  Work work;
  work.context = absl::StrCat("Document ", client, " is about ", kTopics[client % 6],
                              ". It has ", client % 5 + 1, " short parts, and nothing else.");
  work.method = kMethods[client % 3];
  work.prompt = absl::StrCat("What is document ", client, " about?");
  work.max_new_tokens = 4 + client % 7;
  return work;
}

Result RunWork(client::Client& client, const Work& work, bool inline_context) {
  Result result;
  v1::CompressRequest compress;
  compress.set_text(work.context);
  compress.set_method(work.method);
  absl::StatusOr<v1::CompressResponse> made = client.Compress(compress);
  if (!made.ok()) {
    result.status = made.status();
    return result;
  }
  result.tokens_in = made->tokens_in();
  result.memory_vectors_out = made->memory_vectors_out();

  v1::GenerateRequest generate;
  generate.set_session_id(made->session_id());
  generate.set_prompt(work.prompt);
  generate.mutable_sampling()->set_max_new_tokens(work.max_new_tokens);
  absl::StatusOr<v1::GenerateResponse> answered =
      client.Generate(generate, [&](const v1::GenerateResponse& m) {
        result.answer += m.text();
        result.answer_ids.insert(result.answer_ids.end(), m.token_ids().begin(),
                                 m.token_ids().end());
      });
  if (!answered.ok()) {
    result.status = answered.status();
    return result;
  }

  v1::ReconstructRequest reconstruct;
  reconstruct.set_session_id(made->session_id());
  reconstruct.set_max_tokens(6);
  absl::StatusOr<v1::ReconstructResponse> rebuilt = client.Reconstruct(
      reconstruct, [&](const v1::ReconstructResponse& m) { result.reconstruction += m.text(); });
  if (!rebuilt.ok()) {
    result.status = rebuilt.status();
    return result;
  }

  if (inline_context) {
    v1::GenerateRequest once;
    once.set_context(work.context);
    once.set_method(v1::METHOD_NONE);
    once.set_prompt(work.prompt);
    once.mutable_sampling()->set_max_new_tokens(3);
    absl::StatusOr<v1::GenerateResponse> inline_answer =
        client.Generate(once, [&](const v1::GenerateResponse& m) {
          result.inline_answer += m.text();
        });
    if (!inline_answer.ok()) result.status = inline_answer.status();
  }
  return result;
}

class BatchingEndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    metrics_port_ = FreePort();
    ASSERT_GT(metrics_port_, 0);
    const std::string tiny = testing::RunfilePath("tests/testdata/tiny/");
    absl::StatusOr<std::unique_ptr<testing::ServerProcess>> started =
        testing::ServerProcess::Start(
            {"--model_dir=" + tiny + "decoder", "--rcc_dir=" + tiny + "rcc",
             "--icformer_dir=" + tiny + "icformer", "--model_name=tiny", "--threads=1",
             "--workers=2", "--compress_max_batch=8", "--compress_max_wait_us=5000",
             "--decode_max_batch=16", "--queue_capacity=128", "--max_new_tokens=64",
             absl::StrCat("--metrics_port=", metrics_port_)});
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = started->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  static std::unique_ptr<client::Client> Connect() {
    client::ClientOptions options;
    options.target = server_->address();
    options.timeout = absl::Seconds(120);
    absl::StatusOr<std::unique_ptr<client::Client>> connected = client::Client::Connect(options);
    EXPECT_TRUE(connected.ok()) << connected.status();
    return connected.ok() ? *std::move(connected) : nullptr;
  }

  static std::string Scrape() {
    httplib::Client http("127.0.0.1", metrics_port_);
    httplib::Result response = http.Get("/metrics");
    EXPECT_TRUE(response && response->status == 200);
    return response ? response->body : "";
  }

  static testing::ServerProcess* server_;
  static int metrics_port_;
};
testing::ServerProcess* BatchingEndToEndTest::server_ = nullptr;
int BatchingEndToEndTest::metrics_port_ = 0;

TEST_F(BatchingEndToEndTest, SixtyFourConcurrentClientsGetTheSequentialResults) {
  ASSERT_NE(server_, nullptr);
  // One at a time: nothing to batch with.
  std::unique_ptr<client::Client> alone = Connect();
  ASSERT_NE(alone, nullptr);
  std::vector<Result> sequential;
  for (int i = 0; i < kClients; ++i) {
    sequential.push_back(RunWork(*alone, WorkOf(i), i % 4 == 0));
    ASSERT_TRUE(sequential.back().status.ok()) << "client " << i << ": "
                                               << sequential.back().status;
  }
  // All at once, released together so that their calls overlap.
  std::vector<Result> concurrent(kClients);
  std::vector<std::unique_ptr<client::Client>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(Connect());
    ASSERT_NE(clients.back(), nullptr);
  }
  absl::Notification go;
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      go.WaitForNotification();
      concurrent[i] = RunWork(*clients[i], WorkOf(i), i % 4 == 0);
    });
  }
  const std::string before = Scrape();
  go.Notify();
  for (std::thread& t : threads) t.join();
  const std::string after = Scrape();
  for (int i = 0; i < kClients; ++i) {
    SCOPED_TRACE(absl::StrCat("client ", i));
    const Result& want = sequential[i];
    const Result& got = concurrent[i];
    ASSERT_TRUE(got.status.ok()) << got.status;
    EXPECT_EQ(got.tokens_in, want.tokens_in);
    EXPECT_EQ(got.memory_vectors_out, want.memory_vectors_out);
    EXPECT_EQ(got.answer_ids, want.answer_ids);
    EXPECT_EQ(got.answer, want.answer);
    EXPECT_EQ(got.reconstruction, want.reconstruction);
    EXPECT_EQ(got.inline_answer, want.inline_answer);
  }
  // The calls were batched: more contexts than compress calls, more streams
  // than decode steps.
  auto delta = [&](const std::string& series) {
    return Sample(after, series) - Sample(before, series);
  };
  EXPECT_GT(delta("ccs_batch_size_sum{kind=\"compress\"}"),
            delta("ccs_batch_size_count{kind=\"compress\"}"));
  EXPECT_GT(delta("ccs_batch_size_sum{kind=\"decode\"}"),
            delta("ccs_batch_size_count{kind=\"decode\"}"));
}

// A client that gives up (its deadline passes) stops its stream; the
// batch goes on serving everyone else.
TEST_F(BatchingEndToEndTest, AbandonedStreamDoesNotDisturbTheOthers) {
  ASSERT_NE(server_, nullptr);
  std::unique_ptr<client::Client> patient = Connect();
  ASSERT_NE(patient, nullptr);
  const Work work = WorkOf(1);
  const Result before = RunWork(*patient, work, false);
  ASSERT_TRUE(before.status.ok()) << before.status;

  client::ClientOptions hasty_options;
  hasty_options.target = server_->address();
  hasty_options.timeout = absl::Milliseconds(300);
  hasty_options.retry.max_attempts = 1;
  absl::StatusOr<std::unique_ptr<client::Client>> hasty = client::Client::Connect(hasty_options);
  ASSERT_TRUE(hasty.ok());
  v1::CompressRequest compress;
  compress.set_text("A context for a long answer that nobody waits for.");
  compress.set_method(v1::METHOD_NONE);
  absl::StatusOr<v1::CompressResponse> made = patient->Compress(compress);
  ASSERT_TRUE(made.ok()) << made.status();
  std::thread abandoned([&] {
    v1::GenerateRequest generate;
    generate.set_session_id(made->session_id());
    generate.set_prompt("Talk for a long time.");
    generate.mutable_sampling()->set_max_new_tokens(64);
    generate.mutable_sampling()->set_temperature(1.0);
    generate.mutable_sampling()->set_seed(1);
    // Whether it ends in time or not, it must end (and not hang the batch).
    (void)(*hasty)->Generate(generate, [](const v1::GenerateResponse&) {});
  });
  const Result after = RunWork(*patient, work, false);
  abandoned.join();
  ASSERT_TRUE(after.status.ok()) << after.status;
  EXPECT_EQ(after.answer, before.answer);
  EXPECT_EQ(after.reconstruction, before.reconstruction);
}

TEST_F(BatchingEndToEndTest, ZzSigtermDrainsAndExitsCleanly) {
  ASSERT_NE(server_, nullptr);
  EXPECT_EQ(server_->Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace ccs
