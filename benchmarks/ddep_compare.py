"""Fine-tuned PSNR after three kinds of initialisation: random decoder, DDeP decoder, DeP.

1. ``supervised`` (once, like a released pretrained checkpoint): an
   encoder-decoder is trained on a different restoration task (deraining for a
   denoising target, deblurring for a deraining target) with eight images; its
   encoder is the "supervised encoder".

Then for each seed:

2. Pretraining, from the seed's random initialisation (so every arm's decoder starts the same):
   ``ddep`` loads the supervised encoder, freezes it and denoise-pretrains the
   decoder; ``dep`` denoise-pretrains the whole model from scratch.
3. Fine-tuning on the target task (``--target``: Gaussian denoising with
   sigma = 25, or deraining) with two labelled images, the same steps and the same batches for every arm:
   ``random_decoder`` (supervised encoder + random decoder), ``ddep`` and ``dep``.

``--ablate-readout`` adds a DeP arm that reads ``model(x̃) - x̃`` as the noise
prediction instead of the plugin's ``(x̃ - model(x̃)) / n`` (see docs/ddep.md).

Every run goes through :class:`restorefw.engine.Runner`, so it is what recipes do.
Prints JSON: per-seed and mean validation PSNR of each arm, PSNR along the
fine-tuning, and each arm's paired gain over the random decoder. CPU-sized
(about 4 minutes for ``--target denoise``, 6 for ``derain``, on two shared cores).

Usage: ``OMP_NUM_THREADS=1 python benchmarks/ddep_compare.py [--target denoise|derain] [--seeds 5]
[--ablate-readout] [--model unet|restormer] [--out result.json]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from torch import Tensor, nn

import restorefw
from benchmarks._common import write_report
from restorefw.engine import Runner
from restorefw_ddep import DenoisingConfig, DenoisingPretraining, NoiseLevel

UNLABELLED = ["camera", "coins", "rocket", "brick", "gravel", "hubble_deep_field"]
SUPERVISED = ["camera", "coins", "rocket", "brick", "gravel", "hubble_deep_field", "grass", "page"]
LABELLED = ["astronaut", "coffee"]
VALIDATION = ["chelsea", "immunohistochemistry", "retina"]
RESTORMER = {"dim": 16, "num_blocks": [1, 1, 1, 1], "heads": [1, 2, 4, 8], "num_refinement_blocks": 1}
# Target task, and the different task the supervised encoder is trained on.
TASKS = {"denoise": ({"type": "denoise", "sigma": 25}, {"type": "derain"}),
         "derain": ({"type": "derain"}, {"type": "deblur"})}
PLAIN = "bench.dep_plain_readout"


class PlainReadout(DenoisingPretraining):
    """DeP reading ``model(x̃) - x̃`` as ε̂ (the alternative that docs/ddep.md compares against)."""

    def predict_eps(self, model: nn.Module, noisy: Tensor) -> Tensor:
        return model(noisy) - noisy


def model_spec(kind: str) -> dict[str, Any]:
    """A tiny encoder-decoder: the plugin's UNet or Restormer parts."""
    if kind == "restormer":
        return {"type": "encoder_decoder", "encoder": {"type": "restormer.encoder", **RESTORMER},
                "decoder": {"type": "restormer.decoder", **RESTORMER}}
    widths = [16, 32, 48, 64]
    return {"type": "encoder_decoder", "encoder": {"type": "ddep.unet.encoder", "widths": widths},
            "decoder": {"type": "ddep.unet.decoder", "widths": widths}}


def recipe(args: argparse.Namespace, seed: int, train: list[str], stage: dict[str, Any]) -> dict[str, Any]:
    """A one-stage recipe: the given stage on ``train`` images, evaluated on the target task."""
    return {
        "run": {"name": stage["name"], "seed": seed, "device": "cpu"},
        "data": {"train": {"type": "skimage_samples", "images": train},
                 "val": {"type": "skimage_samples", "images": VALIDATION},
                 "patch_size": args.patch, "batch_size": args.batch, "val_max_size": 128},
        "task": TASKS[args.target][0],
        "model": model_spec(args.model),
        "stages": [{"optimizer": {"type": "adam", "lr": args.lr}, "log_every": 1000, **stage}],
        "eval": {"metrics": ["psnr"], "samples": 0},
    }


def run(registry: Any, data: dict[str, Any], out: Path) -> dict[str, Any]:
    """Run one recipe; returns its only stage's summary record."""
    summary = Runner(restorefw.resolve_recipe(data, registry), registry, out, quiet=True).run()
    return next(iter(summary["stages"].values()))


def pretraining(args: argparse.Namespace, encoder: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Stage spec of each pretrained arm."""
    noise = {"sigma": args.sigma, "images": {"type": "skimage_samples", "images": UNLABELLED}}
    arms = {"ddep": {"strategy": {"type": "ddep", **noise}, "load": [encoder]},
            "dep": {"strategy": {"type": "dep", **noise}}}
    if args.ablate_readout:
        arms["dep_plain_readout"] = {"strategy": {"type": PLAIN, **noise}}
    return arms


def one_seed(registry: Any, args: argparse.Namespace, seed: int, encoder: dict[str, Any],
             work: Path) -> dict[str, Any]:
    """Pretrain and fine-tune every arm for one seed; returns PSNRs and pretraining losses."""
    starts, result = {"random_decoder": encoder}, {"pretrain_eps_mse": {}}
    for arm, stage in pretraining(args, encoder).items():
        record = run(registry, recipe(args, seed, LABELLED, {"name": arm, "steps": args.pretrain_steps, **stage}),
                     work / arm)
        result["pretrain_eps_mse"][arm] = record["strategy_eval"]["eps_mse"]
        starts[arm] = {"checkpoint": str(work / arm / "checkpoints/last.safetensors")}
    for arm, start in starts.items():
        stage = {"name": "finetune", "steps": args.finetune_steps, "loss": "l1", "load": [start],
                 "eval_every": args.eval_every}
        tuned = run(registry, recipe(args, seed, LABELLED, stage), work / f"{arm}-ft")
        result[arm] = tuned["val"]["psnr"]
        result["input_psnr"] = tuned["input"]["psnr"]
        result[f"{arm}_curve"] = psnr_curve(work / f"{arm}-ft" / "metrics.jsonl")
    return result


def psnr_curve(metrics: Path) -> dict[int, float]:
    """Validation PSNR by fine-tuning step, from a run's ``metrics.jsonl``."""
    records = (json.loads(line) for line in metrics.read_text(encoding="utf-8").splitlines())
    return {r["step"]: round(r["val_psnr"], 3) for r in records if "val_psnr" in r}


def summarise(seeds: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over seeds, and each arm's paired difference to the random decoder (same seed, same data)."""
    arms = [k for k in seeds[0] if f"{k}_curve" in seeds[0]]
    mean = {arm: statistics.mean(s[arm] for s in seeds) for arm in (*arms, "input_psnr")}
    spread = {arm: statistics.stdev(s[arm] for s in seeds) if len(seeds) > 1 else 0.0 for arm in arms}
    gains = {}
    for arm in arms[1:]:
        diffs = [s[arm] - s["random_decoder"] for s in seeds]
        gains[arm] = {"mean": statistics.mean(diffs), "std": statistics.stdev(diffs) if len(diffs) > 1 else 0.0,
                      "wins": sum(d > 0 for d in diffs)}
    curves = {arm: {step: round(statistics.mean(s[f"{arm}_curve"][step] for s in seeds), 3)
                    for step in seeds[0][f"{arm}_curve"]} for arm in arms}
    return {"mean_psnr": mean, "std_psnr": spread, "gain_over_random_decoder": gains,
            "mean_psnr_by_finetune_step": curves}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["unet", "restormer"], default="unet")
    parser.add_argument("--target", choices=sorted(TASKS), default="denoise",
                        help="fine-tuning task (denoise: sigma = 25, encoder supervised on derain; "
                             "derain: encoder supervised on deblur)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--supervised-steps", type=int, default=300)
    parser.add_argument("--pretrain-steps", type=int, default=200)
    parser.add_argument("--finetune-steps", type=int, default=100)
    parser.add_argument("--eval-every", type=int, default=25, help="fine-tuning steps between PSNR measurements")
    parser.add_argument("--sigma", type=float, default=0.22, help="DeP/DDeP noise std in [-1, 1] units")
    parser.add_argument("--patch", type=int, default=32)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--ablate-readout", action="store_true",
                        help="add a DeP arm that reads model(x~) - x~ as the noise prediction")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()

    registry = restorefw.build_registry(restorefw.get_plugin_manager())
    registry.register("strategy", PLAIN, lambda **cfg: PlainReadout(NoiseLevel(cfg["sigma"]), images=cfg["images"]),
                      schema=DenoisingConfig)
    start, seeds = time.perf_counter(), []
    with tempfile.TemporaryDirectory() as tmp:
        source = {"name": "supervised", "steps": args.supervised_steps, "task": TASKS[args.target][1], "loss": "l1"}
        sup = run(registry, recipe(args, 0, SUPERVISED, source), Path(tmp) / "sup")
        encoder = {"checkpoint": str(Path(tmp) / "sup/checkpoints/last.safetensors"), "into": "encoder"}
        for seed in range(args.seeds):
            seeds.append({"seed": seed, **one_seed(registry, args, seed, encoder, Path(tmp) / str(seed))})
    report = {"benchmark": "ddep_compare", "model": args.model, "config": {k: str(v) for k, v in vars(args).items()},
              **summarise(seeds),
              "supervised_loss": sup["final_loss"], "seeds": seeds,
              "wall_time_s": round(time.perf_counter() - start, 1)}
    write_report(report, args.out)


if __name__ == "__main__":
    main()
