#include "model/transformer/decode_batch.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/transformer/generate.h"
#include "model/transformer/testdata/golden_reader.h"

namespace ccs::model::transformer {
namespace {

using ::testing::HasSubstr;
using SequenceId = DecodeBatch::SequenceId;

struct Fixture {
  std::unique_ptr<Golden> golden;
  std::unique_ptr<Decoder> decoder;
  std::vector<std::vector<int64_t>> prompts;   // lengths 5, 9, 3
  std::vector<std::vector<int64_t>> expected;  // Hugging Face greedy, each alone
  int64_t max_new_tokens = 0;
};

Fixture Load(const std::string& variant) {
  Fixture f;
  absl::StatusOr<Golden> golden = LoadGolden(variant);
  EXPECT_TRUE(golden.ok()) << golden.status();
  if (!golden.ok()) return f;
  f.golden = std::make_unique<Golden>(*std::move(golden));
  absl::StatusOr<std::unique_ptr<Decoder>> decoder =
      Decoder::Create(f.golden->config(), f.golden->Weights());
  EXPECT_TRUE(decoder.ok()) << decoder.status();
  if (decoder.ok()) f.decoder = *std::move(decoder);
  const nlohmann::json& greedy = f.golden->cases()["greedy"];
  f.prompts = greedy["prompts"].get<std::vector<std::vector<int64_t>>>();
  f.expected = greedy["expected"].get<std::vector<std::vector<int64_t>>>();
  f.max_new_tokens = greedy["max_new_tokens"].get<int64_t>();
  return f;
}

GenerationRequest Request(const std::vector<int64_t>& prompt, const SamplingParams& sampling) {
  GenerationRequest request;
  request.prompt_ids = prompt;
  request.sampling = sampling;
  return request;
}

// Drives a batch, recording what each sequence streamed and how it ended.
class Driver {
 public:
  explicit Driver(const Decoder& decoder) : batch_(decoder) {}

  SequenceId Add(const GenerationRequest& request) {
    absl::StatusOr<std::vector<SequenceId>> ids = batch_.Add({request});
    EXPECT_TRUE(ids.ok()) << ids.status();
    return ids.ok() ? (*ids)[0] : SequenceId(-1);
  }

  void Step() {
    absl::StatusOr<std::vector<DecodeBatch::Finished>> finished =
        batch_.Step([this](SequenceId id, int64_t token) {
          streamed_[id].push_back(token);
          return true;
        });
    ASSERT_TRUE(finished.ok()) << finished.status();
    for (DecodeBatch::Finished& f : *finished) results_[f.id] = std::move(f.result);
  }

  void RunToEnd() {
    while (!batch_.empty()) Step();
  }

  DecodeBatch& batch() { return batch_; }
  std::map<SequenceId, std::vector<int64_t>>& streamed() { return streamed_; }
  std::map<SequenceId, GenerationResult>& results() { return results_; }

 private:
  DecodeBatch batch_;
  std::map<SequenceId, std::vector<int64_t>> streamed_;
  std::map<SequenceId, GenerationResult> results_;
};

class DecodeBatchTest : public ::testing::TestWithParam<std::string> {};

// Sequences that join a running batch at different steps (and leave it when
// they finish, some at EOS) generate exactly what each generates alone.
TEST_P(DecodeBatchTest, SequencesJoiningMidwayEqualEachAlone) {
  Fixture f = Load(GetParam());
  ASSERT_NE(f.decoder, nullptr);
  SamplingParams greedy;
  greedy.max_new_tokens = f.max_new_tokens;
  Driver d(*f.decoder);
  const SequenceId first = d.Add(Request(f.prompts[0], greedy));
  d.Step();
  d.Step();
  const SequenceId second = d.Add(Request(f.prompts[1], greedy));
  d.Step();
  const SequenceId third = d.Add(Request(f.prompts[2], greedy));
  EXPECT_EQ(d.batch().size(), 3u);
  d.RunToEnd();
  ASSERT_EQ(d.results().size(), 3u);
  EXPECT_EQ(d.results()[first].tokens, f.expected[0]);
  EXPECT_EQ(d.results()[second].tokens, f.expected[1]);
  EXPECT_EQ(d.results()[third].tokens, f.expected[2]);
  for (SequenceId id : {first, second, third}) {
    EXPECT_EQ(d.streamed()[id], d.results()[id].tokens) << id;
  }
  EXPECT_EQ(d.results()[second].prompt_tokens, static_cast<int64_t>(f.prompts[1].size()));
}

INSTANTIATE_TEST_SUITE_P(Variants, DecodeBatchTest,
                         ::testing::Values("neox_partial_parallel", "llama_gqa_untied"));

class DecodeBatchBehaviourTest : public ::testing::Test {
 protected:
  void SetUp() override {
    f_ = Load("llama_gqa_untied");
    ASSERT_NE(f_.decoder, nullptr);
    greedy_.max_new_tokens = f_.max_new_tokens;
  }
  Fixture f_;
  SamplingParams greedy_;
};

// Remove takes a sequence out before the next step: it gets no more tokens,
// and the others go on as if it had never been there.
TEST_F(DecodeBatchBehaviourTest, RemovedSequenceGetsNoFurtherToken) {
  Driver d(*f_.decoder);
  std::vector<SequenceId> ids;
  for (const auto& prompt : f_.prompts) ids.push_back(d.Add(Request(prompt, greedy_)));
  d.Step();
  d.Step();
  absl::StatusOr<GenerationResult> removed = d.batch().Remove(ids[1]);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(removed->finish_reason, FinishReason::kCancelled);
  const std::vector<int64_t> two(f_.expected[1].begin(), f_.expected[1].begin() + 2);
  EXPECT_EQ(removed->tokens, two);
  EXPECT_EQ(d.batch().size(), 2u);
  d.RunToEnd();
  EXPECT_EQ(d.streamed()[ids[1]], two);
  EXPECT_EQ(d.results()[ids[0]].tokens, f_.expected[0]);
  EXPECT_EQ(d.results()[ids[2]].tokens, f_.expected[2]);
  EXPECT_EQ(d.batch().Remove(ids[1]).status().code(), absl::StatusCode::kNotFound);
}

// A sequence whose callback returns false leaves in that very step.
TEST_F(DecodeBatchBehaviourTest, CallbackFalseLeavesInTheSameStep) {
  DecodeBatch batch(*f_.decoder);
  ASSERT_TRUE(batch.Add({Request(f_.prompts[0], greedy_), Request(f_.prompts[1], greedy_)}).ok());
  absl::StatusOr<std::vector<DecodeBatch::Finished>> finished =
      batch.Step([](SequenceId id, int64_t) { return id != 1; });
  ASSERT_TRUE(finished.ok());
  ASSERT_EQ(finished->size(), 1u);
  EXPECT_EQ((*finished)[0].id, 1u);
  EXPECT_EQ((*finished)[0].result.finish_reason, FinishReason::kCancelled);
  EXPECT_EQ((*finished)[0].result.tokens.size(), 1u);
  EXPECT_EQ(batch.size(), 1u);
}

// Slots that only a departed sequence used are forgotten (once there are
// enough of them), so a batch that keeps running does not keep every
// sequence's history.
TEST_F(DecodeBatchBehaviourTest, CacheForgetsSlotsOfDepartedSequences) {
  SamplingParams many = greedy_;
  many.max_new_tokens = 50;
  many.ignore_eos = true;
  std::vector<int64_t> long_ids;
  for (int i = 0; i < 80; ++i) long_ids.push_back(1 + (i * 37) % 200);
  Driver d(*f_.decoder);
  const SequenceId long_prompt = d.Add(Request(long_ids, many));        // 80 tokens
  const SequenceId short_prompt = d.Add(Request(f_.prompts[2], many));  // 3 tokens
  EXPECT_EQ(d.batch().cache_length(), 80);
  d.Step();
  EXPECT_EQ(d.batch().cache_length(), 81);
  ASSERT_TRUE(d.batch().Remove(long_prompt).ok());
  EXPECT_EQ(d.batch().cache_length(), 4);  // 3 prompt tokens + 1 generated
  d.Step();
  EXPECT_EQ(d.batch().cache_length(), 5);
  EXPECT_EQ(d.streamed()[short_prompt].size(), 2u);
}

// Seeded sampling draws from each sequence's own generator: joining a batch
// midway changes nothing.
TEST_F(DecodeBatchBehaviourTest, SeededSamplingJoiningMidwayEqualsAlone) {
  SamplingParams sampling;
  sampling.temperature = 1.5;
  sampling.max_new_tokens = 12;
  sampling.ignore_eos = true;
  std::vector<std::vector<int64_t>> alone;
  for (size_t i = 0; i < f_.prompts.size(); ++i) {
    sampling.seed = 7 + i;
    absl::StatusOr<std::vector<GenerationResult>> one =
        Generate(*f_.decoder, {Request(f_.prompts[i], sampling)});
    ASSERT_TRUE(one.ok()) << one.status();
    alone.push_back((*one)[0].tokens);
  }
  Driver d(*f_.decoder);
  std::vector<SequenceId> ids;
  for (size_t i = 0; i < f_.prompts.size(); ++i) {
    sampling.seed = 7 + i;
    ids.push_back(d.Add(Request(f_.prompts[i], sampling)));
    d.Step();
    d.Step();
  }
  d.RunToEnd();
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(d.results()[ids[i]].tokens, alone[i]) << i;
}

// A request that cannot join is refused whole; the batch runs on unchanged.
TEST_F(DecodeBatchBehaviourTest, RefusedJoinLeavesTheBatchAsItWas) {
  Driver d(*f_.decoder);
  const SequenceId id = d.Add(Request(f_.prompts[0], greedy_));
  d.Step();
  SamplingParams bad;
  bad.top_p = 0;
  absl::Status status =
      d.batch().Add({Request(f_.prompts[1], greedy_), Request(f_.prompts[2], bad)}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("request 1: top_p"));
  EXPECT_EQ(d.batch().Add({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(d.batch().size(), 1u);
  d.RunToEnd();
  EXPECT_EQ(d.results()[id].tokens, f_.expected[0]);
}

}  // namespace
}  // namespace ccs::model::transformer
