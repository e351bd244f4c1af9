#!/usr/bin/env bash
# RCC benchmark into docs/benchmarks.md (see rcc_benchmark.cc).
# Usage, from the repository root after deploy/setup.sh:
#   model/benchmarks/run_rcc_benchmark.sh [--threads=2] [--lengths=512,1024,2048,4096]
set -euo pipefail
bazel build //model/benchmarks:rcc_benchmark >&2
table="$(bazel-bin/model/benchmarks/rcc_benchmark "$@")"
echo "$table"
{
  echo "## RCC: compression and time to first token"
  echo
  echo "SmolLM2-135M-Instruct's shape as decoder and as encoder (the base model and a copy of it;"
  echo "projections random, not the 4x demo RCC's: neither time nor size depends"
  echo "on trained values), r = 32, W = 2048, memory stored in bfloat16, float32 compute, greedy."
  echo "Compression is paid once per session by Compress. TTFT RCC builds the decoder's memory"
  echo "prefix, prefills a 6-token prompt after it and samples one token; TTFT raw context"
  echo "prefills the whole context and the prompt with the same decoder. Raw KV is what the"
  echo "raw context's KV cache holds in float32 (30 layers x 2 x 3 KV heads x 64 x 4 bytes per"
  echo "token). Best of the repeats; measured $(date -u +%Y-%m-%d) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) ($(nproc) cores) with:"
  echo
  echo '```sh'
  echo "model/benchmarks/run_rcc_benchmark.sh $*"
  echo '```'
  echo
  echo "$table"
} | python3 model/benchmarks/write_section.py rcc-benchmark
