#include "model/memory_record.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "model/record_io.h"

namespace ccs::model {
namespace {

TEST(Crc32cTest, MatchesPublishedCheckValues) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);  // RFC 3720 B.4
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  // Continuing a CRC equals one pass over the whole.
  EXPECT_EQ(Crc32c("6789", Crc32c("12345")), Crc32c("123456789"));
}

MemoryRecord SampleRecord(const std::string& data) {
  MemoryRecord record;
  record.method = Method::kRcc;
  record.model = "tiny";
  record.dtype = "bfloat16";
  record.shape = {3, 2, 4};
  record.tokens = 10;
  record.slots = 3;
  record.segments = 1;
  record.data = data;
  return record;
}

TEST(MemoryRecordTest, RoundTripKeepsEveryField) {
  std::string data(3 * 2 * 4 * 2, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  const std::string bytes = EncodeMemoryRecord(SampleRecord(data));
  absl::StatusOr<MemoryRecord> back = DecodeMemoryRecord(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->method, Method::kRcc);
  EXPECT_EQ(back->model, "tiny");
  EXPECT_EQ(back->dtype, "bfloat16");
  EXPECT_EQ(back->shape, (std::vector<int64_t>{3, 2, 4}));
  EXPECT_EQ(back->tokens, 10);
  EXPECT_EQ(back->slots, 3);
  EXPECT_EQ(back->segments, 1);
  EXPECT_EQ(back->data, data);
}

TEST(MemoryRecordTest, EveryFlippedBitIsDataLoss) {
  const std::string data(48, 'x');
  const std::string bytes = EncodeMemoryRecord(SampleRecord(data));
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = bytes;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      EXPECT_EQ(DecodeMemoryRecord(bad).status().code(), absl::StatusCode::kDataLoss)
          << "byte " << i << " bit " << bit;
    }
  }
}

TEST(MemoryRecordTest, EveryTruncationAndExtensionIsDataLoss) {
  const std::string bytes = EncodeMemoryRecord(SampleRecord(std::string(48, 'x')));
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_EQ(DecodeMemoryRecord(bytes.substr(0, n)).status().code(), absl::StatusCode::kDataLoss)
        << n << " bytes";
  }
  EXPECT_EQ(DecodeMemoryRecord(bytes + "x").status().code(), absl::StatusCode::kDataLoss);
}

TEST(MemoryRecordTest, InconsistentShapeIsDataLossEvenWithAValidChecksum) {
  // A writer bug, not a disk error: the checksum is right, the sizes are not.
  const std::string bytes = EncodeMemoryRecord(SampleRecord(std::string(47, 'x')));
  absl::StatusOr<MemoryRecord> back = DecodeMemoryRecord(bytes);
  EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss);
  MemoryRecord unknown = SampleRecord(std::string(48, 'x'));
  unknown.dtype = "float64";
  EXPECT_EQ(DecodeMemoryRecord(EncodeMemoryRecord(unknown)).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(MemoryRecordTest, AnotherFormatVersionIsInvalidArgument) {
  RecordWriter out;
  out.Bytes("CCSM");
  out.U32(kMemoryRecordVersion + 1);
  const std::string future = std::move(out).Finish();
  absl::StatusOr<MemoryRecord> back = DecodeMemoryRecord(future);
  EXPECT_EQ(back.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(back.status().message().find("version"), absl::string_view::npos);
}

}  // namespace
}  // namespace ccs::model
