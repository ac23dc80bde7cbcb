"""Compute kernels: named ops with a plain-torch reference and per-device overrides.

Plugins register ops in the ``register_ops`` hook: one :class:`Reference` per op (the
ground truth, with sample calls for the conformance check) and any number of
:class:`Override` objects, each for some device types and dtypes, with a priority and
an availability check::

    from restorefw.ops import Override, Reference

    @restorefw.hookimpl
    def register_ops(register):
        register("myplugin.gate", Reference(gate, gate_samples))
        register("myplugin.gate", Override("triton", gate_triton, devices=("cuda",), priority=20,
                                           available=triton_usable, requires="triton and a CUDA GPU"))

Modules bind ops when they are built (:class:`OpsModule`); ``RESTOREFW_OPS`` or
:func:`use` choose between implementations (``reference`` everywhere, or per op:
``layernorm2d=reference,restormer.mdta=scaled``). See ``docs/ops.md``.
"""

from __future__ import annotations

from restorefw.ops._context import OpsModule, current_policy, current_registry, default_op_registry, resolve, use
from restorefw.ops._fusion import matmul_dtype, needs_grad, onednn_op_available
from restorefw.ops._layernorm import layer_norm_channels, register_core_ops
from restorefw.ops._policy import ENV_VAR, OpsPolicy
from restorefw.ops._registry import OpRegistry
from restorefw.ops._spec import FLOATING, Implementation, Op, OpSample, Override, Reference, SampleFn

__all__ = [
    "ENV_VAR",
    "FLOATING",
    "Implementation",
    "Op",
    "OpRegistry",
    "OpSample",
    "OpsModule",
    "OpsPolicy",
    "Override",
    "Reference",
    "SampleFn",
    "current_policy",
    "current_registry",
    "default_op_registry",
    "layer_norm_channels",
    "matmul_dtype",
    "needs_grad",
    "onednn_op_available",
    "register_core_ops",
    "resolve",
    "use",
]
