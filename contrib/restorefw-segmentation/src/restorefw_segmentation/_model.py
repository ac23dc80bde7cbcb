"""A segmentation model: any image-to-image backbone followed by a small per-pixel classifier head."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from torch import Tensor, nn

from restorefw import ComponentField, StrictModel
from restorefw.models import describe

__all__ = ["Segmenter", "SegmenterConfig"]


class SegmenterConfig(StrictModel):
    backbone: ComponentField("model") = Field(
        description="image-to-image model, e.g. an encoder_decoder of ddep.unet.encoder + ddep.unet.decoder")
    classes: int = Field(4, ge=2, description="output classes, background included")
    backbone_channels: int = Field(3, ge=1, description="channels of the backbone's output (3 for an RGB model)")
    hidden: int = Field(0, ge=0, description="0: a 1x1 convolution head; n > 0: conv 3x3 to n channels, SiLU, "
                                             "conv 1x1")
    input_range: Literal["unit", "signed"] = Field(
        "unit", description="range the backbone expects: unit = [0, 1] as given; signed = mapped to [-1, 1], "
                            "as a DeP/DDeP-pretrained backbone saw during pretraining")


def _head(channels: int, classes: int, hidden: int) -> nn.Module:
    if not hidden:
        return nn.Conv2d(channels, classes, 1)
    return nn.Sequential(nn.Conv2d(channels, hidden, 3, padding=1), nn.SiLU(), nn.Conv2d(hidden, classes, 1))


class Segmenter(nn.Module):
    """``head(backbone(x))``: per-pixel class logits ``(B, classes, H, W)`` for images ``(B, C, H, W)`` in [0, 1].

    Parameters live under ``backbone.*`` and ``head.*``, so a checkpoint of the
    backbone alone (e.g. a DeP or DDeP run of the bare ``encoder_decoder``)
    loads with a stage ``load = [{ checkpoint = "...", into = "backbone" }]``
    or a ``checkpoint`` key in the backbone's spec.

    Args:
        backbone: an image-to-image model with scale 1.
        classes: output classes, background included.
        backbone_channels: channels of the backbone's output.
        hidden: width of the head's hidden layer; 0 for a single 1x1 convolution.
        input_range: ``"signed"`` maps inputs to [-1, 1] before the backbone.

    Attributes:
        size_multiple: the backbone's; input sides must be multiples of it.
    """

    scale = 1

    def __init__(self, backbone: nn.Module, classes: int = 4, backbone_channels: int = 3, hidden: int = 0,
                 input_range: str = "unit") -> None:
        super().__init__()
        if describe(backbone).scale != 1:
            raise ValueError(f"the backbone {type(backbone).__name__} has scale {describe(backbone).scale}; "
                             "segmentation needs outputs of the input's size (scale 1)")
        self.backbone = backbone
        self.head = _head(backbone_channels, classes, hidden)
        self.classes, self.backbone_channels, self.input_range = classes, backbone_channels, input_range
        self.size_multiple = describe(backbone).size_multiple

    def forward(self, x: Tensor) -> Tensor:
        """Class logits for each pixel of ``x``."""
        out = self.backbone(x * 2 - 1 if self.input_range == "signed" else x)
        if out.dim() != 4 or out.shape[1] != self.backbone_channels:
            raise ValueError(f"the backbone gave shape {tuple(out.shape)} but the head expects "
                             f"backbone_channels = {self.backbone_channels}; set backbone_channels to match")
        return self.head(out)
