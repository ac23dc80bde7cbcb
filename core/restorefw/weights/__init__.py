"""Weights IO: state dicts in and out of files, with restorefw's metadata.

The floor every other one builds on for weights: safetensors (with the model spec in the
metadata), ``.pth`` read with ``weights_only=True``, TensorFlow 1 checkpoints read without
TensorFlow, atomic writes, loading into a model or one of its parts, the :class:`Importer`
description of official-checkpoint support, and the catalog of known official checkpoints
(:class:`WeightsEntry`, read from a plugin's table by :func:`read_weights_table`) with the
SHA-256 check of their files.
"""

from restorefw._catalog import WeightsCatalog, WeightsEntry, read_weights_table
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
from restorefw.weights._verify import FileCheck, checkpoint_files, sha256_file, verify_checkpoint

__all__ = [
    "FileCheck",
    "Importer",
    "StateDict",
    "WeightsCatalog",
    "WeightsEntry",
    "atomic_write",
    "checkpoint_files",
    "is_tf1_checkpoint",
    "load_into",
    "load_state",
    "read_metadata",
    "read_state_dict",
    "read_tf1_checkpoint",
    "read_weights_table",
    "save_state",
    "save_weights",
    "sha256_file",
    "unwrap_state_dict",
    "verify_checkpoint",
]
