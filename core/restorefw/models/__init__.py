"""Models as callers see them: the typed :class:`ModelInfo`, the precisions a model accepts, and
composition of parts."""

from restorefw.models._compose import EncoderDecoder, check_parts_fit
from restorefw.models._info import ModelInfo, describe, unwrap
from restorefw.models._precision import Precision, PrecisionSupport, Use, model_precision, precision_support

__all__ = [
    "EncoderDecoder",
    "ModelInfo",
    "Precision",
    "PrecisionSupport",
    "Use",
    "check_parts_fit",
    "describe",
    "model_precision",
    "precision_support",
    "unwrap",
]
