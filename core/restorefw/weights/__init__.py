"""Reading and converting weights saved by other frameworks."""

from __future__ import annotations

from restorefw.weights._tf1 import is_tf1_checkpoint, read_tf1_checkpoint

__all__ = ["is_tf1_checkpoint", "read_tf1_checkpoint"]
