"""Neural-network building blocks shared by restorefw model plugins."""

from __future__ import annotations

from restorefw.nn._layers import (
    LayerNorm2d,
    MeanShift,
    ResBlock,
    Upsampler,
    default_conv,
    layer_norm_channels,
)

__all__ = ["LayerNorm2d", "MeanShift", "ResBlock", "Upsampler", "default_conv", "layer_norm_channels"]
