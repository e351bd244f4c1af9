// End-to-end: the real ccs_server binary on a loopback port, called through
// the client library and the ccs command-line client.
#include <signal.h>

#include <algorithm>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"

namespace ccs {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr char kSessionId[] = "0123456789abcdef0123456789abcdef";

class EndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<testing::ServerProcess>> started =
        testing::ServerProcess::Start({"--max_receive_message_bytes=65536",
                                       "--max_new_tokens=100"});
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = started->release();
  }

  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    client::ClientOptions options;
    options.target = server_->address();
    options.timeout = absl::Seconds(20);
    absl::StatusOr<std::unique_ptr<client::Client>> connected =
        client::Client::Connect(options);
    ASSERT_TRUE(connected.ok()) << connected.status();
    client_ = std::move(*connected);
  }

  // Runs the ccs CLI against the server; returns its exit code.
  int Cli(const std::string& arguments, std::string* output) {
    return testing::RunCommand(
        absl::StrCat(testing::RunfilePath("client/ccs"),
                     " --server=", server_->address(), " ", arguments),
        output);
  }

  static testing::ServerProcess* server_;
  std::unique_ptr<client::Client> client_;
};

testing::ServerProcess* EndToEndTest::server_ = nullptr;

TEST_F(EndToEndTest, HealthIsServing) {
  absl::StatusOr<std::string> health = client_->Health("");
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, "SERVING");
  health = client_->Health("ccs.v1.ContextCompression");
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, "SERVING");
}

TEST_F(EndToEndTest, ReflectionListsTheServices) {
  absl::StatusOr<std::vector<std::string>> services = client_->ListServices();
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_THAT(*services,
              UnorderedElementsAre("ccs.v1.ContextCompression",
                                   "grpc.health.v1.Health",
                                   "grpc.reflection.v1alpha.ServerReflection"));
}

TEST_F(EndToEndTest, ListModelsReportsNoModelLoaded) {
  absl::StatusOr<v1::ListModelsResponse> models = client_->ListModels();
  ASSERT_TRUE(models.ok()) << models.status();
  EXPECT_EQ(models->models_size(), 0);
}

TEST_F(EndToEndTest, InvalidCompressRequestsAreRejectedWithReasons) {
  v1::CompressRequest empty;
  absl::StatusOr<v1::CompressResponse> reply = client_->Compress(empty);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(reply.status().message(), HasSubstr("the context is empty"));
  EXPECT_THAT(reply.status().message(), HasSubstr("[request id "));

  v1::CompressRequest bad_utf8;
  bad_utf8.set_text("abc\xff");
  reply = client_->Compress(bad_utf8);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(reply.status().message(), HasSubstr("offset 3"));

  v1::CompressRequest bad_session;
  bad_session.set_text("hello");
  bad_session.set_session_id("../etc/passwd");
  reply = client_->Compress(bad_session);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(reply.status().message(), HasSubstr("32 lowercase hex"));
}

TEST_F(EndToEndTest, InvalidUtf8InAStringFieldIsRefusedNotCrashing) {
  v1::GetSessionRequest request;
  request.set_session_id("\xff\xfe");
  absl::StatusOr<v1::Session> reply = client_->GetSession(request);
  EXPECT_FALSE(reply.ok());
  std::cerr << "protobuf layer answered: " << reply.status() << "\n";
  // The server is still serving.
  EXPECT_TRUE(client_->Health("").ok());
}

TEST_F(EndToEndTest, OversizedMessageIsResourceExhausted) {
  v1::CompressRequest request;
  request.set_text(std::string(100000, 'a'));  // over the 64 KiB limit
  EXPECT_EQ(client_->Compress(request).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST_F(EndToEndTest, WithoutAModelModelRpcsAreFailedPrecondition) {
  v1::CompressRequest compress;
  compress.set_text("A long document.");
  absl::StatusOr<v1::CompressResponse> reply = client_->Compress(compress);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(reply.status().message(), HasSubstr("--model_dir"));

  v1::GenerateRequest generate;
  generate.set_session_id(kSessionId);
  generate.set_prompt("What is it about?");
  int messages = 0;
  absl::StatusOr<v1::GenerateResponse> last = client_->Generate(
      generate, [&](const v1::GenerateResponse&) { ++messages; });
  EXPECT_EQ(last.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(messages, 0);

  v1::ReconstructRequest reconstruct;
  reconstruct.set_session_id(kSessionId);
  EXPECT_EQ(client_->Reconstruct(reconstruct, [](const auto&) {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(EndToEndTest, UnknownSessionsAreNotFound) {
  v1::GetSessionRequest get;
  get.set_session_id(kSessionId);
  EXPECT_EQ(client_->GetSession(get).status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<v1::ListSessionsResponse> list = client_->ListSessions({});
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->sessions_size(), 0);
  v1::DeleteSessionRequest del;
  del.set_session_id(kSessionId);
  EXPECT_EQ(client_->DeleteSession(del).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EndToEndTest, StreamingValidationErrorsArriveAsStatus) {
  v1::GenerateRequest request;
  request.set_session_id(kSessionId);
  request.set_prompt("q");
  request.mutable_sampling()->set_max_new_tokens(101);  // server limit 100
  absl::StatusOr<v1::GenerateResponse> last =
      client_->Generate(request, [](const auto&) {});
  EXPECT_EQ(last.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(last.status().message(), HasSubstr("use 1 to 100"));
}

TEST_F(EndToEndTest, CliExitCodesTellFailureKindsApart) {
  std::string output;
  EXPECT_EQ(Cli("health", &output), 0);
  EXPECT_THAT(output, HasSubstr("SERVING"));
  EXPECT_EQ(Cli("--json models", &output), 0);
  EXPECT_THAT(output, HasSubstr("{"));
  EXPECT_EQ(Cli("sessions get not-an-id 2>/dev/null", &output), 3);
  EXPECT_EQ(Cli("no-such-command 2>/dev/null", &output), 2);
  EXPECT_EQ(Cli("compress /no/such/file 2>/dev/null", &output), 1);
  EXPECT_EQ(Cli("generate --help", &output), 0);
  EXPECT_THAT(output, HasSubstr("ccs generate PROMPT"));
  // Piped input: an empty context is refused by the server.
  EXPECT_EQ(Cli("compress - </dev/null 2>/dev/null", &output), 3);
  EXPECT_EQ(Cli("sessions list", &output), 0);
  EXPECT_THAT(output, HasSubstr("no sessions"));
  // Unreachable server: "try again later".
  EXPECT_EQ(testing::RunCommand(
                absl::StrCat(testing::RunfilePath("client/ccs"),
                             " --server=127.0.0.1:1 --timeout=3s models "
                             "2>/dev/null"),
                &output),
            4);
}

// Runs last (gtest keeps declaration order within a suite): stops the server.
TEST_F(EndToEndTest, SigtermDrainsAndExitsCleanly) {
  const absl::Time start = absl::Now();
  EXPECT_EQ(server_->Stop(SIGTERM), 0);
  EXPECT_LT(absl::Now() - start, absl::Seconds(15));
  absl::StatusOr<std::string> health = client_->Health("");
  EXPECT_FALSE(health.ok());
}

}  // namespace
}  // namespace ccs
