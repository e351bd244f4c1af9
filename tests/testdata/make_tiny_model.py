"""A tiny random model over the GPT-NeoX vocabulary, for engine and
end-to-end tests: real tokenizer, real file layout, random weights.

Writes OUTPUT_DIR/decoder/ (Hugging Face GPT-NeoX config.json,
model.safetensors, tokenizer.json) and OUTPUT_DIR/rcc/ (rcc_config.json and
rcc.safetensors with gpt_neox.rcc_encoder.* and the projections, in the
released RCC schema) and OUTPUT_DIR/icformer/ (the former's config.json and
model.safetensors with the published names, param.pt with the digest
embeddings, AE and FT) and OUTPUT_DIR/rcc_shared/ (an RCC whose encoder is
the decoder itself, as this project trains them: rcc_config.json with
encoder_shares_decoder_weights and only the projections). The outputs are
gibberish; the plumbing is real.

Usage: make_tiny_model.py TOKENIZER_JSON OUTPUT_DIR
"""
import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

R, W = 4, 32


def main():
    tokenizer_json, out = sys.argv[1], sys.argv[2]
    torch.manual_seed(7)
    torch.set_num_threads(1)
    config = GPTNeoXConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=64, vocab_size=50304, rotary_pct=0.25,
                           max_position_embeddings=4096, tie_word_embeddings=False,
                           eos_token_id=0, bos_token_id=0)
    decoder, encoder = GPTNeoXForCausalLM(config).eval(), GPTNeoXForCausalLM(config).eval()
    os.makedirs(os.path.join(out, "decoder"), exist_ok=True)
    os.makedirs(os.path.join(out, "rcc"), exist_ok=True)
    decoder.save_pretrained(os.path.join(out, "decoder"), safe_serialization=True)
    shutil.copy(tokenizer_json, os.path.join(out, "decoder", "tokenizer.json"))
    rcc = {"gpt_neox.rcc_encoder." + k: v.contiguous() for k, v in encoder.state_dict().items()}
    rcc["gpt_neox.rcc_encoder2gpt_embed.weight"] = torch.randn(32, 32) / 6
    for i in range(2):
        rcc[f"gpt_neox.rcc_encoder2gpt_A_matrix.{i}.weight"] = torch.randn(32, 32) / 6
    save_file(rcc, os.path.join(out, "rcc", "rcc.safetensors"))
    with open(os.path.join(out, "rcc", "rcc_config.json"), "w") as f:
        json.dump({"compression_ratio": R, "segment_tokens": W, "placeholder_token_id": 1,
                   "storage_dtype": "float32"}, f)
    write_icformer(os.path.join(out, "icformer"))
    write_shared_rcc(os.path.join(out, "rcc_shared"))


def write_shared_rcc(out, hidden=32, layers=2):
    os.makedirs(out, exist_ok=True)
    rcc = {"gpt_neox.rcc_encoder2gpt_embed.weight": torch.eye(hidden) + torch.randn(hidden, hidden) / 20}
    for i in range(layers):
        rcc[f"gpt_neox.rcc_encoder2gpt_A_matrix.{i}.weight"] = torch.randn(hidden, hidden) / 6
    save_file(rcc, os.path.join(out, "rcc.safetensors"))
    with open(os.path.join(out, "rcc_config.json"), "w") as f:
        json.dump({"compression_ratio": R, "segment_tokens": W, "placeholder_token_id": 1,
                   "storage_dtype": "float32", "encoder_shares_decoder_weights": True}, f)


def write_icformer(out, hidden=32, layers=2, heads=4, kv_heads=2, inter=48, digests=4):
    os.makedirs(out, exist_ok=True)
    head = hidden // heads
    former = {"encoder.norm.weight": 1 + 0.1 * torch.randn(hidden)}
    for n in range(layers):
        p = f"encoder.layers.{n}."
        former[p + "cross_attn.q_proj.weight"] = torch.randn(heads * head, hidden) / 6
        former[p + "cross_attn.k_proj.weight"] = torch.randn(kv_heads * head, hidden) / 6
        former[p + "cross_attn.v_proj.weight"] = torch.randn(kv_heads * head, hidden) / 6
        former[p + "cross_attn.o_proj.weight"] = torch.randn(hidden, heads * head) / 6
        for norm in ("cross_input_layernorm", "context_layernorm", "post_attention_layernorm"):
            former[p + norm + ".weight"] = 1 + 0.1 * torch.randn(hidden)
        former[p + "mlp.gate_proj.weight"] = torch.randn(inter, hidden) / 6
        former[p + "mlp.up_proj.weight"] = torch.randn(inter, hidden) / 6
        former[p + "mlp.down_proj.weight"] = torch.randn(hidden, inter) / 7
    save_file(former, os.path.join(out, "model.safetensors"))
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump({"model_type": "icformer", "hidden_size": hidden, "context_hidden_size": hidden,
                   "num_hidden_layers": layers, "num_attention_heads": heads,
                   "num_key_value_heads": kv_heads, "intermediate_size": inter,
                   "num_query_tokens": digests, "max_chunk_len": 16, "hidden_act": "silu",
                   "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "rope_scaling": None,
                   "attention_bias": False, "cross_attention_frequency": 1,
                   "max_position_embeddings": 2048,
                   "answer_prefix": "<|endoftext|>Answer from the text:\n\n",
                   "answer_suffix": "\nAnswer:"}, f)
    torch.save({"digest_embeddings": torch.randn(1, digests, hidden) / 4,
                "AE": torch.randn(1, 1, hidden) / 4, "FT": torch.randn(1, 1, hidden) / 4},
               os.path.join(out, "param.pt"))


if __name__ == "__main__":
    main()
