// Model weights as libtorch tensors: load safetensors checkpoints, check them
// against a model's expected names and shapes, and write them back.
//
// Torch-facing header: include it only from model/ .cc files.
//
//   absl::StatusOr<ccs::model::WeightMap> weights =
//       ccs::model::LoadSafetensors("/models/rcc", torch::kBFloat16);
//   if (!weights.ok()) return weights.status();
//   ccs::model::CheckOptions check;
//   check.ignorable_names = {"gpt_neox.rcc_encoder.embed_out.weight"};
//   absl::Status fits = ccs::model::CheckWeights(*weights, expected, check);
//
// Every function catches libtorch and standard exceptions and returns them as
// a Status (INTERNAL, or RESOURCE_EXHAUSTED for an allocation failure); none
// escapes. Tensors returned own their memory (they are copies, not views of
// the mapped files). Thread-safety: the functions share no state; distinct
// calls may run concurrently.
#ifndef CCS_MODEL_WEIGHTS_WEIGHTS_H_
#define CCS_MODEL_WEIGHTS_WEIGHTS_H_

#include <torch/types.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ccs::model {

// Tensor name (as in the checkpoint) -> tensor, on the CPU.
using WeightMap = std::unordered_map<std::string, torch::Tensor>;

// Tensors to write, in the order their bytes are laid out in the file.
using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// How LoadSafetensors reads a directory.
enum class ShardLayout {
  // What Hugging Face's from_pretrained reads: model.safetensors if present,
  // else model.safetensors.index.json and the shards its weight_map names.
  kHuggingFace,
  // The RCC reference loader (RCC_Transformer chat_example.py,
  // load_and_merge_safetensors; DESIGN.md 3.1): every *.safetensors file in
  // the directory, and a name found in several files is the concatenation of
  // its tensors along dim 0. Files are taken in byte order of their names
  // (the reference uses os.listdir's unspecified order).
  kConcatenateAll,
};

struct LoadOptions {
  ShardLayout layout = ShardLayout::kHuggingFace;
};

// LoadSafetensors loads `path_or_dir`: a .safetensors file, or a directory
// read as options.layout says. Floating-point tensors (F16, BF16, F32, F64)
// are converted to `target`, which must be a floating dtype; integer tensors
// keep their dtype and BOOL becomes torch::kBool (any non-zero byte is true).
//
// Errors: NOT_FOUND when the path, the expected file or a shard is missing;
// INVALID_ARGUMENT for a non-floating target, a malformed file or index, a
// shard that lacks a tensor the index assigns to it or holds one the index
// does not assign to it, a name in two shards, or (kConcatenateAll) tensors
// that cannot be concatenated; DATA_LOSS for a truncated file. Messages name
// the file and the tensor.
absl::StatusOr<WeightMap> LoadSafetensors(const std::string& path_or_dir,
                                          torch::Dtype target,
                                          const LoadOptions& options = {});

struct CheckOptions {
  // Tensors allowed in the checkpoint although the model does not use them,
  // by exact name (e.g. "gpt_neox.rcc_encoder.embed_out.weight") ...
  std::set<std::string> ignorable_names;
  // ... or by suffix (e.g. ".attention.rotary_emb.inv_freq").
  std::vector<std::string> ignorable_suffixes;
  // How many names of each kind the error message lists (it always gives
  // the counts).
  int max_listed = 10;
};

// CheckWeights compares `weights` with the names and shapes a model expects.
// OK when every expected tensor is present with its shape and every other
// tensor is ignorable. Otherwise one INVALID_ARGUMENT error listing, with
// counts, the missing tensors, the unexpected ones and the mis-shaped ones
// (with the shape found and the one expected).
absl::Status CheckWeights(
    const WeightMap& weights,
    const std::map<std::string, std::vector<int64_t>>& expected_shapes,
    const CheckOptions& options = {});

// WriteSafetensors writes `tensors` to `path` as one safetensors file: each
// tensor made contiguous on the CPU, in its own dtype (F32, F16, BF16; also
// F64, integer and bool tensors), in the given order, with `metadata` as the
// "__metadata__" map. The header is space-padded to a multiple of 8 bytes as
// the reference writer does. The file is written to a temporary name beside
// `path` and renamed, so readers never see a partial file. INVALID_ARGUMENT
// for an undefined tensor, an unsupported dtype, an empty, reserved or
// duplicate name; file system errors as their errno says.
absl::Status WriteSafetensors(
    const std::string& path, const NamedTensors& tensors,
    const std::map<std::string, std::string>& metadata = {});

}  // namespace ccs::model

#endif  // CCS_MODEL_WEIGHTS_WEIGHTS_H_
