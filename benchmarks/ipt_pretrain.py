"""Does IPT's multi-task pretraining help? Pretrained + fine-tuned versus from scratch, on CPU.

For each seed:

1. ``pretrain``: a tiny IPT (four tasks: SR x2, denoising sigma 30 and 50, deraining; one shared
   body) is trained with ``ipt_multitask`` on eight sample images, one task per batch.
2. For each downstream task (denoising sigma 50, deraining, SR x2), with the *same* steps,
   batches, optimizer and validation pairs, on one held-out training image:
   ``pretrained``: the pretrained model pruned by ``ipt_finetune`` to that task, then fine-tuned;
   ``scratch``: the same one-task architecture from a random initialisation.
   ``no_finetune`` is the pretrained model on that task before any fine-tuning.

Scores are validation PSNR on a third held-out image (the task's own metric settings: Y channel
for SR and deraining, border crop for SR), through the model's overlapped chop. Every training run
goes through :class:`restorefw.engine.Runner`, as recipes do. Prints JSON. With other jobs on the
machine run it as ``OMP_NUM_THREADS=1 python benchmarks/ipt_pretrain.py``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

import restorefw
from benchmarks._common import write_report
from restorefw._builder import load_model
from restorefw.engine import Runner, evaluate, make_eval_pairs

PRETRAIN = ["astronaut", "rocket", "hubble_deep_field", "immunohistochemistry", "retina", "camera", "coins",
            "brick"]
FINETUNE = ["coffee"]
VALIDATION = ["chelsea"]
TINY = {"n_feats": 16, "patch_size": 24, "patch_dim": 3, "num_heads": 4, "num_layers": 1}
PRETRAIN_TASKS = [{"type": "sr", "scale": 2}, {"type": "denoise", "sigma": 30}, {"type": "denoise", "sigma": 50},
                  {"type": "derain"}]
# Downstream task -> index of the pretraining task whose head, tail and query are kept.
TARGETS = {"denoise_sigma50": 2, "derain": 3, "sr_x2": 0}


def recipe(args: argparse.Namespace, seed: int, model: dict[str, Any], task: dict[str, Any],
           stage: dict[str, Any], train: list[str], patch: int) -> dict[str, Any]:
    """A one-stage recipe on ``train`` images, validated on ``task``."""
    return {
        "run": {"name": stage["name"], "seed": seed, "device": "cpu"},
        "data": {"train": {"type": "skimage_samples", "images": train},
                 "val": {"type": "skimage_samples", "images": VALIDATION},
                 "patch_size": patch, "batch_size": args.batch, "val_max_size": args.val_size},
        "task": task,
        "model": model,
        "stages": [{"optimizer": {"type": "adam", "lr": args.lr}, "clip_grad_norm": 1.0, "log_every": 1000,
                    "loss": "l1", **stage}],
        "eval": {"metrics": ["psnr"], "samples": 0},
    }


def run(registry: Any, data: dict[str, Any], out: Path) -> dict[str, Any]:
    """Run one recipe; returns its only stage's summary record."""
    summary = Runner(restorefw.resolve_recipe(data, registry), registry, out, quiet=True).run()
    return next(iter(summary["stages"].values()))


def no_finetune_psnr(registry: Any, data: dict[str, Any], checkpoint: Path, task_index: int) -> float:
    """PSNR of the pretrained model on a task, on the validation pairs a fine-tuning run would use."""
    resolved = restorefw.resolve_recipe(data, registry)
    model, _ = load_model(str(checkpoint), registry)
    model.task = task_index
    task = registry.build("task", resolved["task"])
    pairs = make_eval_pairs(registry.build("dataset", resolved["data"]["val"]), task, resolved["run"]["seed"],
                            resolved["data"]["val_max_size"])
    metric = registry.build("metric", resolved["eval"]["metrics"][0])
    means, _, _ = evaluate(model, pairs, {"psnr": metric}, torch.device("cpu"))
    return means["psnr"]


def one_seed(registry: Any, args: argparse.Namespace, seed: int, work: Path) -> dict[str, Any]:
    """Pretrain once, then fine-tune / train from scratch on each downstream task."""
    multi = {"type": "ipt", **TINY, "scales": [t.get("scale", 1) for t in PRETRAIN_TASKS]}
    stage = {"name": "pretrain", "steps": args.pretrain_steps,
             "strategy": {"type": "ipt_multitask", "tasks": PRETRAIN_TASKS, "contrastive": args.contrastive},
             "task": {"type": "denoise", "sigma": 50}}
    start = time.perf_counter()
    pretrain = recipe(args, seed, multi, stage["task"], stage, PRETRAIN, TINY["patch_size"] * 2)
    pretrain["data"]["val"] = None
    run(registry, pretrain, work / "pretrain")
    result: dict[str, Any] = {"pretrain_s": round(time.perf_counter() - start, 1)}
    checkpoint = work / "pretrain" / "checkpoints" / "last.safetensors"
    for name, index in TARGETS.items():
        task = PRETRAIN_TASKS[index]
        scale = task.get("scale", 1)
        arms = {
            "pretrained": ({**multi, "checkpoint": str(checkpoint)}, {"type": "ipt_finetune", "keep_task": index}),
            "scratch": ({"type": "ipt", **TINY, "scales": [scale]}, {"type": "supervised"}),
        }
        scores: dict[str, float] = {}
        for arm, (model, strategy) in arms.items():
            data = recipe(args, seed, model, task, {"name": arm, "steps": args.finetune_steps,
                                                    "strategy": strategy}, FINETUNE, TINY["patch_size"] * scale)
            record = run(registry, data, work / f"{name}-{arm}")
            scores[arm] = record["val"]["psnr"]
            scores["input"] = record["input"]["psnr"]
        scores["no_finetune"] = no_finetune_psnr(registry, data, checkpoint, index)
        scores["gain"] = scores["pretrained"] - scores["scratch"]
        result[name] = {k: round(v, 3) for k, v in scores.items()}
    return result


def summarise(seeds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per task: mean scores over seeds and the paired gain of pretraining (same seed, same batches)."""
    out = {}
    for name in TARGETS:
        rows = [s[name] for s in seeds]
        gains = [r["gain"] for r in rows]
        out[name] = {**{k: round(statistics.mean(r[k] for r in rows), 3) for k in rows[0]},
                     "gain_std": round(statistics.stdev(gains), 3) if len(gains) > 1 else 0.0,
                     "seeds_won": sum(g > 0 for g in gains)}
    wins = sum(v["gain"] > 0 for v in out.values())
    return {"per_task": out, "tasks_where_pretraining_wins": wins}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--pretrain-steps", type=int, default=400)
    parser.add_argument("--finetune-steps", type=int, default=150)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--val-size", type=int, default=128, help="validation crop side (chelsea)")
    parser.add_argument("--contrastive", action="store_true", help="pretrain with the contrastive term")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()

    registry = restorefw.build_registry(restorefw.get_plugin_manager())
    start, seeds = time.perf_counter(), []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            seeds.append({"seed": seed, **one_seed(registry, args, seed, Path(tmp) / str(seed))})
    report = {"benchmark": "ipt_pretrain", "model": TINY, "config": {k: str(v) for k, v in vars(args).items()},
              **summarise(seeds), "seeds": seeds,
              "wall_time_s": round(time.perf_counter() - start, 1)}
    write_report(report, args.out)


if __name__ == "__main__":
    main()
