"""Device and precision selection; CUDA training paths run only where CUDA exists."""

from __future__ import annotations

import tomllib

import pytest
import torch

from restorefw import ConfigError, resolve_recipe
from restorefw.engine import Runner, cpu_isa, resolve_device, resolve_precision

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_auto_device_and_precision_on_this_machine():
    device = resolve_device("auto")
    assert device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    expected = "bf16" if cpu_isa().bf16_matrix_units else "fp32"
    assert resolve_precision("auto", torch.device("cpu")) == expected
    assert resolve_precision("fp32", device) == "fp32"
    assert resolve_precision("bf16", torch.device("cpu")) == "bf16"


def test_unknown_precision_is_a_config_error():
    with pytest.raises(ConfigError, match="run.precision: unknown precision 'fp8'"):
        resolve_precision("fp8", torch.device("cpu"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_cuda_request_without_cuda_is_a_config_error():
    with pytest.raises(ConfigError, match="run.device: device 'cuda' requested but CUDA is not available"):
        resolve_device("cuda")


def test_invalid_device_string():
    with pytest.raises(ConfigError, match="invalid device 'gpu0'"):
        resolve_device("gpu0")


@cuda
@pytest.mark.parametrize("precision,channels_last", [("bf16", True), ("fp16", False), ("fp32", True)])
def test_training_on_cuda(registry, tmp_path, precision, channels_last):
    from test_engine import TINY

    text = TINY.replace('device = "cpu"', f'device = "cuda"\nprecision = "{precision}"\n'
                        f"channels_last = {str(channels_last).lower()}")
    summary = Runner(resolve_recipe(tomllib.loads(text), registry), registry, tmp_path / "r", quiet=True).run()
    assert summary["device"].startswith("cuda") and summary["precision"] == precision
    assert all(v == v for v in summary["stages"]["b"]["val"].values())


@cuda
def test_compiled_training_on_cuda_matches_eager(registry, tmp_path):
    from test_engine import TINY

    cuda_tiny = TINY.replace('device = "cpu"', 'device = "cuda"')
    eager = Runner(resolve_recipe(tomllib.loads(cuda_tiny), registry), registry, tmp_path / "e", quiet=True).run()
    compiled_text = cuda_tiny.replace('device = "cuda"', 'device = "cuda"\ncompile = true')
    compiled = Runner(resolve_recipe(tomllib.loads(compiled_text), registry), registry, tmp_path / "c",
                      quiet=True).run()
    # Inductor fuses differently from eager, so the losses agree to rounding, not bit for bit.
    assert compiled["stages"]["b"]["val"]["psnr"] == pytest.approx(eager["stages"]["b"]["val"]["psnr"], abs=0.05)
