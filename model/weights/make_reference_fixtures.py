"""Writes safetensors fixtures with the reference Python libraries.

Usage: make_reference_fixtures.py OUT_DIR

Writes, from fixed seeds:
  reference.safetensors   one file: F32, F16, BF16 (including a scalar, an
                          empty tensor and special values), I64, BOOL, with
                          __metadata__, by safetensors.torch.save_file
  sharded/                model-0000N-of-00003.safetensors and
                          model.safetensors.index.json, split by
                          huggingface_hub.split_torch_state_dict_into_shards
                          and indexed exactly as its documentation shows
  concat/                 a.safetensors and b.safetensors sharing tensor names,
                          the layout the RCC reference loader concatenates
  expected.bin            every expected tensor as little-endian float32,
                          back to back
  expected.json           {fixture: {"metadata": {...}, "tensors": {name:
                          {"dtype", "shape", "offset" (float32 elements into
                          expected.bin)}}}}

The expected values are the reference's own: torch's .float() of the saved
tensors (exact for F16/BF16/small integers/bools), and for concat/ the result
of the reference loader's algorithm (torch.cat along dim 0, files in sorted
name order).
"""

import json
import os
import sys

import torch
from huggingface_hub import split_torch_state_dict_into_shards
from safetensors.torch import load_file, save_file


def single_file_tensors():
    g = torch.Generator().manual_seed(1234)
    special = torch.tensor(
        [0.0, -0.0, 1.0, -2.5, 65504.0, 6.1035e-05, 5.96e-08,
         float("inf"), float("-inf"), float("nan")])
    return {
        "embed.weight": torch.randn(11, 6, generator=g),
        "layers.0.attn.q.weight": torch.randn(6, 6, generator=g).to(torch.bfloat16),
        "layers.0.norm.weight": torch.randn(6, generator=g).to(torch.float16),
        "layers.0.mlp.up.weight": (torch.randn(2, 3, 4, generator=g) * 100).to(torch.bfloat16),
        "f16.special": special.to(torch.float16),
        "bf16.special": (special * 1e30).to(torch.bfloat16),
        "f32.scalar": torch.tensor(3.25),
        "bf16.empty": torch.zeros(0, 4, dtype=torch.bfloat16),
        "position_ids": torch.arange(-3, 5, dtype=torch.int64).reshape(2, 4),
        "mask": torch.tensor([[True, False, True], [False, False, True]]),
    }


def sharded_tensors():
    g = torch.Generator().manual_seed(99)
    tensors = {}
    for layer in range(3):
        tensors[f"model.layers.{layer}.self_attn.q_proj.weight"] = torch.randn(16, 16, generator=g).to(torch.bfloat16)
        tensors[f"model.layers.{layer}.mlp.down_proj.weight"] = torch.randn(16, 24, generator=g).to(torch.float16)
        tensors[f"model.layers.{layer}.input_layernorm.weight"] = torch.randn(16, generator=g)
    return tensors


def write_sharded(tensors, out_dir):
    # huggingface_hub's documented recipe for a sharded checkpoint
    # (serialization guide, "split_torch_state_dict_into_shards").
    split = split_torch_state_dict_into_shards(tensors, max_shard_size=1400)
    assert len(split.filename_to_tensors) == 3, split.filename_to_tensors
    for filename, names in split.filename_to_tensors.items():
        shard = {name: tensors[name].contiguous() for name in names}
        save_file(shard, os.path.join(out_dir, filename), metadata={"format": "pt"})
    index = {"metadata": split.metadata, "weight_map": split.tensor_to_filename}
    with open(os.path.join(out_dir, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)


def concat_files():
    g = torch.Generator().manual_seed(7)
    a = {
        "gpt_neox.embed_in.weight": torch.randn(5, 4, generator=g).to(torch.bfloat16),
        "only_in_a": torch.randn(3, generator=g),
    }
    b = {
        "gpt_neox.embed_in.weight": torch.randn(2, 4, generator=g).to(torch.bfloat16),
        "only_in_b": torch.randn(2, 2, generator=g).to(torch.float16),
    }
    return {"a.safetensors": a, "b.safetensors": b}


def reference_merge(directory):
    # The RCC reference loader (chat_example.py, load_and_merge_safetensors),
    # with the file order made deterministic.
    merged = {}
    for file in sorted(os.listdir(directory)):
        if not file.endswith(".safetensors"):
            continue
        for key, value in load_file(os.path.join(directory, file)).items():
            merged[key] = torch.cat((merged[key], value), dim=0) if key in merged else value
    return merged


class Expected:
    def __init__(self):
        self.blob = bytearray()
        self.manifest = {}

    def add(self, fixture, tensors, metadata):
        entry = {"metadata": metadata, "tensors": {}}
        for name in sorted(tensors):
            t = tensors[name]
            entry["tensors"][name] = {
                "dtype": str(t.dtype).replace("torch.", ""),
                "shape": list(t.shape),
                "offset": len(self.blob) // 4,
            }
            self.blob += t.to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        self.manifest[fixture] = entry


def main():
    out = sys.argv[1]
    for sub in ("sharded", "concat"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    expected = Expected()

    single = single_file_tensors()
    metadata = {"format": "pt", "producer": "make_reference_fixtures.py"}
    save_file(single, os.path.join(out, "reference.safetensors"), metadata=metadata)
    expected.add("reference", load_file(os.path.join(out, "reference.safetensors")), metadata)

    sharded = sharded_tensors()
    write_sharded(sharded, os.path.join(out, "sharded"))
    expected.add("sharded", sharded, {})

    for filename, tensors in concat_files().items():
        save_file(tensors, os.path.join(out, "concat", filename))
    expected.add("concat", reference_merge(os.path.join(out, "concat")), {})

    with open(os.path.join(out, "expected.bin"), "wb") as f:
        f.write(bytes(expected.blob))
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected.manifest, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
