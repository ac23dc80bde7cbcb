"""What the CPU offers for reduced precision, read once per process.

Reduced-precision speed on a CPU depends on a handful of instruction-set extensions:
AMX tiles (``amx_tile`` with ``amx_bf16``) are matrix units that multiply bf16 tiles
several times faster than fp32 FMAs; ``avx512_bf16`` only adds bf16 dot-product
instructions to the vector units; ``avx512_fp16`` adds fp16 arithmetic. Without any of
them torch converts half-precision operands to fp32 in software, which is slower than
fp32 itself. The flags come from ``/proc/cpuinfo`` on Linux, else from torch's own
``cpuinfo`` probe, and every benchmark report records them.
"""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

__all__ = ["ISA_FLAGS", "CpuIsa", "cpu_isa"]

ISA_FLAGS: tuple[str, ...] = ("avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_fp16", "amx_fp16")
"""The ``/proc/cpuinfo`` flags that decide reduced-precision speed, in the order reports list them."""

# torch.cpu.get_capabilities() spells one of the flags differently from the Linux kernel.
_TORCH_NAMES = {"avx512f": "avx512_f"}


@dataclass(frozen=True)
class CpuIsa:
    """The CPU model and the flags of :data:`ISA_FLAGS` (``False`` where unknown).

    Attributes:
        model: the CPU's marketing name, as the OS reports it.
        machine: ``platform.machine()``, e.g. ``x86_64``.
        source: where the flags were read (``/proc/cpuinfo`` or ``torch.cpu``).
    """

    model: str
    machine: str
    source: str
    avx512f: bool = False
    avx512_bf16: bool = False
    amx_bf16: bool = False
    amx_tile: bool = False
    avx512_fp16: bool = False
    amx_fp16: bool = False

    @property
    def bf16_matrix_units(self) -> bool:
        """AMX with bf16 tiles: matrix units, where ``auto`` takes bf16.

        ``avx512_bf16`` alone (bf16 dot products in the vector units) does not count, although
        bf16 pays there too: on a 2-core AVX-512 EPYC bf16 autocast ran the default Restormer's
        256² forward in 0.57x the fp32 time, 0.007 dB from fp32's PSNR (docs/performance.md).
        ``auto`` is the recipes' default for training as well, so on such CPUs it keeps fp32,
        and ``bf16`` is the user's explicit choice.
        """
        return self.amx_bf16 and self.amx_tile

    @property
    def fp16_arithmetic(self) -> bool:
        """Native fp16 arithmetic (AVX512-FP16 or AMX-FP16); without it fp16 matmuls crawl."""
        return self.avx512_fp16 or self.amx_fp16

    def as_dict(self) -> dict[str, Any]:
        """The fields and the derived choices, for reports."""
        return {**asdict(self), "bf16_matrix_units": self.bf16_matrix_units, "fp16_arithmetic": self.fp16_arithmetic}


def _from_proc(text: str, machine: str) -> CpuIsa | None:
    model, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
    if not flags:
        return None
    return CpuIsa(model or "unknown", machine, "/proc/cpuinfo", **{f: f in flags for f in ISA_FLAGS})


def _from_torch(machine: str) -> CpuIsa:
    caps = torch.cpu.get_capabilities() if hasattr(torch.cpu, "get_capabilities") else {}
    model = str(caps.get("cpu_name") or platform.processor() or "unknown")
    return CpuIsa(model, machine, "torch.cpu", **{f: bool(caps.get(_TORCH_NAMES.get(f, f))) for f in ISA_FLAGS})


@lru_cache(maxsize=1)
def cpu_isa() -> CpuIsa:
    """The CPU's model and reduced-precision flags (cached: they do not change while running)."""
    machine = platform.machine()
    try:
        parsed = _from_proc(Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace"), machine)
    except OSError:
        parsed = None
    return parsed if parsed is not None else _from_torch(machine)
