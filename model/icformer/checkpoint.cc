#include "model/icformer/checkpoint.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/import_read.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/icformer/icformer_config.h"
#include "model/transformer/internal/torch_errors.h"
#include "model/weights/weights.h"

namespace ccs::model::icformer {
namespace {

using transformer::WeightMap;

// The unpickled object as a dict of tensors, or what is wrong with it.
absl::StatusOr<WeightMap> ToWeightMap(const c10::IValue& value) {
  if (!value.isGenericDict()) {
    return absl::InvalidArgumentError(
        absl::StrCat("holds a ", value.tagKind(), ", not a dict of tensors"));
  }
  WeightMap tensors;
  std::vector<std::string> bad;
  for (const auto& entry : value.toGenericDict()) {
    if (!entry.key().isString()) {
      bad.push_back(absl::StrCat("a ", entry.key().tagKind(), " key"));
    } else if (!entry.value().isTensor()) {
      bad.push_back(absl::StrCat("\"", entry.key().toStringRef(), "\" is a ",
                                 entry.value().tagKind()));
    } else {
      torch::Tensor t = entry.value().toTensor().detach();
      t.set_requires_grad(false);
      tensors[entry.key().toStringRef()] = std::move(t);
    }
  }
  if (!bad.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("is not a dict of str -> tensor: ", absl::StrJoin(bad, ", ")));
  }
  return tensors;
}

}  // namespace

absl::StatusOr<WeightMap> ReadTorchSavedTensors(const std::string& path) {
  char magic[4] = {};
  {
    std::ifstream file(path, std::ios::binary);
    if (!file) return absl::NotFoundError(absl::StrCat("cannot read ", path));
    file.read(magic, sizeof(magic));
  }
  if (std::string(magic, sizeof(magic)) != std::string("PK\x03\x04", 4)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, " is not a torch.save zip archive (a legacy torch.save(..., "
              "_use_new_zipfile_serialization=False) file, or not torch.save at all); re-save "
              "it with a current torch: torch.save(torch.load(p, map_location=\"cpu\"), p)"));
  }
  absl::StatusOr<WeightMap> tensors = transformer::internal::GuardTorch(
      absl::StrCat("reading ", path), [&]() -> absl::StatusOr<WeightMap> {
        caffe2::serialize::PyTorchStreamReader reader(path);
        // torch.save's layout: <name>/data.pkl and its storages under
        // <name>/data/; the reader strips <name>. Every storage is put on the
        // CPU whatever location the file records ("cuda:0" for a GPU run).
        const c10::IValue value = torch::jit::readArchiveAndTensors(
            "data", /*pickle_prefix=*/"", /*tensor_prefix=*/"", /*type_resolver=*/std::nullopt,
            /*obj_loader=*/std::nullopt, c10::Device(torch::kCPU), reader);
        absl::StatusOr<WeightMap> map = ToWeightMap(value);
        if (!map.ok()) {
          return absl::InvalidArgumentError(absl::StrCat(path, " ", map.status().message()));
        }
        return map;
      });
  // A corrupt archive or an object libtorch cannot unpickle surfaces as a
  // libtorch error: it is the file that is wrong.
  if (tensors.status().code() == absl::StatusCode::kInternal) {
    return absl::InvalidArgumentError(absl::StrCat(
        "not a readable torch.save archive: ", tensors.status().message()));
  }
  return tensors;
}

namespace {

// The learned embeddings out of `tensors` (read from `path`).
absl::StatusOr<IcFormerParams> TakeParams(const std::string& path, WeightMap tensors) {
  std::vector<std::string> missing;
  for (const char* name : {"digest_embeddings", "AE"}) {
    if (tensors.count(name) == 0) missing.push_back(name);
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " lacks ", absl::StrJoin(missing, " and "),
                                                   " (IC-Former params hold "
                                                   "digest_embeddings, AE and, for answering, FT)"));
  }
  IcFormerParams params;
  params.digest_embeddings = tensors.at("digest_embeddings");
  params.ae = tensors.at("AE");
  if (auto it = tensors.find("FT"); it != tensors.end()) params.ft = it->second;
  return params;
}

absl::StatusOr<IcFormerParams> LoadIcFormerSafetensorsParams(const std::string& path,
                                                             torch::Dtype dtype) {
  if (!std::filesystem::exists(path)) {
    return absl::NotFoundError("neither param.pt nor params.safetensors is there");
  }
  absl::StatusOr<WeightMap> tensors = LoadSafetensors(path, dtype);
  if (!tensors.ok()) return tensors.status();
  return TakeParams(path, *std::move(tensors));
}

}  // namespace

absl::StatusOr<IcFormerParams> LoadIcFormerParams(const std::string& path) {
  absl::StatusOr<WeightMap> tensors = ReadTorchSavedTensors(path);
  if (!tensors.ok()) return tensors.status();
  return TakeParams(path, *std::move(tensors));
}

absl::Status SaveIcFormer(const IcFormer& former, const std::string& directory,
                          torch::Dtype dtype, const std::map<std::string, std::string>& metadata) {
  if (!torch::isFloatingType(dtype)) {
    return absl::InvalidArgumentError("SaveIcFormer: the dtype must be floating");
  }
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot create ", directory, ": ", error.message()));
  }
  const std::string config_path = directory + "/config.json";
  {
    std::ofstream out(config_path + ".tmp", std::ios::binary | std::ios::trunc);
    out << IcFormerConfigJson(former.config());
    out.close();
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", config_path));
  }
  std::filesystem::rename(config_path + ".tmp", config_path, error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot write ", config_path, ": ", error.message()));
  }
  return transformer::internal::GuardTorch("SaveIcFormer", [&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    NamedTensors weights, params;
    for (const auto& [name, tensor] : former.Parameters()) {
      const bool is_param = name == "digest_embeddings" || name == "AE" || name == "FT";
      (is_param ? params : weights).emplace_back(name, tensor.detach().to(torch::kCPU, dtype));
    }
    if (absl::Status s = WriteSafetensors(directory + "/model.safetensors", weights, metadata);
        !s.ok()) {
      return s;
    }
    return WriteSafetensors(directory + "/params.safetensors", params, metadata);
  });
}

absl::StatusOr<std::unique_ptr<IcFormer>> LoadIcFormer(
    const std::string& directory, std::shared_ptr<const transformer::Decoder> decoder,
    const IcFormerOptions& options) {
  const auto in_directory = [&](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat("IC-Former ", directory, ": ", s.message()));
  };
  if (decoder == nullptr) return absl::InvalidArgumentError("IC-Former: no decoder");
  absl::StatusOr<IcFormerConfig> config = LoadIcFormerConfig(directory + "/config.json");
  if (!config.ok()) return in_directory(config.status());
  absl::StatusOr<WeightMap> weights = LoadSafetensors(directory, decoder->options().dtype);
  if (!weights.ok()) return in_directory(weights.status());
  absl::StatusOr<IcFormerParams> params =
      std::filesystem::exists(directory + "/param.pt")
          ? LoadIcFormerParams(directory + "/param.pt")
          : LoadIcFormerSafetensorsParams(directory + "/params.safetensors",
                                          decoder->options().dtype);
  if (!params.ok()) return in_directory(params.status());
  absl::StatusOr<std::unique_ptr<IcFormer>> former = IcFormer::Create(
      *config, *std::move(weights), *std::move(params), std::move(decoder), options);
  if (!former.ok()) return in_directory(former.status());
  return former;
}

}  // namespace ccs::model::icformer
