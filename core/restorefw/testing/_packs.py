"""Building small SR benchmark packs on disk, the way the published ones were made.

Set5, Set14 and the other SR benchmarks come as ground truth cropped to a
multiple of every scale (BasicSR's ``GTmod12``) and inputs made from it with
MATLAB's ``imresize(hr, 1/s, 'bicubic')`` and saved as 8-bit PNG. The resizer
is the registered ``imresize_bicubic`` op, so building a pack needs a plugin
that registers it (the basic plugin does).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor

from restorefw.data import center_crop, load_sample, mod_crop, quantize_8bit, write_image
from restorefw.ops import resolve

__all__ = ["make_sr_pack"]


def make_sr_pack(
    root: str | Path,
    images: Sequence[str] | Mapping[str, Tensor] = ("astronaut", "coffee"),
    scales: Sequence[int] = (2, 3, 4),
    *,
    crop: int | None = None,
    style: Literal["edsr", "basicsr"] = "edsr",
) -> Path:
    """Writes an SR test pack of 8-bit PNG files.

    Each image is centre-cropped to at most ``crop`` pixels a side, then cut to
    a multiple of every scale and rounded to 8 bits: the ground truth. Each
    input is the ground truth resized by ``1 / s`` with MATLAB-compatible
    bicubic (antialiased) and rounded to 8 bits on writing.

    Args:
        root: the pack's folder, created if missing.
        images: scikit-image sample names, or ``{name: (C, H, W) tensor in [0, 1]}``.
        scales: the super-resolution factors.
        crop: the longest side kept before cutting to a multiple; ``None`` for whole images.
        style: ``"edsr"``: ``HR/<name>.png`` and ``LR_bicubic/X<s>/<name>x<s>.png``
            (EDSR's and IPT's benchmark folders); ``"basicsr"``: ``GTmod<m>/<name>.png``
            and ``LRbicx<s>/<name>.png``, with ``m`` the least common multiple of the scales.

    Returns:
        ``root``.
    """
    root = Path(root)
    sources = images if isinstance(images, Mapping) else {name: load_sample(name) for name in images}
    multiple = math.lcm(*scales)
    imresize = resolve("imresize_bicubic", "cpu", torch.float64)
    hr_dir = root / ("HR" if style == "edsr" else f"GTmod{multiple}")
    for name, image in sources.items():
        if crop is not None:
            image = center_crop(image, (min(crop, image.shape[-2]), min(crop, image.shape[-1])))
        hr = quantize_8bit(mod_crop(image.to(torch.float64), multiple))
        write_image(hr_dir / f"{name}.png", hr)
        for scale in scales:
            lr = imresize(hr[None], scale=1 / scale)[0]
            if style == "edsr":
                write_image(root / "LR_bicubic" / f"X{scale}" / f"{name}x{scale}.png", lr)
            else:
                write_image(root / f"LRbicx{scale}" / f"{name}.png", lr)
    return root
