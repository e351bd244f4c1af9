#!/bin/bash
# Checks that the committed character-class table is what
# gen_unicode_classes.py makes from the Hugging Face tokenizers in .venv now:
# a tokenizers upgrade that changes the table fails here, not in production.
set -euo pipefail
if ! diff -u "$1" "$2" > /dev/null; then
  echo "internal/unicode_classes_table.inc is out of date; regenerate it with:"
  echo "  .venv/bin/python model/tokenizer/internal/gen_unicode_classes.py > model/tokenizer/internal/unicode_classes_table.inc"
  diff -u "$1" "$2" | head -40
  exit 1
fi
echo "unicode_classes_table.inc matches the reference"
