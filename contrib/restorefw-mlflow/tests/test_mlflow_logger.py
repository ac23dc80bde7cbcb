"""The mlflow logger, offline: a file store in a temporary run folder, read back with MLflow's own client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import restorefw_mlflow

import restorefw
from restorefw.engine import Runner
from restorefw.testing import check_logger, registry_with, tiny_recipe


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    # MLflow 3 reports usage over the network unless told not to; these tests must not try.
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")


@pytest.fixture(scope="module")
def registry() -> restorefw.Registry:
    return registry_with(restorefw_mlflow, load_entrypoints=True, only=["basic"])


def client(run_folder: Path) -> tuple[Any, str]:
    """MLflow's client on the run folder's store, and the id of the MLflow run the logger made."""
    from mlflow.tracking import MlflowClient

    saved = json.loads((run_folder / "logs/mlflow/run.json").read_text())
    return MlflowClient(tracking_uri=saved["tracking_uri"]), saved["run_id"]


def read_metrics(run_folder: Path) -> dict[str, list[int]]:
    mlflow, run_id = client(run_folder)
    return {key: [m.step for m in mlflow.get_metric_history(run_id, key)]
            for key in mlflow.get_run(run_id).data.metrics}


def test_logger_contract_and_every_step_once_after_a_resume(registry: restorefw.Registry) -> None:
    check_logger(registry, "mlflow", read_scalars=read_metrics)


def test_a_run_logs_its_recipe_metrics_and_pictures(registry: restorefw.Registry, tmp_path: Path) -> None:
    recipe = tiny_recipe("mlflowed", data={"val": {"type": "skimage_samples", "images": ["chelsea"]},
                                           "val_max_size": 32},
                         stages=[{"name": "s", "steps": 2, "log_every": 1}],
                         loggers=[{"type": "mlflow", "experiment": "tests"}])
    Runner(restorefw.resolve_recipe(recipe, registry), registry, tmp_path / "run", quiet=True).run()
    mlflow, run_id = client(tmp_path / "run")
    run = mlflow.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "mlflowed"
    assert mlflow.get_experiment(run.info.experiment_id).name == "tests"
    assert run.data.params["stages.0.steps"] == "2" and run.data.params["model.type"] == "rescnn"
    assert [m.step for m in mlflow.get_metric_history(run_id, "train/loss")] == [1, 2]
    assert {"val/psnr", "val/ssim", "speed/images_per_s"} <= set(run.data.metrics)
    artifacts = {a.path for folder in (None, "images") for a in mlflow.list_artifacts(run_id, folder)}
    assert "recipe.resolved.toml" in artifacts and any("chelsea" in path for path in artifacts)
