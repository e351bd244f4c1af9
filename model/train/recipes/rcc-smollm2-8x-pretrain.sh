#!/usr/bin/env bash
# An 8x RCC for measuring the 8x reconstruction target, not a shipped demo:
# stage 1 (pretrain) of rcc-smollm2-4x.sh with one memory slot per 8 tokens
# (--ratio=8) and 400 steps instead of 600 (the time one session had), then
# the evaluation's window reconstruction at 8x. Same encoder (SmolLM2's first
# 5 layers) and projections, same 256-token windows of two 128-token encoder
# segments, half reconstructed and half continued. Cost, measured on the
# development machine (docs/training.md, session 6): 1 h 02 min for the 400
# steps (about 8 s per step, 10 minutes of it shared with a test run), 4 min
# for the evaluation. Run from the repository root after `deploy/setup.sh --corpus`;
# rerunning resumes from the newest checkpoint in data/train/rcc8-pretrain.
set -euo pipefail
bazel build //model/train:train_rcc //model/eval:evaluate
mkdir -p data/train
bazel-bin/model/train/train_rcc --ratio=8 --segment_tokens=128 --context_tokens=256 \
  --storage_dtype=bfloat16 --seed=1234 --threads=2 --batch=4 --encoder_layers=5 \
  --stage=pretrain --out_dir=data/train/rcc8-pretrain \
  --steps=400 --lr=5e-4 --warmup=30 --continuation_tokens=128 --reconstruct_share=0.5 \
  --checkpoint_every=25 --eval_every=100 --eval_windows=16 --log_every=5 \
  --export_dir=data/train/rcc8-pretrain-export 2>&1 | tee -a data/train/rcc8-pretrain.log
bazel-bin/model/eval/evaluate --rcc_dir=data/train/rcc8-pretrain-export \
  --metrics=reconstruction,documents --reconstruction_lengths=128,256,512 \
  --reconstruction_samples=8 --document_samples=24 --threads=2 \
  --label="RCC 8x, pretrain only (400 steps)" --out=docs/evaluation/rcc-8x-pretrain.json
