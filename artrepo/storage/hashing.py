"""The repository's one cryptographic hash: BLAKE3-256."""
from __future__ import annotations

import blake3


def digest(data) -> bytes:
    """BLAKE3 of a bytes-like object, as 32 raw bytes."""
    return blake3.blake3(data).digest()

