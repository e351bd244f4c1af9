// SessionStore: the server's sessions, each a tenant's compressed memory
// under an unguessable id, with a RAM byte budget, a time-to-live, per-tenant
// quotas and exact statistics.
//
//   SessionStore store(limits, clock);
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
// count against limits.ram_bytes. When a new memory would not fit, cached
// prefixes are dropped, least recently used first; if it still does not fit
// the call fails with RESOURCE_EXHAUSTED and nothing is changed. (Eviction of
// whole sessions to a persistent tier is not built yet: without it, evicting
// would lose acknowledged data.)
//
// Thread-safety: all methods may be called concurrently.
#ifndef CCS_SERVER_SESSION_STORE_H_
#define CCS_SERVER_SESSION_STORE_H_

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "model/memory.h"

namespace ccs::server {

struct SessionLimits {
  // Bytes of memory and cached prefixes held in RAM, all tenants together.
  int64_t ram_bytes = int64_t{4} << 30;
  // A session unused for this long is deleted. Zero: never.
  absl::Duration ttl = absl::Hours(24);
  // Per tenant.
  int max_sessions_per_tenant = 10000;
  int64_t max_bytes_per_tenant = int64_t{2} << 30;
  // Memory vectors one session may hold (RCC slots, digests, or tokens).
  int64_t max_slots_per_session = 1 << 20;
};

// What a session is, without its memory.
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
};

using model::PrefixCache;

struct Session {
  SessionInfo info;
  std::shared_ptr<const model::Memory> memory;
  // Null when none is cached for the current memory.
  std::shared_ptr<const PrefixCache> prefix_cache;
};

struct SessionStats {
  int64_t sessions = 0;
  int64_t memory_bytes = 0;        // memories held in RAM
  int64_t prefix_cache_bytes = 0;  // cached prefixes held in RAM
  int64_t hits = 0;                // Get found the session
  int64_t misses = 0;              // Get did not (unknown, other tenant, expired)
  int64_t expirations = 0;         // sessions removed by the TTL
  int64_t prefix_cache_drops = 0;  // prefixes dropped to make room
};

class SessionStore {
 public:
  using Clock = std::function<absl::Time()>;

  // `clock` defaults to absl::Now; tests pass a fake.
  explicit SessionStore(const SessionLimits& limits, Clock clock = nullptr);
  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;

  // Create stores `memory` as a new session of `tenant`. RESOURCE_EXHAUSTED
  // past the slot cap, the tenant's quotas or the RAM budget.
  absl::StatusOr<SessionInfo> Create(const std::string& tenant,
                                     const std::string& model,
                                     std::shared_ptr<const model::Memory> memory);

  // Get returns the session and marks it used. NOT_FOUND if it does not
  // exist, belongs to another tenant, or expired.
  absl::StatusOr<Session> Get(const std::string& tenant, const std::string& id);

  // Replace swaps the session's memory for `replacement` if it still holds
  // `expected` (ABORTED if another call replaced it first), and drops its
  // prefix cache. Errors as Create, and NOT_FOUND.
  absl::StatusOr<SessionInfo> Replace(
      const std::string& tenant, const std::string& id,
      const std::shared_ptr<const model::Memory>& expected,
      std::shared_ptr<const model::Memory> replacement);

  // SetPrefixCache attaches `cache` to the session if it still holds
  // `built_from` and the budget has room; otherwise does nothing (a cache is
  // an optimisation, never required).
  void SetPrefixCache(const std::string& tenant, const std::string& id,
                      const std::shared_ptr<const model::Memory>& built_from,
                      std::shared_ptr<const PrefixCache> cache);

  // Delete removes the session; returns the bytes it held. NOT_FOUND as Get.
  absl::StatusOr<int64_t> Delete(const std::string& tenant,
                                 const std::string& id);

  struct Page {
    std::vector<SessionInfo> sessions;  // most recently used first
    std::string next_page_token;        // empty on the last page
  };
  // List pages through the tenant's sessions. INVALID_ARGUMENT for a
  // page_token that this store did not hand out; page_size in [1, 1000].
  absl::StatusOr<Page> List(const std::string& tenant, int page_size,
                            const std::string& page_token);

  // ExpireIdle removes every session past its TTL; returns how many. The
  // server calls it periodically; Get also expires lazily.
  int ExpireIdle();

  SessionStats stats() const;

 private:
  struct Entry {
    SessionInfo info;
    std::shared_ptr<const model::Memory> memory;
    std::shared_ptr<const PrefixCache> prefix_cache;
    std::list<std::string>::iterator lru;  // position in lru_
  };
  struct TenantUsage {
    int sessions = 0;
    int64_t bytes = 0;
  };

  absl::Time Now() const { return clock_(); }
  // Entry of `id` owned by `tenant` and not expired, else null (expired
  // entries are removed on the way).
  Entry* FindLive(const std::string& tenant, const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void Touch(Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void Erase(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Checks the slot cap, the tenant quota and the budget for holding
  // `memory` in place of `old_bytes` (of the tenant's current use), dropping
  // prefix caches if that makes room. `replacing` is the entry being
  // replaced, whose own cache is going away anyway.
  absl::Status MakeRoom(const std::string& tenant, const model::Memory& memory,
                        int64_t old_bytes, int sessions_added,
                        Entry* replacing) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void DropPrefixCache(Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  int ExpireIdleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  int64_t RamBytes() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    return stats_.memory_bytes + stats_.prefix_cache_bytes;
  }

  const SessionLimits limits_;
  const Clock clock_;

  mutable absl::Mutex mutex_;
  std::unordered_map<std::string, Entry> sessions_ ABSL_GUARDED_BY(mutex_);
  std::unordered_map<std::string, TenantUsage> tenants_ ABSL_GUARDED_BY(mutex_);
  // Session ids, most recently used first.
  std::list<std::string> lru_ ABSL_GUARDED_BY(mutex_);
  SessionStats stats_ ABSL_GUARDED_BY(mutex_);
};

// NewSessionId returns 128 bits from the kernel's random source as 32
// lowercase hex digits.
std::string NewSessionId();

}  // namespace ccs::server

#endif  // CCS_SERVER_SESSION_STORE_H_
