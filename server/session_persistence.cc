#include "server/session_persistence.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "model/record_io.h"

namespace ccs::server {
namespace {

constexpr absl::string_view kMagic = "CCSI";
constexpr uint32_t kVersion = 1;
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
// The method is stored as its enum value: keep these fixed.
static_assert(static_cast<int>(model::Method::kRcc) == 0 &&
              static_cast<int>(model::Method::kIcFormer) == 1 &&
              static_cast<int>(model::Method::kNone) == 2);

int64_t Micros(absl::Time t) {
  return t == absl::InfiniteFuture() ? kNever : absl::ToUnixMicros(t);
}

absl::Time FromMicros(int64_t micros) {
  return micros == kNever ? absl::InfiniteFuture() : absl::FromUnixMicros(micros);
}

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("the stored session info is corrupt: ", what));
}

}  // namespace

std::string EncodeSessionInfo(const SessionInfo& info) {
  model::RecordWriter out;
  out.Bytes(kMagic);
  out.U32(kVersion);
  out.String(info.id);
  out.String(info.tenant);
  out.String(info.model);
  out.U8(static_cast<uint8_t>(info.method));
  out.I64(info.tokens);
  out.I64(info.slots);
  out.I32(info.segments);
  out.I64(info.bytes);
  out.String(info.dtype);
  out.I64(Micros(info.created));
  out.I64(Micros(info.last_used));
  out.I64(Micros(info.expires));
  out.I64(info.stored_bytes);
  return std::move(out).Finish();
}

absl::StatusOr<SessionInfo> DecodeSessionInfo(absl::string_view bytes) {
  if (bytes.substr(0, kMagic.size()) != kMagic) {
    return Corrupt("it does not start with the magic \"CCSI\"");
  }
  absl::StatusOr<model::RecordReader> checked =
      model::RecordReader::Checked(bytes, "the stored session info");
  if (!checked.ok()) return checked.status();
  model::RecordReader& in = *checked;
  absl::string_view magic;
  uint32_t version = 0;
  if (!in.Bytes(kMagic.size(), &magic) || !in.U32(&version)) return Corrupt("truncated");
  if (version != kVersion) {
    return absl::InvalidArgumentError(absl::StrCat("the stored session info has format version ",
                                                   version, "; this server reads version ",
                                                   kVersion));
  }
  SessionInfo info;
  uint8_t method = 0;
  int64_t created = 0, last_used = 0, expires = 0;
  if (!in.String(&info.id) || !in.String(&info.tenant) || !in.String(&info.model) ||
      !in.U8(&method) || !in.I64(&info.tokens) || !in.I64(&info.slots) ||
      !in.I32(&info.segments) || !in.I64(&info.bytes) || !in.String(&info.dtype) ||
      !in.I64(&created) || !in.I64(&last_used) || !in.I64(&expires) ||
      !in.I64(&info.stored_bytes) || in.remaining() != 0) {
    return Corrupt("truncated or overlong");
  }
  if (method > static_cast<uint8_t>(model::Method::kNone)) {
    return Corrupt(absl::StrCat("unknown method ", method));
  }
  if (info.tokens < 0 || info.slots < 0 || info.segments < 0 || info.bytes < 0 ||
      info.stored_bytes < 0) {
    return Corrupt("negative counts");
  }
  info.method = static_cast<model::Method>(method);
  info.created = FromMicros(created);
  info.last_used = FromMicros(last_used);
  info.expires = FromMicros(expires);
  info.tier = StorageTier::kDisk;
  return info;
}

}  // namespace ccs::server
