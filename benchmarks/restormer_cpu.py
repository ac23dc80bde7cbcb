"""Restormer on CPU: forward time at 128² and 256², peak RSS, and tiled inference of a large image.

Usage: ``python -m benchmarks.restormer_cpu [--quick] [--tiled-only] [--threads 2] [--tiled-size 2048] [--tile 256]
[--seam-tile 512]``.
Prints one JSON document. Each case runs in its own process so that its peak RSS is its own.
Default Restormer configuration (26.1 M parameters), batch 1, fp32, ``torch.inference_mode``.
"""

from __future__ import annotations

import argparse
import json

from benchmarks._cases_restormer import tiled_script
from benchmarks._common import PEAK_RSS, environment, load_average, run_isolated

# Each script tunes malloc as the command line does, so the numbers are those a user gets.
_FORWARD = PEAK_RSS + """
import json, time, torch
torch.set_num_threads({threads})
from restorefw._malloc import tune_malloc
tune_malloc()
from restorefw_restormer import Restormer
model = Restormer().eval()
x = torch.rand(1, 3, {size}, {size})
with torch.inference_mode():
    model(x)
    times = []
    for _ in range({repeats}):
        start = time.perf_counter(); model(x); times.append(time.perf_counter() - start)
print(json.dumps({{"size": {size}, "seconds_median": sorted(times)[len(times) // 2], "seconds": times,
                  "peak_rss_mb": peak_rss_mb()}}))
"""

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, 512² tiled image")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tiled-size", type=int, default=2048)
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--seam-tile", type=int, default=0,
                        help="restore the tiled image again with this tile and overlap 64, and report the difference")
    parser.add_argument("--tiled-only", action="store_true", help="skip the forward cases")
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    tiled_size = 512 if args.quick else args.tiled_size
    load_start = load_average()
    sizes = () if args.tiled_only else (128, 256)
    forward = [run_isolated(_FORWARD.format(threads=args.threads, size=size, repeats=repeats)) for size in sizes]
    tiled = run_isolated(tiled_script(args.threads, tiled_size, args.tile, other_tile=args.seam_tile))
    report = {
        "benchmark": "restormer_cpu",
        "config": "Restormer default (dim 48, blocks [4,6,6,8], 26,126,644 parameters), fp32, batch 1",
        "forward": forward,
        "tiled": tiled,
        "goals": {"tiled_peak_rss_mb_below": 4096,
                  "tiled_peak_rss_ok": isinstance(tiled.get("peak_rss_mb"), float) and tiled["peak_rss_mb"] < 4096,
                  "tiled_seam_max_abs_diff_below": 1e-3,
                  "tiled_seams_ok": tiled["seam_max_abs_diff"] < 1e-3 if "seam_max_abs_diff" in tiled else None},
        "environment": {**environment(), "load_average_start": load_start},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
