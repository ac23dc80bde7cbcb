"""Neural-network building blocks shared by restorefw model plugins."""

from __future__ import annotations

from restorefw.nn._layers import LayerNorm2d, layer_norm_channels

__all__ = ["LayerNorm2d", "layer_norm_channels"]
