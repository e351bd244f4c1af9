#include "server/request_log.h"

#include "absl/random/random.h"
#include "absl/strings/str_format.h"
#include "server/grpc_status.h"
#include "spdlog/spdlog.h"

namespace ccs::server {
namespace {

std::string RandomPrefix() {
  absl::BitGen gen;
  return absl::StrFormat("%08x", absl::Uniform<uint32_t>(gen));
}

bool IsServerSideFailure(grpc::StatusCode code) {
  return code == grpc::StatusCode::INTERNAL ||
         code == grpc::StatusCode::UNKNOWN ||
         code == grpc::StatusCode::DATA_LOSS ||
         code == grpc::StatusCode::UNAVAILABLE;
}

}  // namespace

RequestIdSource::RequestIdSource() : prefix_(RandomPrefix()) {}

std::string RequestIdSource::Next() {
  return absl::StrFormat("%s-%06d", prefix_, ++sequence_);
}

RequestLog::RequestLog(RequestIdSource& ids, absl::string_view rpc,
                       grpc::ServerContextBase* context)
    : id_(ids.Next()),
      rpc_(rpc),
      peer_(context->peer()),
      start_(absl::Now()) {
  context->AddInitialMetadata("x-request-id", id_);
}

void RequestLog::Finish(const grpc::Status& status) const {
  const int64_t micros = absl::ToInt64Microseconds(absl::Now() - start_);
  const auto level = IsServerSideFailure(status.error_code())
                         ? spdlog::level::warn
                         : spdlog::level::info;
  if (status.ok()) {
    spdlog::log(level, "rpc={} id={} peer={} status=OK micros={}", rpc_, id_,
                peer_, micros);
  } else {
    spdlog::log(level, "rpc={} id={} peer={} status={} micros={} msg=\"{}\"",
                rpc_, id_, peer_, GrpcCodeName(status.error_code()), micros,
                status.error_message());
  }
}

}  // namespace ccs::server
