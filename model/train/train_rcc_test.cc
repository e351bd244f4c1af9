// A smoke run of the train_rcc binary on the tiny model (tests:tiny_model)
// and a corpus written here: pretraining steps with checkpoints, resuming,
// export, the instruct stage from the export, --export_only, and the export
// served by the engine.
#include <torch/torch.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/engine/engine.h"
#include "model/weights/weights.h"

namespace ccs::model::train {
namespace {

using ::testing::HasSubstr;

std::string SrcDir(const std::string& path) {
  return std::string(std::getenv("TEST_SRCDIR")) + "/ccs/" + path;
}

std::string TempDir(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

// A small corpus in deploy/build_corpus.py's layout, made of generated
// sentences (no third-party text).
std::string WriteCorpus() {
  const std::string dir = TempDir("corpus");
  std::filesystem::create_directories(dir);
  const char* things[] = {"river", "lantern", "orchard", "harbour", "meadow", "bridge"};
  const char* doings[] = {"shines at dusk", "runs north past the mill", "keeps seven gates",
                          "was rebuilt in spring", "holds the old bell"};
  for (const auto& [split, documents] : {std::pair{"train", 12}, std::pair{"valid", 4}}) {
    std::string docs, dictionary, verses;
    for (int d = 0; d < documents; ++d) {
      std::string text;
      for (int s = 0; s < 12; ++s) {
        absl::StrAppend(&text, "The ", things[(d + s) % 6], " number ", d * 12 + s, " ",
                        doings[(d * 3 + s) % 5], ". ");
      }
      absl::StrAppend(&docs, "{\"id\": \"doc", d, "\", \"source\": \"tales\", \"text\": \"",
                      text, "\"}\n");
    }
    for (int d = 0; d < 3; ++d) {  // short documents, replayed whole
      absl::StrAppend(&docs, "{\"id\": \"note", d, "\", \"source\": \"notes\", \"text\": \"",
                      "A note: the ", things[d], " ", doings[d], ".\"}\n");
    }
    for (int i = 0; i < 20; ++i) {
      absl::StrAppend(&dictionary, "{\"headword\": \"", things[i % 6], i, "\", \"pos\": \"noun\", ",
                      "\"definition\": \"a ", things[(i + 1) % 6], " that ", doings[i % 5],
                      "\"}\n");
      absl::StrAppend(&verses, "{\"ref\": \"Tale ", i / 5 + 1, ":", i % 5 + 1, "\", \"text\": \"",
                      "And the ", things[i % 6], " ", doings[(i + 2) % 5], ".\"}\n");
    }
    WriteFile(absl::StrCat(dir, "/", split, ".jsonl"), docs);
    WriteFile(absl::StrCat(dir, "/dictionary.", split, ".jsonl"), dictionary);
    WriteFile(absl::StrCat(dir, "/verses.", split, ".jsonl"), verses);
  }
  return dir;
}

// Runs train_rcc with `flags`; returns its exit code, its stderr in `log`.
int TrainRcc(const std::string& flags, std::string* log) {
  const std::string log_path = TempDir("train_rcc.log");
  const std::string command = absl::StrCat(
      SrcDir("model/train/train_rcc"), " --decoder_dir=", SrcDir("tests/testdata/tiny/decoder"),
      " --threads=1 --ratio=4 --segment_tokens=32 --context_tokens=32 --continuation_tokens=16",
      " --batch=2 --warmup=1 --eval_windows=2 --log_every=1 --eval_every=2 ", flags, " 2> ",
      log_path);
  const int status = std::system(command.c_str());
  *log = ReadFile(log_path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(TrainRccTest, PretrainsResumesExportsAndInstructs) {
  const std::string corpus = WriteCorpus();
  const std::string pretrain = TempDir("pretrain"), exported = TempDir("export");
  const std::string common = absl::StrCat("--corpus_dir=", corpus, " --out_dir=", pretrain,
                                          " --checkpoint_every=2 --export_dir=", exported);
  std::string log;
  ASSERT_EQ(TrainRcc(common + " --steps=3", &log), 0) << log;
  EXPECT_THAT(log, HasSubstr("eval step 0: validation loss"));
  EXPECT_THAT(log, HasSubstr("(reconstruct: loss"));
  EXPECT_THAT(log, HasSubstr("step 3/3 loss"));
  EXPECT_THAT(log, HasSubstr("exported step 3"));
  EXPECT_EQ(ReadFile(pretrain + "/LATEST"), "ckpt-3\n");

  // The export: the projections only, moved away from their start.
  EXPECT_THAT(ReadFile(exported + "/rcc_config.json"),
              HasSubstr("\"encoder_shares_decoder_weights\": true"));
  absl::StatusOr<WeightMap> tensors =
      LoadSafetensors(exported + "/rcc.safetensors", torch::kFloat);
  ASSERT_TRUE(tensors.ok()) << tensors.status();
  EXPECT_EQ(tensors->size(), 3u);  // embed + 2 layers' A
  for (const auto& [name, tensor] : *tensors) {
    EXPECT_EQ(name.rfind("gpt_neox.rcc_encoder2gpt_", 0), 0u) << name;
    const torch::Tensor start = name.find("embed") != std::string::npos
                                    ? torch::eye(32)
                                    : torch::zeros({32, 32});
    EXPECT_GT((tensor - start).abs().max().item<double>(), 0.0) << name << " did not move";
  }

  // Resuming: the same command with more steps goes on from ckpt-3.
  ASSERT_EQ(TrainRcc(common + " --steps=4", &log), 0) << log;
  EXPECT_THAT(log, HasSubstr("at step 3"));
  EXPECT_THAT(log, HasSubstr("step 4/4 loss"));
  EXPECT_EQ(ReadFile(pretrain + "/LATEST"), "ckpt-4\n");

  // --export_only writes the newest checkpoint and trains nothing.
  const std::string again = TempDir("export_again");
  ASSERT_EQ(TrainRcc(absl::StrCat("--corpus_dir=", corpus, " --out_dir=", pretrain,
                                  " --steps=4 --export_only --export_dir=", again),
                     &log),
            0)
      << log;
  EXPECT_THAT(log, HasSubstr("exported step 4"));
  EXPECT_THAT(log, ::testing::Not(HasSubstr("loss")));

  // The instruct stage from the export, both layouts and replayed
  // reconstructions.
  const std::string instructed = TempDir("instructed");
  ASSERT_EQ(TrainRcc(absl::StrCat("--corpus_dir=", corpus, " --stage=instruct --init_from=",
                                  exported, " --out_dir=", TempDir("instruct"),
                                  " --steps=3 --checkpoint_every=3 ",
                                  "--instruct_kinds=passkey,passkey,verse ",
                                  "--instruction_reconstruction_share=0.5 ",
                                  "--reconstruction_replay_share=0.5 ",
                                  "--replay_short_share=0.5 --export_dir=",
                                  instructed),
                     &log),
            0)
      << log;
  EXPECT_THAT(log, HasSubstr("(passkey: loss"));
  EXPECT_THAT(log, HasSubstr("reconstruct: loss"));
  EXPECT_THAT(log, HasSubstr("reconstruct short: loss"));
  EXPECT_THAT(log, HasSubstr("step 3/3 loss"));

  // The server's engine serves what the trainer exported.
  EngineOptions options;
  options.decoder_dir = SrcDir("tests/testdata/tiny/decoder");
  options.rcc_dir = instructed;
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Load(options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  EXPECT_TRUE((*engine)->Supports(Method::kRcc));
  EXPECT_EQ((*engine)->description().rcc_ratio, 4);
  EXPECT_EQ((*engine)->description().storage_dtype, "bfloat16");
  auto ids = (*engine)->Tokenize("The lantern number 5 shines at dusk.");
  ASSERT_TRUE(ids.ok());
  auto memories = (*engine)->Compress(Method::kRcc, {*ids});
  ASSERT_TRUE(memories.ok()) << memories.status();
  EXPECT_EQ((*memories)[0]->slots(), (static_cast<int64_t>(ids->size()) + 3) / 4);
}

// --encoder_layers: the encoder is a trained copy of the decoder's first
// layers; the export holds them (not the embedding) and the engine serves it.
TEST(TrainRccTest, TrainsAnEncoderOfTheDecodersFirstLayers) {
  const std::string corpus = WriteCorpus();
  const std::string exported = TempDir("own_encoder_export");
  std::string log;
  ASSERT_EQ(TrainRcc(absl::StrCat("--corpus_dir=", corpus, " --out_dir=", TempDir("own_encoder"),
                                  " --encoder_layers=1 --steps=2 --checkpoint_every=2",
                                  " --export_dir=", exported),
                     &log),
            0)
      << log;
  EXPECT_THAT(log, HasSubstr("encoder of 1 layers (trained)"));
  EXPECT_THAT(log, HasSubstr("step 2/2 loss"));
  const std::string config = ReadFile(exported + "/rcc_config.json");
  EXPECT_THAT(config, HasSubstr("\"encoder_shares_decoder_embedding\": true"));
  EXPECT_THAT(config, HasSubstr("\"encoder_layers\": 1"));
  absl::StatusOr<WeightMap> tensors =
      LoadSafetensors(exported + "/rcc_encoder.safetensors", torch::kFloat);
  ASSERT_TRUE(tensors.ok()) << tensors.status();
  int encoder_tensors = 0;
  for (const auto& [name, tensor] : *tensors) {
    if (name.rfind("gpt_neox.rcc_encoder.", 0) == 0) ++encoder_tensors;
    EXPECT_THAT(name, ::testing::Not(HasSubstr("embed_in"))) << "the decoder's, not shipped";
  }
  EXPECT_GT(encoder_tensors, 0);

  EngineOptions options;
  options.decoder_dir = SrcDir("tests/testdata/tiny/decoder");
  options.rcc_dir = exported;
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Load(options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  auto ids = (*engine)->Tokenize("The river number 3 keeps seven gates.");
  ASSERT_TRUE(ids.ok());
  auto memories = (*engine)->Compress(Method::kRcc, {*ids});
  ASSERT_TRUE(memories.ok()) << memories.status();
  EXPECT_EQ((*memories)[0]->slots(), (static_cast<int64_t>(ids->size()) + 3) / 4);

  EXPECT_EQ(TrainRcc(absl::StrCat("--corpus_dir=", corpus, " --out_dir=", TempDir("too_deep"),
                                  " --encoder_layers=3 --steps=1"),
                     &log),
            1);
  EXPECT_THAT(log, HasSubstr("only 2 layers"));
}

TEST(TrainRccTest, BadFlagsAreExplained) {
  std::string log;
  EXPECT_EQ(TrainRcc("--stage=finetune", &log), 1);
  EXPECT_THAT(log, HasSubstr("--stage must be pretrain or instruct"));
  EXPECT_EQ(TrainRcc(absl::StrCat("--stage=instruct --corpus_dir=", TempDir("none"),
                                  " --out_dir=", TempDir("empty")),
                     &log),
            1);
  EXPECT_THAT(log, HasSubstr("--init_from"));
  EXPECT_EQ(TrainRcc("--reconstruction_replay_share=1.5", &log), 1);
  EXPECT_THAT(log, HasSubstr("--replay_short_share must lie in [0, 1]"));
  EXPECT_EQ(TrainRcc("--replay_short_share=-0.25", &log), 1);
  EXPECT_THAT(log, HasSubstr("--replay_short_share must lie in [0, 1]"));
  EXPECT_EQ(TrainRcc("--instruct_kinds=passkey,recipe", &log), 1);
  EXPECT_THAT(log, HasSubstr("unknown kind \"recipe\"; the kinds are passkey, dictionary, verse"));
}

}  // namespace
}  // namespace ccs::model::train
