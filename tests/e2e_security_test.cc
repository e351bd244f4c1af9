// End-to-end security: bearer-token authentication, tenant isolation, the
// request limits, TLS on the gRPC port and start-up errors for bad security
// flags, against the real ccs_server (tiny model where sessions are needed).
#include <sys/stat.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"

namespace ccs {
namespace {

using ::testing::HasSubstr;

constexpr char kTokenA[] = "tenant-a-token-0123456789";
constexpr char kTokenB[] = "tenant-b-token-0123456789";
constexpr char kTokenC[] = "tenant-c-token-0123456789";
constexpr char kUnknownId[] = "0123456789abcdef0123456789abcdef";

std::string ScratchFile(const std::string& name, const std::string& contents) {
  const char* tmp = getenv("TEST_TMPDIR");
  const std::string path = absl::StrCat(tmp ? tmp : "/tmp", "/", name);
  std::ofstream(path) << contents;
  chmod(path.c_str(), 0600);
  return path;
}

std::string TokenFile() {
  return ScratchFile("tokens", absl::StrCat("# test tokens\n", kTokenA, " tenant-a\n", kTokenB,
                                            "  tenant-b   # second tenant\n\n", kTokenC,
                                            " tenant-c\n"));
}

std::unique_ptr<client::Client> Connect(const std::string& address, const std::string& token,
                                        bool tls = false) {
  client::ClientOptions options;
  options.target = address;
  options.timeout = absl::Seconds(30);
  options.bearer_token = token;
  options.retry.max_attempts = 1;  // the codes under test must not be retried away
  if (tls) {
    options.use_tls = true;
    std::ifstream file(testing::RunfilePath("tests/testdata/tls/server_cert.pem"));
    options.root_certs_pem.assign(std::istreambuf_iterator<char>(file), {});
  }
  absl::StatusOr<std::unique_ptr<client::Client>> client = client::Client::Connect(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

// The server's log, from the "log: PATH" at the end of a start-up failure.
std::string LogOfFailedStart(const absl::Status& status) {
  const std::string message(status.message());
  const size_t at = message.rfind("log: ");
  if (at == std::string::npos) return "";
  std::ifstream file(message.substr(at + 5));
  return std::string(std::istreambuf_iterator<char>(file), {});
}

// ---------------------------------------------------------------------------
// Authentication, tenants and limits: one server with a model and a token file.

class AuthEndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string tiny = testing::RunfilePath("tests/testdata/tiny/");
    absl::StatusOr<std::unique_ptr<testing::ServerProcess>> started =
        testing::ServerProcess::Start(
            {"--model_dir=" + tiny + "decoder", "--rcc_dir=" + tiny + "rcc",
             "--model_name=tiny", "--auth_token_file=" + TokenFile(),
             "--max_sessions_per_tenant=3", "--max_session_tokens=100",
             "--max_context_tokens=80", "--max_prompt_tokens=16", "--max_new_tokens=8",
             "--max_receive_message_bytes=65536"});
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = started->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr); }

  // A NONE session of `tokens` token ids (NONE keeps tokens as they are, so
  // counts are exact).
  static v1::CompressRequest TokenContext(int tokens, const std::string& session = "") {
    v1::CompressRequest request;
    for (int i = 0; i < tokens; ++i) request.add_token_ids(100 + i);
    request.set_method(v1::METHOD_NONE);
    request.set_session_id(session);
    return request;
  }

  static testing::ServerProcess* server_;
};
testing::ServerProcess* AuthEndToEndTest::server_ = nullptr;

TEST_F(AuthEndToEndTest, EveryRpcWithoutAValidTokenIsUnauthenticated) {
  for (const std::string& token : {std::string(), std::string("not-a-known-token-0123456789")}) {
    SCOPED_TRACE(token.empty() ? "no token" : "unknown token");
    std::unique_ptr<client::Client> client = Connect(server_->address(), token);
    ASSERT_NE(client, nullptr);
    const std::string expected = token.empty() ? "no credentials" : "not valid";
    std::vector<absl::Status> statuses;
    statuses.push_back(client->ListModels().status());
    statuses.push_back(client->ListSessions({}).status());
    v1::GetSessionRequest get;
    get.set_session_id(kUnknownId);
    statuses.push_back(client->GetSession(get).status());
    v1::DeleteSessionRequest del;
    del.set_session_id(kUnknownId);
    statuses.push_back(client->DeleteSession(del).status());
    statuses.push_back(client->Compress(TokenContext(4)).status());
    v1::GenerateRequest generate;
    generate.set_session_id(kUnknownId);
    generate.set_prompt("hi");
    statuses.push_back(client->Generate(generate, [](const v1::GenerateResponse&) {}).status());
    v1::ReconstructRequest reconstruct;
    reconstruct.set_session_id(kUnknownId);
    statuses.push_back(
        client->Reconstruct(reconstruct, [](const v1::ReconstructResponse&) {}).status());
    for (const absl::Status& status : statuses) {
      EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << status;
      EXPECT_THAT(status.message(), HasSubstr(expected));
      EXPECT_THAT(status.message(), HasSubstr("authorization: Bearer <token>"));
    }
  }
}

TEST_F(AuthEndToEndTest, HealthNeedsNoToken) {
  std::unique_ptr<client::Client> client = Connect(server_->address(), "");
  ASSERT_NE(client, nullptr);
  absl::StatusOr<std::string> health = client->Health("ccs.v1.ContextCompression");
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, "SERVING");
}

TEST_F(AuthEndToEndTest, ATenantNeverSeesNorTouchesAnotherTenantsSession) {
  std::unique_ptr<client::Client> a = Connect(server_->address(), kTokenA);
  std::unique_ptr<client::Client> b = Connect(server_->address(), kTokenB);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  absl::StatusOr<v1::CompressResponse> made = a->Compress(TokenContext(10));
  ASSERT_TRUE(made.ok()) << made.status();
  const std::string id = made->session_id();

  // What B gets for A's id is exactly what it gets for an id that never
  // existed: the id leaks nothing.
  auto same_as_unknown = [&](const absl::Status& for_a, const absl::Status& for_unknown) {
    EXPECT_EQ(for_a.code(), absl::StatusCode::kNotFound) << for_a;
    EXPECT_EQ(for_unknown.code(), absl::StatusCode::kNotFound) << for_unknown;
    auto without_ids = [&](const absl::Status& s) {
      std::string m(s.message());
      m = m.substr(0, m.find(" [request id"));
      return absl::StrReplaceAll(m, {{id, "ID"}, {kUnknownId, "ID"}});
    };
    EXPECT_EQ(without_ids(for_a), without_ids(for_unknown));
  };
  v1::GetSessionRequest get_a, get_unknown;
  get_a.set_session_id(id);
  get_unknown.set_session_id(kUnknownId);
  same_as_unknown(b->GetSession(get_a).status(), b->GetSession(get_unknown).status());

  v1::GenerateRequest generate_a, generate_unknown;
  generate_a.set_session_id(id);
  generate_a.set_prompt("What?");
  generate_unknown = generate_a;
  generate_unknown.set_session_id(kUnknownId);
  auto ignore = [](const auto&) {};
  same_as_unknown(b->Generate(generate_a, ignore).status(),
                  b->Generate(generate_unknown, ignore).status());

  v1::ReconstructRequest reconstruct_a, reconstruct_unknown;
  reconstruct_a.set_session_id(id);
  reconstruct_unknown.set_session_id(kUnknownId);
  same_as_unknown(b->Reconstruct(reconstruct_a, ignore).status(),
                  b->Reconstruct(reconstruct_unknown, ignore).status());

  same_as_unknown(b->Compress(TokenContext(4, id)).status(),
                  b->Compress(TokenContext(4, kUnknownId)).status());

  v1::DeleteSessionRequest delete_a, delete_unknown;
  delete_a.set_session_id(id);
  delete_unknown.set_session_id(kUnknownId);
  same_as_unknown(b->DeleteSession(delete_a).status(), b->DeleteSession(delete_unknown).status());

  absl::StatusOr<v1::ListSessionsResponse> listed_b = b->ListSessions({});
  ASSERT_TRUE(listed_b.ok()) << listed_b.status();
  for (const v1::Session& s : listed_b->sessions()) EXPECT_NE(s.session_id(), id);

  // A still has it, untouched by B's append and delete.
  absl::StatusOr<v1::ListSessionsResponse> listed_a = a->ListSessions({});
  ASSERT_TRUE(listed_a.ok()) << listed_a.status();
  bool found = false;
  for (const v1::Session& s : listed_a->sessions()) found |= s.session_id() == id;
  EXPECT_TRUE(found);
  absl::StatusOr<v1::Session> session = a->GetSession(get_a);
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ(session->tokens(), 10);
  absl::StatusOr<v1::GenerateResponse> answer = a->Generate(generate_a, ignore);
  EXPECT_TRUE(answer.ok()) << answer.status();
  EXPECT_TRUE(a->DeleteSession(delete_a).ok());
}

TEST_F(AuthEndToEndTest, SessionsPerTenantAreLimitedPerTenant) {
  std::unique_ptr<client::Client> c = Connect(server_->address(), kTokenC);
  std::unique_ptr<client::Client> a = Connect(server_->address(), kTokenA);
  ASSERT_NE(c, nullptr);
  ASSERT_NE(a, nullptr);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c->Compress(TokenContext(2)).ok()) << i;
  absl::StatusOr<v1::CompressResponse> fourth = c->Compress(TokenContext(2));
  EXPECT_EQ(fourth.status().code(), absl::StatusCode::kResourceExhausted) << fourth.status();
  EXPECT_THAT(fourth.status().message(), HasSubstr("already holds 3 sessions"));
  // Another tenant is not affected by C's quota.
  absl::StatusOr<v1::CompressResponse> other = a->Compress(TokenContext(2));
  ASSERT_TRUE(other.ok()) << other.status();
  v1::DeleteSessionRequest del;
  del.set_session_id(other->session_id());
  EXPECT_TRUE(a->DeleteSession(del).ok());
}

TEST_F(AuthEndToEndTest, EachLimitAnswersItsCodeAndNamesTheFlag) {
  std::unique_ptr<client::Client> b = Connect(server_->address(), kTokenB);
  ASSERT_NE(b, nullptr);

  // Context tokens per call: 80.
  absl::StatusOr<v1::CompressResponse> too_long = b->Compress(TokenContext(81));
  EXPECT_EQ(too_long.status().code(), absl::StatusCode::kInvalidArgument) << too_long.status();
  EXPECT_THAT(too_long.status().message(), HasSubstr("80"));

  // Context tokens per session: 100, appends included.
  absl::StatusOr<v1::CompressResponse> made = b->Compress(TokenContext(60));
  ASSERT_TRUE(made.ok()) << made.status();
  absl::StatusOr<v1::CompressResponse> grown = b->Compress(TokenContext(40, made->session_id()));
  ASSERT_TRUE(grown.ok()) << grown.status();
  absl::StatusOr<v1::CompressResponse> over = b->Compress(TokenContext(1, made->session_id()));
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted) << over.status();
  EXPECT_THAT(over.status().message(), HasSubstr("--max_session_tokens"));

  // Prompt tokens: 16.
  v1::GenerateRequest generate;
  generate.set_session_id(made->session_id());
  generate.set_prompt(std::string(200, 'a') + " b c d e f g h i j k l m n o p q r s t u v w x y z");
  absl::StatusOr<v1::GenerateResponse> answer =
      b->Generate(generate, [](const v1::GenerateResponse&) {});
  EXPECT_EQ(answer.status().code(), absl::StatusCode::kInvalidArgument) << answer.status();
  EXPECT_THAT(answer.status().message(), HasSubstr("--max_prompt_tokens"));

  // New tokens: 8.
  generate.set_prompt("Who?");
  generate.mutable_sampling()->set_max_new_tokens(9);
  answer = b->Generate(generate, [](const v1::GenerateResponse&) {});
  EXPECT_EQ(answer.status().code(), absl::StatusCode::kInvalidArgument) << answer.status();
  EXPECT_THAT(answer.status().message(), HasSubstr("8"));

  // Message size: 64 KiB.
  v1::CompressRequest huge;
  huge.set_text(std::string(100000, 'x'));
  absl::StatusOr<v1::CompressResponse> refused = b->Compress(huge);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();

  v1::DeleteSessionRequest del;
  del.set_session_id(made->session_id());
  EXPECT_TRUE(b->DeleteSession(del).ok());
}

// ---------------------------------------------------------------------------
// TLS: a server without a model is enough.

class TlsEndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<testing::ServerProcess>> started =
        testing::ServerProcess::Start(
            {"--tls_cert=" + testing::RunfilePath("tests/testdata/tls/server_cert.pem"),
             "--tls_key=" + testing::RunfilePath("tests/testdata/tls/server_key.pem"),
             "--auth_token_file=" + TokenFile()});
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = started->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr); }

  static testing::ServerProcess* server_;
};
testing::ServerProcess* TlsEndToEndTest::server_ = nullptr;

TEST_F(TlsEndToEndTest, RoundTripOverTlsWithAToken) {
  std::unique_ptr<client::Client> client = Connect(server_->address(), kTokenA, /*tls=*/true);
  ASSERT_NE(client, nullptr);
  absl::StatusOr<std::string> health = client->Health("");
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, "SERVING");
  absl::StatusOr<v1::ListSessionsResponse> sessions = client->ListSessions({});
  ASSERT_TRUE(sessions.ok()) << sessions.status();
  EXPECT_EQ(sessions->sessions_size(), 0);

  std::unique_ptr<client::Client> anonymous = Connect(server_->address(), "", /*tls=*/true);
  ASSERT_NE(anonymous, nullptr);
  EXPECT_EQ(anonymous->ListModels().status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(TlsEndToEndTest, PlaintextClientCannotTalkToTheTlsPort) {
  std::unique_ptr<client::Client> client = Connect(server_->address(), kTokenA, /*tls=*/false);
  ASSERT_NE(client, nullptr);
  absl::StatusOr<v1::ListModelsResponse> models = client->ListModels();
  EXPECT_EQ(models.status().code(), absl::StatusCode::kUnavailable) << models.status();
}

TEST_F(TlsEndToEndTest, CliPassesTlsAndTokenFile) {
  const std::string token_file = ScratchFile("cli_token", absl::StrCat(kTokenB, "\n"));
  const std::string cli = absl::StrCat(
      testing::RunfilePath("client/ccs"), " --server=", server_->address(), " --timeout=20s",
      " --tls --ca_file=", testing::RunfilePath("tests/testdata/tls/server_cert.pem"));
  std::string output;
  EXPECT_EQ(testing::RunCommand(cli + " --token_file=" + token_file + " sessions list 2>&1",
                                &output),
            0)
      << output;
  EXPECT_EQ(testing::RunCommand(cli + " sessions list 2>&1", &output), 7) << output;  // kExitNotAllowed
  EXPECT_THAT(output, HasSubstr("UNAUTHENTICATED"));
}

// ---------------------------------------------------------------------------
// Bad security flags stop the server at start-up with a message that says why.

TEST(SecurityFlagsTest, CertificateWithoutKeyIsAStartupError) {
  absl::StatusOr<std::unique_ptr<testing::ServerProcess>> started = testing::ServerProcess::Start(
      {"--tls_cert=" + testing::RunfilePath("tests/testdata/tls/server_cert.pem")});
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(started.status().message(), HasSubstr("exited with status 2"));
  EXPECT_THAT(LogOfFailedStart(started.status()),
              HasSubstr("--tls_cert and --tls_key go together"));
}

TEST(SecurityFlagsTest, BadTokenFileLineIsAStartupErrorNamingTheLine) {
  const std::string path = ScratchFile(
      "bad_tokens", absl::StrCat("# ok\n", kTokenA, " tenant-a\n", kTokenA, " tenant-b\n"));
  absl::StatusOr<std::unique_ptr<testing::ServerProcess>> started =
      testing::ServerProcess::Start({"--auth_token_file=" + path});
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(LogOfFailedStart(started.status()),
              HasSubstr(path + ":3: duplicate token (first on line 2)"));
}

}  // namespace
}  // namespace ccs
