"""DeP and DDeP: denoising pretraining of a whole model, or of a decoder behind a frozen encoder.

Each step takes clean images ``x`` in [0, 1] (the batch targets, or the
strategy's own ``images``), maps them to [-1, 1], adds noise at one fixed
level (:mod:`restorefw_ddep._noise`) and trains the network to predict the
noise ε with an L2 loss. The recipe's stage ``loss`` is not used.

Restoration networks usually add their input to their output (a global
residual): ``model(x̃) = x̃ + r(x̃)``. Taking ``model(x̃)`` itself as the ε
prediction would make ``r`` learn ``ε - x̃``, undoing the residual. Since
``x̃ = s·x + n·ε`` (``s``, ``n``: the signal and noise weights of the noise
level), the prediction of a residual network is read as

    ε̂ = (x̃ - model(x̃)) / n,

so the loss is still the L2 error on ε and the residual branch still predicts
the noise (``r = -n·ε̂``), while ``model(x̃) = x̃ - n·ε̂`` is the network's
estimate of the clean signal ``s·x``. The pretrained network therefore already
does what a restoration fine-tuning asks of it; reading ``model(x̃) - x̃``
as ε̂ instead gives a residual branch of the opposite sign and about 1/n times
too large, which fine-tuning has to unlearn (see docs/ddep.md for the
measured difference). Networks without a global residual predict ε directly,
as in the public reimplementation. With ``residual = "auto"`` the strategy
reads a ``global_residual`` attribute of the decoder (or of a whole model); a
decoder without one is probed once: the same features are decoded with the
input image and with zeros, and the decoder is residual when the two outputs
differ by exactly the image.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import Tensor, nn

from restorefw import ComponentField, RunError, StrictModel
from restorefw.engine import Batch, StepContext, Strategy
from restorefw.models import describe
from restorefw_ddep._noise import NoiseForm, NoiseLevel, gamma_to_sigma, sigma_to_gamma, to_signed_range

__all__ = ["DenoisingConfig", "DenoisingPretraining", "build_ddep", "build_dep"]


class DenoisingConfig(StrictModel):
    """Parameters of the ``dep`` and ``ddep`` strategies.

    ``sigma`` is required and has no default, because the paper's values are
    not verified; ``gamma`` may be given instead, and ``sigma`` is then derived
    from it. Both may appear together only when they agree (as in a resolved recipe).
    """

    sigma: float = Field(gt=0, description="noise std in [-1, 1] image units, required unless gamma is given; "
                                           "the public reimplementation uses 0.22")
    gamma: float | None = Field(None, gt=0, lt=1, description="alternative to sigma: 1 / (1 + sigma**2)")
    noise: NoiseForm = Field(
        "scaled", description="scaled: (x + sigma*eps) / sqrt(1 + sigma**2); simple: x + sigma*eps")
    residual: bool | Literal["auto"] = Field(
        "auto", description="the model adds its input (eps is read as (x~ - model(x~)) / noise weight); "
                            "auto: read or probe the decoder's global residual")
    images: ComponentField("dataset") | None = Field(
        None, description="unlabelled clean images to denoise; default: the targets of the stage's batches")

    @model_validator(mode="before")
    @classmethod
    def _sigma_from_gamma(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("sigma") is not None:
            return data
        gamma = data.get("gamma")
        if gamma is None:
            raise ValueError("sigma is required: the noise std in [-1, 1] units (the public reimplementation "
                             "uses 0.22; the paper's values are not verified), or give gamma = 1 / (1 + sigma**2)")
        if isinstance(gamma, (int, float)) and 0 < gamma < 1:
            return {**data, "sigma": gamma_to_sigma(gamma)}
        return data

    @model_validator(mode="after")
    def _levels_agree(self) -> DenoisingConfig:
        if self.gamma is not None and not math.isclose(sigma_to_gamma(self.sigma), self.gamma, rel_tol=1e-6):
            raise ValueError(f"sigma = {self.sigma} and gamma = {self.gamma} disagree "
                             f"(gamma = 1 / (1 + sigma**2) = {sigma_to_gamma(self.sigma):.6g}); give only one")
        return self


def _parts(model: nn.Module) -> tuple[nn.Module, nn.Module] | None:
    encoder, decoder = getattr(model, "encoder", None), getattr(model, "decoder", None)
    if isinstance(encoder, nn.Module) and isinstance(decoder, nn.Module):
        return encoder, decoder
    return None


def _unwrap(model: nn.Module) -> nn.Module:
    """The module inside ``torch.compile`` and DDP wrappers."""
    model = getattr(model, "_orig_mod", model)
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def _declared_residual(model: nn.Module) -> bool | None:
    parts = _parts(model)
    owner = parts[1] if parts is not None else model
    declared = getattr(owner, "global_residual", None)
    return None if declared is None else bool(declared)


def probe_residual(encoder: nn.Module, decoder: nn.Module, image: Tensor) -> bool:
    """Whether ``decoder(features, image)`` is ``image`` plus something that does not depend on ``image``.

    Runs in eval mode and fp32, so dropout, batch statistics and autocast cannot
    blur the comparison; the modules' training flags are restored afterwards.
    """
    flags = [(m, m.training) for m in (encoder, decoder)]
    image = image[:1].float()
    try:
        encoder.eval()
        decoder.eval()
        with torch.no_grad(), torch.autocast(image.device.type, enabled=False):
            features = encoder(image)
            added = decoder(features, image) - decoder(features, torch.zeros_like(image))
    finally:
        for module, training in flags:
            module.train(training)
    return added.shape == image.shape and torch.allclose(added, image, rtol=1e-3, atol=1e-4)


class DenoisingPretraining(Strategy):
    """Train a network to predict the noise added to clean images (DeP), optionally behind a frozen encoder (DDeP).

    Args:
        noise: the fixed noise level.
        residual: whether the network adds its input (``"auto"``: find out, see the module docstring).
        images: dataset of clean images to denoise instead of the stage's batch targets.
        freeze_encoder: DDeP: every encoder parameter stops requiring gradients in
            :meth:`prepare`, so the optimizer never holds it, and the encoder runs
            in eval mode.
    """

    uses_loss = False
    # Only clean images are used: the noise is the strategy's own.
    uses_degradation = False

    def __init__(self, noise: NoiseLevel, residual: bool | str = "auto", images: Any = None,
                 freeze_encoder: bool = False) -> None:
        self.noise = noise
        self.images = images
        self.freeze_encoder = freeze_encoder
        self.residual: bool | None = None if residual == "auto" else bool(residual)

    @property
    def name(self) -> str:
        """``"ddep"`` or ``"dep"``."""
        return "ddep" if self.freeze_encoder else "dep"

    def prepare(self, model: nn.Module, stage: str) -> None:
        """Check the model fits the objective, settle the residual question if declared, freeze the encoder."""
        parts = _parts(model)
        if describe(model).scale != 1:
            raise RunError(f"stage '{stage}': {self.name} needs a model whose output has the input's size, "
                           f"but {type(model).__name__} has scale {describe(model).scale}")
        if self.freeze_encoder and parts is None:
            raise RunError(f"stage '{stage}': ddep needs a model with 'encoder' and 'decoder' parts "
                           f"(model type 'encoder_decoder'), got {type(model).__name__}")
        if self.residual is None:
            self.residual = _declared_residual(model)
        if self.residual is None and parts is None:
            raise RunError(f"stage '{stage}': cannot tell whether {type(model).__name__} adds its input to its "
                           f"output; set residual = true or false in the {self.name} strategy")
        if self.freeze_encoder:
            assert parts is not None
            for param in parts[0].parameters():
                param.requires_grad_(False)

    def clean_batch(self, batch: Batch, generator: torch.Generator | None) -> Tensor:
        """Clean images in [0, 1]: the batch targets, or as many patches of the same size from ``images``."""
        if self.images is None:
            return batch.target
        from restorefw.data import sample_batch

        size, patch = batch.target.shape[0], batch.target.shape[-1]
        sampled = sample_batch(self.images, size, patch, generator if generator is not None else torch.Generator())
        clean = sampled[1] if isinstance(sampled, tuple) else sampled
        return clean.to(batch.target.device)

    def predict_eps(self, model: nn.Module, noisy: Tensor) -> Tensor:
        """The network's estimate of ε for ``noisy`` images (in [-1, 1]).

        The forward goes through ``model`` itself, so DDP and ``torch.compile``
        wrappers keep working. Under DDeP the encoder runs in eval mode (its
        parameters need no gradient, so autograd records nothing for it) and
        gets its training flag back afterwards.
        """
        parts = _parts(_unwrap(model))
        if self.residual is None:
            assert parts is not None, "prepare() settles the residual of models without parts"
            self.residual = probe_residual(parts[0], parts[1], noisy)
        if self.freeze_encoder and parts is not None:
            training = parts[0].training
            parts[0].eval()
            out = model(noisy)
            parts[0].train(training)
        else:
            out = model(noisy)
        return (noisy - out) / self.noise.noise_weight if self.residual else out

    def compute_loss(self, model: nn.Module, batch: Batch, ctx: StepContext) -> tuple[Tensor, dict[str, float]]:
        """ε-prediction MSE on one noisy batch; ``ctx.generator`` draws the patches and the noise."""
        clean = to_signed_range(self.clean_batch(batch, ctx.generator))
        noisy, eps = self.noise.corrupt(clean, ctx.generator)
        pred = self.predict_eps(model, noisy)
        if pred.shape != eps.shape:
            raise RunError(f"stage '{ctx.stage}': {self.name} needs the model's output to have its input's shape "
                           f"to predict the noise, got {tuple(pred.shape)} for input {tuple(eps.shape)}")
        return F.mse_loss(pred.float(), eps.float()), {}

    def evaluate_extra(self, model: nn.Module, pairs: list[Any], metrics: dict[str, Any],
                       ctx: StepContext) -> dict[str, Any]:
        """ε-prediction MSE on the clean validation images (fixed noise), and the settings used.

        Predicting zero scores 1.0, so values well below 1 mean the network learnt to denoise.
        """
        generator = torch.Generator().manual_seed(0)
        multiple = describe(model).size_multiple
        errors = []
        model.eval()
        with torch.no_grad():
            for pair in pairs:
                height, width = (s - s % multiple for s in pair.target.shape[-2:])
                clean = to_signed_range(pair.target[None, :, :height, :width].to(ctx.device))
                noisy, eps = self.noise.corrupt(clean, generator)
                errors.append(float(F.mse_loss(self.predict_eps(model, noisy).float(), eps.float())))
        model.train()
        return {"eps_mse": sum(errors) / len(errors), "sigma": self.noise.sigma, "gamma": self.noise.gamma,
                "noise": self.noise.form, "residual": self.residual}


def _build(freeze_encoder: bool, sigma: float, gamma: float | None, noise: NoiseForm, residual: bool | str,
           images: Any) -> DenoisingPretraining:
    level = NoiseLevel.from_gamma(gamma, noise) if gamma is not None else NoiseLevel(sigma, noise)
    return DenoisingPretraining(level, residual, images, freeze_encoder)


def build_dep(sigma: float, gamma: float | None = None, noise: NoiseForm = "scaled", residual: bool | str = "auto",
              images: Any = None) -> DenoisingPretraining:
    """DeP: the whole model learns to predict the noise (see :class:`DenoisingConfig`)."""
    return _build(False, sigma, gamma, noise, residual, images)


def build_ddep(sigma: float, gamma: float | None = None, noise: NoiseForm = "scaled", residual: bool | str = "auto",
               images: Any = None) -> DenoisingPretraining:
    """DDeP: only the decoder learns to predict the noise; the encoder is frozen."""
    return _build(True, sigma, gamma, noise, residual, images)
