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
  write_manifest.py --check DIR...   # exit 1 unless each DIR matches its manifest
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


def config_path_of(model_dir: pathlib.Path) -> pathlib.Path:
    """An IC-Former directory has config.json; an RCC one has rcc_config.json."""
    config_path = model_dir / "config.json"
    return config_path if config_path.exists() else model_dir / "rcc_config.json"


def check(model_dir: pathlib.Path) -> list:
    """What in model_dir disagrees with its manifest.json (empty: nothing)."""
    manifest_path = model_dir / "manifest.json"
    if not manifest_path.exists():
        return [f"{model_dir}: no manifest.json"]
    manifest = json.loads(manifest_path.read_text())
    problems = []
    listed = manifest.get("files", {})
    present = {p.name for p in model_dir.iterdir() if p.is_file() and p.name != "manifest.json"}
    for name in sorted(present - set(listed)):
        problems.append(f"{model_dir}/{name}: not in the manifest")
    for name, entry in sorted(listed.items()):
        path = model_dir / name
        if not path.exists():
            problems.append(f"{path}: listed in the manifest but missing")
            continue
        if path.stat().st_size != entry["bytes"]:
            problems.append(f"{path}: {path.stat().st_size} bytes, manifest says {entry['bytes']}")
        elif sha256_of(path) != entry["sha256"]:
            problems.append(f"{path}: sha256 differs from the manifest's")
    config_path = config_path_of(model_dir)
    if not config_path.exists() or json.loads(config_path.read_text()) != manifest.get("config"):
        problems.append(f"{config_path}: differs from the manifest's config")
    for key in ("base_model", "recipe", "training"):
        if not manifest.get(key):
            problems.append(f"{manifest_path}: no {key}")
    return problems


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        if len(sys.argv) == 2:
            print("--check needs at least one model directory", file=sys.stderr)
            return 2
        problems = [p for d in sys.argv[2:] for p in check(pathlib.Path(d))]
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{len(sys.argv) - 2} model directories checked, {len(problems)} problems")
        return 1 if problems else 0
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
    config_path = config_path_of(model_dir)
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
