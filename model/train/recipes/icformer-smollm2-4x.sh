#!/usr/bin/env bash
# The recipe of models/demo/icformer-smollm2-4x: an IC-Former (3 layers,
# width 576, 9 heads / 3 KV heads, SwiGLU 1536; 32 digests per 128-token
# chunk = 4x) trained by autoencoding over the frozen SmolLM2-135M-Instruct,
# on the corpus of deploy/build_corpus.py. Rerunning it resumes from the
# newest checkpoint in data/train/icformer-ae. Run from the repository root
# after `deploy/setup.sh --corpus`.
set -euo pipefail
bazel build //model/train:train_icformer
common=(--out_dir=data/train/icformer-ae --steps=2000 --batch=8 --lr=5e-4 --warmup=100
        --chunk_tokens=128 --digests=32 --layers=3 --heads=9 --kv_heads=3 --intermediate=1536
        --seed=1234 --threads=2)
bazel-bin/model/train/train_icformer "${common[@]}" --checkpoint_every=50 --eval_every=100 \
  --eval_windows=32 --log_every=5 2>&1 | tee -a data/train/icformer-ae.log
bazel-bin/model/train/train_icformer "${common[@]}" --export_only \
  --export_dir=models/demo/icformer-smollm2-4x
.venv/bin/python model/train/write_manifest.py --model_dir=models/demo/icformer-smollm2-4x \
  --base_model_dir=models/smollm2-135m-instruct \
  --recipe_file=model/train/recipes/icformer-smollm2-4x.sh \
  --training_log=data/train/icformer-ae.log
