"""Weights IO: state dicts in and out of files, with restorefw's metadata.

The floor every other one builds on for weights: safetensors (with the model spec in the
metadata), ``.pth`` read with ``weights_only=True``, TensorFlow 1 checkpoints read without
TensorFlow, atomic writes, loading into a model or one of its parts, and the :class:`Importer`
description of official-checkpoint support.
"""

from restorefw.weights._importer import Importer, StateDict
from restorefw.weights._io import (
    atomic_write,
    load_state,
    read_metadata,
    read_state_dict,
    save_state,
    save_weights,
    unwrap_state_dict,
)
from restorefw.weights._load import load_into
from restorefw.weights._tf1 import is_tf1_checkpoint, read_tf1_checkpoint

__all__ = [
    "Importer",
    "StateDict",
    "atomic_write",
    "is_tf1_checkpoint",
    "load_into",
    "load_state",
    "read_metadata",
    "read_state_dict",
    "read_tf1_checkpoint",
    "save_state",
    "save_weights",
    "unwrap_state_dict",
]
