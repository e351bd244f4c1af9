// MemoryRecord: the stored form of a session's memory, as the persistent
// session tier keeps it. Torch-free: the engine fills a record from its
// memory types and builds memories back from one (Engine::SerializeMemory).
//
//   MemoryRecord record;  // method, model, dtype, shape, counts, data
//   std::string bytes = EncodeMemoryRecord(record);
//   absl::StatusOr<MemoryRecord> back = DecodeMemoryRecord(bytes);
//
// Format, version 1, little-endian:
//   "CCSM"  u32 version  u8 method (1 RCC, 2 IC_FORMER, 3 NONE)
//   u32+bytes model name  u32+bytes dtype  i64 tokens  i64 slots
//   i32 segments  u32 rank  rank x i64 dims  u64 data length  data
//   u32 CRC-32C of everything before it
// The data are the memory's elements in its storage dtype, row-major, so a
// bfloat16 memory stays bfloat16 on disk.
//
// Thread-safety: free functions over values.
#ifndef CCS_MODEL_MEMORY_RECORD_H_
#define CCS_MODEL_MEMORY_RECORD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/memory.h"

namespace ccs::model {

inline constexpr uint32_t kMemoryRecordVersion = 1;

struct MemoryRecord {
  Method method = Method::kNone;
  std::string model;          // the name of the model that made the memory
  std::string dtype;          // "float32", "bfloat16" or "int32"
  std::vector<int64_t> shape;  // of `data`
  int64_t tokens = 0;
  int64_t slots = 0;
  int32_t segments = 0;
  // Little-endian, row-major elements. Not owned: when encoding, the
  // caller's buffer; when decoding, a view into the decoded bytes.
  absl::string_view data;
};

// DtypeBytes is the element size of "float32", "bfloat16" or "int32"; 0
// for any other name.
int64_t DtypeBytes(absl::string_view dtype);

std::string EncodeMemoryRecord(const MemoryRecord& record);

// DecodeMemoryRecord checks and parses `bytes`. DATA_LOSS when they are not
// one whole, intact record: wrong magic, truncated, checksum mismatch,
// unknown method or dtype, or data whose length does not match the shape.
// INVALID_ARGUMENT for a format version this build does not read. The
// result's data points into `bytes`.
absl::StatusOr<MemoryRecord> DecodeMemoryRecord(absl::string_view bytes);

}  // namespace ccs::model

#endif  // CCS_MODEL_MEMORY_RECORD_H_
