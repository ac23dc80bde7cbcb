"""Registration of IPT: the whole model, its heads and tails, its training strategies, its attention op and its
official checkpoints."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from restorefw import Register, hookimpl
from restorefw.hookspecs import RegisterWeights
from restorefw.weights import read_weights_table
from restorefw_ipt._convert import IMPORTER
from restorefw_ipt._model import IPTConfig, build_ipt
from restorefw_ipt._ops import register_ipt_ops
from restorefw_ipt._parts import IPTHead, IPTHeadConfig, IPTTail, IPTTailConfig
from restorefw_ipt._strategy import IPTFinetune, IPTFinetuneConfig, IPTMultitask, IPTMultitaskConfig

_LICENSE = "Apache-2.0 (clean-room code; no official weights shipped)"
_PAPER = ("Chen et al., Pre-Trained Image Processing Transformer, CVPR 2021, arXiv:2012.00364, "
          "https://github.com/huawei-noah/Pretrained-IPT")


def _head(**params: Any) -> IPTHead:
    """IPT head: conv3x3 then two 5x5 ResBlocks (image → body features)."""
    return IPTHead(**params)


def _tail(**params: Any) -> IPTTail:
    """IPT tail: sub-pixel up-sampler (none for scale 1) then conv3x3 (features → image)."""
    return IPTTail(**params)


@hookimpl
def register_models(register: Register) -> None:
    register("ipt", build_ipt, schema=IPTConfig, license=_LICENSE, paper=_PAPER,
             description="multi-head/multi-tail image processing transformer (115.6M parameters at x4); any "
                         "image size through an overlapped 48x48 chop", importer=IMPORTER)


@hookimpl
def register_heads_tails(register: Register) -> None:
    register("ipt.head", _head, schema=IPTHeadConfig, license=_LICENSE, paper=_PAPER, part="head",
             description="conv3x3 + ResBlocks with 5x5 kernels (411,648 parameters at 64 features)")
    register("ipt.tail", _tail, schema=IPTTailConfig, license=_LICENSE, paper=_PAPER, part="tail",
             description="sub-pixel Upsampler(scale) + conv3x3; scale 1 is a single conv")


@hookimpl
def register_strategies(register: Register) -> None:
    register("ipt_multitask", IPTMultitask, schema=IPTMultitaskConfig, license=_LICENSE, paper=_PAPER,
             description="multi-task pretraining: one task per batch, degraded on the fly; optional "
                         "supervised-contrastive term over token features")
    register("ipt_finetune", IPTFinetune, schema=IPTFinetuneConfig, license=_LICENSE, paper=_PAPER,
             description="prune to the body and one task's head/tail/query (or fresh ones), then train supervised")


@hookimpl
def register_ops(register: Register) -> None:
    register_ipt_ops(register)

@hookimpl
def register_weights(register: RegisterWeights) -> None:
    for entry in read_weights_table(files("restorefw_ipt") / "weights.toml"):
        register(entry)
