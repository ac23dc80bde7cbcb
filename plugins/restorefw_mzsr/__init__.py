"""restorefw_mzsr: MZSR (Soh et al., CVPR 2020) for restorefw.

The network (``mzsr``), the ``meta_transfer`` training strategy and the zero-shot
adaptation API used at test time::

    from restorefw_mzsr import zero_shot_sr
    sr = zero_shot_sr(model, lr_image, kernel="kernel.npy", steps=10)

Registered through the ``restorefw`` entry-point group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import lazy_loader

from restorefw_mzsr._hooks import register_models, register_strategies, register_weights

if TYPE_CHECKING:
    from restorefw_mzsr._adapt import PAPER_STEP_SIZES, adapt, adaptation_trajectory, make_son, zero_shot_sr
    from restorefw_mzsr._arch import MZSRNet

__all__ = [
    "PAPER_STEP_SIZES",
    "MZSRNet",
    "adapt",
    "adaptation_trajectory",
    "make_son",
    "register_models",
    "register_strategies",
    "register_weights",
    "zero_shot_sr",
]

# Torch-dependent names load on first use, so plugin discovery stays cheap.
__getattr__ = lazy_loader.attach(__name__, submod_attrs={
    "_arch": ["MZSRNet"],
    "_adapt": ["PAPER_STEP_SIZES", "adapt", "adaptation_trajectory", "make_son", "zero_shot_sr"],
})[0]
