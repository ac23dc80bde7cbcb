"""restorefw_basic: degradations, kernels, tasks, losses, metrics, datasets, a CNN baseline
and the supervised strategy. Registered through the ``restorefw`` entry-point group.

Besides its hooks, the plugin offers the functions other plugins build on: ``blur`` and
``subsample`` (the classical SR degradation), ``load_kernel`` (``.npy``/``.mat`` blur kernels),
``psnr``, ``ssim`` and ``rgb_to_y`` (BasicSR conventions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import lazy_loader

from restorefw_basic._hooks import (
    register_datasets,
    register_degradations,
    register_kernels,
    register_losses,
    register_metrics,
    register_models,
    register_ops,
    register_strategies,
    register_tasks,
)

if TYPE_CHECKING:
    from restorefw_basic._degrade import blur, subsample
    from restorefw_basic._kernels import load_kernel
    from restorefw_basic._metrics import psnr, rgb_to_y, ssim

__all__ = [
    "blur",
    "load_kernel",
    "psnr",
    "register_datasets",
    "register_degradations",
    "register_kernels",
    "register_losses",
    "register_metrics",
    "register_models",
    "register_ops",
    "register_strategies",
    "register_tasks",
    "rgb_to_y",
    "ssim",
    "subsample",
]

# Torch-dependent names load on first use, so plugin discovery stays cheap.
__getattr__ = lazy_loader.attach(__name__, submod_attrs={
    "_degrade": ["blur", "subsample"], "_kernels": ["load_kernel"], "_metrics": ["psnr", "rgb_to_y", "ssim"]})[0]
