"""Import of the MZSR authors' TensorFlow checkpoints: spec inference, key and layout mapping."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

import restorefw
from restorefw import CheckpointError
from restorefw.testing import check_weights, write_tf1_checkpoint
from restorefw.weights import read_metadata, read_state_dict, read_tf1_checkpoint
from restorefw_mzsr._arch import MZSRNet
from restorefw_mzsr._convert import from_official, infer_spec, to_official

MZSR_CHECKPOINT = (Path(__file__).parents[3] / ".." / "shared" / "fixtures" / "mzsr_official" / "checkpoint").resolve()
needs_mzsr_checkpoint = pytest.mark.skipif(
    not MZSR_CHECKPOINT.is_dir(),
    reason=f"the MZSR authors' checkpoint is not at {MZSR_CHECKPOINT} (../shared/fixtures beside the repository)",
)


def _official_layout(channels: int = 64, layers: int = 8, seed: int = 0) -> dict[str, Tensor]:
    """Random variables named and shaped like the authors' training checkpoints, training state included."""
    generator = torch.Generator().manual_seed(seed)
    widths = [3] + [channels] * (layers - 1) + [3]
    state: dict[str, Tensor] = {}
    for i in range(1, layers + 1):
        for kind, shape in (("kernel", (3, 3, widths[i - 1], widths[i])), ("bias", (widths[i],))):
            for slot in ("", "/Adam", "/Adam_1", "/Adam_2", "/Adam_3"):
                state[f"MODEL/conv{i}/{kind}{slot}"] = torch.randn(shape, generator=generator)
    for name in ("beta1_power", "beta2_power", "beta1_power_1", "beta2_power_1"):
        state[name] = torch.tensor(0.9)
    state["global_step"] = torch.tensor(100_000, dtype=torch.int32)
    state["stop_grad"] = torch.tensor(False)
    return state


def _tf_forward(state: dict[str, Tensor], x: np.ndarray) -> np.ndarray:
    """The authors' residual branch with TensorFlow's conventions: NHWC, HWIO kernels, SAME padding."""
    h = x.transpose(0, 2, 3, 1).astype(np.float64)
    layers = sum(1 for name in state if name.endswith("/kernel") and name.startswith("MODEL/conv"))
    for i in range(1, layers + 1):
        kernel = state[f"MODEL/conv{i}/kernel"].double().numpy()
        padded = np.pad(h, ((0, 0), (1, 1), (1, 1), (0, 0)))
        rows, cols = h.shape[1:3]
        h = sum(np.einsum("byxi,io->byxo", padded[:, dy : dy + rows, dx : dx + cols], kernel[dy, dx])
                for dy in range(3) for dx in range(3)) + state[f"MODEL/conv{i}/bias"].double().numpy()
        if i < layers:
            h = np.maximum(h, 0)
    return h.transpose(0, 3, 1, 2)


def _check_import(state: dict[str, Tensor]) -> MZSRNet:
    spec = infer_spec(state)
    assert spec is not None
    converted = from_official(state)
    assert len(converted) == 2 * spec["layers"]
    model: MZSRNet = restorefw.create("model", "mzsr", **spec)
    model.load_state_dict(converted, strict=True)
    x = torch.rand(1, 3, 7, 9, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    with torch.no_grad():
        ours = model.double().residual(x)
    np.testing.assert_allclose(ours.numpy(), _tf_forward(state, x.numpy()), rtol=1e-9, atol=1e-9)
    return model


def test_authors_layout_written_and_read_back(tmp_path: Path) -> None:
    written = _official_layout()
    write_tf1_checkpoint(tmp_path / "model-100000", written)
    state = read_tf1_checkpoint(tmp_path)
    assert infer_spec(state) == {"scale": 2, "in_channels": 3, "channels": 64, "layers": 8}
    converted = from_official(state)
    assert sorted(converted) == sorted(f"convs.conv{i}.{kind}" for i in range(1, 9) for kind in ("weight", "bias"))
    assert sum(p.numel() for p in converted.values()) == 225_091
    assert converted["convs.conv1.weight"].shape == (64, 3, 3, 3)
    assert torch.equal(converted["convs.conv2.weight"][5, 7], written["MODEL/conv2/kernel"][:, :, 7, 5])
    _check_import(state)


def test_channels_and_layers_come_from_the_shapes() -> None:
    state = _official_layout(channels=16, layers=4)
    assert infer_spec(state) == {"scale": 2, "in_channels": 3, "channels": 16, "layers": 4}
    expected = (3 * 9 * 16 + 16) + 2 * (16 * 9 * 16 + 16) + (16 * 9 * 3 + 3)
    assert sum(p.numel() for p in _check_import(state).parameters()) == expected


def test_other_state_dicts_are_not_mzsr() -> None:
    assert infer_spec({"convs.conv1.weight": torch.zeros(64, 3, 3, 3)}) is None
    assert infer_spec({}) is None
    with pytest.raises(CheckpointError, match="not an MZSR checkpoint in the authors' layout"):
        from_official({"patch_embed.proj.weight": torch.zeros(48, 3, 3, 3)})


@pytest.mark.parametrize(("edit", "message"), [
    (lambda s: s.pop("MODEL/conv3/bias"), r"MODEL/conv3/bias missing"),
    (lambda s: s.update({"MODEL/conv2/kernel": torch.zeros(3, 3, 8, 4)}),
     r"MODEL/conv2/kernel is \(3, 3, 8, 4\), expected \(3, 3, 8, 8\)"),
    (lambda s: s.update({"MODEL/conv1/kernel": torch.zeros(5, 5, 3, 64)}), r"MODEL/conv1/kernel is \(5, 5, 3, 64\)"),
    (lambda s: s.pop("MODEL/conv5/kernel"), r"MODEL/conv5/bias unexpected; MODEL/conv6/kernel unexpected"),
    (lambda s: s.update({"MODEL/conv1/kernel": torch.zeros(3, 64)}), "do not form an MZSR network"),
])
def test_inconsistent_variables(edit: Callable[[dict[str, Tensor]], object], message: str) -> None:
    state = _official_layout(channels=8, layers=8)
    edit(state)
    with pytest.raises(CheckpointError, match=message):
        infer_spec(state)


def test_unknown_tensors_are_listed_not_dropped() -> None:
    state = _official_layout(channels=8, layers=3)
    state["MODEL/bn1/gamma"] = torch.ones(8)
    state["Discriminator/conv1/kernel"] = torch.ones(3, 3, 3, 8)
    with pytest.raises(CheckpointError, match=r"2 tensor\(s\) are neither MZSR variables nor training state: "
                                              r"Discriminator/conv1/kernel, MODEL/bn1/gamma"):
        from_official(state)


@needs_mzsr_checkpoint
def test_authors_pretrained_checkpoint() -> None:
    state = read_tf1_checkpoint(MZSR_CHECKPOINT)
    spec = infer_spec(state)
    assert spec == {"scale": 2, "in_channels": 3, "channels": 64, "layers": 8}
    converted = from_official(state)
    assert sum(1 for k in converted if k.endswith(".weight")) == sum(1 for k in converted if k.endswith(".bias")) == 8
    assert sum(p.numel() for p in converted.values()) == 225_091
    model = _check_import(state)
    assert sum(p.numel() for p in model.parameters()) == 225_091


def test_to_official_inverts_from_official() -> None:
    model = restorefw.create("model", "mzsr", channels=8, layers=3)
    official = to_official(model.state_dict())
    assert set(official) == {f"MODEL/conv{i}/{kind}" for i in (1, 2, 3) for kind in ("kernel", "bias")}
    assert official["MODEL/conv1/kernel"].shape == (3, 3, 3, 8)
    back = from_official(official)
    assert all(torch.equal(back[k], v) for k, v in model.state_dict().items())


def test_convert_command_reads_the_bundle_in_every_form(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from restorefw.cli import cli
    from restorefw.weights import read_metadata

    model = restorefw.create("model", "mzsr", channels=8, layers=3)
    index = write_tf1_checkpoint(tmp_path / "ckpt" / "model", to_official(model.state_dict()), shards=2)
    for i, src in enumerate((index, index.with_suffix(""), index.parent)):
        dst = tmp_path / f"out{i}.safetensors"
        result = CliRunner().invoke(cli, ["convert", str(src), str(dst)])
        assert result.exit_code == 0, result.output
        assert "mzsr with" in result.output
        assert read_metadata(dst)["model"]["channels"] == 8
        loaded = restorefw.load_model(str(dst), restorefw.default_registry())[0]
        assert all(torch.equal(loaded.state_dict()[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("name", ["mzsr/pretrained", "mzsr/direct_x2", "mzsr/bicubic_x2", "mzsr/direct_x4",
                                  "mzsr/multi_scale"])
def test_catalogued_checkpoints_take_the_authors_layout(registry: restorefw.Registry, name: str) -> None:
    model = check_weights(registry, name, _official_layout())
    assert sum(p.numel() for p in model.parameters()) == 225_091
    assert model.scale == (4 if name == "mzsr/direct_x4" else 2)


@needs_mzsr_checkpoint
def test_the_authors_checkpoint_by_its_catalog_name(cli_run: Callable[..., tuple[int, str]], tmp_path: Path) -> None:
    dst = tmp_path / "mzsr.safetensors"
    status, output = cli_run("convert", "--weights", "mzsr/pretrained", MZSR_CHECKPOINT / "Pretrained", dst)
    assert status == 0, output
    assert "mzsr/pretrained: SHA-256 verified; licence: not stated by the authors" in output
    assert "mzsr with 225,091 parameters" in output
    state = read_state_dict(dst)
    assert sorted(state) == sorted(f"convs.conv{i}.{kind}" for i in range(1, 9) for kind in ("weight", "bias"))
    assert read_metadata(dst)["weights"] == "mzsr/pretrained"


@needs_mzsr_checkpoint
def test_a_flipped_byte_in_the_authors_data_shard(cli_run: Callable[..., tuple[int, str]], tmp_path: Path) -> None:
    copy = tmp_path / "Pretrained"
    shutil.copytree(MZSR_CHECKPOINT, copy)
    data = copy / "Pretrained.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[1000] ^= 0x01  # inside MODEL/conv1's Adam slots or kernel: some tensor's bytes
    data.chmod(0o644)
    data.write_bytes(bytes(raw))
    status, output = cli_run("weights", "verify", "mzsr/pretrained", copy / "Pretrained.index")
    assert status == 2 and f"{data}: SHA-256 differs from the published Pretrained.data-00000-of-00001" in output
    assert "matches the published Pretrained.index" in output
    status, output = cli_run("convert", "--weights", "mzsr/pretrained", "--no-verify", copy, tmp_path / "x.safetensors")
    assert status == 2 and "fails its CRC32C check" in output and "Pretrained.data-00000-of-00001" in output
