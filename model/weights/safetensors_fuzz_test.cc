// Deterministic corruption of a valid safetensors file: every parse must end
// in OK or an error, never a crash or a read outside the buffer (run under
// --config=asan to check the latter), and every accepted file must satisfy
// the format's invariants.
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "model/weights/safetensors.h"

namespace ccs::model {
namespace {

constexpr char kSource[] = "fuzz.safetensors";

// A valid file with several dtypes, a scalar, an empty tensor and metadata.
std::string ValidFile() {
  static const std::vector<uint8_t> bytes = [] {
    std::vector<uint8_t> b(24 + 6 + 4 + 8 + 3);
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 37);
    return b;
  }();
  const char* p = reinterpret_cast<const char*>(bytes.data());
  const std::vector<SafetensorsEntry> entries = {
      {"layers.0.weight", SafetensorsDtype::kF32, {2, 3}, {p, 24}},
      {"layers.0.bias", SafetensorsDtype::kBF16, {3}, {p + 24, 6}},
      {"norm", SafetensorsDtype::kF16, {2, 1}, {p + 30, 4}},
      {"ids", SafetensorsDtype::kI64, {}, {p + 34, 8}},
      {"empty", SafetensorsDtype::kF32, {0, 7}, {}},
      {"mask", SafetensorsDtype::kBool, {3}, {p + 42, 3}},
  };
  absl::StatusOr<std::string> file =
      SerializeSafetensors(entries, {{"format", "pt"}, {"step", "12"}});
  return file.ok() ? *file : "";
}

size_t HeaderLength(const std::string& file) {
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i)
    length = (length << 8) | static_cast<uint8_t>(file[i]);
  return static_cast<size_t>(length);
}

void SetLength(std::string& file, uint64_t length) {
  for (int i = 0; i < 8; ++i) file[i] = static_cast<char>(length >> (8 * i));
}

// The parse outcome, checked: an error names the source; an accepted
// buffer's tensors lie inside it, have the right size and tile the data
// region.
struct Tally {
  int ok = 0;
  int errors = 0;
};

void CheckParse(const std::string& buffer, Tally& tally) {
  absl::StatusOr<SafetensorsView> view = ParseSafetensors(buffer, kSource);
  if (!view.ok()) {
    ++tally.errors;
    ASSERT_EQ(view.status().message().rfind(kSource, 0), 0u) << view.status();
    ASSERT_TRUE(view.status().code() == absl::StatusCode::kInvalidArgument ||
                view.status().code() == absl::StatusCode::kDataLoss)
        << view.status();
    return;
  }
  ++tally.ok;
  const char* begin = buffer.data();
  const char* end = buffer.data() + buffer.size();
  const char* cursor = begin + view->header_size();
  ASSERT_LE(view->header_size(), buffer.size());
  for (const SafetensorsTensor& t : view->tensors()) {
    ASSERT_EQ(t.data.size(), static_cast<size_t>(t.num_elements) *
                                 SafetensorsDtypeSize(t.dtype));
    if (t.data.empty()) continue;
    ASSERT_EQ(t.data.data(), cursor) << t.name;  // tiles, in order
    ASSERT_GE(t.data.data(), begin);
    ASSERT_LE(t.data.data() + t.data.size(), end);
    cursor += t.data.size();
    volatile char sink = t.data.back();  // ASan checks the whole range is ours
    (void)sink;
  }
  ASSERT_EQ(cursor, end);
}

TEST(SafetensorsFuzzTest, EveryTruncationFails) {
  const std::string file = ValidFile();
  ASSERT_FALSE(file.empty());
  Tally tally;
  for (size_t length = 0; length < file.size(); ++length) {
    // A copy of exactly `length` bytes, so ASan sees any over-read.
    CheckParse(file.substr(0, length), tally);
  }
  EXPECT_EQ(tally.ok, 0);
  EXPECT_EQ(tally.errors, static_cast<int>(file.size()));
  tally = Tally();
  CheckParse(file, tally);
  EXPECT_EQ(tally.ok, 1);
}

TEST(SafetensorsFuzzTest, EveryBitFlipInTheHeader) {
  const std::string file = ValidFile();
  const size_t header_end = 8 + HeaderLength(file);
  Tally tally;
  for (size_t i = 0; i < header_end && i < file.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = file;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      CheckParse(bad, tally);
    }
  }
  RecordProperty("ok", tally.ok);
  RecordProperty("errors", tally.errors);
  EXPECT_GT(tally.errors, 1000);
}

TEST(SafetensorsFuzzTest, HeaderLengthOverwrites) {
  const std::string file = ValidFile();
  const uint64_t length = HeaderLength(file);
  std::vector<uint64_t> lengths = {0,
                                   1,
                                   7,
                                   8,
                                   UINT64_MAX,
                                   UINT64_MAX - 7,
                                   uint64_t{1} << 63,
                                   uint64_t{1} << 32,
                                   kSafetensorsMaxHeaderBytes,
                                   kSafetensorsMaxHeaderBytes + 1};
  for (uint64_t delta = 0; delta < 300; ++delta) {
    lengths.push_back(delta);
    lengths.push_back(length + delta);
  }
  std::mt19937_64 random(42);
  for (int i = 0; i < 500; ++i) lengths.push_back(random());
  Tally tally;
  for (uint64_t value : lengths) {
    std::string bad = file;
    SetLength(bad, value);
    CheckParse(bad, tally);
  }
  RecordProperty("ok", tally.ok);
  RecordProperty("errors", tally.errors);
  EXPECT_GT(tally.errors, 1000);
}

// Random edits of the JSON text, with the length field fixed up so that most
// reach the JSON and schema checks rather than the length check.
TEST(SafetensorsFuzzTest, RandomJsonEdits) {
  const std::string file = ValidFile();
  const uint64_t length = HeaderLength(file);
  const std::string json = file.substr(8, length);
  const std::string data = file.substr(8 + json.size());
  const std::string alphabet = "{}[]\",:0123456789-+.eE \\truefalsnF3I6BU";
  const std::vector<std::string> tokens = {"-1",
                                           "0",
                                           "18446744073709551615",
                                           "1e400",
                                           "2.5",
                                           "null",
                                           "[]",
                                           "{}",
                                           "\"F32\"",
                                           "\"BF16\"",
                                           "\"__metadata__\"",
                                           "\"shape\"",
                                           "\"dtype\"",
                                           "\"data_offsets\"",
                                           "[0,0]",
                                           "[9223372036854775807]",
                                           "\"\\u0000\"",
                                           "\"\\ud800\"",
                                           "[[[[[[]]]]]]"};
  std::mt19937 random(20240607);
  Tally tally;
  for (int round = 0; round < 6000; ++round) {
    std::string text = json;
    const int edits = 1 + static_cast<int>(random() % 4);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const size_t at = random() % text.size();
      switch (random() % 5) {
        case 0:  // replace one character
          text[at] = alphabet[random() % alphabet.size()];
          break;
        case 1:  // delete a span
          text.erase(at, 1 + random() % 12);
          break;
        case 2:  // insert a token
          text.insert(at, tokens[random() % tokens.size()]);
          break;
        case 3:  // duplicate a span (duplicate keys, repeated entries)
          text.insert(at,
                      text.substr(random() % text.size(), 1 + random() % 40));
          break;
        default:  // a random byte, possibly not UTF-8
          text[at] = static_cast<char>(random() & 0xff);
          break;
      }
    }
    std::string bad = absl::StrCat(std::string(8, '\0'), text, data);
    SetLength(bad, text.size());
    CheckParse(bad, tally);
    // The same edit without fixing up the length.
    std::string stale = absl::StrCat(std::string(8, '\0'), text, data);
    SetLength(stale, length);
    CheckParse(stale, tally);
  }
  RecordProperty("ok", tally.ok);
  RecordProperty("errors", tally.errors);
  EXPECT_GT(tally.errors, 10000);
  EXPECT_GT(tally.ok, 0);  // some edits (e.g. in padding) keep it valid
}

TEST(SafetensorsFuzzTest, RandomByteGarbageAnywhere) {
  const std::string file = ValidFile();
  std::mt19937 random(7);
  Tally tally;
  for (int round = 0; round < 3000; ++round) {
    std::string bad = file;
    const int bytes = 1 + static_cast<int>(random() % 6);
    for (int b = 0; b < bytes; ++b) {
      bad[random() % bad.size()] = static_cast<char>(random() & 0xff);
    }
    if (random() % 4 == 0) bad.resize(random() % (bad.size() + 1));
    CheckParse(bad, tally);
  }
  RecordProperty("ok", tally.ok);
  RecordProperty("errors", tally.errors);
  EXPECT_GT(tally.errors, 0);
  EXPECT_GT(tally.ok, 0);  // bytes only in the data region stay valid
}

}  // namespace
}  // namespace ccs::model
