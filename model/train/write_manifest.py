#!/usr/bin/env python3
"""Writes manifest.json beside a trained compressor checkpoint.

The manifest says what the directory holds and how it was made, so that a
reader can check it and a maintainer can remake it:
  files       name -> sha256 and bytes (the manifest itself excluded)
  config      the checkpoint's config.json (IC-Former) or rcc_config.json (RCC)
  base_model  the decoder it was trained over: directory name and the sha256
              of its model.safetensors (deploy/build_base_model.py pins it)
  recipe      the commands that trained and exported it, verbatim
  training    facts read from the training log: steps, wall time, the last
              validation line
  evaluation  optional figures (a JSON file from model/eval)

Usage:
  write_manifest.py --model_dir=models/demo/icformer-smollm2-4x \
      --base_model_dir=models/smollm2-135m-instruct \
      --recipe_file=model/train/recipes/icformer-smollm2-4x.sh \
      --training_log=data/train/icformer-ae.log
"""
import argparse
import hashlib
import json
import pathlib
import re
import sys


def sha256_of(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def training_facts(log_text: str) -> dict:
    """The last progress line's step and elapsed time, and the last eval line."""
    facts = {}
    progress = re.findall(r"^step (\d+)/(\d+) .* elapsed (\S+) eta (\S+)$", log_text, re.M)
    if progress:
        step, total, elapsed, _ = progress[-1]
        facts.update(step=int(step), planned_steps=int(total),
                     elapsed_this_process=elapsed)
    resumes = re.findall(r"^resumed from \S+ at step (\d+)$", log_text, re.M)
    facts["resumed_at_steps"] = [int(s) for s in resumes]
    evals = re.findall(r"^eval step (\d+): (.*)$", log_text, re.M)
    if evals:
        facts["last_validation"] = {"step": int(evals[-1][0]), "result": evals[-1][1]}
        facts["validation_history"] = [{"step": int(s), "result": r} for s, r in evals]
    return facts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model_dir", required=True)
    parser.add_argument("--base_model_dir", required=True)
    parser.add_argument("--recipe_file", required=True)
    parser.add_argument("--training_log", action="append", default=[],
                        help="training logs, in order (repeatable)")
    parser.add_argument("--evaluation", help="a JSON file of evaluation figures")
    args = parser.parse_args()

    model_dir = pathlib.Path(args.model_dir)
    base_dir = pathlib.Path(args.base_model_dir)
    files = {}
    for path in sorted(model_dir.iterdir()):
        if path.is_file() and path.name != "manifest.json":
            files[path.name] = {"sha256": sha256_of(path), "bytes": path.stat().st_size}
    # An IC-Former directory has config.json; an RCC one has rcc_config.json.
    config_path = model_dir / "config.json"
    if not config_path.exists():
        config_path = model_dir / "rcc_config.json"
    manifest = {
        "files": files,
        "config": json.loads(config_path.read_text()),
        "base_model": {
            "directory": base_dir.name,
            "model.safetensors sha256": sha256_of(base_dir / "model.safetensors"),
        },
        "recipe": pathlib.Path(args.recipe_file).read_text(),
        "training": [training_facts(pathlib.Path(p).read_text()) for p in args.training_log],
    }
    if args.evaluation:
        manifest["evaluation"] = json.loads(pathlib.Path(args.evaluation).read_text())
    (model_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {model_dir / 'manifest.json'} ({len(files)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
