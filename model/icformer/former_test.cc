// IcFormer against the released code's equations run over Hugging Face's
// LlamaForCausalLM (testdata/make_icformer_reference.py), on a tiny random
// checkpoint in the released schema: hidden 32, 4 heads, 2 K/V heads, 3
// layers, k = 8 digests, chunks of at most L = 16 tokens.
#include "model/icformer/former.h"

#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/icformer/checkpoint.h"
#include "model/transformer/generate.h"
#include "model/transformer/loader.h"
#include "model/weights/weights.h"

namespace ccs::model::icformer {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using transformer::Decoder;
using transformer::WeightMap;

constexpr double kTolerance = 1e-4;
constexpr int64_t kK = 8, kL = 16;
const int64_t kLengths[] = {1, kL - 1, kL, kL + 1, 3 * kL + 2};

std::string Testdata(const std::string& name) {
  return std::string(getenv("TEST_SRCDIR")) + "/ccs/model/icformer/testdata/" + name;
}

std::vector<int64_t> Ids(const torch::Tensor& t) {
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
}

double MaxDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat) - b.to(torch::kFloat)).abs().max().item<double>();
}

std::shared_ptr<const Decoder> LoadReferenceDecoder() {
  absl::StatusOr<std::unique_ptr<Decoder>> decoder =
      transformer::LoadDecoder(Testdata("decoder"), {torch::kCPU, torch::kFloat32});
  EXPECT_TRUE(decoder.ok()) << decoder.status();
  return decoder.ok() ? std::shared_ptr<const Decoder>(*std::move(decoder)) : nullptr;
}

class IcFormerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    decoder_ = new std::shared_ptr<const Decoder>(LoadReferenceDecoder());
    absl::StatusOr<WeightMap> expected = LoadSafetensors(Testdata("expected.tensors"), torch::kFloat32);
    ASSERT_TRUE(expected.ok()) << expected.status();
    expected_ = new WeightMap(*std::move(expected));
  }

  void SetUp() override {
    ASSERT_NE(*decoder_, nullptr);
    IcFormerOptions options;
    options.max_batch_chunks = 3;  // several passes, mixed lengths in each
    absl::StatusOr<std::unique_ptr<IcFormer>> former =
        LoadIcFormer(Testdata("former"), *decoder_, options);
    ASSERT_TRUE(former.ok()) << former.status();
    former_ = *std::move(former);
  }

  static const torch::Tensor& Expected(const std::string& name) { return expected_->at(name); }
  static std::vector<int64_t> Context(int64_t n) {
    return Ids(Expected("context." + std::to_string(n)));
  }
  torch::Tensor Digests(int64_t n) {
    absl::StatusOr<std::vector<torch::Tensor>> digests = former_->Compress({Context(n)});
    EXPECT_TRUE(digests.ok()) << digests.status();
    return digests.ok() ? (*digests)[0] : torch::Tensor();
  }
  // The decoder's logits over `embeds` [T, C]: [1, T, V].
  torch::Tensor Logits(const torch::Tensor& embeds) {
    transformer::DecoderInput input;
    input.inputs_embeds = embeds.unsqueeze(0);
    absl::StatusOr<transformer::DecoderOutput> out = former_->decoder().Forward(input);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? out->logits : torch::Tensor();
  }

  static std::shared_ptr<const Decoder>* decoder_;
  static WeightMap* expected_;
  std::unique_ptr<IcFormer> former_;
};

std::shared_ptr<const Decoder>* IcFormerTest::decoder_ = nullptr;
WeightMap* IcFormerTest::expected_ = nullptr;

TEST_F(IcFormerTest, DigestsMatchTheReferenceAtChunkEdges) {
  std::vector<std::vector<int64_t>> contexts;
  for (int64_t n : kLengths) contexts.push_back(Context(n));
  absl::StatusOr<std::vector<torch::Tensor>> digests = former_->Compress(contexts);
  ASSERT_TRUE(digests.ok()) << digests.status();
  ASSERT_EQ(digests->size(), contexts.size());
  for (size_t i = 0; i < contexts.size(); ++i) {
    const int64_t n = kLengths[i];
    const torch::Tensor& expected = Expected("digests." + std::to_string(n));
    const torch::Tensor& got = (*digests)[i];
    ASSERT_EQ(got.sizes(), expected.sizes()) << n;
    EXPECT_EQ(got.size(0), DigestCount(n, former_->config())) << n;
    EXPECT_EQ(got.device(), torch::Device(torch::kCPU));
    EXPECT_LT(MaxDiff(got, expected), kTolerance) << n;
    EXPECT_GT(expected.std().item<double>(), 0.1) << n;  // not degenerate
  }
  EXPECT_EQ((*digests)[4].size(0), 4 * kK);  // 50 tokens: 13, 13, 13, 11
}

TEST_F(IcFormerTest, BatchedCompressionEqualsOneByOne) {
  const std::vector<std::vector<int64_t>> contexts = {Context(50), Context(1), Context(17),
                                                      Context(16), Context(15)};
  absl::StatusOr<std::vector<torch::Tensor>> together = former_->Compress(contexts);
  ASSERT_TRUE(together.ok()) << together.status();
  IcFormerOptions one_pass;
  one_pass.max_batch_chunks = 64;
  absl::StatusOr<std::unique_ptr<IcFormer>> wide =
      LoadIcFormer(Testdata("former"), *decoder_, one_pass);
  ASSERT_TRUE(wide.ok()) << wide.status();
  absl::StatusOr<std::vector<torch::Tensor>> in_one_pass = (*wide)->Compress(contexts);
  ASSERT_TRUE(in_one_pass.ok()) << in_one_pass.status();
  for (size_t i = 0; i < contexts.size(); ++i) {
    absl::StatusOr<std::vector<torch::Tensor>> alone = former_->Compress({contexts[i]});
    ASSERT_TRUE(alone.ok());
    EXPECT_LT(MaxDiff((*together)[i], (*alone)[0]), 1e-5) << i;
    EXPECT_LT(MaxDiff((*in_one_pass)[i], (*alone)[0]), 1e-5) << i;
  }
}

TEST_F(IcFormerTest, ChunksAreCompressedIndependently) {
  const std::vector<int64_t> whole = Context(50);
  std::vector<std::vector<int64_t>> chunks;
  for (const IcFormerChunk& chunk : PlanChunks(50, former_->config())) {
    chunks.emplace_back(whole.begin() + chunk.start, whole.begin() + chunk.start + chunk.length);
  }
  ASSERT_EQ(chunks.size(), 4u);
  absl::StatusOr<std::vector<torch::Tensor>> parts = former_->Compress(chunks);
  ASSERT_TRUE(parts.ok());
  EXPECT_LT(MaxDiff(torch::cat(*parts, 0), Digests(50)), 1e-5);
}

TEST_F(IcFormerTest, ReconstructionLogitsMatchTheReference) {
  absl::StatusOr<torch::Tensor> embeds = former_->ReconstructEmbeds(Digests(50));
  ASSERT_TRUE(embeds.ok()) << embeds.status();
  ASSERT_EQ(embeds->size(0), 4 * kK + 1);
  EXPECT_LT(MaxDiff((*embeds)[-1], Expected("param.AE")[0][0]), 1e-7);  // AE last
  absl::StatusOr<torch::Tensor> text = former_->decoder().Embed(Expected("text").unsqueeze(0));
  ASSERT_TRUE(text.ok());
  const torch::Tensor logits = Logits(torch::cat({*embeds, (*text)[0]}, 0));
  ASSERT_EQ(logits.sizes(), Expected("reconstruct_logits").sizes());
  EXPECT_LT(MaxDiff(logits, Expected("reconstruct_logits")), kTolerance);
  EXPECT_GT(Expected("reconstruct_logits").std().item<double>(), 0.1);
}

TEST_F(IcFormerTest, AnswerLogitsMatchTheReference) {
  ASSERT_TRUE(former_->can_answer());
  absl::StatusOr<torch::Tensor> embeds =
      former_->AnswerEmbeds(Digests(50), Ids(Expected("prompt")), Ids(Expected("prefix")),
                            Ids(Expected("suffix")));
  ASSERT_TRUE(embeds.ok()) << embeds.status();
  ASSERT_EQ(embeds->size(0), 5 + 4 * kK + 1 + 4 + 3);
  EXPECT_LT(MaxDiff((*embeds)[5 + 4 * kK], Expected("param.FT")[0][0]), 1e-7);  // FT after digests
  const torch::Tensor logits = Logits(*embeds);
  ASSERT_EQ(logits.sizes(), Expected("answer_logits").sizes());
  EXPECT_LT(MaxDiff(logits, Expected("answer_logits")), kTolerance);
}

TEST_F(IcFormerTest, GenerateFromReconstructEmbedsMatchesReferenceGreedy) {
  absl::StatusOr<torch::Tensor> embeds = former_->ReconstructEmbeds(Digests(17));
  ASSERT_TRUE(embeds.ok());
  transformer::GenerationRequest request;
  request.prompt_embeds = *embeds;
  request.sampling.max_new_tokens = 6;
  request.sampling.ignore_eos = true;
  absl::StatusOr<std::vector<transformer::GenerationResult>> results =
      transformer::Generate(former_->decoder(), {request});
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ((*results)[0].tokens, Ids(Expected("reconstruct_tokens")));
  EXPECT_EQ((*results)[0].prompt_tokens, 2 * kK + 1);
}

TEST_F(IcFormerTest, BadInputsAreRejected) {
  const auto code = [](const auto& result) { return result.status().code(); };
  EXPECT_EQ(code(former_->Compress({{}})), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(former_->Compress({{1, 2, 96}})), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(former_->Compress({{-1}})), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(former_->Compress({})->empty());
  EXPECT_EQ(code(former_->ReconstructEmbeds(torch::zeros({kK + 1, 32}))),
            absl::StatusCode::kInvalidArgument);  // not whole chunks of digests
  EXPECT_EQ(code(former_->ReconstructEmbeds(torch::zeros({kK, 16}))),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(former_->ReconstructEmbeds(torch::Tensor())), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(former_->AnswerEmbeds(torch::zeros({kK, 32}), {500}, {}, {})),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<torch::Tensor> bare = former_->AnswerEmbeds(torch::zeros({kK, 32}), {}, {}, {});
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_EQ(bare->size(0), kK + 1);  // digests, FT
}

TEST(IcFormerParamsTest, GpuSavedParamPtLoadsOnTheCpu) {
  absl::StatusOr<WeightMap> expected = LoadSafetensors(Testdata("expected.tensors"), torch::kFloat32);
  ASSERT_TRUE(expected.ok());
  // Recorded as saved from "cuda:0": torch::pickle_load would need a GPU.
  absl::StatusOr<IcFormerParams> params = LoadIcFormerParams(Testdata("former/param.pt"));
  ASSERT_TRUE(params.ok()) << params.status();
  for (const auto& [t, name] : {std::pair{params->digest_embeddings, "digest_embeddings"},
                                std::pair{params->ae, "AE"}, std::pair{params->ft, "FT"}}) {
    ASSERT_TRUE(t.defined()) << name;
    EXPECT_EQ(t.device(), torch::Device(torch::kCPU));
    EXPECT_FALSE(t.requires_grad());
    EXPECT_TRUE(torch::equal(t, expected->at(std::string("param.") + name))) << name;
  }
  // An AE-pretraining checkpoint: bfloat16, no FT, an extra LM.
  absl::StatusOr<IcFormerParams> noft = LoadIcFormerParams(Testdata("param_noft.pt"));
  ASSERT_TRUE(noft.ok()) << noft.status();
  EXPECT_FALSE(noft->ft.defined());
  EXPECT_EQ(noft->ae.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(noft->ae.to(torch::kFloat), expected->at("param_noft.AE")));
  EXPECT_TRUE(torch::equal(noft->digest_embeddings.to(torch::kFloat),
                           expected->at("param_noft.digest_embeddings")));
}

struct Checkpoint {
  IcFormerConfig config;
  WeightMap weights;
  IcFormerParams params;
};

Checkpoint LoadReferenceCheckpoint() {
  Checkpoint c;
  absl::StatusOr<IcFormerConfig> config = LoadIcFormerConfig(Testdata("former/config.json"));
  absl::StatusOr<WeightMap> weights = LoadSafetensors(Testdata("former"), torch::kFloat32);
  absl::StatusOr<IcFormerParams> params = LoadIcFormerParams(Testdata("former/param.pt"));
  EXPECT_TRUE(config.ok() && weights.ok() && params.ok());
  if (config.ok() && weights.ok() && params.ok()) c = {*config, *weights, *params};
  return c;
}

TEST(IcFormerCreateTest, EveryCheckpointProblemIsListedTogether) {
  Checkpoint c = LoadReferenceCheckpoint();
  c.weights.erase("encoder.layers.1.context_layernorm.weight");
  c.weights["encoder.layers.3.cross_attn.q_proj.weight"] = torch::zeros({32, 32});
  c.weights["encoder.layers.0.mlp.up_proj.weight"] = torch::zeros({32, 48});
  c.params.ae = torch::zeros({1, 32});
  absl::StatusOr<std::unique_ptr<IcFormer>> former =
      IcFormer::Create(c.config, c.weights, c.params, LoadReferenceDecoder());
  EXPECT_EQ(former.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(former.status().message()),
              AllOf(HasSubstr("encoder.layers.1.context_layernorm.weight"),
                    HasSubstr("encoder.layers.3.cross_attn.q_proj.weight"),
                    HasSubstr("encoder.layers.0.mlp.up_proj.weight [32, 48] (expected [48, 32])"),
                    HasSubstr("AE is [1, 32]")));
  c = LoadReferenceCheckpoint();
  c.params.digest_embeddings = torch::Tensor();
  former = IcFormer::Create(c.config, c.weights, c.params, LoadReferenceDecoder());
  EXPECT_THAT(std::string(former.status().message()), HasSubstr("digest_embeddings is missing"));
}

TEST(IcFormerCreateTest, HiddenSizeMustBeTheDecoders) {
  absl::StatusOr<transformer::DecoderConfig> wide = transformer::ParseDecoderConfig(
      R"({"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 1,
          "num_attention_heads": 4, "intermediate_size": 32, "vocab_size": 96})");
  ASSERT_TRUE(wide.ok()) << wide.status();
  absl::StatusOr<std::unique_ptr<Decoder>> decoder =
      Decoder::Create(*wide, transformer::RandomWeights(*wide, 1));
  ASSERT_TRUE(decoder.ok());
  Checkpoint c = LoadReferenceCheckpoint();
  absl::StatusOr<std::unique_ptr<IcFormer>> former =
      IcFormer::Create(c.config, c.weights, c.params, std::move(*decoder));
  EXPECT_EQ(former.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(former.status().message()), HasSubstr("differs from the decoder's 64"));
  EXPECT_EQ(IcFormer::Create(c.config, c.weights, c.params, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(IcFormerCreateTest, WithoutFtItReconstructsButCannotAnswer) {
  Checkpoint c = LoadReferenceCheckpoint();
  c.params.ft = torch::Tensor();
  absl::StatusOr<std::unique_ptr<IcFormer>> former =
      IcFormer::Create(c.config, c.weights, c.params, LoadReferenceDecoder());
  ASSERT_TRUE(former.ok()) << former.status();
  EXPECT_FALSE((*former)->can_answer());
  EXPECT_TRUE((*former)->ReconstructEmbeds(torch::zeros({kK, 32})).ok());
  absl::StatusOr<torch::Tensor> answer = (*former)->AnswerEmbeds(torch::zeros({kK, 32}), {1}, {}, {});
  EXPECT_EQ(answer.status().code(), absl::StatusCode::kFailedPrecondition);
}

// A copy of the reference checkpoint without param.pt, in the test's tmpdir.
std::string CheckpointWithoutParams(const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(getenv("TEST_TMPDIR")) / name;
  fs::create_directories(dir);
  for (const char* file : {"config.json", "model.safetensors"}) {
    fs::copy_file(Testdata("former/") + file, dir / file, fs::copy_options::overwrite_existing);
  }
  return dir.string();
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(IcFormerLoaderTest, MissingOrBrokenFilesAreClearErrors) {
  std::shared_ptr<const Decoder> decoder = LoadReferenceDecoder();
  absl::StatusOr<std::unique_ptr<IcFormer>> former = LoadIcFormer("/nonexistent/icformer", decoder);
  EXPECT_EQ(former.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(former.status().message()), HasSubstr("config.json"));

  const std::string dir = CheckpointWithoutParams("no_params");
  former = LoadIcFormer(dir, decoder);
  EXPECT_EQ(former.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(former.status().message()), HasSubstr("param.pt"));

  WriteFile(dir + "/param.pt", "\x80\x02}q\x00.");  // a legacy (non-zip) pickle
  former = LoadIcFormer(dir, decoder);
  EXPECT_EQ(former.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(former.status().message()), HasSubstr("not a torch.save zip archive"));

  WriteFile(dir + "/param.pt", std::string("PK\x03\x04", 4) + std::string(100, '\x07'));
  former = LoadIcFormer(dir, decoder);
  EXPECT_EQ(former.status().code(), absl::StatusCode::kInvalidArgument) << former.status();

  std::filesystem::copy_file(Testdata("param_noft.pt"), dir + "/param.pt",
                             std::filesystem::copy_options::overwrite_existing);
  former = LoadIcFormer(dir, decoder);  // loads: the digests are bf16, run in fp32
  ASSERT_TRUE(former.ok()) << former.status();
  EXPECT_FALSE((*former)->can_answer());
}

// Training path: CompressChunks is Compress for whole chunks, and it
// carries gradients to every learned tensor.
TEST_F(IcFormerTest, CompressChunksGivesCompressDigestsAndGradients) {
  const std::vector<int64_t> a = Context(kL), b = Context(3 * kL + 2);
  const std::vector<int64_t> b_head(b.begin(), b.begin() + kL);
  torch::Tensor ids = torch::stack({torch::tensor(a), torch::tensor(b_head)});  // [2, L]
  absl::StatusOr<std::vector<torch::Tensor>> served = former_->Compress({a, b_head});
  ASSERT_TRUE(served.ok()) << served.status();

  NamedTensors params = former_->Parameters();
  ASSERT_EQ(params.size(), ExpectedIcFormerWeights(former_->config()).size() + 3);  // + FT
  for (auto& [name, t] : params) t.requires_grad_(true);
  absl::StatusOr<torch::Tensor> trained = former_->CompressChunks(ids);
  ASSERT_TRUE(trained.ok()) << trained.status();
  ASSERT_EQ(trained->sizes(), (std::vector<int64_t>{2, kK, former_->config().hidden_size}));
  EXPECT_LT(MaxDiff((*trained)[0], (*served)[0]), kTolerance);
  EXPECT_LT(MaxDiff((*trained)[1], (*served)[1]), kTolerance);

  // The AE loss's shape of use: digests then AE into the decoder.
  torch::Tensor embeds = torch::cat({(*trained)[0], former_->params().ae[0]}, 0);
  Logits(embeds).sum().backward();
  for (const auto& [name, t] : params) {
    if (name == "FT") continue;  // not on the reconstruction path
    ASSERT_TRUE(t.grad().defined()) << name;
    EXPECT_GT(t.grad().abs().sum().item<double>(), 0) << name;
  }
  EXPECT_EQ(former_->CompressChunks(torch::zeros({2, kL + 1}, torch::kLong)).status().code(),
            absl::StatusCode::kInvalidArgument);  // longer than a chunk
  EXPECT_EQ(former_->CompressChunks(torch::full({1, 2}, 1 << 30, torch::kLong)).status().code(),
            absl::StatusCode::kInvalidArgument);  // outside the vocabulary
}

TEST_F(IcFormerTest, InitializedFormerSavesAndLoadsBack) {
  absl::StatusOr<std::unique_ptr<IcFormer>> fresh =
      IcFormer::Initialize(former_->config(), *decoder_, {.seed = 5, .with_ft = true});
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_TRUE((*fresh)->can_answer());
  const std::string dir = std::string(getenv("TEST_TMPDIR")) + "/saved_former";
  ASSERT_TRUE(SaveIcFormer(**fresh, dir, torch::kFloat, {{"recipe", "test"}}).ok());
  EXPECT_FALSE(std::filesystem::exists(dir + "/param.pt"));
  absl::StatusOr<std::unique_ptr<IcFormer>> loaded = LoadIcFormer(dir, *decoder_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE((*loaded)->can_answer());
  const NamedTensors saved = (*fresh)->Parameters(), back = (*loaded)->Parameters();
  ASSERT_EQ(saved.size(), back.size());
  for (size_t i = 0; i < saved.size(); ++i) {
    EXPECT_EQ(saved[i].first, back[i].first);
    EXPECT_TRUE(torch::equal(saved[i].second, back[i].second)) << saved[i].first;
  }
  absl::StatusOr<std::vector<torch::Tensor>> x = (*fresh)->Compress({Context(kL + 1)});
  absl::StatusOr<std::vector<torch::Tensor>> y = (*loaded)->Compress({Context(kL + 1)});
  ASSERT_TRUE(x.ok() && y.ok());
  EXPECT_TRUE(torch::equal((*x)[0], (*y)[0]));
  // The same seed gives the same former.
  absl::StatusOr<std::unique_ptr<IcFormer>> again =
      IcFormer::Initialize(former_->config(), *decoder_, {.seed = 5, .with_ft = true});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(torch::equal((*again)->params().digest_embeddings,
                           (*fresh)->params().digest_embeddings));
}

TEST_F(IcFormerTest, InitializesLayersFromTheDecoder) {
  IcFormerConfig config = former_->config();  // the test decoder's layer shapes, 3 layers
  config.num_hidden_layers = 2;                // the test decoder has 2
  absl::StatusOr<std::unique_ptr<IcFormer>> former =
      IcFormer::Initialize(config, *decoder_, {.seed = 5, .layers_from_decoder = true});
  ASSERT_TRUE(former.ok()) << former.status();
  const WeightMap& decoder_weights = (*decoder_)->weights();
  int copied = 0;
  for (const auto& [name, tensor] : (*former)->Parameters()) {
    for (const auto& [mine, theirs] :
         {std::pair{".cross_attn.k_proj.weight", ".self_attn.k_proj.weight"},
          std::pair{".context_layernorm.weight", ".input_layernorm.weight"},
          std::pair{".cross_input_layernorm.weight", ".input_layernorm.weight"},
          std::pair{".mlp.down_proj.weight", ".mlp.down_proj.weight"}}) {
      if (!absl::EndsWith(name, mine)) continue;
      std::string from = absl::StrReplaceAll(name, {{"encoder.", "model."}, {mine, theirs}});
      EXPECT_TRUE(torch::equal(tensor, decoder_weights.at(from))) << name << " vs " << from;
      ++copied;
    }
  }
  EXPECT_EQ(copied, 2 * 4);

  // More layers than the decoder has, or another rotary base: refused.
  absl::StatusOr<std::unique_ptr<IcFormer>> deeper =
      IcFormer::Initialize(former_->config(), *decoder_, {.layers_from_decoder = true});
  EXPECT_EQ(deeper.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(deeper.status().message(), HasSubstr("model.layers.2."));
  config.rope_theta = 500000;
  absl::StatusOr<std::unique_ptr<IcFormer>> other_rope =
      IcFormer::Initialize(config, *decoder_, {.layers_from_decoder = true});
  EXPECT_EQ(other_rope.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(other_rope.status().message(), HasSubstr("rope_theta"));
}

}  // namespace
}  // namespace ccs::model::icformer
