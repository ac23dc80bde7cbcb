"""restorefw-motion-blur: camera-shake blur kernels for restorefw.

Registers the kernel family ``motion_blur``, usable wherever a recipe takes a
kernel: the basic plugin's ``deblur`` task and ``blur`` degradation
(``kernel = { type = "motion_blur" }``), MZSR's meta-transfer strategy, ...
Depends on restorefw's public API only.
"""

from __future__ import annotations

from restorefw import Register, hookimpl
from restorefw_motion_blur._trajectory import MotionBlurConfig, MotionKernels, rasterise, trajectory

__all__ = ["MotionBlurConfig", "MotionKernels", "rasterise", "register_kernels", "trajectory"]

RESTOREFW_API_VERSION = 1


def _motion_blur(size: int, length: tuple[float, float], intensity: float, points: int) -> MotionKernels:
    """Motion-blur kernels rasterised from random camera trajectories."""
    return MotionKernels(size, length, intensity, points)


@hookimpl
def register_kernels(register: Register) -> None:
    register("motion_blur", _motion_blur, schema=MotionBlurConfig, license="Apache-2.0",
             description="camera-shake kernels: random smooth trajectories of a given length, rasterised")
