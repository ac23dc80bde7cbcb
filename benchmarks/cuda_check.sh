#!/usr/bin/env bash
# One prepared pass on a CUDA machine: install restorefw without network (wheels in .whl/ when the
# image lacks them), run the test suite (CUDA tests included) and the CUDA benchmarks.
# Output under $OUT (or ./cuda_check/): pytest.log and junit.xml, bench_cuda.json (the suite's cuda case),
# cuda_train.json (every precision x layout x compile choice, with a kernel profile), env.txt.
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
# Several workers with two threads each: the CPU-side tests would fight over the cores otherwise.
OMP_NUM_THREADS=2 timeout "${TEST_TIMEOUT:-240}" python3 -m pytest -q -p xdist -n "${WORKERS:-7}" -p no:cacheprovider \
  --timeout 200 -rfE --durations 15 --junitxml "$OUT/junit.xml" ${PYTEST_ARGS:-} >"$OUT/pytest.log" 2>&1
echo "pytest exit $?" >>"$OUT/pytest.log"
timeout "${BENCH_TIMEOUT:-100}" python3 -m benchmarks.run --only cuda --threads 8 >"$OUT/bench_cuda.json" 2>"$OUT/bench_cuda.err"
echo "bench exit $?" >>"$OUT/bench_cuda.err"
timeout "${TRAIN_TIMEOUT:-240}" python3 -m benchmarks.cuda_train --profile ${TRAIN_ARGS:-} >"$OUT/cuda_train.json" 2>"$OUT/cuda_train.err"
echo "cuda_train exit $?" >>"$OUT/cuda_train.err"
grep -E "^(FAILED|ERROR)|passed|failed|pytest exit" "$OUT/pytest.log" | tail -n 25
tail -n 3 "$OUT/bench_cuda.err" "$OUT/cuda_train.err"
python3 - "$OUT/cuda_train.json" <<'PY'
import json, sys
try:
    report = json.load(open(sys.argv[1]))
except Exception as exc:  # the report is missing when the script failed; the .err file says why
    print("no cuda_train report:", exc); sys.exit()
for row in report.get("rows", []):
    print({k: row.get(k) for k in ("precision", "channels_last", "compile", "train_images_per_s", "train_speedup",
                                   "infer_speedup", "peak_memory_gb", "first_step_s", "error")})
PY
