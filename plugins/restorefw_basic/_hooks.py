"""Registration of the basic plugin's components."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from restorefw import Register, StrictModel, hookimpl
from restorefw_basic import _components as c
from restorefw_basic import _tasks as t
from restorefw_basic._ops import register_basic_ops

_LICENSE = "Apache-2.0"
_BASICSR = "BasicSR metric conventions, https://github.com/XPixelGroup/BasicSR"


@hookimpl
def register_kernels(register: Register) -> None:
    register("isotropic_gaussian", c.isotropic_kernels, schema=c.IsotropicConfig, license=_LICENSE)
    register("anisotropic_gaussian", c.anisotropic_kernels, schema=c.AnisotropicConfig, license=_LICENSE,
             paper="Soh et al., Meta-Transfer Learning for Zero-Shot Super-Resolution, CVPR 2020")
    register("fixed_gaussian", c.fixed_gaussian, schema=c.FixedGaussianConfig, license=_LICENSE)
    register("kernel_file", c.kernel_file, schema=c.KernelFileConfig, license=_LICENSE)


@hookimpl
def register_degradations(register: Register) -> None:
    register("bicubic_down", c.BicubicDown, schema=c.ScaleConfig, license=_LICENSE,
             description="MATLAB imresize bicubic down-sampling (antialiased)")
    register("gaussian_noise", c.GaussianNoise, schema=c.NoiseConfig, license=_LICENSE)
    register("blur", c.KernelBlur, schema=c.BlurConfig, license=_LICENSE,
             description="blur with a sampled kernel, then direct or bicubic down-sampling by scale")
    register("rain", lambda **p: c.RainStreaks(**p), schema=c.RainConfig, license=_LICENSE,
             description="synthetic rain streaks")
    register("chain", c.Chain, schema=c.ChainConfig, license=_LICENSE, description="degradations applied in order")


@hookimpl
def register_tasks(register: Register) -> None:
    register("sr", t.sr_task, schema=t.SRTaskConfig, license=_LICENSE)
    register("denoise", t.denoise_task, schema=t.DenoiseTaskConfig, license=_LICENSE)
    register("derain", t.derain_task, schema=t.DerainTaskConfig, license=_LICENSE)
    register("deblur", t.deblur_task, schema=t.DeblurTaskConfig, license=_LICENSE)
    register("custom", t.custom_task, schema=t.CustomTaskConfig, license=_LICENSE)


@hookimpl
def register_losses(register: Register) -> None:
    from restorefw_basic import _losses_metrics as lm

    register("l1", lm.l1_loss, schema=lm.WeightConfig, license=_LICENSE)
    register("mse", lm.mse_loss, schema=lm.WeightConfig, license=_LICENSE)
    register("l2", lm.mse_loss, schema=lm.WeightConfig, license=_LICENSE, description="alias of mse")
    register("charbonnier", lm.charbonnier_loss, schema=lm.CharbonnierConfig, license=_LICENSE)


@hookimpl
def register_metrics(register: Register) -> None:
    from restorefw_basic import _losses_metrics as lm

    for name in ("psnr", "ssim"):
        register(name, lm.build_metric(name), schema=lm.MetricConfig, license=_LICENSE, paper=_BASICSR)


class SamplesConfig(StrictModel):
    images: list[str] | None = None


class FolderConfig(StrictModel):
    path: str
    recursive: bool = True
    skip_bad: bool = False


class PairedConfig(StrictModel):
    path: str
    lq: str = "lq"
    gt: str = "gt"
    scale: int = Field(1, ge=1)
    skip_bad: bool = False


def _samples(images: list[str] | None) -> Any:
    """scikit-image sample images bundled with the package (no download)."""
    from restorefw.data import SkimageSamples

    return SkimageSamples(images)


def _folder(path: str, recursive: bool, skip_bad: bool) -> Any:
    """Clean images from a folder, degraded on the fly by the task."""
    from restorefw.data import ImageFolder

    return ImageFolder(path, recursive=recursive, skip_bad=skip_bad)


def _paired(path: str, lq: str, gt: str, scale: int, skip_bad: bool) -> Any:
    """Paired folders ``<path>/<lq>`` and ``<path>/<gt>`` matched by file stem."""
    from restorefw.data import PairedFolder

    return PairedFolder(path, lq=lq, gt=gt, scale=scale, skip_bad=skip_bad)


@hookimpl
def register_datasets(register: Register) -> None:
    register("skimage_samples", _samples, schema=SamplesConfig, license="BSD-3-Clause (scikit-image data)")
    register("image_folder", _folder, schema=FolderConfig, license=_LICENSE)
    register("paired_folder", _paired, schema=PairedConfig, license=_LICENSE)


@hookimpl
def register_models(register: Register) -> None:
    from restorefw_basic._models import ResCNNConfig, build_rescnn

    register("rescnn", build_rescnn, schema=ResCNNConfig, license=_LICENSE,
             paper="Lim et al., EDSR, CVPRW 2017, arXiv:1707.02921",
             description="small residual CNN baseline (EDSR-style blocks, global residual)")


def _supervised() -> Any:
    """Plain supervised training: loss(model(lq), target)."""
    from restorefw.engine import Strategy

    return Strategy()


@hookimpl
def register_strategies(register: Register) -> None:
    register("supervised", _supervised, license=_LICENSE)


@hookimpl
def register_ops(register: Register) -> None:
    register_basic_ops(register)
