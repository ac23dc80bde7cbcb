"""The hook specifications: the one contract between restorefw and its plugins.

Every hook is collect-all and receives a host-owned ``register`` callback
(:class:`Register`). A plugin calls it once per component::

    @hookimpl
    def register_degradations(register):
        register("jpeg", make_jpeg, schema=JpegConfig, description="JPEG compression")

The host binds the component *kind* and the plugin's identity into ``register``,
so new keyword arguments can be added later without breaking plugins. A
factory is called with the parameters validated by ``schema`` (a pydantic
model); fields typed :func:`restorefw.ComponentField` arrive already built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    from restorefw._catalog import WeightsEntry

__all__ = ["PROJECT", "Register", "RegisterWeights", "hookimpl", "hookspec"]

PROJECT = "restorefw"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class Register(Protocol):
    """Signature of the ``register`` callback passed to every hook.

    Keywords: ``schema`` (pydantic model of the factory's parameters; default: derived from its
    signature), ``description``, ``license``, ``paper``, and for models ``part`` (``"encoder"``,
    ``"decoder"``; ``"head"``/``"tail"`` in ``register_heads_tails``), ``importer`` (a
    :class:`restorefw.weights.Importer`: how the authors' checkpoints load) and ``zero_shot``
    (per-image adaptation, see ``restorefw restore --adapt-steps``). ``tags`` are free-form labels;
    the older ``tags={"part": ...}``, ``{"infer_spec": fn}`` and ``{"zero_shot": fn}`` still work.
    """

    def __call__(
        self,
        name: str,
        factory: Callable[..., Any],
        *,
        schema: Any = None,
        description: str = "",
        license: str | None = None,
        paper: str | None = None,
        part: str | None = None,
        importer: Any = None,
        zero_shot: Callable[..., Any] | None = None,
        tags: dict[str, Any] | None = None,
    ) -> None: ...


class RegisterWeights(Protocol):
    """Signature of the ``register`` callback passed to ``register_weights``: one entry per call."""

    def __call__(self, entry: WeightsEntry) -> None: ...


@hookspec
def register_degradations(register: Register) -> None:
    """Register degradations.

    The factory returns a callable ``degrade(hr, generator) -> (lq, target)``:
    ``hr`` is a clean float batch ``(B, C, H, W)`` in [0, 1], ``generator`` a
    ``torch.Generator`` that is the only source of randomness; ``lq`` is the
    degraded batch (its spatial size may differ, e.g. ``H/s`` for SR) and
    ``target`` the ground truth the model must produce (usually ``hr``). The
    object may set ``scale: int`` (output size / ``lq`` size, default 1).
    """


@hookspec
def register_kernels(register: Register) -> None:
    """Register blur-kernel families.

    The factory returns a sampler ``sample(generator) -> Tensor`` giving one
    2-D float kernel ``(k, k)``, non-negative and summing to 1. The sampler
    has an integer attribute ``size``.
    """


@hookspec
def register_tasks(register: Register) -> None:
    """Register tasks.

    The factory returns a :class:`restorefw.Task`: a degradation plus
    evaluation defaults (``scale``, ``crop_border``, ``y_channel``).
    """


@hookspec
def register_models(register: Register) -> None:
    """Register whole models and model parts (encoders, decoders, bodies).

    Whole models are ``torch.nn.Module`` mapping ``(B, C, H, W)`` images in [0, 1]
    to ``(B, C', H*s, W*s)``. They describe themselves with a ``model_info`` attribute
    (:class:`restorefw.models.ModelInfo`: scale ``s``, channels, the size multiple their
    inputs need, exact tiling); models without one may set plain ``scale``,
    ``size_multiple`` and ``value_range`` attributes instead.
    Register parts with ``part="encoder"`` or ``part="decoder"``:
    an encoder maps an image to a list of features (its ``out_channels``), a
    decoder maps ``(features, image)`` back to an image (its ``in_channels``).
    """


@hookspec
def register_heads_tails(register: Register) -> None:
    """Register heads and tails for multi-task models.

    Use ``part="head"`` (image → body features) or ``part="tail"``
    (body features → image). Both are ``nn.Module``.
    """


@hookspec
def register_losses(register: Register) -> None:
    """Register losses: ``nn.Module`` with ``forward(pred, target) -> scalar``."""


@hookspec
def register_strategies(register: Register) -> None:
    """Register training strategies.

    The factory returns a :class:`restorefw.Strategy`: it decides which
    parameters train and how one step's loss is computed.
    """


@hookspec
def register_metrics(register: Register) -> None:
    """Register metrics.

    The factory returns ``metric(pred, target) -> Tensor`` of shape ``(B,)``
    for float batches ``(B, C, H, W)`` in [0, 1], with attributes
    ``higher_is_better: bool`` and ``name: str``.
    """


@hookspec
def register_datasets(register: Register) -> None:
    """Register datasets.

    The factory returns an indexable dataset of clean images ``(C, H, W)`` in
    [0, 1], or of ``(lq, gt)`` pairs when its ``paired`` attribute is true, with
    ``names: list[str]`` and ``scale: int`` attributes.
    """


@hookspec
def register_optimizers(register: Register) -> None:
    """Register optimizers.

    The factory, called with the validated config, returns
    ``make(params) -> torch.optim.Optimizer``.
    """


@hookspec
def register_schedulers(register: Register) -> None:
    """Register learning-rate schedules.

    The factory, called with the validated config, returns
    ``make(optimizer, total_steps) -> torch.optim.lr_scheduler.LRScheduler``,
    stepped once per optimizer step.
    """


@hookspec
def register_ops(register: Register) -> None:
    """Register compute kernels: named ops, resolved once when a model is built.

    Call ``register(op_name, restorefw.ops.Reference(fn, samples))`` once per op: ``fn``
    is the ground truth in plain torch (every device and dtype, differentiable) and
    ``samples(generator)`` yields representative calls for the conformance check. Call
    ``register(op_name, restorefw.ops.Override(name, fn, devices=..., dtypes=...,
    priority=..., available=...))`` for faster implementations, of this plugin's ops or
    another's; each must pass :func:`restorefw.testing.check_op`. ``schema`` is not used.
    """


@hookspec
def register_weights(register: RegisterWeights) -> None:
    """Register known official checkpoints: the catalog ``restorefw weights`` lists.

    Call ``register(entry)`` with a :class:`restorefw.weights.WeightsEntry` per checkpoint,
    usually every entry of a table the plugin ships::

        for entry in read_weights_table(files("my_plugin") / "weights.toml"):
            register(entry)

    The entry's ``model`` must be a registered model and its ``spec`` valid for it (checked at
    registration); its name must be new to the catalog.
    """


@hookspec
def register_loggers(register: Register) -> None:
    """Register loggers: sinks for a run's scalars, sample pictures and events.

    The factory, called with the validated config, returns a :class:`restorefw.loggers.Logger`
    (subclass it and implement what you need: ``start``, ``scalars``, ``image``, ``event``,
    ``flush``, ``close``). The engine calls it from a background thread of its own; a logger that
    raises is reported once and disabled while the run goes on. Write files under
    ``RunInfo.logs`` (``<run folder>/logs``).
    """


@hookspec
def register_layouts(register: Register) -> None:
    """Register test-set layouts: how evaluation sets lie on disk.

    The factory, called without parameters, returns a :class:`restorefw.data.Layout`
    named as registered: ``detect(root)`` decides from folder and file names alone,
    ``load(root, scale=..., **options)`` returns a checked :class:`restorefw.data.TestSet`.
    ``restorefw eval`` tries the layouts in ascending ``Layout.order``, then by name;
    :func:`restorefw.testing.check_layout` checks the contract.
    """
