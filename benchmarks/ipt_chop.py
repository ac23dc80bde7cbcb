"""IPT's batched chop on a large image with the full body, against one tile per forward call.

Usage: ``python -m benchmarks.ipt_chop [--size 256] [--threads 2] [--body full|tiny]``.
Prints one JSON document. Each side runs once, restorefw's first (so it also pays the warm-up; a
full-body pass over 256² is 361 tiles of about 60 GFLOP), and the outputs of those runs are
compared; the suite's ``ipt_chop`` case runs the full body on a 72² image instead.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from benchmarks._cases_plugins import IPT_TINY, one_tile_at_a_time
from benchmarks._common import environment, result_row


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--body", choices=["full", "tiny"], default="full")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from restorefw._malloc import tune_malloc

    tune_malloc()
    from restorefw_ipt import IPT, IPTConfig

    torch.manual_seed(0)
    model = IPT(IPTConfig(**(IPT_TINY if args.body == "tiny" else {}), scales=[2])).eval()
    x = torch.rand(1, 3, args.size, args.size)
    outputs, seconds = {}, {}
    with torch.inference_mode():
        for side, run in (("restorefw", lambda: model(x)), ("reference", lambda: one_tile_at_a_time(model, x))):
            start = time.perf_counter()
            outputs[side] = run()
            seconds[side] = time.perf_counter() - start
    diff = (outputs["restorefw"] - outputs["reference"]).abs().max().item()
    row = result_row(f"ipt_chop_{args.body}_{args.size}", "s", seconds["restorefw"], seconds["reference"],
                     body=args.body, parameters=sum(p.numel() for p in model.parameters()),
                     chop_batch=model.config.chop_batch,
                     max_abs_diff=diff, outputs_agree=diff <= 1e-4,
                     reference_is="the same chop, one tile per forward call")
    print(json.dumps({"benchmark": "ipt_chop", "results": [row], "environment": environment()}, indent=2))


if __name__ == "__main__":
    main()
