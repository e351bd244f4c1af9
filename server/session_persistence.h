// The persistent tier of the session store, as the store sees it: an
// interface, so that the store is tested without a disk and the database
// behind it (RocksDB, server/rocksdb_persistence.h) stays out of its build.
//
//   std::unique_ptr<SessionPersistence> disk = ...;
//   disk->Put(info, memory_record);            // durable when it returns
//   absl::StatusOr<std::string> record = disk->GetMemory(info.id);
//   disk->ForEach([](SessionInfo info) { ... }, on_skipped);
//   disk->Delete(info.id, /*sync=*/true);
//
// Also here: MemoryCodec, the (de)serialiser of memories the store is given
// (the server's wraps Engine::SerializeMemory), and the byte format of a
// stored SessionInfo.
//
// Thread-safety: implementations are safe to call concurrently.
#ifndef CCS_SERVER_SESSION_PERSISTENCE_H_
#define CCS_SERVER_SESSION_PERSISTENCE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/memory.h"
#include "server/session_info.h"

namespace ccs::server {

class SessionPersistence {
 public:
  virtual ~SessionPersistence() = default;

  // Put stores `info` and the memory record of session info.id together
  // (atomically), replacing any earlier version, and returns once both are
  // on disk: what a client was told is stored survives a crash.
  virtual absl::Status Put(const SessionInfo& info, absl::string_view memory_record) = 0;

  // UpdateInfo rewrites only the info (its last-used time) and does not
  // wait for the disk: a crash may lose the update, never the session.
  virtual absl::Status UpdateInfo(const SessionInfo& info) = 0;

  // GetMemory returns the stored memory record of `id`. NOT_FOUND if none.
  virtual absl::StatusOr<std::string> GetMemory(const std::string& id) = 0;

  // Delete removes the info and the memory of `id`; OK if there is none.
  // `sync`: return only once the removal is on disk.
  virtual absl::Status Delete(const std::string& id, bool sync) = 0;

  // ForEach calls `visit` with the info of every stored session. A record
  // that cannot be read is passed to `skip` (its key and why) and the walk
  // goes on. An error means the database itself could not be read.
  virtual absl::Status ForEach(
      const std::function<void(SessionInfo)>& visit,
      const std::function<void(absl::string_view key, const absl::Status& why)>& skip) = 0;
};

// MemoryCodec turns memories into bytes and back for the persistent tier.
// Decode reports DATA_LOSS for corrupt bytes.
class MemoryCodec {
 public:
  virtual ~MemoryCodec() = default;
  virtual absl::StatusOr<std::string> Encode(const model::Memory& memory) const = 0;
  virtual absl::StatusOr<std::shared_ptr<const model::Memory>> Decode(
      absl::string_view bytes) const = 0;
};

// The stored form of a SessionInfo (tier excluded: a stored info is on disk
// by definition): "CCSI", a version, the fields, a CRC-32C.
std::string EncodeSessionInfo(const SessionInfo& info);
// DATA_LOSS for bytes that are not one intact record; INVALID_ARGUMENT for
// a format version this build does not read. The result's tier is kDisk.
absl::StatusOr<SessionInfo> DecodeSessionInfo(absl::string_view bytes);

}  // namespace ccs::server

#endif  // CCS_SERVER_SESSION_PERSISTENCE_H_
