"""Natural sample images that ship inside the scikit-image package.

Only images bundled with scikit-image 0.26 are listed, so loading them never
needs a network. Left out: images that scikit-image downloads on demand,
synthetic or binary ones (``checkerboard``, ``colorwheel``, ``horse``,
``logo``, ``shepp_logan_phantom``), ``clock`` (motion-blurred, so unfit as a
clean target), ``microaneurysms`` (102x102) and ``cat`` (the same image as
``chelsea``).
"""

from __future__ import annotations

import difflib

import numpy as np
import skimage.data
import torch
from skimage.util import img_as_float32
from torch import Tensor

from restorefw._errors import DataError

SKIMAGE_SAMPLES: tuple[str, ...] = (
    "astronaut",
    "brick",
    "camera",
    "cell",
    "chelsea",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "page",
    "retina",
    "rocket",
    "text",
)


def load_sample(name: str) -> Tensor:
    """Loads a scikit-image sample as a float32 (3, H, W) RGB tensor in [0, 1].

    Grey samples are replicated to three channels.

    Args:
        name: one of :data:`SKIMAGE_SAMPLES`.

    Returns:
        The image.

    Raises:
        DataError: the name is not in :data:`SKIMAGE_SAMPLES` (the message
            suggests the closest one), or scikit-image cannot load the image.
    """
    if name not in SKIMAGE_SAMPLES:
        close = difflib.get_close_matches(name.lower(), SKIMAGE_SAMPLES, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise DataError(
            f"unknown sample image '{name}'; {hint}expected one of: {', '.join(SKIMAGE_SAMPLES)}"
        )
    try:
        pixels = img_as_float32(getattr(skimage.data, name)())
    except (OSError, ImportError, ValueError) as error:
        raise DataError(f"cannot load sample image '{name}' from scikit-image: {error}") from error
    # Grey samples are (H, W); colour ones (H, W, 3), or (H, W, 4) with alpha.
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[None], 3, axis=0)
    else:
        pixels = pixels[..., :3].transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(pixels))
