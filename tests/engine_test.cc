// The engine over a tiny random GPT-NeoX model with the real GPT-NeoX
// tokenizer and an RCC checkpoint in the released schema.
#include "model/engine/engine.h"

#include <cstdlib>
#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccs::model {
namespace {

using ::testing::HasSubstr;

std::string TinyDir(const std::string& part) {
  return std::string(getenv("TEST_SRCDIR")) + "/ccs/tests/testdata/tiny/" + part;
}

std::unique_ptr<Engine> LoadTiny(bool with_rcc) {
  EngineOptions options;
  options.name = "tiny";
  options.decoder_dir = TinyDir("decoder");
  if (with_rcc) {
    options.rcc_dir = TinyDir("rcc");
    options.icformer_dir = TinyDir("icformer");
  }
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Load(options);
  EXPECT_TRUE(engine.ok()) << engine.status();
  return engine.ok() ? *std::move(engine) : nullptr;
}

std::vector<int32_t> RunJob(const Engine& engine, const GenerationJob& job) {
  std::vector<int32_t> streamed;
  absl::StatusOr<std::vector<GenerationOutcome>> out =
      engine.Generate({job}, [&](size_t, int32_t token) {
        streamed.push_back(token);
        return true;
      });
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok()) return {};
  EXPECT_EQ((*out)[0].tokens, streamed);
  return (*out)[0].tokens;
}

class EngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { engine_ = LoadTiny(true).release(); }
  static void TearDownTestSuite() { delete engine_; }
  static Engine* engine_;
};
Engine* EngineTest::engine_ = nullptr;

TEST_F(EngineTest, DescribesTheModel) {
  ASSERT_NE(engine_, nullptr);
  const ModelDescription& d = engine_->description();
  EXPECT_EQ(d.name, "tiny");
  EXPECT_EQ(d.architecture, "gpt_neox");
  EXPECT_EQ(d.vocab_size, 50304);
  EXPECT_EQ(d.rcc_ratio, 4);
  EXPECT_EQ(d.rcc_segment_tokens, 32);
  EXPECT_TRUE(engine_->Supports(Method::kRcc));
  EXPECT_TRUE(engine_->Supports(Method::kNone));
  EXPECT_TRUE(engine_->Supports(Method::kIcFormer));
  EXPECT_EQ(d.icformer_digests, 4);
  EXPECT_EQ(d.icformer_chunk_tokens, 16);
}

TEST_F(EngineTest, RccMemoryHasTheFormulaSizeAndGrowsByAppends) {
  ASSERT_NE(engine_, nullptr);
  absl::StatusOr<std::vector<int32_t>> ids =
      engine_->Tokenize("The cat sat on the sofa. The dog sat on the stool. " 
                        "Where does the cat sit? On the sofa, of course.");
  ASSERT_TRUE(ids.ok()) << ids.status();
  const int64_t n = static_cast<int64_t>(ids->size());
  auto memories = engine_->Compress(Method::kRcc, {*ids});
  ASSERT_TRUE(memories.ok()) << memories.status();
  const Memory& m = *(*memories)[0];
  EXPECT_EQ(m.tokens(), n);
  EXPECT_EQ(m.slots(), (n + 3) / 4);  // one slot per r = 4 tokens, rounded up
  EXPECT_EQ(m.bytes(), m.slots() * (2 + 1) * 32 * 4);  // slots x (L+1) x d x float32
  auto grown = engine_->Concat(m, m);
  ASSERT_TRUE(grown.ok());
  EXPECT_EQ((*grown)->slots(), 2 * m.slots());
  EXPECT_EQ((*grown)->bytes(), 2 * m.bytes());
  EXPECT_EQ((*grown)->segments(), 2 * m.segments());
}

TEST_F(EngineTest, CachedPrefixGivesTheSameTokensAsBuildingItEachTime) {
  ASSERT_NE(engine_, nullptr);
  for (Method method : {Method::kRcc, Method::kIcFormer, Method::kNone}) {
    auto ids = engine_->Tokenize("A short context about nothing in particular.");
    ASSERT_TRUE(ids.ok());
    auto memories = engine_->Compress(method, {*ids});
    ASSERT_TRUE(memories.ok());
    GenerationJob job;
    job.memory = (*memories)[0];
    job.prompt = "What is it about?";
    job.sampling.max_new_tokens = 8;
    const std::vector<int32_t> fresh = RunJob(*engine_, job);
    auto prefix = engine_->BuildPrefix(*job.memory);
    ASSERT_TRUE(prefix.ok());
    EXPECT_GT((*prefix)->bytes(), 0);
    job.prefix = *prefix;
    EXPECT_EQ(RunJob(*engine_, job), fresh) << MethodName(method);
    EXPECT_FALSE(fresh.empty());
  }
}

TEST_F(EngineTest, BatchOfMixedJobsEqualsEachAlone) {
  ASSERT_NE(engine_, nullptr);
  auto a = engine_->Tokenize("First document, rather short.");
  auto b = engine_->Tokenize("Second document, which is a good deal longer than the first one.");
  ASSERT_TRUE(a.ok() && b.ok());
  auto rcc = engine_->Compress(Method::kRcc, {*a, *b});
  auto none = engine_->Compress(Method::kNone, {*a});
  ASSERT_TRUE(rcc.ok() && none.ok());
  std::vector<GenerationJob> jobs(4);
  jobs[0].memory = (*rcc)[0];
  jobs[0].prompt = "Summarise.";
  jobs[1].memory = (*rcc)[1];
  jobs[1].prompt = "What is longer?";
  jobs[1].sampling.temperature = 0.8;
  jobs[1].sampling.seed = 42;
  jobs[2].memory = (*none)[0];
  jobs[2].prompt = "Anything?";
  jobs[3].memory = (*rcc)[0];
  jobs[3].task = Task::kReconstruct;
  for (GenerationJob& job : jobs) job.sampling.max_new_tokens = 6;
  absl::StatusOr<std::vector<GenerationOutcome>> together = engine_->Generate(jobs, nullptr);
  ASSERT_TRUE(together.ok()) << together.status();
  for (size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ((*together)[i].tokens, RunJob(*engine_, jobs[i])) << i;
    EXPECT_GT((*together)[i].prompt_tokens, 0) << i;
  }
}

TEST_F(EngineTest, IcFormerDigestsAreChunkedAndGrowByAppends) {
  ASSERT_NE(engine_, nullptr);
  // 40 tokens of context: ceil(40 / 16) = 3 chunks of 4 digests.
  std::vector<int32_t> ids;
  for (int i = 0; i < 40; ++i) ids.push_back(100 + i);
  auto memories = engine_->Compress(Method::kIcFormer, {ids, {ids.begin(), ids.begin() + 5}});
  ASSERT_TRUE(memories.ok()) << memories.status();
  const Memory& m = *(*memories)[0];
  EXPECT_EQ(m.slots(), 12);
  EXPECT_EQ(m.segments(), 3);
  EXPECT_EQ(m.bytes(), 12 * 32 * 4);
  EXPECT_EQ((*memories)[1]->slots(), 4);
  std::vector<int64_t> shape;
  std::string data;
  ASSERT_TRUE(m.ExportVectors(&shape, &data));
  EXPECT_EQ(shape, (std::vector<int64_t>{12, 32}));
  auto grown = engine_->Concat(m, *(*memories)[1]);
  ASSERT_TRUE(grown.ok());
  EXPECT_EQ((*grown)->slots(), 16);
  GenerationJob job;
  job.memory = *grown;
  job.task = Task::kReconstruct;
  job.sampling.max_new_tokens = 5;
  EXPECT_EQ(RunJob(*engine_, job).size(), 5u);
}

TEST_F(EngineTest, NoneSessionsReconstructTheirOwnText) {
  ASSERT_NE(engine_, nullptr);
  const std::string text = "Exactly this text, caf\xC3\xA9 and all.";
  auto ids = engine_->Tokenize(text);
  ASSERT_TRUE(ids.ok());
  auto memories = engine_->Compress(Method::kNone, {*ids});
  ASSERT_TRUE(memories.ok());
  GenerationJob job;
  job.memory = (*memories)[0];
  job.task = Task::kReconstruct;
  job.sampling.max_new_tokens = 1000;
  const std::vector<int32_t> tokens = RunJob(*engine_, job);
  EXPECT_EQ(tokens, *ids);
  EXPECT_EQ(*engine_->tokenizer().Decode(tokens), text);
}

TEST_F(EngineTest, InstructionReconstructionMarksWhereTheAnswerStarts) {
  ASSERT_NE(engine_, nullptr);
  auto ids = engine_->Tokenize("Some context.");
  auto memories = engine_->Compress(Method::kRcc, {*ids});
  ASSERT_TRUE(memories.ok());
  GenerationJob job;
  job.memory = (*memories)[0];
  job.prompt = "Question?";
  job.instruction_reconstruction = true;
  job.sampling.max_new_tokens = 4;
  GenerationJob plain = job;
  plain.instruction_reconstruction = false;
  EXPECT_EQ(engine_->AnswerMarker(plain), "");
  EXPECT_EQ(engine_->AnswerMarker(job), "assistant\n");
  absl::StatusOr<std::vector<GenerationOutcome>> out = engine_->Generate({job}, nullptr);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].tokens.size(), 4u);
}

TEST_F(EngineTest, CancellingStopsOneJob) {
  ASSERT_NE(engine_, nullptr);
  auto ids = engine_->Tokenize("Context.");
  auto memories = engine_->Compress(Method::kNone, {*ids});
  ASSERT_TRUE(memories.ok());
  GenerationJob job;
  job.memory = (*memories)[0];
  job.prompt = "Go on.";
  job.sampling.max_new_tokens = 20;
  absl::StatusOr<std::vector<GenerationOutcome>> out = engine_->Generate(
      {job, job}, [](size_t i, int32_t) { return i != 0; });
  ASSERT_TRUE(out.ok());
  EXPECT_EQ((*out)[0].finish_reason, FinishReason::kCancelled);
  EXPECT_EQ((*out)[0].tokens.size(), 1u);
  EXPECT_EQ((*out)[1].tokens.size(), 20u);
}

// Drives an engine DecodeBatch, recording each stream's tokens.
class BatchDriver {
 public:
  explicit BatchDriver(const Engine& engine) : batch_(engine.NewDecodeBatch()) {}

  DecodeBatch::StreamId Add(const GenerationJob& job) {
    std::vector<absl::StatusOr<DecodeBatch::StreamId>> ids = batch_->Add({job});
    EXPECT_TRUE(ids[0].ok()) << ids[0].status();
    return ids[0].ok() ? *ids[0] : DecodeBatch::StreamId(-1);
  }

  void Step() {
    absl::StatusOr<std::vector<DecodeBatch::Finished>> finished =
        batch_->Step([this](DecodeBatch::StreamId id, int32_t token) {
          streamed_[id].push_back(token);
          return true;
        });
    ASSERT_TRUE(finished.ok()) << finished.status();
    for (DecodeBatch::Finished& f : *finished) outcomes_[f.id] = std::move(f.outcome);
  }

  DecodeBatch& batch() { return *batch_; }
  std::map<DecodeBatch::StreamId, std::vector<int32_t>>& streamed() { return streamed_; }
  std::map<DecodeBatch::StreamId, GenerationOutcome>& outcomes() { return outcomes_; }

 private:
  std::unique_ptr<DecodeBatch> batch_;
  std::map<DecodeBatch::StreamId, std::vector<int32_t>> streamed_;
  std::map<DecodeBatch::StreamId, GenerationOutcome> outcomes_;
};

// Jobs of every method and task join a running batch at different steps
// and leave it when they finish (or are removed); each generates exactly
// what it generates alone.
TEST_F(EngineTest, StreamsJoiningAndLeavingMidwayEqualEachAlone) {
  ASSERT_NE(engine_, nullptr);
  auto a = engine_->Tokenize("First document, rather short.");
  auto b = engine_->Tokenize("Second document, which is a good deal longer than the first one.");
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<GenerationJob> jobs;
  for (Method method : {Method::kNone, Method::kRcc, Method::kIcFormer}) {
    auto memories = engine_->Compress(method, {*a, *b});
    ASSERT_TRUE(memories.ok()) << memories.status();
    GenerationJob answer;
    answer.memory = (*memories)[0];
    answer.prompt = method == Method::kRcc ? "Summarise it." : "What is it?";
    answer.sampling.max_new_tokens = 7;
    jobs.push_back(answer);
    GenerationJob reconstruct;
    reconstruct.memory = (*memories)[1];
    reconstruct.task = Task::kReconstruct;
    reconstruct.sampling.max_new_tokens = 5;
    jobs.push_back(reconstruct);
  }
  jobs[3].sampling.temperature = 0.9;  // seeded sampling, its own generator
  jobs[3].sampling.seed = 11;
  std::vector<std::vector<int32_t>> alone;
  for (const GenerationJob& job : jobs) alone.push_back(RunJob(*engine_, job));

  BatchDriver d(*engine_);
  std::vector<DecodeBatch::StreamId> ids;
  for (const GenerationJob& job : jobs) {  // one joins every step
    ids.push_back(d.Add(job));
    d.Step();
  }
  while (!d.batch().empty()) d.Step();
  ASSERT_EQ(d.outcomes().size(), jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ(d.outcomes()[ids[i]].tokens, alone[i]) << "job " << i;
    EXPECT_EQ(d.streamed()[ids[i]], alone[i]) << "job " << i;
  }
  // The NONE reconstruction replays the stored tokens (its first max_new_tokens).
  EXPECT_EQ(d.outcomes()[ids[1]].tokens, std::vector<int32_t>(b->begin(), b->begin() + 5));
}

// A stream removed between steps gets no further token, and the others go
// on unchanged.
TEST_F(EngineTest, RemovedStreamStopsWithinOneStep) {
  ASSERT_NE(engine_, nullptr);
  auto ids = engine_->Tokenize("Context for a stream that is cancelled.");
  auto memories = engine_->Compress(Method::kRcc, {*ids});
  ASSERT_TRUE(memories.ok());
  GenerationJob job;
  job.memory = (*memories)[0];
  job.prompt = "Go on.";
  job.sampling.max_new_tokens = 12;
  job.sampling.temperature = 0.7;  // not greedy: the two streams differ
  job.sampling.seed = 3;
  GenerationJob other = job;
  other.sampling.seed = 4;
  const std::vector<int32_t> other_alone = RunJob(*engine_, other);
  BatchDriver d(*engine_);
  const DecodeBatch::StreamId cancelled = d.Add(job);
  const DecodeBatch::StreamId kept = d.Add(other);
  d.Step();
  d.Step();
  absl::StatusOr<GenerationOutcome> removed = d.batch().Remove(cancelled);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(removed->finish_reason, FinishReason::kCancelled);
  EXPECT_EQ(removed->tokens, d.streamed()[cancelled]);
  EXPECT_EQ(d.batch().size(), 1u);
  while (!d.batch().empty()) d.Step();
  EXPECT_EQ(d.streamed()[cancelled].size(), 2u);
  EXPECT_EQ(d.outcomes()[kept].tokens, other_alone);
  EXPECT_EQ(d.batch().Remove(cancelled).status().code(), absl::StatusCode::kNotFound);
}

// A job that cannot join is refused on its own; the others join.
TEST_F(EngineTest, BadJobIsRefusedAlone) {
  ASSERT_NE(engine_, nullptr);
  auto ids = engine_->Tokenize("Context.");
  auto memories = engine_->Compress(Method::kNone, {*ids});
  ASSERT_TRUE(memories.ok());
  GenerationJob good;
  good.memory = (*memories)[0];
  good.prompt = "Fine?";
  good.sampling.max_new_tokens = 3;
  GenerationJob bad = good;
  bad.sampling.top_p = 0;
  GenerationJob no_memory = good;
  no_memory.memory = nullptr;
  std::unique_ptr<DecodeBatch> batch = engine_->NewDecodeBatch();
  std::vector<absl::StatusOr<DecodeBatch::StreamId>> added = batch->Add({bad, good, no_memory});
  ASSERT_EQ(added.size(), 3u);
  EXPECT_EQ(added[0].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(added[0].status().message()), HasSubstr("top_p"));
  EXPECT_TRUE(added[1].ok());
  EXPECT_EQ(added[2].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(batch->size(), 1u);
}

TEST(EngineWithoutRccTest, RccIsFailedPrecondition) {
  std::unique_ptr<Engine> engine = LoadTiny(false);
  ASSERT_NE(engine, nullptr);
  auto ids = engine->Tokenize("text");
  ASSERT_TRUE(ids.ok());
  auto memories = engine->Compress(Method::kRcc, {*ids});
  EXPECT_EQ(memories.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(memories.status().message()), HasSubstr("not loaded"));
}

// The project's own RCC layout: rcc_config.json says the encoder is the
// decoder, and the checkpoint holds only the projections.
TEST(EngineSharedEncoderRccTest, LoadsCompressesAnswersAndReconstructs) {
  for (const char* dtype : {"float32", "bfloat16"}) {
    EngineOptions options;
    options.name = "tiny";
    options.decoder_dir = TinyDir("decoder");
    options.rcc_dir = TinyDir("rcc_shared");
    options.dtype = dtype;
    absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Load(options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    EXPECT_TRUE((*engine)->Supports(Method::kRcc));
    EXPECT_EQ((*engine)->description().rcc_ratio, 4);
    auto ids = (*engine)->Tokenize("The encoder of this compressor is the decoder itself.");
    ASSERT_TRUE(ids.ok());
    auto memories = (*engine)->Compress(Method::kRcc, {*ids});
    ASSERT_TRUE(memories.ok()) << memories.status();
    const Memory& m = *(*memories)[0];
    const int64_t n = static_cast<int64_t>(ids->size());
    EXPECT_EQ(m.slots(), (n + 3) / 4);
    EXPECT_EQ(m.bytes(), m.slots() * (2 + 1) * 32 * 4);  // the decoder's L+1 states, float32
    GenerationJob job;
    job.memory = (*memories)[0];
    job.prompt = "What is the encoder?";
    job.sampling.max_new_tokens = 5;
    const std::vector<int32_t> answer = RunJob(**engine, job);  // fails the test on error
    EXPECT_LE(answer.size(), 5u) << dtype;
    auto prefix = (*engine)->BuildPrefix(*job.memory);
    ASSERT_TRUE(prefix.ok()) << prefix.status();
    job.prefix = *prefix;
    EXPECT_EQ(RunJob(**engine, job), answer) << dtype;
    job.task = Task::kReconstruct;
    EXPECT_LE(RunJob(**engine, job).size(), 5u) << dtype;
  }
}

TEST(ReconstructMinTokensTest, IsAShareOfTheCompressedTokensWithinTheCap) {
  EXPECT_EQ(ReconstructMinTokens(100, 0.5, 200), 50);
  EXPECT_EQ(ReconstructMinTokens(7, 0.5, 200), 3);
  EXPECT_EQ(ReconstructMinTokens(100, 0.5, 30), 30);  // never above max_new_tokens
  EXPECT_EQ(ReconstructMinTokens(100, 0, 200), 0);
  EXPECT_EQ(ReconstructMinTokens(100, 1, 200), 100);
}

TEST(EngineLoadTest, BadOptionsAreExplained) {
  EngineOptions options;
  options.decoder_dir = "/no/such/dir";
  EXPECT_FALSE(Engine::Load(options).ok());
  options.decoder_dir = TinyDir("decoder");
  options.dtype = "float8";
  EXPECT_EQ(Engine::Load(options).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ccs::model
