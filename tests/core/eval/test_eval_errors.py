"""Bad input to ``restorefw eval``: one line naming the file or key, exit 2, no folder presented as complete."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from eval_helpers import call_cli, png, tiny_checkpoint

from restorefw.testing import make_sr_pack


def png_tensor() -> torch.Tensor:
    """A (3, 24, 24) image for packs."""
    return torch.rand(3, 24, 24, generator=torch.Generator().manual_seed(0))


def _empty(root: Path) -> tuple[list[str], str]:
    (root / "set").mkdir()
    return [], "cannot tell the layout of test set"


def _unmatched(root: Path) -> tuple[list[str], str]:
    png(root / "set" / "lq" / "a.png", 8, 8)
    png(root / "set" / "gt" / "a.png", 8, 8)
    png(root / "set" / "lq" / "b.png", 8, 8)
    return [], "b.png"


def _mixed_sizes(root: Path) -> tuple[list[str], str]:
    png(root / "set" / "lq" / "a.png", 8, 8)
    png(root / "set" / "gt" / "a.png", 12, 8)
    return [], "a.png' is 8x8"


def _wrong_scale(root: Path) -> tuple[list[str], str]:
    make_sr_pack(root / "set", {"a": png_tensor()}, (2, 4))
    return ["--scale", "3"], "no inputs for scale x3; it holds x2, x4"


def _model_scale(root: Path) -> tuple[list[str], str]:
    make_sr_pack(root / "set", {"a": png_tensor()}, (4,))
    return [], "the scale of model 'm'"


def _not_an_image(root: Path) -> tuple[list[str], str]:
    png(root / "set" / "a.png", 16, 16)
    (root / "set" / "b.png").write_bytes(b"not an image at all")
    return [], "b.png"


def _one_image(args: list[str], expected: str) -> Callable[[Path], tuple[list[str], str]]:
    """A set of one good image, given ``args`` that are wrong in themselves."""

    def make(root: Path) -> tuple[list[str], str]:
        png(root / "set" / "a.png", 16, 16)
        return args, expected

    return make


CASES: dict[str, Callable[[Path], tuple[list[str], str]]] = {
    "empty set": _empty, "unmatched names": _unmatched, "mixed sizes": _mixed_sizes, "wrong scale": _wrong_scale,
    "model scale": _model_scale, "corrupt image": _not_an_image,
    "unknown layout": _one_image(["--layout", "pairs"], "unknown test-set layout 'pairs' (did you mean 'paired'?)"),
    "unknown protocol key": _one_image(["--set", "protocol.crop_bordr=0"], "protocol.crop_bordr"),
    "unknown layout option": _one_image(["--set", "layout.recursiv=true"], "option 'recursiv'"),
    "unknown metric": _one_image(["--set", 'protocol.metrics=["psnr", "lpipz"]'], "unknown metric 'lpipz'"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_and_exit_2(case, registry, tmp_path, monkeypatch, capsys):
    extra, expected = CASES[case](tmp_path)
    scale = {"wrong scale": 3, "model scale": 2}.get(case, 1)
    model = tiny_checkpoint(registry, tmp_path / "m.safetensors", scale, task={"type": "denoise", "sigma": 25})
    code, out, err = call_cli(monkeypatch, capsys, "eval", str(model), str(tmp_path / "set"), *extra,
                              "--out", str(tmp_path / "ev"))
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert expected in lines[0]
    assert not (tmp_path / "ev").exists()


def test_missing_model_or_set_is_named(registry, tmp_path, monkeypatch, capsys):
    code, _, err = call_cli(monkeypatch, capsys, "eval", str(tmp_path / "nope.safetensors"), str(tmp_path))
    assert code == 2 and f"'{tmp_path / 'nope.safetensors'}' does not exist" in err
    model = tiny_checkpoint(registry, tmp_path / "m.safetensors", 2)
    code, _, err = call_cli(monkeypatch, capsys, "eval", str(model), str(tmp_path), "--scale", "3")
    assert code == 2 and "model 'm' is x2 but test set" in err and "asked for at x3" in err


def test_truncated_image_leaves_an_incomplete_folder(registry, tmp_path, monkeypatch, capsys):
    png(tmp_path / "set" / "a.png", 16, 16)
    whole = png(tmp_path / "set" / "b.png", 64, 64, seed=3).read_bytes()
    (tmp_path / "set" / "b.png").write_bytes(whole[: len(whole) // 2])  # the header is whole, the pixels are not
    model = tiny_checkpoint(registry, tmp_path / "m.safetensors", task={"type": "denoise", "sigma": 25})
    code, _, err = call_cli(monkeypatch, capsys, "eval", str(model), str(tmp_path / "set"),
                            "--out", str(tmp_path / "ev"), "--quiet")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "b.png" in lines[0] and "is not complete (no eval.json" in lines[0]
    assert not (tmp_path / "ev" / "eval.json").exists()
    assert (tmp_path / "ev" / "eval.csv").read_text().count("\n") == 3  # header, then a.png's two rows
