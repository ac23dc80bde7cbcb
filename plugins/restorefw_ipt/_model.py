"""IPT, the Image Processing Transformer: per-task heads and tails around one shared body.

Chen et al., "Pre-Trained Image Processing Transformer", CVPR 2021, arXiv:2012.00364.
Original repository: https://github.com/huawei-noah/Pretrained-IPT.

Licence note: clean-room code written from the paper and from notes on the published
architecture; no official code is used. The state-dict keys are the official ones
(``sub_mean``, ``head.N``, ``body.*``, ``tail.N``, ``add_mean``), so official
checkpoints load unchanged.

A model holds one or more *tasks*; task ``i`` has ``head[i]``, ``tail[i]`` and row
``i`` of the body's query table (one shared row when ``num_queries == 1``).
``forward(x)`` runs the active task (``task``) on images of any size in [0, 1]:
exactly ``patch_size``-square inputs go straight through, anything else through the
overlapped chop of :mod:`restorefw_ipt._chop`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field, field_validator, model_validator
from torch import Tensor, nn

from restorefw import ComponentField, StrictModel
from restorefw.models import ModelInfo
from restorefw.nn import MeanShift
from restorefw_ipt._body import IPTBody
from restorefw_ipt._chop import chop_forward, self_ensemble
from restorefw_ipt._parts import IPTHead, IPTTail, check_scale

__all__ = ["IPT", "IPTConfig", "build_ipt", "pruned_spec"]


class IPTConfig(StrictModel):
    """Parameters of the ``ipt`` model (the official option names where one exists)."""

    scales: list[int] = Field([4], min_length=1, description="one entry per task: its SR factor, 1 for restoration "
                              "(the official --scale, e.g. [2, 3, 4, 1, 1, 1])")
    heads: list[ComponentField("head")] | None = Field(None, description="one head per task; default ipt.head")
    tails: list[ComponentField("tail")] | None = Field(None, description="one tail per task; default ipt.tail")
    num_queries: int | None = Field(None, ge=1, description="1 (shared) or the number of tasks (default)")
    task: int = Field(0, ge=0, description="active task of forward(x) (inference, evaluation)")
    n_feats: int = Field(64, gt=0)
    n_colors: int = Field(3, gt=0)
    rgb_range: float = Field(255.0, gt=0, description="the model works on [0, rgb_range] images")
    patch_size: int = Field(48, gt=0, description="the body's fixed input side")
    patch_dim: int = Field(3, gt=0, description="side of one token's patch")
    num_heads: int = Field(12, gt=0)
    num_layers: int = Field(12, gt=0)
    dropout_rate: float = Field(0.0, ge=0, lt=1)
    no_norm: bool = False
    no_mlp: bool = False
    pos_every: bool = False
    no_pos: bool = False
    chop_stride: int | None = Field(None, gt=0, description="tile stride of the chop; default patch_size // 4")
    chop_margin: int | None = Field(None, ge=0, description="dropped tile border; default patch_size // 4")
    chop_batch: int = Field(64, gt=0, description="tiles per forward call in the chop")
    self_ensemble: bool = Field(False, description="x8 flip/rotation ensemble in eval mode")

    @field_validator("scales")
    @classmethod
    def _scales(cls, value: list[int]) -> list[int]:
        return [check_scale(s) for s in value]

    @model_validator(mode="after")
    def _consistent(self) -> IPTConfig:
        tasks = len(self.scales)
        for name in ("heads", "tails"):
            given = getattr(self, name)
            if given is not None and len(given) != tasks:
                raise ValueError(f"{name} has {len(given)} entries for {tasks} tasks (scales)")
        if self.num_queries not in (None, 1, tasks):
            raise ValueError(f"num_queries must be 1 or the number of tasks ({tasks}), got {self.num_queries}")
        if self.task >= tasks:
            raise ValueError(f"task {self.task} is out of range for {tasks} tasks")
        if self.patch_size % self.patch_dim:
            raise ValueError(f"patch_size {self.patch_size} is not a multiple of patch_dim {self.patch_dim}")
        if (self.n_feats * self.patch_dim**2) % self.num_heads:
            raise ValueError(f"token dim n_feats*patch_dim^2 = {self.n_feats * self.patch_dim**2} is not "
                             f"divisible by num_heads {self.num_heads}")
        if not 2 * self.margin + self.stride <= self.patch_size:
            raise ValueError(f"chop needs chop_stride + 2*chop_margin <= patch_size, got {self.stride} + "
                             f"2*{self.margin} > {self.patch_size}")
        return self

    @property
    def stride(self) -> int:
        """Chop stride in effect."""
        return self.chop_stride or max(1, self.patch_size // 4)

    @property
    def margin(self) -> int:
        """Chop margin in effect."""
        return self.patch_size // 4 if self.chop_margin is None else self.chop_margin


class IPT(nn.Module):
    """Multi-head, multi-tail image processing transformer.

    Args:
        config: model parameters.
        heads: one head per task (default: ``IPTHead`` for each).
        tails: one tail per task (default: ``IPTTail(scale)`` for each).
    """

    def __init__(self, config: IPTConfig, heads: Sequence[nn.Module] | None = None,
                 tails: Sequence[nn.Module] | None = None) -> None:
        super().__init__()
        c = self.config = config
        self.scales = list(c.scales)
        self.task = c.task
        self.sub_mean = MeanShift(c.rgb_range)
        self.head = nn.ModuleList(heads or [IPTHead(c.n_colors, c.n_feats) for _ in c.scales])
        self.body = IPTBody(c.patch_size, c.patch_dim, c.n_feats, c.num_heads, c.num_layers,
                            c.num_queries or len(c.scales), c.dropout_rate, c.no_norm, c.no_mlp, c.pos_every,
                            c.no_pos)
        self.tail = nn.ModuleList(tails or [IPTTail(s, c.n_colors, c.n_feats) for s in c.scales])
        self.add_mean = MeanShift(c.rgb_range, sign=1)
        for index, (scale, tail) in enumerate(zip(self.scales, self.tail, strict=True)):
            if int(getattr(tail, "scale", 1)) != scale:
                raise ValueError(f"tail {index} ({type(tail).__name__}) has scale {getattr(tail, 'scale', 1)}, "
                                 f"scales[{index}] is {scale}")

    @property
    def model_info(self) -> ModelInfo:
        """Any input size (the chop tiles it); the current task's scale."""
        return ModelInfo(scale=self.scale, in_channels=self.config.n_colors, out_channels=self.config.n_colors)

    @property
    def num_tasks(self) -> int:
        """Number of tasks (heads, tails)."""
        return len(self.scales)

    @property
    def scale(self) -> int:
        """Output/input size ratio of the active task."""
        return self.scales[self.task]

    def _query_row(self, task: int) -> int:
        return task if self.body.num_queries > 1 else 0

    def forward_patch(self, x: Tensor, task: int, features: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Run task ``task`` on ``patch_size``-square images in [0, 1].

        Args:
            x: ``(B, n_colors, P, P)``.
            task: task index.
            features: also return the body's ``(B, N, D)`` token features.
        """
        r = self.config.rgb_range
        feats = self.head[task](self.sub_mean(x * r))
        body = self.body(feats, self._query_row(task), con=features)
        res = (body[0] if features else body) + feats
        out = self.add_mean(self.tail[task](res)) / r
        return (out, body[1]) if features else out

    def forward(self, x: Tensor, task: int | None = None, features: bool = False) -> Any:
        """Restore images ``(B, n_colors, H, W)`` in [0, 1] of any size.

        Args:
            x: the images.
            task: task index (default: the active ``task``).
            features: return ``(restored, token_features)``; needs ``patch_size``-square
                inputs (training patches).
        """
        index = self.task if task is None else task
        c = self.config
        if features:
            return self.forward_patch(x, index, features=True)

        def run(images: Tensor) -> Tensor:
            if images.shape[-2:] == (c.patch_size, c.patch_size):
                return self.forward_patch(images, index)
            return chop_forward(lambda tiles: self.forward_patch(tiles, index), images, c.patch_size, c.stride,
                                c.margin, self.scales[index], c.chop_batch)

        if c.self_ensemble and not self.training:
            return self_ensemble(run, x)
        return run(x)

    def keep_task(self, index: int, head: nn.Module | None = None, tail: nn.Module | None = None) -> None:
        """Prune the model to task ``index`` (its head, tail and query row), which becomes task 0.

        Args:
            index: task to keep.
            head: a new head replacing the kept one.
            tail: a new tail replacing the kept one (its ``scale`` becomes the model's).
        """
        if not 0 <= index < self.num_tasks:
            raise ValueError(f"task {index} is out of range for {self.num_tasks} tasks")
        tail = tail if tail is not None else self.tail[index]
        self.head = nn.ModuleList([head if head is not None else self.head[index]])
        self.tail = nn.ModuleList([tail])
        self.body.keep_query(self._query_row(index))
        self.scales = [int(getattr(tail, "scale", 1))]
        self.task = 0


def build_ipt(heads: list[nn.Module] | None = None, tails: list[nn.Module] | None = None, **params: Any) -> IPT:
    """The ``ipt`` model; ``heads``/``tails`` arrive built by the registry."""
    return IPT(IPTConfig(**params), heads, tails)


def pruned_spec(spec: dict[str, Any], index: int, head: dict[str, Any] | None = None,
                tail: dict[str, Any] | None = None) -> dict[str, Any]:
    """The model spec of ``spec`` after :meth:`IPT.keep_task` (``checkpoint`` dropped).

    Args:
        spec: a resolved ``ipt`` spec.
        index: the kept task.
        head: spec of a new head (replacing the kept one).
        tail: spec of a new tail (its ``scale`` becomes the task's).
    """
    out = {k: v for k, v in spec.items() if k != "checkpoint"}
    scale = tail.get("scale", 1) if tail is not None else spec["scales"][index]
    out.update(scales=[scale], task=0, num_queries=1)
    for name, new in (("heads", head), ("tails", tail)):
        if new is not None:
            out[name] = [new]
        elif spec.get(name):
            out[name] = [spec[name][index]]
    return out
