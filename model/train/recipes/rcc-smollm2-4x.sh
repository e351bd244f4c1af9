#!/usr/bin/env bash
# The recipe of models/demo/rcc-smollm2-4x: an RCC over the frozen
# SmolLM2-135M-Instruct whose encoder is SmolLM2 itself
# (encoder_shares_decoder_weights), so that only the projections are learned
# and shipped: rcc_encoder2gpt_embed and 30 A matrices, 576 x 576 each
# (about 20 MB in bfloat16). One memory slot per 4 tokens (r = 4), encoder
# segments of 128 tokens, memory stored in bfloat16.
#   1. pretrain: 128-token windows of the corpus of deploy/build_corpus.py,
#      half of them reconstructed after the reconstruct prompt, half
#      continued for the next 128 tokens (the RCC paper's two objectives);
#   2. instruct: passkeys (in 128, 256 or 512 tokens), dictionary entries and
#      verses, answered in the layout the server uses, a quarter of them with
#      instruction reconstruction.
# Cost, measured on the 2 free cores of the development machine (docs/training.md):
# a pretraining step of 8 x 128 tokens takes about 7 s (150 tokens/s), so the
# 650 pretraining steps take about 1 h 15 min.
# Rerunning the script resumes each stage from its newest checkpoint in
# data/train/. Run from the repository root after `deploy/setup.sh --corpus`.
set -euo pipefail
bazel build //model/train:train_rcc
mkdir -p data/train
model=(--ratio=4 --segment_tokens=128 --context_tokens=128 --storage_dtype=bfloat16
       --seed=1234 --threads=2 --batch=8)
bazel-bin/model/train/train_rcc "${model[@]}" --stage=pretrain --out_dir=data/train/rcc-pretrain \
  --steps=650 --lr=5e-4 --warmup=30 --continuation_tokens=128 --reconstruct_share=0.5 \
  --checkpoint_every=25 --eval_every=100 --eval_windows=16 --log_every=5 \
  --export_dir=data/train/rcc-pretrain-export 2>&1 | tee -a data/train/rcc-pretrain.log
bazel-bin/model/train/train_rcc "${model[@]}" --stage=instruct --out_dir=data/train/rcc-instruct \
  --init_from=data/train/rcc-pretrain-export --steps=150 --lr=3e-4 --warmup=10 \
  --instruction_reconstruction_share=0.25 --reconstruction_replay_share=0.25 \
  --checkpoint_every=10 --eval_every=50 --log_every=5 \
  2>&1 | tee -a data/train/rcc-instruct.log
bazel-bin/model/train/train_rcc "${model[@]}" --stage=instruct --out_dir=data/train/rcc-instruct \
  --steps=150 --export_only --export_dir=models/demo/rcc-smollm2-4x
.venv/bin/python model/train/write_manifest.py --model_dir=models/demo/rcc-smollm2-4x \
  --base_model_dir=models/smollm2-135m-instruct \
  --recipe_file=model/train/recipes/rcc-smollm2-4x.sh \
  --training_log=data/train/rcc-pretrain.log --training_log=data/train/rcc-instruct.log
