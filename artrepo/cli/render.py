"""Text and --json renderers. JSON field names are a documented contract: add, never rename.

Text from a repository or a remote (names, tags, metadata, records, error
messages) may hold terminal control sequences: a teammate's tag could set
the window title, clear the screen, plant an OSC 8 link or write the
clipboard (OSC 52). Every such text passes through `safe` before it reaches
a terminal, piped or not; JSON output escapes them by itself.
"""
from __future__ import annotations

import datetime as dt
import re

import click

# C0 and C1 controls, DEL, and the invisible marks that reorder or split lines (bidi, separators)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def safe(value, *, newlines: bool = False) -> str:
    """`str(value)` fit for a terminal: control characters shown as escapes (`\\x1b`, `\\u202e`).

    Newlines are escaped too (one field stays on one line) unless `newlines`.
    """
    return (_CONTROL_BUT_NEWLINE if newlines else _CONTROL).sub(_escape, str(value))


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def iso(ns_or_dt) -> str:
    if isinstance(ns_or_dt, int):
        ns_or_dt = dt.datetime.fromtimestamp(ns_or_dt / 1e9, tz=dt.timezone.utc)
    return ns_or_dt.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def when(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def human_size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def emit_json(doc) -> None:
    import json

    click.echo(json.dumps(doc, indent=2, sort_keys=False, default=str))


def version_summary(av) -> dict:
    """`log NAME --json` entries: {id, name, version, created, content_hash, tags, size}."""
    return {"id": av.id, "name": av.name, "version": av.version, "created": iso(av.record.created_ns),
            "content_hash": av.content_hash, "tags": av.tags, "size": av.size}


def version_detail(av) -> dict:
    """`show REF --json`: a version plus run_metadata and producer {run_id, step}."""
    rec = av.record
    doc = version_summary(av)
    doc.update({
        "type": av.type.name, "materializer": rec.materializer, "data_type": rec.data_type,
        "origin": rec.origin, "run_metadata": av.run_metadata,
        "producer": ({"run_id": rec.producer.get("run_id"), "step": rec.producer.get("step")}
                     if rec.producer else None),
        "visualizations": [{"name": n, "type": t} for n, t in av.visualizations],
    })
    return doc


def annotation_rows(repo, version_id: str) -> list[dict]:
    """A version's annotations in the order they apply, each with its origin (None: made here; else a remote)."""
    return [{"origin": origin, "created": iso(note.created_ns), "tags": list(note.tags),
             "removed_tags": list(note.removed_tags), "metadata": note.metadata}
            for note, origin in repo.annotated(version_id)]


def version_line(av) -> str:
    tags = f"  [{', '.join(safe(t) for t in av.tags)}]" if av.tags else ""
    return (f"{click.style(safe(av.id[:12]), fg='yellow')}  {safe(av.name)}:{safe(av.version)}  "
            f"{when(av.record.created_ns)}  {human_size(av.size)}  {av.type.name}{tags}")
