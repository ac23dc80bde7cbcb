"""restorefw-triton-ops: registered like any kernel plugin, reported unavailable without CUDA,
and (on a CUDA machine with Triton) matching the reference through the conformance kit."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import pytest
import torch

import restorefw.ops
from restorefw.ops import OpRegistry
from restorefw.testing import check_op, op_registry_with

restorefw_triton_ops = pytest.importorskip(
    "restorefw_triton_ops", reason="not installed: pip install -e contrib/restorefw-triton-ops"
)

USABLE = restorefw_triton_ops.triton_usable()


@pytest.fixture(scope="module")
def op_registry() -> OpRegistry:
    return op_registry_with(restorefw_triton_ops)


def test_registered_as_a_cuda_override(op_registry: OpRegistry) -> None:
    op = op_registry.get("layernorm2d")
    triton = op.implementation("triton")
    assert triton.devices == ("cuda",) and triton.plugin == "restorefw_triton_ops"
    assert op.overrides[0] is triton, "the kernel outranks the core's overrides"


def test_import_does_not_import_triton() -> None:
    code = "import sys, restorefw_triton_ops; assert 'triton' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.skipif(USABLE, reason="Triton and CUDA are usable here")
def test_unavailable_without_triton_or_cuda(op_registry: OpRegistry) -> None:
    triton = op_registry.get("layernorm2d").implementation("triton")
    assert triton.unavailable == "needs triton and a CUDA GPU"
    for device in ("cpu", "cuda"):
        assert op_registry.select("layernorm2d", device).name != "triton"
    with pytest.raises(restorefw.ConfigError, match=r"pinned to 'triton'.*needs triton and a CUDA GPU"):
        op_registry.select("layernorm2d", "cuda", policy=restorefw.ops.OpsPolicy.parse("layernorm2d=triton"))


def test_listed_by_the_ops_command() -> None:
    points = {ep.name for ep in metadata.entry_points(group="restorefw")}
    if "triton_ops" not in points:
        pytest.skip("the distribution is importable but not installed")
    result = subprocess.run([sys.executable, "-m", "restorefw", "ops", "--json"], capture_output=True, text=True,
                            check=True)
    layernorm = next(op for op in json.loads(result.stdout)["ops"] if op["name"] == "layernorm2d")
    triton = next(i for i in layernorm["implementations"] if i["name"] == "triton")
    assert triton["devices"] == ["cuda"] and triton["available"] is USABLE
    assert (layernorm["active"] == "triton") is USABLE


def test_matches_the_reference(op_registry: OpRegistry) -> None:
    """Skipped (by check_op) unless Triton and CUDA are usable."""
    cases = check_op("layernorm2d", "triton", registry=op_registry)
    assert cases and all(case.startswith("cuda/") for case in cases)


@pytest.mark.skipif(not USABLE, reason="needs Triton and CUDA")
def test_models_moved_to_cuda_use_the_kernel(op_registry: OpRegistry) -> None:
    from restorefw.nn import LayerNorm2d

    with restorefw.ops.use(registry=op_registry):
        norm = LayerNorm2d(16)
    assert norm.bound_ops()["_layer_norm"].name != "triton"
    norm = norm.to("cuda")
    assert norm.bound_ops()["_layer_norm"].name == "triton"
    x = torch.randn(2, 16, 8, 8, device="cuda")
    torch.testing.assert_close(norm(x), torch.nn.functional.layer_norm(
        x.permute(0, 2, 3, 1), (16,), norm.weight, norm.bias).permute(0, 3, 1, 2))
