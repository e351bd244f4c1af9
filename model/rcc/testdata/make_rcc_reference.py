"""RCC reference fixtures, computed with Hugging Face transformers.

For each variant, builds a tiny random RCC checkpoint in the released schema
(DESIGN.md 3.1) and computes, the way the released code does (the encoder's
output_hidden_states at the slot positions; the decoder's layer-0 input
replaced and A_i(enc_h) added after each layer at the prefix positions),
what the C++ RccModel must reproduce. Writes into OUTPUT_DIR/<variant>/:

  config.json           the decoder's Hugging Face config
  rcc_config.json       r, W, placeholder id, storage dtype, encoder config
  model-a.safetensors   decoder tensors and the stray gpt_neox.embed_out of
  model-b.safetensors   the released layout; encoder and projections (split
                        in two files as the released checkpoint is)
  expected.tensors      memory.<n> [P, Le+1, De] for contexts of n tokens,
                        context.<n> their ids; prompt ids and logits
                        [1, P + T, V] of [placeholder x P, prompt] for the
                        longest context

Slots follow the project's padding rule (model/rcc/rcc_config.h): segments
of W tokens, the last shorter; slots at j*r + r-1, plus the last token of a
segment whose length r does not divide. For full segments this is exactly
the released code's rule.

Usage: make_rcc_reference.py OUTPUT_DIR
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, LlamaConfig, LlamaForCausalLM

R, W = 4, 16
LENGTHS = (1, R - 1, R, W - 1, W, W + 1, 2 * W, 2 * W + 1)
PROMPT = 5

NEOX = dict(hidden_size=32, num_attention_heads=4, intermediate_size=64, vocab_size=96,
            rotary_pct=0.25, use_parallel_residual=True, max_position_embeddings=256,
            attn_implementation="eager", tie_word_embeddings=False)
LLAMA = dict(hidden_size=32, num_attention_heads=4, num_key_value_heads=2, intermediate_size=48,
             vocab_size=96, rope_theta=10000.0, rms_norm_eps=1e-5, max_position_embeddings=256,
             attn_implementation="eager", tie_word_embeddings=True)

# name -> (config class, model class, decoder kwargs, encoder layers, decoder layers, base)
VARIANTS = {
    # The released shape: encoder and decoder of the same depth.
    "neox_equal": (GPTNeoXConfig, GPTNeoXForCausalLM, NEOX, 2, 2, "gpt_neox."),
    # The layers_Equal path: an encoder twice as deep, pairs averaged.
    "neox_average": (GPTNeoXConfig, GPTNeoXForCausalLM, NEOX, 4, 2, "gpt_neox."),
    # Llama family (the demo's SmolLM2): an encoder half as deep, duplicated.
    "llama_duplicate": (LlamaConfig, LlamaForCausalLM, LLAMA, 2, 4, "model."),
}


def randomize(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) / (p.shape[-1] ** 0.5))


def slot_positions(length):
    positions = list(range(R - 1, length, R))
    if length % R:
        positions.append(length - 1)
    return positions


def compress(encoder, ids):
    parts = []
    for start in range(0, len(ids), W):
        segment = torch.tensor([ids[start:start + W]])
        states = encoder(segment, output_hidden_states=True).hidden_states  # Le+1 x [1, m, De]
        pos = torch.tensor(slot_positions(segment.shape[1]))
        parts.append(torch.stack([h[0, pos] for h in states], dim=1))  # [n, Le+1, De]
    return torch.cat(parts, 0)


def source(memory, i, enc_layers, dec_layers):
    if enc_layers % dec_layers == 0:
        k = enc_layers // dec_layers
        return memory[:, k * i + 1:k * i + k + 1].mean(1)
    k = dec_layers // enc_layers
    return memory[:, i // k + 1]


def injected_logits(decoder, layers, embed_proj, a_matrix, memory, prompt, placeholder,
                    enc_layers, dec_layers):
    P = memory.shape[0]
    ids = torch.tensor([[placeholder] * P + prompt])
    embeds = decoder.get_input_embeddings()(ids).clone()
    embeds[:, :P] = embed_proj(memory[:, 0])
    handles = []
    for i, layer in enumerate(layers):
        def hook(module, args, output, i=i):
            hidden = output[0] if isinstance(output, tuple) else output
            hidden = hidden.clone()
            hidden[:, :P] += a_matrix[i](source(memory, i, enc_layers, dec_layers))
            return (hidden,) + tuple(output[1:]) if isinstance(output, tuple) else hidden
        handles.append(layer.register_forward_hook(hook))
    logits = decoder(inputs_embeds=embeds).logits
    for h in handles:
        h.remove()
    return logits


def make(name, out_dir, seed):
    config_cls, model_cls, kwargs, enc_layers, dec_layers, base = VARIANTS[name]
    torch.manual_seed(seed)
    dec_config = config_cls(**dict(kwargs, num_hidden_layers=dec_layers))
    enc_config = config_cls(**dict(kwargs, num_hidden_layers=enc_layers))
    decoder, encoder = model_cls(dec_config).eval(), model_cls(enc_config).eval()
    randomize(decoder)
    randomize(encoder)
    d = kwargs["hidden_size"]
    embed_proj = torch.nn.Linear(d, d, bias=False)
    a_matrix = torch.nn.ModuleList(torch.nn.Linear(d, d, bias=False) for _ in range(dec_layers))
    randomize(embed_proj)
    randomize(a_matrix)
    layers = decoder.gpt_neox.layers if base == "gpt_neox." else decoder.model.layers

    out = os.path.join(out_dir, name)
    os.makedirs(out, exist_ok=True)
    dec_config.to_json_file(os.path.join(out, "config.json"))
    with open(os.path.join(out, "rcc_config.json"), "w") as f:
        json.dump({"compression_ratio": R, "segment_tokens": W, "placeholder_token_id": 1,
                   "storage_dtype": "float32", "encoder_config": enc_config.to_dict()}, f)
    tied = {"lm_head.weight"} if dec_config.tie_word_embeddings else set()
    part_a = {k: v.clone() for k, v in decoder.state_dict().items() if k not in tied}
    if base == "gpt_neox.":  # the released decoder's unused inner head
        part_a["gpt_neox.embed_out.weight"] = torch.randn(kwargs["vocab_size"], d)
    enc_tied = {"lm_head.weight"} if enc_config.tie_word_embeddings else set()
    part_b = {base + "rcc_encoder." + k: v.clone()
              for k, v in encoder.state_dict().items() if k not in enc_tied}
    part_b[base + "rcc_encoder2gpt_embed.weight"] = embed_proj.weight.detach().clone()
    for i, a in enumerate(a_matrix):
        part_b[f"{base}rcc_encoder2gpt_A_matrix.{i}.weight"] = a.weight.detach().clone()
    save_file(part_a, os.path.join(out, "model-a.safetensors"))
    save_file(part_b, os.path.join(out, "model-b.safetensors"))

    expected = {}
    with torch.no_grad():
        for n in LENGTHS:
            ids = torch.randint(2, kwargs["vocab_size"], (n,)).tolist()
            expected[f"context.{n}"] = torch.tensor(ids, dtype=torch.int64)
            memory = compress(encoder, ids)
            expected[f"memory.{n}"] = memory.contiguous()
        prompt = torch.randint(2, kwargs["vocab_size"], (PROMPT,)).tolist()
        expected["prompt"] = torch.tensor(prompt, dtype=torch.int64)
        expected["logits"] = injected_logits(
            decoder, layers, embed_proj, a_matrix, expected[f"memory.{LENGTHS[-1]}"], prompt,
            1, enc_layers, dec_layers).contiguous()
    save_file(expected, os.path.join(out, "expected.tensors"))  # not *.safetensors: the loader reads those


def main():
    torch.set_num_threads(1)
    for seed, name in enumerate(VARIANTS):
        make(name, sys.argv[1], 2000 + seed)


if __name__ == "__main__":
    main()
