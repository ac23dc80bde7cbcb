"""Device and precision selection; CUDA training paths run only where CUDA exists."""

from __future__ import annotations

import tomllib

import pytest
import torch

from restorefw import ConfigError, resolve_recipe
from restorefw.engine import Runner, _device, cpu_isa, resolve_device, resolve_precision

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
CPU = torch.device("cpu")


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



def test_compiler_missing_names_what_inductor_needs(monkeypatch):
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(_device.shutil, "which", lambda name: None)
    assert "no C++ compiler found (g++, c++, clang++" in (_device.compiler_missing(CPU) or "")
    monkeypatch.setattr(_device.shutil, "which", lambda name: f"/usr/bin/{name}" if name == "clang++" else None)
    assert _device.compiler_missing(CPU) is None
    monkeypatch.setenv("CXX", "icpx")  # only the named compiler counts then
    assert "(icpx;" in (_device.compiler_missing(CPU) or "")
    monkeypatch.setattr(_device.importlib.util, "find_spec", lambda name: None)
    assert "Triton is not installed" in (_device.compiler_missing(torch.device("cuda")) or "")
    model = torch.nn.Linear(2, 2)
    assert _device.compile_model(model, CPU) == (model, f"eager ({_device.compiler_missing(CPU)})")


def _tiny(registry, out, compile_: bool, quiet: bool = True):
    from test_engine import TINY

    text = TINY.replace('device = "cpu"', f'device = "cpu"\ncompile = {str(compile_).lower()}')
    return Runner(resolve_recipe(tomllib.loads(text), registry), registry, out, quiet=quiet).run()


def test_compile_without_a_compiler_trains_eager_and_says_so(registry, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(_device.shutil, "which", lambda name: None)
    compiled = _tiny(registry, tmp_path / "c", compile_=True, quiet=False)
    assert compiled["stages"]["a"]["compile"].startswith("eager (no C++ compiler found")
    assert "run.compile: stage 'a' runs eager (no C++ compiler found" in capsys.readouterr().err
    eager = _tiny(registry, tmp_path / "e", compile_=False)
    assert compiled["stages"]["b"]["val"] == eager["stages"]["b"]["val"]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch's own, while inductor loads
@pytest.mark.skipif(_device.compiler_missing(CPU) is not None, reason=f"inductor: {_device.compiler_missing(CPU)}")
def test_compiled_training_on_the_cpu_matches_eager(registry, tmp_path):
    compiled = _tiny(registry, tmp_path / "c", compile_=True)
    assert compiled["stages"]["a"]["compile"] == "inductor"
    eager = _tiny(registry, tmp_path / "e", compile_=False)
    # Inductor fuses differently from eager, so the scores agree to rounding, not bit for bit.
    assert compiled["stages"]["b"]["val"]["psnr"] == pytest.approx(eager["stages"]["b"]["val"]["psnr"], abs=0.05)
