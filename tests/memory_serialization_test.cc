// Engine::SerializeMemory and DeserializeMemory over the tiny model: every
// method round-trips exactly (its vectors in their storage dtype, and the
// same generations from the copy), and damaged or foreign records are
// refused with DATA_LOSS, INVALID_ARGUMENT or FAILED_PRECONDITION.
#include <cstdlib>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/engine/engine.h"
#include "model/memory_record.h"

namespace ccs::model {
namespace {

using ::testing::HasSubstr;

std::string TinyDir(const std::string& part) {
  return std::string(getenv("TEST_SRCDIR")) + "/ccs/tests/testdata/tiny/" + part;
}

std::unique_ptr<Engine> LoadTiny(const std::string& name, const std::string& dtype,
                                 bool compressors) {
  EngineOptions options;
  options.name = name;
  options.decoder_dir = TinyDir("decoder");
  options.dtype = dtype;
  if (compressors) {
    options.rcc_dir = TinyDir("rcc");
    options.icformer_dir = TinyDir("icformer");
  }
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Load(options);
  EXPECT_TRUE(engine.ok()) << engine.status();
  return engine.ok() ? *std::move(engine) : nullptr;
}

class MemorySerializationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    engine_ = LoadTiny("tiny", "float32", true).release();
    bf16_engine_ = LoadTiny("tiny", "bfloat16", true).release();
  }
  static void TearDownTestSuite() {
    delete engine_;
    delete bf16_engine_;
  }

  // A memory of `method` made of two appends (so segments > 1).
  static std::shared_ptr<const Memory> TwoPartMemory(const Engine& engine, Method method) {
    auto first = engine.Tokenize("The cat sat on the sofa while the dog slept by the door.");
    auto second = engine.Tokenize(" Later, both went out into the garden to play.");
    auto a = engine.Compress(method, {*first});
    auto b = engine.Compress(method, {*second});
    EXPECT_TRUE(a.ok() && b.ok());
    auto joined = engine.Concat(*(*a)[0], *(*b)[0]);
    EXPECT_TRUE(joined.ok()) << joined.status();
    return *joined;
  }

  static std::vector<int32_t> Reconstruct(const Engine& engine,
                                          std::shared_ptr<const Memory> memory) {
    GenerationJob job;
    job.memory = std::move(memory);
    job.task = Task::kReconstruct;
    job.sampling.max_new_tokens = 8;
    absl::StatusOr<std::vector<GenerationOutcome>> out = engine.Generate({job}, nullptr);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? (*out)[0].tokens : std::vector<int32_t>();
  }

  static void ExpectRoundTrip(const Engine& engine, Method method, const std::string& dtype) {
    std::shared_ptr<const Memory> memory = TwoPartMemory(engine, method);
    ASSERT_NE(memory, nullptr);
    EXPECT_EQ(memory->dtype(), dtype);
    absl::StatusOr<std::string> bytes = engine.SerializeMemory(*memory);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    // Stored in its own dtype: the record is the tensor bytes plus a header.
    EXPECT_GE(static_cast<int64_t>(bytes->size()), memory->bytes());
    EXPECT_LE(static_cast<int64_t>(bytes->size()), memory->bytes() + 256);
    absl::StatusOr<std::shared_ptr<const Memory>> back = engine.DeserializeMemory(*bytes);
    ASSERT_TRUE(back.ok()) << back.status();
    const Memory& copy = **back;
    EXPECT_EQ(copy.method(), method);
    EXPECT_EQ(copy.tokens(), memory->tokens());
    EXPECT_EQ(copy.slots(), memory->slots());
    EXPECT_EQ(copy.segments(), memory->segments());
    EXPECT_GE(copy.segments(), 2);
    EXPECT_EQ(copy.bytes(), memory->bytes());
    EXPECT_EQ(copy.dtype(), dtype);
    std::vector<int64_t> shape, copy_shape;
    std::string data, copy_data;
    EXPECT_EQ(memory->ExportVectors(&shape, &data), copy.ExportVectors(&copy_shape, &copy_data));
    EXPECT_EQ(shape, copy_shape);
    EXPECT_TRUE(data == copy_data) << "the vectors differ";
    EXPECT_EQ(Reconstruct(engine, memory), Reconstruct(engine, *back));
    // Serialising the copy gives the same bytes.
    EXPECT_TRUE(*engine.SerializeMemory(copy) == *bytes);
  }

  static Engine* engine_;
  static Engine* bf16_engine_;
};
Engine* MemorySerializationTest::engine_ = nullptr;
Engine* MemorySerializationTest::bf16_engine_ = nullptr;

TEST_F(MemorySerializationTest, TokensRoundTrip) {
  ExpectRoundTrip(*engine_, Method::kNone, "int32");
}

TEST_F(MemorySerializationTest, RccSlotsRoundTrip) {
  ExpectRoundTrip(*engine_, Method::kRcc, "float32");
}

TEST_F(MemorySerializationTest, IcFormerDigestsRoundTripInFloat32AndBfloat16) {
  ExpectRoundTrip(*engine_, Method::kIcFormer, "float32");
  ExpectRoundTrip(*bf16_engine_, Method::kIcFormer, "bfloat16");
}

TEST_F(MemorySerializationTest, DamagedBytesAreDataLossNeverACrash) {
  for (Method method : {Method::kNone, Method::kRcc, Method::kIcFormer}) {
    std::shared_ptr<const Memory> memory = TwoPartMemory(*engine_, method);
    const std::string bytes = *engine_->SerializeMemory(*memory);
    // Every byte of the header region, then a stride through the vectors.
    for (size_t i = 0; i < bytes.size(); i += (i < 128 ? 1 : 29)) {
      std::string flipped = bytes;
      flipped[i] = static_cast<char>(flipped[i] ^ 0x04);
      EXPECT_EQ(engine_->DeserializeMemory(flipped).status().code(), absl::StatusCode::kDataLoss)
          << MethodName(method) << " byte " << i;
    }
    for (size_t n : {size_t{0}, size_t{3}, size_t{20}, bytes.size() / 2, bytes.size() - 1}) {
      EXPECT_EQ(engine_->DeserializeMemory(bytes.substr(0, n)).status().code(),
                absl::StatusCode::kDataLoss)
          << MethodName(method) << " cut to " << n;
    }
  }
}

TEST_F(MemorySerializationTest, ForeignRecordsAreRefusedWithTheReason) {
  std::shared_ptr<const Memory> rcc = TwoPartMemory(*engine_, Method::kRcc);
  const std::string bytes = *engine_->SerializeMemory(*rcc);

  std::unique_ptr<Engine> other = LoadTiny("other", "float32", false);
  ASSERT_NE(other, nullptr);
  absl::Status named = other->DeserializeMemory(bytes).status();
  EXPECT_EQ(named.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(named.message()), HasSubstr("\"tiny\""));
  std::unique_ptr<Engine> plain = LoadTiny("tiny", "float32", false);
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(plain->DeserializeMemory(bytes).status().code(),
            absl::StatusCode::kFailedPrecondition);

  // Intact records whose contents do not fit this model.
  absl::StatusOr<MemoryRecord> record = DecodeMemoryRecord(bytes);
  ASSERT_TRUE(record.ok());
  MemoryRecord narrow = *record;
  narrow.shape[2] = 16;
  std::string data(narrow.data.substr(0, narrow.data.size() / 2));
  narrow.data = data;
  absl::Status shape = engine_->DeserializeMemory(EncodeMemoryRecord(narrow)).status();
  EXPECT_EQ(shape.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(shape.message()), HasSubstr("shape"));

  MemoryRecord tokens;
  tokens.method = Method::kNone;
  tokens.model = "tiny";
  tokens.dtype = "int32";
  tokens.shape = {1};
  tokens.tokens = tokens.slots = tokens.segments = 1;
  const int32_t outside = 1 << 30;
  tokens.data = absl::string_view(reinterpret_cast<const char*>(&outside), 4);
  absl::Status vocab = engine_->DeserializeMemory(EncodeMemoryRecord(tokens)).status();
  EXPECT_EQ(vocab.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(vocab.message()), HasSubstr("vocabulary"));
}

class ForeignMemory final : public Memory {
 public:
  Method method() const override { return Method::kRcc; }
  int64_t tokens() const override { return 1; }
  int64_t slots() const override { return 1; }
  int32_t segments() const override { return 1; }
  int64_t bytes() const override { return 4; }
  std::string dtype() const override { return "float32"; }
  bool ExportVectors(std::vector<int64_t>*, std::string*) const override { return false; }
};

TEST_F(MemorySerializationTest, AMemoryFromElsewhereIsInvalidArgument) {
  EXPECT_EQ(engine_->SerializeMemory(ForeignMemory()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ccs::model
