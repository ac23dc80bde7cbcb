"""Image input and output, datasets, and deterministic batch sampling.

Images are float32 tensors of shape (C, H, W) with values in [0, 1]: RGB unless
one channel is asked for. Randomness always comes from a ``torch.Generator``
the caller passes, never from global random state.
"""

from __future__ import annotations

from restorefw.data._datasets import (
    ImageFolder,
    ImageList,
    PairedFolder,
    SkimageSamples,
    check_min_size,
)
from restorefw.data._io import IMAGE_EXTENSIONS, image_shape, image_size, read_image, write_image
from restorefw.data._kernelfile import KERNEL_EXTENSIONS, read_kernel
from restorefw.data._protocol import PROTOCOLS, EvalProtocol, get_protocol, mod_crop, quantize_8bit
from restorefw.data._samples import SKIMAGE_SAMPLES, load_sample
from restorefw.data._sampling import (
    augment,
    center_crop,
    eval_images,
    random_crop,
    sample_batch,
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "KERNEL_EXTENSIONS",
    "PROTOCOLS",
    "EvalProtocol",
    "ImageFolder",
    "ImageList",
    "PairedFolder",
    "SKIMAGE_SAMPLES",
    "SkimageSamples",
    "augment",
    "center_crop",
    "check_min_size",
    "eval_images",
    "get_protocol",
    "image_shape",
    "image_size",
    "load_sample",
    "mod_crop",
    "quantize_8bit",
    "random_crop",
    "read_image",
    "read_kernel",
    "sample_batch",
    "write_image",
]
