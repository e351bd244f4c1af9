"""Hugging Face transformers (PyTorch eager) side of the decoder benchmark.

Measures, on the given model directory and thread count, the same two numbers
as decoder_benchmark.cc: prefill tokens/s (one forward over B prompts of T
tokens) and decode tokens/s (B sequences, greedy, one token per step from the
KV cache). Prints one JSON object per configuration on stdout.

Usage: hf_decoder_benchmark.py MODEL_DIR --threads N --batch 1,8
           --prompt_tokens 256 --decode_tokens 64 --repeats 3
"""
import argparse
import json
import time

import torch
from transformers import LlamaForCausalLM


def best_of(repeats, fn):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--batch", default="1,8")
    parser.add_argument("--prompt_tokens", type=int, default=256)
    parser.add_argument("--decode_tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = LlamaForCausalLM.from_pretrained(
        args.model_dir, dtype=getattr(torch, args.dtype)).eval()
    vocab = model.config.vocab_size
    for batch in [int(b) for b in args.batch.split(",")]:
        prompt = torch.randint(100, vocab, (batch, args.prompt_tokens))

        def prefill():
            # Last-position logits only, as transformers' generate() asks.
            with torch.inference_mode():
                model(prompt, use_cache=True, logits_to_keep=1)

        def decode():
            with torch.inference_mode():
                out = model(prompt[:, :8], use_cache=True, logits_to_keep=1)
                past = out.past_key_values
                token = out.logits[:, -1].argmax(-1, keepdim=True)
                for _ in range(args.decode_tokens):
                    out = model(token, past_key_values=past, use_cache=True)
                    past = out.past_key_values
                    token = out.logits[:, -1].argmax(-1, keepdim=True)

        prefill()  # warm-up
        prefill_s = best_of(args.repeats, prefill)
        decode_s = best_of(args.repeats, decode)
        print(json.dumps({
            "engine": "transformers", "dtype": args.dtype, "batch": batch, "threads": args.threads,
            "prefill_tokens_per_s": batch * args.prompt_tokens / prefill_s,
            "decode_tokens_per_s": batch * args.decode_tokens / decode_s,
        }), flush=True)


if __name__ == "__main__":
    main()
