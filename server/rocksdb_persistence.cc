#include "server/rocksdb_persistence.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"

namespace ccs::server {
namespace {

constexpr absl::string_view kInfoPrefix = "info/";
constexpr absl::string_view kMemoryPrefix = "memory/";

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
absl::string_view ToView(const rocksdb::Slice& s) { return absl::string_view(s.data(), s.size()); }

// What the caller should do next: a full disk clears (retry later); a
// corrupt database does not.
absl::Status FromRocks(const rocksdb::Status& status, absl::string_view what,
                       const std::string& dir) {
  const std::string message =
      absl::StrCat("session database ", dir, ": ", what, ": ", status.ToString());
  if (status.IsNotFound()) return absl::NotFoundError(message);
  if (status.IsCorruption()) return absl::DataLossError(message);
  if (status.IsNoSpace()) return absl::ResourceExhaustedError(message);
  if (status.IsBusy() || status.IsTryAgain()) return absl::UnavailableError(message);
  return absl::InternalError(message);
}

rocksdb::WriteOptions Durable(bool sync) {
  rocksdb::WriteOptions options;
  options.sync = sync;
  return options;
}

}  // namespace

std::string RocksDbPersistence::InfoKey(const std::string& id) {
  return absl::StrCat(kInfoPrefix, id);
}

std::string RocksDbPersistence::MemoryKey(const std::string& id) {
  return absl::StrCat(kMemoryPrefix, id);
}

absl::StatusOr<std::unique_ptr<RocksDbPersistence>> RocksDbPersistence::Open(
    const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create the session database directory ", dir, ": ", error.message()));
  }
  rocksdb::Options options;
  options.create_if_missing = true;
  // Memory records are large (kilobytes to megabytes) and written once:
  // keep them out of the LSM tree so compactions only move the small infos.
  options.enable_blob_files = true;
  options.min_blob_size = 4096;
  options.enable_blob_garbage_collection = true;
  // A session store is small next to what RocksDB tunes for; two background
  // threads are plenty and keep it off the model's cores.
  options.IncreaseParallelism(2);
  rocksdb::DB* db = nullptr;
  const rocksdb::Status status = rocksdb::DB::Open(options, dir, &db);
  if (!status.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot open the session database in ", dir, ": ", status.ToString(),
        absl::StrContains(status.ToString(), "lock")
            ? " (is another ccs_server using this --data_dir?)"
            : ""));
  }
  return std::unique_ptr<RocksDbPersistence>(
      new RocksDbPersistence(dir, std::unique_ptr<rocksdb::DB>(db)));
}

RocksDbPersistence::RocksDbPersistence(std::string dir, std::unique_ptr<rocksdb::DB> db)
    : dir_(std::move(dir)), db_(std::move(db)) {}

RocksDbPersistence::~RocksDbPersistence() {
  // Writes that did not ask for sync (last-used times) reach the disk on a
  // clean stop too.
  db_->FlushWAL(/*sync=*/true);
  db_->Close();
}

absl::Status RocksDbPersistence::Put(const SessionInfo& info, absl::string_view memory_record) {
  const std::string encoded = EncodeSessionInfo(info);
  rocksdb::WriteBatch batch;
  batch.Put(InfoKey(info.id), encoded);
  batch.Put(MemoryKey(info.id), ToSlice(memory_record));
  const rocksdb::Status status = db_->Write(Durable(true), &batch);
  if (!status.ok()) return FromRocks(status, absl::StrCat("writing session ", info.id), dir_);
  return absl::OkStatus();
}

absl::Status RocksDbPersistence::UpdateInfo(const SessionInfo& info) {
  const rocksdb::Status status =
      db_->Put(Durable(false), InfoKey(info.id), EncodeSessionInfo(info));
  if (!status.ok()) return FromRocks(status, absl::StrCat("updating session ", info.id), dir_);
  return absl::OkStatus();
}

absl::StatusOr<std::string> RocksDbPersistence::GetMemory(const std::string& id) {
  std::string record;
  const rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), MemoryKey(id), &record);
  if (!status.ok()) return FromRocks(status, absl::StrCat("reading session ", id), dir_);
  return record;
}

absl::Status RocksDbPersistence::Delete(const std::string& id, bool sync) {
  rocksdb::WriteBatch batch;
  batch.Delete(InfoKey(id));
  batch.Delete(MemoryKey(id));
  const rocksdb::Status status = db_->Write(Durable(sync), &batch);
  if (!status.ok()) return FromRocks(status, absl::StrCat("deleting session ", id), dir_);
  return absl::OkStatus();
}

absl::Status RocksDbPersistence::ForEach(
    const std::function<void(SessionInfo)>& visit,
    const std::function<void(absl::string_view key, const absl::Status& why)>& skip) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(ToSlice(kInfoPrefix)); it->Valid() && it->key().starts_with(ToSlice(kInfoPrefix));
       it->Next()) {
    const absl::string_view key = ToView(it->key());
    absl::StatusOr<SessionInfo> info = DecodeSessionInfo(ToView(it->value()));
    if (!info.ok()) {
      skip(key, info.status());
    } else if (info->id != key.substr(kInfoPrefix.size())) {
      skip(key, absl::DataLossError(
                    absl::StrCat("the stored info names another session, ", info->id)));
    } else {
      visit(*std::move(info));
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), "listing sessions", dir_);
  return absl::OkStatus();
}

}  // namespace ccs::server
