"""Run outputs: plots of ``metrics.jsonl`` and side-by-side sample pictures."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from restorefw._errors import RunError

__all__ = ["Curves", "curves", "draw_curves", "plot_metrics", "safe_name", "save_sample"]


Curves = dict[str, dict[str, list[tuple[int, float]]]]
"""Points by quantity and line: ``{"loss": {"a": [(global_step, value), ...]}}``."""

_NOT_PLOTTED = ("stage", "step", "global_step", "lr", "time_s")


def curves(records: list[dict[str, Any]]) -> Curves:
    """The numbers of ``metrics.jsonl`` records by name, one line per stage, against the global step."""
    series: Curves = defaultdict(lambda: defaultdict(list))
    for record in records:
        x = record.get("global_step", record.get("step", 0))
        for key, value in record.items():
            if key in _NOT_PLOTTED or not isinstance(value, (int, float)):
                continue
            series[key][record.get("stage", "")].append((x, float(value)))
    return series


def plot_metrics(records: list[dict[str, Any]], out_dir: str | Path) -> list[Path]:
    """Draw the training loss and every evaluation metric against the global step."""
    return draw_curves(curves(records), out_dir)


def draw_curves(series: Curves, out_dir: str | Path, overwrite: bool = True) -> list[Path]:
    """One PNG per quantity (``<name>.png``) with one line per label; returns the files.

    Raises:
        RunError: a file cannot be written, or (without ``overwrite``) exists already; then nothing
            is drawn.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    paths = {key: out_dir / f"{key.replace('/', '_')}.png" for key in sorted(series)}
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not overwrite:
        raise RunError(f"not overwriting {', '.join(existing)}; choose another --out or pass --overwrite")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create '{out_dir}': {exc.strerror or exc}") from exc
    for key, path in paths.items():
        lines = series[key]
        fig, ax = plt.subplots(figsize=(6, 4))
        for label, points in lines.items():
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="o" if len(xs) < 20 else None, label=label)
        ax.set_xlabel("step")
        ax.set_ylabel(key)
        if key.endswith("loss") and all(y > 0 for pts in lines.values() for _, y in pts):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        try:
            fig.savefig(path, dpi=80)
        except OSError as exc:
            raise RunError(f"cannot write '{path}': {exc.strerror or exc}") from exc
        finally:
            plt.close(fig)
    return list(paths.values())


def safe_name(name: str) -> str:
    """``name`` as one file-name component: separators and leading dots cannot leave the folder."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).lstrip(".")
    return cleaned or "_"


def save_strip(path: str | Path, images: Sequence[Tensor]) -> Tensor:
    """Save ``(C, H, W)`` images of one height side by side, 4 white pixels apart; returns the picture."""
    from restorefw.data import write_image

    first = images[0]
    gap = torch.ones(first.shape[0], first.shape[1], 4, dtype=first.dtype)
    parts = [part for image in images for part in (gap, image.cpu().to(first.dtype))][1:]
    row = torch.cat(parts, dim=-1).clamp(0, 1)
    write_image(path, row)
    return row


def save_sample(path: str | Path, degraded: Tensor, restored: Tensor, target: Tensor) -> Tensor:
    """Save ``degraded | restored | target`` side by side (each ``(C, H, W)``, target size); returns the picture."""
    return save_strip(path, [degraded, restored, target])
