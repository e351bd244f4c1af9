#include "model/weights/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian; this code assumes the host "
              "is too");

namespace ccs::model {
namespace {

using nlohmann::json;

struct DtypeInfo {
  SafetensorsDtype dtype;
  absl::string_view name;
  size_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {SafetensorsDtype::kBool, "BOOL", 1}, {SafetensorsDtype::kU8, "U8", 1},
    {SafetensorsDtype::kI8, "I8", 1},     {SafetensorsDtype::kI16, "I16", 2},
    {SafetensorsDtype::kU16, "U16", 2},   {SafetensorsDtype::kI32, "I32", 4},
    {SafetensorsDtype::kU32, "U32", 4},   {SafetensorsDtype::kI64, "I64", 8},
    {SafetensorsDtype::kU64, "U64", 8},   {SafetensorsDtype::kF16, "F16", 2},
    {SafetensorsDtype::kBF16, "BF16", 2}, {SafetensorsDtype::kF32, "F32", 4},
    {SafetensorsDtype::kF64, "F64", 8},
};

const DtypeInfo& Info(SafetensorsDtype dtype) {
  for (const DtypeInfo& info : kDtypes) {
    if (info.dtype == dtype) return info;
  }
  return kDtypes[0];  // unreachable: every enumerator is in the table
}

// Quotes a name from a possibly hostile file for an error message, cutting
// very long ones.
std::string Quote(absl::string_view name) {
  constexpr size_t kMax = 120;
  if (name.size() <= kMax) return absl::StrCat("\"", name, "\"");
  return absl::StrCat("\"", name.substr(0, kMax), "\"... (", name.size(),
                      " bytes)");
}

// A short rendering of a JSON value from a possibly hostile file.
std::string Snippet(const json& value) {
  constexpr size_t kMax = 40;
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > kMax) text = absl::StrCat(text.substr(0, kMax), "...");
  return text;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// Where an error is: the source, and the tensor when there is one.
class ErrorContext {
 public:
  explicit ErrorContext(absl::string_view source)
      : prefix_(absl::StrCat(source, ": ")) {}
  ErrorContext(absl::string_view source, absl::string_view tensor)
      : prefix_(absl::StrCat(source, ": tensor ", Quote(tensor), ": ")) {}

  template <typename... Args>
  absl::Status Invalid(const Args&... args) const {
    return absl::InvalidArgumentError(absl::StrCat(prefix_, args...));
  }
  template <typename... Args>
  absl::Status DataLoss(const Args&... args) const {
    return absl::DataLossError(absl::StrCat(prefix_, args...));
  }

 private:
  std::string prefix_;
};

uint64_t LoadLittleEndian64(const char* p) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) {
    value = (value << 8) | static_cast<unsigned char>(p[i]);
  }
  return value;
}

void StoreLittleEndian64(uint64_t value, char* p) {
  for (int i = 0; i < 8; ++i)
    p[i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

// Parses the header JSON, rejecting duplicate keys at any level (the JSON
// library would silently keep the last) and nesting deeper than the schema
// (object -> tensor entry -> shape/offsets array -> integer).
absl::StatusOr<json> ParseHeaderJson(absl::string_view text,
                                     const ErrorContext& where) {
  constexpr int kMaxDepth = 3;
  std::vector<std::set<std::string>> keys_per_object;
  std::string duplicate;
  bool too_deep = false;
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        // Once too deep, everything is discarded (returning false keeps no
        // memory for the value) and key sets are no longer tracked: the
        // library reports no object_end for discarded objects.
        if (depth >= kMaxDepth) too_deep = true;
        if (too_deep) return false;
        if (event == json::parse_event_t::object_start) {
          keys_per_object.emplace_back();
        }
        return true;
      case json::parse_event_t::object_end:
        if (!keys_per_object.empty()) keys_per_object.pop_back();
        return true;
      case json::parse_event_t::key:
        if (!too_deep && duplicate.empty() && !keys_per_object.empty() &&
            parsed.is_string() &&
            !keys_per_object.back().insert(parsed.get<std::string>()).second) {
          duplicate = parsed.get<std::string>();
        }
        return true;
      default:
        return true;
    }
  };
  json header;
  try {
    header = json::parse(text.data(), text.data() + text.size(), callback);
  } catch (const json::exception& e) {
    return where.Invalid("header is not valid JSON: ", e.what());
  } catch (const std::exception& e) {
    return where.Invalid("header could not be parsed: ", e.what());
  }
  if (too_deep) {
    return where.Invalid(
        "header nests deeper than the safetensors schema "
        "(tensor -> shape -> integer) allows");
  }
  if (!duplicate.empty()) {
    return where.Invalid("header has the key ", Quote(duplicate),
                         " twice (a duplicate tensor name or field)");
  }
  if (!header.is_object()) return where.Invalid("header is not a JSON object");
  return header;
}

// Reads a non-negative JSON integer that fits in int64.
absl::StatusOr<uint64_t> ReadCount(const json& value, absl::string_view what,
                                   const ErrorContext& where) {
  if (value.is_number_unsigned()) {
    const uint64_t count = value.get<uint64_t>();
    if (count > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return where.Invalid(what, " is ", count, ", larger than 2^63 - 1");
    }
    return count;
  }
  if (value.is_number_integer()) {
    return where.Invalid(what, " is negative (", value.get<int64_t>(), ")");
  }
  return where.Invalid(what, " is not an integer (", Snippet(value), ")");
}

// A tensor entry before its offsets are checked against its neighbours.
struct ParsedEntry {
  SafetensorsTensor tensor;
  uint64_t begin = 0;
  uint64_t end = 0;
};

absl::Status ParseShape(const json& entry, const ErrorContext& where,
                        SafetensorsTensor& tensor, uint64_t& num_bytes) {
  auto shape = entry.find("shape");
  if (shape == entry.end()) return where.Invalid("has no \"shape\"");
  if (!shape->is_array()) return where.Invalid("\"shape\" is not an array");
  if (shape->size() > kSafetensorsMaxRank) {
    return where.Invalid("shape has ", shape->size(), " dims, more than ",
                         kSafetensorsMaxRank);
  }
  uint64_t elements = 1;
  for (size_t i = 0; i < shape->size(); ++i) {
    absl::StatusOr<uint64_t> dim =
        ReadCount((*shape)[i], absl::StrCat("shape[", i, "]"), where);
    if (!dim.ok()) return dim.status();
    tensor.shape.push_back(static_cast<int64_t>(*dim));
    if (__builtin_mul_overflow(elements, *dim, &elements)) {
      return where.Invalid("shape ", ShapeString(tensor.shape),
                           "... has more than 2^64 elements");
    }
  }
  if (elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
      __builtin_mul_overflow(elements, SafetensorsDtypeSize(tensor.dtype),
                             &num_bytes)) {
    return where.Invalid("shape ", ShapeString(tensor.shape), " of ",
                         SafetensorsDtypeName(tensor.dtype),
                         " needs more than 2^63 elements or 2^64 bytes");
  }
  tensor.num_elements = static_cast<int64_t>(elements);
  return absl::OkStatus();
}

absl::StatusOr<ParsedEntry> ParseEntry(const std::string& name,
                                       const json& entry, uint64_t data_size,
                                       absl::string_view source) {
  const ErrorContext where(source, name);
  if (!entry.is_object()) return where.Invalid("entry is not a JSON object");
  ParsedEntry parsed;
  parsed.tensor.name = name;

  auto dtype = entry.find("dtype");
  if (dtype == entry.end()) return where.Invalid("has no \"dtype\"");
  if (!dtype->is_string()) return where.Invalid("\"dtype\" is not a string");
  absl::StatusOr<SafetensorsDtype> parsed_dtype =
      ParseSafetensorsDtype(dtype->get_ref<const std::string&>());
  if (!parsed_dtype.ok()) return where.Invalid(parsed_dtype.status().message());
  parsed.tensor.dtype = *parsed_dtype;

  uint64_t num_bytes = 0;
  absl::Status shape_ok = ParseShape(entry, where, parsed.tensor, num_bytes);
  if (!shape_ok.ok()) return shape_ok;

  auto offsets = entry.find("data_offsets");
  if (offsets == entry.end()) return where.Invalid("has no \"data_offsets\"");
  if (!offsets->is_array() || offsets->size() != 2) {
    return where.Invalid("\"data_offsets\" is not an array [begin, end]");
  }
  absl::StatusOr<uint64_t> begin = ReadCount((*offsets)[0], "begin", where);
  if (!begin.ok()) return begin.status();
  absl::StatusOr<uint64_t> end = ReadCount((*offsets)[1], "end", where);
  if (!end.ok()) return end.status();
  if (*begin > *end) {
    return where.Invalid("data_offsets [", *begin, ", ", *end,
                         "] have begin > end");
  }
  if (*end > data_size) {
    return where.DataLoss(
        "data_offsets [", *begin, ", ", *end,
        "] run past the end of the data region (", data_size,
        " bytes): the file is truncated or the offsets wrong");
  }
  if (*end - *begin != num_bytes) {
    return where.Invalid(
        "data_offsets [", *begin, ", ", *end, "] hold ", *end - *begin,
        " bytes but ", SafetensorsDtypeName(parsed.tensor.dtype), " shape ",
        ShapeString(parsed.tensor.shape), " needs ", num_bytes);
  }
  parsed.begin = *begin;
  parsed.end = *end;
  return parsed;
}

absl::StatusOr<std::map<std::string, std::string>> ParseMetadata(
    const json& value, const ErrorContext& where) {
  if (!value.is_object()) {
    return where.Invalid("\"__metadata__\" is not a JSON object");
  }
  std::map<std::string, std::string> metadata;
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      return where.Invalid("\"__metadata__\" value for ", Quote(key),
                           " is not a string");
    }
    metadata.emplace(key, item.get<std::string>());
  }
  return metadata;
}

// Requires the entries, sorted by offset, to tile [0, data_size) exactly.
absl::Status CheckTiling(const std::vector<ParsedEntry>& sorted,
                         uint64_t data_size, const ErrorContext& where) {
  uint64_t covered = 0;  // end of the bytes claimed so far
  const ParsedEntry* previous = nullptr;
  for (const ParsedEntry& entry : sorted) {
    if (entry.begin < covered) {
      return where.Invalid("tensors ", Quote(previous->tensor.name), " [",
                           previous->begin, ", ", previous->end, ") and ",
                           Quote(entry.tensor.name), " [", entry.begin, ", ",
                           entry.end, ") overlap in the data region");
    }
    if (entry.begin > covered) {
      return where.Invalid("bytes [", covered, ", ", entry.begin,
                           ") of the data region belong to no tensor (a hole "
                           "before ",
                           Quote(entry.tensor.name), ")");
    }
    covered = entry.end;
    previous = &entry;
  }
  if (covered != data_size) {
    return where.Invalid("the last ", data_size - covered,
                         " bytes of the data region belong to no tensor");
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view SafetensorsDtypeName(SafetensorsDtype dtype) {
  return Info(dtype).name;
}

size_t SafetensorsDtypeSize(SafetensorsDtype dtype) { return Info(dtype).size; }

absl::StatusOr<SafetensorsDtype> ParseSafetensorsDtype(absl::string_view name) {
  std::vector<absl::string_view> known;
  for (const DtypeInfo& info : kDtypes) {
    if (info.name == name) return info.dtype;
    known.push_back(info.name);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("dtype ", Quote(name), " is not supported: use one of ",
                   absl::StrJoin(known, ", ")));
}

const SafetensorsTensor* SafetensorsView::Find(absl::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

absl::StatusOr<SafetensorsView> ParseSafetensors(absl::string_view buffer,
                                                 absl::string_view source) {
  const ErrorContext where(source);
  if (buffer.size() < 8) {
    return where.DataLoss("file is ", buffer.size(),
                          " bytes, too short for the 8-byte header length");
  }
  const uint64_t header_length = LoadLittleEndian64(buffer.data());
  if (header_length > kSafetensorsMaxHeaderBytes) {
    return where.Invalid("header length ", header_length, " exceeds the ",
                         kSafetensorsMaxHeaderBytes, "-byte limit");
  }
  if (header_length > buffer.size() - 8) {
    return where.DataLoss("header length ", header_length,
                          " runs past the end of the file (", buffer.size() - 8,
                          " bytes follow the length field)");
  }
  const absl::string_view text = buffer.substr(8, header_length);
  if (text.empty() || text[0] != '{') {
    return where.Invalid("header does not start with '{'");
  }
  // The JSON library stops at a NUL byte as if the input ended there; JSON
  // never contains a raw NUL, so reject it rather than ignore what follows.
  if (text.find('\0') != absl::string_view::npos) {
    return where.Invalid(
        "header is not valid JSON: it contains a NUL byte "
        "at offset ",
        text.find('\0'));
  }
  absl::StatusOr<json> header = ParseHeaderJson(text, where);
  if (!header.ok()) return header.status();

  SafetensorsView view;
  view.header_size_ = 8 + header_length;
  const absl::string_view data = buffer.substr(view.header_size_);
  std::vector<ParsedEntry> entries;
  for (const auto& [name, value] : header->items()) {
    if (name == "__metadata__") {
      absl::StatusOr<std::map<std::string, std::string>> metadata =
          ParseMetadata(value, where);
      if (!metadata.ok()) return metadata.status();
      view.metadata_ = *std::move(metadata);
      continue;
    }
    absl::StatusOr<ParsedEntry> entry =
        ParseEntry(name, value, data.size(), source);
    if (!entry.ok()) return entry.status();
    entries.push_back(*std::move(entry));
  }
  std::sort(entries.begin(), entries.end(),
            [](const ParsedEntry& a, const ParsedEntry& b) {
              return std::tie(a.begin, a.end, a.tensor.name) <
                     std::tie(b.begin, b.end, b.tensor.name);
            });
  absl::Status tiled = CheckTiling(entries, data.size(), where);
  if (!tiled.ok()) return tiled;

  view.tensors_.reserve(entries.size());
  for (ParsedEntry& entry : entries) {
    entry.tensor.data = data.substr(entry.begin, entry.end - entry.begin);
    view.index_.emplace(entry.tensor.name, view.tensors_.size());
    view.tensors_.push_back(std::move(entry.tensor));
  }
  return view;
}

// ---------------------------------------------------------------------------
// SafetensorsFile

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(
    const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    return absl::ErrnoToStatus(error, absl::StrCat(path, ": cannot open"));
  }
  struct stat info;
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a regular file"));
  }
  const size_t size = static_cast<size_t>(info.st_size);
  void* base = nullptr;
  if (size > 0) {
    base = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (base == MAP_FAILED) {
      const int error = errno;
      close(fd);
      return absl::ErrnoToStatus(error, absl::StrCat(path, ": cannot mmap"));
    }
  }
  close(fd);  // the mapping keeps the file alive
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile(path, base, size));
  absl::StatusOr<SafetensorsView> view = ParseSafetensors(
      absl::string_view(static_cast<const char*>(base), size), path);
  if (!view.ok()) return view.status();
  file->view_ = *std::move(view);
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (base_ != nullptr) munmap(base_, size_);
}

// ---------------------------------------------------------------------------
// Writing

namespace {

// Builds the 8-byte length and the padded JSON header, checking the entries.
absl::StatusOr<std::string> BuildHeader(
    const std::vector<SafetensorsEntry>& entries,
    const std::map<std::string, std::string>& metadata) {
  using ordered_json = nlohmann::ordered_json;
  ordered_json header = ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<absl::string_view> names;
  uint64_t offset = 0;
  for (const SafetensorsEntry& entry : entries) {
    const ErrorContext where("safetensors writer", entry.name);
    if (entry.name.empty() || entry.name == "__metadata__") {
      return where.Invalid("is not a valid tensor name");
    }
    if (!names.insert(entry.name).second) return where.Invalid("appears twice");
    uint64_t bytes = SafetensorsDtypeSize(entry.dtype);
    for (int64_t dim : entry.shape) {
      if (dim < 0) {
        return where.Invalid("shape ", ShapeString(entry.shape),
                             " has a negative dim");
      }
      if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(dim), &bytes)) {
        return where.Invalid("shape ", ShapeString(entry.shape), " is too big");
      }
    }
    if (bytes != entry.data.size()) {
      return where.Invalid("has ", entry.data.size(), " bytes but ",
                           SafetensorsDtypeName(entry.dtype), " shape ",
                           ShapeString(entry.shape), " needs ", bytes);
    }
    ordered_json& json_entry = header[entry.name];
    json_entry["dtype"] = std::string(SafetensorsDtypeName(entry.dtype));
    json_entry["shape"] = entry.shape;
    json_entry["data_offsets"] = ordered_json::array({offset, offset + bytes});
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const ordered_json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        "safetensors writer: a tensor name or metadata string is not valid "
        "UTF-8: ",
        e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string prefix(8, '\0');
  StoreLittleEndian64(text.size(), prefix.data());
  return prefix + text;
}

absl::Status WriteAll(int fd, absl::string_view bytes,
                      const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t written = write(fd, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      return absl::ErrnoToStatus(error, absl::StrCat(path, ": write failed"));
    }
    bytes.remove_prefix(static_cast<size_t>(written));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> SerializeSafetensors(
    const std::vector<SafetensorsEntry>& entries,
    const std::map<std::string, std::string>& metadata) {
  absl::StatusOr<std::string> file = BuildHeader(entries, metadata);
  if (!file.ok()) return file.status();
  for (const SafetensorsEntry& entry : entries) {
    file->append(entry.data.data(), entry.data.size());
  }
  return file;
}

absl::Status WriteSafetensorsFile(
    const std::string& path, const std::vector<SafetensorsEntry>& entries,
    const std::map<std::string, std::string>& metadata) {
  absl::StatusOr<std::string> header = BuildHeader(entries, metadata);
  if (!header.ok()) return header.status();
  std::string temp = path + ".tmp.XXXXXX";
  const int fd = mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    return absl::ErrnoToStatus(
        error, absl::StrCat(path, ": cannot create a temporary file"));
  }
  absl::Status status;
  if (fchmod(fd, 0644) != 0) {  // mkostemp makes it 0600
    const int error = errno;
    status = absl::ErrnoToStatus(error, absl::StrCat(temp, ": fchmod failed"));
  }
  if (status.ok()) status = WriteAll(fd, *header, temp);
  for (size_t i = 0; status.ok() && i < entries.size(); ++i) {
    status = WriteAll(fd, entries[i].data, temp);
  }
  if (status.ok() && fsync(fd) != 0) {
    const int error = errno;
    status = absl::ErrnoToStatus(error, absl::StrCat(temp, ": fsync failed"));
  }
  if (close(fd) != 0 && status.ok()) {
    const int error = errno;
    status = absl::ErrnoToStatus(error, absl::StrCat(temp, ": close failed"));
  }
  if (status.ok() && rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    status = absl::ErrnoToStatus(
        error, absl::StrCat("cannot rename ", temp, " to ", path));
  }
  if (!status.ok()) unlink(temp.c_str());
  return status;
}

}  // namespace ccs::model
