"""Jinja filters the templates use: dates, sizes, durations, ids, URL parts."""
from __future__ import annotations

import datetime as dt
import json
from urllib.parse import quote, urlencode

from artrepo.sizes import human_size


def when(ns: int | None) -> str:
    if not ns:
        return "—"
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def size(n: int | None) -> str:
    return "—" if n is None else human_size(n)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}h {minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m {secs:02d}s"


def value(v) -> str:
    """A metadata value as text: strings as they are, the rest as compact JSON."""
    if isinstance(v, str):
        return v
    return json.dumps(v, sort_keys=True, default=str, ensure_ascii=False)


def part(text: str) -> str:
    """One URL path component (names may hold '::' and '.')."""
    return quote(str(text), safe="")


def query(base: dict, **changes) -> str:
    """`?a=1&b=2` from the current filters with some changed (None or '' drops a key)."""
    merged = {**base, **changes}
    kept = {k: v for k, v in merged.items() if v not in (None, "")}
    return "?" + urlencode(kept) if kept else "?"


def install(env) -> None:
    env.filters.update(when=when, size=size, duration=duration, value=value, part=part,
                       short=lambda s: (s or "")[:12])
    env.globals.update(query=query)
