// End-to-end with a model: the real ccs_server on a loopback port serving a
// tiny random GPT-NeoX model (real tokenizer, RCC checkpoint in the released
// schema), called through the client library and the CLI. The model's words
// are gibberish; what is checked is the service around it.
#include <signal.h>

#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"

namespace ccs {
namespace {

using ::testing::HasSubstr;

class ModelEndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string tiny = testing::RunfilePath("tests/testdata/tiny/");
    absl::StatusOr<std::unique_ptr<testing::ServerProcess>> started =
        testing::ServerProcess::Start({"--model_dir=" + tiny + "decoder",
                                       "--rcc_dir=" + tiny + "rcc",
                                       "--icformer_dir=" + tiny + "icformer", "--model_name=tiny",
                                       "--workers=2", "--max_new_tokens=64",
                                       // Batching off here (each stream alone on a worker);
                                       // e2e_batching_test runs with it on.
                                       "--decode_max_batch=1", "--compress_max_batch=1"});
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
    options.timeout = absl::Seconds(60);
    absl::StatusOr<std::unique_ptr<client::Client>> connected = client::Client::Connect(options);
    ASSERT_TRUE(connected.ok());
    client_ = std::move(*connected);
  }

  v1::CompressResponse CompressOrDie(const std::string& text, v1::Method method,
                                     const std::string& session = "") {
    v1::CompressRequest request;
    request.set_text(text);
    request.set_method(method);
    request.set_session_id(session);
    absl::StatusOr<v1::CompressResponse> reply = client_->Compress(request);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : v1::CompressResponse();
  }

  static testing::ServerProcess* server_;
  std::unique_ptr<client::Client> client_;
};
testing::ServerProcess* ModelEndToEndTest::server_ = nullptr;

TEST_F(ModelEndToEndTest, ListModelsDescribesTheLoadedModel) {
  absl::StatusOr<v1::ListModelsResponse> models = client_->ListModels();
  ASSERT_TRUE(models.ok());
  ASSERT_EQ(models->models_size(), 1);
  const v1::ModelInfo& m = models->models(0);
  EXPECT_EQ(m.name(), "tiny");
  EXPECT_TRUE(m.is_default());
  EXPECT_EQ(m.architecture(), "gpt_neox");
  EXPECT_EQ(m.rcc_ratio(), 4);
  EXPECT_EQ(m.rcc_segment_tokens(), 32);
  EXPECT_EQ(m.methods_size(), 3);
  EXPECT_EQ(m.icformer_digests(), 4);
  EXPECT_EQ(m.icformer_chunk_tokens(), 16);
  EXPECT_EQ(m.device(), "cpu");
}

TEST_F(ModelEndToEndTest, RccSessionGrowsByAppendsAndAnswersInAStream) {
  const std::string part = "The cat sat on the sofa. The dog sat on the stool. ";
  v1::CompressResponse first = CompressOrDie(part, v1::METHOD_RCC);
  ASSERT_EQ(first.session_id().size(), 32u);
  EXPECT_EQ(first.method(), v1::METHOD_RCC);
  EXPECT_GT(first.tokens_in(), 0);
  EXPECT_EQ(first.memory_vectors_out(), (first.tokens_in() + 3) / 4);
  EXPECT_EQ(first.session().bytes(), first.memory_vectors_out() * 3 * 32 * 4);
  v1::CompressResponse second = CompressOrDie(part, v1::METHOD_AUTO, first.session_id());
  EXPECT_EQ(second.session_id(), first.session_id());
  EXPECT_EQ(second.session().tokens(), 2 * first.tokens_in());
  EXPECT_EQ(second.session().memory_slots(), 2 * first.memory_vectors_out());
  EXPECT_EQ(second.session().segments(), 2);

  v1::GenerateRequest generate;
  generate.set_session_id(first.session_id());
  generate.set_prompt("Where does the cat sit?");
  generate.mutable_sampling()->set_max_new_tokens(12);
  std::string text;
  int messages = 0;
  absl::StatusOr<v1::GenerateResponse> last =
      client_->Generate(generate, [&](const v1::GenerateResponse& m) {
        text += m.text();
        ++messages;
      });
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_GE(messages, 1);
  EXPECT_NE(last->finish_reason(), v1::FINISH_REASON_UNSPECIFIED);
  EXPECT_EQ(last->usage().memory_slots(), second.session().memory_slots());
  EXPECT_LE(last->usage().generated_tokens(), 12);
  EXPECT_GT(last->usage().prompt_tokens(), 0);
  EXPECT_GT(last->usage().time_to_first_token_micros(), 0);

  // The same greedy question again: the cached prefix gives the same answer.
  std::string again;
  ASSERT_TRUE(client_->Generate(generate, [&](const v1::GenerateResponse& m) {
                        again += m.text();
                      }).ok());
  EXPECT_EQ(again, text);
}

// expected_session_tokens: an append whose precondition no longer holds (as
// after a retried try that the server had already stored) stores nothing.
TEST_F(ModelEndToEndTest, AnAppendExpectingAnotherTokenCountIsAbortedAndStoresNothing) {
  v1::CompressResponse first = CompressOrDie("A first part of the context.", v1::METHOD_RCC);
  const int64_t held = first.session().tokens();
  v1::CompressRequest append;
  append.set_session_id(first.session_id());
  append.set_text("The second part.");
  append.set_expected_session_tokens(held);
  absl::StatusOr<v1::CompressResponse> stored = client_->Compress(append);
  ASSERT_TRUE(stored.ok()) << stored.status();
  const int64_t grown = stored->session().tokens();
  EXPECT_GT(grown, held);

  // The same append again, as a retry would send it.
  absl::StatusOr<v1::CompressResponse> again = client_->Compress(append);
  ASSERT_EQ(again.status().code(), absl::StatusCode::kAborted) << again.status();
  EXPECT_THAT(std::string(again.status().message()),
              ::testing::HasSubstr(absl::StrCat("holds ", grown, " tokens of context, not the ",
                                                held, " this append expected")));
  v1::GetSessionRequest get;
  get.set_session_id(first.session_id());
  absl::StatusOr<v1::Session> session = client_->GetSession(get);
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ(session->tokens(), grown);
}

TEST_F(ModelEndToEndTest, IcFormerIsTheLowLatencyPathAndAnswers) {
  v1::CompressRequest request;
  request.set_text("A context for the fast path, long enough to need two chunks of sixteen.");
  request.set_prefer_low_latency(true);
  absl::StatusOr<v1::CompressResponse> made = client_->Compress(request);
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(made->method(), v1::METHOD_IC_FORMER);
  EXPECT_EQ(made->memory_vectors_out(), 4 * made->segments());
  CompressOrDie("And an appended part.", v1::METHOD_AUTO, made->session_id());
  v1::GenerateRequest generate;
  generate.set_session_id(made->session_id());
  generate.set_prompt("What is it?");
  generate.mutable_sampling()->set_max_new_tokens(4);
  absl::StatusOr<v1::GenerateResponse> last = client_->Generate(generate, [](const auto&) {});
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_GT(last->usage().memory_slots(), made->memory_vectors_out());
  v1::ReconstructRequest reconstruct;
  reconstruct.set_session_id(made->session_id());
  reconstruct.set_max_tokens(4);
  EXPECT_TRUE(client_->Reconstruct(reconstruct, [](const auto&) {}).ok());
}

TEST_F(ModelEndToEndTest, NoneSessionsReconstructExactly) {
  const std::string text = "Exactly this text, caf\xC3\xA9 and all, comes back.";
  v1::CompressResponse made = CompressOrDie(text, v1::METHOD_NONE);
  EXPECT_EQ(made.session().storage_dtype(), "int32");
  v1::ReconstructRequest reconstruct;
  reconstruct.set_session_id(made.session_id());
  std::string back;
  absl::StatusOr<v1::ReconstructResponse> last = client_->Reconstruct(
      reconstruct, [&](const v1::ReconstructResponse& m) { back += m.text(); });
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(back, text);
  EXPECT_EQ(last->finish_reason(), v1::FINISH_REASON_EOS);
}

TEST_F(ModelEndToEndTest, RccReconstructStreams) {
  v1::CompressResponse made = CompressOrDie("Some words to rebuild.", v1::METHOD_RCC);
  v1::ReconstructRequest reconstruct;
  reconstruct.set_session_id(made.session_id());
  reconstruct.set_max_tokens(5);
  absl::StatusOr<v1::ReconstructResponse> last =
      client_->Reconstruct(reconstruct, [](const v1::ReconstructResponse&) {});
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_LE(last->usage().generated_tokens(), 5);
}

TEST_F(ModelEndToEndTest, InlineContextAndReturnedVectors) {
  v1::GenerateRequest generate;
  generate.set_context("An inline context, compressed for this call only.");
  generate.set_method(v1::METHOD_RCC);
  generate.set_prompt("And?");
  generate.mutable_sampling()->set_max_new_tokens(3);
  EXPECT_TRUE(client_->Generate(generate, [](const auto&) {}).ok());

  v1::CompressRequest request;
  request.set_text("Twelve tokens or so of text to compress here.");
  request.set_method(v1::METHOD_RCC);
  request.set_return_vectors(true);
  absl::StatusOr<v1::CompressResponse> reply = client_->Compress(request);
  ASSERT_TRUE(reply.ok());
  ASSERT_EQ(reply->vectors().shape_size(), 3);
  EXPECT_EQ(reply->vectors().shape(0), reply->memory_vectors_out());
  EXPECT_EQ(reply->vectors().shape(1), 3);
  EXPECT_EQ(reply->vectors().shape(2), 32);
  EXPECT_EQ(reply->vectors().dtype(), "float32");
  EXPECT_EQ(static_cast<int64_t>(reply->vectors().data().size()), reply->session().bytes());
}

TEST_F(ModelEndToEndTest, SessionsCanBeListedAndDeleted) {
  v1::CompressResponse made = CompressOrDie("To be deleted.", v1::METHOD_NONE);
  v1::GetSessionRequest get;
  get.set_session_id(made.session_id());
  absl::StatusOr<v1::Session> session = client_->GetSession(get);
  ASSERT_TRUE(session.ok());
  EXPECT_EQ(session->method(), v1::METHOD_NONE);
  absl::StatusOr<v1::ListSessionsResponse> list = client_->ListSessions({});
  ASSERT_TRUE(list.ok());
  bool listed = false;
  for (const v1::Session& s : list->sessions()) listed |= s.session_id() == made.session_id();
  EXPECT_TRUE(listed);
  v1::DeleteSessionRequest del;
  del.set_session_id(made.session_id());
  absl::StatusOr<v1::DeleteSessionResponse> deleted = client_->DeleteSession(del);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->bytes_freed(), session->bytes());
  EXPECT_EQ(client_->GetSession(get).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ModelEndToEndTest, RequestErrorsNameTheProblem) {
  v1::CompressRequest wrong_model;
  wrong_model.set_text("x");
  wrong_model.set_model("gpt-5");
  EXPECT_EQ(client_->Compress(wrong_model).status().code(), absl::StatusCode::kNotFound);
  v1::CompressRequest bad_id;
  bad_id.add_token_ids(60000);
  absl::StatusOr<v1::CompressResponse> reply = client_->Compress(bad_id);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(reply.status().message(), HasSubstr("vocabulary"));
  v1::CompressResponse rcc = CompressOrDie("rcc memory", v1::METHOD_RCC);
  v1::CompressRequest mismatch;
  mismatch.set_text("more");
  mismatch.set_method(v1::METHOD_NONE);
  mismatch.set_session_id(rcc.session_id());
  reply = client_->Compress(mismatch);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(reply.status().message(), HasSubstr("holds RCC memory"));
}

TEST_F(ModelEndToEndTest, ConcurrentAppendsLoseNothing) {
  v1::CompressResponse made = CompressOrDie("start ", v1::METHOD_NONE);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] { CompressOrDie("more text ", v1::METHOD_AUTO, made.session_id()); });
  }
  for (std::thread& t : threads) t.join();
  v1::GetSessionRequest get;
  get.set_session_id(made.session_id());
  absl::StatusOr<v1::Session> session = client_->GetSession(get);
  ASSERT_TRUE(session.ok());
  v1::CompressRequest probe;
  probe.set_text("more text ");
  probe.set_method(v1::METHOD_NONE);
  absl::StatusOr<v1::CompressResponse> one = client_->Compress(probe);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(session->tokens(), made.tokens_in() + 8 * one->tokens_in());
  EXPECT_EQ(session->segments(), 9);
}

TEST_F(ModelEndToEndTest, CliDrivesTheModel) {
  std::string output;
  const std::string cli =
      absl::StrCat(testing::RunfilePath("client/ccs"), " --server=", server_->address(), " ");
  EXPECT_EQ(testing::RunCommand("echo 'A file on stdin.' | " + cli + "--method=none compress -",
                                &output),
            0);
  EXPECT_THAT(output, HasSubstr("session "));
  const std::string id = output.substr(output.find("session ") + 8, 32);
  EXPECT_EQ(testing::RunCommand(cli + "reconstruct --session=" + id + " 2>/dev/null", &output), 0);
  EXPECT_EQ(output, "A file on stdin.\n");
  EXPECT_EQ(testing::RunCommand(cli + "generate 'Why?' --max_new_tokens=3 --session=" + id +
                                    " 2>/dev/null",
                                &output),
            0);
  EXPECT_EQ(testing::RunCommand(cli + "--json models", &output), 0);
  EXPECT_THAT(output, HasSubstr("\"tiny\""));
}

TEST_F(ModelEndToEndTest, ZzSigtermDrainsAndExitsCleanly) {
  EXPECT_EQ(server_->Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace ccs
