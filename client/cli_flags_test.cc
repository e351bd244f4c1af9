#include "client/cli_flags.h"

#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

ABSL_FLAG(std::string, name, "", "a string flag");
ABSL_FLAG(int, count, 0, "an int flag");
ABSL_FLAG(bool, loud, false, "a bool flag");
ABSL_FLAG(absl::Duration, wait, absl::Seconds(1), "a duration flag");

namespace ccs::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<std::vector<std::string>> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "program");
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  return ParseFlags(static_cast<int>(argv.size()), argv.data());
}

TEST(ParseFlagsTest, SetsFlagsInEveryFormAndKeepsPositionalsInOrder) {
  absl::StatusOr<std::vector<std::string>> positional =
      Parse({"first", "--name=x y", "-count", "7", "second", "--loud", "--wait=250ms", "--",
             "--not-a-flag"});
  ASSERT_TRUE(positional.ok()) << positional.status();
  EXPECT_THAT(*positional, ElementsAre("first", "second", "--not-a-flag"));
  EXPECT_EQ(absl::GetFlag(FLAGS_name), "x y");
  EXPECT_EQ(absl::GetFlag(FLAGS_count), 7);
  EXPECT_TRUE(absl::GetFlag(FLAGS_loud));
  EXPECT_EQ(absl::GetFlag(FLAGS_wait), absl::Milliseconds(250));
  ASSERT_TRUE(Parse({"--noloud", "-"}).ok());
  EXPECT_FALSE(absl::GetFlag(FLAGS_loud));
}

TEST(ParseFlagsTest, ProblemsAreErrorsNotExits) {
  EXPECT_THAT(Parse({"--nosuch"}).status().message(), HasSubstr("unknown flag --nosuch"));
  EXPECT_THAT(Parse({"--nocount"}).status().message(), HasSubstr("unknown flag"));
  EXPECT_THAT(Parse({"--count=many"}).status().message(), HasSubstr("--count=many"));
  EXPECT_THAT(Parse({"--wait=soon"}).status().message(), HasSubstr("--wait=soon"));
  EXPECT_THAT(Parse({"--count"}).status().message(), HasSubstr("needs a value"));
  EXPECT_EQ(Parse({"--loud=maybe"}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ccs::client
