"""IC-Former reference fixtures, on Hugging Face transformers.

Builds a tiny random IC-Former checkpoint in the released schema (DESIGN.md
3.2) over a tiny random LlamaForCausalLM as the frozen LLM, and computes with
the released code's equations (icformer/modeling_icformer.py, modules.py:
get_soft_prompt with use_chunk, ICFormer's [digests, AE, text] and
ICFormerQA's [pre, digests, FT, prompt, post]) what the C++ IcFormer must
reproduce. The former is written out here in plain torch from those
equations; the LLM is transformers' own. Writes into OUTPUT_DIR:

  former/config.json          save_pretrained of an ICFormerConfig (the
                              released keys and defaults)
  former/model.safetensors    the former's tensors under the released names
  former/param.pt             torch.save of nn.Parameters digest_embeddings,
                              AE, FT, recorded as saved from "cuda:0" as the
                              released training run saves them
  decoder/                    save_pretrained of the LlamaForCausalLM
  param_noft.pt               an AE-pretraining param.pt: bfloat16, no FT,
                              saved on the CPU, with an extra "LM" entry
  expected.tensors            (safetensors) context.<n> ids and digests.<n>
                              [chunks*k, C] for n in LENGTHS; text, prefix,
                              prompt, suffix ids; reconstruct_logits [1,
                              P+1+T, V] of [digests.<last>, AE, emb(text)];
                              answer_logits of [emb(prefix), digests.<last>,
                              FT, emb(prompt), emb(suffix)];
                              reconstruct_tokens: 6 greedy tokens from
                              [digests.<L+1>, AE]; param.<name> and
                              param_noft.<name> as saved

Usage: make_icformer_reference.py OUTPUT_DIR
"""
import math
import os
import sys

import torch
import torch.nn.functional as F
import torch.serialization
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM, PretrainedConfig

K, L = 8, 16  # digests per chunk (num_query_tokens), max_chunk_len
LENGTHS = (1, L - 1, L, L + 1, 3 * L + 2)  # the last: chunks of 13, 13, 13, 11
GREEDY_STEPS = 6

FORMER = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
              num_query_tokens=K, intermediate_size=48, hidden_act="silu", rms_norm_eps=1e-6,
              rope_theta=10000.0, max_position_embeddings=256, context_hidden_size=32,
              cross_attention_frequency=1, max_chunk_len=L)
DECODER = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
               intermediate_size=48, vocab_size=96, rms_norm_eps=1e-5, rope_theta=10000.0,
               max_position_embeddings=256, attn_implementation="eager",
               tie_word_embeddings=False)

# The released ICFormerConfig's own keys and defaults (icformer/configuration.py).
ICFORMER_DEFAULTS = dict(
    hidden_size=4096, num_hidden_layers=12, num_attention_heads=32, num_key_value_heads=None,
    num_query_tokens=128, intermediate_size=11008, hidden_act="silu",
    max_position_embeddings=2048, initializer_range=0.02, rms_norm_eps=1e-6, rope_theta=10000.0,
    rope_scaling=None, attention_bias=False, cross_attention_frequency=1,
    context_hidden_size=4096, causal_attention=True, attention_dropout=0.0)


class ICFormerConfig(PretrainedConfig):
    """Writes config.json as save_pretrained of the released config does."""
    model_type = "icformer"

    def __init__(self, **kwargs):
        own = {key: kwargs.pop(key, default) for key, default in ICFORMER_DEFAULTS.items()}
        if own["num_key_value_heads"] is None:
            own["num_key_value_heads"] = own["num_attention_heads"]
        kwargs.setdefault("pad_token_id", 0)
        kwargs.setdefault("bos_token_id", 1)
        kwargs.setdefault("eos_token_id", 2)
        super().__init__(**kwargs)
        for key, value in own.items():
            setattr(self, key, value)


def rms_norm(x, weight, eps):
    dtype = x.dtype
    x = x.to(torch.float32)
    x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return weight * x.to(dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope_tables(length, head_dim, theta, dtype):
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    freqs = torch.arange(length).float()[:, None] * inv_freq[None, :]  # [S, D/2]
    angles = torch.cat((freqs, freqs), dim=-1)                          # [S, D]
    return angles.cos().to(dtype), angles.sin().to(dtype)


def former_chunk(w, cfg, digest_embeddings, chunk_embeds):
    """The former on one chunk: chunk_embeds [1, m, C] -> digests [1, k, C]."""
    k, m = digest_embeddings.shape[1], chunk_embeds.shape[1]
    S, C = m + k, cfg["hidden_size"]
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D, eps = C // H, cfg["rms_norm_eps"]
    ctx = torch.cat([chunk_embeds, digest_embeddings], dim=1)               # [1, S, C]
    # Ones over the chunk, causal over the digests; additive as the released
    # get_extended_attention_mask makes it.
    allowed = torch.cat([torch.ones(1, k, m), torch.tril(torch.ones(1, k, k))], dim=-1)
    mask = ((1.0 - allowed) * torch.finfo(ctx.dtype).min)[:, None]          # [1, 1, k, S]
    cos, sin = rope_tables(S, D, cfg["rope_theta"], ctx.dtype)              # [S, D]
    h = digest_embeddings
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layers.{i}."
        hq = rms_norm(h, w[p + "cross_input_layernorm.weight"], eps)
        cn = rms_norm(ctx, w[p + "context_layernorm.weight"], eps)
        q = F.linear(hq, w[p + "cross_attn.q_proj.weight"]).view(1, k, H, D).transpose(1, 2)
        key = F.linear(cn, w[p + "cross_attn.k_proj.weight"]).view(1, S, KV, D).transpose(1, 2)
        value = F.linear(cn, w[p + "cross_attn.v_proj.weight"]).view(1, S, KV, D).transpose(1, 2)
        q = q * cos[-k:] + rotate_half(q) * sin[-k:]       # the queries: last k positions
        key = key * cos + rotate_half(key) * sin            # the keys: all S
        rep = H // KV
        key = key[:, :, None].expand(1, KV, rep, S, D).reshape(1, H, S, D)
        value = value[:, :, None].expand(1, KV, rep, S, D).reshape(1, H, S, D)
        scores = torch.matmul(q, key.transpose(2, 3)) / math.sqrt(D) + mask
        probs = F.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        out = torch.matmul(probs, value).transpose(1, 2).reshape(1, k, C)
        h = h + F.linear(out, w[p + "cross_attn.o_proj.weight"])
        x = rms_norm(h, w[p + "post_attention_layernorm.weight"], eps)
        gate = F.silu(F.linear(x, w[p + "mlp.gate_proj.weight"]))
        h = h + F.linear(gate * F.linear(x, w[p + "mlp.up_proj.weight"]), w[p + "mlp.down_proj.weight"])
    return rms_norm(h, w["encoder.norm.weight"], eps)


def compress(w, cfg, digest_embeddings, embeddings):
    """get_soft_prompt(use_chunk=True): embeddings [1, n, C] -> [1, chunks*k, C]."""
    n = embeddings.shape[1]
    chunk_num = math.ceil(n / L)
    chunk_size = math.ceil(n / chunk_num)
    parts = []
    for index in range(chunk_num):
        chunk = embeddings[:, index * chunk_size:(index + 1) * chunk_size]
        assert chunk.shape[1] > 0
        parts.append(former_chunk(w, cfg, digest_embeddings, chunk)[:, -K:])
    return torch.cat(parts, dim=1)


def former_weights(cfg):
    C, I = cfg["hidden_size"], cfg["intermediate_size"]
    D = C // cfg["num_attention_heads"]
    shapes = {"encoder.norm.weight": (C,)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layers.{i}."
        shapes[p + "cross_attn.q_proj.weight"] = (cfg["num_attention_heads"] * D, C)
        shapes[p + "cross_attn.k_proj.weight"] = (cfg["num_key_value_heads"] * D, C)
        shapes[p + "cross_attn.v_proj.weight"] = (cfg["num_key_value_heads"] * D, C)
        shapes[p + "cross_attn.o_proj.weight"] = (C, cfg["num_attention_heads"] * D)
        for norm in ("cross_input_layernorm", "context_layernorm", "post_attention_layernorm"):
            shapes[p + norm + ".weight"] = (C,)
        shapes[p + "mlp.gate_proj.weight"] = (I, C)
        shapes[p + "mlp.up_proj.weight"] = (I, C)
        shapes[p + "mlp.down_proj.weight"] = (C, I)
    return {name: (1.0 + 0.1 * torch.randn(shape)) if len(shape) == 1
            else torch.randn(shape) / shape[-1] ** 0.5 for name, shape in shapes.items()}


def randomize(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) / (p.shape[-1] ** 0.5))


def save_as_if_on_gpu(obj, path):
    """torch.save recording every storage's location as "cuda:0"."""
    location_tag = torch.serialization.location_tag
    torch.serialization.location_tag = lambda storage: "cuda:0"
    try:
        torch.save(obj, path)
    finally:
        torch.serialization.location_tag = location_tag


def greedy(decoder, embeds, steps):
    tokens = []
    for _ in range(steps):
        logits = decoder(inputs_embeds=embeds).logits[0, -1]
        top2 = logits.topk(2).values
        assert top2[0] - top2[1] > 1e-3, "near tie: pick another seed"
        token = int(logits.argmax())
        tokens.append(token)
        embeds = torch.cat([embeds, decoder.get_input_embeddings()(torch.tensor([[token]]))], 1)
    return tokens


def main():
    out = sys.argv[1]
    torch.manual_seed(3000)
    torch.set_num_threads(1)
    decoder = LlamaForCausalLM(LlamaConfig(**DECODER)).eval()
    randomize(decoder)
    decoder.save_pretrained(os.path.join(out, "decoder"))

    cfg = dict(ICFORMER_DEFAULTS, **FORMER)
    w = former_weights(cfg)
    os.makedirs(os.path.join(out, "former"), exist_ok=True)
    ICFormerConfig(**FORMER).save_pretrained(os.path.join(out, "former"))
    save_file(w, os.path.join(out, "former", "model.safetensors"), metadata={"format": "pt"})
    C = cfg["hidden_size"]
    params = {name: torch.nn.Parameter(torch.randn(shape) / C ** 0.5)
              for name, shape in (("digest_embeddings", (1, K, C)), ("AE", (1, 1, C)),
                                  ("FT", (1, 1, C)))}
    save_as_if_on_gpu(params, os.path.join(out, "former", "param.pt"))
    noft = {"digest_embeddings": torch.nn.Parameter(torch.randn(1, K, C).bfloat16()),
            "AE": torch.nn.Parameter(torch.randn(1, 1, C).bfloat16()),
            "LM": torch.nn.Parameter(torch.randn(1, 1, C).bfloat16())}
    torch.save(noft, os.path.join(out, "param_noft.pt"))

    expected = {}
    for name, p in params.items():
        expected["param." + name] = p.detach().clone()
    for name, p in noft.items():
        expected["param_noft." + name] = p.detach().clone()
    embed = decoder.get_input_embeddings()
    V = DECODER["vocab_size"]
    with torch.no_grad():
        digest_embeddings = params["digest_embeddings"].detach()
        for n in LENGTHS:
            ids = torch.randint(0, V, (1, n))
            expected[f"context.{n}"] = ids[0].clone()
            expected[f"digests.{n}"] = compress(w, cfg, digest_embeddings, embed(ids))[0].clone()
        digests = expected[f"digests.{LENGTHS[-1]}"][None]                     # [1, P, C]
        for name, length in (("text", 7), ("prefix", 5), ("prompt", 4), ("suffix", 3)):
            expected[name] = torch.randint(0, V, (length,))
        ae, ft = params["AE"].detach(), params["FT"].detach()
        inputs = torch.cat([digests, ae, embed(expected["text"][None])], 1)
        expected["reconstruct_logits"] = decoder(inputs_embeds=inputs).logits.clone()
        inputs = torch.cat([embed(expected["prefix"][None]), digests, ft,
                            embed(expected["prompt"][None]), embed(expected["suffix"][None])], 1)
        expected["answer_logits"] = decoder(inputs_embeds=inputs).logits.clone()
        start = torch.cat([expected[f"digests.{L + 1}"][None], ae], 1)
        expected["reconstruct_tokens"] = torch.tensor(greedy(decoder, start, GREEDY_STEPS))
    # Not *.safetensors: nothing here is a checkpoint file.
    save_file({k: v.contiguous() for k, v in expected.items()}, os.path.join(out, "expected.tensors"))


if __name__ == "__main__":
    main()
