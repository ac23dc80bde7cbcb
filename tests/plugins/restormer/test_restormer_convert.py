"""Checkpoint tests: config inference, loading from .pth/.safetensors, clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import safe_open

from restorefw import CheckpointError, Registry
from restorefw._builder import convert_checkpoint
from restorefw.weights import read_metadata, read_state_dict
from restorefw_restormer._arch import Restormer, RestormerConfig, build_restormer
from restorefw_restormer._convert import infer_config, load_restormer

TINY = {"dim": 8, "num_blocks": [1, 1, 1, 1], "heads": [1, 1, 2, 2], "num_refinement_blocks": 1}


def _tiny(**overrides: Any) -> tuple[RestormerConfig, Restormer]:
    torch.manual_seed(0)
    cfg = RestormerConfig(**{**TINY, **overrides})
    model = build_restormer(cfg).eval()
    with torch.no_grad():  # non-trivial norms and temperatures, so a wrong mapping would show
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return cfg, model


def _assert_same_outputs(a: Restormer, b: Restormer, channels: int = 3) -> None:
    x = torch.rand(1, channels, 16, 16)
    with torch.no_grad():
        assert torch.equal(a.eval()(x), b.eval()(x))


@pytest.mark.parametrize("wrap", [lambda sd: {"params": sd}, lambda sd: sd])
def test_pth_roundtrip_infers_config(tmp_path: Path, wrap: Any) -> None:
    cfg, model = _tiny()
    path = tmp_path / "tiny.pth"
    torch.save(wrap(model.state_dict()), path)
    assert infer_config(read_state_dict(path)) == cfg
    _assert_same_outputs(load_restormer(path), model)


def test_safetensors_conversion(tmp_path: Path, registry: Registry) -> None:
    cfg, model = _tiny()
    src, dst = tmp_path / "tiny.pth", tmp_path / "tiny.safetensors"
    torch.save({"params": model.state_dict()}, src)
    resolved, params = convert_checkpoint(src, dst, registry)
    assert resolved["type"] == "restormer" and params == sum(p.numel() for p in model.parameters())
    with safe_open(dst, framework="pt") as f:
        assert f.metadata()["format"] == "pt"
    stored = read_metadata(dst)
    assert stored["source"] == "tiny.pth"
    spec = dict(stored["model"])
    assert spec.pop("type") == "restormer"
    assert RestormerConfig.model_validate(spec) == cfg
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.pth", "tiny.safetensors"]  # no temp file left
    _assert_same_outputs(load_restormer(dst), model)


@pytest.mark.parametrize(
    "overrides",
    [
        {"LayerNorm_type": "BiasFree"},
        {"bias": True},
        {"inp_channels": 6, "dual_pixel_task": True},
        {"inp_channels": 1, "out_channels": 1, "LayerNorm_type": "BiasFree"},
        {"num_blocks": [2, 1, 3, 2], "num_refinement_blocks": 0, "heads": [2, 2, 4, 8]},
    ],
)
def test_variants_are_inferred(overrides: dict[str, Any]) -> None:
    cfg, model = _tiny(**overrides)
    assert infer_config(model.state_dict()) == cfg
    _assert_same_outputs(load_restormer(model.state_dict()), model, channels=cfg.inp_channels)


def test_default_config_is_inferred_from_shapes() -> None:
    with torch.device("meta"):
        sd = build_restormer(RestormerConfig()).state_dict()
    assert infer_config(sd) == RestormerConfig()


def test_params_ema_and_module_prefix(tmp_path: Path) -> None:
    _, model = _tiny()
    sd = model.state_dict()
    decoy = {k: torch.zeros_like(v) for k, v in sd.items()}
    path = tmp_path / "ema.pt"
    torch.save({"params": decoy, "params_ema": {f"module.{k}": v for k, v in sd.items()}}, path)
    loaded = read_state_dict(path)
    assert loaded.keys() == sd.keys()
    assert all(torch.equal(loaded[k], sd[k]) for k in sd)


def test_missing_key_and_wrong_shape_are_listed() -> None:
    _, model = _tiny()
    sd = dict(model.state_dict())
    del sd["decoder_level2.0.ffn.dwconv.weight"]
    sd["refinement.0.attn.qkv_dwconv.weight"] = torch.zeros(5, 1, 3, 3)
    with pytest.raises(CheckpointError) as info:
        load_restormer(sd)
    message = str(info.value)
    assert "1 missing keys: decoder_level2.0.ffn.dwconv.weight" in message
    assert "refinement.0.attn.qkv_dwconv.weight: checkpoint (5, 1, 3, 3) vs model (48, 1, 3, 3)" in message


def test_config_mismatch_lists_unexpected_keys() -> None:
    _, model = _tiny()
    with pytest.raises(CheckpointError, match=r"unexpected keys: .*\(\+\d+ more\)"):
        load_restormer(model.state_dict(), RestormerConfig(**{**TINY, "num_refinement_blocks": 0}))


def test_truncated_file_names_the_file(tmp_path: Path) -> None:
    _, model = _tiny()
    path = tmp_path / "broken.pth"
    torch.save({"params": model.state_dict()}, path)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="broken.pth"):
        load_restormer(path)
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(CheckpointError, match="broken.safetensors"):
        read_state_dict(bad)


def test_missing_and_non_state_dict_files(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="nowhere.pth: checkpoint file not found"):
        read_state_dict(tmp_path / "nowhere.pth")
    path = tmp_path / "list.pth"
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError, match="list.pth: not a state dict"):
        read_state_dict(path)
    other = tmp_path / "other.pth"
    torch.save({"weight": torch.zeros(3)}, other)
    with pytest.raises(CheckpointError, match="other.pth: not a Restormer state dict"):
        load_restormer(other)
