// Loading an IC-Former checkpoint exactly as the released code saves it
// (modules.py Trainer.save): a directory with the former's config.json and
// model.safetensors (save_pretrained of ICFormerModel) and param.pt, a
// torch.save of {"digest_embeddings": [1, k, C], "AE": [1, 1, C], "FT":
// [1, 1, C]} (nn.Parameters; FT only after question-answering fine-tuning;
// other keys such as "LM" are ignored). Torch-facing.
//
// This project's trainer writes the same directory with the same tensors,
// but the learned embeddings go to params.safetensors instead of param.pt
// (no pickle): LoadIcFormer reads param.pt when present, else
// params.safetensors.
//
//   std::shared_ptr<const transformer::Decoder> llm = ...;  // the frozen LLM
//   absl::StatusOr<std::unique_ptr<IcFormer>> former =
//       LoadIcFormer("/models/icformer-llama2", llm);
//
// param.pt is read with libtorch's own unpickler (the reader behind
// torch::pickle_load), told to put every tensor on the CPU: the released
// file was saved from a GPU, and torch::pickle_load itself would try to
// restore its storages on "cuda:0", which fails on a machine without one.
// No conversion step is needed.
//
// Thread-safety: pure functions; concurrent calls are fine.
#ifndef CCS_MODEL_ICFORMER_CHECKPOINT_H_
#define CCS_MODEL_ICFORMER_CHECKPOINT_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "model/icformer/former.h"
#include "model/transformer/decoder.h"

namespace ccs::model::icformer {

// ReadTorchSavedTensors reads a torch.save file (the zip format, torch's
// default since 1.6) holding a dict of str -> tensor, onto the CPU whatever
// device saved it; nn.Parameters come back as plain tensors (detached).
// NOT_FOUND when the file cannot be opened; INVALID_ARGUMENT for a file that
// is not such an archive (naming the problem: a legacy non-zip file, a
// corrupt archive, not a dict, a non-tensor value).
absl::StatusOr<transformer::WeightMap> ReadTorchSavedTensors(const std::string& path);

// LoadIcFormerParams reads param.pt into IcFormerParams (dtypes as saved).
// INVALID_ARGUMENT when digest_embeddings or AE is missing; otherwise as
// ReadTorchSavedTensors. Shapes are checked by IcFormer::Create.
absl::StatusOr<IcFormerParams> LoadIcFormerParams(const std::string& path);

// SaveIcFormer writes `former` to `directory` (created if missing) as
// config.json, model.safetensors and params.safetensors, every tensor in
// `dtype` (a floating dtype), with `metadata` in both safetensors headers.
// Files are written under temporary names and renamed. Errors as the file
// system's, INVALID_ARGUMENT for a non-floating dtype.
absl::Status SaveIcFormer(const IcFormer& former, const std::string& directory,
                          torch::Dtype dtype,
                          const std::map<std::string, std::string>& metadata = {});

// LoadIcFormer loads `directory` (config.json, model.safetensors or a
// sharded model.safetensors.index.json, and param.pt or params.safetensors)
// over `decoder`, the
// frozen LLM whose embeddings the former reads and which decodes the
// digests. Errors: NOT_FOUND for a missing file; otherwise those of
// LoadIcFormerConfig, LoadSafetensors, LoadIcFormerParams and
// IcFormer::Create; every message starts with the directory.
absl::StatusOr<std::unique_ptr<IcFormer>> LoadIcFormer(
    const std::string& directory, std::shared_ptr<const transformer::Decoder> decoder,
    const IcFormerOptions& options = {});

}  // namespace ccs::model::icformer

#endif  // CCS_MODEL_ICFORMER_CHECKPOINT_H_
