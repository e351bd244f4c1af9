#include "model/memory_record.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "model/record_io.h"

namespace ccs::model {
namespace {

constexpr absl::string_view kMagic = "CCSM";
constexpr uint32_t kMaxRank = 8;

uint8_t MethodCode(Method method) {
  switch (method) {
    case Method::kRcc:
      return 1;
    case Method::kIcFormer:
      return 2;
    case Method::kNone:
      return 3;
  }
  return 0;
}

bool MethodFromCode(uint8_t code, Method* method) {
  switch (code) {
    case 1:
      *method = Method::kRcc;
      return true;
    case 2:
      *method = Method::kIcFormer;
      return true;
    case 3:
      *method = Method::kNone;
      return true;
  }
  return false;
}

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("the stored memory record is corrupt: ", what));
}

}  // namespace

int64_t DtypeBytes(absl::string_view dtype) {
  if (dtype == "float32" || dtype == "int32") return 4;
  if (dtype == "bfloat16") return 2;
  return 0;
}

std::string EncodeMemoryRecord(const MemoryRecord& record) {
  RecordWriter out;
  out.Reserve(record.data.size() + 64 + record.model.size());
  out.Bytes(kMagic);
  out.U32(kMemoryRecordVersion);
  out.U8(MethodCode(record.method));
  out.String(record.model);
  out.String(record.dtype);
  out.I64(record.tokens);
  out.I64(record.slots);
  out.I32(record.segments);
  out.U32(static_cast<uint32_t>(record.shape.size()));
  for (int64_t d : record.shape) out.I64(d);
  out.U64(record.data.size());
  out.Bytes(record.data);
  return std::move(out).Finish();
}

absl::StatusOr<MemoryRecord> DecodeMemoryRecord(absl::string_view bytes) {
  if (bytes.substr(0, kMagic.size()) != kMagic) {
    return Corrupt("it does not start with the magic \"CCSM\"");
  }
  absl::StatusOr<RecordReader> checked = RecordReader::Checked(bytes, "the stored memory record");
  if (!checked.ok()) return checked.status();
  RecordReader& in = *checked;
  absl::string_view magic;
  uint32_t version = 0;
  if (!in.Bytes(kMagic.size(), &magic) || !in.U32(&version)) return Corrupt("truncated header");
  if (version != kMemoryRecordVersion) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the stored memory record has format version ", version, "; this server reads version ",
        kMemoryRecordVersion));
  }
  MemoryRecord record;
  uint8_t method = 0;
  uint32_t rank = 0;
  if (!in.U8(&method) || !in.String(&record.model) || !in.String(&record.dtype) ||
      !in.I64(&record.tokens) || !in.I64(&record.slots) || !in.I32(&record.segments) ||
      !in.U32(&rank)) {
    return Corrupt("truncated header");
  }
  if (!MethodFromCode(method, &record.method)) {
    return Corrupt(absl::StrCat("unknown method code ", method));
  }
  const int64_t element = DtypeBytes(record.dtype);
  if (element == 0) return Corrupt(absl::StrCat("unknown dtype \"", record.dtype, "\""));
  if (record.tokens < 0 || record.slots < 0 || record.segments < 0) {
    return Corrupt("negative counts");
  }
  if (rank > kMaxRank) return Corrupt(absl::StrCat("rank ", rank));
  int64_t elements = 1;
  for (uint32_t i = 0; i < rank; ++i) {
    int64_t d = 0;
    if (!in.I64(&d)) return Corrupt("truncated shape");
    if (d < 0 || (d > 0 && elements > std::numeric_limits<int64_t>::max() / element / d)) {
      return Corrupt(absl::StrCat("dimension ", i, " is ", d));
    }
    record.shape.push_back(d);
    elements *= d;
  }
  uint64_t length = 0;
  if (!in.U64(&length) || !in.Bytes(length, &record.data)) return Corrupt("truncated data");
  if (length != static_cast<uint64_t>(elements * element)) {
    return Corrupt(absl::StrCat(length, " bytes of data for ", elements, " ", record.dtype,
                                " elements"));
  }
  if (in.remaining() != 0) return Corrupt(absl::StrCat(in.remaining(), " bytes after the data"));
  return record;
}

}  // namespace ccs::model
