#!/usr/bin/env bash
# Sets up (deploy/setup.sh), builds the server and the CLI, and runs the
# server in the foreground on its default model. Extra arguments go to the
# server, e.g.  deploy/run.sh --listen=0.0.0.0:50051 --threads=2
# Stop it with Ctrl-C (SIGINT) or SIGTERM: in-flight calls drain first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

deploy/setup.sh
echo "[run] building //server:ccs_server and //client:ccs"
bazel build //server:ccs_server //client:ccs
echo "[run] starting the server; in another terminal: bazel-bin/client/ccs health"
# The default model: SmolLM2-135M-Instruct as deploy/setup.sh builds it.
# Sessions persist in data/ (a RocksDB database in data/sessions, git-ignored)
# across restarts; --data_dir= (empty) keeps them in RAM only.
# Later flags win, so "$@" can override any of these.
# Metrics, /healthz and /readyz: http://localhost:9090/metrics.
# The demo compressors trained by this project's recipes (models/demo/, in the
# repository; see docs/training.md) are loaded on top of it: RCC (what
# METHOD_AUTO picks) and IC-Former (the low-latency path).
exec bazel-bin/server/ccs_server --metrics_port=9090 \
  --model_dir="$root/models/smollm2-135m-instruct" --model_name=smollm2-135m-instruct \
  --rcc_dir="$root/models/demo/rcc-smollm2-4x" \
  --icformer_dir="$root/models/demo/icformer-smollm2-4x" \
  --data_dir="$root/data" "$@"
