#include "model/eval/qa_metrics.h"

#include "gtest/gtest.h"

namespace ccs::model::eval {
namespace {

TEST(QaMetricsTest, NormalizesCasePunctuationArticlesAndSpaces) {
  EXPECT_EQ(NormalizeAnswer("  The Pass-key, is: 12345!  "), "passkey is 12345");
  EXPECT_EQ(NormalizeAnswer("An apple a day"), "apple day");
  EXPECT_EQ(NormalizeAnswer("theme another"), "theme another");  // whole words only
}

TEST(QaMetricsTest, ExactMatchIgnoresFormatting) {
  EXPECT_EQ(ExactMatch("The pass key.", "pass key"), 1.0);
  EXPECT_EQ(ExactMatch("pass keys", "pass key"), 0.0);
}

TEST(QaMetricsTest, TokenF1CountsCommonWords) {
  // prediction {red, fox}, reference {quick, red, fox}: P = 1, R = 2/3.
  EXPECT_NEAR(TokenF1("a red fox", "the quick red fox"), 0.8, 1e-12);
  EXPECT_EQ(TokenF1("", ""), 1.0);
  EXPECT_EQ(TokenF1("word", ""), 0.0);
  EXPECT_EQ(TokenF1("cat", "dog"), 0.0);
  // Repeated words count once per occurrence in the reference.
  EXPECT_NEAR(TokenF1("dog dog dog", "dog cat"), 2 * (1.0 / 3) * 0.5 / (1.0 / 3 + 0.5), 1e-12);
}

}  // namespace
}  // namespace ccs::model::eval
