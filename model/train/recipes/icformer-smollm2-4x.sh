#!/usr/bin/env bash
# The recipe of models/demo/icformer-smollm2-4x: an IC-Former (3 layers,
# width 576, 9 heads / 3 KV heads, SwiGLU 1536; 32 digests per 128-token
# chunk = 4x) over the frozen SmolLM2-135M-Instruct, on the corpus of
# deploy/build_corpus.py: (1) autoencoding (stage ae), then (2) question
# answering (stage ft: passkeys, dictionary definitions, verses) from the
# last AE checkpoint. Rerunning it resumes each stage from its newest
# checkpoint. Run from the repository root after `deploy/setup.sh --corpus`.
# docs/training.md says how much of it has been run so far.
set -euo pipefail
bazel build //model/train:train_icformer
common=(--out_dir=data/train/icformer-ae --steps=2000 --batch=8 --lr=5e-4 --warmup=100
        --chunk_tokens=128 --digests=32 --layers=3 --heads=9 --kv_heads=3 --intermediate=1536
        --seed=1234 --threads=2)
bazel-bin/model/train/train_icformer "${common[@]}" --checkpoint_every=50 --eval_every=100 \
  --eval_windows=32 --log_every=5 2>&1 | tee -a data/train/icformer-ae.log
latest_ae="data/train/icformer-ae/$(cat data/train/icformer-ae/LATEST)"
rm -rf data/train/icformer-ae-final && cp -r "$latest_ae" data/train/icformer-ae-final
ft=(--stage=ft --init_from=data/train/icformer-ae-final --out_dir=data/train/icformer-ft
    --steps=150 --batch=8 --lr=3e-4 --warmup=10 --seed=1234 --threads=2)
bazel-bin/model/train/train_icformer "${ft[@]}" --checkpoint_every=10 --eval_every=50 \
  --log_every=5 2>&1 | tee -a data/train/icformer-ft.log
bazel-bin/model/train/train_icformer "${ft[@]}" --export_only \
  --export_dir=models/demo/icformer-smollm2-4x
.venv/bin/python model/train/write_manifest.py --model_dir=models/demo/icformer-smollm2-4x \
  --base_model_dir=models/smollm2-135m-instruct \
  --recipe_file=model/train/recipes/icformer-smollm2-4x.sh \
  --training_log=data/train/icformer-ae.log --training_log=data/train/icformer-ft.log
