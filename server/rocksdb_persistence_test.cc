#include "server/rocksdb_persistence.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ccs::server {
namespace {

std::string ScratchDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp ? tmp : "/tmp", "/rocksdb_persistence_test/", name);
}

SessionInfo InfoOf(const std::string& id) {
  SessionInfo info;
  info.id = id;
  info.tenant = "acme";
  info.model = "tiny";
  info.method = model::Method::kIcFormer;
  info.tokens = 100;
  info.slots = 8;
  info.segments = 2;
  info.bytes = 512;
  info.dtype = "bfloat16";
  info.created = absl::FromUnixMicros(1700000000123456);
  info.last_used = absl::FromUnixMicros(1700000100000000);
  info.expires = absl::InfiniteFuture();
  info.stored_bytes = 600;
  return info;
}

TEST(SessionInfoRecordTest, RoundTripAndCorruption) {
  const SessionInfo info = InfoOf(std::string(32, 'a'));
  const std::string bytes = EncodeSessionInfo(info);
  absl::StatusOr<SessionInfo> back = DecodeSessionInfo(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->id, info.id);
  EXPECT_EQ(back->tenant, "acme");
  EXPECT_EQ(back->model, "tiny");
  EXPECT_EQ(back->method, model::Method::kIcFormer);
  EXPECT_EQ(back->tokens, 100);
  EXPECT_EQ(back->slots, 8);
  EXPECT_EQ(back->segments, 2);
  EXPECT_EQ(back->bytes, 512);
  EXPECT_EQ(back->dtype, "bfloat16");
  EXPECT_EQ(back->created, info.created);
  EXPECT_EQ(back->last_used, info.last_used);
  EXPECT_EQ(back->expires, absl::InfiniteFuture());
  EXPECT_EQ(back->stored_bytes, 600);
  EXPECT_EQ(back->tier, StorageTier::kDisk);
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string flipped = bytes;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x10);
    EXPECT_EQ(DecodeSessionInfo(flipped).status().code(), absl::StatusCode::kDataLoss) << i;
    EXPECT_EQ(DecodeSessionInfo(bytes.substr(0, i)).status().code(), absl::StatusCode::kDataLoss)
        << i;
  }
}

TEST(RocksDbPersistenceTest, PutGetDeleteSurviveReopen) {
  const std::string dir = ScratchDir("reopen");
  const std::string a(32, 'a'), b(32, 'b');
  {
    absl::StatusOr<std::unique_ptr<RocksDbPersistence>> disk = RocksDbPersistence::Open(dir);
    ASSERT_TRUE(disk.ok()) << disk.status();
    ASSERT_TRUE((*disk)->Put(InfoOf(a), std::string(10000, 'x')).ok());  // a blob
    ASSERT_TRUE((*disk)->Put(InfoOf(b), "small").ok());
    SessionInfo later = InfoOf(b);
    later.last_used += absl::Seconds(5);
    ASSERT_TRUE((*disk)->UpdateInfo(later).ok());
    // A second process (here: a second open) is refused while this one runs.
    absl::StatusOr<std::unique_ptr<RocksDbPersistence>> again = RocksDbPersistence::Open(dir);
    EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  }
  absl::StatusOr<std::unique_ptr<RocksDbPersistence>> disk = RocksDbPersistence::Open(dir);
  ASSERT_TRUE(disk.ok()) << disk.status();
  EXPECT_EQ(*(*disk)->GetMemory(a), std::string(10000, 'x'));
  EXPECT_EQ(*(*disk)->GetMemory(b), "small");
  std::vector<SessionInfo> seen;
  ASSERT_TRUE((*disk)
                  ->ForEach([&](SessionInfo info) { seen.push_back(std::move(info)); },
                            [](absl::string_view, const absl::Status& why) {
                              ADD_FAILURE() << why;
                            })
                  .ok());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].id, a);
  EXPECT_EQ(seen[1].last_used, InfoOf(b).last_used + absl::Seconds(5));

  ASSERT_TRUE((*disk)->Delete(a, /*sync=*/true).ok());
  EXPECT_TRUE((*disk)->Delete(a, /*sync=*/true).ok());  // absent: fine
  EXPECT_EQ((*disk)->GetMemory(a).status().code(), absl::StatusCode::kNotFound);
}

TEST(RocksDbPersistenceTest, OpenFailsClearlyOnAFile) {
  const std::string dir = ScratchDir("not_a_dir");
  ASSERT_TRUE(RocksDbPersistence::Open(dir).ok());
  absl::StatusOr<std::unique_ptr<RocksDbPersistence>> disk =
      RocksDbPersistence::Open(dir + "/CURRENT/inside");
  EXPECT_EQ(disk.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace ccs::server
