// CorpusBleu and Tokenize13a against sacrebleu's own output on fixed sets
// (testdata/make_bleu_reference.py, run by the bleu_reference genrule).
#include "model/eval/bleu.h"

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include <nlohmann/json.hpp>

namespace ccs::model::eval {
namespace {

nlohmann::json Reference() {
  const std::string path =
      std::string(getenv("TEST_SRCDIR")) + "/ccs/model/eval/testdata/bleu_reference.json";
  std::ifstream file(path);
  EXPECT_TRUE(file.good()) << path;
  return nlohmann::json::parse(file);
}

TEST(BleuTest, TokenizesAsSacrebleu13a) {
  const nlohmann::json reference = Reference();
  ASSERT_GT(reference["tokenized"].size(), 10u);
  for (const nlohmann::json& pair : reference["tokenized"]) {
    const std::string segment = pair[0];
    EXPECT_EQ(Tokenize13a(segment), pair[1].get<std::string>()) << segment;
  }
}

TEST(BleuTest, CorpusScoresEqualSacrebleus) {
  const nlohmann::json reference = Reference();
  ASSERT_GE(reference["corpora"].size(), 10u);
  for (const nlohmann::json& c : reference["corpora"]) {
    const std::string name = c["name"];
    const BleuScore s = CorpusBleu(c["hypotheses"].get<std::vector<std::string>>(),
                                   c["references"].get<std::vector<std::string>>());
    EXPECT_NEAR(100 * s.score, c["score"].get<double>(), 1e-9) << name;
    EXPECT_NEAR(s.brevity_penalty, c["bp"].get<double>(), 1e-12) << name;
    EXPECT_EQ(s.hypothesis_length, c["sys_len"].get<int64_t>()) << name;
    EXPECT_EQ(s.reference_length, c["ref_len"].get<int64_t>()) << name;
    for (int k = 0; k < kBleuOrder; ++k) {
      EXPECT_EQ(s.matched[k], c["counts"][k].get<int64_t>()) << name << " order " << k + 1;
      EXPECT_EQ(s.total[k], c["totals"][k].get<int64_t>()) << name << " order " << k + 1;
      EXPECT_NEAR(100 * s.precisions[k], c["precisions"][k].get<double>(), 1e-9)
          << name << " order " << k + 1;
    }
  }
}

TEST(BleuTest, IdenticalTextScoresOneAndEmptyScoresZero) {
  EXPECT_NEAR(CorpusBleu({"a b c d e"}, {"a b c d e"}).score, 1.0, 1e-12);
  EXPECT_EQ(CorpusBleu({""}, {"a b c d e"}).score, 0.0);
  EXPECT_EQ(CorpusBleu({}, {}).score, 0.0);
}

}  // namespace
}  // namespace ccs::model::eval
