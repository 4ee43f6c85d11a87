"""Artifact pages: the list of artifacts, one artifact's versions, one version."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from artrepo.errors import NotFoundError
from artrepo.provenance import Provenance
from artrepo.ui import content, lineage_view
from artrepo.ui.comparepages import compare_url

PER_PAGE = 50
ARTIFACT_SORTS = {
    "created": lambda a: a.latest.created_ns,
    "size": lambda a: a.latest.size,
    "name": lambda a: a.name.lower(),
    "versions": lambda a: len(a.versions),
}
VERSION_SORTS = {"created": lambda v: v.created_ns, "size": lambda v: v.size}


@dataclass(frozen=True)
class Page:
    """One page of a list: its items, its number (from 1) and how many there are."""

    items: list
    number: int
    count: int
    total: int

    @classmethod
    def of(cls, rows: list, requested: str | None, per_page: int = PER_PAGE) -> "Page":
        count = max(1, -(-len(rows) // per_page))
        number = min(max(_int(requested, 1), 1), count)
        start = (number - 1) * per_page
        return cls(rows[start:start + per_page], number, count, len(rows))


def _int(text: str | None, default: int) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


def _order(query: dict, sorts: dict, default: str) -> tuple[str, str]:
    """(sort key, "asc" or "desc") that the query asks for."""
    return query.get("sort") if query.get("sort") in sorts else default, "asc" if query.get("order") == "asc" else "desc"


def _sorted(catalog, what, rows, sorts: dict, sort: str, order: str) -> list:
    """`rows()` sorted, kept by the catalog (under `what`) until it changes."""
    return catalog.derived((what, sort, order), lambda: sorted(rows(), key=sorts[sort], reverse=order == "desc"))


def artifacts_page(dash, query: dict):
    """All artifacts: search by name, filter by tag and type, sort by date, size, name."""
    catalog = dash.catalog
    text = (query.get("q") or "").strip().lower()
    tag, kind = query.get("tag") or "", query.get("type") or ""
    sort, order = _order(query, ARTIFACT_SORTS, "created")
    rows = _sorted(catalog, "artifacts", lambda: catalog.artifacts.values(), ARTIFACT_SORTS, sort, order)
    if text or tag or kind:
        rows = [a for a in rows if (not text or text in a.name.lower()) and (not tag or tag in a.tags)
                and (not kind or a.latest.type == kind)]
    tags = catalog.derived("tags", lambda: Counter(t for a in catalog.artifacts.values() for t in a.tags))
    filters = {k: query.get(k) for k in ("q", "tag", "type", "sort", "order")}
    return dash.render("artifacts.html", page=Page.of(rows, query.get("page")), filters=filters, sort=sort,
                       order=order, tags=[t for t, _ in tags.most_common(40)],
                       types=catalog.derived("types", lambda: sorted({a.latest.type for a in catalog.artifacts.values()})),
                       versions_total=len(catalog.versions), artifacts_total=len(catalog.artifacts))


def artifact_page(dash, query: dict, name: str):
    artifact = dash.catalog.artifacts.get(name)
    if artifact is None:
        raise NotFoundError(f"no artifact named {name!r}")
    tag = query.get("tag") or ""
    sort, order = _order(query, VERSION_SORTS, "created")
    rows = _sorted(dash.catalog, ("versions", name), lambda: artifact.versions, VERSION_SORTS, sort, order)
    if tag:
        rows = [v for v in rows if tag in v.tags]
    aliases = _aliases_by_version(dash.repo, name)
    filters = {k: query.get(k) for k in ("tag", "sort", "order", "chart")}
    return dash.render("artifact.html", artifact=artifact, page=Page.of(rows, query.get("page")),
                       aliases=aliases, filters=filters, sort=sort, order=order,
                       **_chart(dash, artifact, query.get("chart")))


def _chart(dash, artifact, wanted: str | None) -> dict:
    """The chart of metadata key `wanted` (else the first numeric key the user logged) and the keys offered."""
    from artrepo.ui.chart import MAX_POINTS, metadata_chart, numeric_keys

    def newest():
        metadata = [dash.catalog.metadata(v.id) for v in artifact.versions[:MAX_POINTS]]
        return metadata, numeric_keys(metadata)

    metadata, keys = dash.catalog.derived(("metadata", artifact.name), newest)
    key = wanted if wanted in keys else (keys[0] if keys else None)
    chart = dash.catalog.derived(("chart", artifact.name, key),
                                 lambda: metadata_chart(artifact.versions, metadata, key) if key else None)
    return {"chart": chart, "chart_keys": keys}


def _aliases_by_version(repo, name: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for alias, oid in sorted(repo.aliases(name).items()):
        out.setdefault(oid, []).append(alias)
    return out


def version_page(dash, query: dict, version_id: str):
    row = dash.catalog.version_row(version_id)
    record = dash.repo.record(row.id)
    manifest = dash.repo.manifest(row.id)
    producer = None
    if row.producer:
        found = dash.catalog.run_step(row.producer.get("run_id"), row.producer.get("step"))
        producer = {"run": dash.catalog.runs_by_id.get(row.producer.get("run_id")), "step": found[1] if found else None,
                    "run_id": row.producer.get("run_id"),
                    "step_name": row.producer.get("step"), "output": row.producer.get("output")}
    consumers = [(dash.catalog.runs_by_id.get(r), s) for r, s in dash.catalog.consumers.get(row.id, [])]
    previous = dash.catalog.previous_version(row)
    return dash.render(
        "version.html", v=row, record=record, metadata=dash.catalog.metadata(row.id),
        provenance=Provenance.read(dash.repo, row.id),
        compare_previous=compare_url([previous.id, row.id]) if previous else None,
        previous=previous,
        aliases=_aliases_by_version(dash.repo, row.name).get(row.id, []),
        trusted=dash.repo.trusts(row.id), producer=producer, consumers=consumers[:50],
        consumers_total=len(consumers), files=manifest.files[:200], files_total=len(manifest.files),
        visualizations=content.inline_visualizations(dash, row, manifest),
        lineage=lineage_view.drawing(dash.catalog, row.id, "both", limit=40))


def storage_page(dash, query: dict):
    from artrepo.ui import storage

    report = storage.report(dash)
    rows = sorted(report.usage.get("artifacts", []), key=lambda a: a["logical_bytes"], reverse=True)
    return dash.render("storage.html", report=report, page=Page.of(rows, query.get("page")))
