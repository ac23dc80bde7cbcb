"""Round trip with the ecosystem: Restormer checkpoints written by restorefw load in spandrel and give the same
outputs (spandrel keeps Restormer in spandrel_extra_arches, for its licence). Skipped where they do not import."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

import restorefw

try:
    import spandrel
    import spandrel_extra_arches
except Exception as exc:  # spandrel imports torchvision, which fails beside a torch build it was not made for
    pytest.skip(f"spandrel and spandrel_extra_arches do not import here ({type(exc).__name__}: {exc})",
                allow_module_level=True)

TINY = {"dim": 8, "num_blocks": [1, 2, 1, 1], "heads": [1, 1, 2, 2], "num_refinement_blocks": 1}


@pytest.mark.parametrize("config", [
    {},
    {"inp_channels": 1, "out_channels": 1, "LayerNorm_type": "BiasFree"},
    {"inp_channels": 6, "dual_pixel_task": True},
])
def test_restorefw_checkpoints_load_in_spandrel(cli_run: Callable[..., tuple[int, str]], tmp_path: Path,
                                                config: dict[str, Any]) -> None:
    spandrel_extra_arches.install(ignore_duplicates=True)
    torch.manual_seed(0)
    model = restorefw.create("model", "restormer", **TINY, **config).eval()
    with torch.no_grad():  # non-trivial norms and temperatures, so that a wrong mapping would show
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    torch.save({"params": model.state_dict()}, tmp_path / "official.pth")
    assert cli_run("convert", tmp_path / "official.pth", tmp_path / "restorefw.safetensors")[0] == 0
    assert cli_run("export", tmp_path / "restorefw.safetensors", tmp_path / "plain.safetensors")[0] == 0
    x = torch.rand(1, config.get("inp_channels", 3), 24, 16)
    with torch.no_grad():
        ours = model(x)
    for written in ("restorefw.safetensors", "plain.safetensors"):
        loaded = spandrel.ModelLoader().load_from_file(tmp_path / written)
        assert loaded.architecture.id == "Restormer"
        assert (loaded.input_channels, loaded.output_channels) == (x.shape[1], ours.shape[1])
        with torch.no_grad():
            # restorefw computes the same functions through its own ops: equal up to float rounding
            torch.testing.assert_close(loaded.model.eval()(x), ours, rtol=0, atol=1e-5)
