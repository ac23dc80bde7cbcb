"""Contract checks of models: whole models and encoder/decoder parts."""

from __future__ import annotations

import itertools
import math
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from restorefw._errors import ConfigError
from restorefw.models import describe
from restorefw.testing._build import (
    Built,
    Source,
    available_devices,
    build_component,
    close,
    fail,
    images,
    require,
    same,
)

__all__ = ["check_model", "verify_gradients", "verify_round_trip"]


def check_model(
    source: Source,
    spec: str | dict[str, Any] | None = None,
    /,
    *,
    encoder_spec: str | dict[str, Any] | None = None,
    input_shape: Sequence[int] | None = None,
    devices: Sequence[str] | None = None,
    **params: Any,
) -> nn.Module:
    """Assert the model contract and return the built model.

    Checks: an ``nn.Module`` mapping ``(B, C, H, W)`` in its ``ModelInfo.value_range`` to
    ``(B, C', H*scale, W*scale)`` finite values of the input dtype (an encoder
    part: a list of features matching its ``out_channels``); deterministic and
    batch-independent in eval mode; gradients reach its parameters; a state dict
    saved as safetensors and loaded into a fresh build gives identical outputs;
    device moves work; the config schema and resolved parameters serialise.

    Args:
        source: a registry (then ``spec`` names the model) or one registry entry.
        spec: registered name, or a spec table ``{"type": name, ...}``.
        encoder_spec: for a decoder part, the encoder spec to pair it with (checked as
            ``decoder(encoder(x), x)``).
        input_shape: ``(B, C, H, W)``; default 2 RGB images, 16 pixels or the model's
            ``size_multiple`` rounded up.
        devices: devices to run on; default CPU, plus CUDA when available.
        **params: the model's parameters.
    """
    built = build_component(source, "model", spec, params)
    require(isinstance(built.component, nn.Module), built.label,
            f"the factory must return a torch.nn.Module, got {type(built.component).__name__}")
    part = built.entry.part
    make = _maker(built, part, encoder_spec)
    net = make()
    info = describe(net)
    lo, hi = info.value_range
    size = info.size_multiple * math.ceil(16 / info.size_multiple)
    shape = tuple(input_shape) if input_shape is not None else (2, info.in_channels, size, size)
    x = lo + (hi - lo) * images(shape)
    net.eval()
    with torch.no_grad():
        out = net(x)
        _check_output(net, out, x, part, built.label)
        require(same(out, net(x)), built.label, "two eval-mode forward passes on the same input differ")
        require(close(_first(out), _first(net(x[:1])), atol=1e-4), built.label,
                "in eval mode the output for one image depends on the other images of the batch")
    verify_gradients(net, x, built.label)
    with torch.no_grad():
        # Again: a train-mode pass may have updated buffers such as batch-norm statistics.
        out = net(x)
    verify_round_trip(net, make, x, out, built.label)
    for device in available_devices(devices):
        if device != "cpu":
            moved = make().eval().to(device)
            moved.load_state_dict(net.state_dict())
            with torch.no_grad():
                out_d = moved(x.to(device))
            require(all(t.device.type == torch.device(device).type for t in _tensors(out_d)), built.label,
                    f"after .to('{device}') the output is not on {device}")
            require(close(out_d, out, atol=1e-2), built.label, f"output on {device} differs from the CPU output")
    return built.component


def _maker(built: Built, part: str | None, encoder_spec: str | dict[str, Any] | None) -> Callable[[], nn.Module]:
    """A function building fresh instances, each from another torch seed, so that only a loaded
    state dict can make two of them agree."""
    seeds = itertools.count()

    def seeded(build: Callable[[], nn.Module]) -> nn.Module:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(next(seeds))
            return build()

    if part != "decoder":
        return lambda: seeded(built.rebuild)
    if encoder_spec is None:
        raise TypeError(f"{built.label} is a decoder part: pass encoder_spec= naming an encoder that fits it")
    from restorefw.models import EncoderDecoder

    encoder = built.registry.resolve("model", encoder_spec)

    def make() -> nn.Module:
        try:
            return seeded(lambda: EncoderDecoder(built.registry.build("model", encoder), built.rebuild()))
        except ConfigError as exc:
            fail(built.label, f"does not fit encoder {encoder['type']}: {exc}")

    return make


def _tensors(out: Any) -> list[Tensor]:
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _first(out: Any) -> Any:
    return [t[:1] for t in out] if isinstance(out, (list, tuple)) else out[:1]


def _check_output(net: nn.Module, out: Any, x: Tensor, part: str | None, label: str) -> None:
    b, _, h, w = x.shape
    if part == "encoder":
        require(isinstance(out, (list, tuple)) and all(isinstance(t, Tensor) for t in out), label,
                f"an encoder must return a list of feature tensors, got {type(out).__name__}")
        declared = getattr(net, "out_channels", None)
        if declared is not None:
            got = [t.shape[1] for t in out]
            require(got == list(declared), label, f"features have channels {got}, out_channels says {list(declared)}")
    else:
        scale = describe(net).scale
        require(isinstance(out, Tensor) and out.dim() == 4, label,
                f"the output must be a (B, C, H, W) tensor, got {getattr(out, 'shape', type(out).__name__)}")
        require(out.shape[0] == b and out.shape[-2:] == (h * scale, w * scale), label,
                f"output shape {tuple(out.shape)} for input {tuple(x.shape)}; expected ({b}, C, {h * scale}, "
                f"{w * scale}) with scale {scale}")
    for t in _tensors(out):
        require(t.dtype == x.dtype, label, f"output dtype {t.dtype} differs from the input's {x.dtype}")
        require(bool(torch.isfinite(t).all()), label, "output has non-finite values")


def verify_gradients(net: nn.Module, x: Tensor, label: str) -> None:
    """A train-mode forward of ``x`` gives every trainable parameter a finite gradient (some at least)."""
    params = [p for p in net.parameters() if p.requires_grad]
    if not params:
        return
    net.train()
    net.zero_grad(set_to_none=True)
    sum(t.float().mean() for t in _tensors(net(x))).backward()
    grads = [p.grad for p in params if p.grad is not None]
    require(grads, label, "no parameter received a gradient from the output")
    require(all(bool(torch.isfinite(g).all()) for g in grads), label, "non-finite gradients")
    net.zero_grad(set_to_none=True)
    net.eval()


def verify_round_trip(net: nn.Module, make: Callable[[], nn.Module], x: Tensor, out: Any, label: str) -> None:
    """``net``'s state dict, saved as safetensors and loaded into ``make()``, gives ``out`` again for ``x``."""
    from restorefw.weights import read_state_dict, save_weights

    fresh = make().eval()
    state = net.state_dict()
    missing, unexpected = sorted(set(state) - set(fresh.state_dict())), sorted(set(fresh.state_dict()) - set(state))
    require(not missing and not unexpected, label,
            f"two builds with the same parameters have different state-dict keys: {missing} vs {unexpected}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "weights.safetensors"
        try:
            save_weights(path, state)
        except Exception as exc:
            fail(label, f"state dict cannot be saved as safetensors: {exc}")
        fresh.load_state_dict(read_state_dict(path))
    with torch.no_grad():
        require(same(fresh(x), out), label, "a fresh build loaded with the saved state dict gives other outputs")
