"""Runs the decoder benchmark: the C++ engine and Hugging Face transformers on
the same weights and thread count, one after the other in one run, and writes
the table into docs/benchmarks.md (between this benchmark's markers).

Usage (from the repository root, after deploy/setup.sh):
  bazel build //model/benchmarks:decoder_benchmark
  .venv/bin/python model/benchmarks/run_decoder_benchmark.py [--threads 2] [--repeats 3]
"""
import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys

MARK_BEGIN = "<!-- decoder-benchmark:begin -->"
MARK_END = "<!-- decoder-benchmark:end -->"


def run(command):
    print("+", " ".join(command), file=sys.stderr, flush=True)
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model_dir", default="models/smollm2-135m-instruct")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", default="1,8")
    parser.add_argument("--prompt_tokens", type=int, default=256)
    parser.add_argument("--decode_tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default="docs/benchmarks.md")
    args = parser.parse_args()

    common = [f"--threads={args.threads}", f"--batch={args.batch}",
              f"--prompt_tokens={args.prompt_tokens}", f"--decode_tokens={args.decode_tokens}",
              f"--repeats={args.repeats}"]
    rows = []
    for dtype in ("float32", "bfloat16"):
        rows += run(["bazel-bin/model/benchmarks/decoder_benchmark",
                     f"--model_dir={args.model_dir}", f"--dtype={dtype}"] + common)
        rows += run([sys.executable, "model/benchmarks/hf_decoder_benchmark.py", args.model_dir,
                     "--dtype", dtype] +
                    ["--threads", str(args.threads), "--batch", args.batch,
                     "--prompt_tokens", str(args.prompt_tokens),
                     "--decode_tokens", str(args.decode_tokens), "--repeats", str(args.repeats)])

    def find(engine, dtype, batch):
        return next(r for r in rows if r["engine"] == engine and r["dtype"] == dtype
                    and r["batch"] == batch)

    lines = [
        "| dtype | batch | prefill tok/s ccs | prefill tok/s transformers | ratio "
        "| decode tok/s ccs | decode tok/s transformers | ratio |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for dtype in ("float32", "bfloat16"):
        for batch in [int(b) for b in args.batch.split(",")]:
            c, h = find("ccs", dtype, batch), find("transformers", dtype, batch)
            lines.append(
                f"| {dtype} | {batch} | {c['prefill_tokens_per_s']:.0f} | "
                f"{h['prefill_tokens_per_s']:.0f} | "
                f"{c['prefill_tokens_per_s'] / h['prefill_tokens_per_s']:.2f}x | "
                f"{c['decode_tokens_per_s']:.1f} | {h['decode_tokens_per_s']:.1f} | "
                f"{c['decode_tokens_per_s'] / h['decode_tokens_per_s']:.2f}x |")
    table = "\n".join(lines)
    print(table)

    section = "\n".join([
        MARK_BEGIN,
        "## Decoder: C++ engine vs Hugging Face transformers",
        "",
        f"SmolLM2-135M-Instruct (the base model deploy/setup.sh builds), {args.threads} "
        f"threads, prefill of {args.prompt_tokens} random tokens (last-position logits, as "
        f"generation needs), decode of {args.decode_tokens} greedy tokens per sequence from "
        f"an 8-token prompt over the KV cache; best of {args.repeats} after a warm-up. "
        "transformers runs PyTorch eager on the same weights (same libtorch 2.9.1).",
        "",
        f"Measured {datetime.date.today().isoformat()} on {cpu_name()} "
        f"({os.cpu_count()} cores) with:",
        "",
        "```sh",
        "bazel build //model/benchmarks:decoder_benchmark",
        f".venv/bin/python model/benchmarks/run_decoder_benchmark.py --threads {args.threads} "
        f"--repeats {args.repeats}",
        "```",
        "",
        table,
        MARK_END,
    ])
    text = open(args.output).read() if os.path.exists(args.output) else \
        "# Benchmarks\n\nEvery figure here comes from a command in the repository, named " \
        "beside it. Ratios are measured in one run on one machine; absolute times on these " \
        "shared machines are noisy.\n"
    if MARK_BEGIN in text:
        text = re.sub(re.escape(MARK_BEGIN) + ".*?" + re.escape(MARK_END), lambda _: section,
                      text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    open(args.output, "w").write(text)
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
