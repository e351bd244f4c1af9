// The evaluate binary end to end: the tiny model (tests:tiny_model, with RCC
// and IC-Former checkpoints) over a tiny corpus written here, tiny sample
// counts; the JSON it writes has every measurement for every method.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace {

std::string Runfile(const std::string& path) {
  return std::string(getenv("TEST_SRCDIR")) + "/ccs/" + path;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream file(path);
  file << text;
  ASSERT_TRUE(file.good()) << path;
}

// A corpus directory with the three test files, a few records each.
std::string WriteTinyCorpus() {
  const std::string dir = std::string(getenv("TEST_TMPDIR")) + "/corpus";
  std::system(("mkdir -p " + dir).c_str());
  std::string docs;
  const char* texts[] = {
      "The lighthouse keeper counted the ships that passed each night, and wrote their names "
      "in a book that nobody read.",
      "Rivers carry the mountains to the sea, one grain of sand at a time, for as long as "
      "there has been rain.",
      "A compiler turns source code into machine code; an interpreter runs it directly."};
  for (int i = 0; i < 3; ++i) {
    docs += absl::StrCat("{\"id\": \"doc", i, "\", \"source\": \"test\", \"text\": \"", texts[i],
                         "\"}\n");
  }
  WriteFile(dir + "/test.jsonl", docs);
  WriteFile(dir + "/verses.test.jsonl",
            "{\"ref\": \"Genesis 1:1\", \"text\": \"In the beginning God created the heaven and "
            "the earth.\"}\n"
            "{\"ref\": \"Genesis 1:2\", \"text\": \"And the earth was without form, and void.\"}\n"
            "{\"ref\": \"Genesis 1:3\", \"text\": \"And God said, Let there be light: and there "
            "was light.\"}\n");
  WriteFile(dir + "/dictionary.test.jsonl",
            "{\"headword\": \"cat\", \"pos\": \"noun\", \"definition\": \"a small domesticated "
            "feline\", \"source\": \"wordnet-base\"}\n"
            "{\"headword\": \"dog\", \"pos\": \"noun\", \"definition\": \"a domesticated canine\", "
            "\"source\": \"wordnet-base\"}\n"
            "{\"headword\": \"run\", \"pos\": \"verb\", \"definition\": \"move fast on foot\", "
            "\"source\": \"wordnet-base\"}\n");
  return dir;
}

TEST(EvaluateTest, WritesEveryMeasurementForEveryMethod) {
  const std::string corpus = WriteTinyCorpus();
  const std::string out = std::string(getenv("TEST_TMPDIR")) + "/evaluation.json";
  const std::string tiny = Runfile("tests/testdata/tiny/");
  const std::string command = absl::StrCat(
      Runfile("model/eval/evaluate"), " --decoder_dir=", tiny, "decoder --icformer_dir=", tiny,
      "icformer --rcc_dir=", tiny, "rcc --corpus_dir=", corpus, " --out=", out,
      " --threads=1 --seed=3 --batch=2 --reconstruction_lengths=16,32 --reconstruction_samples=2"
      " --document_samples=2 --document_max_tokens=64"
      " --passkey_lengths=64,8192 --passkey_samples=1 --append_tokens=32 --qa_samples=2"
      " --qa_context_items=2 --qa_max_new_tokens=8 --perplexity_window=16 --perplexity_samples=2"
      " --speed_lengths=32,64 --speed_repeats=1 --label=tiny 2> ",
      std::getenv("TEST_TMPDIR"), "/evaluate.log");
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  std::ifstream file(out);
  const nlohmann::json report = nlohmann::json::parse(file);

  EXPECT_EQ(report["settings"]["label"], "tiny");
  EXPECT_EQ(report["model"]["methods"], nlohmann::json({"NONE", "IC_FORMER", "RCC"}));
  EXPECT_EQ(report["model"]["max_positions"], 4096);
  for (const char* method : {"NONE", "IC_FORMER", "RCC"}) {
    SCOPED_TRACE(method);
    const nlohmann::json& recon = report["reconstruction"][method];
    ASSERT_EQ(recon["status"], "ok");
    ASSERT_EQ(recon["results"].size(), 2u);
    for (const nlohmann::json& row : recon["results"]) {
      EXPECT_GE(row["bleu"].get<double>(), 0.0);
      EXPECT_LE(row["bleu"].get<double>(), 1.0 + 1e-9);  // sacrebleu's rounding, too
      EXPECT_GT(row["ratio"].get<double>(), 0.0);
    }
    const nlohmann::json& documents = report["documents"][method];
    ASSERT_EQ(documents["status"], "ok");
    EXPECT_EQ(documents["samples"], 2);
    EXPECT_EQ(documents["sources"], 1);
    EXPECT_GE(documents["bleu"].get<double>(), 0.0);
    EXPECT_LE(documents["bleu"].get<double>(), 1.0 + 1e-9);
    EXPECT_GE(documents["cut_short_rate"].get<double>(), 0.0);
    EXPECT_LE(documents["cut_short_rate"].get<double>(), 1.0);
    const nlohmann::json& passkey = report["passkey"][method];
    ASSERT_EQ(passkey["status"], "ok");
    ASSERT_EQ(passkey["results"].size(), 2u);
    EXPECT_EQ(passkey["results"][0]["status"], "ok");
    EXPECT_EQ(passkey["results"][0]["samples"], 1);
    const nlohmann::json& qa = report["qa"][method];
    ASSERT_EQ(qa["status"], "ok");
    for (const char* set : {"verses", "dictionary"}) {
      EXPECT_EQ(qa["sets"][set]["samples"], 2);
      EXPECT_TRUE(qa["sets"][set].contains("exact_match"));
      EXPECT_TRUE(qa["sets"][set].contains("f1"));
    }
    EXPECT_GT(report["perplexity"]["conditions"][method]["perplexity"].get<double>(), 1.0);
    ASSERT_EQ(report["speed"][method]["results"].size(), 2u);
    EXPECT_GT(report["speed"][method]["results"][0]["tokens_per_s"].get<double>(), 0.0);
  }
  // The uncompressed baseline holds the text itself, and cannot hold 8192
  // tokens in 4096 positions; 4x compression can.
  EXPECT_NEAR(report["reconstruction"]["NONE"]["results"][0]["bleu"].get<double>(), 1.0, 1e-9);
  EXPECT_EQ(report["reconstruction"]["NONE"]["results"][0]["ratio"], 1.0);
  EXPECT_NEAR(report["documents"]["NONE"]["bleu"].get<double>(), 1.0, 1e-9);
  EXPECT_EQ(report["documents"]["NONE"]["cut_short_rate"], 0.0);
  EXPECT_EQ(report["documents"]["NONE"]["exact_text_rate"], 1.0);
  EXPECT_EQ(report["passkey"]["NONE"]["results"][1]["status"], "exceeds_capacity");
  EXPECT_EQ(report["passkey"]["IC_FORMER"]["results"][1]["status"], "ok");
  EXPECT_GT(report["perplexity"]["conditions"]["no_context"]["perplexity"].get<double>(), 1.0);
  EXPECT_EQ(report["reconstruction"]["IC_FORMER"]["results"][0]["ratio"], 4.0);
  for (const char* measurement : {"reconstruction", "documents", "passkey", "qa", "perplexity",
                                  "speed", "total"}) {
    EXPECT_TRUE(report["seconds"].contains(measurement)) << measurement;
  }
}

}  // namespace
