"""restorefw_ipt: the Image Processing Transformer (IPT) for restorefw.

Chen et al., "Pre-Trained Image Processing Transformer", CVPR 2021, arXiv:2012.00364.
Original repository: https://github.com/huawei-noah/Pretrained-IPT.

Licence note: a clean-room reimplementation written from the paper and from notes on
the published architecture; no official code is used. State-dict key names follow the
official model so that its checkpoints load. No weights are shipped.

Registered through the ``restorefw`` entry-point group: the model ``ipt``, the head
``ipt.head`` and tail ``ipt.tail``, the strategies ``ipt_multitask`` and
``ipt_finetune``, and the op ``ipt.attention`` (the body's scaled dot-product attention).
"""

from restorefw_ipt._attention import MultiheadAttention
from restorefw_ipt._body import IPTBody
from restorefw_ipt._chop import chop_forward, self_ensemble
from restorefw_ipt._contrastive import supcon_loss
from restorefw_ipt._convert import infer_spec
from restorefw_ipt._hooks import (
    register_heads_tails,
    register_models,
    register_ops,
    register_strategies,
    register_weights,
)
from restorefw_ipt._model import IPT, IPTConfig, build_ipt, pruned_spec
from restorefw_ipt._parts import IPTHead, IPTHeadConfig, IPTTail, IPTTailConfig
from restorefw_ipt._strategy import IPTFinetune, IPTFinetuneConfig, IPTMultitask, IPTMultitaskConfig

__all__ = [
    "IPT",
    "IPTBody",
    "IPTConfig",
    "IPTFinetune",
    "IPTFinetuneConfig",
    "IPTHead",
    "IPTHeadConfig",
    "IPTMultitask",
    "IPTMultitaskConfig",
    "IPTTail",
    "IPTTailConfig",
    "MultiheadAttention",
    "build_ipt",
    "chop_forward",
    "infer_spec",
    "pruned_spec",
    "register_heads_tails",
    "register_models",
    "register_ops",
    "register_strategies",
    "register_weights",
    "self_ensemble",
    "supcon_loss",
]
