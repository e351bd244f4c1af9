"""A tiny random model over the GPT-NeoX vocabulary, for engine and
end-to-end tests: real tokenizer, real file layout, random weights.

Writes OUTPUT_DIR/decoder/ (Hugging Face GPT-NeoX config.json,
model.safetensors, tokenizer.json) and OUTPUT_DIR/rcc/ (rcc_config.json and
rcc.safetensors with gpt_neox.rcc_encoder.* and the projections, in the
released RCC schema). The outputs are gibberish; the plumbing is real.

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


if __name__ == "__main__":
    main()
