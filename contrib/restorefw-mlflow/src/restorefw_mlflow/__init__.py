"""restorefw-mlflow: log restorefw runs to MLflow.

Registers the logger ``mlflow`` (``[[loggers]] type = "mlflow"`` in a recipe, or
``restorefw run ... --logger mlflow``). Depends on restorefw's public API only.
"""

from __future__ import annotations

from restorefw import Register, hookimpl
from restorefw_mlflow._logger import MlflowConfig, MlflowLogger

__all__ = ["MlflowConfig", "MlflowLogger", "register_loggers"]

RESTOREFW_API_VERSION = 1


@hookimpl
def register_loggers(register: Register) -> None:
    register("mlflow", MlflowLogger, schema=MlflowConfig, license="Apache-2.0",
             description="MLflow: params, metrics, sample pictures, the recipe (default store: logs/mlflow/store)")
