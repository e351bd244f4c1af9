#!/usr/bin/env bash
# Sets up (deploy/setup.sh), builds and runs every test: `bazel test //...`,
# then the end-to-end suite and the server's unit tests again under
# AddressSanitizer (with LeakSanitizer), the evidence that the PyPI libtorch
# and Debian's gRPC/Protobuf coexist in one process. Ends with one line
# "N passed, N failed" counting test cases (a target that fails to build or
# crashes counts as one failure). Exit status 0 only if everything passed.
#
# Usage: deploy/test.sh [extra bazel test flags]
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

deploy/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

jobs_flag=(--local_cpu_resources=HOST_CPUS)
status=0
echo "[test] bazel test //..."
bazel test "${jobs_flag[@]}" "$@" //... || status=1
python3 deploy/test_summary.py bazel-testlogs $(bazel query 'tests(//...)' 2>/dev/null) \
  > .test-summary-main.txt

asan_targets=(//tests:e2e_test //tests:e2e_security_test //tests:e2e_metrics_test
  //tests:e2e_batching_test //server/... //client/... //model:utf8_test
  //model/weights:safetensors_test //model/weights:safetensors_fuzz_test)
echo "[test] bazel test --config=asan ${asan_targets[*]}"
bazel test --config=asan "${jobs_flag[@]}" "$@" "${asan_targets[@]}" || status=1
python3 deploy/test_summary.py bazel-testlogs \
  $(bazel query "tests(set(${asan_targets[*]}))" 2>/dev/null) --label asan \
  > .test-summary-asan.txt

cat .test-summary-main.txt .test-summary-asan.txt | python3 deploy/test_summary.py --total
exit $status
