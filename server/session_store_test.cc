#include "server/session_store.h"

#include <cstdlib>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "server/rocksdb_persistence.h"
#include "server/validation.h"

namespace ccs::server {
namespace {

using ::testing::HasSubstr;

class FakeMemory final : public model::Memory {
 public:
  FakeMemory(int64_t slots, int64_t bytes, int tag = 0)
      : slots_(slots), bytes_(bytes), tag_(tag) {}
  int tag() const { return tag_; }
  model::Method method() const override { return model::Method::kRcc; }
  int64_t tokens() const override { return slots_ * 32; }
  int64_t slots() const override { return slots_; }
  int32_t segments() const override { return 1; }
  int64_t bytes() const override { return bytes_; }
  std::string dtype() const override { return "bfloat16"; }
  bool ExportVectors(std::vector<int64_t>*, std::string*) const override { return false; }

 private:
  const int64_t slots_;
  const int64_t bytes_;
  const int tag_;  // tells memories apart across a reload
};

// Stores a FakeMemory as "fake:<slots>:<bytes>:<tag>".
class FakeCodec final : public MemoryCodec {
 public:
  absl::StatusOr<std::string> Encode(const model::Memory& memory) const override {
    const auto& fake = static_cast<const FakeMemory&>(memory);
    return absl::StrCat("fake:", fake.slots(), ":", fake.bytes(), ":", fake.tag());
  }
  absl::StatusOr<std::shared_ptr<const model::Memory>> Decode(
      absl::string_view bytes) const override {
    std::vector<std::string> parts = absl::StrSplit(bytes, ':');
    int64_t slots = 0, size = 0;
    int tag = 0;
    if (parts.size() != 4 || parts[0] != "fake" || !absl::SimpleAtoi(parts[1], &slots) ||
        !absl::SimpleAtoi(parts[2], &size) || !absl::SimpleAtoi(parts[3], &tag)) {
      return absl::DataLossError(absl::StrCat("not a fake memory: ", bytes));
    }
    return std::make_shared<FakeMemory>(slots, size, tag);
  }
};

class FakeCache final : public PrefixCache {
 public:
  explicit FakeCache(int64_t bytes) : bytes_(bytes) {}
  int64_t bytes() const override { return bytes_; }

 private:
  const int64_t bytes_;
};

std::shared_ptr<const model::Memory> MemoryOf(int64_t slots, int64_t bytes) {
  return std::make_shared<FakeMemory>(slots, bytes);
}

class SessionStoreTest : public ::testing::Test {
 protected:
  SessionStore MakeStore(SessionLimits limits) {
    return SessionStore(limits, [this] { return now_; });
  }
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
};

TEST(NewSessionIdTest, IsValidAndUnique) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewSessionId();
    EXPECT_TRUE(ValidateSessionId(id, "id").ok()) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 1000u);
}

TEST_F(SessionStoreTest, CreateGetDeleteWithExactAccounting) {
  SessionStore store = MakeStore({});
  absl::StatusOr<SessionInfo> made = store.Create("acme", "m", MemoryOf(64, 6553600));
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(made->slots, 64);
  EXPECT_EQ(made->tokens, 2048);
  EXPECT_EQ(made->bytes, 6553600);
  EXPECT_EQ(made->dtype, "bfloat16");
  EXPECT_EQ(store.stats().memory_bytes, 6553600);
  EXPECT_EQ(store.stats().sessions, 1);

  absl::StatusOr<Session> got = store.Get("acme", made->id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->memory->slots(), 64);
  EXPECT_EQ(store.stats().hits, 1);

  absl::StatusOr<int64_t> freed = store.Delete("acme", made->id);
  ASSERT_TRUE(freed.ok());
  EXPECT_EQ(*freed, 6553600);
  EXPECT_EQ(store.stats().memory_bytes, 0);
  EXPECT_EQ(store.stats().sessions, 0);
  EXPECT_EQ(store.Get("acme", made->id).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store.Delete("acme", made->id).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(SessionStoreTest, OtherTenantsSeeNothing) {
  SessionStore store = MakeStore({});
  absl::StatusOr<SessionInfo> made = store.Create("acme", "m", MemoryOf(1, 10));
  ASSERT_TRUE(made.ok());
  EXPECT_EQ(store.Get("globex", made->id).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store.Delete("globex", made->id).status().code(),
            absl::StatusCode::kNotFound);
  absl::StatusOr<SessionStore::Page> page = store.List("globex", 10, "");
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->sessions.empty());
  EXPECT_TRUE(store.Get("acme", made->id).ok());
}

TEST_F(SessionStoreTest, ReplaceIsCompareAndSwapAndDropsThePrefixCache) {
  SessionStore store = MakeStore({});
  auto first = MemoryOf(2, 100);
  absl::StatusOr<SessionInfo> made = store.Create("t", "m", first);
  ASSERT_TRUE(made.ok());
  store.SetPrefixCache("t", made->id, first, std::make_shared<FakeCache>(50));
  EXPECT_EQ(store.stats().prefix_cache_bytes, 50);
  ASSERT_NE(store.Get("t", made->id)->prefix_cache, nullptr);

  auto longer = MemoryOf(4, 200);
  absl::StatusOr<SessionInfo> grown = store.Replace("t", made->id, first, longer);
  ASSERT_TRUE(grown.ok()) << grown.status();
  EXPECT_EQ(grown->slots, 4);
  EXPECT_EQ(store.stats().memory_bytes, 200);
  EXPECT_EQ(store.stats().prefix_cache_bytes, 0);
  EXPECT_EQ(store.Get("t", made->id)->prefix_cache, nullptr);

  // A second append computed from the old memory lost the race.
  EXPECT_EQ(store.Replace("t", made->id, first, MemoryOf(4, 200)).status().code(),
            absl::StatusCode::kAborted);
  // A cache built from the old memory is not attached.
  store.SetPrefixCache("t", made->id, first, std::make_shared<FakeCache>(50));
  EXPECT_EQ(store.stats().prefix_cache_bytes, 0);
}

TEST_F(SessionStoreTest, SlotCapAndQuotas) {
  SessionLimits limits;
  limits.max_slots_per_session = 10;
  limits.max_sessions_per_tenant = 2;
  limits.max_bytes_per_tenant = 1000;
  SessionStore store = MakeStore(limits);
  EXPECT_THAT(std::string(store.Create("t", "m", MemoryOf(11, 1)).status().message()),
              HasSubstr("at most 10"));
  ASSERT_TRUE(store.Create("t", "m", MemoryOf(1, 600)).ok());
  absl::Status over = store.Create("t", "m", MemoryOf(1, 600)).status();
  EXPECT_EQ(over.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(over.message()), HasSubstr("quota"));
  ASSERT_TRUE(store.Create("t", "m", MemoryOf(1, 100)).ok());
  EXPECT_THAT(std::string(store.Create("t", "m", MemoryOf(1, 1)).status().message()),
              HasSubstr("already holds 2 sessions"));
  // Other tenants have their own quota.
  EXPECT_TRUE(store.Create("u", "m", MemoryOf(1, 600)).ok());
}

TEST_F(SessionStoreTest, BudgetDropsLeastRecentlyUsedPrefixCachesFirst) {
  SessionLimits limits;
  limits.ram_bytes = 1000;
  SessionStore store = MakeStore(limits);
  auto a_memory = MemoryOf(1, 100);
  auto b_memory = MemoryOf(1, 100);
  absl::StatusOr<SessionInfo> a = store.Create("t", "m", a_memory);
  now_ += absl::Seconds(1);
  absl::StatusOr<SessionInfo> b = store.Create("t", "m", b_memory);
  store.SetPrefixCache("t", a->id, a_memory, std::make_shared<FakeCache>(300));
  store.SetPrefixCache("t", b->id, b_memory, std::make_shared<FakeCache>(300));
  EXPECT_EQ(store.stats().prefix_cache_bytes, 600);
  // 800 held; 300 more needs one cache dropped: a's, used least recently.
  ASSERT_TRUE(store.Create("t", "m", MemoryOf(1, 300)).ok());
  EXPECT_EQ(store.stats().prefix_cache_drops, 1);
  EXPECT_EQ(store.Get("t", a->id)->prefix_cache, nullptr);
  EXPECT_NE(store.Get("t", b->id)->prefix_cache, nullptr);
  // More than caches can free: refused, nothing changed.
  absl::Status full = store.Create("t", "m", MemoryOf(1, 600)).status();
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(full.message()), HasSubstr("memory is full"));
  EXPECT_EQ(store.stats().sessions, 3);
}

TEST_F(SessionStoreTest, SessionsExpireAfterTheirTtlUnused) {
  SessionLimits limits;
  limits.ttl = absl::Minutes(10);
  SessionStore store = MakeStore(limits);
  absl::StatusOr<SessionInfo> kept = store.Create("t", "m", MemoryOf(1, 10));
  absl::StatusOr<SessionInfo> idle = store.Create("t", "m", MemoryOf(1, 10));
  now_ += absl::Minutes(6);
  ASSERT_TRUE(store.Get("t", kept->id).ok());  // refreshes its TTL
  now_ += absl::Minutes(6);
  EXPECT_EQ(store.ExpireIdle(), 1);
  EXPECT_TRUE(store.Get("t", kept->id).ok());
  EXPECT_EQ(store.Get("t", idle->id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store.stats().expirations, 1);
  now_ += absl::Minutes(11);
  EXPECT_EQ(store.Get("t", kept->id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store.stats().sessions, 0);
}

TEST_F(SessionStoreTest, ListPagesMostRecentlyUsedFirst) {
  SessionStore store = MakeStore({});
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(store.Create("t", "m", MemoryOf(1, 1))->id);
    now_ += absl::Seconds(1);
  }
  std::vector<std::string> listed;
  std::string token;
  int pages = 0;
  do {
    absl::StatusOr<SessionStore::Page> page = store.List("t", 2, token);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const SessionInfo& info : page->sessions) listed.push_back(info.id);
    token = page->next_page_token;
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(listed, std::vector<std::string>(ids.rbegin(), ids.rend()));
  EXPECT_EQ(store.List("t", 2, "forged").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.List("t", 0, "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SessionStoreTest, ConcurrentUseKeepsCountsExact) {
  SessionStore store(SessionLimits{});
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&store, t] {
      const std::string tenant = "tenant" + std::to_string(t % 2);
      for (int i = 0; i < 200; ++i) {
        absl::StatusOr<SessionInfo> made = store.Create(tenant, "m", MemoryOf(1, 7));
        ASSERT_TRUE(made.ok());
        ASSERT_TRUE(store.Get(tenant, made->id).ok());
        if (i % 2 == 0) ASSERT_TRUE(store.Delete(tenant, made->id).ok());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(store.stats().sessions, 800);
  EXPECT_EQ(store.stats().memory_bytes, 800 * 7);
  EXPECT_EQ(store.stats().hits, 1600);
}

}  // namespace
}  // namespace ccs::server

namespace ccs::server {
namespace {

int TagOf(const Session& session) {
  return static_cast<const FakeMemory&>(*session.memory).tag();
}

// The store over a RocksDB directory, as the server runs it, with a fake
// clock and fake memories.
class PersistentSessionStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    dir_ = absl::StrCat(tmp ? tmp : "/tmp", "/session_store_test/",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }

  // Opens a store over dir_ and recovers it, as the server does at start.
  std::unique_ptr<SessionStore> Open(SessionLimits limits, RecoveryReport* report = nullptr) {
    absl::StatusOr<std::unique_ptr<RocksDbPersistence>> disk = RocksDbPersistence::Open(dir_);
    EXPECT_TRUE(disk.ok()) << disk.status();
    if (!disk.ok()) return nullptr;
    auto store = std::make_unique<SessionStore>(limits, *std::move(disk),
                                                std::make_unique<FakeCodec>(),
                                                [this] { return now_; });
    absl::StatusOr<RecoveryReport> recovered = store->Recover();
    EXPECT_TRUE(recovered.ok()) << recovered.status();
    if (report != nullptr && recovered.ok()) *report = *recovered;
    return store;
  }

  // Runs `edit` on the raw database (the store must be closed).
  void EditDatabase(const std::function<void(rocksdb::DB*)>& edit) {
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_, &db).ok());
    edit(db);
    delete db;
  }

  std::string dir_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
};

TEST_F(PersistentSessionStoreTest, RestartSeesEverySessionAndLoadsMemoriesLazily) {
  std::string a, b;
  SessionInfo b_info;
  {
    std::unique_ptr<SessionStore> store = Open({});
    a = store->Create("acme", "m", std::make_shared<FakeMemory>(2, 100, 1))->id;
    now_ += absl::Seconds(1);
    auto first = std::make_shared<FakeMemory>(3, 200, 2);
    b = store->Create("acme", "m", first)->id;
    absl::StatusOr<SessionInfo> grown =
        store->Replace("acme", b, first, std::make_shared<FakeMemory>(6, 400, 3));
    ASSERT_TRUE(grown.ok()) << grown.status();
    b_info = *grown;
    EXPECT_EQ(store->stats().disk_bytes,
              grown->stored_bytes + store->GetInfo("acme", a)->stored_bytes);
  }
  RecoveryReport report;
  std::unique_ptr<SessionStore> store = Open({}, &report);
  EXPECT_EQ(report.sessions, 2);
  EXPECT_TRUE(report.skipped.empty());
  SessionStats stats = store->stats();
  EXPECT_EQ(stats.sessions, 2);
  EXPECT_EQ(stats.ram_sessions, 0);
  EXPECT_EQ(stats.memory_bytes, 0);
  EXPECT_GT(stats.disk_bytes, 0);

  absl::StatusOr<SessionStore::Page> page = store->List("acme", 10, "");
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->sessions.size(), 2u);
  EXPECT_EQ(page->sessions[0].id, b);  // most recently used first
  EXPECT_EQ(page->sessions[0].tier, StorageTier::kDisk);
  EXPECT_EQ(page->sessions[0].slots, 6);
  EXPECT_EQ(page->sessions[0].bytes, 400);
  EXPECT_EQ(page->sessions[0].created, b_info.created);

  absl::StatusOr<Session> got = store->Get("acme", b);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(TagOf(*got), 3);  // the replacement, not the first memory
  EXPECT_EQ(got->info.tier, StorageTier::kRam);
  ASSERT_TRUE(store->Get("acme", b).ok());
  stats = store->stats();
  EXPECT_EQ(stats.loads, 1);
  EXPECT_EQ(stats.hits, 1);
  EXPECT_EQ(stats.ram_sessions, 1);
  EXPECT_EQ(stats.memory_bytes, 400);
  EXPECT_EQ(store->Get("globex", a).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->stats().misses, 1);
}

TEST_F(PersistentSessionStoreTest, FullRamEvictsLeastRecentlyUsedAndGetLoadsBack) {
  SessionLimits limits;
  limits.ram_bytes = 1000;
  std::unique_ptr<SessionStore> store = Open(limits);
  auto a_memory = std::make_shared<FakeMemory>(1, 400, 1);
  const std::string a = store->Create("t", "m", a_memory)->id;
  now_ += absl::Seconds(1);
  const std::string b = store->Create("t", "m", std::make_shared<FakeMemory>(1, 400, 2))->id;
  now_ += absl::Seconds(1);
  ASSERT_TRUE(store->Get("t", a).ok());  // a is now more recent than b
  store->SetPrefixCache("t", a, a_memory, std::make_shared<FakeCache>(100));
  now_ += absl::Seconds(1);
  // 900 held; 400 more: the cache goes first, then b's memory.
  absl::StatusOr<SessionInfo> c = store->Create("t", "m", std::make_shared<FakeMemory>(1, 400, 3));
  ASSERT_TRUE(c.ok()) << c.status();
  SessionStats stats = store->stats();
  EXPECT_EQ(stats.prefix_cache_drops, 1);
  EXPECT_EQ(stats.evictions, 1);
  EXPECT_EQ(stats.memory_bytes, 800);
  EXPECT_EQ(stats.ram_sessions, 2);
  EXPECT_EQ(stats.sessions, 3);
  EXPECT_EQ(store->GetInfo("t", b)->tier, StorageTier::kDisk);
  EXPECT_EQ(store->GetInfo("t", a)->tier, StorageTier::kRam);

  // b loads back and a, now the least recently used in RAM, makes room.
  now_ += absl::Seconds(1);
  absl::StatusOr<Session> got = store->Get("t", b);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(TagOf(*got), 2);
  stats = store->stats();
  EXPECT_EQ(stats.loads, 1);
  EXPECT_EQ(stats.evictions, 2);
  EXPECT_EQ(stats.memory_bytes, 800);
  EXPECT_EQ(store->GetInfo("t", a)->tier, StorageTier::kDisk);

  // An append computed from a's evicted memory still commits: the caller
  // holds the memory it read.
  absl::StatusOr<SessionInfo> grown =
      store->Replace("t", a, a_memory, std::make_shared<FakeMemory>(2, 500, 4));
  ASSERT_TRUE(grown.ok()) << grown.status();
  EXPECT_LE(store->stats().memory_bytes, 1000);
  EXPECT_EQ(TagOf(*store->Get("t", a)), 4);
  // A memory larger than the whole budget stays on disk and is still served.
  absl::StatusOr<SessionInfo> huge =
      store->Create("t", "m", std::make_shared<FakeMemory>(1, 5000, 5));
  ASSERT_TRUE(huge.ok()) << huge.status();
  EXPECT_EQ(huge->tier, StorageTier::kDisk);
  absl::StatusOr<Session> served = store->Get("t", huge->id);
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(TagOf(*served), 5);
  EXPECT_LE(store->stats().memory_bytes, 1000);
}

TEST_F(PersistentSessionStoreTest, DeleteRemovesTheDiskCopy) {
  std::string kept, gone;
  {
    std::unique_ptr<SessionStore> store = Open({});
    kept = store->Create("t", "m", std::make_shared<FakeMemory>(1, 10, 1))->id;
    gone = store->Create("t", "m", std::make_shared<FakeMemory>(1, 10, 2))->id;
    absl::StatusOr<int64_t> freed = store->Delete("t", gone);
    ASSERT_TRUE(freed.ok());
    EXPECT_EQ(*freed, 10);
    EXPECT_EQ(store->Get("t", gone).status().code(), absl::StatusCode::kNotFound);
  }
  EditDatabase([&](rocksdb::DB* db) {
    std::string value;
    EXPECT_TRUE(db->Get({}, RocksDbPersistence::InfoKey(gone), &value).IsNotFound());
    EXPECT_TRUE(db->Get({}, RocksDbPersistence::MemoryKey(gone), &value).IsNotFound());
    EXPECT_TRUE(db->Get({}, RocksDbPersistence::MemoryKey(kept), &value).ok());
  });
  RecoveryReport report;
  std::unique_ptr<SessionStore> store = Open({}, &report);
  EXPECT_EQ(report.sessions, 1);
  EXPECT_EQ(store->Get("t", gone).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store->Get("t", kept).ok());
}

TEST_F(PersistentSessionStoreTest, CorruptRecordsAreReportedAndSkipped) {
  std::string bad_info, bad_memory, good;
  {
    std::unique_ptr<SessionStore> store = Open({});
    bad_info = store->Create("t", "m", std::make_shared<FakeMemory>(1, 10, 1))->id;
    bad_memory = store->Create("t", "m", std::make_shared<FakeMemory>(1, 10, 2))->id;
    good = store->Create("t", "m", std::make_shared<FakeMemory>(1, 10, 3))->id;
  }
  EditDatabase([&](rocksdb::DB* db) {
    rocksdb::WriteOptions sync;
    sync.sync = true;
    ASSERT_TRUE(db->Put(sync, RocksDbPersistence::InfoKey(bad_info), "garbage").ok());
    std::string record;
    ASSERT_TRUE(db->Get({}, RocksDbPersistence::MemoryKey(bad_memory), &record).ok());
    record[0] ^= 1;
    ASSERT_TRUE(db->Put(sync, RocksDbPersistence::MemoryKey(bad_memory), record).ok());
  });
  RecoveryReport report;
  std::unique_ptr<SessionStore> store = Open({}, &report);
  EXPECT_EQ(report.sessions, 2);
  ASSERT_EQ(report.skipped.size(), 1u);
  EXPECT_THAT(report.skipped[0], HasSubstr(bad_info));
  EXPECT_THAT(report.skipped[0], HasSubstr("DATA_LOSS"));
  EXPECT_EQ(store->Get("t", bad_info).status().code(), absl::StatusCode::kNotFound);
  absl::Status unreadable = store->Get("t", bad_memory).status();
  EXPECT_EQ(unreadable.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(unreadable.message()), HasSubstr(bad_memory));
  EXPECT_EQ(TagOf(*store->Get("t", good)), 3);
  EXPECT_EQ(store->stats().corrupt_records, 2);
  // The store goes on working, and the damaged session can be deleted.
  EXPECT_TRUE(store->Create("t", "m", std::make_shared<FakeMemory>(1, 10, 4)).ok());
  EXPECT_TRUE(store->Delete("t", bad_memory).ok());
}

TEST_F(PersistentSessionStoreTest, TtlExpiryDeletesOnDiskToo) {
  SessionLimits limits;
  limits.ttl = absl::Minutes(10);
  std::string expired, idle_over_restart, kept;
  {
    std::unique_ptr<SessionStore> store = Open(limits);
    expired = store->Create("t", "m", std::make_shared<FakeMemory>(1, 10, 1))->id;
    now_ += absl::Minutes(5);
    idle_over_restart = store->Create("t", "m", std::make_shared<FakeMemory>(1, 10, 2))->id;
    now_ += absl::Minutes(6);
    EXPECT_EQ(store->ExpireIdle(), 1);
    kept = store->Create("t", "m", std::make_shared<FakeMemory>(1, 10, 3))->id;
  }
  EditDatabase([&](rocksdb::DB* db) {
    std::string value;
    EXPECT_TRUE(db->Get({}, RocksDbPersistence::MemoryKey(expired), &value).IsNotFound());
  });
  // Down for 5 minutes: idle_over_restart passes its TTL meanwhile.
  now_ += absl::Minutes(5);
  RecoveryReport report;
  std::unique_ptr<SessionStore> store = Open(limits, &report);
  EXPECT_EQ(report.sessions, 1);
  EXPECT_EQ(report.expired, 1);
  EXPECT_EQ(store->Get("t", idle_over_restart).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store->Get("t", kept).ok());
  store.reset();
  EXPECT_EQ(Open(limits, &report)->stats().sessions, 1);
}

TEST_F(PersistentSessionStoreTest, QuotasStillApplyAndAFailedCreateChangesNothing) {
  SessionLimits limits;
  limits.max_sessions_per_tenant = 1;
  limits.max_slots_per_session = 4;
  std::unique_ptr<SessionStore> store = Open(limits);
  ASSERT_TRUE(store->Create("t", "m", std::make_shared<FakeMemory>(1, 10)).ok());
  EXPECT_EQ(store->Create("t", "m", std::make_shared<FakeMemory>(1, 10)).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(store->Create("u", "m", std::make_shared<FakeMemory>(5, 10)).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(store->stats().sessions, 1);
  store.reset();
  RecoveryReport report;
  Open(limits, &report);
  EXPECT_EQ(report.sessions, 1);
}

// A disk that refuses every write.
class BrokenDisk final : public SessionPersistence {
 public:
  absl::Status Put(const SessionInfo&, absl::string_view) override {
    return absl::ResourceExhaustedError("disk full");
  }
  absl::Status UpdateInfo(const SessionInfo&) override { return absl::OkStatus(); }
  absl::StatusOr<std::string> GetMemory(const std::string&) override {
    return absl::NotFoundError("none");
  }
  absl::Status Delete(const std::string&, bool) override { return absl::OkStatus(); }
  absl::Status ForEach(const std::function<void(SessionInfo)>&,
                       const std::function<void(absl::string_view, const absl::Status&)>&)
      override {
    return absl::OkStatus();
  }
};

TEST(SessionStoreDiskErrorTest, AFailedWriteIsNotAcknowledgedAndLeaksNoQuota) {
  SessionLimits limits;
  limits.max_sessions_per_tenant = 1;
  SessionStore store(limits, std::make_unique<BrokenDisk>(), std::make_unique<FakeCodec>());
  for (int i = 0; i < 3; ++i) {
    absl::Status status = store.Create("t", "m", std::make_shared<FakeMemory>(1, 10)).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
    EXPECT_THAT(std::string(status.message()), HasSubstr("disk full"));
  }
  EXPECT_EQ(store.stats().sessions, 0);
  EXPECT_TRUE(store.List("t", 10, "")->sessions.empty());
}

TEST_F(PersistentSessionStoreTest, ConcurrentUseUnderEvictionKeepsEverySessionIntact) {
  SessionLimits limits;
  limits.ram_bytes = 2000;  // room for a few memories: constant eviction
  std::vector<std::vector<std::pair<std::string, int>>> kept(4);  // id, tag
  {
    absl::StatusOr<std::unique_ptr<RocksDbPersistence>> disk = RocksDbPersistence::Open(dir_);
    ASSERT_TRUE(disk.ok());
    SessionStore store(limits, *std::move(disk), std::make_unique<FakeCodec>());
    ASSERT_TRUE(store.Recover().ok());
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&store, &kept, t] {
        for (int i = 0; i < 40; ++i) {
          const int tag = t * 1000 + i;
          auto memory = std::make_shared<FakeMemory>(1, 300, tag);
          absl::StatusOr<SessionInfo> made = store.Create("t", "m", memory);
          ASSERT_TRUE(made.ok()) << made.status();
          absl::StatusOr<Session> got = store.Get("t", made->id);
          ASSERT_TRUE(got.ok()) << got.status();
          ASSERT_EQ(TagOf(*got), tag);
          absl::StatusOr<SessionInfo> grown = store.Replace(
              "t", made->id, got->memory, std::make_shared<FakeMemory>(2, 400, tag + 500));
          ASSERT_TRUE(grown.ok()) << grown.status();
          if (i % 4 == 0) {
            ASSERT_TRUE(store.Delete("t", made->id).ok());
          } else {
            kept[t].emplace_back(made->id, tag + 500);
          }
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    const SessionStats stats = store.stats();
    EXPECT_EQ(stats.sessions, 4 * 30);
    EXPECT_LE(stats.memory_bytes + stats.prefix_cache_bytes, limits.ram_bytes);
    EXPECT_GT(stats.evictions, 0);
  }
  RecoveryReport report;
  std::unique_ptr<SessionStore> store = Open(limits, &report);
  EXPECT_EQ(report.sessions, 4 * 30);
  for (const auto& per_thread : kept) {
    for (const auto& [id, tag] : per_thread) {
      absl::StatusOr<Session> got = store->Get("t", id);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(TagOf(*got), tag);
      EXPECT_EQ(got->info.slots, 2);
    }
  }
}

}  // namespace
}  // namespace ccs::server
