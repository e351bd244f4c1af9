#!/usr/bin/env bash
# Runs the evaluation (model/eval/evaluate) with the documented settings and
# writes docs/evaluation.md, docs/evaluation/*.png, docs/evaluation/evaluation.json
# and the headline table in README.md's "Evaluation" section.
# From the repository root, after deploy/setup.sh --corpus:
#
#   model/eval/run_evaluation.sh [--icformer_dir=DIR] [--rcc_dir=DIR] [--label=TEXT] [evaluate flags]
#
# Any flag of `evaluate` may be given to override the defaults below (later
# flags win). The IC-Former and RCC are measured when their directories are
# given. Needs gnuplot (Debian's gnuplot-nox) for the plots.
set -euo pipefail
bazel build //model/eval:evaluate >&2
mkdir -p docs/evaluation
json=docs/evaluation/evaluation.json
defaults=(
  --decoder_dir=models/smollm2-135m-instruct
  --corpus_dir=data/corpus
  --threads=2
  --seed=1
  --batch=8
  --reconstruction_lengths=128,256,512
  --reconstruction_samples=8
  --document_samples=12
  --document_max_tokens=256
  --passkey_lengths=1024,2048,4096,8192,16384,32768,65536
  --passkey_samples=5
  --append_tokens=512
  --qa_samples=20
  --qa_context_items=4
  --perplexity_window=256
  --perplexity_samples=8
  --speed_lengths=512,2048,8192
  --speed_repeats=3
)
bazel-bin/model/eval/evaluate "${defaults[@]}" "$@" --out="$json"
command="model/eval/run_evaluation.sh"
for arg in "$@"; do command+=" $(printf '%q' "$arg")"; done
python3 model/eval/write_report.py "$json" --docs=docs --readme=README.md --command="$command"
echo "wrote docs/evaluation.md, docs/evaluation/*.png and README.md's Evaluation section" >&2
