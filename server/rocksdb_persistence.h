// RocksDbPersistence: the persistent session tier in an embedded RocksDB
// database under the server's --data_dir.
//
//   absl::StatusOr<std::unique_ptr<RocksDbPersistence>> disk =
//       RocksDbPersistence::Open("data/sessions");
//
// Layout: key "info/<id>" holds the session's info (EncodeSessionInfo),
// "memory/<id>" its memory record; both change in one atomic write batch.
// Put and a synchronous Delete write the write-ahead log and fsync it before
// returning, so an acknowledged change survives kill -9 and power loss;
// RocksDB's recovery drops a torn tail of the log after a crash. Memory
// records, large and written once, go to blob files, so compactions do not
// rewrite them.
//
// Thread-safety: all methods may be called concurrently. One process at a
// time: a second Open of the same directory fails while the first is open.
#ifndef CCS_SERVER_ROCKSDB_PERSISTENCE_H_
#define CCS_SERVER_ROCKSDB_PERSISTENCE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/session_persistence.h"

namespace rocksdb {
class DB;
}  // namespace rocksdb

namespace ccs::server {

class RocksDbPersistence final : public SessionPersistence {
 public:
  // Open opens the database in `dir`, creating the directory and the
  // database if missing. FAILED_PRECONDITION when it cannot (the message
  // says why: unwritable, held by another process, not a database).
  static absl::StatusOr<std::unique_ptr<RocksDbPersistence>> Open(const std::string& dir);

  ~RocksDbPersistence() override;
  RocksDbPersistence(const RocksDbPersistence&) = delete;
  RocksDbPersistence& operator=(const RocksDbPersistence&) = delete;

  absl::Status Put(const SessionInfo& info, absl::string_view memory_record) override;
  absl::Status UpdateInfo(const SessionInfo& info) override;
  absl::StatusOr<std::string> GetMemory(const std::string& id) override;
  absl::Status Delete(const std::string& id, bool sync) override;
  absl::Status ForEach(
      const std::function<void(SessionInfo)>& visit,
      const std::function<void(absl::string_view key, const absl::Status& why)>& skip) override;

  // The key of a session's info and of its memory record (for tests that
  // damage records on purpose).
  static std::string InfoKey(const std::string& id);
  static std::string MemoryKey(const std::string& id);

 private:
  RocksDbPersistence(std::string dir, std::unique_ptr<rocksdb::DB> db);

  const std::string dir_;
  const std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace ccs::server

#endif  // CCS_SERVER_ROCKSDB_PERSISTENCE_H_
