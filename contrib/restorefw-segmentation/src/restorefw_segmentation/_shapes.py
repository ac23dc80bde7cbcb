"""Synthetic-shapes segmentation data: circles, squares and triangles on a textured background.

Image ``i`` of a set depends only on ``(seed, i)``, so a set of 8 images is the
first 8 of a set of 100 with the same seed, and two seeds give disjoint sets.
Shapes get random colours, sizes, positions and (squares, triangles) rotations,
and the three shape types have the same area for the same size draw, so only
their geometry tells the classes apart.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import Tensor

from restorefw import StrictModel

__all__ = ["CLASS_NAMES", "SyntheticShapes", "SyntheticShapesConfig", "render"]

#: Class index -> name; a set with ``classes = k`` uses the first ``k``.
CLASS_NAMES = ("background", "circle", "square", "triangle")

# Size factors giving every shape the area of a circle of radius r: a square of
# half-side r·√π/2 and an equilateral triangle of circumradius r·√(4π / (3√3)).
_SQUARE_HALF_SIDE = math.sqrt(math.pi) / 2
_TRIANGLE_CIRCUMRADIUS = math.sqrt(4 * math.pi / (3 * math.sqrt(3)))


class SyntheticShapesConfig(StrictModel):
    seed: int = Field(0, ge=0, description="the set; image i is a pure function of (seed, i)")
    count: int = Field(16, ge=1, description="number of images")
    size: int = Field(64, ge=16, description="side of the square images, in pixels")
    classes: int = Field(4, ge=2, le=len(CLASS_NAMES),
                         description="classes including background 0: 2 = circles, 3 = + squares, 4 = + triangles")
    shapes: tuple[int, int] = Field((1, 4), description="inclusive range of shapes per image")
    noise: float = Field(0.03, ge=0, le=0.5, description="std of the pixel noise added to the whole image")

    @model_validator(mode="after")
    def _valid_range(self) -> SyntheticShapesConfig:
        low, high = self.shapes
        if not 1 <= low <= high:
            raise ValueError(f"shapes must be [low, high] with 1 <= low <= high, got {list(self.shapes)}")
        return self


def _uniform(generator: torch.Generator, low: float = 0.0, high: float = 1.0) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def _shape_mask(kind: int, dy: Tensor, dx: Tensor, radius: float, angle: float) -> Tensor:
    """Pixels inside shape ``kind`` (1 circle, 2 square, 3 triangle) centred at ``dy = dx = 0``."""
    if kind == 1:
        return dy**2 + dx**2 <= radius**2
    if kind == 2:
        u = dx * math.cos(angle) + dy * math.sin(angle)
        v = -dx * math.sin(angle) + dy * math.cos(angle)
        return torch.maximum(u.abs(), v.abs()) <= radius * _SQUARE_HALF_SIDE
    # A point is inside an equilateral triangle when it is within the inradius
    # (half the circumradius) of the centre along each of the three edge normals.
    inradius = radius * _TRIANGLE_CIRCUMRADIUS / 2
    inside = torch.ones_like(dy, dtype=torch.bool)
    for k in range(3):
        theta = angle + 2 * math.pi * k / 3
        inside &= dx * math.cos(theta) + dy * math.sin(theta) <= inradius
    return inside


def _background(size: int, generator: torch.Generator) -> Tensor:
    """Smooth random colour field plus a faint oriented stripe texture, ``(3, size, size)``."""
    cells = int(torch.randint(2, 7, (), generator=generator))
    grid = torch.rand(1, 3, cells, cells, generator=generator)
    field = F.interpolate(grid, size=(size, size), mode="bilinear", align_corners=True)[0]
    angle, period = _uniform(generator, 0, math.pi), _uniform(generator, 4, 16)
    coords = torch.arange(size, dtype=torch.float32)
    ys, xs = torch.meshgrid(coords, coords, indexing="ij")
    stripes = torch.sin(2 * math.pi * (xs * math.cos(angle) + ys * math.sin(angle)) / period)
    return (0.8 * field + 0.1 + 0.1 * stripes).clamp(0, 1)


def render(seed: int, index: int, size: int = 64, classes: int = 4, shapes: tuple[int, int] = (1, 4),
           noise: float = 0.03) -> tuple[Tensor, Tensor]:
    """Image ``index`` of the set ``seed``.

    Shapes are pasted in order, so a later shape hides an earlier one in both
    the image and the mask.

    Returns:
        ``(image, mask)``: a ``(3, size, size)`` float image in [0, 1] and a
        ``(1, size, size)`` float mask of class indices in ``[0, classes)``.
    """
    generator = torch.Generator().manual_seed(seed * 1_000_003 + index)
    image = _background(size, generator)
    mask = torch.zeros(size, size)
    centres = torch.arange(size, dtype=torch.float32) + 0.5
    ys, xs = torch.meshgrid(centres, centres, indexing="ij")
    for _ in range(int(torch.randint(shapes[0], shapes[1] + 1, (), generator=generator))):
        kind = int(torch.randint(1, classes, (), generator=generator))
        cy, cx = _uniform(generator, 0.1, 0.9) * size, _uniform(generator, 0.1, 0.9) * size
        radius = _uniform(generator, 0.08, 0.2) * size
        angle = _uniform(generator, 0, 2 * math.pi)
        colour = torch.rand(3, 1, generator=generator)
        inside = _shape_mask(kind, ys - cy, xs - cx, radius, angle)
        image[:, inside] = colour
        mask[inside] = kind
    image = (image + noise * torch.randn(image.shape, generator=generator)).clamp(0, 1)
    return image, mask[None]


class SyntheticShapes:
    """A paired dataset of ``(image, mask)``: the engine crops and flips both alike.

    Images are rendered on first access and kept.

    Args:
        seed: the set (see :func:`render`).
        count: number of images.
        size: image side in pixels.
        classes: classes including background (at most 4).
        shapes: inclusive range of shapes per image.
        noise: std of the pixel noise.
    """

    paired: bool = True
    scale: int = 1

    def __init__(self, seed: int = 0, count: int = 16, size: int = 64, classes: int = 4,
                 shapes: tuple[int, int] = (1, 4), noise: float = 0.03) -> None:
        self.seed, self.count, self.size, self.classes = seed, count, size, classes
        self.shapes, self.noise = tuple(shapes), noise
        self.names: list[str] = [f"shapes{seed}_{i:04d}" for i in range(count)]
        self._cache: dict[int, tuple[Tensor, Tensor]] = {}

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        if not 0 <= index < self.count:
            raise IndexError(f"synthetic_shapes has {self.count} images, no index {index}")
        if index not in self._cache:
            self._cache[index] = render(self.seed, index, self.size, self.classes, self.shapes, self.noise)
        return self._cache[index]

    def image_size(self, index: int) -> tuple[int, int]:
        """``(height, width)`` of image ``index``."""
        return self.size, self.size

    def source(self, index: int) -> str:
        """Where image ``index`` comes from, for error messages."""
        return f"synthetic_shapes(seed={self.seed})[{index}]"

    def batch(self, start: int = 0, stop: int | None = None) -> tuple[Tensor, Tensor]:
        """Images ``start:stop`` stacked: ``(N, 3, size, size)`` images and ``(N, 1, size, size)`` masks."""
        items = [self[i] for i in range(start, self.count if stop is None else min(stop, self.count))]
        return torch.stack([image for image, _ in items]), torch.stack([mask for _, mask in items])
