#!/bin/sh
# Runs ccs_example.py on Debian's /usr/bin/python3 with the stubs Bazel
# generated on PYTHONPATH (`bazel run //client/python:ccs_example -- ARGS`).
if [ -d "$0.runfiles/ccs" ]; then
  runfiles="$0.runfiles"
elif [ -n "${RUNFILES_DIR:-}" ]; then
  runfiles="$RUNFILES_DIR"
else
  runfiles="${TEST_SRCDIR:?cannot find the runfiles}"
fi
here="$runfiles/ccs/client/python"
PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" exec /usr/bin/python3 "$here/ccs_example.py" "$@"
