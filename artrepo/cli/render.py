"""Text and --json renderers. JSON field names are a documented contract: add, never rename.

Text from a repository or a remote (names, tags, metadata, records, error
messages) may hold terminal control sequences: a teammate's tag could set
the window title, clear the screen, plant an OSC 8 link or write the
clipboard (OSC 52). Every such text passes through `safe` before it reaches
a terminal, piped or not; JSON output escapes them by itself.
"""
from __future__ import annotations

import re

from artrepo.sizes import human_size

# C0 and C1 controls, DEL, and the invisible marks that reorder or split lines (bidi, separators); every
# one is a character `str.isprintable` refuses, so printable text needs no search. Compiled on first use.
_MARKS = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_CONTROLS = {"all": "\x00-\x1f", "newline": "\x00-\x09\x0b-\x1f", "layout": "\x00-\x08\x0b-\x1f"}
_compiled: dict[str, re.Pattern] = {}


def _escaping(kind: str, text: str) -> str:
    if text.isprintable():
        return text
    pattern = _compiled.get(kind)
    if pattern is None:
        pattern = _compiled[kind] = re.compile(f"[{_CONTROLS[kind]}{_MARKS}]")
    return pattern.sub(_escape, text)


def safe(value, *, newlines: bool = False) -> str:
    """`str(value)` fit for a terminal: control characters shown as escapes (`\\x1b`, `\\u202e`).

    Newlines are escaped too (one field stays on one line) unless `newlines`.
    """
    return _escaping("newline" if newlines else "all", str(value))


def safe_text(text: str) -> str:
    """A block of text (code, a diff) fit for a terminal: newlines and tabs kept, other controls escaped."""
    return _escaping("layout", text)


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def iso(ns: int) -> str:
    import datetime as dt  # here: a cached `artrepo run` prints no date

    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def when(ns: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def emit_json(doc) -> None:
    import json

    import click

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
    doc["provenance"] = provenance_json(av.provenance)
    return doc


def annotation_rows(repo, version_id: str) -> list[dict]:
    """A version's annotations in the order they apply, each with its origin (None: made here; else a remote)."""
    return [{"origin": origin, "created": iso(note.created_ns), "tags": list(note.tags),
             "removed_tags": list(note.removed_tags), "metadata": note.metadata}
            for note, origin in repo.annotated(version_id)]


def version_line(av) -> str:
    import click

    tags = f"  [{', '.join(safe(t) for t in av.tags)}]" if av.tags else ""
    return (f"{click.style(safe(av.id[:12]), fg='yellow')}  {safe(av.name)}:{safe(av.version)}  "
            f"{when(av.record.created_ns)}  {human_size(av.size)}  {av.type.name}{tags}")


def provenance_json(prov) -> dict | None:
    """`provenance` in `show --json`: {executed, source, git, environment, user, host}."""
    if prov is None:
        return None
    r = prov.record
    return {"executed": r.executed, "source": r.source, "git": dict(r.git_state), "environment": dict(r.environment),
            "user": r.user, "host": r.host}


def provenance_lines(prov, width: int = 14) -> list[str]:
    """How the run or version was made: git state, environment, who and where (labels `width` wide)."""
    git, env = prov.git_state, prov.environment
    if not prov.executed:
        where = "not captured (every step was cached: the runs they came from hold it)"
    elif git.get("state") != "git":
        where = f"no git ({git.get('reason', 'unknown')})"
    else:
        where = f"{git.get('commit') or '(no commit yet)'}" + (f" on {git['branch']}" if git.get("branch") else "")
        if git.get("dirty"):
            cut = f", cut: {human_size(git['diff_stored'])} stored" if git.get("diff_cut") else ""
            where += (f", dirty: {git.get('files_changed', 0)} files, +{git.get('lines_added', 0)} "
                      f"-{git.get('lines_removed', 0)} ({human_size(git.get('diff_bytes', 0))} diff{cut}; "
                      "--git-diff shows it)")
            if git.get("binary_files"):
                where += f"; binary: {', '.join(git['binary_files'][:5])}"
    lines = [("Git:", where)]
    runtime = f"Python {env.get('python')} ({env.get('implementation')}), {env.get('platform')}, " \
              f"artrepo {env.get('artrepo')}"
    packages = env.get("packages") or {}
    if packages:
        runtime += f", {len(packages)} packages"
    lines.append(("Runtime:", runtime))
    for address, theirs in sorted((env.get("workers") or {}).items()):
        lines.append(("Worker:", f"{address}: Python {theirs.get('python')}, {theirs.get('platform')}, artrepo "
                                 f"{theirs.get('artrepo')}, {len(theirs.get('packages') or {})} packages"))
    if prov.user or prov.host:
        lines.append(("By:", f"{prov.user or '?'}@{prov.host or '?'}"))
    if prov.source:
        lines.append(("Source:", prov.source))
    return [label.ljust(width) + safe(text) for label, text in lines]
