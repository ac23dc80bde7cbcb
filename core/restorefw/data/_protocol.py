"""Evaluation protocols: how each paper turns a restored image into its published numbers.

A protocol fixes what happens between the model's output and the metric:
rounding to 8 bits, the BT.601 luma channel (and whether it is rounded, as
MATLAB's ``rgb2ycbcr`` on ``uint8`` images does), the border left out, the
ground truth cropped to a multiple of the scale, plus the paper's inference
hints (tiling, self-ensemble, MZSR's adaptation steps) and the seed of the
degradation when a test set holds ground truth only. docs/eval.md gives each
protocol's source.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from torch import Tensor

from restorefw._errors import ConfigError, DataError
from restorefw._hints import did_you_mean

Tiling = Literal["none", "chop", "exact"]
Downsample = Literal["direct", "bicubic"]


def mod_crop(img: Tensor, scale: int) -> Tensor:
    """The top-left part of a (..., H, W) image whose sides are multiples of ``scale``, as a view.

    BasicSR's ``mod_crop`` and the ``modcrop`` of MATLAB SR scripts: the last
    ``H % scale`` rows and ``W % scale`` columns are dropped.

    Raises:
        DataError: ``scale`` is below 1 or larger than a side of the image.
    """
    height, width = int(img.shape[-2]), int(img.shape[-1])
    if scale < 1 or scale > min(height, width):
        raise DataError(
            f"cannot crop a {height}x{width} image (height x width) to a multiple of {scale}; "
            "expected a scale of at least 1 and no larger than the image"
        )
    return img[..., : height - height % scale, : width - width % scale]


def quantize_8bit(img: Tensor) -> Tensor:
    """Images in [0, 1] clamped and rounded to the nearest of the 256 levels of an 8-bit file.

    What BasicSR's ``tensor2img``, Restormer's ``img_as_ubyte`` and IPT's
    ``quantize`` do before scoring, without leaving the [0, 1] float scale.
    Halves round to even, as numpy and torch do.
    """
    return img.clamp(0, 1).mul(255).round().div(255)


class EvalProtocol(BaseModel):
    """How a paper scores restored images; frozen, overridable per key with :meth:`with_overrides`.

    Attributes:
        name: the protocol's name.
        source: where the protocol comes from (paper, repository, script).
        metrics: the metric components the paper reports.
        y_channel: score the BT.601 luma of RGB images (MATLAB ``rgb2ycbcr``
            coefficients, +16 offset, [0, 255] scale); grey sets are scored as they are.
        round_y: round the luma to integers before scoring, as MATLAB's
            ``rgb2ycbcr`` and MZSR's ``rgb2y`` do on 8-bit images.
        crop_border: pixels left out at each edge: a number, or ``"scale"`` for
            the test set's scale factor.
        gt_mod_crop: crop the ground truth at its bottom and right to a
            multiple of the scale before anything else (BasicSR's ``mod_crop``).
        round_8bit: round outputs to 8 bits before scoring (:func:`quantize_8bit`).
        tiling: how the paper runs whole images: ``"none"`` (the whole image at
            once), ``"chop"`` (IPT's fixed-size patches), ``"exact"`` (tiles whose
            result equals the whole-image one, for images too large for memory).
        pad_multiple: pad inputs at their bottom and right by reflection to a
            multiple of this, and crop the output back (Restormer's test scripts: 8).
        self_ensemble: average the outputs over the 8 flips and quarter turns.
        adaptation_steps: zero-shot adaptation steps to score after (MZSR:
            ``(0, 1, 10)``); empty for models that do not adapt.
        adaptation_lr: the step size of each adaptation step, the last one
            repeating; empty for the model's own default.
        adaptation_downsample: how adaptation makes the image one level down
            from its input: ``"direct"`` (blur, then every ``scale``-th pixel)
            or ``"bicubic"`` (blur, then antialiased bicubic), as the inputs were made.
        seed: seed of the degradation that makes inputs for ground-truth-only sets.
        clip_lq: clamp degraded inputs to [0, 1] before the model (IPT clamps
            its noisy inputs; Restormer does not).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    name: str
    source: str
    metrics: tuple[str, ...] = ("psnr", "ssim")
    y_channel: bool = False
    round_y: bool = False
    crop_border: Annotated[int, Field(ge=0)] | Literal["scale"] = 0
    gt_mod_crop: bool = True
    round_8bit: bool = True
    tiling: Tiling = "none"
    pad_multiple: int = Field(default=1, ge=1)
    self_ensemble: bool = False
    adaptation_steps: tuple[Annotated[int, Field(ge=0)], ...] = ()
    adaptation_lr: tuple[Annotated[float, Field(gt=0)], ...] = ()
    adaptation_downsample: Downsample = "direct"
    seed: int = 0
    clip_lq: bool = False

    def border(self, scale: int) -> int:
        """The border left out for a test set of super-resolution factor ``scale``."""
        return scale if self.crop_border == "scale" else self.crop_border

    def with_overrides(self, overrides: Mapping[str, Any]) -> EvalProtocol:
        """A copy with some keys changed, validated as the protocol's own fields are.

        Args:
            overrides: ``{key: value}``, e.g. ``{"crop_border": 0, "y_channel": False}``.

        Raises:
            ConfigError: an unknown key (with the closest known one) or a
                value of the wrong type; the path is ``protocol.<key>``.
        """
        known = EvalProtocol.model_fields
        for key in overrides:
            if key not in known:
                raise ConfigError(
                    f"unknown protocol key '{key}'{did_you_mean(key, known)}; expected one of {', '.join(known)}",
                    f"protocol.{key}",
                )
        # Lists arrive from TOML and JSON where the fields hold tuples.
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
        try:
            return EvalProtocol.model_validate({**self.model_dump(), **values})
        except ValidationError as error:
            # Union fields add the member type to the location; the key is what users wrote.
            first = error.errors()[0]
            raise ConfigError(f"{first['msg']}, got {first['input']!r}", f"protocol.{first['loc'][0]}") from None


_BASICSR_SR = (
    "BasicSR v1.4.2: basicsr/models/sr_model.py::nondist_validation (tensor2img rounds to uint8 before "
    "calculate_metric), basicsr/metrics/psnr_ssim.py; options/test: crop_border = scale, test_y_channel true; "
    "ground truth in GTmod12 folders, cropped to lq size x scale by PairedImageDataset"
)
_BASICSR_RESTORE = (
    "BasicSR v1.4.2: basicsr/models/sr_model.py::nondist_validation (tensor2img rounds to uint8 before "
    "calculate_metric), basicsr/metrics/psnr_ssim.py; RGB with crop_border 0 and test_y_channel false, as in the "
    "val metrics of the denoising and deblurring options of Restormer's BasicSR-based code (Options/*.yml)"
)
_IPT = "IPT (Chen et al., CVPR 2021), huawei-noah/Pretrained-IPT"
_RESTORMER = "Restormer (Zamir et al., CVPR 2022), swz30/Restormer"

PROTOCOLS: Mapping[str, EvalProtocol] = {
    p.name: p
    for p in (
        EvalProtocol(
            name="sr", source=_BASICSR_SR, y_channel=True, crop_border="scale",
        ),
        EvalProtocol(name="restore", source=_BASICSR_RESTORE),
        EvalProtocol(
            name="sr_ipt",
            source=f"{_IPT}: trainer.py::test (utility.quantize, then utility.calc_psnr: Y by "
            "[65.738, 129.057, 25.064]/256, shave = scale), data/srdata.py (HR cropped to LR size x scale), "
            "model/__init__.py::forward_chop (48x48 patches) and forward_x8 (--self_ensemble)",
            metrics=("psnr",), y_channel=True, crop_border="scale", tiling="chop",
        ),
        EvalProtocol(
            name="mzsr",
            source="MZSR (Soh, Cho, Cho, CVPR 2020), JWSoh/MZSR: test.py::quick_test/final_test (output and "
            "ground truth rounded to uint8, utils.rgb2y rounded to uint8, shave = scale, utils.modcrop), "
            "main.py (scale 2, kernel.mat['kernel'], --model 0 = Directx2: direct subsampling, test.py's step sizes "
            "2e-2, then 1e-2 for steps 1-3, then 5e-3); 0 steps = quick_test before adaptation, 1 and 10 = "
            "--num_of_adaptation; SSIM as in the paper's Table 2, computed here the BasicSR way since the script "
            "computes PSNR only",
            y_channel=True, round_y=True, crop_border="scale", adaptation_steps=(0, 1, 10),
            adaptation_lr=(2e-2, 1e-2, 1e-2, 1e-2, 5e-3), adaptation_downsample="direct",
        ),
        EvalProtocol(
            name="denoise_restormer",
            source=f"{_RESTORMER}: Denoising/test_gaussian_color_denoising.py and test_gaussian_gray_denoising.py "
            "(np.random.seed(0) per image, N(0, sigma/255) noise added without clipping, reflect padding to a "
            "multiple of 8, clamp, img_as_ubyte), evaluate_gaussian_color_denoising.py (utils.calculate_psnr "
            "on 8-bit RGB, border 0)",
            metrics=("psnr",), tiling="exact", pad_multiple=8,
        ),
        EvalProtocol(
            name="derain_restormer",
            source=f"{_RESTORMER}: Deraining/test.py (reflect padding to a multiple of 8, clamp, img_as_ubyte) "
            "and Deraining/evaluate_PSNR_SSIM.m (MATLAB rgb2ycbcr on uint8, so Y is rounded; PSNR and "
            "SSIM_index, 11x11 Gaussian window, sigma 1.5, on Y; no border)",
            y_channel=True, round_y=True, tiling="exact", pad_multiple=8,
        ),
        EvalProtocol(
            name="denoise_ipt",
            source=f"{_IPT}: trainer.py::test, denoise branch (sigma * N(0, 1) noise on the [0, 255] image, "
            "clamped, not rounded; output quantized; calc_psnr on Y, no shave at scale 1); option.py --seed 1",
            metrics=("psnr",), y_channel=True, tiling="chop", seed=1, clip_lq=True,
        ),
        EvalProtocol(
            name="derain_ipt",
            source=f"{_IPT}: trainer.py::test, derain branch (Rain100L rainy/rain-*.png against norain-*.png; "
            "output quantized; calc_psnr on Y, no shave at scale 1)",
            metrics=("psnr",), y_channel=True, tiling="chop",
        ),
    )
}
"""The named protocols, by name."""


def get_protocol(name: str, overrides: Mapping[str, Any] | None = None) -> EvalProtocol:
    """The named protocol, with ``overrides`` applied.

    Raises:
        ConfigError: an unknown name (with the closest known one), or a bad override.
    """
    if name not in PROTOCOLS:
        raise ConfigError(
            f"unknown protocol '{name}'{did_you_mean(name, PROTOCOLS)}; expected one of {', '.join(PROTOCOLS)}",
            "protocol",
        )
    protocol = PROTOCOLS[name]
    return protocol.with_overrides(overrides) if overrides else protocol


def protocol_from_spec(spec: str | Mapping[str, Any]) -> EvalProtocol:
    """The protocol a recipe or a command names: ``"sr"``, or ``{"name": "sr", "crop_border": 0, ...}``.

    Raises:
        ConfigError: a table without ``name``, an unknown name or a bad key; the path is ``protocol.<key>``.
    """
    if isinstance(spec, str):
        return get_protocol(spec)
    if "name" not in spec:
        raise ConfigError("missing: the protocol's name (sr, mzsr, ...)", "protocol.name")
    return get_protocol(spec["name"], {k: v for k, v in spec.items() if k != "name"})
