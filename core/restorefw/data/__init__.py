"""Image input and output, datasets, deterministic batch sampling, and evaluation test sets.

Images are float32 tensors of shape (C, H, W) with values in [0, 1]: RGB unless
one channel is asked for. Randomness always comes from a ``torch.Generator``
the caller passes, never from global random state.

Test sets for evaluation are found in the layouts labs keep on disk
(:data:`LAYOUTS`, in detection order) and scored by the papers' protocols
(:data:`PROTOCOLS`); see docs/eval.md.
"""

from __future__ import annotations

from restorefw.data._datasets import (
    ImageFolder,
    ImageList,
    PairedFolder,
    SkimageSamples,
    check_min_size,
)
from restorefw.data._detect import LAYOUTS, detect_layout, find_layout, in_detection_order, load_testset
from restorefw.data._format import ImageFormat
from restorefw.data._io import (
    IMAGE_EXTENSIONS,
    image_format,
    image_shape,
    image_size,
    read_alpha,
    read_image,
    write_image,
)
from restorefw.data._kernelfile import KERNEL_EXTENSIONS, read_kernel
from restorefw.data._layout_base import Layout, LayoutOptions, build_testset, parse_options
from restorefw.data._layouts import FOLDER_PAIRS, FolderPair, GTOnlyLayout, PairedLayout
from restorefw.data._protocol import (
    PROTOCOLS,
    EvalProtocol,
    get_protocol,
    mod_crop,
    protocol_from_spec,
    quantize_8bit,
)
from restorefw.data._samples import SKIMAGE_SAMPLES, load_sample
from restorefw.data._sampling import (
    augment,
    center_crop,
    eval_images,
    random_crop,
    sample_batch,
)
from restorefw.data._sr_layouts import MZSRLayout, SRPackLayout
from restorefw.data._testsets import DecodedItem, TestItem, TestSet

__all__ = [
    "DecodedItem",
    "EvalProtocol",
    "FOLDER_PAIRS",
    "FolderPair",
    "GTOnlyLayout",
    "IMAGE_EXTENSIONS",
    "ImageFolder",
    "ImageFormat",
    "ImageList",
    "KERNEL_EXTENSIONS",
    "LAYOUTS",
    "Layout",
    "LayoutOptions",
    "MZSRLayout",
    "PROTOCOLS",
    "PairedFolder",
    "PairedLayout",
    "SKIMAGE_SAMPLES",
    "SRPackLayout",
    "SkimageSamples",
    "TestItem",
    "TestSet",
    "augment",
    "build_testset",
    "center_crop",
    "check_min_size",
    "detect_layout",
    "eval_images",
    "find_layout",
    "get_protocol",
    "image_format",
    "image_shape",
    "image_size",
    "in_detection_order",
    "load_sample",
    "load_testset",
    "mod_crop",
    "parse_options",
    "protocol_from_spec",
    "quantize_8bit",
    "random_crop",
    "read_alpha",
    "read_image",
    "read_kernel",
    "sample_batch",
    "write_image",
]
