// SessionInfo: what a session is, without its memory: the record that the
// session store lists and that the persistent tier keeps beside the memory.
#ifndef CCS_SERVER_SESSION_INFO_H_
#define CCS_SERVER_SESSION_INFO_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "model/memory.h"

namespace ccs::server {

// Where a session's memory is right now.
enum class StorageTier {
  kRam,   // in RAM (and, with a persistent tier, on disk too)
  kDisk,  // only on disk: evicted, or not loaded since a restart
};

struct SessionInfo {
  std::string id;  // 32 lowercase hex digits (128 random bits)
  std::string tenant;
  std::string model;
  model::Method method = model::Method::kNone;
  int64_t tokens = 0;
  int64_t slots = 0;
  int32_t segments = 0;
  int64_t bytes = 0;  // the memory's bytes (prefix cache not included)
  std::string dtype;
  absl::Time created;
  absl::Time last_used;
  absl::Time expires;  // absl::InfiniteFuture() without a TTL
  StorageTier tier = StorageTier::kRam;
  // Bytes of its stored memory record in the persistent tier; 0 without one.
  int64_t stored_bytes = 0;
};

}  // namespace ccs::server

#endif  // CCS_SERVER_SESSION_INFO_H_
