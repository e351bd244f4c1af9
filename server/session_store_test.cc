#include "server/session_store.h"

#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/validation.h"

namespace ccs::server {
namespace {

using ::testing::HasSubstr;

class FakeMemory final : public model::Memory {
 public:
  FakeMemory(int64_t slots, int64_t bytes) : slots_(slots), bytes_(bytes) {}
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
