"""restorefw-jpeg: JPEG compression as a restorefw degradation and the ``dejpeg`` task.

Registered through the ``restorefw`` entry-point group; depends on restorefw's
public API only.
"""

from __future__ import annotations

from restorefw import Register, Task, hookimpl
from restorefw_jpeg._jpeg import DejpegConfig, JpegCompression, JpegConfig

__all__ = ["DejpegConfig", "JpegCompression", "JpegConfig", "dejpeg_task", "register_degradations", "register_tasks"]

RESTOREFW_API_VERSION = 1

_LICENSE = "Apache-2.0"


def _jpeg(quality: int | tuple[int, int], subsampling: str) -> JpegCompression:
    """JPEG compression via Pillow; one quality per image, drawn from the generator."""
    return JpegCompression(quality, subsampling)


def dejpeg_task(quality: int | tuple[int, int], subsampling: str, y_channel: bool) -> Task:
    """JPEG artefact removal: the ``jpeg`` degradation, metrics on the full image."""
    return Task("dejpeg", JpegCompression(quality, subsampling), scale=1, crop_border=0, y_channel=y_channel)


@hookimpl
def register_degradations(register: Register) -> None:
    register("jpeg", _jpeg, schema=JpegConfig, license=_LICENSE,
             description="JPEG compression (Pillow/libjpeg), per-image quality from a range")


@hookimpl
def register_tasks(register: Register) -> None:
    register("dejpeg", dejpeg_task, schema=DejpegConfig, license=_LICENSE,
             description="JPEG compression-artefact removal")
