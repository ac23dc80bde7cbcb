"""restorefw-segmentation: data, task, scores and the segmenter, through the public API and the conformance kit."""

from __future__ import annotations

import pytest
import restorefw_segmentation
import torch

import restorefw
from restorefw.data import sample_batch
from restorefw.testing import check_model, check_task, registry_with
from restorefw.weights import load_into, read_state_dict, save_weights

UNET = {"type": "encoder_decoder", "encoder": {"type": "ddep.unet.encoder", "widths": [8, 16]},
        "decoder": {"type": "ddep.unet.decoder", "widths": [8, 16]}}


@pytest.fixture(scope="module")
def registry() -> restorefw.Registry:
    # The ddep plugin provides the UNet parts the segmenter is tested with.
    return registry_with(restorefw_segmentation, load_entrypoints=True, only=["ddep"])


def _mask(rows: list[list[int]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)[None, None]


def test_dataset_is_a_deterministic_paired_set(registry: restorefw.Registry) -> None:
    data = registry.create("dataset", "synthetic_shapes", seed=3, count=5, size=32)
    assert (data.paired, data.scale, len(data), data.image_size(0)) == (True, 1, 5, (32, 32))
    assert len(data.names) == 5 and "seed=3" in data.source(4)
    image, mask = data[2]
    assert image.shape == (3, 32, 32) and mask.shape == (1, 32, 32)
    assert image.dtype == mask.dtype == torch.float32 and 0 <= image.min() and image.max() <= 1
    again = registry.create("dataset", "synthetic_shapes", seed=3, count=50, size=32)[2]
    assert torch.equal(image, again[0]) and torch.equal(mask, again[1])  # image i depends on (seed, i) only
    other = registry.create("dataset", "synthetic_shapes", seed=4, count=5, size=32)[2]
    assert not torch.equal(image, other[0])
    with pytest.raises(IndexError):
        data[5]


@pytest.mark.parametrize("classes", [2, 3, 4])
def test_masks_hold_the_shape_classes(registry: restorefw.Registry, classes: int) -> None:
    data = registry.create("dataset", "synthetic_shapes", count=24, classes=classes, shapes=[2, 4])
    values = torch.cat([data[i][1].unique() for i in range(len(data))]).unique()
    assert values.tolist() == list(range(classes))
    # Shapes are painted with one colour plus noise: inside a mask region the image is nearly flat.
    image, mask = restorefw_segmentation.render(0, 0, noise=0.0, shapes=(1, 1))
    inside = mask[0] > 0
    assert inside.any() and image[:, inside].std(dim=1).max() < 1e-6


def test_paired_sampling_flips_image_and_mask_alike(registry: restorefw.Registry) -> None:
    data = registry.create("dataset", "synthetic_shapes", count=4, size=32, noise=0.0, shapes=[1, 1])
    images, masks = sample_batch(data, 16, 24, torch.Generator().manual_seed(0), augment=True)
    assert images.shape == (16, 3, 24, 24) and masks.shape == (16, 1, 24, 24)
    for image, mask in zip(images, masks, strict=True):
        shape = mask[0] > 0
        if shape.any() and (~shape).any():
            # One flat colour sits exactly where the mask says a shape is.
            assert image[:, shape].std(dim=1).max() < 1e-6


def test_segmentation_task(registry: restorefw.Registry) -> None:
    task = check_task(registry, "segmentation", classes=3, stochastic=False)
    assert (task.name, task.scale, task.classes) == ("segmentation", 1, 3)
    hr = torch.rand(2, 3, 8, 8)
    lq, target = task.degradation(hr, torch.Generator())
    assert torch.equal(lq, hr) and target is hr


def test_miou_on_hand_made_masks(registry: restorefw.Registry) -> None:
    miou = registry.create("metric", "miou")
    assert (miou.name, miou.higher_is_better) == ("miou", True)
    target = _mask([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 2], [2, 2, 2, 2]])
    assert miou(target, target.clone()).tolist() == [1.0]
    pred = _mask([[0, 1, 1, 1], [0, 0, 1, 1], [2, 2, 2, 2], [2, 2, 2, 0]])
    # background: 3 hit / (4 + 4 - 3) = 3/5; class 1: 4 / (4 + 5 - 4) = 4/5; class 2: 7 / 8
    expected = (3 / 5 + 4 / 5 + 7 / 8) / 3
    assert miou(pred, target).item() == pytest.approx(expected)
    # Without background: (4/5 + 7/8) / 2.
    no_bg = registry.create("metric", "miou", include_background=False)
    assert no_bg(pred, target).item() == pytest.approx((4 / 5 + 7 / 8) / 2)
    # Logits are scored by their arg-max, a class absent from both maps does not count.
    logits = torch.nn.functional.one_hot(pred[:, 0].long(), 5).permute(0, 3, 1, 2).float() * 3
    assert miou(logits, target).item() == pytest.approx(expected)
    assert no_bg(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)).tolist() == [1.0]


def test_miou_meets_the_metric_contract(registry: restorefw.Registry) -> None:
    # check_metric feeds images, not masks; this is its contract for class masks.
    miou = registry.create("metric", "miou")
    data = registry.create("dataset", "synthetic_shapes", count=3, size=32)
    target = torch.stack([data[i][1] for i in range(3)])
    pred = target.clone()
    pred[..., :8] = 0
    kept = (pred.clone(), target.clone())
    value = miou(pred, target)
    assert torch.equal(pred, kept[0]) and torch.equal(target, kept[1])
    assert value.shape == (3,) and value.dtype == torch.float32 and torch.isfinite(value).all()
    assert torch.equal(value, miou(pred, target)) and torch.equal(value[:1], miou(pred[:1], target[:1]))
    assert (miou(target, target) == 1).all() and (value <= 1).all() and (value < 1).any()
    with pytest.raises(ValueError, match="non-integer"):
        miou(pred, torch.rand(3, 1, 32, 32))


def test_cross_entropy_contract_and_descent(registry: restorefw.Registry) -> None:
    loss_fn = registry.create("loss", "cross_entropy")
    assert isinstance(loss_fn, torch.nn.Module)
    data = registry.create("dataset", "synthetic_shapes", count=2, size=16)
    masks = torch.stack([data[i][1] for i in range(2)])
    logits = torch.randn(2, 4, 16, 16, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    value = loss_fn(logits, masks)
    assert value.dim() == 0 and torch.isfinite(value)
    value.backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    confident = torch.nn.functional.one_hot(masks[:, 0].long(), 4).permute(0, 3, 1, 2).float() * 10
    assert loss_fn(confident, masks) < value
    optimizer = torch.optim.SGD([logits], lr=5.0)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = loss_fn(logits, masks)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False))
    with pytest.raises(ValueError, match="only 3 classes"):
        loss_fn(torch.zeros(2, 3, 16, 16), torch.full((2, 1, 16, 16), 3.0))
    with pytest.raises(ValueError, match="K >= 2"):
        loss_fn(torch.zeros(2, 1, 16, 16), masks)


@pytest.mark.parametrize("hidden", [0, 8])
def test_segmenter_meets_the_model_contract(registry: restorefw.Registry, hidden: int) -> None:
    net = check_model(registry, "segmenter", backbone=UNET, classes=3, hidden=hidden, input_range="signed")
    assert net(torch.rand(1, 3, 16, 16)).shape == (1, 3, 16, 16)
    assert {k.split(".")[0] for k in net.state_dict()} == {"backbone", "head"}


def test_a_pretrained_backbone_loads_into_the_segmenter(registry: restorefw.Registry, tmp_path) -> None:
    pretrained = registry.create("model", UNET)
    path = str(tmp_path / "dep.safetensors")
    save_weights(path, pretrained.state_dict(), {"model": UNET})
    expected = {f"backbone.{k}": v for k, v in pretrained.state_dict().items()}
    # As [model] backbone = { ..., checkpoint = "..." } does it ...
    built = restorefw.build_model(registry, {"type": "segmenter", "backbone": {**UNET, "checkpoint": path}})
    # ... and as a stage's load = [{ checkpoint = "...", into = "backbone" }] does it.
    fresh = registry.create("model", "segmenter", backbone=UNET)
    load_into(fresh.backbone, read_state_dict(path), path)
    for net in (built, fresh):
        state = net.state_dict()
        assert all(torch.equal(state[k], v) for k, v in expected.items())
        assert any(k.startswith("head.") for k in state)


def test_segmenter_rejects_a_wrong_backbone_width(registry: restorefw.Registry) -> None:
    net = registry.create("model", "segmenter", backbone=UNET, backbone_channels=5)
    with pytest.raises(ValueError, match="backbone_channels"):
        net(torch.rand(1, 3, 16, 16))
