#!/usr/bin/env bash
# One prepared pass on a CUDA machine: install restorefw without network (wheels in .whl/ when the
# image lacks them), run the test suite (CUDA tests included) and the CUDA benchmark cases.
# Output: $OUT/pytest.log, $OUT/bench_cuda.json, $OUT/env.txt (or ./cuda_check/ without $OUT).
set -uo pipefail
OUT=${OUT:-$PWD/cuda_check}
mkdir -p "$OUT"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . -e contrib/restorefw-jpeg \
  -e contrib/restorefw-motion-blur -e contrib/restorefw-segmentation -e contrib/restorefw-triton-ops \
  >"$OUT/install.log" 2>&1 || { tail -n 20 "$OUT/install.log"; exit 1; }
{ nvidia-smi; python3 -c 'import torch, sys; print(sys.version); print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))'; lscpu | grep -E "Model name|Flags" | cut -c1-400; } >"$OUT/env.txt" 2>&1
export PYTHONUNBUFFERED=1
timeout "${TEST_TIMEOUT:-300}" python3 -m pytest -q -p xdist -n "${WORKERS:-12}" -p no:cacheprovider ${PYTEST_ARGS:-} >"$OUT/pytest.log" 2>&1
echo "pytest exit $?" >>"$OUT/pytest.log"
timeout "${BENCH_TIMEOUT:-150}" python3 -m benchmarks.run --only "${CASES:-cuda}" --threads 8 >"$OUT/bench_cuda.json" 2>"$OUT/bench_cuda.err"
echo "bench exit $?" >>"$OUT/bench_cuda.err"
tail -n 25 "$OUT/pytest.log"; tail -n 5 "$OUT/bench_cuda.err"
python3 - "$OUT/bench_cuda.json" <<'PY'
import json, sys
try:
    rows = json.load(open(sys.argv[1]))["results"]
except Exception as exc:  # the report is missing when the suite failed; the .err file says why
    print("no benchmark report:", exc); sys.exit()
for r in rows:
    print({k: r.get(k) for k in ("name", "restorefw", "reference", "ratio", "goal_met", "skipped")})
PY
