// SessionStore: the server's sessions, each a tenant's compressed memory
// under an unguessable id, with a RAM byte budget, a time-to-live, per-tenant
// quotas, an optional persistent tier, and exact statistics.
//
//   SessionStore store(limits, clock);                    // RAM only
//   SessionStore store(limits, std::move(disk), std::move(codec), clock);
//   store.Recover();                                      // index the disk
//   absl::StatusOr<SessionInfo> made = store.Create("acme", "smollm2", memory);
//   absl::StatusOr<Session> session = store.Get("acme", made->id);
//   // Append: build the longer memory from session->memory outside the
//   // store, then commit it only if nobody appended meanwhile:
//   absl::StatusOr<SessionInfo> grown =
//       store.Replace("acme", made->id, session->memory, longer);
//   // ABORTED: another append won the race; Get again and redo the concat.
//
// A session is visible only to its tenant: another tenant's id is NOT_FOUND,
// exactly like an id that never existed, so ids leak nothing.
//
// Budget: the memories and the cached decoder prefixes (see SetPrefixCache)
// held in RAM count against limits.ram_bytes. When a memory would not fit,
// cached prefixes are dropped first, least recently used first. Then:
// - RAM only: the call fails with RESOURCE_EXHAUSTED and nothing changes
//   (evicting would lose acknowledged data).
// - With a persistent tier: the least recently used memories are evicted
//   from RAM (they stay on disk) and a later Get loads them back. A memory
//   larger than the whole budget stays on disk, and Get serves it without
//   keeping it.
//
// Persistent tier (SessionPersistence + MemoryCodec): Create and Replace
// write the session through to disk before they return, so what a client
// was told survives a crash; Delete removes the disk copy before it
// returns; the TTL deletes it too. Recover, at start-up, indexes the stored
// sessions (infos only; memories load on first use) and skips, and reports,
// records it cannot read. Last-used times reach the disk lazily (on
// eviction, at most every kLastUsedWriteInterval of use, and on
// destruction), so after a crash a session may expire somewhat early.
//
// Thread-safety: all methods may be called concurrently. Disk reads and
// writes happen outside the store's lock; calls on one session that must
// wait for its disk write (Replace, Delete, loading) wait for it alone.
#ifndef CCS_SERVER_SESSION_STORE_H_
#define CCS_SERVER_SESSION_STORE_H_

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "model/memory.h"
#include "server/session_info.h"
#include "server/session_persistence.h"

namespace ccs::server {

struct SessionLimits {
  // Bytes of memory and cached prefixes held in RAM, all tenants together.
  int64_t ram_bytes = int64_t{4} << 30;
  // A session unused for this long is deleted. Zero: never.
  absl::Duration ttl = absl::Hours(24);
  // Per tenant, over both tiers.
  int max_sessions_per_tenant = 10000;
  int64_t max_bytes_per_tenant = int64_t{2} << 30;
  // Memory vectors one session may hold (RCC slots, digests, or tokens).
  int64_t max_slots_per_session = 1 << 20;
  // How often a background thread removes expired sessions (from disk
  // too). Zero: no thread; Get, List and ExpireIdle still expire them.
  absl::Duration sweep_interval = absl::ZeroDuration();
};

using model::PrefixCache;

struct Session {
  SessionInfo info;
  std::shared_ptr<const model::Memory> memory;
  // Null when none is cached for the current memory.
  std::shared_ptr<const PrefixCache> prefix_cache;
};

struct SessionStats {
  int64_t sessions = 0;            // all tiers
  int64_t ram_sessions = 0;        // of which the memory is in RAM
  int64_t disk_sessions = 0;       // of which a copy is on disk (all, with a persistent tier)
  int64_t memory_bytes = 0;        // memories held in RAM
  int64_t prefix_cache_bytes = 0;  // cached prefixes held in RAM
  int64_t disk_bytes = 0;          // memory records in the persistent tier
  int64_t hits = 0;                // Get found the memory in RAM
  int64_t loads = 0;               // Get found it only on disk and loaded it
  int64_t misses = 0;              // Get did not find it (unknown, other tenant, expired)
  int64_t evictions = 0;           // memories dropped from RAM to make room (kept on disk)
  int64_t expirations = 0;         // sessions removed by the TTL
  int64_t prefix_cache_drops = 0;  // prefixes dropped to make room
  int64_t corrupt_records = 0;     // stored records that could not be read
};

// What Recover found on disk.
struct RecoveryReport {
  int sessions = 0;                  // indexed
  int expired = 0;                   // past their TTL: deleted
  std::vector<std::string> skipped;  // unreadable records: key and why
};

class SessionStore {
 public:
  using Clock = std::function<absl::Time()>;

  // Last-used times are written to disk at most this often per session
  // while it is in use (and always when it is evicted).
  static constexpr absl::Duration kLastUsedWriteInterval = absl::Minutes(1);

  // A store in RAM only. `clock` defaults to absl::Now; tests pass a fake.
  explicit SessionStore(const SessionLimits& limits, Clock clock = nullptr);
  // A store with a persistent tier: `disk` holds every session, `codec`
  // turns memories into its records and back. Call Recover before use.
  SessionStore(const SessionLimits& limits, std::unique_ptr<SessionPersistence> disk,
               std::unique_ptr<MemoryCodec> codec, Clock clock = nullptr);
  ~SessionStore();
  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;

  // Recover indexes the sessions stored on disk. FAILED_PRECONDITION
  // without a persistent tier; the database's error if it cannot be read.
  absl::StatusOr<RecoveryReport> Recover();

  // Create stores `memory` as a new session of `tenant`. RESOURCE_EXHAUSTED
  // past the slot cap, the tenant's quotas, or (RAM only) the RAM budget;
  // with a persistent tier, the disk's error if it cannot be written.
  absl::StatusOr<SessionInfo> Create(const std::string& tenant, const std::string& model,
                                     std::shared_ptr<const model::Memory> memory);

  // Get returns the session and marks it used, loading its memory from disk
  // if it was evicted. NOT_FOUND if it does not exist, belongs to another
  // tenant, or expired; DATA_LOSS if its stored record is corrupt;
  // FAILED_PRECONDITION if this server's model cannot read it.
  absl::StatusOr<Session> Get(const std::string& tenant, const std::string& id);

  // GetInfo is a look at the session: its info, without loading its memory
  // and without marking it used (as List). NOT_FOUND as Get.
  absl::StatusOr<SessionInfo> GetInfo(const std::string& tenant, const std::string& id);

  // Replace swaps the session's memory for `replacement` if it still holds
  // `expected` (ABORTED if another call replaced it first), and drops its
  // prefix cache. Errors as Create, and NOT_FOUND.
  absl::StatusOr<SessionInfo> Replace(const std::string& tenant, const std::string& id,
                                      const std::shared_ptr<const model::Memory>& expected,
                                      std::shared_ptr<const model::Memory> replacement);

  // SetPrefixCache attaches `cache` to the session if it still holds
  // `built_from` in RAM and the budget has room; otherwise does nothing (a
  // cache is an optimisation, never required).
  void SetPrefixCache(const std::string& tenant, const std::string& id,
                      const std::shared_ptr<const model::Memory>& built_from,
                      std::shared_ptr<const PrefixCache> cache);

  // Delete removes the session from every tier; returns the bytes it held.
  // NOT_FOUND as Get; the disk's error if it cannot be removed there (the
  // session then stays).
  absl::StatusOr<int64_t> Delete(const std::string& tenant, const std::string& id);

  struct Page {
    std::vector<SessionInfo> sessions;  // most recently used first
    std::string next_page_token;        // empty on the last page
  };
  // List pages through the tenant's sessions. INVALID_ARGUMENT for a
  // page_token that this store did not hand out; page_size in [1, 1000].
  absl::StatusOr<Page> List(const std::string& tenant, int page_size,
                            const std::string& page_token);

  // ExpireIdle removes every session past its TTL; returns how many. The
  // sweeper thread (limits.sweep_interval) calls it; Get and List also
  // expire lazily.
  int ExpireIdle();

  SessionStats stats() const;

 private:
  struct Entry {
    SessionInfo info;
    // Null while the memory is only on disk.
    std::shared_ptr<const model::Memory> memory;
    // The session's memory also while evicted, as long as a caller holds
    // it: what Replace compares `expected` with.
    std::weak_ptr<const model::Memory> current;
    std::shared_ptr<const PrefixCache> prefix_cache;
    std::list<std::string>::iterator lru;      // position in lru_
    std::list<std::string>::iterator ram_lru;  // in ram_lru_, while memory is set
    // A disk write, delete or load of this session is in flight; other
    // calls that need its disk state wait on idle_.
    bool busy = false;
    absl::Time stored_last_used;  // info.last_used as last written to disk
  };
  struct TenantUsage {
    int sessions = 0;
    int64_t bytes = 0;
  };

  absl::Time Now() const { return clock_(); }
  absl::Time ExpiryFrom(absl::Time last_used) const;
  // Entry of `id` owned by `tenant` and not expired, else null (expired
  // entries are removed on the way, unless busy).
  Entry* FindLive(const std::string& tenant, const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void Touch(Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Writes the entry's info (its last-used time) to disk without waiting.
  void StoreLastUsed(Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Removes the entry from RAM bookkeeping; `from_disk`: and deletes its
  // disk copy without waiting (expiry: a lost delete expires again later).
  void Erase(const std::string& id, bool from_disk) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  absl::Status CheckSlots(const model::Memory& memory) const;
  // Checks the tenant's quotas for holding `new_bytes` in place of
  // `old_bytes`, plus `sessions_added` sessions.
  absl::Status CheckQuota(const std::string& tenant, int64_t new_bytes, int64_t old_bytes,
                          int sessions_added) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Drops prefix caches (and, if `evict`, evicts memories), least recently
  // used first and never `keep`'s, until RAM holds `incoming` more bytes
  // after `outgoing` are freed. True if it then fits.
  bool FreeRam(int64_t incoming, int64_t outgoing, const Entry* keep, bool evict)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  absl::Status BudgetFull(int64_t incoming) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Drops the entry's memory from RAM (it is on disk).
  void DropFromRam(Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Keeps `memory` in RAM as the entry's, evicting others if needed; leaves
  // it on disk only when it cannot fit. The entry holds no memory in RAM.
  void Admit(Entry& entry, std::shared_ptr<const model::Memory> memory)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void DropPrefixCache(Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  int ExpireIdleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  int64_t RamBytes() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    return stats_.memory_bytes + stats_.prefix_cache_bytes;
  }
  // The two-tier paths.
  absl::StatusOr<SessionInfo> CreateStored(const std::string& tenant, const std::string& model,
                                           std::shared_ptr<const model::Memory> memory);
  absl::StatusOr<SessionInfo> ReplaceStored(const std::string& tenant, const std::string& id,
                                            const std::shared_ptr<const model::Memory>& expected,
                                            std::shared_ptr<const model::Memory> replacement);
  // Loads the memory of `entry` (busy, lock released meanwhile).
  absl::StatusOr<std::shared_ptr<const model::Memory>> Load(const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void SweepUntilStopped();

  const SessionLimits limits_;
  const Clock clock_;
  const std::unique_ptr<SessionPersistence> disk_;  // null: RAM only
  const std::unique_ptr<MemoryCodec> codec_;

  mutable absl::Mutex mutex_;
  absl::CondVar idle_;  // an entry stopped being busy
  std::unordered_map<std::string, Entry> sessions_ ABSL_GUARDED_BY(mutex_);
  std::unordered_map<std::string, TenantUsage> tenants_ ABSL_GUARDED_BY(mutex_);
  // Session ids, most recently used first: all, and those in RAM.
  std::list<std::string> lru_ ABSL_GUARDED_BY(mutex_);
  std::list<std::string> ram_lru_ ABSL_GUARDED_BY(mutex_);
  SessionStats stats_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread sweeper_;
};

// NewSessionId returns 128 bits from the kernel's random source as 32
// lowercase hex digits.
std::string NewSessionId();

}  // namespace ccs::server

#endif  // CCS_SERVER_SESSION_STORE_H_
