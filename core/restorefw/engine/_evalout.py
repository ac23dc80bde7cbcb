"""What an evaluation writes: ``eval.csv`` row by row, images on request, ``eval.json`` last.

Rows go to ``eval.csv`` as they are scored, flushed one by one, so an interrupted evaluation
keeps them; ``eval.json`` is written last and atomically, and its presence is what makes the
folder complete.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from torch import Tensor

from restorefw._errors import RunError
from restorefw.data import write_image
from restorefw.engine._runlog import safe_name, save_strip
from restorefw.weights import atomic_write

__all__ = ["CSV_FILE", "JSON_FILE", "EvalWriter"]

CSV_FILE = "eval.csv"
JSON_FILE = "eval.json"


class EvalWriter:
    """Writes one evaluation's files into its folder.

    Args:
        folder: the evaluation folder (created, locked).
        metrics: every metric name of the evaluation, the CSV's score columns.
        save_images: also write restored images and side-by-side strips.
    """

    def __init__(self, folder: Path, metrics: Sequence[str], save_images: bool = False) -> None:
        self.folder = folder
        self.metrics = list(metrics)
        self.save_images = save_images
        self.records: list[dict[str, Any]] = []
        self._fields = ["model", "steps", "set", "image", *self.metrics, "seconds", "megapixels"]
        self._stream: IO[str] | None = None
        self._csv: csv.DictWriter[str] | None = None

    def __enter__(self) -> EvalWriter:
        path = self.folder / CSV_FILE
        try:
            self._stream = path.open("w", newline="", encoding="utf-8")
        except OSError as exc:
            raise RunError(f"cannot write '{path}': {exc.strerror or exc}") from None
        self._csv = csv.DictWriter(self._stream, self._fields)
        self._csv.writeheader()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stream is not None:
            self._stream.close()

    def row(self, model: str, steps: int | None, set_key: str, image: str, scores: Mapping[str, float],
            seconds: float | None = None, megapixels: float | None = None) -> None:
        """Appends one model × set × image row, flushed at once."""
        assert self._csv is not None and self._stream is not None
        record = {"model": model, "steps": steps, "set": set_key, "image": image, **scores, "seconds": seconds,
                  "megapixels": megapixels}
        self.records.append(record)
        self._csv.writerow({k: "" if v is None else v for k, v in record.items()})
        self._stream.flush()

    def images(self, set_key: str, image: str, outputs: Mapping[str, Tensor], target: Tensor) -> None:
        """Writes each row's output as ``images/<set>/<row>/<image>.png`` and ``strips/<set>/<image>.png``.

        The strip shows the rows' outputs in order (the baseline first), then the target.
        """
        if not self.save_images:
            return
        folder = safe_name(set_key)
        for name, output in outputs.items():
            write_image(self.folder / "images" / folder / safe_name(name) / f"{safe_name(image)}.png", output[0])
        save_strip(self.folder / "strips" / folder / f"{safe_name(image)}.png",
                   [output[0] for output in outputs.values()] + [target[0]])

    def finish(self, summary: Mapping[str, Any]) -> dict[str, Any]:
        """Writes ``eval.json``, the summary with every per-image record, last and atomically; returns what it holds."""
        complete = {**summary, "per_image": self.records}
        text = json.dumps(complete, indent=2, allow_nan=True)
        atomic_write(self.folder / JSON_FILE, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        return complete
