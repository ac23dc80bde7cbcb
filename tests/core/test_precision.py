"""Precision choice: the ISA it rests on, ``auto`` and the refusals, autocast, and what models declare."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from restorefw import ConfigError
from restorefw.engine import CpuIsa, _device, _isa, autocast, autocast_dtype, cpu_isa, resolve_precision
from restorefw.models import PrecisionSupport, model_precision, precision_support

CPU = torch.device("cpu")
SAPPHIRE_RAPIDS = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu avx2 avx512f avx512_bf16 avx512_fp16 amx_bf16 amx_tile amx_int8
"""
ZEN4 = "model name\t: AMD EPYC 9654\nflags\t\t: fpu avx2 avx512f avx512_bf16\n"


def _cpu(text: str) -> CpuIsa:
    parsed = _isa._from_proc(text, "x86_64")
    assert parsed is not None
    return parsed


def test_cpuinfo_flags_are_parsed() -> None:
    spr, zen4 = _cpu(SAPPHIRE_RAPIDS), _cpu(ZEN4)
    assert spr.model == "Intel(R) Xeon(R) Platinum 8480+" and spr.bf16_matrix_units and spr.fp16_arithmetic
    assert zen4.avx512_bf16 and not zen4.bf16_matrix_units and not zen4.fp16_arithmetic
    assert _isa._from_proc("processor : 0\n", "x86_64") is None  # no flags line: ask torch instead
    assert set(spr.as_dict()) >= {"model", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_fp16"}


def test_this_machine_is_described() -> None:
    isa = cpu_isa()
    assert isa.model and isa.source in ("/proc/cpuinfo", "torch.cpu")
    assert torch.cpu._is_avx512_bf16_supported() == isa.avx512_bf16 or isa.source == "torch.cpu"


@pytest.mark.parametrize(("cpuinfo", "auto", "fp16"), [(SAPPHIRE_RAPIDS, "bf16", True), (ZEN4, "fp32", False)])
def test_auto_takes_bf16_only_with_matrix_units(monkeypatch, cpuinfo: str, auto: str, fp16: bool) -> None:
    monkeypatch.setattr(_device, "cpu_isa", lambda: _cpu(cpuinfo))
    assert resolve_precision("auto", CPU) == auto
    assert resolve_precision("bf16", CPU) == "bf16"
    if fp16:
        assert resolve_precision("fp16", CPU) == "fp16"
    else:
        with pytest.raises(ConfigError, match="run.precision: precision 'fp16' on this CPU"):
            resolve_precision("fp16", CPU)


def test_other_devices_run_fp32_only() -> None:
    assert resolve_precision("auto", torch.device("meta")) == "fp32"
    with pytest.raises(ConfigError, match="runs on CPU and CUDA devices"):
        resolve_precision("bf16", torch.device("meta"))


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_autocast_runs_every_precision_on_the_cpu(precision: str) -> None:
    """A conv net under each precision: the output dtype is the autocast one, values within its rounding."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.GELU(), nn.Conv2d(8, 3, 1)).eval()
    x = torch.rand(1, 3, 16, 16)
    with torch.inference_mode():
        expected = net(x)
        with autocast(CPU, precision):
            out = net(x)
    assert out.dtype == (autocast_dtype(precision) or torch.float32)
    tolerance = {"fp32": 0.0, "bf16": 2e-2, "fp16": 2e-3}[precision]
    assert (out.float() - expected).abs().max().item() <= tolerance


class _Fragile(nn.Module):
    precision_support = PrecisionSupport(training=("fp32", "bf16"), adaptation=("fp32",), note="fragile gradients")


def test_models_declare_what_they_tolerate_and_compositions_take_the_strictest() -> None:
    plain = nn.Linear(2, 2)
    assert precision_support(plain) == PrecisionSupport()
    assert model_precision(plain, "fp16", "adaptation") == "fp16"
    composed = nn.Sequential(plain, _Fragile())
    support = precision_support(composed)
    assert support.adaptation == ("fp32",) and support.training == ("fp32", "bf16")
    assert support.note == "fragile gradients"
    assert model_precision(composed, "bf16", "adaptation") == "fp32"
    assert model_precision(composed, "bf16", "training") == "bf16"
    assert model_precision(composed, "fp16", "training") == "fp32"
    assert model_precision(composed, "fp16", "inference") == "fp16"


def _write_recipe(tmp_path) -> str:
    import tomli_w

    from restorefw.testing import tiny_recipe

    path = tmp_path / "r.toml"
    path.write_text(tomli_w.dumps(tiny_recipe()))
    return str(path)


def test_run_precision_option_overrides_the_recipe_and_is_recorded(tmp_path, cli_run) -> None:
    import json

    out = tmp_path / "out"
    status, text = cli_run("run", _write_recipe(tmp_path), "--out", out, "--precision", "bf16", "--quiet")
    assert status == 0, text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["precision"] == "bf16" and summary["stages"]["s"]["precision"] == "bf16"
    assert 'precision = "bf16"' in (out / "recipe.resolved.toml").read_text()


def test_a_precision_the_cpu_cannot_run_fails_before_the_run_folder_exists(tmp_path, cli_run, monkeypatch) -> None:
    monkeypatch.setattr(_device, "cpu_isa", lambda: _cpu(ZEN4))
    out = tmp_path / "out"
    status, text = cli_run("run", _write_recipe(tmp_path), "--out", out, "--precision", "fp16", "--quiet")
    assert status == 2 and "run.precision: precision 'fp16' on this CPU" in text and "Traceback" not in text
    assert not out.exists()


def test_a_model_that_needs_fp32_gradients_trains_in_fp32_under_bf16(tmp_path, cli_run, monkeypatch) -> None:
    import json

    import restorefw

    rescnn = type(restorefw.create("model", "rescnn", channels=4, blocks=1))
    monkeypatch.setattr(rescnn, "precision_support", PrecisionSupport(training=("fp32",)), raising=False)
    out = tmp_path / "out"
    status, text = cli_run("run", _write_recipe(tmp_path), "--out", out, "--precision", "bf16", "--quiet")
    assert status == 0, text
    assert json.loads((out / "summary.json").read_text())["stages"]["s"]["precision"] == "fp32"


def test_restore_image_keeps_fp32_for_a_model_that_refuses_reduced_inference() -> None:
    from restorefw.engine import restore_image

    class _Exact(nn.Module):
        precision_support = PrecisionSupport(inference=("fp32",))

        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(self.conv(x))

    torch.manual_seed(0)
    model, x = _Exact(), torch.rand(1, 3, 16, 16)
    assert torch.equal(restore_image(model, x, CPU, "bf16"), restore_image(model, x, CPU, "fp32"))
    plain = nn.Sequential(*model.conv.modules(), nn.Sigmoid())
    assert not torch.equal(restore_image(plain, x, CPU, "bf16"), restore_image(plain, x, CPU, "fp32"))
