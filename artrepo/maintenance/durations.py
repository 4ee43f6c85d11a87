"""Durations on the command line: `90s`, `30m`, `1h`, `7d`, `2w`, or plain seconds."""
from __future__ import annotations

import re

from artrepo.errors import UserError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw]?)\Z")


def parse_duration(text: str) -> float:
    """Seconds in `text`; a clear error for anything else."""
    m = _DURATION.match(str(text).strip().lower())
    if not m:
        raise UserError(f"invalid duration {text!r}: use a number with s, m, h, d or w (e.g. 1h, 30m, 7d)")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]
