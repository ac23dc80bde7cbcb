"""The contrastive term of IPT pretraining: supervised-contrastive loss over token features.

Chen et al., "Pre-Trained Image Processing Transformer", CVPR 2021, arXiv:2012.00364
(original repository https://github.com/huawei-noah/Pretrained-IPT) add
``λ · L_contrastive`` (λ = 0.1) to the L1 loss during pretraining. The features are
the body's tokens after ``mlp_head``; tokens (patches) of the same image are
positives, tokens of the other images of the batch negatives. The loss is the
supervised-contrastive loss of Khosla et al. (NeurIPS 2020, arXiv:2004.11362),
``contrast_mode='all'``, temperature τ = 0.07. Clean-room code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["supcon_loss"]


def supcon_loss(features: Tensor, temperature: float = 0.07, base_temperature: float = 0.07) -> Tensor:
    """Supervised-contrastive loss where the tokens of one image are each other's positives.

    With ``z`` the L2-normalised tokens, every token ``i`` is an anchor::

        loss_i = -(τ / τ_base) · mean_{p ∈ P(i)} log( exp(z_i·z_p / τ) / Σ_{a ≠ i} exp(z_i·z_a / τ) )

    where ``P(i)`` are the other tokens of the same image; the result is the mean
    over anchors. It costs ``(B·N)²`` memory: sub-sample tokens for large batches.

    Args:
        features: token features ``(B, N, D)``, ``N >= 2``.
        temperature: τ.
        base_temperature: τ_base (scales the loss; τ_base = τ gives the plain form).

    Returns:
        A scalar, computed in float32 or wider.

    Raises:
        ValueError: fewer than 2 tokens per image.
    """
    b, n, d = features.shape
    if n < 2:
        raise ValueError(f"the contrastive loss needs at least 2 tokens per image, got {n}")
    z = F.normalize(features.reshape(b * n, d).to(torch.promote_types(features.dtype, torch.float32)), dim=1)
    image = torch.arange(b, device=features.device).repeat_interleave(n)
    itself = torch.eye(b * n, dtype=torch.bool, device=features.device)
    logits = (z @ z.T / temperature).masked_fill(itself, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positive = (image[:, None] == image[None, :]) & ~itself
    mean_positive = log_prob.masked_fill(~positive, 0.0).sum(1) / (n - 1)
    return -(temperature / base_temperature) * mean_positive.mean()
