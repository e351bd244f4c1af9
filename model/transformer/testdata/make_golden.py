"""Golden fixtures for model/transformer, computed by Hugging Face transformers.

Builds tiny random GPTNeoXForCausalLM and LlamaForCausalLM models (fixed seeds),
runs them, and writes for each variant V into the output directory:

  V.config.json  the model's config.json, exactly as save_pretrained writes it
  V.json         a manifest: tensor names, shapes and offsets into V.bin, plus
                 the test cases (input ids, prompts, generated token ids)
  V.bin          float32 little-endian: the state dict (tied copies left out,
                 as save_pretrained does) followed by the expected outputs
  V/             the model written by save_pretrained (config.json,
                 model.safetensors), as a published checkpoint would be

Usage: make_golden.py OUTPUT_DIR
"""

import json
import os
import sys

import numpy as np
import torch
from transformers import (GPTNeoXConfig, GPTNeoXForCausalLM, LlamaConfig,
                          LlamaForCausalLM)

COMMON = dict(hidden_size=64, num_attention_heads=4, max_position_embeddings=128,
              attn_implementation="eager")

VARIANTS = {
    # Pythia-like: partial rotary (a quarter of each head), parallel residual.
    "neox_partial_parallel": (GPTNeoXConfig, GPTNeoXForCausalLM, dict(
        COMMON, num_hidden_layers=2, intermediate_size=256, vocab_size=320,
        rotary_pct=0.25, rotary_emb_base=10000, use_parallel_residual=True,
        layer_norm_eps=1e-5, tie_word_embeddings=False)),
    # Full rotary, sequential residual, another base, no attention biases.
    "neox_full_serial": (GPTNeoXConfig, GPTNeoXForCausalLM, dict(
        COMMON, num_hidden_layers=3, intermediate_size=192, vocab_size=288,
        rotary_pct=1.0, rotary_emb_base=500, use_parallel_residual=False,
        layer_norm_eps=1e-5, attention_bias=False, tie_word_embeddings=False)),
    # Llama with grouped-query attention (2 K/V heads for 4 query heads).
    "llama_gqa_untied": (LlamaConfig, LlamaForCausalLM, dict(
        COMMON, num_hidden_layers=3, num_key_value_heads=2, intermediate_size=176,
        vocab_size=384, rope_theta=10000.0, rms_norm_eps=1e-6,
        tie_word_embeddings=False)),
    # Multi-query attention, tied embeddings, biases, head_dim != hidden/heads.
    "llama_mqa_tied": (LlamaConfig, LlamaForCausalLM, dict(
        COMMON, num_hidden_layers=2, num_key_value_heads=1, head_dim=32,
        intermediate_size=160, vocab_size=256, rope_theta=500.0, rms_norm_eps=1e-5,
        attention_bias=True, mlp_bias=True, tie_word_embeddings=True)),
}

FULL_SHAPE = (2, 11)            # batch x tokens for the logits/hidden-states case
PROMPT_LENGTHS = (5, 9, 3)      # prompts for greedy generation
MAX_NEW_TOKENS = 10


def randomize(model):
  """Replaces HF's tiny init with weights that give well separated logits."""
  with torch.no_grad():
    for name, p in model.named_parameters():
      if name.endswith("bias"):
        p.copy_(0.1 * torch.randn_like(p))
      elif "norm" in name:
        p.copy_(1.0 + 0.1 * torch.randn_like(p))
      elif "embed" in name and p.dim() == 2 and not name.startswith("embed_out"):
        p.copy_(0.5 * torch.randn_like(p))
      else:
        p.copy_(torch.randn_like(p) / p.shape[-1] ** 0.5)


class Blob:
  """Accumulates float32 arrays and their manifest entries."""

  def __init__(self):
    self.chunks, self.entries, self.offset = [], [], 0

  def add(self, name, tensor):
    a = tensor.detach().to(torch.float32).contiguous().numpy()
    self.entries.append(dict(name=name, shape=list(a.shape), offset=self.offset))
    self.chunks.append(a.reshape(-1))
    self.offset += a.size

  def write(self, path):
    np.concatenate(self.chunks).astype("<f4").tofile(path)


def greedy(model, prompts, eos, pad):
  """HF greedy generation, one prompt at a time and as a left-padded batch."""
  one_by_one = []
  for p in prompts:
    out = model.generate(torch.tensor([p]), attention_mask=torch.ones(1, len(p), dtype=torch.long),
                         do_sample=False, max_new_tokens=MAX_NEW_TOKENS,
                         eos_token_id=eos, pad_token_id=pad)
    new = out[0, len(p):].tolist()
    if eos is not None and eos in new:
      new = new[:new.index(eos) + 1]
    one_by_one.append(new)
  width = max(len(p) for p in prompts)
  ids = torch.full((len(prompts), width), pad, dtype=torch.long)
  mask = torch.zeros_like(ids)
  for i, p in enumerate(prompts):
    ids[i, width - len(p):] = torch.tensor(p)
    mask[i, width - len(p):] = 1
  out = model.generate(ids, attention_mask=mask, do_sample=False, max_new_tokens=MAX_NEW_TOKENS,
                       eos_token_id=eos, pad_token_id=pad)
  batched = []
  for row in out[:, width:].tolist():
    if eos is not None and eos in row:
      row = row[:row.index(eos) + 1]
    batched.append(row)
  return one_by_one, batched


def make_variant(name, config_cls, model_cls, kwargs, out_dir, seed):
  torch.manual_seed(seed)
  config = config_cls(**kwargs)
  model = model_cls(config).eval()
  assert model.config._attn_implementation == "eager"
  randomize(model)
  model.tie_weights()
  vocab = config.vocab_size
  blob = Blob()
  tied = set(model._tied_weights_keys or []) if config.tie_word_embeddings else set()
  for key, tensor in model.state_dict().items():
    if key not in tied:
      blob.add(key, tensor)

  pad = vocab - 1
  cases = {}
  with torch.no_grad():
    ids = torch.randint(0, vocab - 1, FULL_SHAPE)
    out = model(ids, output_hidden_states=True)
    assert len(out.hidden_states) == config.num_hidden_layers + 1
    cases["full"] = dict(input_ids=ids.tolist(), num_hidden_states=len(out.hidden_states))
    blob.add("full/logits", out.logits)
    for i, h in enumerate(out.hidden_states):
      blob.add("full/hidden_states.%d" % i, h)

    prompts = [torch.randint(2, vocab - 1, (n,)).tolist() for n in PROMPT_LENGTHS]
    # Choose as EOS a token that greedy decoding first makes at step 2 or later
    # from the first prompt, so that sequences finish at different steps.
    no_eos, _ = greedy(model, prompts, None, pad)
    first = no_eos[0]
    late = [t for i, t in enumerate(first) if i >= 2 and t not in first[:i]]
    eos = late[0] if late else first[-1]
    model.generation_config.eos_token_id = eos
    model.config.eos_token_id = eos
    one_by_one, batched = greedy(model, prompts, eos, pad)
    assert one_by_one == batched, (name, one_by_one, batched)
    cases["greedy"] = dict(prompts=prompts, eos_token_id=eos, pad_token_id=pad,
                           max_new_tokens=MAX_NEW_TOKENS, expected=one_by_one)

  config.to_json_file(os.path.join(out_dir, name + ".config.json"))
  # The same model as Hugging Face ships checkpoints: V/config.json and
  # V/model.safetensors, for the directory loader (LoadDecoder).
  model.save_pretrained(os.path.join(out_dir, name), safe_serialization=True)
  blob.write(os.path.join(out_dir, name + ".bin"))
  manifest = dict(variant=name, tensors=blob.entries, cases=cases,
                  weight_names=[e["name"] for e in blob.entries if "/" not in e["name"]])
  with open(os.path.join(out_dir, name + ".json"), "w") as f:
    json.dump(manifest, f)


def main():
  out_dir = sys.argv[1]
  os.makedirs(out_dir, exist_ok=True)
  torch.set_num_threads(1)
  for seed, (name, (config_cls, model_cls, kwargs)) in enumerate(VARIANTS.items()):
    make_variant(name, config_cls, model_cls, kwargs, out_dir, 1000 + seed)


if __name__ == "__main__":
  main()
