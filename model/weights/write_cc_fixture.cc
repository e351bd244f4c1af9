// Writes a safetensors file with WriteSafetensors, for check_cc_fixture.py to
// read with the Python `safetensors` library (python_reads_cc_test.sh).
//
//   write_cc_fixture OUT_DIR
//
// Writes OUT_DIR/cc.safetensors and, beside it, the same tensors as raw
// little-endian float32 (cc_expected.bin) with a manifest (cc_expected.json:
// [{"name", "dtype", "shape"}...] in file order). The manifest is written
// with plain stdio, independently of the safetensors writer.
#include <torch/torch.h>

#include <cstdio>
#include <string>

#include "model/weights/weights.h"

namespace {

int Run(const std::string& dir) {
  torch::manual_seed(11);
  // The reference writer lays tensors out by dtype size (largest first), then
  // name; this order matches it, so the Python side can compare the bytes.
  const ccs::model::NamedTensors tensors = {
      {"a.matrix", torch::randn({3, 4})},
      {"b.transposed", torch::randn({2, 5}).t()},
      {"c.scalar", torch::tensor(-1.75f)},
      {"d.bf16", torch::randn({2, 3, 2}).to(torch::kBFloat16)},
      {"e.bf16_empty", torch::zeros({0, 3}, torch::kBFloat16)},
      {"f.f16", (torch::randn({5}) * 1000).to(torch::kFloat16)},
  };
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"written_by", "ccs write_cc_fixture"}};
  const absl::Status status =
      ccs::model::WriteSafetensors(dir + "/cc.safetensors", tensors, metadata);
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    return 1;
  }
  FILE* bin = std::fopen((dir + "/cc_expected.bin").c_str(), "wb");
  FILE* manifest = std::fopen((dir + "/cc_expected.json").c_str(), "w");
  if (bin == nullptr || manifest == nullptr) return 1;
  std::fprintf(manifest, "[\n");
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, tensor] = tensors[i];
    const torch::Tensor f32 = tensor.to(torch::kFloat32).contiguous();
    std::fwrite(f32.data_ptr(), 1, f32.nbytes(), bin);
    std::string shape;
    for (int64_t d : tensor.sizes()) {
      shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    }
    std::fprintf(manifest,
                 "  {\"name\": \"%s\", \"dtype\": \"%s\", \"shape\": [%s]}%s\n",
                 name.c_str(), c10::toString(tensor.scalar_type()),
                 shape.c_str(), i + 1 < tensors.size() ? "," : "");
  }
  std::fprintf(manifest, "]\n");
  return std::fclose(bin) == 0 && std::fclose(manifest) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  return Run(argv[1]);
}
