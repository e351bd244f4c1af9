// The ccs command-line client against the real server (tiny model): chunked
// compress from a file and from a pipe, the progress bar only on request or
// a terminal, live generate, sessions, --help everywhere, and exit codes
// that tell failure kinds apart.
#include <signal.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/server_process.h"

namespace ccs {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string ScratchPath(const std::string& name) {
  const char* dir = getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// Paragraphs of plain text with some multi-byte characters, ~1.6 KB.
std::string Document() {
  std::string text;
  for (int p = 0; p < 8; ++p) {
    absl::StrAppend(&text, "Paragraph ", p, ": the caf\xC3\xA9 by the river sold ",
                    "tea for 3 \xE2\x82\xAC to na\xC3\xAFve travellers. ",
                    "They stayed until the winter came.\n\n");
  }
  return text;
}

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string tiny = testing::RunfilePath("tests/testdata/tiny/");
    absl::StatusOr<std::unique_ptr<testing::ServerProcess>> started =
        testing::ServerProcess::Start({"--model_dir=" + tiny + "decoder",
                                       "--rcc_dir=" + tiny + "rcc",
                                       "--model_name=tiny", "--max_new_tokens=1024"});
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = started->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr); }

  // Runs `ccs --server=... ARGUMENTS`; returns the exit code, with stdout in
  // *out and stderr in *err.
  int Ccs(const std::string& arguments, std::string* out, std::string* err = nullptr,
          const std::string& stdin_from = "") {
    const std::string err_path = ScratchPath("ccs_stderr.txt");
    const int code = testing::RunCommand(
        absl::StrCat(stdin_from.empty() ? "" : "cat " + stdin_from + " | ",
                     testing::RunfilePath("client/ccs"), " --server=", server_->address(),
                     " ", arguments, " 2>", err_path),
        out);
    if (err != nullptr) *err = ReadFile(err_path);
    return code;
  }

  static std::string SessionIdOf(const std::string& output) {
    const size_t at = output.find("session ");
    return at == std::string::npos ? "" : output.substr(at + 8, 32);
  }

  static testing::ServerProcess* server_;
};
testing::ServerProcess* CliTest::server_ = nullptr;

TEST_F(CliTest, PipedCompressIsChunkedQuietAndLosesNothing) {
  const std::string path = ScratchPath("document.txt");
  const std::string document = Document();
  WriteFile(path, document);
  std::string out, err;
  ASSERT_EQ(Ccs("compress - --method=none --chunk_bytes=300", &out, &err, path), 0) << err;
  // Piped (stderr is a file here): no progress bar, nothing on stderr.
  EXPECT_EQ(err, "");
  EXPECT_THAT(out, HasSubstr("request(s)"));
  const std::string id = SessionIdOf(out);
  ASSERT_EQ(id.size(), 32u);
  // At least ceil(size / 300) appends went to the one session.
  const std::string requests = out.substr(0, out.find(" request(s)"));
  EXPECT_GE(std::stoi(requests.substr(requests.rfind(' ') + 1)),
            static_cast<int>((document.size() + 299) / 300));
  // A NONE session gives back exactly what was appended.
  ASSERT_EQ(Ccs("reconstruct --session=" + id, &out, &err), 0) << err;
  EXPECT_EQ(out, document);
  EXPECT_THAT(err, HasSubstr("FINISH_REASON_EOS"));
}

// --session: the first chunk builds on the session's token count (read with
// GetSession), each later one on the count the previous reply gave; a wrong
// expected_session_tokens would be ABORTED and fail the command.
TEST_F(CliTest, CompressAppendsToAnExistingSession) {
  const std::string first = ScratchPath("first.txt"), second = ScratchPath("second.txt");
  WriteFile(first, "The first part, one request.\n");
  WriteFile(second, Document());
  std::string out, err;
  ASSERT_EQ(Ccs("compress " + first + " --method=none", &out, &err), 0) << err;
  const std::string id = SessionIdOf(out);
  ASSERT_EQ(id.size(), 32u);
  ASSERT_EQ(Ccs("compress " + second + " --chunk_bytes=300 --session=" + id, &out, &err), 0)
      << err;
  EXPECT_EQ(SessionIdOf(out), id);
  ASSERT_EQ(Ccs("reconstruct --session=" + id, &out, &err), 0) << err;
  EXPECT_EQ(out, "The first part, one request.\n" + Document());
}

TEST_F(CliTest, JsonCompressSumsTheAppends) {
  const std::string path = ScratchPath("document.txt");
  WriteFile(path, Document());
  std::string out, err;
  ASSERT_EQ(Ccs("--json compress " + path + " --method=rcc --chunk_bytes=500", &out, &err), 0)
      << err;
  const nlohmann::json reply = nlohmann::json::parse(out);
  // int64 fields are strings in protobuf's JSON.
  EXPECT_EQ(reply["tokens_in"], reply["session"]["tokens"]);
  EXPECT_EQ(reply["memory_vectors_out"], reply["session"]["memory_slots"]);
  EXPECT_GE(reply["session"]["segments"].get<int>(), 4);  // one per append at least
  EXPECT_EQ(reply["method"], "METHOD_RCC");
}

TEST_F(CliTest, ProgressBarOnlyWhenAskedOrOnATerminal) {
  const std::string path = ScratchPath("document.txt");
  WriteFile(path, Document());
  std::string out, err;
  ASSERT_EQ(Ccs("compress " + path + " --method=none --chunk_bytes=400 --progress=on", &out,
                &err),
            0);
  EXPECT_THAT(err, HasSubstr("\r["));
  EXPECT_THAT(err, HasSubstr("100%"));
  EXPECT_THAT(out, Not(HasSubstr("\r")));
  ASSERT_EQ(Ccs("compress " + path + " --method=none --chunk_bytes=400", &out, &err), 0);
  EXPECT_EQ(err, "");
}

TEST_F(CliTest, GenerateStreamsAnAnswer) {
  const std::string path = ScratchPath("short.txt");
  WriteFile(path, "The cat sat on the mat.");
  std::string out, err;
  ASSERT_EQ(Ccs("compress " + path + " --method=rcc", &out), 0);
  const std::string id = SessionIdOf(out);
  ASSERT_EQ(Ccs("generate 'Where did the cat sit?' --max_new_tokens=6 --session=" + id, &out,
                &err),
            0)
      << err;
  EXPECT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  EXPECT_THAT(err, HasSubstr("tokens generated"));
  // --json: one object per streamed message, the last with the usage.
  ASSERT_EQ(Ccs("--json generate 'And?' --max_new_tokens=3 --session=" + id, &out), 0);
  const std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 1u);
  EXPECT_TRUE(nlohmann::json::parse(lines.back()).contains("usage"));
  // One-shot context from stdin.
  ASSERT_EQ(Ccs("generate 'Who?' --max_new_tokens=2 --context_file=-", &out, &err, path), 0)
      << err;
}

TEST_F(CliTest, SessionsCanBeListedDescribedAndDeleted) {
  const std::string path = ScratchPath("short.txt");
  WriteFile(path, "To be deleted.");
  std::string out, err;
  ASSERT_EQ(Ccs("compress " + path + " --method=none", &out), 0);
  const std::string id = SessionIdOf(out);
  ASSERT_EQ(Ccs("sessions list", &out), 0);
  EXPECT_THAT(out, HasSubstr(id));
  ASSERT_EQ(Ccs("sessions get " + id, &out), 0);
  EXPECT_THAT(out, HasSubstr("NONE"));
  ASSERT_EQ(Ccs("sessions delete " + id, &out), 0);
  EXPECT_THAT(out, HasSubstr("deleted " + id));
  // Gone: NOT_FOUND has its own exit code.
  EXPECT_EQ(Ccs("sessions get " + id, &out, &err), 6);
  EXPECT_THAT(err, HasSubstr("NOT_FOUND"));
  EXPECT_EQ(Ccs("reconstruct --session=" + id, &out, &err), 6);
  EXPECT_EQ(Ccs("compress " + path + " --session=" + id, &out, &err), 6);
}

TEST_F(CliTest, ExitCodesTellFailureKindsApart) {
  std::string out, err;
  // 2: the command line is wrong; nothing is sent.
  EXPECT_EQ(Ccs("--no_such_flag models", &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("unknown flag"));
  EXPECT_EQ(Ccs("--timeout=soon models", &out), 2);
  EXPECT_EQ(Ccs("frobnicate", &out), 2);
  EXPECT_EQ(Ccs("generate 'no session given'", &out), 2);
  EXPECT_EQ(Ccs("reconstruct", &out), 2);
  EXPECT_EQ(Ccs("compress - --chunk_bytes=3", &out), 2);
  EXPECT_EQ(Ccs("compress - --method=zip", &out), 2);
  EXPECT_EQ(Ccs("compress - --progress=maybe", &out), 2);
  // 1: a local file is unreadable.
  EXPECT_EQ(Ccs("compress /no/such/file", &out), 1);
  // 3: the server rejects the request as asked.
  EXPECT_EQ(Ccs("sessions get not-a-session-id", &out), 3);
  WriteFile(ScratchPath("words.txt"), "Some words.");
  // 6: what was named does not exist.
  EXPECT_EQ(Ccs("compress - --model=gpt-5", &out, &err, ScratchPath("words.txt")), 6);
  WriteFile(ScratchPath("bad.txt"), "abc\xff");
  EXPECT_EQ(Ccs("compress " + ScratchPath("bad.txt"), &out, &err), 3);
  EXPECT_THAT(err, HasSubstr("INVALID_ARGUMENT"));
  // 4: nobody answers.
  EXPECT_EQ(testing::RunCommand(absl::StrCat(testing::RunfilePath("client/ccs"),
                                             " --server=127.0.0.1:1 --timeout=3s models 2>/dev/null"),
                                &out),
            4);
}

TEST_F(CliTest, EveryCommandHasHelp) {
  std::string out;
  for (const char* command : {"health", "models", "compress", "generate", "reconstruct",
                              "sessions"}) {
    EXPECT_EQ(Ccs(absl::StrCat(command, " --help"), &out), 0) << command;
    EXPECT_THAT(out, HasSubstr(absl::StrCat("ccs ", command))) << command;
    EXPECT_THAT(out, HasSubstr("Exit codes")) << command;
    EXPECT_EQ(Ccs(absl::StrCat("help ", command), &out), 0) << command;
    EXPECT_THAT(out, HasSubstr(absl::StrCat("ccs ", command))) << command;
  }
  EXPECT_EQ(Ccs("--help", &out), 0);
  EXPECT_THAT(out, HasSubstr("Commands:"));
}

TEST_F(CliTest, ZzStopsCleanly) { EXPECT_EQ(server_->Stop(SIGTERM), 0); }

}  // namespace
}  // namespace ccs
