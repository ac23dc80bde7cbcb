"""Contract checks of heads and tails (the parts of multi-task models such as IPT) and of datasets."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from restorefw._registry import Entry, Registry
from restorefw.testing._build import Source, available_devices, build_component, close, fail, images, require, same
from restorefw.testing._model_checks import verify_gradients, verify_round_trip

__all__ = ["check_dataset", "check_head_tail"]

_IMAGE_WIDTH = ("in_channels", "n_colors")
_FEATURE_WIDTH = ("n_feats", "features")


def check_head_tail(
    source: Source,
    spec: str | dict[str, Any] | None = None,
    /,
    *,
    partner: str | dict[str, Any] | None = None,
    image_channels: int | None = None,
    features: int | None = None,
    size: int = 16,
    devices: Sequence[str] | None = None,
    **params: Any,
) -> nn.Module:
    """Assert the head or tail contract and return the built part.

    A head maps images ``(B, C, H, W)`` to body features ``(B, F, H, W)``; a tail maps body features
    ``(B, F, H, W)`` to images ``(B, C, H·s, W·s)`` and says ``s`` in its ``scale`` attribute (1 if
    absent). The widths come from the arguments, else from the part's attributes (``n_colors`` or
    ``in_channels`` for ``C``, ``n_feats`` for ``F``), else from its first convolution. Checks: an
    ``nn.Module`` with those shapes, the input dtype, finite values, deterministic and
    batch-independent in eval mode, gradients reaching its parameters, a safetensors state-dict
    round trip, device moves; with ``partner`` (a tail for a head, a head for a tail), that the
    head's features fit the tail: ``tail(head(x))`` is an image of the right size.

    Args:
        source: a registry (then ``spec`` names the head or tail) or one registry entry.
        spec: registered name, or a spec table ``{"type": name, ...}``.
        partner: the counterpart to pair it with, from the same registry.
        image_channels: ``C``; see above.
        features: ``F``; see above.
        size: height and width of the test input.
        devices: devices to run on; default CPU, plus CUDA when available.
        **params: the part's parameters.
    """
    kind = _part_kind(source, spec)
    built = build_component(source, kind, spec, params)
    part, label = built.component, built.label
    require(isinstance(part, nn.Module), label, f"the factory must return a torch.nn.Module, got {type(part).__name__}")
    seeds = itertools.count()

    def make() -> nn.Module:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(next(seeds))
            return built.rebuild()

    images_in = image_channels or _width(part, _IMAGE_WIDTH) or 3
    features_in = features or _width(part, _FEATURE_WIDTH) or _first_input_width(part)
    if kind == "tail" and features_in is None:
        raise TypeError(f"{label}: cannot tell how many features it takes; pass features=")
    x = images((2, images_in if kind == "head" else features_in, size, size))  # type: ignore[arg-type]
    net = make().eval()
    with torch.no_grad():
        out = net(x)
        _check_shape(net, kind, out, x, label, images_in, features)
        require(same(out, net(x)), label, "two eval-mode forward passes on the same input differ")
        require(close(out[:1], net(x[:1]), atol=1e-4), label,
                "in eval mode the output for one image depends on the other images of the batch")
    verify_gradients(net, x, label)
    with torch.no_grad():
        out = net(x)
    verify_round_trip(net, make, x, out, label)
    for device in available_devices(devices):
        if device != "cpu":
            moved = make().eval().to(device)
            moved.load_state_dict(net.state_dict())
            with torch.no_grad():
                require(close(moved(x.to(device)), out, atol=1e-2), label, f"output on {device} differs from the CPU")
    if partner is not None:
        _check_pair(built.registry, kind, net, partner, label, images_in, size)
    return part


def _part_kind(source: Source, spec: Any) -> str:
    """``head`` or ``tail``: the kind the part under test is registered as."""
    if isinstance(source, Entry):
        return source.kind
    name = spec.get("type") if isinstance(spec, dict) else spec
    for kind in ("head", "tail"):
        if isinstance(source, Registry) and (kind, name) in source:
            return kind
    fail(f"head or tail '{name}'", "is registered neither as a head nor as a tail (register_heads_tails with "
                                   "part='head' or part='tail')")


def _width(part: nn.Module, names: Sequence[str]) -> int | None:
    for name in names:
        value = getattr(part, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _first_input_width(part: nn.Module) -> int | None:
    for module in part.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            return module.in_channels
        if isinstance(module, nn.Linear):
            return module.in_features
    return None


def _check_shape(net: nn.Module, kind: str, out: Any, x: Tensor, label: str, image_channels: int,
                 features: int | None) -> None:
    b, _, h, w = x.shape
    require(isinstance(out, Tensor) and out.dim() == 4, label,
            f"the output must be a (B, C, H, W) tensor, got {getattr(out, 'shape', type(out).__name__)}")
    if kind == "head":
        expected = features or _width(net, _FEATURE_WIDTH)
        require(out.shape[0] == b and out.shape[-2:] == (h, w), label,
                f"a head keeps batch and size: ({b}, F, {h}, {w}) expected for input {tuple(x.shape)}, "
                f"got {tuple(out.shape)}")
        require(expected is None or out.shape[1] == expected, label,
                f"gives {out.shape[1]} feature channels, expected {expected}")
    else:
        scale = int(getattr(net, "scale", 1))
        want = (b, _width(net, ("out_channels", "n_colors")) or image_channels, h * scale, w * scale)
        require(tuple(out.shape) == want, label,
                f"a tail maps features {tuple(x.shape)} to an image {want} (scale {scale}), got {tuple(out.shape)}")
    require(out.dtype == x.dtype, label, f"output dtype {out.dtype} differs from the input's {x.dtype}")
    require(bool(torch.isfinite(out).all()), label, "output has non-finite values")


def _check_pair(registry: Registry, kind: str, part: nn.Module, partner: Any, label: str, channels: int,
                size: int) -> None:
    other = registry.create("tail" if kind == "head" else "head", partner)
    head, tail = (part, other) if kind == "head" else (other, part)
    x = images((2, channels, size, size))
    with torch.no_grad():
        features = head.eval()(x)
        try:
            out = tail.eval()(features)
        except RuntimeError as exc:
            fail(label, f"the head's features {tuple(features.shape)} do not fit the tail: {exc}")
    scale = int(getattr(tail, "scale", 1))
    require(out.shape[-2:] == (size * scale, size * scale), label,
            f"tail(head(x)) has shape {tuple(out.shape)} for x {tuple(x.shape)}; expected scale {scale}")


def check_dataset(
    source: Source,
    spec: str | dict[str, Any] | None = None,
    /,
    *,
    items: int = 3,
    **params: Any,
) -> Any:
    """Assert the dataset contract and return the built dataset.

    Checks: a non-empty indexable dataset with one unique ``names`` entry per item, an int ``scale``
    >= 1 and a bool ``paired``; its first ``items`` items are float ``(C, H, W)`` tensors in [0, 1]
    (for a paired dataset ``(lq, gt)`` pairs, ``lq`` in [0, 1], ``gt`` ``scale`` times larger), agree with
    ``image_size(i)`` when the dataset has it, and are the same in a second build.

    Args:
        source: a registry (then ``spec`` names the dataset) or one registry entry.
        spec: registered name, or a spec table ``{"type": name, ...}``.
        items: how many items to read.
        **params: the dataset's parameters.
    """
    built = build_component(source, "dataset", spec, params)
    data, label = built.component, built.label
    require(callable(getattr(data, "__len__", None)) and callable(getattr(data, "__getitem__", None)), label,
            "a dataset needs __len__ and __getitem__")
    count = len(data)
    require(count > 0, label, "the dataset is empty")
    names = getattr(data, "names", None)
    require(isinstance(names, list) and len(names) == count and len(set(names)) == count, label,
            f"needs 'names': a list of {count} unique strings, one per item")
    scale, paired = getattr(data, "scale", 1), getattr(data, "paired", False)
    require(isinstance(scale, int) and scale >= 1, label, f"'scale' must be an int >= 1, got {scale!r}")
    require(isinstance(paired, bool), label, f"'paired' must be a bool, got {paired!r}")
    again = built.rebuild()
    for i in range(min(items, count)):
        item = data[i]
        tensors = _item(item, paired, scale, label, i)
        size = getattr(data, "image_size", None)
        if callable(size):
            require(tuple(size(i)) == tuple(tensors[-1].shape[-2:]), label,
                    f"image_size({i}) is {tuple(size(i))} but item {i} is {tuple(tensors[-1].shape[-2:])}")
        require(same(item, again[i]), label, f"item {i} differs between two builds with the same parameters")
    return data


def _item(item: Any, paired: bool, scale: int, label: str, i: int) -> list[Tensor]:
    tensors = list(item) if paired and isinstance(item, (tuple, list)) else [item]
    require(len(tensors) == (2 if paired else 1), label,
            f"item {i} must be {'an (lq, gt) pair' if paired else 'a (C, H, W) tensor'}, got {type(item).__name__}")
    require(all(isinstance(t, Tensor) and t.dim() == 3 and t.is_floating_point() for t in tensors), label,
            f"item {i} must hold float (C, H, W) tensors")
    # The model's input must be an image; a paired dataset's gt may be something else (a class mask).
    require(float(tensors[0].min()) >= 0 and float(tensors[0].max()) <= 1, label,
            f"item {i}{' lq' if paired else ''} leaves [0, 1]")
    if paired:
        lq, gt = tensors
        require(tuple(gt.shape[-2:]) == (lq.shape[-2] * scale, lq.shape[-1] * scale), label,
                f"item {i}: gt {tuple(gt.shape)} is not {scale} times lq {tuple(lq.shape)}")
    return tensors
