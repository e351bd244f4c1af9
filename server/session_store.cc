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
    : limits_(limits), clock_(clock ? std::move(clock) : Clock(absl::Now)) {}

SessionStore::Entry* SessionStore::FindLive(const std::string& tenant,
                                            const std::string& id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end() || it->second.info.tenant != tenant) return nullptr;
  if (Now() >= it->second.info.expires) {
    Erase(id);
    ++stats_.expirations;
    return nullptr;
  }
  return &it->second;
}

void SessionStore::Touch(Entry& entry) {
  entry.info.last_used = Now();
  entry.info.expires = limits_.ttl == absl::ZeroDuration()
                           ? absl::InfiniteFuture()
                           : entry.info.last_used + limits_.ttl;
  lru_.splice(lru_.begin(), lru_, entry.lru);
}

void SessionStore::DropPrefixCache(Entry& entry) {
  if (entry.prefix_cache == nullptr) return;
  stats_.prefix_cache_bytes -= entry.prefix_cache->bytes();
  entry.prefix_cache.reset();
}

void SessionStore::Erase(const std::string& id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  Entry& entry = it->second;
  DropPrefixCache(entry);
  stats_.memory_bytes -= entry.info.bytes;
  --stats_.sessions;
  TenantUsage& usage = tenants_[entry.info.tenant];
  --usage.sessions;
  usage.bytes -= entry.info.bytes;
  if (usage.sessions == 0) tenants_.erase(entry.info.tenant);
  lru_.erase(entry.lru);
  sessions_.erase(it);
}

absl::Status SessionStore::MakeRoom(const std::string& tenant,
                                    const model::Memory& memory,
                                    int64_t old_bytes, int sessions_added,
                                    Entry* replacing) {
  if (memory.slots() > limits_.max_slots_per_session) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the session would hold ", memory.slots(), " memory vectors; at most ",
        limits_.max_slots_per_session,
        " are allowed per session (--max_memory_slots_per_session): start a "
        "new session for the rest"));
  }
  const TenantUsage usage = tenants_.count(tenant) ? tenants_[tenant] : TenantUsage();
  if (usage.sessions + sessions_added > limits_.max_sessions_per_tenant) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "tenant \"", tenant, "\" already holds ", usage.sessions,
        " sessions, the most allowed: delete sessions first"));
  }
  const int64_t tenant_bytes = usage.bytes - old_bytes + memory.bytes();
  if (tenant_bytes > limits_.max_bytes_per_tenant) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "tenant \"", tenant, "\" would hold ", FormatBytes(tenant_bytes),
        " of session memory; its quota is ",
        FormatBytes(limits_.max_bytes_per_tenant), ": delete sessions first"));
  }
  const int64_t freed_with_replacement =
      old_bytes + (replacing && replacing->prefix_cache
                       ? replacing->prefix_cache->bytes()
                       : 0);
  auto needed = [&] {
    return RamBytes() - freed_with_replacement + memory.bytes() -
           limits_.ram_bytes;
  };
  // Drop cached prefixes, least recently used first, until the memory fits.
  for (auto it = lru_.rbegin(); needed() > 0 && it != lru_.rend(); ++it) {
    Entry& entry = sessions_.at(*it);
    if (&entry == replacing || entry.prefix_cache == nullptr) continue;
    DropPrefixCache(entry);
    ++stats_.prefix_cache_drops;
  }
  if (needed() > 0) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the server's session memory is full (", FormatBytes(RamBytes()),
        " held of ", FormatBytes(limits_.ram_bytes),
        "; this needs ", FormatBytes(memory.bytes()),
        "): delete sessions or retry later"));
  }
  return absl::OkStatus();
}

absl::StatusOr<SessionInfo> SessionStore::Create(
    const std::string& tenant, const std::string& model,
    std::shared_ptr<const model::Memory> memory) {
  absl::MutexLock lock(&mutex_);
  if (absl::Status room = MakeRoom(tenant, *memory, 0, 1, nullptr); !room.ok()) {
    return room;
  }
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
  entry.memory = std::move(memory);
  Touch(entry);
  ++stats_.sessions;
  stats_.memory_bytes += entry.info.bytes;
  TenantUsage& usage = tenants_[tenant];
  ++usage.sessions;
  usage.bytes += entry.info.bytes;
  return entry.info;
}

absl::StatusOr<Session> SessionStore::Get(const std::string& tenant,
                                          const std::string& id) {
  absl::MutexLock lock(&mutex_);
  Entry* entry = FindLive(tenant, id);
  if (entry == nullptr) {
    ++stats_.misses;
    return absl::NotFoundError(absl::StrCat(
        "session ", id, " not found: it does not exist, expired after ",
        absl::FormatDuration(limits_.ttl), " unused, or was deleted"));
  }
  ++stats_.hits;
  Touch(*entry);
  return Session{entry->info, entry->memory, entry->prefix_cache};
}

absl::StatusOr<SessionInfo> SessionStore::Replace(
    const std::string& tenant, const std::string& id,
    const std::shared_ptr<const model::Memory>& expected,
    std::shared_ptr<const model::Memory> replacement) {
  absl::MutexLock lock(&mutex_);
  Entry* entry = FindLive(tenant, id);
  if (entry == nullptr) {
    return absl::NotFoundError(absl::StrCat("session ", id, " not found"));
  }
  if (entry->memory != expected) {
    return absl::AbortedError(absl::StrCat(
        "session ", id, " was appended to concurrently; retry the append"));
  }
  if (absl::Status room =
          MakeRoom(tenant, *replacement, entry->info.bytes, 0, entry);
      !room.ok()) {
    return room;
  }
  DropPrefixCache(*entry);
  const int64_t delta = replacement->bytes() - entry->info.bytes;
  stats_.memory_bytes += delta;
  tenants_[tenant].bytes += delta;
  entry->info.tokens = replacement->tokens();
  entry->info.slots = replacement->slots();
  entry->info.segments = replacement->segments();
  entry->info.bytes = replacement->bytes();
  entry->info.dtype = replacement->dtype();
  entry->memory = std::move(replacement);
  Touch(*entry);
  return entry->info;
}

void SessionStore::SetPrefixCache(
    const std::string& tenant, const std::string& id,
    const std::shared_ptr<const model::Memory>& built_from,
    std::shared_ptr<const PrefixCache> cache) {
  absl::MutexLock lock(&mutex_);
  Entry* entry = FindLive(tenant, id);
  if (entry == nullptr || entry->memory != built_from || cache == nullptr) {
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
  Entry* entry = FindLive(tenant, id);
  if (entry == nullptr) {
    return absl::NotFoundError(absl::StrCat("session ", id, " not found"));
  }
  const int64_t bytes = entry->info.bytes;
  Erase(id);
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
  int expired = 0;
  // The least recently used sessions expire first: walk from the back.
  while (!lru_.empty()) {
    const std::string oldest = lru_.back();
    if (now < sessions_.at(oldest).info.expires) break;
    Erase(oldest);
    ++stats_.expirations;
    ++expired;
  }
  return expired;
}

SessionStats SessionStore::stats() const {
  absl::MutexLock lock(&mutex_);
  return stats_;
}

}  // namespace ccs::server
