"""``restorefw weights``, ``convert --weights`` and ``export`` on tiny checkpoints the tests write."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

import restorefw
from restorefw import Registry, hookimpl
from restorefw.hookspecs import RegisterWeights
from restorefw.testing import write_tf1_checkpoint
from restorefw.weights import WeightsEntry, read_metadata, read_state_dict, save_weights, sha256_file
from restorefw_mzsr._convert import from_official, to_official

TINY = {"dim": 8, "num_blocks": [1, 1, 1, 1], "heads": [1, 1, 2, 2], "num_refinement_blocks": 1}


Run = Callable[..., tuple[int, str]]


@pytest.fixture
def official(tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    """A tiny Restormer saved as the authors save theirs: ``{'params': state_dict}`` in a .pth."""
    torch.manual_seed(0)
    model = restorefw.create("model", "restormer", **TINY).eval()
    path = tmp_path / "downloads" / "tiny.pth"
    path.parent.mkdir()
    torch.save({"params": model.state_dict()}, path)
    return path, model


@pytest.fixture
def catalog(official: tuple[Path, torch.nn.Module], monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    """The installed plugins plus two tiny entries, one with the official file's hash and one without."""
    path = official[0]

    class Tiny:
        name = "tiny"

        @hookimpl
        def register_weights(self, register: RegisterWeights) -> None:
            common = {"model": "restormer", "spec": TINY, "files": ["tiny.pth"], "license": "CC0",
                      "source": "https://example.org/tiny"}
            register(WeightsEntry(name="tiny/hashed", sha256={"tiny.pth": sha256_file(path)}, **common))
            register(WeightsEntry(name="tiny/unhashed", **common))

    registry = restorefw.build_registry(restorefw.get_plugin_manager(plugins=[("tiny", Tiny())]))
    for command in ("weights", "convert", "export"):
        monkeypatch.setattr(importlib.import_module(f"restorefw.cli.{command}"), "registry_for_cli", lambda: registry)
    yield registry


def test_listing_names_source_licence_and_hash_state(cli_run: Run) -> None:
    rows = {row["name"]: row for row in json.loads(cli_run("weights", "--json")[1])}
    for name in ("restormer/deraining", "ipt/sr_x2", "mzsr/pretrained"):
        assert rows[name]["source"].startswith("https://") and rows[name]["license"] and rows[name]["files"]
    assert rows["mzsr/direct_x4"]["model_spec"] == {"type": "mzsr", "scale": 4}
    lines = {line.split()[0]: line for line in cli_run("weights")[1].splitlines()[1:]}
    assert "2 of 2 files" in lines["mzsr/pretrained"] and "https://github.com/JWSoh/MZSR" in lines["mzsr/pretrained"]
    assert "unknown" in lines["restormer/deraining"] and "Academic Public License" in lines["restormer/deraining"]
    assert "derain_restormer" in lines["restormer/deraining"]
    assert sorted(lines) == sorted(rows)


def test_show_gives_spec_files_and_reported_numbers(cli_run: Run) -> None:
    status, output = cli_run("weights", "show", "restormer/gaussian_gray_denoising_sigma25")
    assert status == 0, output
    assert '"inp_channels": 1' in output and "gaussian_gray_denoising_sigma25.pth  sha256 unknown" in output
    assert "Set5: psnr 38.37" in cli_run("weights", "show", "ipt/sr_x2")[1]
    assert json.loads(cli_run("weights", "show", "ipt/pretrain", "--json")[1])["spec"]["num_queries"] == 6


def test_verify(cli_run: Run, official: tuple[Path, torch.nn.Module], catalog: Registry) -> None:
    path = official[0]
    status, output = cli_run("weights", "verify", "tiny/hashed", path)
    assert status == 0 and "matches the published tiny.pth" in output
    status, output = cli_run("weights", "verify", "tiny/unhashed", path.parent)
    assert status == 0 and "the catalog has no hash for tiny.pth: not verified" in output
    expected = sha256_file(path)
    path.write_bytes(path.read_bytes()[:-1] + b"!")
    status, output = cli_run("weights", "verify", "tiny/hashed", path)
    assert status == 2
    assert f"SHA-256 differs from the published tiny.pth of 'tiny/hashed': expected {expected}, got " in output
    status, output = cli_run("weights", "verify", "tiny/hashed", path.parent / "elsewhere.pth")
    assert status == 2 and "published by its authors at https://example.org/tiny" in output
    status, output = cli_run("weights", "verify", "tiny/hashd", path)
    assert status == 2 and "did you mean 'tiny/hashed'" in output


def test_convert_with_a_catalog_name(cli_run: Run, official: tuple[Path, torch.nn.Module], catalog: Registry,
                                     tmp_path: Path) -> None:
    path, model = official
    dst = tmp_path / "tiny.safetensors"
    status, output = cli_run("convert", "--weights", "tiny/hashed", path, dst)
    assert status == 0, output
    assert "tiny/hashed: SHA-256 verified; licence: CC0" in output
    meta = read_metadata(dst)
    assert meta["weights"] == "tiny/hashed" and meta["model"]["dim"] == 8
    loaded, _ = restorefw.load_model(dst, catalog)
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(loaded.eval()(x), model(x))
    status, output = cli_run("convert", "--weights", "tiny/unhashed", path.parent, tmp_path / "u.safetensors")
    assert status == 0 and "not verified (the catalog has no SHA-256 for it)" in output


def test_convert_refuses_a_file_that_is_not_the_published_one(cli_run: Run, official: tuple[Path, torch.nn.Module],
                                                              catalog: Registry, tmp_path: Path) -> None:
    path, model = official
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["output.weight"][0, 0, 0, 0] += 1
    torch.save({"params": state}, path)
    dst = tmp_path / "tiny.safetensors"
    status, output = cli_run("convert", "--weights", "tiny/hashed", path, dst)
    assert status == 2 and "SHA-256 differs from the published tiny.pth" in output
    assert not dst.exists()
    status, output = cli_run("convert", "--weights", "tiny/hashed", "--no-verify", path, dst)
    assert status == 0 and "SHA-256 not checked; licence: CC0" in output
    status, output = cli_run("convert", "--weights", "tiny/hashed", tmp_path / "nowhere.pth", dst)
    assert status == 2 and "published by its authors at https://example.org/tiny" in output
    status, output = cli_run("convert", "--weights", "tiny/hashed", "--arch", "restormer", path, dst)
    assert status == 2 and "leave out --arch" in output


def test_catalog_spec_wins_over_what_the_keys_say(cli_run: Run, tmp_path: Path) -> None:
    # The weights cannot tell MZSR's scale: inference says 2, the catalog's Directx4 says 4.
    model = restorefw.create("model", "mzsr", channels=8, layers=3)
    index = write_tf1_checkpoint(tmp_path / "Directx4", to_official(model.state_dict()))
    assert cli_run("convert", index, tmp_path / "inferred.safetensors")[0] == 0
    assert read_metadata(tmp_path / "inferred.safetensors")["model"]["scale"] == 2
    status, output = cli_run("convert", "--weights", "mzsr/direct_x4", index, tmp_path / "x4.safetensors")
    assert status == 2 and "does not fit MZSRNet" in output  # the catalog's 64 channels, not 8
    full = restorefw.create("model", "mzsr")
    write_tf1_checkpoint(tmp_path / "full" / "Directx4", to_official(full.state_dict()))
    status, output = cli_run("convert", "--weights", "mzsr/direct_x4", tmp_path / "full", tmp_path / "x4.safetensors")
    assert status == 0, output
    assert "not verified" in output and "licence: not stated by the authors" in output
    assert read_metadata(tmp_path / "x4.safetensors")["model"]["scale"] == 4


def test_export_writes_the_official_names_and_nothing_else(cli_run: Run, official: tuple[Path, torch.nn.Module],
                                                           tmp_path: Path) -> None:
    path, model = official
    converted, exported = tmp_path / "ours.safetensors", tmp_path / "official.safetensors"
    assert cli_run("convert", path, converted)[0] == 0
    status, output = cli_run("export", converted, exported)
    assert status == 0 and f"restormer, {len(model.state_dict())} tensors with the official names" in \
        output
    with safe_open(str(exported), framework="pt") as handle:
        assert handle.metadata() == {"format": "pt"}
    state = read_state_dict(exported)
    assert state.keys() == model.state_dict().keys()
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    folder = tmp_path / "run"
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "checkpoints" / "last.safetensors").write_bytes(converted.read_bytes())
    assert cli_run("export", folder, tmp_path / "from_run.safetensors")[0] == 0
    status, output = cli_run("export", tmp_path, tmp_path / "x.safetensors")
    assert status == 2 and "is not a run folder" in output


def test_export_maps_mzsr_back_to_the_authors_variables(cli_run: Run, tmp_path: Path) -> None:
    model = restorefw.create("model", "mzsr", channels=8, layers=3)
    save_weights(tmp_path / "mzsr.safetensors", model.state_dict(), {"model": {"type": "mzsr", "scale": 2,
                                                                             "in_channels": 3, "channels": 8,
                                                                             "layers": 3}})
    assert cli_run("export", tmp_path / "mzsr.safetensors", tmp_path / "tf.safetensors")[0] == 0
    state = read_state_dict(tmp_path / "tf.safetensors")
    assert sorted(state) == sorted(f"MODEL/conv{i}/{kind}" for i in (1, 2, 3) for kind in ("kernel", "bias"))
    assert all(torch.equal(from_official(state)[k], v) for k, v in model.state_dict().items())


def test_export_refuses_models_without_official_names(cli_run: Run, tmp_path: Path) -> None:
    spec = {"type": "encoder_decoder", "encoder": {"type": "restormer.encoder", **TINY},
            "decoder": {"type": "restormer.decoder", **TINY}}
    registry = restorefw.default_registry()
    resolved = registry.resolve("model", spec)
    save_weights(tmp_path / "composed.safetensors", registry.build("model", resolved).state_dict(), {"model": resolved})
    status, output = cli_run("export", tmp_path / "composed.safetensors", tmp_path / "x.safetensors")
    assert status == 2
    assert "model 'encoder_decoder' has no official key names (it registers no importer)" in output
    save_weights(tmp_path / "plain.safetensors", {"w": torch.zeros(1)})
    status, output = cli_run("export", tmp_path / "plain.safetensors", tmp_path / "x.safetensors")
    assert status == 2 and "no restorefw model metadata" in output
