// The safetensors file format, read and written without torch.
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of
// JSON header, then the data region. The header maps each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
// data region) and may hold "__metadata__", a map of strings to strings.
// The spec is https://github.com/huggingface/safetensors (README, "Format").
//
//   absl::StatusOr<std::unique_ptr<ccs::model::SafetensorsFile>> file =
//       ccs::model::SafetensorsFile::Open("/models/x/model.safetensors");
//   if (!file.ok()) return file.status();
//   for (const ccs::model::SafetensorsTensor& t : (*file)->view().tensors()) {
//     ... t.name, t.dtype, t.shape, t.data (raw little-endian bytes) ...
//   }
//
// Parsing is hardened against hostile input: every malformed, truncated or
// inconsistent file gives an error Status naming the file, the tensor and the
// problem; nothing reads outside the buffer and no exception escapes. The
// checks match the reference (Rust) reader: header at most 100 MB and starting
// with '{', valid JSON without duplicate keys, known dtypes, at most 64
// non-negative integer dims whose byte size fits in 64 bits, data_offsets that
// match that byte size, and tensors that tile the data region exactly (no
// overlap, no hole, no trailing bytes).
//
// Error codes: DATA_LOSS when the bytes end before the header says they
// should (a truncated file); INVALID_ARGUMENT for any other malformed header;
// NOT_FOUND / PERMISSION_DENIED / INTERNAL for open and mmap failures.
//
// Thread-safety: SafetensorsView and SafetensorsFile are immutable after
// construction and safe to read from many threads. Tensor data is only valid
// while the buffer (or the SafetensorsFile that maps it) is alive. A mapped
// file must not be truncated by another process while open (as with any mmap,
// reading the lost pages would raise SIGBUS).
#ifndef CCS_MODEL_WEIGHTS_SAFETENSORS_H_
#define CCS_MODEL_WEIGHTS_SAFETENSORS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ccs::model {

// The largest JSON header accepted, as in the reference reader.
inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

// The most dims a tensor may have (the spec sets no limit; libtorch kernels
// do, and a hostile header could otherwise ask for millions).
inline constexpr size_t kSafetensorsMaxRank = 64;

// Element types this project reads. The spec's 8-bit floats (F8_*) and
// sub-byte types are rejected as unsupported.
enum class SafetensorsDtype {
  kBool,
  kU8,
  kI8,
  kI16,
  kU16,
  kI32,
  kU32,
  kI64,
  kU64,
  kF16,
  kBF16,
  kF32,
  kF64,
};

// SafetensorsDtypeName returns the spec's spelling: "F32", "BF16", "BOOL"...
absl::string_view SafetensorsDtypeName(SafetensorsDtype dtype);

// SafetensorsDtypeSize returns the size of one element in bytes.
size_t SafetensorsDtypeSize(SafetensorsDtype dtype);

// ParseSafetensorsDtype maps a spelling to a dtype; INVALID_ARGUMENT for an
// unknown or unsupported one, listing the supported spellings.
absl::StatusOr<SafetensorsDtype> ParseSafetensorsDtype(absl::string_view name);

// One tensor of a parsed file.
struct SafetensorsTensor {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::kF32;
  std::vector<int64_t> shape;  // [] for a scalar; dims may be 0
  int64_t num_elements = 0;    // product of shape (1 for a scalar)
  // Exactly num_elements * SafetensorsDtypeSize(dtype) little-endian bytes,
  // inside the parsed buffer. Not necessarily aligned to the element size.
  absl::string_view data;
};

// SafetensorsView is a validated, non-owning view of a safetensors buffer.
class SafetensorsView {
 public:
  SafetensorsView() = default;

  // Tensors in data-region order (ascending offsets).
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }

  // Find returns the tensor called `name`, or nullptr.
  const SafetensorsTensor* Find(absl::string_view name) const;

  // The "__metadata__" map; empty when the file has none.
  const std::map<std::string, std::string>& metadata() const {
    return metadata_;
  }

  // Bytes before the data region: 8 + the header length.
  size_t header_size() const { return header_size_; }

 private:
  friend absl::StatusOr<SafetensorsView> ParseSafetensors(
      absl::string_view buffer, absl::string_view source);

  std::vector<SafetensorsTensor> tensors_;
  absl::flat_hash_map<std::string, size_t> index_;  // name -> tensors_ index
  std::map<std::string, std::string> metadata_;
  size_t header_size_ = 0;
};

// ParseSafetensors validates `buffer` as a whole safetensors file and returns
// a view into it (the buffer must outlive the view). `source` names the
// buffer in error messages, e.g. the file path.
absl::StatusOr<SafetensorsView> ParseSafetensors(absl::string_view buffer,
                                                 absl::string_view source);

// SafetensorsFile is one safetensors file, memory-mapped read-only and
// validated. The mapping lives as long as the object; views and tensor data
// taken from it must not outlive it.
class SafetensorsFile {
 public:
  // Open maps and parses `path`. NOT_FOUND if it does not exist,
  // INVALID_ARGUMENT if it is not a regular file, otherwise as
  // ParseSafetensors.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(
      const std::string& path);

  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  const SafetensorsView& view() const { return view_; }

 private:
  SafetensorsFile(std::string path, void* base, size_t size)
      : path_(std::move(path)), base_(base), size_(size) {}

  const std::string path_;
  void* const base_;   // start of the mapping (nullptr for an empty file)
  const size_t size_;  // bytes mapped
  SafetensorsView view_;
};

// One tensor to write: `data` holds exactly product(shape) * element size
// little-endian bytes and must stay alive until the write returns.
struct SafetensorsEntry {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::kF32;
  std::vector<int64_t> shape;
  absl::string_view data;
};

// SerializeSafetensors returns a whole file in memory: the header (padded
// with spaces to a multiple of 8 bytes, as the reference writer does, so the
// data region starts 8-aligned) then each entry's bytes in the given order.
// `metadata` becomes "__metadata__" when not empty. INVALID_ARGUMENT for an
// empty, duplicate or reserved ("__metadata__") name, a negative dim, a byte
// count that does not match the shape, or a string that is not UTF-8.
absl::StatusOr<std::string> SerializeSafetensors(
    const std::vector<SafetensorsEntry>& entries,
    const std::map<std::string, std::string>& metadata);

// WriteSafetensorsFile writes what SerializeSafetensors would return to
// `path`, without holding the data twice: it writes a temporary file beside
// `path`, syncs it and renames it over `path`, so readers never see a partial
// file. Errors as SerializeSafetensors, or INTERNAL/PERMISSION_DENIED/...
// from the file system (the temporary file is then removed).
absl::Status WriteSafetensorsFile(
    const std::string& path, const std::vector<SafetensorsEntry>& entries,
    const std::map<std::string, std::string>& metadata);

}  // namespace ccs::model

#endif  // CCS_MODEL_WEIGHTS_SAFETENSORS_H_
