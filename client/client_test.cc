// The client against an in-process fake server whose answers are scripted:
// the retry rules as the real client applies them over gRPC, streams,
// deadlines, credentials and request ids.
#include "client/client.h"

#include <deque>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "ccs/v1/context_compression.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace ccs::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Fails each call with the next scripted code, if any, before producing any
// output; counts calls and remembers the last authorization header.
class FakeService final : public v1::ContextCompression::Service {
 public:
  void Script(std::vector<grpc::StatusCode> failures) {
    absl::MutexLock lock(&mutex_);
    failures_.assign(failures.begin(), failures.end());
  }
  int calls() {
    absl::MutexLock lock(&mutex_);
    return calls_;
  }
  std::string authorization() {
    absl::MutexLock lock(&mutex_);
    return authorization_;
  }

  grpc::Status Compress(grpc::ServerContext* context,
                        const v1::CompressRequest* request,
                        v1::CompressResponse* response) override {
    const grpc::Status failure = Enter(context);
    if (!failure.ok()) return failure;
    response->set_session_id("0123456789abcdef0123456789abcdef");
    response->set_tokens_in(static_cast<int64_t>(request->text().size()));
    return grpc::Status::OK;
  }

  // Prompt "fail after output": one message, then UNAVAILABLE.
  grpc::Status Generate(
      grpc::ServerContext* context, const v1::GenerateRequest* request,
      grpc::ServerWriter<v1::GenerateResponse>* writer) override {
    const grpc::Status failure = Enter(context);
    if (!failure.ok()) return failure;
    v1::GenerateResponse message;
    message.set_text("Hel");
    message.add_token_ids(1);
    writer->Write(message);
    if (request->prompt() == "fail after output") {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "lost mid-stream");
    }
    message.set_text("lo");
    message.set_finish_reason(v1::FINISH_REASON_EOS);
    message.mutable_usage()->set_generated_tokens(2);
    writer->Write(message);
    return grpc::Status::OK;
  }

  grpc::Status Reconstruct(
      grpc::ServerContext* context, const v1::ReconstructRequest*,
      grpc::ServerWriter<v1::ReconstructResponse>* writer) override {
    const grpc::Status failure = Enter(context);
    if (!failure.ok()) return failure;
    v1::ReconstructResponse message;
    message.set_text("back");
    message.set_finish_reason(v1::FINISH_REASON_EOS);
    writer->Write(message);
    return grpc::Status::OK;
  }

  // Session "slow" answers after 5 s (or when the call is cancelled).
  grpc::Status GetSession(grpc::ServerContext* context,
                          const v1::GetSessionRequest* request,
                          v1::Session* session) override {
    const grpc::Status failure = Enter(context);
    if (!failure.ok()) return failure;
    if (request->session_id() == "slow") {
      const absl::Time until = absl::Now() + absl::Seconds(5);
      while (absl::Now() < until && !context->IsCancelled()) {
        absl::SleepFor(absl::Milliseconds(5));
      }
    }
    session->set_session_id(request->session_id());
    return grpc::Status::OK;
  }

  grpc::Status ListModels(grpc::ServerContext* context,
                          const v1::ListModelsRequest*,
                          v1::ListModelsResponse* response) override {
    const grpc::Status failure = Enter(context);
    if (!failure.ok()) return failure;
    response->add_models()->set_name("fake");
    return grpc::Status::OK;
  }

 private:
  grpc::Status Enter(grpc::ServerContext* context) {
    absl::MutexLock lock(&mutex_);
    ++calls_;
    context->AddInitialMetadata("x-request-id", "req-" + std::to_string(calls_));
    const auto& metadata = context->client_metadata();
    const auto it = metadata.find("authorization");
    authorization_ = it == metadata.end()
                         ? ""
                         : std::string(it->second.data(), it->second.size());
    if (failures_.empty()) return grpc::Status::OK;
    const grpc::StatusCode code = failures_.front();
    failures_.pop_front();
    return grpc::Status(code, "scripted");
  }

  absl::Mutex mutex_;
  std::deque<grpc::StatusCode> failures_ ABSL_GUARDED_BY(mutex_);
  int calls_ ABSL_GUARDED_BY(mutex_) = 0;
  std::string authorization_ ABSL_GUARDED_BY(mutex_);
};

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    options_.target = "127.0.0.1:" + std::to_string(port);
    options_.timeout = absl::Seconds(10);
    options_.retry.max_attempts = 4;
    options_.retry.initial_backoff = absl::Milliseconds(1);
    options_.retry.max_backoff = absl::Milliseconds(4);
  }

  void TearDown() override {
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  }

  std::unique_ptr<Client> Connect() {
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options_);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  FakeService service_;
  std::unique_ptr<grpc::Server> server_;
  ClientOptions options_;
};

TEST_F(ClientTest, RetriesUnavailableAndResourceExhaustedThenSucceeds) {
  service_.Script({grpc::StatusCode::UNAVAILABLE,
                   grpc::StatusCode::RESOURCE_EXHAUSTED});
  std::unique_ptr<Client> client = Connect();
  v1::CompressRequest request;
  request.set_text("abc");
  absl::StatusOr<v1::CompressResponse> reply = client->Compress(request);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->tokens_in(), 3);
  EXPECT_EQ(service_.calls(), 3);
}

TEST_F(ClientTest, InvalidArgumentIsNeverRetried) {
  service_.Script({grpc::StatusCode::INVALID_ARGUMENT});
  std::unique_ptr<Client> client = Connect();
  absl::StatusOr<v1::CompressResponse> reply = client->Compress({});
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(service_.calls(), 1);
}

TEST_F(ClientTest, GivesUpAfterMaxAttemptsWithTheLastError) {
  service_.Script(std::vector<grpc::StatusCode>(
      10, grpc::StatusCode::RESOURCE_EXHAUSTED));
  std::unique_ptr<Client> client = Connect();
  absl::StatusOr<v1::ListModelsResponse> models = client->ListModels();
  EXPECT_EQ(models.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(models.status().message(), HasSubstr("(after 4 attempts)"));
  EXPECT_EQ(service_.calls(), 4);
}

TEST_F(ClientTest, ErrorsCarryCodeMessageAndRequestId) {
  service_.Script({grpc::StatusCode::NOT_FOUND});
  std::unique_ptr<Client> client = Connect();
  v1::GetSessionRequest request;
  request.set_session_id("gone");
  absl::StatusOr<v1::Session> session = client->GetSession(request);
  EXPECT_EQ(session.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(session.status().message(), HasSubstr("scripted"));
  EXPECT_THAT(session.status().message(), HasSubstr("[request id req-1]"));
  EXPECT_EQ(RequestIdOf(session.status()), "req-1");
  EXPECT_EQ(RequestIdOf(absl::OkStatus()), "");
}

TEST_F(ClientTest, StreamIsRetriedBeforeItsFirstMessage) {
  service_.Script({grpc::StatusCode::UNAVAILABLE});
  std::unique_ptr<Client> client = Connect();
  v1::GenerateRequest request;
  request.set_prompt("hi");
  std::vector<std::string> pieces;
  absl::StatusOr<v1::GenerateResponse> last = client->Generate(
      request, [&](const v1::GenerateResponse& m) { pieces.push_back(m.text()); });
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_THAT(pieces, ElementsAre("Hel", "lo"));  // each once
  EXPECT_EQ(last->finish_reason(), v1::FINISH_REASON_EOS);
  EXPECT_EQ(service_.calls(), 2);
}

TEST_F(ClientTest, StreamIsNeverRetriedAfterDeliveringOutput) {
  std::unique_ptr<Client> client = Connect();
  v1::GenerateRequest request;
  request.set_prompt("fail after output");
  std::vector<std::string> pieces;
  absl::StatusOr<v1::GenerateResponse> last = client->Generate(
      request, [&](const v1::GenerateResponse& m) { pieces.push_back(m.text()); });
  EXPECT_EQ(last.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(pieces, ElementsAre("Hel"));
  EXPECT_EQ(service_.calls(), 1);
}

TEST_F(ClientTest, SynchronousStreamsReturnTheWholeText) {
  std::unique_ptr<Client> client = Connect();
  v1::GenerateRequest request;
  request.set_prompt("hi");
  absl::StatusOr<Completion<v1::GenerateResponse>> answer =
      client->GenerateText(request);
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->text, "Hello");
  EXPECT_EQ(answer->last.usage().generated_tokens(), 2);
  absl::StatusOr<Completion<v1::ReconstructResponse>> back =
      client->ReconstructText({});
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->text, "back");
}

TEST_F(ClientTest, PerCallDeadlineIsDeadlineExceededAndNotRetried) {
  std::unique_ptr<Client> client = Connect();
  v1::GetSessionRequest request;
  request.set_session_id("slow");
  CallOptions call;
  call.timeout = absl::Milliseconds(200);
  const absl::Time start = absl::Now();
  absl::StatusOr<v1::Session> session = client->GetSession(request, call);
  EXPECT_EQ(session.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));
  EXPECT_EQ(service_.calls(), 1);
}

TEST_F(ClientTest, SendsTheBearerToken) {
  options_.bearer_token = "s3cret";
  std::unique_ptr<Client> client = Connect();
  ASSERT_TRUE(client->ListModels().ok());
  EXPECT_EQ(service_.authorization(), "Bearer s3cret");
}

TEST(ConnectTest, RejectsBadOptions) {
  ClientOptions options;
  options.target = "";
  EXPECT_EQ(Client::Connect(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.target = "localhost:1";
  options.timeout = absl::ZeroDuration();
  EXPECT_EQ(Client::Connect(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.timeout = absl::Seconds(1);
  options.retry.max_attempts = 0;
  EXPECT_EQ(Client::Connect(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ConnectTest, UnreachableServerIsUnavailableAfterRetries) {
  ClientOptions options;
  options.target = "127.0.0.1:1";  // nothing listens on port 1
  options.timeout = absl::Seconds(5);
  options.retry.max_attempts = 3;
  options.retry.initial_backoff = absl::Milliseconds(1);
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
  ASSERT_TRUE(client.ok());
  absl::StatusOr<v1::ListModelsResponse> models = (*client)->ListModels();
  EXPECT_EQ(models.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(models.status().message(), HasSubstr("(after 3 attempts)"));
}

}  // namespace
}  // namespace ccs::client
