"""The built-in ``tensorboard`` logger: event files in ``logs/tensorboard`` of the run folder."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import Field

from restorefw._schema import StrictModel
from restorefw.loggers._base import Logger, RunInfo, Step

if TYPE_CHECKING:
    import numpy as np

__all__ = ["TensorBoardConfig", "TensorBoardLogger"]


class TensorBoardConfig(StrictModel):
    images: bool = Field(True, description="write the sample pictures (degraded | restored | target)")
    flush_secs: float = Field(30.0, gt=0, description="the longest time records wait in memory before being written")


class TensorBoardLogger(Logger):
    """Scalars as ``<group>/<name>`` (``train/loss``, ``val/psnr``, ``speed/images_per_s``), sample
    pictures, the recipe as text and hyper-parameters, events as text; the x axis is the global step.

    A resumed run purges the steps after its checkpoint (TensorBoard's ``purge_step``), so that every
    step shows once however often the run was interrupted. Needs the ``tensorboard`` package
    (``pip install 'restorefw[tensorboard]'``).

    Args:
        images: write the sample pictures.
        flush_secs: the longest time records wait in memory before being written.
    """

    def __init__(self, images: bool = True, flush_secs: float = 30.0) -> None:
        self.images, self.flush_secs = images, flush_secs
        self.writer: Any = None

    def start(self, run: RunInfo) -> None:
        """Open the event file; a fresh run also records its recipe."""
        try:
            from torch.utils.tensorboard import SummaryWriter
            from torch.utils.tensorboard.summary import hparams
        except ImportError as exc:
            raise RuntimeError(f"{exc}; install it with pip install 'restorefw[tensorboard]'") from exc
        at = run.resumed_from
        self.writer = SummaryWriter(str(run.logs / "tensorboard"), flush_secs=self.flush_secs,
                                    purge_step=None if at is None else at.global_step + 1)
        if at is not None:
            return
        self.writer.add_text("recipe", "```toml\n" + run.recipe_text + "\n```", 0)
        metrics = {f"val/{spec['type']}": 0.0 for spec in run.recipe.get("eval", {}).get("metrics", [])
                   if isinstance(spec, Mapping)}
        # The hyper-parameters go in this run's own event file (add_hparams would make a sub-run),
        # so TensorBoard's HParams view pairs them with this run's val/* scalars.
        for summary in hparams(run.hparams, metrics):
            self.writer.file_writer.add_summary(summary)

    def scalars(self, at: Step, values: Mapping[str, float], group: str) -> None:
        """One scalar per number, tagged ``<group>/<name>``."""
        for name, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(f"{group}/{name}", value, at.global_step)

    def image(self, at: Step, tag: str, image: np.ndarray) -> None:
        """The picture, unless ``images = false``."""
        if self.images:
            self.writer.add_image(tag, image, at.global_step, dataformats="HWC")

    def event(self, at: Step, name: str, detail: Mapping[str, Any]) -> None:
        """A line of text under ``events``."""
        text = f"{name} (stage {at.stage}, step {at.step})" + (f": {json.dumps(dict(detail))}" if detail else "")
        self.writer.add_text("events", text, at.global_step)

    def flush(self) -> None:
        """Write pending records."""
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        """Close the event file."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
