#!/bin/bash
# Runs the corpus builder's unit tests (standard library only, no downloads).
# Args: the .venv python, build_corpus_test.py.
set -euo pipefail
exec "$1" -B "$2"
