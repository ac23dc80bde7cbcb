"""MZSR network: Meta-Transfer Learning for Zero-Shot Super-Resolution.

Soh, Cho and Cho, CVPR 2020. Paper: https://arxiv.org/abs/2002.12213.
Original repository: https://github.com/JWSoh/MZSR.

Licence note: this is a clean-room reimplementation written from the paper and the
notes on the published model layout; no official code is used. restorefw ships no
weights.

The network is the ZSSR/VDSR-style residual CNN of the paper: the low-resolution
image is first enlarged to the target size with MATLAB-style bicubic ``imresize``
(through the op ``imresize_bicubic``), eight 3x3 convolutions (3 -> 64, six times
64 -> 64, 64 -> 3, ReLU between them) predict a residual, and the output is
``bicubic_up + residual``. With 64 channels that is 1,792 + 6 x 36,928 + 1,731 =
225,091 parameters.

Every weight is an ordinary ``nn.Parameter``, so fast weights (MAML inner loops,
zero-shot adaptation) run through :func:`torch.func.functional_call`.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from restorefw import StrictModel
from restorefw.models import ModelInfo, PrecisionSupport
from restorefw.ops import OpsModule

__all__ = ["MZSRConfig", "MZSRNet", "build_mzsr", "count_parameters"]

# TensorFlow's truncated normal keeps draws within two standard deviations and rescales the
# stddev by this factor so the truncated distribution still has the requested variance.
_TRUNCATED_STD_CORRECTION = 0.87962566103423978


class MZSRNet(OpsModule):
    """Bicubic up-sampling followed by a residual plain CNN.

    Args:
        scale: super-resolution factor (output size / input size).
        in_channels: image channels (3 for RGB).
        channels: feature channels of the hidden layers (64 in the paper).
        layers: number of convolutions, at least 2 (8 in the paper).

    Attributes:
        scale: output size / input size.
        size_multiple: accepted input sizes are multiples of this (any size works).
        value_range: the model works on images in [0, 1].
        precision_support: gradient steps stay in fp32; inference takes any precision.
    """

    # The meta-learned initialisation is tuned to a few exact fp32 SGD steps (and meta-training
    # differentiates through them): bf16 gradients move every step, and no meta-trained weights
    # are shipped to show that the result survives it (docs/performance.md).
    precision_support = PrecisionSupport(
        training=("fp32",), adaptation=("fp32",),
        note="MZSR: meta-training and zero-shot adaptation take fp32 gradient steps")

    def __init__(self, scale: int = 2, in_channels: int = 3, channels: int = 64, layers: int = 8) -> None:
        super().__init__()
        if layers < 2:
            raise ValueError(f"MZSR needs at least 2 layers, got {layers}")
        self.scale = scale
        self.in_channels = in_channels
        widths = [in_channels] + [channels] * (layers - 1) + [in_channels]
        # Named conv1..convN like the layers of the official model.
        self.convs = nn.ModuleDict(
            {f"conv{i + 1}": nn.Conv2d(widths[i], widths[i + 1], 3, padding=1) for i in range(layers)}
        )
        self.reset_parameters()
        self.use_op("_imresize", "imresize_bicubic")

    @property
    def model_info(self) -> ModelInfo:
        """Any input size, ``scale`` times larger output, the same channels."""
        return ModelInfo(scale=self.scale, in_channels=self.in_channels, out_channels=self.in_channels)

    def reset_parameters(self) -> None:
        """Variance scaling (fan-in, scale 1, truncated normal) for weights, zero biases."""
        for conv in self.convs.values():
            fan_in = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
            std = math.sqrt(1.0 / fan_in) / _TRUNCATED_STD_CORRECTION
            nn.init.trunc_normal_(conv.weight, std=std, a=-2 * std, b=2 * std)
            nn.init.zeros_(conv.bias)

    def upsample(self, x: Tensor) -> Tensor:
        """MATLAB-style bicubic enlargement of ``x`` by ``scale`` (the network's input)."""
        return self._imresize(x, scale=self.scale) if self.scale > 1 else x

    def residual(self, up: Tensor) -> Tensor:
        """The CNN branch applied to an already enlarged image."""
        convs = list(self.convs.values())
        h = up
        for conv in convs[:-1]:
            h = F.relu(conv(h))
        return convs[-1](h)

    def forward(self, x: Tensor, upsampled: Tensor | None = None) -> Tensor:
        """Super-resolve ``x``.

        Args:
            x: low-resolution images ``(B, C, h, w)`` in [0, 1].
            upsampled: ``upsample(x)`` when the caller already has it; adaptation
                loops pass it so the bicubic enlargement runs once, not every step.

        Returns:
            ``(B, C, h * scale, w * scale)``, not clipped.
        """
        up = self.upsample(x) if upsampled is None else upsampled
        return up + self.residual(up)


class MZSRConfig(StrictModel):
    scale: int = Field(2, ge=1, le=8, description="super-resolution factor")
    in_channels: int = Field(3, gt=0)
    channels: int = Field(64, gt=0, description="hidden channels (64 in the paper)")
    layers: int = Field(8, ge=2, description="convolutions (8 in the paper)")


def build_mzsr(scale: int, in_channels: int, channels: int, layers: int) -> MZSRNet:
    """The MZSR network; the defaults are the paper's (225,091 parameters)."""
    return MZSRNet(scale=scale, in_channels=in_channels, channels=channels, layers=layers)


def count_parameters(model: nn.Module) -> int:
    """Number of scalar parameters of ``model``."""
    return sum(p.numel() for p in model.parameters())
