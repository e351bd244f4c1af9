#include "client/progress_bar.h"

#include <cstdio>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccs::client {
namespace {

using ::testing::HasSubstr;

TEST(HumanBytesTest, PicksTheUnit) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(5 << 20), "5.0 MiB");
  EXPECT_EQ(HumanBytes(int64_t{3} << 30), "3.0 GiB");
}

TEST(RenderProgressTest, ShowsBarPercentageAndSizes) {
  EXPECT_EQ(RenderProgress(0, 100, "0 appends"),
            "[>                             ]   0%  0 B / 100 B  0 appends");
  EXPECT_EQ(RenderProgress(50, 100, "x"),
            "[===============>              ]  50%  50 B / 100 B  x");
  EXPECT_EQ(RenderProgress(100, 100, "done"),
            "[==============================] 100%  100 B / 100 B  done");
  EXPECT_EQ(RenderProgress(0, 0, ""),
            "[==============================] 100%  0 B / 0 B  ");
}

TEST(RenderProgressTest, UnknownTotalShowsBytesOnly) {
  EXPECT_EQ(RenderProgress(2048, -1, "2 appends"), "2.0 KiB  2 appends");
}

TEST(ProgressBarTest, DisabledWritesNothingEnabledRedrawsAndErases) {
  char buffer[1024] = {};
  FILE* out = fmemopen(buffer, sizeof buffer, "w");
  ASSERT_NE(out, nullptr);
  {
    ProgressBar quiet(out, 100, /*enabled=*/false);
    quiet.Update(50, "x");
  }
  std::fflush(out);
  EXPECT_EQ(std::string(buffer), "");
  {
    ProgressBar bar(out, 100, /*enabled=*/true);
    bar.Update(10, "a longer detail");
    bar.Update(20, "short");
  }
  std::fclose(out);
  const std::string written(buffer);
  EXPECT_THAT(written, HasSubstr("\r[======>"));
  EXPECT_THAT(written, HasSubstr(" 20%"));
  EXPECT_EQ(written.back(), '\r');  // erased at the end
}

}  // namespace
}  // namespace ccs::client
