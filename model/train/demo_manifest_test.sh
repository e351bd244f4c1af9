#!/bin/bash
# Every shipped demo compressor (models/demo/*/) matches its manifest.json
# (sha256 and size of every file, config), and a tampered copy does not.
# Args: the .venv python, write_manifest.py, then files of models/demo.
set -euo pipefail
python="$1" manifest_tool="$2"
shift 2
dirs=$(for f in "$@"; do dirname "$f"; done | sort -u)
[[ -n "$dirs" ]] || { echo "no demo model directories given"; exit 1; }
# shellcheck disable=SC2086
"$python" -B "$manifest_tool" --check $dirs

for dir in $dirs; do
  copy="$TEST_TMPDIR/$(basename "$dir")"
  cp -rL "$dir" "$copy"
  chmod -R u+w "$copy"
  weights=$(ls "$copy"/*.safetensors | head -1)
  # Change byte 100 to a different value (same size: only the sha256 can tell).
  old=$(dd if="$weights" bs=1 skip=100 count=1 status=none)
  new=x; [[ "$old" == x ]] && new=y
  printf '%s' "$new" | dd of="$weights" bs=1 seek=100 conv=notrunc status=none
  if "$python" -B "$manifest_tool" --check "$copy" 2>"$TEST_TMPDIR/err"; then
    echo "FAIL: a tampered $(basename "$weights") in $(basename "$dir") passed the check"
    exit 1
  fi
  grep -q "sha256 differs" "$TEST_TMPDIR/err" || { cat "$TEST_TMPDIR/err"; exit 1; }
done
echo "tampered copies rejected"
