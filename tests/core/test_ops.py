"""The op registry: registration, selection, RESTOREFW_OPS and use(), module binding, check_op, `restorefw ops`."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import unittest
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

import restorefw
import restorefw.ops as ops
from restorefw.hookspecs import Register, hookimpl
from restorefw.nn import LayerNorm2d, layer_norm_channels
from restorefw.ops import OpRegistry, OpSample, OpsModule, OpsPolicy, Override, Reference
from restorefw.testing import ContractError, check_op, op_registry_with, plugin_manager


def double(x: Tensor) -> Tensor:
    """Twice the input."""
    return 2 * x


def double_fast(x: Tensor) -> Tensor:
    return x + x


def double_samples(generator: torch.Generator) -> Any:
    yield OpSample((torch.randn((2, 3, 4, 5), generator=generator, dtype=torch.float64),))


class FakeOps:
    """A kernel plugin: op 'fake.double' with CPU, float32-only, unavailable and CUDA overrides."""

    name = "fake_ops"

    @hookimpl
    def register_ops(self, register: Register) -> None:
        register("fake.double", Reference(double, double_samples))
        register("fake.double", Override("fast", double_fast, devices=("cpu",), priority=1))
        register("fake.double", Override("narrow", double_fast, devices=("cpu",), dtypes=(torch.float32,), priority=5))
        register("fake.double", Override("absent", double_fast, devices=("cpu",), priority=9,
                                          available=lambda: False, requires="a unicorn"))
        register("fake.double", Override("gpu", double_fast, devices=("cuda",), priority=20))


class Doubler(OpsModule):
    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.use_op("_double", "fake.double")

    def forward(self, x: Tensor) -> Tensor:
        return self._double(x) * self.scale


@pytest.fixture(scope="module")
def fake() -> OpRegistry:
    return op_registry_with(FakeOps())


def _chosen(registry: OpRegistry, *args: Any, policy: str | None = None) -> str:
    return registry.select("fake.double", *args, policy=OpsPolicy.parse(policy)).name


def test_selection_follows_device_dtype_availability_and_priority(fake: OpRegistry) -> None:
    assert _chosen(fake, "cpu", torch.float32) == "narrow"
    assert _chosen(fake, "cpu", torch.float64) == "fast"
    assert _chosen(fake, "cuda", torch.float32) == "gpu"
    assert _chosen(fake, "meta", torch.float32) == "reference"
    absent = fake.get("fake.double").implementation("absent")
    assert absent.unavailable == "needs a unicorn"
    assert [i.name for i in fake.get("fake.double").overrides] == ["gpu", "absent", "narrow", "fast"]


def test_reference_policy_and_pins(fake: OpRegistry) -> None:
    assert _chosen(fake, "cpu", policy="reference") == "reference"
    assert _chosen(fake, "cpu", policy="fake.double=fast") == "fast"
    assert _chosen(fake, "cpu", policy="reference,fake.double=auto") == "narrow"
    # A pin to an override of another device type gives the reference (models are built on the CPU).
    assert _chosen(fake, "cpu", policy="fake.double=gpu") == "reference"
    assert _chosen(fake, "cuda", policy="fake.double=gpu") == "gpu"
    assert fake.resolve("layernorm2d", "cpu", policy=OpsPolicy.parse("reference")) is layer_norm_channels


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("layernrom2d=reference", r"RESTOREFW_OPS: unknown op 'layernrom2d' \(did you mean 'layernorm2d'\?\)"),
        ("fake.double=fastest", r"op 'fake.double' has no implementation 'fastest' \(did you mean 'fast'\?\)"),
        ("fake.double=absent", r"pinned to 'absent', which cannot run here: needs a unicorn"),
        ("fake.double=narrow", r"pinned to 'narrow', which cannot run here: does not handle float64"),
    ],
)
def test_bad_policies_are_clear_errors(fake: OpRegistry, text: str, message: str) -> None:
    with pytest.raises(restorefw.ConfigError, match=message):
        fake.select("fake.double", "cpu", torch.float64, OpsPolicy.parse(text))


@pytest.mark.parametrize(
    ("text", "message"),
    [("fast", "neither 'auto', 'reference' nor"), ("auto,reference", "two defaults"),
     ("a=", "not an op=implementation"), ("a=x,a=y", "pinned twice")],
)
def test_malformed_policies(text: str, message: str) -> None:
    with pytest.raises(restorefw.ConfigError, match=message):
        OpsPolicy.parse(text)


def test_policy_text_round_trips() -> None:
    policy = OpsPolicy.parse(" reference , restormer.mdta=scaled,layernorm2d=auto ")
    assert policy == OpsPolicy("reference", (("layernorm2d", "auto"), ("restormer.mdta", "scaled")))
    assert OpsPolicy.parse(str(policy)) == policy
    assert OpsPolicy.parse({"layernorm2d": "reference"}) == OpsPolicy("auto", (("layernorm2d", "reference"),))


def test_environment_forces_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESTOREFW_OPS", "reference")
    norm = LayerNorm2d(4)
    assert norm._layer_norm is layer_norm_channels and norm.bound_ops()["_layer_norm"].is_reference
    monkeypatch.setenv("RESTOREFW_OPS", "layernorm2d=channels_last")
    assert LayerNorm2d(4).bound_ops()["_layer_norm"].name == "channels_last"
    monkeypatch.setenv("RESTOREFW_OPS", "layernorm=reference")
    with pytest.raises(restorefw.ConfigError, match="RESTOREFW_OPS: unknown op 'layernorm'"):
        LayerNorm2d(4)


def test_use_beats_the_environment_and_nests(monkeypatch: pytest.MonkeyPatch, fake: OpRegistry) -> None:
    monkeypatch.setenv("RESTOREFW_OPS", "reference")
    with ops.use("auto"):
        assert LayerNorm2d(4).bound_ops()["_layer_norm"].name == "channels_last"
        with ops.use(registry=fake):
            assert ops.current_policy() == OpsPolicy("auto", source="restorefw.ops.use")
            assert Doubler().bound_ops()["_double"].name == "narrow"
    assert ops.current_policy().default == "reference"


def test_modules_keep_their_build_time_choices_across_moves(fake: OpRegistry) -> None:
    with ops.use("fake.double=fast", registry=fake):
        pinned = Doubler()
    with ops.use(registry=fake):
        module = Doubler()
    assert pinned.bound_ops()["_double"].name == "fast" and module.bound_ops()["_double"].name == "narrow"
    module.double()  # re-resolved once for float64, with the registry and policy of its build
    assert module.bound_ops()["_double"].name == "fast"
    pinned.double()
    assert pinned.bound_ops()["_double"].name == "fast"
    clone = copy.deepcopy(module.float())
    assert clone._op_registry is fake and clone.bound_ops()["_double"].name == "narrow"
    assert torch.equal(clone(torch.ones(2)), torch.full((2,), 2.0))
    with torch.device("meta"), ops.use(registry=fake):
        assert Doubler().bound_ops()["_double"].is_reference
    module.resolve_ops(device="cuda")
    assert module.bound_ops()["_double"].name == "gpu"


class Broken:
    name = "broken"

    @hookimpl
    def register_ops(self, register: Register) -> None:
        register("layernorm2d", Reference(layer_norm_channels, double_samples))


class Orphan:
    name = "orphan"

    @hookimpl
    def register_ops(self, register: Register) -> None:
        register("nobody.op", Override("fast", double_fast, devices=("cpu",)))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r("x.y", double), "register a restorefw.ops.Reference or Override, not function"),
        (lambda r: r("Bad Name", Reference(double, double_samples)), "must be dotted lower-case words"),
        (lambda r: r("x.y", Reference(double, double_samples), schema=object), "ops take no schema"),
        (lambda r: r("x.y", Override("reference", double, devices=("cpu",))), "other than 'reference'"),
        (lambda r: r("x.y", Override("ok", double, devices=())), "devices must be device types"),
        (lambda r: r("x.y", Override("ok", double, devices=("cpu",), dtypes=("float32",))), "dtypes must be"),
    ],
)
def test_malformed_registrations_are_rejected(call: Any, message: str) -> None:
    registry = OpRegistry()
    with pytest.raises(restorefw.PluginError, match=message):
        call(registry.register_for("p"))


def test_plugin_problems_are_recorded_not_raised() -> None:
    pm = plugin_manager(Broken(), Orphan(), strict=False)
    registry = restorefw.build_op_registry(pm)
    errors = {f.name: f.error for f in pm.failures}
    assert "op 'layernorm2d' has two references: by plugin 'core' (restorefw" in errors["broken"]
    assert "override 'fast' of op 'nobody.op', which no plugin gives a reference for" in errors["orphan"]
    assert "nobody.op" not in registry and "layernorm2d" in registry
    with pytest.raises(restorefw.RegistryError, match="unknown op 'layernorm' \\(did you mean 'layernorm2d'"):
        registry.get("layernorm")


@pytest.mark.parametrize(
    ("op", "impl"),
    [(op.name, impl.name) for op in ops.default_op_registry() for impl in op.overrides],
    ids=lambda v: v,
)
def test_every_override_passes_check_op(op: str, impl: str) -> None:
    cases = check_op(op, impl, devices=["cpu"])
    assert any("channels_last" in c for c in cases) and any("strided" in c for c in cases)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (lambda x, w, b=None, eps=1e-5, center=True: layer_norm_channels(x, w, b, eps, center=center) * 1.001,
         "output without autograd 0 differs from the reference"),
        (lambda x, w, b=None, eps=1e-5, center=True: layer_norm_channels(x, w, b, eps, center=center).float(),
         "output is torch.float32"),
        (lambda x, w, b=None, eps=1e-5, center=True: layer_norm_channels(x, w, b, eps, center=center)[:1],
         "output shape"),
        (lambda x, w, b=None, eps=1e-5, center=True: layer_norm_channels(x, w, b, eps, center=center).detach(),
         "output does not require grad"),
        (lambda x, w, b=None, eps=1e-5, center=True: (
            layer_norm_channels(x, w, b, eps, center=center) if torch.is_grad_enabled() else x),
         "output without autograd 0 differs"),
        (lambda x, *a, **k: x.add_(1), "modified its inputs"),
    ],
)
def test_check_op_catches_broken_implementations(bad: Any, message: str) -> None:
    with pytest.raises(ContractError, match=message):
        check_op("layernorm2d", bad, registry=op_registry_with(), devices=["cpu"], dtypes=[torch.float64])


def test_check_op_skips_overrides_it_cannot_run(fake: OpRegistry) -> None:
    with pytest.raises(unittest.SkipTest, match="needs a unicorn"):
        check_op("fake.double", "absent", registry=fake)
    if not torch.cuda.is_available():
        with pytest.raises(unittest.SkipTest, match="runs on cuda: none of them is available here"):
            check_op("fake.double", "gpu", registry=fake)
    with pytest.raises(ContractError, match=r"unknown op 'fake\.triple'"):
        check_op("fake.triple", "fast", registry=fake)
    candidate = Override("new", lambda x: x * 2, devices=("cpu",))
    assert check_op("fake.double", candidate, registry=fake, layouts=["strided"])


def test_check_op_tolerances_are_stated() -> None:
    noisy = lambda x, w, b=None, eps=1e-5, center=True: layer_norm_channels(x, w, b, eps, center=center) + 5e-6  # noqa: E731
    check_op("layernorm2d", noisy, registry=op_registry_with(), devices=["cpu"], dtypes=[torch.float32])
    with pytest.raises(ContractError, match=r"atol 1e-06"):
        check_op("layernorm2d", noisy, registry=op_registry_with(), devices=["cpu"], dtypes=[torch.float32],
                 tolerances={torch.float32: (1e-6, 0.0)}, backward=False)


def test_layernorm2d_override_keeps_the_layout() -> None:
    x, w, b = torch.randn(2, 8, 5, 6), torch.randn(8), torch.randn(8)
    fast = ops.default_op_registry().resolve("layernorm2d", "cpu")
    assert fast is not layer_norm_channels and fast(x, w, b).is_contiguous()
    cl = x.contiguous(memory_format=torch.channels_last)
    assert fast(cl, w, b).is_contiguous(memory_format=torch.channels_last)
    ref = F.layer_norm(x.permute(0, 2, 3, 1), (8,), w, b).permute(0, 3, 1, 2)
    assert (fast(x, w, b) - ref).abs().max() <= 1e-5


def test_ops_command_json() -> None:
    result = subprocess.run([sys.executable, "-m", "restorefw", "ops", "--json", "--device", "cpu"],
                            capture_output=True, text=True, check=True)
    data = json.loads(result.stdout)
    assert (data["device"], data["dtype"]) == ("cpu", "float32") and data["policy"] in ("auto", "reference")
    names = [op["name"] for op in data["ops"]]
    assert names == sorted(names) and {"layernorm2d", "restormer.mdta", "restormer.gdfn_gate"} <= set(names)
    for op in data["ops"]:
        assert set(op) == {"name", "description", "active", "implementations"}
        impls = op["implementations"]
        assert impls[0]["name"] == "reference" and impls[0]["devices"] == ["any"]
        assert sum(i["active"] for i in impls) == 1 and next(i for i in impls if i["active"])["name"] == op["active"]
        for impl in impls:
            assert set(impl) == {"name", "plugin", "distribution", "version", "devices", "dtypes", "priority",
                                 "available", "reason", "active", "description"}
            assert impl["available"] == (impl["reason"] is None)


def test_ops_command_rejects_a_bad_policy() -> None:
    result = subprocess.run([sys.executable, "-m", "restorefw", "ops"], capture_output=True, text=True,
                            env={**os.environ, "RESTOREFW_OPS": "restormer.mdta=sdpa"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: RESTOREFW_OPS: op 'restormer.mdta' has no implementation 'sdpa'; choose from auto, reference, scaled"
    ]
