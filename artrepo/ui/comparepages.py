"""The compare page (two or more versions, or two or more runs, side by side: what `artrepo diff` says),
and the pages of a step's exact code and a run's uncommitted changes.

    /compare?id=<version id>&id=<version id>     /compare?id=<run id>&id=<run id>&only=changed
    /runs/<run id>/code/<step>                   /runs/<run id>/git-diff
"""
from __future__ import annotations

from urllib.parse import urlencode

from artrepo import diff
from artrepo.errors import NotFoundError, UserError
from artrepo.models import ArtifactVersion, PipelineRun
from artrepo.provenance import Provenance
from artrepo.repository import VersionInfo

MAX_ITEMS = 8


def compare_url(ids: list[str], **extra) -> str:
    return "/compare?" + urlencode([("id", i) for i in ids] + [(k, v) for k, v in extra.items() if v])


def _items(dash, ids: list[str]) -> list:
    """Versions or runs for the ids (each a version id or a run id); all of one kind."""
    catalog, repo = dash.catalog, dash.repo
    items = []
    for text in ids:
        row = catalog.version(text)
        if row is not None:  # the catalog knows its label: no search for it among the name's versions
            items.append(ArtifactVersion(repo, VersionInfo(text, row.name, row.version, repo.record(text))))
            continue
        run = catalog.find_run(text)
        if run is None:
            raise NotFoundError(f"no artifact version or pipeline run {text[:40]!r}")
        items.append(PipelineRun(repo, run.commit, repo.read_run(run.commit)))
        for step in run.steps:  # the index knows the labels of the outputs: no search among a name's versions
            for vid in step.outputs.values():
                row = catalog.version(vid)
                if row is not None:
                    repo.hint_label(vid, row.version)
    if len({isinstance(i, PipelineRun) for i in items}) > 1:
        raise UserError("select versions or runs, not both: a version and a run have nothing to compare")
    return items


def compare_page(dash, query):
    ids = list(dict.fromkeys(i for i in query.getlist("id") if i))[:MAX_ITEMS]
    only_changed = query.get("only") == "changed"
    if len(ids) < 2:
        return dash.render("compare.html", doc=None, only_changed=only_changed)
    try:
        items = _items(dash, ids)
    except UserError as exc:
        if isinstance(exc, NotFoundError):
            raise
        return dash.render("error.html", status=400, title="Cannot compare", message=str(exc))
    runs = isinstance(items[0], PipelineRun)
    # the oldest first: it is the baseline the others are measured against (as list pages tick them, newest first)
    items.sort(key=lambda i: i.record.start_ns if runs else i.record.created_ns)
    doc = diff.diff_runs(dash.repo, items) if runs else diff.diff_versions(dash.repo, items)
    if only_changed:
        doc["sections"] = [{**s, "rows": [r for r in s["rows"] if r["change"] != "same"]} for s in doc["sections"]]
    return dash.render("compare.html", doc=doc, runs=runs, only_changed=only_changed,
                       code_groups=[diff.grouped_code_diffs(d) for d in doc.get("code_diffs", [])],
                       toggle=compare_url(ids, only=None if only_changed else "changed"))


def run_of(dash, run_id: str):
    run = dash.catalog.find_run(run_id)
    if run is None:
        raise NotFoundError(f"no pipeline run {run_id[:40]!r}")
    return run


def step_code_page(dash, query, run_id: str, step_name: str):
    run = run_of(dash, run_id)
    step = next((s for s in run.steps if s.name == step_name), None)
    if step is None:
        raise NotFoundError(f"run {run.id[:12]} has no step {step_name!r}")
    code = dash.repo.read_code(step.code) if step.code else None
    return dash.render("code.html", run=run, step=step, code=code, previous=dash.catalog.previous_run(run))


def git_diff_page(dash, query, run_id: str):
    run = run_of(dash, run_id)
    prov = Provenance.read(dash.repo, run.commit)
    return dash.render("gitdiff.html", run=run, prov=prov)

