#!/usr/bin/env bash
# The recipe of models/demo/rcc-smollm2-4x: an RCC over the frozen
# SmolLM2-135M-Instruct whose encoder is a copy of SmolLM2's first 5 layers
# (and final norm) over SmolLM2's own token embedding
# (encoder_shares_decoder_embedding, encoder_layers = 5), trained together
# with the projections: rcc_encoder2gpt_embed and 30 A matrices, 576 x 576
# each. 28 M parameters are learned and shipped (about 56 MB in bfloat16).
# Each of the decoder's 30 layers reads one of the encoder's 5 states (6
# layers per state, the paper's duplication rule). One memory slot per 4
# tokens (r = 4), encoder segments of 128 tokens, memory stored in bfloat16.
#   1. pretrain: 256-token windows of the corpus of deploy/build_corpus.py
#      (two encoder segments each), half of them reconstructed after the
#      reconstruct prompt, half continued for the next 128 tokens (the RCC
#      paper's two objectives);
#   2. instruct: passkeys (in 256, 512 or 1024 tokens), dictionary entries
#      and verses, answered in the layout the server uses, a quarter of them
#      with instruction reconstruction, and a quarter of the examples
#      replayed pretraining reconstructions;
#   3. instruct again from stage 2's export, with fresh draws (another seed)
#      and passkeys weighted double (--instruct_kinds: half the batches are
#      passkeys), at a lower learning rate;
#   4. instruct again from stage 3's export (another seed), half the examples
#      replayed reconstructions and half of those short texts
#      (--replay_short_share: whole corpus documents of 8 to 256 tokens, or a
#      window's first 16 to 256 tokens), so that Reconstruct learns where a
#      short text begins and ends; stage 3 stopped after one token on a
#      short paragraph.
# Cost, measured on the 2 free cores of the development machine (docs/training.md):
# a pretraining step of 4 x 256 tokens took 6.8 s, so the 600
# pretraining steps took 1 h 08 min, the 120 instruct steps 12 min, and the
# 500 steps of stage 3 1 h 12 min (about 7.5 s per step), the 400 steps of
# stage 4 48 min (about 7 s per step): about 3 h 20 min in all.
# Rerunning the script resumes each stage from its newest checkpoint in
# data/train/. Run from the repository root after `deploy/setup.sh --corpus`.
set -euo pipefail
bazel build //model/train:train_rcc
mkdir -p data/train
model=(--ratio=4 --segment_tokens=128 --context_tokens=256 --storage_dtype=bfloat16
       --seed=1234 --threads=2 --batch=4 --encoder_layers=5)
bazel-bin/model/train/train_rcc "${model[@]}" --stage=pretrain --out_dir=data/train/rcc5-pretrain \
  --steps=600 --lr=5e-4 --warmup=30 --continuation_tokens=128 --reconstruct_share=0.5 \
  --checkpoint_every=25 --eval_every=100 --eval_windows=16 --log_every=5 \
  --export_dir=data/train/rcc5-pretrain-export 2>&1 | tee -a data/train/rcc5-pretrain.log
bazel-bin/model/train/train_rcc "${model[@]}" --stage=instruct --out_dir=data/train/rcc5-instruct \
  --init_from=data/train/rcc5-pretrain-export --steps=120 --lr=3e-4 --warmup=10 \
  --instruction_reconstruction_share=0.25 --reconstruction_replay_share=0.25 \
  --checkpoint_every=10 --eval_every=60 --log_every=5 \
  2>&1 | tee -a data/train/rcc5-instruct.log
bazel-bin/model/train/train_rcc "${model[@]}" --stage=instruct --out_dir=data/train/rcc5-instruct \
  --steps=120 --export_only --export_dir=data/train/rcc5-instruct-export
bazel-bin/model/train/train_rcc "${model[@]/--seed=1234/--seed=4321}" --stage=instruct \
  --out_dir=data/train/rcc5-passkey --init_from=data/train/rcc5-instruct-export \
  --steps=500 --lr=2e-4 --warmup=10 --instruct_kinds=passkey,passkey,dictionary,verse \
  --instruction_reconstruction_share=0.25 --reconstruction_replay_share=0.25 \
  --checkpoint_every=25 --eval_every=125 --log_every=5 \
  2>&1 | tee -a data/train/rcc5-passkey.log
bazel-bin/model/train/train_rcc "${model[@]/--seed=1234/--seed=4321}" --stage=instruct \
  --out_dir=data/train/rcc5-passkey --steps=500 --export_only \
  --export_dir=data/train/rcc5-passkey-export
bazel-bin/model/train/train_rcc "${model[@]/--seed=1234/--seed=5678}" --stage=instruct \
  --out_dir=data/train/rcc5-short --init_from=data/train/rcc5-passkey-export \
  --steps=400 --lr=1e-4 --warmup=10 --instruct_kinds=passkey,dictionary,verse \
  --instruction_reconstruction_share=0.25 --reconstruction_replay_share=0.5 \
  --replay_short_share=0.5 --checkpoint_every=25 --eval_every=100 --log_every=5 \
  2>&1 | tee -a data/train/rcc5-short.log
bazel-bin/model/train/train_rcc "${model[@]/--seed=1234/--seed=5678}" --stage=instruct \
  --out_dir=data/train/rcc5-short --steps=400 --export_only \
  --export_dir=models/demo/rcc-smollm2-4x
.venv/bin/python model/train/write_manifest.py --model_dir=models/demo/rcc-smollm2-4x \
  --base_model_dir=models/smollm2-135m-instruct \
  --recipe_file=model/train/recipes/rcc-smollm2-4x.sh \
  --training_log=data/train/rcc5-pretrain.log --training_log=data/train/rcc5-instruct.log \
  --training_log=data/train/rcc5-passkey.log --training_log=data/train/rcc5-short.log
