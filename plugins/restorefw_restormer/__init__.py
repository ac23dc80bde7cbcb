"""restorefw_restormer: Restormer (Zamir et al., CVPR 2022) as a whole model and as
encoder/decoder parts, with official-checkpoint import. Registered through the
``restorefw`` entry-point group."""

from restorefw_restormer._arch import Restormer, RestormerConfig, RestormerDecoder, RestormerEncoder
from restorefw_restormer._convert import IMPORTER, infer_config, infer_spec, load_restormer
from restorefw_restormer._hooks import register_models, register_ops, register_weights

__all__ = [
    "IMPORTER",
    "Restormer",
    "RestormerConfig",
    "RestormerDecoder",
    "RestormerEncoder",
    "infer_config",
    "infer_spec",
    "load_restormer",
    "register_models",
    "register_ops",
    "register_weights",
]
