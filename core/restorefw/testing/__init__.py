"""Conformance kit for plugin authors: fresh registries, test doubles and contract checks.

Each ``check_*`` function builds a component through a registry (so its config
schema is exercised exactly as a recipe would), asserts the contract its hook
documents in :mod:`restorefw.hookspecs`, and returns the built component. A
broken contract raises :class:`ContractError` (an ``AssertionError``) whose
message starts with the component, e.g. ``degradation 'jpeg' (plugin 'jpeg'
(restorefw-jpeg 0.1.0)): the same generator seed gave different outputs ...``.

Typical plugin tests (pytest)::

    import pytest
    from restorefw.testing import check_degradation, check_task, registry_with

    import restorefw_jpeg


    @pytest.fixture(scope="module")
    def registry():
        # only the core's built-ins and this plugin: installed plugins cannot interfere
        return registry_with(restorefw_jpeg)


    def test_jpeg_degradation(registry):
        check_degradation(registry, "jpeg", quality=(30, 90))


    def test_dejpeg_task(registry):
        check_task(registry, "dejpeg")

Pass ``load_entrypoints=True`` to ``registry_with`` to add the installed plugins
(e.g. a kernel plugin used by the basic plugin's ``blur`` degradation), or add
:class:`FakePlugin` for lightweight stand-ins. A component parameter whose name
clashes with a check option (``stochastic``, ``in_range``, ``input_shape``,
``devices``, ``encoder_spec``) goes in a spec table: ``check_kernel(registry,
{"type": "mine", "stochastic": 1})``. The checks run on the CPU, and on CUDA too
when it is available (``devices=["cpu"]`` to opt out).

Plugins that register official checkpoints check each catalog entry with
``check_weights(registry, "my_model/variant", official_state_dict)``: the spec builds,
the protocol exists, and the authors' layout imports key for key.

Layout plugins check their test-set layout on an example folder with
``check_layout(MyLayout(), "tests/data/my_set")``; ``make_sr_pack`` writes a small SR
benchmark pack (MATLAB bicubic inputs) for evaluation tests.

Kernel plugins check each override of an op against the op's reference with
``check_op("layernorm2d", "my_override", registry=op_registry_with(my_plugin))``. Strategies run as
the engine runs them, on a small fake model unless ``model_spec=`` names one:
``check_strategy(registry, "warmup_freeze", warmup_steps=1)``; heads and tails are checked alone and
against each other: ``check_head_tail(registry, "my.head", partner="my.tail")``; datasets with
``check_dataset``; loggers play an interrupted and resumed run with
``check_logger(registry, "my_logger", read_scalars=read_back)``.
"""

from __future__ import annotations

from restorefw.testing._build import ContractError, available_devices
from restorefw.testing._data_checks import check_degradation, check_kernel, check_task
from restorefw.testing._fakes import FakeDegradation, FakeKernel, FakeLoss, FakeMetric, FakeModel, FakePlugin
from restorefw.testing._layout_checks import check_layout
from restorefw.testing._logger_checks import check_logger
from restorefw.testing._managers import plugin_manager, registry_with
from restorefw.testing._model_checks import check_model
from restorefw.testing._op_checks import check_op, op_registry_with
from restorefw.testing._packs import make_sr_pack
from restorefw.testing._part_checks import check_dataset, check_head_tail
from restorefw.testing._recipes import tiny_recipe
from restorefw.testing._score_checks import check_loss, check_metric
from restorefw.testing._spies import OpSpy
from restorefw.testing._strategy_checks import check_strategy
from restorefw.testing._tf1_bundle import write_tf1_checkpoint
from restorefw.testing._weights_checks import check_weights

__all__ = [
    "ContractError",
    "FakeDegradation",
    "FakeKernel",
    "FakeLoss",
    "FakeMetric",
    "FakeModel",
    "FakePlugin",
    "OpSpy",
    "available_devices",
    "check_dataset",
    "check_degradation",
    "check_head_tail",
    "check_kernel",
    "check_layout",
    "check_logger",
    "check_loss",
    "check_metric",
    "check_model",
    "check_op",
    "check_strategy",
    "check_task",
    "check_weights",
    "make_sr_pack",
    "op_registry_with",
    "plugin_manager",
    "registry_with",
    "tiny_recipe",
    "write_tf1_checkpoint",
]
