"""The MLflow logger: one MLflow run per restorefw run, continued across resumes."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import Field

from restorefw import StrictModel
from restorefw.loggers import Logger, RunInfo, Step

__all__ = ["MlflowConfig", "MlflowLogger"]

_STATUS = {"end": "FINISHED", "interrupt": "KILLED", "error": "FAILED"}
"""MLflow run status after a session's last event."""


class MlflowConfig(StrictModel):
    tracking_uri: str | None = Field(None, description="MLflow tracking URI; unset: a file store in logs/mlflow/store "
                                     "of the run folder")
    experiment: str = Field("restorefw", min_length=1, description="MLflow experiment (created when missing)")
    images: bool = Field(True, description="log the sample pictures (degraded | restored | target)")


def _param_key(key: str) -> str:
    """MLflow parameter names take no brackets: ``stages[0].optimizer.lr`` becomes ``stages.0.optimizer.lr``."""
    return key.replace("[", ".").replace("]", "")


class MlflowLogger(Logger):
    """Parameters (the flattened recipe), metrics ``<group>/<name>`` against the global step, sample
    pictures, the recipe as an artifact and the run's status.

    The MLflow run's id is kept in ``logs/mlflow/run.json``: a resumed restorefw run continues the
    same MLflow run and logs only the steps MLflow does not hold yet (MLflow keeps every value it
    gets; a resumed run logs the same values again for the steps after its checkpoint).

    Args:
        tracking_uri: where MLflow stores the run (unset: a local file store in the run folder).
        experiment: the MLflow experiment.
        images: log the sample pictures.
    """

    def __init__(self, tracking_uri: str | None = None, experiment: str = "restorefw", images: bool = True) -> None:
        self.tracking_uri, self.experiment, self.images = tracking_uri, experiment, images
        self.client: Any = None
        self.run_id = ""
        self.written: dict[str, int] = {}
        self.last_event = ""

    def start(self, run: RunInfo) -> None:
        """Open (or, resuming, reopen) the MLflow run; a new one gets the recipe as parameters and artifact."""
        folder = run.logs / "mlflow"
        uri = self.tracking_uri or (folder / "store").resolve().as_uri()
        if uri.startswith("file:"):
            # MLflow 3 keeps its file store in maintenance mode behind this switch; a store inside the
            # run folder needs no server, which is what this default is for.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=uri)
        saved = folder / "run.json"
        if run.resumed_from is not None and saved.is_file():
            self.run_id = json.loads(saved.read_text(encoding="utf-8"))["run_id"]
            self.client.update_run(self.run_id, status="RUNNING")
            history = self.client.get_run(self.run_id).data.metrics
            self.written = {key: max(m.step for m in self.client.get_metric_history(self.run_id, key))
                            for key in history}
            return
        experiment = self.client.get_experiment_by_name(self.experiment)
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(self.experiment)
        self.run_id = self.client.create_run(experiment_id, run_name=run.name,
                                             tags={"restorefw.folder": str(run.folder)}).info.run_id
        folder.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps({"tracking_uri": uri, "run_id": self.run_id}), encoding="utf-8")
        from mlflow.entities import Param

        params = [Param(_param_key(k), str(v)[:6000]) for k, v in run.hparams.items()]
        for first in range(0, len(params), 100):  # MLflow takes at most 100 parameters per batch
            self.client.log_batch(self.run_id, params=params[first:first + 100])
        self.client.log_text(self.run_id, run.recipe_text, "recipe.resolved.toml")

    def scalars(self, at: Step, values: Mapping[str, float], group: str) -> None:
        """Metrics ``<group>/<name>`` at the global step, except steps MLflow already holds."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(f"{group}/{name}", float(value), now, at.global_step) for name, value in values.items()
                   if isinstance(value, (int, float)) and at.global_step > self.written.get(f"{group}/{name}", -1)]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    def image(self, at: Step, tag: str, image: np.ndarray) -> None:
        """The picture, unless ``images = false`` or a resumed run already logged its step."""
        if self.images and at.global_step > max(self.written.values(), default=-1):
            self.client.log_image(self.run_id, image, key=tag, step=at.global_step)

    def event(self, at: Step, name: str, detail: Mapping[str, Any]) -> None:
        """The latest event as the tag ``restorefw.event``."""
        self.last_event = name
        self.client.set_tag(self.run_id, "restorefw.event", f"{name} (stage {at.stage}, step {at.step})")

    def close(self) -> None:
        """Mark the MLflow run finished, killed (interrupted) or failed."""
        if self.client is not None and self.run_id:
            self.client.set_terminated(self.run_id, _STATUS.get(self.last_event, "KILLED"))
