"""A small convolutional UNet split into an encoder and a decoder part.

The encoder maps an image to one feature map per level (strides 1, 2, 4, ...);
the decoder upsamples from the deepest level, concatenating each shallower
level through a skip connection, and ends in a convolution back to image
channels. Residual blocks use GroupNorm, so nothing depends on batch statistics
and a frozen encoder stays exactly frozen. Both parts declare their channel
lists (``out_channels`` / ``in_channels``) so that
:func:`restorefw.models.check_parts_fit` can check any pairing at validation time.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
import torch.nn.functional as F
from pydantic import Field, PositiveInt, model_validator
from torch import Tensor, nn

from restorefw import StrictModel
from restorefw.models import ModelInfo

__all__ = ["UNetConfig", "UNetDecoder", "UNetDecoderConfig", "UNetEncoder"]


class UNetConfig(StrictModel):
    """Hyper-parameters shared by both UNet parts."""

    image_channels: PositiveInt = 3
    widths: list[PositiveInt] = Field(default_factory=lambda: [16, 32, 48, 64], min_length=2)
    blocks: PositiveInt = 1
    groups: PositiveInt = 8

    @model_validator(mode="after")
    def _groups_divide_widths(self) -> UNetConfig:
        bad = [w for w in self.widths if w % self.groups]
        if bad:
            raise ValueError(f"every width must be a multiple of groups = {self.groups}; not: {bad}")
        return self


class UNetDecoderConfig(UNetConfig):
    """Decoder hyper-parameters: the shared ones plus the global residual."""

    global_residual: bool = True


class ResBlock(nn.Module):
    """Pre-activation residual block: (GroupNorm, SiLU, conv 3x3) twice, plus a 1x1 skip if widths differ."""

    def __init__(self, cin: int, cout: int, groups: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.GroupNorm(groups, cin), nn.SiLU(), nn.Conv2d(cin, cout, 3, padding=1),
            nn.GroupNorm(groups, cout), nn.SiLU(), nn.Conv2d(cout, cout, 3, padding=1),
        )
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.skip(x) + self.body(x)


def _blocks(cin: int, cout: int, count: int, groups: int) -> nn.Sequential:
    return nn.Sequential(ResBlock(cin, cout, groups), *(ResBlock(cout, cout, groups) for _ in range(count - 1)))


class UNetEncoder(nn.Module):
    """Image ``(B, image_channels, H, W)`` to features at strides ``1, 2, ..., 2**(L-1)``.

    Args:
        image_channels: channels of the input image.
        widths: channels of each level, shallow to deep (``L`` levels).
        blocks: residual blocks per level.
        groups: GroupNorm groups (must divide every width).

    Attributes:
        out_channels: ``widths``, the channels of the returned features in order.
    """

    def __init__(self, image_channels: int = 3, widths: Sequence[int] = (16, 32, 48, 64), blocks: int = 1,
                 groups: int = 8) -> None:
        super().__init__()
        self.out_channels = list(widths)
        self.stem = nn.Conv2d(image_channels, widths[0], 3, padding=1)
        self.downs = nn.ModuleList(nn.Conv2d(a, b, 3, stride=2, padding=1) for a, b in pairwise(widths))
        self.levels = nn.ModuleList(_blocks(w, w, blocks, groups) for w in widths)

    @property
    def model_info(self) -> ModelInfo:
        """Input side: image channels; H and W multiples of ``2**(L-1)``."""
        return ModelInfo(in_channels=self.stem.in_channels, size_multiple=2 ** (len(self.out_channels) - 1))

    def forward(self, x: Tensor) -> list[Tensor]:
        """Encode ``x`` into one feature map per level."""
        features = [self.levels[0](self.stem(x))]
        for down, level in zip(self.downs, self.levels[1:], strict=True):
            features.append(level(down(features[-1])))
        return features


class UNetDecoder(nn.Module):
    """Features from a UNet-style encoder, plus the input image, to the output image.

    Args:
        image_channels: channels of the output (and, with the residual, of the input) image.
        widths: channels of the features it expects, shallow to deep.
        blocks: residual blocks per level.
        groups: GroupNorm groups (must divide every width).
        global_residual: add the input image to the output, so the network
            predicts a correction. Denoising strategies read this attribute.

    Attributes:
        in_channels: ``widths``, the feature channels it expects in order.
    """

    def __init__(self, image_channels: int = 3, widths: Sequence[int] = (16, 32, 48, 64), blocks: int = 1,
                 groups: int = 8, global_residual: bool = True) -> None:
        super().__init__()
        self.in_channels = list(widths)
        self.global_residual = global_residual
        self.ups = nn.ModuleList(nn.Conv2d(b, a, 3, padding=1) for a, b in pairwise(widths))
        # Each merge sees the upsampled deeper features concatenated with the skip of the same width.
        self.merges = nn.ModuleList(_blocks(2 * w, w, blocks, groups) for w in widths[:-1])
        self.head = nn.Sequential(nn.GroupNorm(groups, widths[0]), nn.SiLU(),
                                  nn.Conv2d(widths[0], image_channels, 3, padding=1))

    @property
    def model_info(self) -> ModelInfo:
        """Output side: image channels; H and W multiples of ``2**(L-1)``."""
        out = self.head[-1]
        assert isinstance(out, nn.Conv2d)
        return ModelInfo(out_channels=out.out_channels, size_multiple=2 ** (len(self.in_channels) - 1))

    def forward(self, features: Sequence[Tensor], x: Tensor) -> Tensor:
        """Decode ``features`` (shallow to deep); ``x`` is added when ``global_residual``."""
        if len(features) != len(self.in_channels):
            raise ValueError(f"UNet decoder expects {len(self.in_channels)} feature maps, got {len(features)}")
        h = features[-1]
        for index in reversed(range(len(self.merges))):
            up = self.ups[index](F.interpolate(h, scale_factor=2.0, mode="nearest"))
            h = self.merges[index](torch.cat([up, features[index]], dim=1))
        out = self.head(h)
        return out + x if self.global_residual else out
