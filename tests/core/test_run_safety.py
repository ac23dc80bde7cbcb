"""Nothing lost, nothing outside the run folder: overwrite, names, locks, autosave, late failures."""

from __future__ import annotations

import errno
import json
import os
import struct
import sys
import zlib
from pathlib import Path

import pytest
import tomli_w
import torch
from PIL import Image
from safetensors.torch import load_file

from restorefw.cli import cli
from restorefw.cli._common import run_cli
from restorefw.engine import RunFolder, cpu_isa
from restorefw.testing import tiny_recipe


def cli_run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Run the command line in this process; returns the exit status and stderr."""
    monkeypatch.setattr(sys, "argv", ["restorefw", *args])
    try:
        run_cli(cli)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "r.toml"
    path.write_text(tomli_w.dumps(tiny_recipe("safe", stages=[{"name": "s", "steps": 2}])))
    return path


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


# --overwrite ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["cwd", "parent", "home"])
def test_overwrite_never_deletes_the_working_folder_a_parent_or_home(where, recipe, tmp_path, monkeypatch, capsys):
    work = tmp_path / "home" / "work"
    work.mkdir(parents=True)
    (work / "base.toml").write_text(recipe.read_text())
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(work)
    out = {"cwd": ".", "parent": "..", "home": str(tmp_path / "home")}[where]
    code, err = cli_run(monkeypatch, capsys, "run", "base.toml", "--out", out, "--overwrite", "--quiet")
    assert code == 2 and "--overwrite refuses" in err and "Traceback" not in err
    assert (work / "base.toml").is_file()
    assert not (work / ".restorefw-run.lock").exists()


def test_overwrite_refuses_a_folder_that_was_never_a_run(recipe, tmp_path, monkeypatch, capsys):
    precious = tmp_path / "precious"
    (precious / "sub").mkdir(parents=True)
    (precious / "thesis.tex").write_text("years of work")
    code, err = cli_run(monkeypatch, capsys, "run", str(recipe), "--out", str(precious), "--overwrite", "--quiet")
    assert code == 2 and "holds files no run writes (sub, thesis.tex)" in err
    assert sorted(p.name for p in precious.iterdir()) == ["sub", "thesis.tex"]


def test_overwrite_replaces_a_run_folder_but_not_foreign_files_in_it(recipe, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    assert cli_run(monkeypatch, capsys, "run", str(recipe), "--out", str(out), "--quiet")[0] == 0
    assert (out / ".restorefw-run").is_file() and RunFolder(out).recognised
    stale = out / "checkpoints" / "s-999.safetensors"
    stale.write_bytes(b"old")
    assert cli_run(monkeypatch, capsys, "run", str(recipe), "--out", str(out), "--overwrite", "--quiet")[0] == 0
    assert not stale.exists() and (out / "summary.json").is_file()
    (out / "notes.txt").write_text("mine")
    code, err = cli_run(monkeypatch, capsys, "run", str(recipe), "--out", str(out), "--overwrite", "--quiet")
    assert code == 2 and "notes.txt" in err and (out / "notes.txt").is_file()


@pytest.mark.parametrize("name", ["../../../x", "/tmp/abs", "a/b", ".hidden", ".."])
def test_run_names_cannot_leave_the_output_root(name, recipe, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, err = cli_run(monkeypatch, capsys, "run", str(recipe), "--set", f'run.name="{name}"', "--quiet")
    assert code == 2 and "run.name" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.toml"]


def test_sample_names_stay_in_the_samples_folder() -> None:
    from restorefw.engine._runlog import safe_name

    assert safe_name("../../etc/passwd") == "_.._etc_passwd"
    assert safe_name("..") == "_" and safe_name("a b/c") == "a_b_c"


# locks ----------------------------------------------------------------------------------------------------


def test_a_second_writer_is_refused_naming_the_holder(recipe, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    with RunFolder(out).lock():
        code, err = cli_run(monkeypatch, capsys, "run", str(recipe), "--out", str(out), "--quiet")
    assert code == 2 and f"in use by another restorefw process (PID {os.getpid()})" in err
    assert not (out / "summary.json").exists()


def test_a_stale_lock_from_a_dead_process_is_taken_over(recipe, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".restorefw-run.lock").write_text("999999\n")
    assert cli_run(monkeypatch, capsys, "run", str(recipe), "--out", str(out), "--quiet")[0] == 0
    assert (out / ".restorefw-run.lock").read_text().strip() == str(os.getpid())


# autosave and restarts ------------------------------------------------------------------------------------


def test_wall_clock_autosave_writes_a_resumable_checkpoint(tmp_path, monkeypatch, capsys):
    recipe = tmp_path / "r.toml"
    recipe.write_text(tomli_w.dumps(tiny_recipe("auto", run={"autosave_minutes": 1e-9},
                                                stages=[{"name": "s", "steps": 3}])))
    assert cli_run(monkeypatch, capsys, "run", str(recipe), "--out", str(tmp_path / "r"), "--quiet")[0] == 0
    saved = sorted(p.name for p in (tmp_path / "r/checkpoints").glob("s-*.safetensors"))
    assert saved == ["s-1.safetensors", "s-2.safetensors", "s-3.safetensors"]


def test_killed_before_the_first_checkpoint_restarts_under_auto_resume(recipe, tmp_path, monkeypatch, capsys):
    out = tmp_path / "cut"
    folder = RunFolder(out)
    folder.create()
    (out / "recipe.resolved.toml").write_text(recipe.read_text())
    (out / "metrics.jsonl").write_text('{"stage": "s", "step": 1, "loss": 1.0}\n')
    assert cli_run(monkeypatch, capsys, "run", str(recipe), "--out", str(out), "--auto-resume", "--quiet")[0] == 0
    assert cli_run(monkeypatch, capsys, "run", str(recipe), "--out", str(tmp_path / "ref"), "--quiet")[0] == 0
    ref, cut = weights(tmp_path / "ref/checkpoints/last.safetensors"), weights(out / "checkpoints/last.safetensors")
    assert all(torch.equal(ref[k], cut[k]) for k in ref)
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines if "loss" in json.loads(line)] == [2]


def test_resume_of_a_run_killed_before_its_first_checkpoint_starts_it_again(recipe, tmp_path, monkeypatch, capsys):
    out = tmp_path / "cut"
    RunFolder(out).create()
    (out / "recipe.resolved.toml").write_text(recipe.read_text())
    assert cli_run(monkeypatch, capsys, "run", "--resume", str(out), "--quiet")[0] == 0
    assert (out / "summary.json").is_file()


# checked before training ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("override", "path"), [
    ("eval.tile=7", "eval.tile_overlap"),
    ('stages[0].load=[{checkpoint = "nowhere.safetensors"}]', "stages[0].load[0].checkpoint"),
    ("data.batch_size=100000000000000000000", "data.batch_size"),
    ("model.channels=100000000", "model"),
])
def test_validate_catches_what_run_would_fail_on_later(override, path, recipe, tmp_path, monkeypatch, capsys):
    code, err = cli_run(monkeypatch, capsys, "validate", str(recipe), "--set", override)
    assert code == 2 and f"{path}:" in err and "Traceback" not in err
    out = tmp_path / "run"
    code, err = cli_run(monkeypatch, capsys, "run", str(recipe), "--set", override, "--out", str(out), "--quiet")
    assert code == 2 and f"{path}:" in err
    assert not out.exists()


def test_a_failure_after_training_still_writes_the_trained_weights(recipe, tmp_path, monkeypatch, capsys):
    import restorefw.engine._runner as runner

    def broken(*args, **kwargs):
        raise RuntimeError("evaluation exploded")

    monkeypatch.setattr(runner, "evaluate", broken)
    recipe.write_text(tomli_w.dumps(tiny_recipe(
        "late", data={"val": {"type": "skimage_samples", "images": ["chelsea"]}},
        stages=[{"name": "s", "steps": 2}])))
    code, err = cli_run(monkeypatch, capsys, "run", str(recipe), "--out", str(tmp_path / "r"), "--quiet")
    assert code == 2 and "evaluation failed in stage 's' at step 2: evaluation exploded" in err
    assert "the trained weights are saved" in err
    assert weights(tmp_path / "r/checkpoints/s-2.safetensors")
    assert not (tmp_path / "r/summary.json").exists()


def test_disk_full_names_the_file_and_keeps_the_previous_checkpoint(recipe, tmp_path, monkeypatch, capsys):
    import safetensors.torch

    save = safetensors.torch.save_file
    calls = []

    def filling(tensors, filename, metadata=None):
        calls.append(filename)
        if len(calls) > 2:  # the step-1 checkpoint and its copy as last.safetensors fit
            raise OSError(errno.ENOSPC, "No space left on device")
        return save(tensors, filename, metadata=metadata)

    monkeypatch.setattr(safetensors.torch, "save_file", filling)
    recipe.write_text(tomli_w.dumps(tiny_recipe("full", stages=[{"name": "s", "steps": 3, "save_every": 1}])))
    code, err = cli_run(monkeypatch, capsys, "run", str(recipe), "--out", str(tmp_path / "r"), "--quiet")
    assert code == 2 and "No space left on device" in err and "s-2.safetensors" in err
    assert len(err.strip().splitlines()) == 1
    monkeypatch.setattr(safetensors.torch, "save_file", save)
    last = tmp_path / "r/checkpoints/last.safetensors"
    assert weights(last) and json.loads(safetensors.safe_open(str(last), "pt").metadata()["step"]) == 1


# run files ------------------------------------------------------------------------------------------------


def test_run_files_follow_the_umask_and_record_where_they_ran(recipe, tmp_path, monkeypatch, capsys):
    old = os.umask(0o027)
    try:
        assert cli_run(monkeypatch, capsys, "run", str(recipe), "--out", str(tmp_path / "r"))[0] == 0
    finally:
        os.umask(old)
    out = tmp_path / "r"
    for name in ("checkpoints/last.safetensors", "checkpoints/last.state.pt", "summary.json",
                 "recipe.resolved.toml"):
        assert (out / name).stat().st_mode & 0o777 == 0o640, name
    header = (out / "recipe.resolved.toml").read_text().splitlines()[:3]
    assert header[0].startswith("# restorefw ") and f"torch {torch.__version__}" in header[0]
    assert header[1] == f"# device cpu, precision fp32, threads {torch.get_num_threads()}, world size 1"
    isa = cpu_isa()
    assert header[2] == f"# cpu {isa.model}, bf16 matrix units {isa.bf16_matrix_units}"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["threads"] == torch.get_num_threads() and summary["cpu"] == isa.as_dict()


def test_plain_output_has_one_progress_line_per_log_interval(tmp_path, monkeypatch, capsys):
    recipe = tmp_path / "r.toml"
    recipe.write_text(tomli_w.dumps(tiny_recipe("lines", stages=[{"name": "s", "steps": 4, "log_every": 2}])))
    code, err = cli_run(monkeypatch, capsys, "run", str(recipe), "--out", str(tmp_path / "r"))
    assert code == 0
    lines = [line for line in err.splitlines() if line.startswith("stage s step")]
    assert [line.split()[3] for line in lines] == ["2/4", "4/4"]
    assert all("loss" in line and "steps/s" in line and "images/s" in line for line in lines)


# restore --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkpoint(registry, tmp_path_factory) -> Path:
    from restorefw import resolve_recipe
    from restorefw.engine import Runner

    out = tmp_path_factory.mktemp("run") / "r"
    Runner(resolve_recipe(tiny_recipe("restore"), registry), registry, out, quiet=True).run()
    return out / "checkpoints/last.safetensors"


def _save(path: Path, mode: str, size: tuple[int, int] = (20, 16)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "I;16": 1}[mode]
    pixels = torch.randint(0, 255, (size[1], size[0], channels), dtype=torch.uint8).numpy()
    image = Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode="L" if mode == "I;16" else mode)
    if mode == "I;16":
        image = image.convert("I;16")
    image.save(path)
    return path


def test_restore_refuses_to_write_over_its_inputs(checkpoint, tmp_path, monkeypatch, capsys):
    photo = _save(tmp_path / "inplace" / "photo.png", "RGB")
    before = photo.read_bytes()
    code, err = cli_run(monkeypatch, capsys, "restore", "--checkpoint", str(checkpoint), str(tmp_path / "inplace"),
                        "--out", str(tmp_path / "inplace"))
    assert code == 2 and "would replace an input" in err and photo.read_bytes() == before


def test_restore_gives_inputs_with_the_same_stem_their_own_outputs(checkpoint, tmp_path, monkeypatch, capsys):
    _save(tmp_path / "in" / "photo.png", "RGB")
    _save(tmp_path / "in" / "photo.jpg", "RGB")
    _save(tmp_path / "in" / "sub" / "photo.png", "RGB")
    code, err = cli_run(monkeypatch, capsys, "restore", "--checkpoint", str(checkpoint), str(tmp_path / "in"),
                        "--out", str(tmp_path / "out"))
    assert code == 0, err
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.png"))
    assert written == ["photo_jpg.png", "photo_png.png", "sub/photo.png"]


@pytest.mark.parametrize(("mode", "expected", "note"), [
    ("L", "L", "kept grey"), ("LA", "LA", "kept grey, alpha"), ("RGBA", "RGBA", "kept alpha"),
    ("I;16", "I;16", "kept grey, 16-bit"),
])
def test_restore_keeps_grey_alpha_and_16_bits(mode, expected, note, checkpoint, tmp_path, monkeypatch, capsys):
    source = _save(tmp_path / "in" / "x.png", mode)
    monkeypatch.setattr(sys, "argv", ["restorefw", "restore", "--checkpoint", str(checkpoint), str(source),
                                      "--out", str(tmp_path / "out")])
    run_cli(cli)
    assert note in capsys.readouterr().out
    with Image.open(tmp_path / "out/x.png") as out, Image.open(source) as src:
        assert out.mode in (expected, "I;16B" if expected == "I;16" else expected) and out.size == src.size
        if "A" in mode:
            assert out.getchannel("A").tobytes() == src.getchannel("A").tobytes()


def test_a_decompression_bomb_is_refused_with_one_line(checkpoint, tmp_path, monkeypatch, capsys):
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 12000, 12000, 8, 2, 0, 0, 0)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 99))
                     + chunk(b"IEND", b""))
    assert bomb.stat().st_size < 200
    code, err = cli_run(monkeypatch, capsys, "restore", "--checkpoint", str(checkpoint), str(bomb),
                        "--out", str(tmp_path / "out"))
    assert code == 2 and "bomb.png" in err and "144 megapixels, over the limit of 100" in err
    assert len(err.strip().splitlines()) == 1 and "Warning" not in err
