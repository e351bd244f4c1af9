#!/bin/bash
# A file written by the C++ WriteSafetensors loads in the Python safetensors
# library, identical to what that library would write.
# Args: write_cc_fixture, the .venv python, check_cc_fixture.py.
set -euo pipefail
out="${TEST_TMPDIR}/cc_fixture"
mkdir -p "${out}"
"$1" "${out}"
"$2" "$3" "${out}"
