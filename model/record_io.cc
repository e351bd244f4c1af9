#include "model/record_io.h"

#include <array>
#include <cstring>

#include "absl/strings/str_cat.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace ccs::model {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "records are written little-endian straight from memory");

constexpr uint32_t kCastagnoli = 0x82F63B78;  // reflected polynomial

constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) ? kCastagnoli : 0);
    table[i] = crc;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kTable = MakeTable();

uint32_t Crc32cPortable(const unsigned char* p, size_t n, uint32_t crc) {
  for (size_t i = 0; i < n; ++i) crc = kTable[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t Crc32cSse42(const unsigned char* p, size_t n,
                                                        uint32_t crc) {
  uint64_t c = crc;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  for (; n > 0; --n, ++p) c32 = _mm_crc32_u8(c32, *p);
  return c32;
}
#endif

}  // namespace

uint32_t Crc32c(absl::string_view data, uint32_t crc) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  crc = ~crc;
#if defined(__x86_64__)
  if (__builtin_cpu_supports("sse4.2")) return ~Crc32cSse42(p, data.size(), crc);
#endif
  return ~Crc32cPortable(p, data.size(), crc);
}

void RecordWriter::Raw(const void* p, size_t n) {
  out_.append(static_cast<const char*>(p), n);
}

void RecordWriter::String(absl::string_view s) {
  U32(static_cast<uint32_t>(s.size()));
  Bytes(s);
}

std::string RecordWriter::Finish() && {
  U32(Crc32c(out_));
  return std::move(out_);
}

absl::StatusOr<RecordReader> RecordReader::Checked(absl::string_view record,
                                                   absl::string_view what) {
  if (record.size() < 4) {
    return absl::DataLossError(
        absl::StrCat(what, " is ", record.size(), " bytes: too short to be a record"));
  }
  const absl::string_view body = record.substr(0, record.size() - 4);
  uint32_t stored;
  std::memcpy(&stored, record.data() + body.size(), 4);
  const uint32_t actual = Crc32c(body);
  if (stored != actual) {
    return absl::DataLossError(absl::StrCat(what, " is corrupt: its checksum is ",
                                            absl::Hex(stored), ", its bytes give ",
                                            absl::Hex(actual)));
  }
  return RecordReader(body);
}

bool RecordReader::Raw(void* p, size_t n) {
  if (rest_.size() < n) return false;
  std::memcpy(p, rest_.data(), n);
  rest_.remove_prefix(n);
  return true;
}

bool RecordReader::String(std::string* s) {
  uint32_t n;
  absl::string_view bytes;
  if (!U32(&n) || !Bytes(n, &bytes)) return false;
  s->assign(bytes.data(), bytes.size());
  return true;
}

bool RecordReader::Bytes(uint64_t n, absl::string_view* s) {
  if (rest_.size() < n) return false;
  *s = rest_.substr(0, n);
  rest_.remove_prefix(n);
  return true;
}

}  // namespace ccs::model
