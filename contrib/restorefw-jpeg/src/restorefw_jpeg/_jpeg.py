"""JPEG compression of image batches through Pillow, with per-image random quality."""

from __future__ import annotations

import io
from typing import Literal

import numpy as np
import torch
from PIL import Image
from pydantic import Field, field_validator
from torch import Tensor

from restorefw import StrictModel

__all__ = ["DejpegConfig", "JpegCompression", "JpegConfig", "compress"]

# Pillow's codes for chroma subsampling.
_SUBSAMPLING = {"4:4:4": 0, "4:2:0": 2}


class JpegConfig(StrictModel):
    quality: int | tuple[int, int] = Field(
        (30, 90), description="JPEG quality (1-100), or an inclusive [low, high] range drawn per image"
    )
    subsampling: Literal["4:2:0", "4:4:4"] = "4:2:0"

    @field_validator("quality")
    @classmethod
    def _valid_quality(cls, value: int | tuple[int, int]) -> int | tuple[int, int]:
        low, high = (value, value) if isinstance(value, int) else value
        if not 1 <= low <= high <= 100:
            raise ValueError("quality must be in 1..100, a range as [low, high] with low <= high")
        return value


class DejpegConfig(JpegConfig):
    y_channel: bool = False


def compress(image: np.ndarray, quality: int, subsampling: str) -> np.ndarray:
    """JPEG-encode and decode one ``(H, W)`` or ``(H, W, 3)`` uint8 image."""
    buffer = io.BytesIO()
    options = {"quality": quality}
    if image.ndim == 3:
        options["subsampling"] = _SUBSAMPLING[subsampling]
    Image.fromarray(image).save(buffer, format="JPEG", **options)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded).copy()


class JpegCompression:
    """``degrade(hr, generator) -> (jpeg(hr), hr)`` for 1- or 3-channel batches in [0, 1].

    Images are rounded to 8 bits (as a JPEG file stores them), compressed with one
    quality per image drawn from ``generator``, and returned in the input's dtype
    and device. libjpeg is deterministic, so a seed fixes the result.
    """

    scale = 1

    def __init__(self, quality: int | tuple[int, int], subsampling: str = "4:2:0") -> None:
        self.low, self.high = (quality, quality) if isinstance(quality, int) else quality
        self.subsampling = subsampling

    def qualities(self, batch: int, generator: torch.Generator) -> list[int]:
        """One quality per image, uniform over the inclusive range."""
        draws = torch.randint(self.low, self.high + 1, (batch,), generator=generator, device=generator.device)
        return [int(q) for q in draws]

    def __call__(self, hr: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        if hr.dim() != 4 or hr.shape[1] not in (1, 3):
            raise ValueError(f"jpeg expects (B, 1 or 3, H, W) images, got shape {tuple(hr.shape)}")
        pixels = (hr.detach().clamp(0, 1) * 255).round().to("cpu", torch.uint8).permute(0, 2, 3, 1).numpy()
        if hr.shape[1] == 1:
            pixels = pixels[..., 0]
        qualities = self.qualities(len(pixels), generator)
        coded = [compress(image, q, self.subsampling) for image, q in zip(pixels, qualities, strict=True)]
        lq = torch.from_numpy(np.stack(coded)).reshape(pixels.shape)
        lq = lq.unsqueeze(1) if hr.shape[1] == 1 else lq.permute(0, 3, 1, 2)
        return (lq.to(hr.dtype) / 255).to(hr.device), hr
