"""Models as callers see them: the typed :class:`ModelInfo` and composition of parts."""

from restorefw.models._compose import EncoderDecoder, check_parts_fit
from restorefw.models._info import ModelInfo, describe, unwrap

__all__ = ["EncoderDecoder", "ModelInfo", "check_parts_fit", "describe", "unwrap"]
