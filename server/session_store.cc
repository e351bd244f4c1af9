#include "server/session_store.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <tuple>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ccs::server {
namespace {

constexpr int kMaxPageSize = 1000;

std::string FormatBytes(int64_t bytes) {
  return absl::StrCat(bytes, " bytes");
}

// Page tokens are "<last_used unix micros>.<session id>" of the last session
// of the previous page: the listing resumes after that key.
std::string PageToken(const SessionInfo& info) {
  return absl::StrCat(absl::ToUnixMicros(info.last_used), ".", info.id);
}

bool ParsePageToken(const std::string& token, int64_t* micros,
                    std::string* id) {
  std::vector<std::string> parts = absl::StrSplit(token, '.');
  if (parts.size() != 2 || parts[1].size() != 32) return false;
  *id = parts[1];
  return absl::SimpleAtoi(parts[0], micros);
}

// Orders most recently used first, ties by id, as List returns them.
bool ListedBefore(const SessionInfo& a, const SessionInfo& b) {
  return std::make_tuple(-absl::ToUnixMicros(a.last_used), a.id) <
         std::make_tuple(-absl::ToUnixMicros(b.last_used), b.id);
}

// The message of a disk error, with what was being done.
absl::Status Prefixed(const absl::Status& status, absl::string_view what) {
  return absl::Status(status.code(), absl::StrCat(what, ": ", status.message()));
}

}  // namespace

std::string NewSessionId() {
  unsigned char bits[16];
  size_t filled = 0;
  while (filled < sizeof bits) {
    const ssize_t n = getrandom(bits + filled, sizeof bits - filled, 0);
    if (n > 0) {
      filled += static_cast<size_t>(n);
    } else if (errno != EINTR) {
      // getrandom cannot fail on Linux >= 3.17 once the pool is seeded;
      // refuse to make a guessable id if it ever does.
      std::perror("getrandom");
      std::abort();
    }
  }
  std::string id;
  id.reserve(32);
  for (unsigned char byte : bits) absl::StrAppend(&id, absl::Hex(byte, absl::kZeroPad2));
  return id;
}

SessionStore::SessionStore(const SessionLimits& limits, Clock clock)
    : SessionStore(limits, nullptr, nullptr, std::move(clock)) {}

SessionStore::SessionStore(const SessionLimits& limits, std::unique_ptr<SessionPersistence> disk,
                           std::unique_ptr<MemoryCodec> codec, Clock clock)
    : limits_(limits),
      clock_(clock ? std::move(clock) : Clock(absl::Now)),
      disk_(std::move(disk)),
      codec_(std::move(codec)) {
  if (limits_.sweep_interval > absl::ZeroDuration()) {
    sweeper_ = std::thread([this] { SweepUntilStopped(); });
  }
}

SessionStore::~SessionStore() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  if (sweeper_.joinable()) sweeper_.join();
  if (disk_ == nullptr) return;
  absl::MutexLock lock(&mutex_);
  for (auto& [id, entry] : sessions_) {
    if (entry.info.last_used != entry.stored_last_used) StoreLastUsed(entry);
  }
}

void SessionStore::SweepUntilStopped() {
  absl::MutexLock lock(&mutex_);
  while (!mutex_.AwaitWithTimeout(absl::Condition(&stopping_), limits_.sweep_interval)) {
    ExpireIdleLocked();
  }
}

absl::Time SessionStore::ExpiryFrom(absl::Time last_used) const {
  return limits_.ttl == absl::ZeroDuration() ? absl::InfiniteFuture() : last_used + limits_.ttl;
}

absl::StatusOr<RecoveryReport> SessionStore::Recover() {
  if (disk_ == nullptr) {
    return absl::FailedPreconditionError("this session store has no persistent tier");
  }
  RecoveryReport report;
  std::vector<SessionInfo> found;
  absl::Status walked = disk_->ForEach(
      [&](SessionInfo info) { found.push_back(std::move(info)); },
      [&](absl::string_view key, const absl::Status& why) {
        report.skipped.push_back(absl::StrCat(key, ": ", why.ToString()));
      });
  if (!walked.ok()) return walked;
  // Most recently used first, as lru_ holds them.
  std::sort(found.begin(), found.end(), ListedBefore);
  absl::MutexLock lock(&mutex_);
  stats_.corrupt_records += static_cast<int64_t>(report.skipped.size());
  const absl::Time now = Now();
  for (SessionInfo& info : found) {
    // The TTL in force now, not the one the record was written under.
    info.expires = ExpiryFrom(info.last_used);
    if (now >= info.expires) {
      disk_->Delete(info.id, /*sync=*/false).IgnoreError();  // expires again if lost
      ++stats_.expirations;
      ++report.expired;
      continue;
    }
    if (sessions_.count(info.id)) continue;
    const std::string id = info.id;
    lru_.push_back(id);
    Entry& entry = sessions_[id];
    entry.lru = std::prev(lru_.end());
    entry.info = std::move(info);
    entry.info.tier = StorageTier::kDisk;
    entry.stored_last_used = entry.info.last_used;
    ++stats_.sessions;
    ++stats_.disk_sessions;
    stats_.disk_bytes += entry.info.stored_bytes;
    TenantUsage& usage = tenants_[entry.info.tenant];
    ++usage.sessions;
    usage.bytes += entry.info.bytes;
    ++report.sessions;
  }
  return report;
}

SessionStore::Entry* SessionStore::FindLive(const std::string& tenant,
                                            const std::string& id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end() || it->second.info.tenant != tenant) return nullptr;
  // A busy entry is in use right now: it expires after that use, if ever.
  if (Now() >= it->second.info.expires && !it->second.busy) {
    Erase(id, /*from_disk=*/true);
    ++stats_.expirations;
    return nullptr;
  }
  return &it->second;
}

void SessionStore::Touch(Entry& entry) {
  entry.info.last_used = Now();
  entry.info.expires = ExpiryFrom(entry.info.last_used);
  lru_.splice(lru_.begin(), lru_, entry.lru);
  if (entry.memory != nullptr) ram_lru_.splice(ram_lru_.begin(), ram_lru_, entry.ram_lru);
  if (disk_ != nullptr && !entry.busy &&
      entry.info.last_used - entry.stored_last_used >= kLastUsedWriteInterval) {
    StoreLastUsed(entry);
  }
}

void SessionStore::StoreLastUsed(Entry& entry) {
  // Not while a Put of this session is in flight: its info would be
  // overwritten with the old counts.
  if (entry.busy) return;
  SessionInfo stored = entry.info;
  stored.tier = StorageTier::kDisk;
  // Best effort: the session itself is safe; at worst it expires early.
  if (disk_->UpdateInfo(stored).ok()) entry.stored_last_used = entry.info.last_used;
}

void SessionStore::DropPrefixCache(Entry& entry) {
  if (entry.prefix_cache == nullptr) return;
  stats_.prefix_cache_bytes -= entry.prefix_cache->bytes();
  entry.prefix_cache.reset();
}

void SessionStore::DropFromRam(Entry& entry) {
  DropPrefixCache(entry);
  if (entry.memory == nullptr) return;
  stats_.memory_bytes -= entry.info.bytes;
  --stats_.ram_sessions;
  ram_lru_.erase(entry.ram_lru);
  entry.memory.reset();
  entry.info.tier = StorageTier::kDisk;
}

void SessionStore::Erase(const std::string& id, bool from_disk) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  Entry& entry = it->second;
  DropFromRam(entry);
  if (disk_ != nullptr) {
    if (from_disk) disk_->Delete(id, /*sync=*/false).IgnoreError();
    stats_.disk_bytes -= entry.info.stored_bytes;
    --stats_.disk_sessions;
  }
  --stats_.sessions;
  TenantUsage& usage = tenants_[entry.info.tenant];
  --usage.sessions;
  usage.bytes -= entry.info.bytes;
  if (usage.sessions == 0) tenants_.erase(entry.info.tenant);
  lru_.erase(entry.lru);
  sessions_.erase(it);
}

absl::Status SessionStore::CheckSlots(const model::Memory& memory) const {
  if (memory.slots() <= limits_.max_slots_per_session) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "the session would hold ", memory.slots(), " memory vectors; at most ",
      limits_.max_slots_per_session,
      " are allowed per session (--max_memory_slots_per_session): start a "
      "new session for the rest"));
}

absl::Status SessionStore::CheckQuota(const std::string& tenant, int64_t new_bytes,
                                      int64_t old_bytes, int sessions_added) {
  auto found = tenants_.find(tenant);
  const TenantUsage usage = found != tenants_.end() ? found->second : TenantUsage();
  if (usage.sessions + sessions_added > limits_.max_sessions_per_tenant) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "tenant \"", tenant, "\" already holds ", usage.sessions,
        " sessions, the most allowed: delete sessions first"));
  }
  const int64_t tenant_bytes = usage.bytes - old_bytes + new_bytes;
  if (tenant_bytes > limits_.max_bytes_per_tenant) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "tenant \"", tenant, "\" would hold ", FormatBytes(tenant_bytes),
        " of session memory; its quota is ",
        FormatBytes(limits_.max_bytes_per_tenant), ": delete sessions first"));
  }
  return absl::OkStatus();
}

bool SessionStore::FreeRam(int64_t incoming, int64_t outgoing, const Entry* keep, bool evict) {
  auto needed = [&] { return RamBytes() - outgoing + incoming - limits_.ram_bytes; };
  // Cached prefixes first: rebuilding one costs less than loading a memory.
  for (auto it = ram_lru_.rbegin(); needed() > 0 && it != ram_lru_.rend(); ++it) {
    Entry& entry = sessions_.at(*it);
    if (&entry == keep || entry.prefix_cache == nullptr) continue;
    DropPrefixCache(entry);
    ++stats_.prefix_cache_drops;
  }
  if (!evict || needed() <= 0) return needed() <= 0;
  std::vector<Entry*> oldest_first;
  for (auto it = ram_lru_.rbegin(); it != ram_lru_.rend(); ++it) {
    Entry& entry = sessions_.at(*it);
    if (&entry != keep && !entry.busy) oldest_first.push_back(&entry);
  }
  for (Entry* entry : oldest_first) {
    if (needed() <= 0) break;
    DropFromRam(*entry);
    ++stats_.evictions;
    if (entry->info.last_used != entry->stored_last_used) StoreLastUsed(*entry);
  }
  return needed() <= 0;
}

absl::Status SessionStore::BudgetFull(int64_t incoming) const {
  return absl::ResourceExhaustedError(absl::StrCat(
      "the server's session memory is full (", FormatBytes(RamBytes()), " held of ",
      FormatBytes(limits_.ram_bytes), "; this needs ", FormatBytes(incoming),
      "): delete sessions or retry later"));
}

void SessionStore::Admit(Entry& entry, std::shared_ptr<const model::Memory> memory) {
  entry.current = memory;
  if (entry.info.bytes > limits_.ram_bytes) {
    entry.info.tier = StorageTier::kDisk;  // would never fit: evict nothing for it
    return;
  }
  // Only a store with a persistent tier may evict: RAM-only callers made
  // room beforehand.
  if (!FreeRam(entry.info.bytes, 0, &entry, /*evict=*/disk_ != nullptr)) {
    entry.info.tier = StorageTier::kDisk;  // the rest of RAM is busy
    return;
  }
  entry.memory = std::move(memory);
  ram_lru_.push_front(entry.info.id);
  entry.ram_lru = ram_lru_.begin();
  entry.info.tier = StorageTier::kRam;
  stats_.memory_bytes += entry.info.bytes;
  ++stats_.ram_sessions;
}

absl::StatusOr<SessionInfo> SessionStore::Create(
    const std::string& tenant, const std::string& model,
    std::shared_ptr<const model::Memory> memory) {
  if (absl::Status slots = CheckSlots(*memory); !slots.ok()) return slots;
  if (disk_ != nullptr) return CreateStored(tenant, model, std::move(memory));
  absl::MutexLock lock(&mutex_);
  if (absl::Status quota = CheckQuota(tenant, memory->bytes(), 0, 1); !quota.ok()) return quota;
  if (!FreeRam(memory->bytes(), 0, nullptr, /*evict=*/false)) return BudgetFull(memory->bytes());
  std::string id = NewSessionId();
  while (sessions_.count(id)) id = NewSessionId();
  lru_.push_front(id);
  Entry& entry = sessions_[id];
  entry.lru = lru_.begin();
  entry.info.id = id;
  entry.info.tenant = tenant;
  entry.info.model = model;
  entry.info.method = memory->method();
  entry.info.tokens = memory->tokens();
  entry.info.slots = memory->slots();
  entry.info.segments = memory->segments();
  entry.info.bytes = memory->bytes();
  entry.info.dtype = memory->dtype();
  entry.info.created = Now();
  Admit(entry, std::move(memory));
  Touch(entry);
  ++stats_.sessions;
  TenantUsage& usage = tenants_[tenant];
  ++usage.sessions;
  usage.bytes += entry.info.bytes;
  return entry.info;
}

absl::StatusOr<SessionInfo> SessionStore::CreateStored(
    const std::string& tenant, const std::string& model,
    std::shared_ptr<const model::Memory> memory) {
  SessionInfo info;
  {
    absl::MutexLock lock(&mutex_);
    if (absl::Status quota = CheckQuota(tenant, memory->bytes(), 0, 1); !quota.ok()) return quota;
    // Reserve the quota while the disk write runs.
    TenantUsage& usage = tenants_[tenant];
    ++usage.sessions;
    usage.bytes += memory->bytes();
    info.id = NewSessionId();
    while (sessions_.count(info.id)) info.id = NewSessionId();
  }
  info.tenant = tenant;
  info.model = model;
  info.method = memory->method();
  info.tokens = memory->tokens();
  info.slots = memory->slots();
  info.segments = memory->segments();
  info.bytes = memory->bytes();
  info.dtype = memory->dtype();
  info.created = info.last_used = Now();
  info.expires = ExpiryFrom(info.last_used);
  info.tier = StorageTier::kDisk;
  absl::Status written;
  if (absl::StatusOr<std::string> record = codec_->Encode(*memory); !record.ok()) {
    written = Prefixed(record.status(), "the session's memory cannot be stored");
  } else {
    info.stored_bytes = static_cast<int64_t>(record->size());
    written = Prefixed(disk_->Put(info, *record), "the session cannot be stored");
  }
  absl::MutexLock lock(&mutex_);
  if (!written.ok()) {
    TenantUsage& usage = tenants_[tenant];
    --usage.sessions;
    usage.bytes -= info.bytes;
    if (usage.sessions == 0) tenants_.erase(tenant);
    return written;
  }
  const std::string id = info.id;
  lru_.push_front(id);
  Entry& entry = sessions_[id];
  entry.lru = lru_.begin();
  entry.info = std::move(info);
  entry.stored_last_used = entry.info.last_used;
  ++stats_.sessions;
  ++stats_.disk_sessions;
  stats_.disk_bytes += entry.info.stored_bytes;
  Admit(entry, std::move(memory));
  return entry.info;
}

absl::StatusOr<std::shared_ptr<const model::Memory>> SessionStore::Load(const std::string& id) {
  sessions_.at(id).busy = true;
  mutex_.Unlock();
  absl::StatusOr<std::shared_ptr<const model::Memory>> memory =
      absl::InternalError("not loaded");
  absl::StatusOr<std::string> record = disk_->GetMemory(id);
  if (record.ok()) {
    memory = codec_->Decode(*record);
  } else if (record.status().code() == absl::StatusCode::kNotFound) {
    memory = absl::DataLossError("its stored memory record is missing");
  } else {
    memory = record.status();
  }
  mutex_.Lock();
  Entry& entry = sessions_.at(id);
  entry.busy = false;
  idle_.SignalAll();
  if (memory.ok()) {
    const model::Memory& m = **memory;
    const SessionInfo& info = entry.info;
    if (m.method() == info.method && m.tokens() == info.tokens && m.slots() == info.slots &&
        m.segments() == info.segments && m.bytes() == info.bytes && m.dtype() == info.dtype) {
      return memory;
    }
    memory = absl::DataLossError(absl::StrCat(
        "its stored memory (", m.tokens(), " tokens, ", m.slots(), " slots, ", m.bytes(),
        " bytes) does not match its stored info (", info.tokens, " tokens, ", info.slots,
        " slots, ", info.bytes, " bytes)"));
  }
  const absl::StatusCode code = memory.status().code();
  if (code == absl::StatusCode::kDataLoss) ++stats_.corrupt_records;
  // A record this server's model cannot read is a server configuration
  // matter (another model, a method not loaded), not a bad request.
  return absl::Status(
      code == absl::StatusCode::kInvalidArgument ? absl::StatusCode::kFailedPrecondition : code,
      absl::StrCat("session ", id, " cannot be loaded from the persistent tier: ",
                   memory.status().message()));
}

absl::StatusOr<Session> SessionStore::Get(const std::string& tenant,
                                          const std::string& id) {
  absl::MutexLock lock(&mutex_);
  while (true) {
    Entry* entry = FindLive(tenant, id);
    if (entry == nullptr) {
      ++stats_.misses;
      return absl::NotFoundError(absl::StrCat(
          "session ", id, " not found: it does not exist, expired after ",
          absl::FormatDuration(limits_.ttl), " unused, or was deleted"));
    }
    if (entry->memory != nullptr) {
      ++stats_.hits;
      Touch(*entry);
      return Session{entry->info, entry->memory, entry->prefix_cache};
    }
    if (entry->busy) {
      idle_.Wait(&mutex_);  // then look again: it may be loaded, or gone
      continue;
    }
    absl::StatusOr<std::shared_ptr<const model::Memory>> memory = Load(id);
    entry = &sessions_.at(id);  // busy kept it alive while unlocked
    if (!memory.ok()) return memory.status();
    ++stats_.loads;
    Admit(*entry, *memory);
    Touch(*entry);
    // Served even when it cannot be kept in RAM (larger than the budget).
    return Session{entry->info, *std::move(memory), nullptr};
  }
}

absl::StatusOr<SessionInfo> SessionStore::GetInfo(const std::string& tenant,
                                                  const std::string& id) {
  absl::MutexLock lock(&mutex_);
  Entry* entry = FindLive(tenant, id);
  if (entry == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "session ", id, " not found: it does not exist, expired after ",
        absl::FormatDuration(limits_.ttl), " unused, or was deleted"));
  }
  return entry->info;
}

absl::StatusOr<SessionInfo> SessionStore::Replace(
    const std::string& tenant, const std::string& id,
    const std::shared_ptr<const model::Memory>& expected,
    std::shared_ptr<const model::Memory> replacement) {
  if (absl::Status slots = CheckSlots(*replacement); !slots.ok()) return slots;
  if (disk_ != nullptr) return ReplaceStored(tenant, id, expected, std::move(replacement));
  absl::MutexLock lock(&mutex_);
  Entry* entry = FindLive(tenant, id);
  if (entry == nullptr) {
    return absl::NotFoundError(absl::StrCat("session ", id, " not found"));
  }
  if (entry->memory != expected) {
    return absl::AbortedError(absl::StrCat(
        "session ", id, " was appended to concurrently; retry the append"));
  }
  const int64_t old_bytes = entry->info.bytes;
  if (absl::Status quota = CheckQuota(tenant, replacement->bytes(), old_bytes, 0); !quota.ok()) {
    return quota;
  }
  const int64_t outgoing =
      old_bytes + (entry->prefix_cache ? entry->prefix_cache->bytes() : 0);
  if (!FreeRam(replacement->bytes(), outgoing, entry, /*evict=*/false)) {
    return BudgetFull(replacement->bytes());
  }
  DropFromRam(*entry);
  tenants_[tenant].bytes += replacement->bytes() - old_bytes;
  entry->info.tokens = replacement->tokens();
  entry->info.slots = replacement->slots();
  entry->info.segments = replacement->segments();
  entry->info.bytes = replacement->bytes();
  entry->info.dtype = replacement->dtype();
  Admit(*entry, std::move(replacement));
  Touch(*entry);
  return entry->info;
}

absl::StatusOr<SessionInfo> SessionStore::ReplaceStored(
    const std::string& tenant, const std::string& id,
    const std::shared_ptr<const model::Memory>& expected,
    std::shared_ptr<const model::Memory> replacement) {
  SessionInfo info;
  int64_t delta = 0;
  {
    absl::MutexLock lock(&mutex_);
    Entry* entry = nullptr;
    while (true) {
      entry = FindLive(tenant, id);
      if (entry == nullptr) return absl::NotFoundError(absl::StrCat("session ", id, " not found"));
      if (!entry->busy) break;
      idle_.Wait(&mutex_);
    }
    if (entry->current.lock() != expected) {
      return absl::AbortedError(absl::StrCat(
          "session ", id, " was appended to concurrently; retry the append"));
    }
    const int64_t old_bytes = entry->info.bytes;
    if (absl::Status quota = CheckQuota(tenant, replacement->bytes(), old_bytes, 0);
        !quota.ok()) {
      return quota;
    }
    delta = replacement->bytes() - old_bytes;
    tenants_[tenant].bytes += delta;  // reserved while the disk write runs
    entry->busy = true;
    info = entry->info;
  }
  info.tokens = replacement->tokens();
  info.slots = replacement->slots();
  info.segments = replacement->segments();
  info.bytes = replacement->bytes();
  info.dtype = replacement->dtype();
  info.last_used = Now();
  info.expires = ExpiryFrom(info.last_used);
  info.tier = StorageTier::kDisk;
  absl::Status written;
  if (absl::StatusOr<std::string> record = codec_->Encode(*replacement); !record.ok()) {
    written = Prefixed(record.status(), "the session's memory cannot be stored");
  } else {
    info.stored_bytes = static_cast<int64_t>(record->size());
    written = Prefixed(disk_->Put(info, *record), "the session cannot be stored");
  }
  absl::MutexLock lock(&mutex_);
  Entry& entry = sessions_.at(id);  // busy kept it alive
  entry.busy = false;
  idle_.SignalAll();
  if (!written.ok()) {
    tenants_[tenant].bytes -= delta;
    return written;
  }
  DropFromRam(entry);
  stats_.disk_bytes += info.stored_bytes - entry.info.stored_bytes;
  entry.info = std::move(info);
  entry.stored_last_used = entry.info.last_used;
  lru_.splice(lru_.begin(), lru_, entry.lru);
  Admit(entry, std::move(replacement));
  return entry.info;
}

void SessionStore::SetPrefixCache(
    const std::string& tenant, const std::string& id,
    const std::shared_ptr<const model::Memory>& built_from,
    std::shared_ptr<const PrefixCache> cache) {
  absl::MutexLock lock(&mutex_);
  Entry* entry = FindLive(tenant, id);
  if (entry == nullptr || entry->memory == nullptr || entry->memory != built_from ||
      cache == nullptr) {
    return;
  }
  const int64_t old = entry->prefix_cache ? entry->prefix_cache->bytes() : 0;
  if (RamBytes() - old + cache->bytes() > limits_.ram_bytes) return;
  stats_.prefix_cache_bytes += cache->bytes() - old;
  entry->prefix_cache = std::move(cache);
}

absl::StatusOr<int64_t> SessionStore::Delete(const std::string& tenant,
                                             const std::string& id) {
  absl::MutexLock lock(&mutex_);
  Entry* entry = nullptr;
  while (true) {
    entry = FindLive(tenant, id);
    if (entry == nullptr) return absl::NotFoundError(absl::StrCat("session ", id, " not found"));
    if (!entry->busy) break;
    idle_.Wait(&mutex_);
  }
  if (disk_ != nullptr) {
    // Durable before the reply: a deleted session never comes back.
    entry->busy = true;
    mutex_.Unlock();
    const absl::Status deleted = disk_->Delete(id, /*sync=*/true);
    mutex_.Lock();
    entry = &sessions_.at(id);
    entry->busy = false;
    idle_.SignalAll();
    if (!deleted.ok()) return Prefixed(deleted, absl::StrCat("session ", id, " cannot be deleted"));
  }
  const int64_t bytes = entry->info.bytes;
  Erase(id, /*from_disk=*/false);
  return bytes;
}

absl::StatusOr<SessionStore::Page> SessionStore::List(
    const std::string& tenant, int page_size, const std::string& page_token) {
  if (page_size < 1 || page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_size is ", page_size, ": use 1 to ", kMaxPageSize));
  }
  SessionInfo after;
  const bool resume = !page_token.empty();
  if (resume) {
    int64_t micros = 0;
    if (!ParsePageToken(page_token, &micros, &after.id)) {
      return absl::InvalidArgumentError(
          "page_token is not one this server handed out: pass the "
          "next_page_token of the previous ListSessions response, or empty");
    }
    after.last_used = absl::FromUnixMicros(micros);
  }
  absl::MutexLock lock(&mutex_);
  ExpireIdleLocked();
  std::vector<SessionInfo> mine;
  for (const auto& [id, entry] : sessions_) {
    if (entry.info.tenant != tenant) continue;
    if (resume && !ListedBefore(after, entry.info)) continue;
    mine.push_back(entry.info);
  }
  std::sort(mine.begin(), mine.end(), ListedBefore);
  Page page;
  if (static_cast<int>(mine.size()) > page_size) {
    mine.resize(page_size);
    page.next_page_token = PageToken(mine.back());
  }
  page.sessions = std::move(mine);
  return page;
}

int SessionStore::ExpireIdle() {
  absl::MutexLock lock(&mutex_);
  return ExpireIdleLocked();
}

int SessionStore::ExpireIdleLocked() {
  const absl::Time now = Now();
  // The least recently used sessions expire first: walk from the back.
  std::vector<std::string> expired;
  for (auto it = lru_.rbegin(); it != lru_.rend(); ++it) {
    const Entry& entry = sessions_.at(*it);
    if (now < entry.info.expires) break;
    if (!entry.busy) expired.push_back(*it);
  }
  for (const std::string& id : expired) {
    Erase(id, /*from_disk=*/true);
    ++stats_.expirations;
  }
  return static_cast<int>(expired.size());
}

SessionStats SessionStore::stats() const {
  absl::MutexLock lock(&mutex_);
  return stats_;
}

}  // namespace ccs::server
