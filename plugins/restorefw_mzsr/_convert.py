"""Import the MZSR authors' TensorFlow checkpoints (https://github.com/JWSoh/MZSR) into :class:`MZSRNet`.

Their network variables are ``MODEL/conv1/kernel`` ... ``MODEL/convN/kernel`` (height, width,
in, out) and ``MODEL/convN/bias``. Their checkpoints also hold training state that is not part
of the network: Adam's slots (``.../Adam``, ``.../Adam_1``; ``.../Adam_2`` and ``.../Adam_3``
from the second optimizer of meta-training), ``beta1_power``, ``beta2_power`` (``_1``),
``global_step`` and meta-training's ``stop_grad`` switch. Read the files with
:func:`restorefw.weights.read_tf1_checkpoint`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from torch import Tensor

from restorefw import CheckpointError
from restorefw.weights import Importer

__all__ = ["IMPORTER", "from_official", "infer_spec", "to_official"]

_LAYER = re.compile(r"MODEL/conv(\d+)/(kernel|bias)")
_TRAINING_STATE = re.compile(r".+/Adam(_\d+)?|beta[12]_power(_\d+)?|global_step|stop_grad")
# The weights do not tell the scale; the authors' pre-trained network and their
# Bicubicx2, Directx2 and Multi-scale models are x2 (only Directx4 is x4).
_SCALE = 2
_SHOWN = 5


def _expected_shapes(in_channels: int, channels: int, layers: int) -> dict[str, tuple[int, ...]]:
    widths = [in_channels] + [channels] * (layers - 1) + [in_channels]
    shapes: dict[str, tuple[int, ...]] = {}
    for i in range(layers):
        shapes[f"MODEL/conv{i + 1}/kernel"] = (3, 3, widths[i], widths[i + 1])
        shapes[f"MODEL/conv{i + 1}/bias"] = (widths[i + 1],)
    return shapes


def infer_spec(state: Mapping[str, Tensor]) -> dict[str, Any] | None:
    """The ``mzsr`` model parameters of a state dict in the authors' layout; None if it is not one.

    ``in_channels``, ``channels`` and ``layers`` are read from the shapes; ``scale`` is 2, the
    scale of the authors' released models but for ``Directx4`` (pass ``scale=4`` for that one).

    Raises:
        CheckpointError: ``MODEL/conv*`` variables that do not form an MZSR network.
    """
    first = state.get("MODEL/conv1/kernel")
    if first is None:
        return None
    layers = 1
    while f"MODEL/conv{layers + 1}/kernel" in state:
        layers += 1
    if first.ndim != 4 or layers < 2:
        raise CheckpointError(f"MODEL/conv1/kernel of shape {tuple(first.shape)} and {layers} layer(s) "
                              "do not form an MZSR network (3x3 kernels, at least 2 layers)")
    expected = _expected_shapes(first.shape[2], first.shape[3], layers)
    found = {key: tuple(value.shape) for key, value in state.items() if _LAYER.fullmatch(key)}
    problems = [f"{key} missing" for key in expected if key not in found]
    problems += [f"{key} unexpected" for key in found if key not in expected]
    problems += [f"{key} is {found[key]}, expected {shape}" for key, shape in expected.items()
                 if key in found and found[key] != shape]
    if problems:
        more = f" (+{len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else ""
        raise CheckpointError(f"MZSR variables do not fit together: {'; '.join(problems[:_SHOWN])}{more}")
    return {"scale": _SCALE, "in_channels": first.shape[2], "channels": first.shape[3], "layers": layers}


def from_official(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The :class:`MZSRNet` state dict (``convs.convN.weight``/``bias``) of an authors' checkpoint.

    Kernels go from TensorFlow's (height, width, in, out) to PyTorch's (out, in, height,
    width); both frameworks' convolutions are cross-correlations, so nothing is flipped.
    Training state (optimizer slots and counters) is dropped.

    Raises:
        CheckpointError: not the authors' layout, inconsistent shapes, or tensors that are
            neither network variables nor known training state (listed).
    """
    if infer_spec(state) is None:
        raise CheckpointError("no MODEL/conv1/kernel: not an MZSR checkpoint in the authors' layout")
    unknown = sorted(key for key in state if not (_LAYER.fullmatch(key) or _TRAINING_STATE.fullmatch(key)))
    if unknown:
        more = f" (+{len(unknown) - _SHOWN} more)" if len(unknown) > _SHOWN else ""
        raise CheckpointError(f"{len(unknown)} tensor(s) are neither MZSR variables nor training state: "
                              f"{', '.join(unknown[:_SHOWN])}{more}")
    converted = {}
    for key, value in state.items():
        if match := _LAYER.fullmatch(key):
            layer, kind = match.groups()
            weight = value.permute(3, 2, 0, 1).contiguous() if kind == "kernel" else value
            converted[f"convs.conv{layer}.{'weight' if kind == 'kernel' else 'bias'}"] = weight
    return converted


def to_official(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The authors' variable names and layouts for an :class:`MZSRNet` state dict (``restorefw export``)."""
    converted = {}
    for key, value in state.items():
        layer, kind = key.removeprefix("convs.conv").split(".")
        official = value.permute(2, 3, 1, 0).contiguous() if kind == "weight" else value
        converted[f"MODEL/conv{layer}/{'kernel' if kind == 'weight' else 'bias'}"] = official
    return converted


IMPORTER = Importer(infer_spec, from_official=from_official, to_official=to_official)
