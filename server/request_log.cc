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

RequestTracker::RequestTracker(RequestObserver* observer)
    : prefix_(RandomPrefix()), observer_(observer) {}

std::string RequestTracker::NextId() {
  return absl::StrFormat("%s-%06d", prefix_, ++sequence_);
}

RequestLog::RequestLog(RequestTracker& tracker, absl::string_view rpc,
                       grpc::ServerContextBase* context)
    : observer_(tracker.observer()),
      id_(tracker.NextId()),
      rpc_(rpc),
      peer_(context->peer()),
      start_(absl::Now()) {
  context->AddInitialMetadata("x-request-id", id_);
  if (observer_ != nullptr) observer_->OnRequestStart(rpc_);
}

void RequestLog::Finish(const grpc::Status& status) const {
  const absl::Duration latency = absl::Now() - start_;
  if (observer_ != nullptr) observer_->OnRequestDone(rpc_, status.error_code(), latency);
  const int64_t micros = absl::ToInt64Microseconds(latency);
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
