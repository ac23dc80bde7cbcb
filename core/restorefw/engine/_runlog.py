"""Run outputs: plots of ``metrics.jsonl`` and side-by-side sample pictures."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from restorefw._errors import RunError

__all__ = ["plot_metrics", "safe_name", "save_sample"]


def plot_metrics(records: list[dict[str, Any]], out_dir: str | Path) -> list[Path]:
    """Draw the training loss and every evaluation metric against the global step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create '{out_dir}': {exc.strerror or exc}") from exc
    series: dict[str, dict[str, list[tuple[int, float]]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        x = record.get("global_step", record.get("step", 0))
        for key, value in record.items():
            if key in ("stage", "step", "global_step", "lr", "time_s") or not isinstance(value, (int, float)):
                continue
            series[key][record.get("stage", "")].append((x, float(value)))
    written = []
    for key, per_stage in sorted(series.items()):
        fig, ax = plt.subplots(figsize=(6, 4))
        for stage, points in per_stage.items():
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="o" if len(xs) < 20 else None, label=stage)
        ax.set_xlabel("step")
        ax.set_ylabel(key)
        if key.endswith("loss") and all(y > 0 for pts in per_stage.values() for _, y in pts):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = out_dir / f"{key.replace('/', '_')}.png"
        try:
            fig.savefig(path, dpi=80)
        except OSError as exc:
            raise RunError(f"cannot write '{path}': {exc.strerror or exc}") from exc
        finally:
            plt.close(fig)
        written.append(path)
    return written


def safe_name(name: str) -> str:
    """``name`` as one file-name component: separators and leading dots cannot leave the folder."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).lstrip(".")
    return cleaned or "_"


def save_sample(path: str | Path, degraded: Tensor, restored: Tensor, target: Tensor) -> Tensor:
    """Save ``degraded | restored | target`` side by side (each ``(C, H, W)``, target size); returns the picture."""
    from restorefw.data import write_image

    gap = torch.ones(target.shape[0], target.shape[1], 4, dtype=target.dtype)
    row = torch.cat([degraded.cpu(), gap, restored.cpu(), gap, target.cpu()], dim=-1).clamp(0, 1)
    write_image(path, row)
    return row
