// The compressed memory a session holds, as the server sees it: an opaque,
// immutable value with exact sizes. The model code behind it (RCC slots,
// IC-Former digests, or raw token ids for the uncompressed baseline) keeps
// its tensors hidden, so that server code never includes torch headers.
//
//   std::shared_ptr<const ccs::model::Memory> memory = ...;  // from a compressor
//   int64_t held = memory->bytes();
//
// Thread-safety: a Memory never changes after it is made; share it freely.
#ifndef CCS_MODEL_MEMORY_H_
#define CCS_MODEL_MEMORY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace ccs::model {

// How a context is stored (the proto's Method without AUTO).
enum class Method {
  kRcc,       // one slot of (encoder layers + 1) vectors per r tokens
  kIcFormer,  // a fixed number of digest vectors per chunk
  kNone,      // the token ids themselves: the uncompressed baseline
};

// "RCC", "IC_FORMER", "NONE".
absl::string_view MethodName(Method method);

class Memory {
 public:
  virtual ~Memory() = default;

  virtual Method method() const = 0;
  // Context tokens the memory stands for.
  virtual int64_t tokens() const = 0;
  // Memory vectors: RCC slots, IC-Former digests, or tokens for kNone.
  virtual int64_t slots() const = 0;
  // RCC segments or IC-Former chunks encoded (kNone: appends).
  virtual int32_t segments() const = 0;
  // Exact bytes of the tensors held.
  virtual int64_t bytes() const = 0;
  // Element type of the stored vectors: "float32", "bfloat16", "int32".
  virtual std::string dtype() const = 0;
  // ExportVectors copies the memory vectors out: `shape` (RCC [slots,
  // layers + 1, hidden], IC-Former [digests, hidden]) and `data`
  // (little-endian, row-major, dtype()). False for kNone, which holds tokens.
  virtual bool ExportVectors(std::vector<int64_t>* shape, std::string* data) const = 0;
};

// A decoder-side cache derived from one memory (the keys and values of its
// prefix), which later generations on the same memory reuse. Opaque; sized
// so that the session store can budget it.
class PrefixCache {
 public:
  virtual ~PrefixCache() = default;
  virtual int64_t bytes() const = 0;
};

}  // namespace ccs::model

#endif  // CCS_MODEL_MEMORY_H_
