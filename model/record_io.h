// Little helpers for the project's small binary records (stored session
// memories and session infos): a CRC-32C checksum and a bounds-checked
// little-endian writer and reader.
//
//   RecordWriter out;
//   out.U32(7);
//   out.String("name");
//   std::string bytes = out.Finish();   // appends the CRC-32C of the rest
//
//   absl::StatusOr<RecordReader> in = RecordReader::Checked(bytes, "session info");
//   uint32_t seven;  std::string name;
//   if (!in->U32(&seven) || !in->String(&name)) ... // truncated
//
// A reader never reads past its input: every getter returns false instead.
// Thread-safety: none needed (values).
#ifndef CCS_MODEL_RECORD_IO_H_
#define CCS_MODEL_RECORD_IO_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ccs::model {

// Crc32c is the CRC-32C (Castagnoli) of `data`, continuing `crc` (0 to
// start); the SSE4.2 instruction where the CPU has it.
uint32_t Crc32c(absl::string_view data, uint32_t crc = 0);

class RecordWriter {
 public:
  void U8(uint8_t v) { Raw(&v, 1); }
  void U32(uint32_t v) { Raw(&v, 4); }
  void U64(uint64_t v) { Raw(&v, 8); }
  void I32(int32_t v) { Raw(&v, 4); }
  void I64(int64_t v) { Raw(&v, 8); }
  // A u32 length, then the bytes.
  void String(absl::string_view s);
  // The bytes as they are (a fixed-size field, or a payload whose length
  // was written before).
  void Bytes(absl::string_view s) { out_.append(s.data(), s.size()); }
  // Reserve room for a payload of `n` bytes about to be appended.
  void Reserve(size_t n) { out_.reserve(out_.size() + n + 4); }

  // Finish appends the CRC-32C of everything written and returns the record.
  std::string Finish() &&;

 private:
  void Raw(const void* p, size_t n);
  std::string out_;
};

class RecordReader {
 public:
  // Checked verifies the trailing CRC-32C of `record` and returns a reader
  // over the rest. DATA_LOSS, naming `what`, when the record is shorter
  // than a checksum or the checksum does not match. `record` must outlive
  // the reader.
  static absl::StatusOr<RecordReader> Checked(absl::string_view record, absl::string_view what);

  bool U8(uint8_t* v) { return Raw(v, 1); }
  bool U32(uint32_t* v) { return Raw(v, 4); }
  bool U64(uint64_t* v) { return Raw(v, 8); }
  bool I32(int32_t* v) { return Raw(v, 4); }
  bool I64(int64_t* v) { return Raw(v, 8); }
  bool String(std::string* s);
  // The next `n` bytes, as a view into the record.
  bool Bytes(uint64_t n, absl::string_view* s);
  size_t remaining() const { return rest_.size(); }

 private:
  explicit RecordReader(absl::string_view rest) : rest_(rest) {}
  bool Raw(void* p, size_t n);
  absl::string_view rest_;
};

}  // namespace ccs::model

#endif  // CCS_MODEL_RECORD_IO_H_
