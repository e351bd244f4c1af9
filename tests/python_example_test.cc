// The Python example (client/python/ccs_example.py) on Debian's
// /usr/bin/python3 against the real server (tiny model): it compresses a
// file, answers, reconstructs and deletes the session; errors exit with the
// CLI's codes.
#include <signal.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"

namespace ccs {
namespace {

using ::testing::HasSubstr;

constexpr char kText[] = "Marie Curie was born in Warsaw in 1867. She won two Nobel Prizes.";

class PythonExampleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string tiny = testing::RunfilePath("tests/testdata/tiny/");
    absl::StatusOr<std::unique_ptr<testing::ServerProcess>> started =
        testing::ServerProcess::Start({"--model_dir=" + tiny + "decoder",
                                       "--rcc_dir=" + tiny + "rcc", "--model_name=tiny",
                                       "--max_new_tokens=64"});
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = started->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    const char* dir = getenv("TEST_TMPDIR");
    file_ = absl::StrCat(dir != nullptr ? dir : "/tmp", "/curie.txt");
    std::ofstream(file_) << kText;
  }

  // Runs the example with Debian's python and the generated stubs.
  int Example(const std::string& arguments, std::string* output) {
    return testing::RunCommand(
        absl::StrCat("PYTHONPATH=", testing::RunfilePath("client/python"), " /usr/bin/python3 ",
                     testing::RunfilePath("client/python/ccs_example.py"),
                     " --server=", server_->address(), " ", arguments, " 2>&1"),
        output);
  }

  static testing::ServerProcess* server_;
  std::string file_;
};
testing::ServerProcess* PythonExampleTest::server_ = nullptr;

TEST_F(PythonExampleTest, CompressesAsksReconstructsAndDeletes) {
  std::string output;
  ASSERT_EQ(Example(file_ + " --method=none --max_new_tokens=5 --question='Where was she born?'",
                    &output),
            0)
      << output;
  EXPECT_THAT(output, HasSubstr("(METHOD_NONE)"));
  EXPECT_THAT(output, HasSubstr("question: Where was she born?"));
  EXPECT_THAT(output, HasSubstr("FINISH_REASON_LENGTH: 5 tokens"));  // the answer
  // A NONE session reconstructs exactly.
  EXPECT_THAT(output, HasSubstr(absl::StrCat("reconstruction:\n", kText, "\n")));
  const size_t at = output.find("deleted session ");
  ASSERT_NE(at, std::string::npos) << output;
  const std::string id = output.substr(at + 16, 32);

  client::ClientOptions options;
  options.target = server_->address();
  absl::StatusOr<std::unique_ptr<client::Client>> client = client::Client::Connect(options);
  ASSERT_TRUE(client.ok());
  v1::GetSessionRequest get;
  get.set_session_id(id);
  EXPECT_EQ((*client)->GetSession(get).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(PythonExampleTest, RccSessionAnswersAndReconstructs) {
  std::string output;
  ASSERT_EQ(Example(file_ + " --method=rcc --max_new_tokens=3 --max_tokens=4", &output), 0)
      << output;
  EXPECT_THAT(output, HasSubstr("(METHOD_RCC)"));
  EXPECT_THAT(output, HasSubstr("deleted session"));
}

TEST_F(PythonExampleTest, ErrorsExitWithTheCliCodes) {
  std::string output;
  EXPECT_EQ(Example(file_ + " --model=gpt-5", &output), 6) << output;
  EXPECT_THAT(output, HasSubstr("NOT_FOUND"));
  EXPECT_EQ(Example(file_ + " --method=ic_former", &output), 3) << output;
  EXPECT_THAT(output, HasSubstr("FAILED_PRECONDITION"));
  EXPECT_EQ(Example("/no/such/file", &output), 1) << output;
}

TEST_F(PythonExampleTest, ZzStopsCleanly) { EXPECT_EQ(server_->Stop(SIGTERM), 0); }

}  // namespace
}  // namespace ccs
