"""`artrepo diff A B` (two versions or two runs) and `artrepo compare NAME` (a table across versions or runs)."""
from __future__ import annotations

import click

MARKS = {"same": " ", "changed": "~", "added": "+", "removed": "-"}
COLORS = {"changed": "yellow", "added": "green", "removed": "red"}
WIDTH = 42  # characters of one value in the side-by-side columns (a git commit id fits)


@click.command("diff")
@click.argument("a")
@click.argument("b")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--all", "show_all", is_flag=True, help="Also list unchanged statistics, steps and outputs.")
def diff_cmd(a: str, b: str, as_json: bool, show_all: bool) -> None:
    """What changed from A to B: two artifact versions, or two pipeline runs. Never loads the data."""
    from artrepo import diff
    from artrepo.cli import render
    from artrepo.client import active_repository

    repo = active_repository()
    try:
        first, second = diff.resolve_pair(repo, a, b)
    except diff.MixedReferencesError as exc:
        raise click.UsageError(str(exc)) from None
    runs = isinstance(first, diff.PipelineRun)
    doc = diff.diff_runs(repo, [first, second]) if runs else diff.diff_versions(repo, [first, second])
    if as_json:
        render.emit_json(diff.pairwise(doc))
        return
    for line in (run_lines(doc, show_all) if runs else version_lines(doc, show_all)):
        click.echo(line)


@click.command("compare")
@click.argument("name")
@click.option("--metadata", "-m", "keys", metavar="K1,K2", help="Metadata keys (and, for runs, parameters) to show.")
@click.option("--pipeline", is_flag=True, help="NAME is a pipeline (when an artifact has the same name).")
@click.option("-n", "--max-count", "limit", type=click.IntRange(min=1), help="At most N versions or runs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def compare_cmd(name: str, keys: str | None, pipeline: bool, limit: int | None, as_json: bool) -> None:
    """A table of metadata across the versions of artifact NAME (or the runs of pipeline NAME), newest first."""
    from artrepo.cli import render
    from artrepo.client import active_repository
    from artrepo.compare import compare

    table = compare(active_repository(), name, keys, limit, pipeline=pipeline)
    if as_json:
        render.emit_json(table.to_dict())
    else:
        click.echo(render.safe(str(table), newlines=True))


# -- text ---------------------------------------------------------------------------------
def value_text(value, key: str = "") -> str:
    """A value in a column: at most WIDTH characters, terminal controls escaped."""
    from artrepo.cli import render
    from artrepo.compare import cell_text

    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "-"}[value]
    if key in ("size", "diff bytes") and isinstance(value, int):
        return render.human_size(value)
    text = render.safe(cell_text(value))
    return text if len(text) <= WIDTH else text[:WIDTH - 1] + "…"


def _delta(r: dict) -> str:
    delta = (r.get("deltas") or [None, None])[1]
    if delta is None:
        return ""
    return f"  ({'+' if delta > 0 else ''}{delta:.6g})" if isinstance(delta, float) else f"  ({delta:+d})"


def row_lines(rows: list[dict], indent: str = "  ", changed_only: bool = False) -> list[str]:
    """`~ key  a  b  (delta)` lines; a missing side is blank."""
    from artrepo.cli.render import safe

    shown = [{**r, "key": safe(r["key"])} for r in rows if not changed_only or r["change"] != "same"]
    if not shown:
        return []
    width = max(len(r["key"]) for r in shown)
    values = [[value_text(v, r["key"]) if p else "" for v, p in zip(r["values"], r["present"])] for r in shown]
    left = max(len(v[0]) for v in values)
    out = []
    for r, (va, vb) in zip(shown, values):
        mark = click.style(MARKS[r["change"]], fg=COLORS.get(r["change"]))
        out.append(f"{indent}{mark} {r['key'].ljust(width)}  {va.ljust(left)}  {vb}{_delta(r)}".rstrip())
    return out


def _section(doc: dict, title: str) -> list[dict]:
    return next(s["rows"] for s in doc["sections"] if s["title"] == title)


def _heads(doc: dict, describe) -> list[str]:
    from artrepo.cli.render import safe

    a, b = doc["items"]
    return [click.style(f"--- a  {safe(describe(a))}", fg="red"),
            click.style(f"+++ b  {safe(describe(b))}", fg="green")]


def version_lines(doc: dict, show_all: bool) -> list[str]:
    from artrepo.cli import render

    lines = _heads(doc, lambda h: f"{h['label']}  ({h['id'][:12]}, {render.when(h['created_ns'])})")
    lines += ["", "version", *row_lines(_section(doc, "version"))]
    storage = doc["storage"][1]
    share = storage["shared_bytes"] / storage["bytes"] if storage["bytes"] else 1.0
    same = "identical data (same content hash); " if doc["same_content"] else ""
    lines.append(f"  {same}b shares {render.human_size(storage['shared_bytes'])} of its "
                 f"{render.human_size(storage['bytes'])} with a ({share:.0%}: {storage['shared_chunks']} of "
                 f"{storage['chunks']} chunks); {render.human_size(storage['new_bytes'])} not in a")
    tags = doc["tags"][1]
    tag_rows = _section(doc, "tags")[0]
    lines += ["", "tags", f"    a: {render.safe(', '.join(tag_rows['values'][0])) or '-'}",
              f"    b: {render.safe(', '.join(tag_rows['values'][1])) or '-'}"]
    if tags["added"] or tags["removed"]:
        lines.append("    " + render.safe("  ".join([*(f"+{t}" for t in tags["added"]),
                                                     *(f"-{t}" for t in tags["removed"])])))
    metadata = _section(doc, "metadata")
    lines += ["", "metadata", *(row_lines(metadata) or ["    (none)"])]
    if "data" in doc:
        lines += ["", _data_title(doc), *_schema_lines(doc["data"]["schema"][1])]
        rows = _section(doc, "data")
        changed = sum(r["change"] != "same" for r in rows)
        lines += row_lines(rows, changed_only=not show_all)
        if not show_all and changed < len(rows):
            lines.append(f"    ({len(rows) - changed} unchanged; --all lists them)")
    return lines


def _data_title(doc: dict) -> str:
    kinds = [k for k in doc["data"]["kinds"] if k]
    sampled = [f"{side}: {n:,}" for side, n in zip("ab", doc["data"]["sampled"]) if n]
    note = f"; statistics from an evenly spaced sample ({', '.join(sampled)} values or rows)" if sampled else ""
    return f"data ({' / '.join(dict.fromkeys(kinds))}{note})"


def _schema_lines(schema: dict) -> list[str]:
    parts = [*(f"+{c}" for c in schema["added"]), *(f"-{c}" for c in schema["removed"]),
             *(f"~{r['column']}: {r['from']} -> {r['to']}" for r in schema["retyped"])]
    from artrepo.cli.render import safe

    return [f"  columns: {safe('  '.join(parts))}"] if parts else []


def run_lines(doc: dict, show_all: bool) -> list[str]:
    from artrepo.cli import render

    lines = _heads(doc, lambda h: f"run {h['id'][:12]}  {h['pipeline']}  {h['status']}  "
                                  f"{render.when(h['created_ns'])}")
    for title in ("run", "parameters", "git", "environment"):
        lines += ["", title, *(row_lines(_section(doc, title)) or ["    (none)"])]
    if not all(doc["provenance"]):
        lines.append("    (a run served entirely from cache, or recorded before provenance, captured no git "
                     "state or packages)")
    packages = _section(doc, "packages")
    lines += ["", f"packages ({len(packages)} changed, {doc['packages_same']} the same)", *row_lines(packages)]
    steps = _section(doc, "steps")
    lines += ["", "steps", *row_lines(steps, changed_only=not show_all)]
    if not show_all and all(r["change"] == "same" for r in steps):
        lines.append("    (every step in the same state; --all lists them)")
    lines += row_lines(_section(doc, "step parameters"))
    lines += ["", *_code_lines(doc["code_diffs"][1])]
    outputs = _section(doc, "outputs")
    lines += ["", "outputs"]
    shown = [r for r in outputs if show_all or r["change"] != "same"]
    key_width = max((len(render.safe(r["key"])) for r in shown), default=0)
    label_width = max((len(render.safe(r["labels"][0] or "-")) for r in shown), default=0)
    for r in shown:
        mark = click.style(MARKS[r["change"]], fg=COLORS.get(r["change"]))
        a, b = (render.safe(label or "-") for label in r["labels"])
        lines.append(f"  {mark} {render.safe(r['key']).ljust(key_width)}  {a.ljust(label_width)}  {b}")
        meta = next((m for m in doc["output_metadata"] if m["output"] == r["key"]), None)
        lines += row_lines(meta["rows"], indent="      ") if meta else []
    if not show_all and all(r["change"] == "same" for r in outputs):
        lines.append("    (the same versions; --all lists them)")
    return lines


def _code_lines(diffs: list[dict]) -> list[str]:
    """Each changed step's unified diff; steps whose code changed alike share one."""
    from artrepo.cli.render import safe, safe_text
    from artrepo.diff import grouped_code_diffs

    out = [f"code ({len(diffs)} step{'s' if len(diffs) != 1 else ''} changed)"]
    for steps, hunks, note in grouped_code_diffs(diffs):
        out.append(f"  step{'s' if len(steps) > 1 else ''} {safe(', '.join(steps))}:")
        if hunks is None:
            out.append(f"    {note}")
            continue
        out += ["    " + click.style(safe_text(ln), fg=_DIFF_COLORS.get(ln[:1] if not ln.startswith("@@") else "@"))
                for ln in hunks.splitlines()]
    return out


_DIFF_COLORS = {"+": "green", "-": "red", "@": "cyan"}
