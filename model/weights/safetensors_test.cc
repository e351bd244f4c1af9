#include "model/weights/safetensors.h"

#include <dirent.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccs::model {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A file made of an 8-byte length, `header` and `data`.
std::string MakeFile(absl::string_view header, absl::string_view data = "",
                     uint64_t length = UINT64_MAX) {
  if (length == UINT64_MAX) length = header.size();
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i) file[i] = static_cast<char>(length >> (8 * i));
  return absl::StrCat(file, header, data);
}

std::string TempDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(SafetensorsDtypeTest, NamesAndSizesRoundTrip) {
  const std::vector<std::pair<absl::string_view, size_t>> expected = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"I16", 2}, {"U16", 2},
      {"I32", 4},  {"U32", 4}, {"I64", 8}, {"U64", 8}, {"F16", 2},
      {"BF16", 2}, {"F32", 4}, {"F64", 8}};
  for (const auto& [name, size] : expected) {
    absl::StatusOr<SafetensorsDtype> dtype = ParseSafetensorsDtype(name);
    ASSERT_TRUE(dtype.ok()) << name;
    EXPECT_EQ(SafetensorsDtypeName(*dtype), name);
    EXPECT_EQ(SafetensorsDtypeSize(*dtype), size) << name;
  }
  EXPECT_FALSE(ParseSafetensorsDtype("F8_E4M3").ok());
  EXPECT_FALSE(ParseSafetensorsDtype("f32").ok());
}

// The entries of a small file with every shape kind, for round trips.
struct Sample {
  std::vector<float> f32 = {1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, -7.0f};
  std::vector<uint16_t> bf16 = {0x3f80, 0xc000, 0x7f80};  // 1, -2, inf
  std::vector<uint16_t> f16 = {0x3c00, 0x8000};           // 1, -0
  float scalar = 42.0f;
  std::vector<SafetensorsEntry> Entries() const {
    auto bytes = [](const auto& v) {
      return absl::string_view(reinterpret_cast<const char*>(v.data()),
                               v.size() * sizeof(v[0]));
    };
    return {
        {"matrix", SafetensorsDtype::kF32, {2, 3}, bytes(f32)},
        {"bf16.vector", SafetensorsDtype::kBF16, {3}, bytes(bf16)},
        {"f16.vector", SafetensorsDtype::kF16, {1, 2}, bytes(f16)},
        {"scalar",
         SafetensorsDtype::kF32,
         {},
         absl::string_view(reinterpret_cast<const char*>(&scalar), 4)},
        {"empty", SafetensorsDtype::kBF16, {0, 5}, absl::string_view()},
    };
  }
};

void ExpectSameAsEntries(const SafetensorsView& view,
                         const std::vector<SafetensorsEntry>& entries) {
  ASSERT_EQ(view.tensors().size(), entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const SafetensorsTensor& t = view.tensors()[i];  // data order = write order
    EXPECT_EQ(t.name, entries[i].name);
    EXPECT_EQ(t.dtype, entries[i].dtype);
    EXPECT_EQ(t.shape, entries[i].shape);
    EXPECT_EQ(t.data, entries[i].data) << t.name;
    EXPECT_EQ(view.Find(t.name), &t);
  }
}

TEST(SafetensorsTest, SerializeThenParseRoundTrips) {
  const Sample sample;
  const std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                       {"note", "héllo"}};
  absl::StatusOr<std::string> file =
      SerializeSafetensors(sample.Entries(), metadata);
  ASSERT_TRUE(file.ok()) << file.status();
  absl::StatusOr<SafetensorsView> view = ParseSafetensors(*file, "mem");
  ASSERT_TRUE(view.ok()) << view.status();
  ExpectSameAsEntries(*view, sample.Entries());
  EXPECT_EQ(view->metadata(), metadata);
  EXPECT_EQ(view->header_size() % 8, 0u);  // data region 8-aligned
  EXPECT_EQ(view->Find("scalar")->num_elements, 1);
  EXPECT_EQ(view->Find("empty")->num_elements, 0);
  EXPECT_EQ(view->Find("absent"), nullptr);
  // The padding is spaces, as the reference writes it.
  EXPECT_EQ((*file)[view->header_size() - 1], ' ');
}

TEST(SafetensorsTest, SerializesTheReferenceHeaderBytes) {
  // What the Python safetensors 0.7 writer produces for the same tensors
  // (header JSON shape and padding; see check_cc_fixture.py for the full
  // cross-check against the library).
  const float one = 1.0f;
  absl::StatusOr<std::string> file = SerializeSafetensors(
      {{"a",
        SafetensorsDtype::kF32,
        {1},
        absl::string_view(reinterpret_cast<const char*>(&one), 4)}},
      {{"format", "pt"}});
  ASSERT_TRUE(file.ok()) << file.status();
  const std::string json =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[1],)"
      R"("data_offsets":[0,4]}})";
  const std::string padded = json + std::string((8 - json.size() % 8) % 8, ' ');
  EXPECT_EQ(*file,
            MakeFile(padded, absl::string_view(
                                 reinterpret_cast<const char*>(&one), 4)));
}

TEST(SafetensorsTest, AcceptsEmptyAndMetadataOnlyFiles) {
  absl::StatusOr<SafetensorsView> empty = ParseSafetensors(MakeFile("{}"), "m");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->tensors().empty());
  absl::StatusOr<SafetensorsView> meta =
      ParseSafetensors(MakeFile(R"({"__metadata__":{"k":"v"}}  )"), "m");
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ(meta->metadata().at("k"), "v");
}

TEST(SafetensorsTest, AcceptsUnpaddedHeadersAndZeroSizedTensorsAnywhere) {
  // A header of odd length leaves the data unaligned; zero-sized tensors may
  // share an offset with each other and with a neighbour's boundary.
  const std::string header =
      R"({"z1":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
      R"("a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
      R"("z2":{"dtype":"I64","shape":[3,0],"data_offsets":[4,4]},)"
      R"("b":{"dtype":"I16","shape":[1],"data_offsets":[4,6]},)"
      R"("extra":{"dtype":"BOOL","shape":[],"data_offsets":[6,7],"x":1}})";
  const std::string file = MakeFile(header, "abcdefg");
  absl::StatusOr<SafetensorsView> view = ParseSafetensors(file, "m");
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(view->Find("a")->data, "abcd");
  EXPECT_EQ(view->Find("b")->data, "ef");
  EXPECT_EQ(view->Find("extra")->data, "g");  // unknown fields are ignored
  EXPECT_TRUE(view->Find("z2")->data.empty());
}

// --- Hostile inputs: one rule each ---------------------------------------

struct BadCase {
  std::string label;
  std::string file;
  absl::StatusCode code;
  std::string message;  // must appear in the error
};

std::string Entry(absl::string_view name, absl::string_view dtype,
                  absl::string_view shape, absl::string_view offsets) {
  return absl::StrCat("\"", name, "\":{\"dtype\":", dtype, ",\"shape\":", shape,
                      ",\"data_offsets\":", offsets, "}");
}

std::vector<BadCase> BadCases() {
  using C = absl::StatusCode;
  const std::string data16(16, 'x');
  auto one = [&](absl::string_view dtype, absl::string_view shape,
                 absl::string_view offsets, absl::string_view data) {
    return MakeFile(absl::StrCat("{", Entry("w", dtype, shape, offsets), "}"),
                    data);
  };
  const std::string nested =
      absl::StrCat(std::string(100000, '['), std::string(100000, ']'));
  return {
      {"too short", "abc", C::kDataLoss, "too short for the 8-byte"},
      {"empty file", "", C::kDataLoss, "file is 0 bytes"},
      {"length past end", MakeFile("{}", "", 1000), C::kDataLoss,
       "header length 1000 runs past the end of the file"},
      {"length over cap", MakeFile("{}", "", 100'000'001), C::kInvalidArgument,
       "exceeds the 100000000-byte limit"},
      {"length 2^64-1", MakeFile("{}", "", UINT64_MAX - 1), C::kInvalidArgument,
       "exceeds the 100000000-byte limit"},
      {"zero length", MakeFile("", "{}"), C::kInvalidArgument,
       "does not start with '{'"},
      {"not an object", MakeFile("[1, 2]"), C::kInvalidArgument,
       "does not start with '{'"},
      {"leading space", MakeFile(" {}"), C::kInvalidArgument,
       "does not start with '{'"},
      {"not json", MakeFile("{\"w\": "), C::kInvalidArgument,
       "header is not valid JSON"},
      {"trailing garbage", MakeFile("{} x"), C::kInvalidArgument,
       "header is not valid JSON"},
      {"nul padding", MakeFile(std::string("{}\0\0", 4)), C::kInvalidArgument,
       "header is not valid JSON"},
      {"invalid utf-8", MakeFile("{\"\xff\":1}"), C::kInvalidArgument,
       "header is not valid JSON"},
      {"too deep", MakeFile(absl::StrCat("{\"w\":", nested, "}")),
       C::kInvalidArgument, "nests deeper than the safetensors schema"},
      {"unterminated",
       MakeFile(absl::StrCat("{\"w\":", nested.substr(0, 5000))),
       C::kInvalidArgument, "not valid JSON"},
      {"deep but valid", MakeFile("{\"w\":{\"shape\":[[[[1]]]]}}"),
       C::kInvalidArgument, "nests deeper than the safetensors schema"},
      {"duplicate name",
       MakeFile(absl::StrCat("{", Entry("w", "\"U8\"", "[8]", "[0,8]"), ",",
                             Entry("w", "\"U8\"", "[8]", "[8,16]"), "}"),
                data16),
       C::kInvalidArgument, "has the key \"w\" twice"},
      {"duplicate field",
       MakeFile("{\"w\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[0],"
                "\"data_offsets\":[0,0]}}"),
       C::kInvalidArgument, "has the key \"dtype\" twice"},
      {"entry not object", MakeFile("{\"w\":5}"), C::kInvalidArgument,
       "tensor \"w\": entry is not a JSON object"},
      {"no dtype", MakeFile("{\"w\":{\"shape\":[],\"data_offsets\":[0,0]}}"),
       C::kInvalidArgument, "tensor \"w\": has no \"dtype\""},
      {"dtype not string", one("4", "[4]", "[0,16]", data16),
       C::kInvalidArgument, "\"dtype\" is not a string"},
      {"bad dtype", one("\"F33\"", "[4]", "[0,16]", data16),
       C::kInvalidArgument, "tensor \"w\": dtype \"F33\" is not supported"},
      {"fp8 dtype", one("\"F8_E4M3\"", "[16]", "[0,16]", data16),
       C::kInvalidArgument, "dtype \"F8_E4M3\" is not supported"},
      {"no shape",
       MakeFile("{\"w\":{\"dtype\":\"U8\",\"data_offsets\":[0,0]}}"),
       C::kInvalidArgument, "has no \"shape\""},
      {"shape not array", one("\"F32\"", "4", "[0,16]", data16),
       C::kInvalidArgument, "\"shape\" is not an array"},
      {"rank over 64",
       one("\"U8\"",
           absl::StrCat("[", absl::StrJoin(std::vector<int>(65, 1), ","), "]"),
           "[0,1]", "x"),
       C::kInvalidArgument, "shape has 65 dims, more than 64"},
      {"float dim", one("\"F32\"", "[2.5]", "[0,16]", data16),
       C::kInvalidArgument, "shape[0] is not an integer (2.5)"},
      {"string dim", one("\"F32\"", "[4, \"1\"]", "[0,16]", data16),
       C::kInvalidArgument, "shape[1] is not an integer"},
      {"negative dim", one("\"F32\"", "[-4]", "[0,16]", data16),
       C::kInvalidArgument, "shape[0] is negative (-4)"},
      {"dim above int64",
       one("\"U8\"", "[18446744073709551615]", "[0,16]", data16),
       C::kInvalidArgument, "shape[0] is 18446744073709551615, larger"},
      {"element count overflow",
       one("\"U8\"", "[4294967296, 4294967296, 16]", "[0,16]", data16),
       C::kInvalidArgument, "more than 2^64 elements"},
      // 2^33 * 2^31 = 2^64 wraps to 0, which would match [0, 0].
      {"wrapping product",
       one("\"U8\"", "[8589934592, 2147483648]", "[0,0]", ""),
       C::kInvalidArgument, "more than 2^64 elements"},
      {"byte count overflow",
       one("\"F32\"", "[4611686018427387904]", "[0,16]", data16),
       C::kInvalidArgument, "needs more than 2^63 elements or 2^64 bytes"},
      {"elements over int64",
       one("\"U8\"", "[4294967296, 2147483648]", "[0,16]", data16),
       C::kInvalidArgument, "needs more than 2^63 elements"},
      {"no offsets", MakeFile("{\"w\":{\"dtype\":\"U8\",\"shape\":[0]}}"),
       C::kInvalidArgument, "has no \"data_offsets\""},
      {"offsets arity", one("\"U8\"", "[16]", "[0]", data16),
       C::kInvalidArgument, "\"data_offsets\" is not an array [begin, end]"},
      {"negative offset", one("\"U8\"", "[16]", "[-1,15]", data16),
       C::kInvalidArgument, "begin is negative"},
      {"float offset", one("\"U8\"", "[16]", "[0,16.0]", data16),
       C::kInvalidArgument, "end is not an integer"},
      {"begin after end", one("\"U8\"", "[4]", "[8,4]", data16),
       C::kInvalidArgument, "data_offsets [8, 4] have begin > end"},
      {"offsets past end", one("\"F32\"", "[16]", "[0,64]", data16),
       C::kDataLoss, "run past the end of the data region (16 bytes)"},
      {"huge offsets",
       one("\"U8\"", "[1]",
           "[9223372036854775806,"
           "9223372036854775807]",
           data16),
       C::kDataLoss, "run past the end of the data region"},
      {"byte size mismatch", one("\"F32\"", "[3]", "[0,16]", data16),
       C::kInvalidArgument, "hold 16 bytes but F32 shape [3] needs 12"},
      {"overlap",
       MakeFile(absl::StrCat("{", Entry("a", "\"U8\"", "[8]", "[0,8]"), ",",
                             Entry("b", "\"U8\"", "[8]", "[4,12]"), ",",
                             Entry("c", "\"U8\"", "[4]", "[12,16]"), "}"),
                data16),
       C::kInvalidArgument, "tensors \"a\" [0, 8) and \"b\" [4, 12) overlap"},
      {"same range twice",
       MakeFile(absl::StrCat("{", Entry("a", "\"U8\"", "[16]", "[0,16]"), ",",
                             Entry("b", "\"U8\"", "[16]", "[0,16]"), "}"),
                data16),
       C::kInvalidArgument, "overlap"},
      {"zero-sized inside another",
       MakeFile(absl::StrCat("{", Entry("a", "\"U8\"", "[16]", "[0,16]"), ",",
                             Entry("z", "\"U8\"", "[0]", "[8,8]"), "}"),
                data16),
       C::kInvalidArgument, "overlap"},
      {"hole",
       MakeFile(absl::StrCat("{", Entry("a", "\"U8\"", "[4]", "[0,4]"), ",",
                             Entry("b", "\"U8\"", "[8]", "[8,16]"), "}"),
                data16),
       C::kInvalidArgument,
       "bytes [4, 8) of the data region belong to no tensor"},
      {"hole at start", one("\"U8\"", "[8]", "[8,16]", data16),
       C::kInvalidArgument, "bytes [0, 8) of the data region belong to no"},
      {"trailing bytes", one("\"U8\"", "[8]", "[0,8]", data16),
       C::kInvalidArgument, "the last 8 bytes of the data region belong to no"},
      {"metadata not object", MakeFile("{\"__metadata__\":[1]}"),
       C::kInvalidArgument, "\"__metadata__\" is not a JSON object"},
      {"metadata value not string",
       MakeFile("{\"__metadata__\":{\"step\":1000}}"), C::kInvalidArgument,
       "\"__metadata__\" value for \"step\" is not a string"},
  };
}

TEST(SafetensorsHostileTest, EachRuleGivesItsError) {
  for (const BadCase& bad : BadCases()) {
    SCOPED_TRACE(bad.label);
    absl::StatusOr<SafetensorsView> view =
        ParseSafetensors(bad.file, "bad.safetensors");
    ASSERT_FALSE(view.ok());
    EXPECT_EQ(view.status().code(), bad.code) << view.status();
    EXPECT_THAT(std::string(view.status().message()),
                StartsWith("bad.safetensors: "));
    EXPECT_THAT(std::string(view.status().message()), HasSubstr(bad.message));
  }
}

TEST(SafetensorsHostileTest, LongHostileNamesAreCutInMessages) {
  const std::string name(5000, 'n');
  absl::StatusOr<SafetensorsView> view = ParseSafetensors(
      MakeFile(absl::StrCat("{", Entry(name, "\"XX\"", "[0]", "[0,0]"), "}")),
      "f");
  ASSERT_FALSE(view.ok());
  EXPECT_LT(view.status().message().size(), 400u);
  EXPECT_THAT(std::string(view.status().message()), HasSubstr("(5000 bytes)"));
}

// --- Files --------------------------------------------------------------

TEST(SafetensorsFileTest, WritesAtomicallyAndMapsBack) {
  const std::string dir = absl::StrCat(TempDir(), "/file_round_trip");
  mkdir(dir.c_str(), 0755);
  const std::string path = dir + "/model.safetensors";
  const Sample sample;
  ASSERT_TRUE(WriteSafetensorsFile(path, {}, {}).ok());  // then overwritten
  ASSERT_TRUE(WriteSafetensorsFile(path, sample.Entries(), {{"k", "v"}}).ok());
  absl::StatusOr<std::string> expected =
      SerializeSafetensors(sample.Entries(), {{"k", "v"}});
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(ReadFile(path), *expected);

  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->path(), path);
  ExpectSameAsEntries((*file)->view(), sample.Entries());
  EXPECT_EQ((*file)->view().metadata().at("k"), "v");

  struct stat info;
  ASSERT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0644u);
  // No temporary file is left beside it.
  DIR* listing = opendir(dir.c_str());
  ASSERT_NE(listing, nullptr);
  int entries = 0;
  while (dirent* entry = readdir(listing)) {
    if (entry->d_name[0] != '.') ++entries;
  }
  closedir(listing);
  EXPECT_EQ(entries, 1);
}

TEST(SafetensorsFileTest, OpenErrorsNameTheFile) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> missing =
      SafetensorsFile::Open(TempDir() + "/does-not-exist.safetensors");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("does-not-exist.safetensors"));

  absl::StatusOr<std::unique_ptr<SafetensorsFile>> directory =
      SafetensorsFile::Open(TempDir());
  EXPECT_EQ(directory.status().code(), absl::StatusCode::kInvalidArgument);

  const std::string empty = TempDir() + "/empty.safetensors";
  std::ofstream(empty).close();
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> empty_file =
      SafetensorsFile::Open(empty);
  EXPECT_EQ(empty_file.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(empty_file.status().message()),
              StartsWith(empty + ": file is 0 bytes"));

  const std::string cut = TempDir() + "/cut.safetensors";
  const Sample sample;
  ASSERT_TRUE(WriteSafetensorsFile(cut, sample.Entries(), {}).ok());
  const std::string whole = ReadFile(cut);
  std::ofstream(cut, std::ios::binary | std::ios::trunc)
      << whole.substr(0, whole.size() - 3);
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> truncated =
      SafetensorsFile::Open(cut);
  EXPECT_EQ(truncated.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(truncated.status().message()),
              HasSubstr("cut.safetensors: tensor \""));
  EXPECT_THAT(std::string(truncated.status().message()),
              HasSubstr("run past the end of the data region"));
}

TEST(SafetensorsWriterTest, RejectsBadEntries) {
  const float value = 1.0f;
  const absl::string_view four(reinterpret_cast<const char*>(&value), 4);
  struct Case {
    std::vector<SafetensorsEntry> entries;
    std::map<std::string, std::string> metadata;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{{"a", SafetensorsDtype::kF32, {1}, four},
        {"a", SafetensorsDtype::kF32, {1}, four}},
       {},
       "tensor \"a\": appears twice"},
      {{{"__metadata__", SafetensorsDtype::kF32, {1}, four}},
       {},
       "not a valid tensor name"},
      {{{"", SafetensorsDtype::kF32, {1}, four}},
       {},
       "not a valid tensor name"},
      {{{"a", SafetensorsDtype::kF32, {-1}, four}}, {}, "negative dim"},
      {{{"a", SafetensorsDtype::kF32, {2}, four}}, {}, "has 4 bytes but F32"},
      {{{"bad\xff", SafetensorsDtype::kF32, {1}, four}}, {}, "not valid UTF-8"},
      {{}, {{"k", "\xc3"}}, "not valid UTF-8"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    absl::StatusOr<std::string> file =
        SerializeSafetensors(c.entries, c.metadata);
    ASSERT_FALSE(file.ok());
    EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(file.status().message()), HasSubstr(c.message));
    EXPECT_FALSE(WriteSafetensorsFile(TempDir() + "/rejected.safetensors",
                                      c.entries, c.metadata)
                     .ok());
  }
  EXPECT_FALSE(std::ifstream(TempDir() + "/rejected.safetensors").good());
}

TEST(SafetensorsWriterTest, ReportsFileSystemErrors) {
  absl::Status status =
      WriteSafetensorsFile("/nonexistent-dir/x.safetensors", {}, {});
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("/nonexistent-dir"));
}

}  // namespace
}  // namespace ccs::model
