#include "model/weights/weights.h"

#include <torch/torch.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/weights/safetensors.h"

namespace ccs::model {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string TempDir(absl::string_view name) {
  const char* base = std::getenv("TEST_TMPDIR");
  const fs::path dir =
      fs::path(base != nullptr ? base : "/tmp") / std::string(name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

std::string Testdata(absl::string_view name) {
  return absl::StrCat(std::getenv("TEST_SRCDIR"),
                      "/ccs/model/weights/testdata/", name);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteText(const std::string& path, absl::string_view text) {
  std::ofstream(path, std::ios::binary) << text;
}

// Exact equality, bit for bit in float32 (so NaN == NaN and -0 != 0).
void ExpectBitEqual(const torch::Tensor& actual, const torch::Tensor& expected,
                    const std::string& name) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << name;
  const torch::Tensor a = actual.to(torch::kFloat32).contiguous();
  const torch::Tensor e = expected.to(torch::kFloat32).contiguous();
  EXPECT_EQ(std::memcmp(a.data_ptr(), e.data_ptr(), a.nbytes()), 0)
      << name << "\nactual:\n"
      << a << "\nexpected:\n"
      << e;
}

// --- Round trip: C++ writer -> C++ reader ----------------------------------

NamedTensors SampleTensors() {
  torch::manual_seed(5);
  return {
      {"f32.matrix", torch::randn({4, 3})},
      {"f16.vector", torch::randn({7}).to(torch::kFloat16)},
      {"bf16.cube", torch::randn({2, 3, 2}).to(torch::kBFloat16)},
      {"f32.transposed", torch::randn({3, 5}).t()},  // not contiguous
      {"f32.scalar", torch::tensor(2.5f)},
      {"bf16.empty", torch::zeros({0, 3}, torch::kBFloat16)},
      {"i64.ids", torch::arange(-2, 4, torch::kInt64)},
      {"bool.mask", torch::tensor({true, false, true})},
  };
}

TEST(WeightsRoundTripTest, WriterThenLoaderKeepsEverything) {
  const std::string path = TempDir("round_trip") + "/w.safetensors";
  const NamedTensors tensors = SampleTensors();
  const std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                       {"step", "100"}};
  ASSERT_TRUE(WriteSafetensors(path, tensors, metadata).ok());

  absl::StatusOr<WeightMap> f32 = LoadSafetensors(path, torch::kFloat32);
  ASSERT_TRUE(f32.ok()) << f32.status();
  ASSERT_EQ(f32->size(), tensors.size());
  for (const auto& [name, original] : tensors) {
    const torch::Tensor& loaded = f32->at(name);
    const bool floating = torch::isFloatingType(original.scalar_type());
    EXPECT_EQ(loaded.scalar_type(),
              floating ? torch::kFloat32 : original.scalar_type())
        << name;
    EXPECT_TRUE(loaded.is_contiguous()) << name;
    ExpectBitEqual(loaded, original, name);
  }
  EXPECT_EQ(f32->at("f32.scalar").dim(), 0);

  absl::StatusOr<WeightMap> bf16 = LoadSafetensors(path, torch::kBFloat16);
  ASSERT_TRUE(bf16.ok()) << bf16.status();
  EXPECT_EQ(bf16->at("f32.matrix").scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(bf16->at("f32.matrix"),
                           tensors[0].second.to(torch::kBFloat16)));
  EXPECT_TRUE(torch::equal(bf16->at("bf16.cube"), tensors[2].second));

  // The file keeps the dtypes, the given order and the metadata.
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->view().metadata(), metadata);
  ASSERT_EQ((*file)->view().tensors().size(), tensors.size());
  EXPECT_EQ((*file)->view().tensors()[1].name, "f16.vector");
  EXPECT_EQ((*file)->view().tensors()[1].dtype, SafetensorsDtype::kF16);
  EXPECT_EQ((*file)->view().tensors()[2].dtype, SafetensorsDtype::kBF16);
  EXPECT_EQ((*file)->view().Find("bool.mask")->dtype, SafetensorsDtype::kBool);
}

TEST(WeightsRoundTripTest, LoadedTensorsOutliveTheFile) {
  const std::string path = TempDir("outlive") + "/w.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, SampleTensors()).ok());
  absl::StatusOr<WeightMap> same = LoadSafetensors(path, torch::kFloat32);
  ASSERT_TRUE(same.ok()) << same.status();
  ASSERT_TRUE(fs::remove(path));  // and the mapping is gone
  ExpectBitEqual(same->at("f32.matrix"), SampleTensors()[0].second, "matrix");
}

TEST(WeightsRoundTripTest, BoolBytesOtherThanOneAreTrue) {
  const std::string path = TempDir("bool") + "/w.safetensors";
  const std::string bytes("\x00\x01\x02\xff", 4);
  ASSERT_TRUE(WriteSafetensorsFile(
                  path, {{"m", SafetensorsDtype::kBool, {4}, bytes}}, {})
                  .ok());
  absl::StatusOr<WeightMap> loaded = LoadSafetensors(path, torch::kFloat32);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(
      torch::equal(loaded->at("m"), torch::tensor({false, true, true, true})));
}

TEST(WeightsRoundTripTest, ConvertsUnalignedData) {
  // A foreign writer need not pad the header: here the data region starts at
  // an odd offset, so the F16 values are not 2-byte aligned in the mapping.
  const std::string header =
      R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}} )";
  ASSERT_EQ(header.size() % 2, 1u);
  std::string file(8, '\0');
  file[0] = static_cast<char>(header.size());
  file += header + std::string("\x00\x3c\x00\xc0", 4);  // 1.0, -2.0
  const std::string path = TempDir("unaligned") + "/w.safetensors";
  WriteText(path, file);
  absl::StatusOr<WeightMap> loaded = LoadSafetensors(path, torch::kFloat32);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(torch::equal(loaded->at("h"), torch::tensor({1.0f, -2.0f})));
}

TEST(WeightsWriterTest, RejectsWhatSafetensorsCannotHold) {
  const std::string path = TempDir("writer") + "/w.safetensors";
  absl::Status undefined = WriteSafetensors(path, {{"x", torch::Tensor()}});
  EXPECT_EQ(undefined.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(undefined.message()), HasSubstr("\"x\""));
  absl::Status complex =
      WriteSafetensors(path, {{"c", torch::zeros({2}, torch::kComplexFloat)}});
  EXPECT_EQ(complex.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(complex.message()), HasSubstr("\"c\""));
  absl::Status duplicate = WriteSafetensors(
      path, {{"a", torch::zeros({1})}, {"a", torch::zeros({1})}});
  EXPECT_EQ(duplicate.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(path));
}

TEST(WeightsWriterTest, LibtorchExceptionsBecomeStatus) {
  // Copying a meta tensor to the CPU throws c10::Error inside libtorch.
  absl::Status meta = WriteSafetensors(
      TempDir("meta") + "/w.safetensors",
      {{"m", torch::empty({2}, torch::TensorOptions().device(torch::kMeta))}});
  EXPECT_EQ(meta.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(meta.message()), HasSubstr("libtorch"));
}

// --- Reference compatibility: files written by Python safetensors ----------

// The expected tensors of one fixture, from expected.bin / expected.json.
std::map<std::string, torch::Tensor> Expected(const std::string& fixture,
                                              nlohmann::json* metadata) {
  const nlohmann::json manifest =
      nlohmann::json::parse(ReadFile(Testdata("expected.json")));
  const std::string blob = ReadFile(Testdata("expected.bin"));
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& [name, info] : manifest.at(fixture).at("tensors").items()) {
    const std::vector<int64_t> shape = info.at("shape");
    const size_t offset = info.at("offset").get<size_t>() * 4;
    torch::Tensor t = torch::empty(shape, torch::kFloat32);
    EXPECT_LE(offset + t.nbytes(), blob.size());
    std::memcpy(t.data_ptr(), blob.data() + offset, t.nbytes());
    tensors.emplace(name, t);
  }
  if (metadata != nullptr) *metadata = manifest.at(fixture).at("metadata");
  return tensors;
}

void ExpectMatchesReference(
    const WeightMap& loaded,
    const std::map<std::string, torch::Tensor>& expected) {
  ASSERT_EQ(loaded.size(), expected.size());
  for (const auto& [name, tensor] : expected) {
    ASSERT_EQ(loaded.count(name), 1u) << name;
    ExpectBitEqual(loaded.at(name), tensor, name);
  }
}

TEST(WeightsReferenceTest, LoadsPythonSingleFileExactly) {
  nlohmann::json metadata;
  const auto expected = Expected("reference", &metadata);
  ASSERT_GE(expected.size(), 10u);
  absl::StatusOr<WeightMap> loaded =
      LoadSafetensors(Testdata("reference.safetensors"), torch::kFloat32);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ExpectMatchesReference(*loaded, expected);
  EXPECT_EQ(loaded->at("position_ids").scalar_type(), torch::kInt64);
  EXPECT_EQ(loaded->at("mask").scalar_type(), torch::kBool);
  EXPECT_EQ(loaded->at("f32.scalar").dim(), 0);

  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::Open(Testdata("reference.safetensors"));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(nlohmann::json((*file)->view().metadata()), metadata);
  EXPECT_EQ((*file)->view().Find("layers.0.attn.q.weight")->dtype,
            SafetensorsDtype::kBF16);
  EXPECT_EQ((*file)->view().Find("layers.0.norm.weight")->dtype,
            SafetensorsDtype::kF16);

  // Loading in bf16 converts the floating tensors only.
  absl::StatusOr<WeightMap> bf16 =
      LoadSafetensors(Testdata("reference.safetensors"), torch::kBFloat16);
  ASSERT_TRUE(bf16.ok()) << bf16.status();
  EXPECT_TRUE(torch::equal(bf16->at("embed.weight"),
                           expected.at("embed.weight").to(torch::kBFloat16)));
  EXPECT_EQ(bf16->at("position_ids").scalar_type(), torch::kInt64);
}

TEST(WeightsReferenceTest, LoadsHuggingFaceShardedCheckpoint) {
  absl::StatusOr<WeightMap> loaded =
      LoadSafetensors(Testdata("sharded"), torch::kFloat32);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ExpectMatchesReference(*loaded, Expected("sharded", nullptr));
}

TEST(WeightsReferenceTest, ConcatenatesLikeTheRccReferenceLoader) {
  LoadOptions options;
  options.layout = ShardLayout::kConcatenateAll;
  absl::StatusOr<WeightMap> loaded =
      LoadSafetensors(Testdata("concat"), torch::kFloat32, options);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ExpectMatchesReference(*loaded, Expected("concat", nullptr));
  EXPECT_EQ(loaded->at("gpt_neox.embed_in.weight").size(0), 7);

  // Not the default: the same directory has no model.safetensors.
  absl::StatusOr<WeightMap> by_default =
      LoadSafetensors(Testdata("concat"), torch::kFloat32);
  EXPECT_EQ(by_default.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(by_default.status().message()),
              HasSubstr("kConcatenateAll"));
}

// --- Directory and index errors ---------------------------------------------

// A sharded directory: x in s1, y in s2, and an index that may be edited.
std::string MakeShardedDir(absl::string_view name) {
  const std::string dir = TempDir(name);
  EXPECT_TRUE(
      WriteSafetensors(dir + "/s1.safetensors", {{"x", torch::ones({2})}})
          .ok());
  EXPECT_TRUE(
      WriteSafetensors(dir + "/s2.safetensors", {{"y", torch::zeros({3})}})
          .ok());
  return dir;
}

absl::Status LoadWithIndex(const std::string& dir, absl::string_view index) {
  WriteText(dir + "/model.safetensors.index.json", index);
  return LoadSafetensors(dir, torch::kFloat32).status();
}

TEST(WeightsIndexTest, ChecksEveryShardAndTensor) {
  const std::string dir = MakeShardedDir("index");
  EXPECT_TRUE(LoadWithIndex(dir, R"({"weight_map": {"x": "s1.safetensors",
                                     "y": "s2.safetensors"}})")
                  .ok());
  // Files the index does not name are not read, as in Hugging Face.
  absl::StatusOr<WeightMap> only_x = [&] {
    WriteText(dir + "/model.safetensors.index.json",
              R"({"metadata": {}, "weight_map": {"x": "s1.safetensors"}})");
    return LoadSafetensors(dir, torch::kFloat32);
  }();
  ASSERT_TRUE(only_x.ok()) << only_x.status();
  EXPECT_EQ(only_x->size(), 1u);
  struct Case {
    std::string index;
    absl::StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {R"({"weight_map": {"x": "s1.safetensors", "y": "s3.safetensors"}})",
       absl::StatusCode::kNotFound, "lists shard s3.safetensors"},
      {R"({"weight_map": {"x": "s1.safetensors", "y": "s2.safetensors",
           "z": "s2.safetensors"}})",
       absl::StatusCode::kInvalidArgument,
       "assigns tensor \"z\" to s2.safetensors, which does not hold it"},
      {R"({"weight_map": {"x": "s1.safetensors", "y": "s1.safetensors"}})",
       absl::StatusCode::kInvalidArgument, "does not hold it"},
      {R"({"weight_map": {"x": "s2.safetensors", "y": "s2.safetensors"}})",
       absl::StatusCode::kInvalidArgument, "does not hold it"},
      {R"({"weight_map": {"x": "../index/s1.safetensors"}})",
       absl::StatusCode::kInvalidArgument, "not a file name in the same"},
      {R"({"weight_map": {"x": 3}})", absl::StatusCode::kInvalidArgument,
       "not a file name"},
      {R"({"weight_map": [1]})", absl::StatusCode::kInvalidArgument,
       "no \"weight_map\" object"},
      {R"({"weight_map": )", absl::StatusCode::kInvalidArgument,
       "not valid JSON"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.index);
    absl::Status status = LoadWithIndex(dir, c.index);
    EXPECT_EQ(status.code(), c.code) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.message));
  }
}

TEST(WeightsIndexTest, ShardHoldingAnotherShardsTensorIsAnError) {
  const std::string dir = MakeShardedDir("index_dup");
  ASSERT_TRUE(
      WriteSafetensors(dir + "/s2.safetensors",
                       {{"x", torch::ones({2})}, {"y", torch::zeros({3})}})
          .ok());
  absl::Status status = LoadWithIndex(
      dir, R"({"weight_map": {"x": "s1.safetensors", "y": "s2.safetensors"}})");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("holds tensor \"x\", which"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("assigns to s1"));
}

TEST(WeightsLoadTest, ModelSafetensorsComesBeforeTheIndex) {
  const std::string dir = MakeShardedDir("both");
  WriteText(dir + "/model.safetensors.index.json", "not even json");
  ASSERT_TRUE(
      WriteSafetensors(dir + "/model.safetensors", {{"w", torch::ones({1})}})
          .ok());
  absl::StatusOr<WeightMap> loaded = LoadSafetensors(dir, torch::kFloat32);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->size(), 1u);
  EXPECT_EQ(loaded->count("w"), 1u);
}

TEST(WeightsLoadTest, ErrorsNameTheProblem) {
  absl::StatusOr<WeightMap> missing =
      LoadSafetensors("/no/such/model", torch::kFloat32);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("/no/such/model"));

  absl::StatusOr<WeightMap> integer_target =
      LoadSafetensors(Testdata("reference.safetensors"), torch::kInt32);
  EXPECT_EQ(integer_target.status().code(), absl::StatusCode::kInvalidArgument);

  const std::string dir = TempDir("truncated");
  const std::string whole = ReadFile(Testdata("reference.safetensors"));
  WriteText(dir + "/model.safetensors", whole.substr(0, whole.size() - 1));
  absl::StatusOr<WeightMap> truncated = LoadSafetensors(dir, torch::kFloat32);
  EXPECT_EQ(truncated.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(truncated.status().message()),
              HasSubstr(dir + "/model.safetensors: tensor"));

  LoadOptions concat;
  concat.layout = ShardLayout::kConcatenateAll;
  absl::StatusOr<WeightMap> empty =
      LoadSafetensors(TempDir("empty"), torch::kFloat32, concat);
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kNotFound);
}

TEST(WeightsLoadTest, ConcatenationNeedsMatchingTrailingDims) {
  const std::string dir = TempDir("concat_bad");
  ASSERT_TRUE(
      WriteSafetensors(dir + "/a.safetensors", {{"w", torch::ones({2, 3})}})
          .ok());
  ASSERT_TRUE(
      WriteSafetensors(dir + "/b.safetensors", {{"w", torch::ones({2, 4})}})
          .ok());
  LoadOptions options;
  options.layout = ShardLayout::kConcatenateAll;
  absl::StatusOr<WeightMap> loaded =
      LoadSafetensors(dir, torch::kFloat32, options);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(loaded.status().message()),
              HasSubstr("tensor \"w\" is in several files"));
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("[2, 4]"));
}

// --- CheckWeights
// -------------------------------------------------------------

TEST(CheckWeightsTest, ReportsMissingUnexpectedAndMisshapedInOneMessage) {
  WeightMap weights = {{"a", torch::zeros({2, 3})},
                       {"b", torch::zeros({4})},
                       {"extra", torch::zeros({1})},
                       {"layers.0.rotary_emb.inv_freq", torch::zeros({8})},
                       {"unused.embed_out.weight", torch::zeros({5, 2})}};
  const std::map<std::string, std::vector<int64_t>> expected = {
      {"a", {2, 3}}, {"b", {5}}, {"c", {1}}};
  absl::Status status = CheckWeights(weights, expected);
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  const std::string message(status.message());
  EXPECT_THAT(message, HasSubstr("1 missing: c"));
  EXPECT_THAT(message,
              HasSubstr("3 unexpected: extra, layers.0.rotary_emb.inv_freq, "
                        "unused.embed_out.weight"));
  EXPECT_THAT(message, HasSubstr("1 mis-shaped: b [4] (expected [5])"));

  CheckOptions options;
  options.ignorable_names = {"unused.embed_out.weight"};
  options.ignorable_suffixes = {".rotary_emb.inv_freq"};
  status = CheckWeights(weights, expected, options);
  EXPECT_THAT(std::string(status.message()), HasSubstr("1 unexpected: extra;"));

  weights.erase("extra");
  weights["b"] = torch::zeros({5});
  weights["c"] = torch::zeros({1});
  EXPECT_TRUE(CheckWeights(weights, expected, options).ok());
}

TEST(CheckWeightsTest, CapsTheListsButKeepsTheCounts) {
  WeightMap weights;
  std::map<std::string, std::vector<int64_t>> expected;
  for (int i = 0; i < 25; ++i) {
    expected[absl::StrCat("missing.", 10 + i)] = {1};
    weights[absl::StrCat("extra.", 10 + i)] = torch::zeros({1});
  }
  CheckOptions options;
  options.max_listed = 3;
  const std::string message(CheckWeights(weights, expected, options).message());
  EXPECT_THAT(message, HasSubstr("25 missing: missing.10, missing.11, "
                                 "missing.12, ... (22 more)"));
  EXPECT_THAT(message, HasSubstr("25 unexpected: extra.10, extra.11, "
                                 "extra.12, ... (22 more)"));
}

}  // namespace
}  // namespace ccs::model
