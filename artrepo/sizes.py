"""Byte counts as people read them: `human_size(1536)` is "1.5 KiB"."""
from __future__ import annotations


def human_size(n: float) -> str:
    """Whole bytes below 1 KiB, else one decimal in KiB, MiB, GiB or TiB."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.0f} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"
