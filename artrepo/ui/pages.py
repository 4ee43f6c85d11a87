"""Artifact pages: the list of artifacts, one artifact's versions, one version."""
from __future__ import annotations

from artrepo.errors import NotFoundError
from artrepo.listing import Page, page_count
from artrepo.provenance import Provenance
from artrepo.ui import content, lineage_view
from artrepo.ui.catalog import ARTIFACT_ORDERS, VERSION_ORDERS
from artrepo.ui.comparepages import compare_url

PER_PAGE = 50


def page_of(rows, requested: str | None) -> Page:
    """Page `requested` of `rows` (`len` and slicing), PER_PAGE a page; a number out of range means the nearest."""
    return Page.of(rows, min(max(_int(requested, 1), 1), page_count(len(rows), PER_PAGE)), PER_PAGE)


def _int(text: str | None, default: int) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


def _order(query: dict, sorts, default: str) -> tuple[str, str]:
    """(sort key, "asc" or "desc") that the query asks for."""
    return query.get("sort") if query.get("sort") in sorts else default, "asc" if query.get("order") == "asc" else "desc"


def artifacts_page(dash, query: dict):
    """All artifacts: search by name, filter by tag and type, sort by date, size, name."""
    catalog = dash.catalog
    text = (query.get("q") or "").strip().lower()
    tag, kind = query.get("tag") or "", query.get("type") or ""
    sort, order = _order(query, ARTIFACT_ORDERS, "created")
    filters = {k: query.get(k) for k in ("q", "tag", "type", "sort", "order")}
    return dash.render("artifacts.html", page=page_of(catalog.artifacts(text, tag, kind, sort, order), query.get("page")),
                       filters=filters, sort=sort, order=order, tags=catalog.tag_counts(40), types=catalog.types(),
                       versions_total=catalog.total("versions"), artifacts_total=catalog.total("names"))


def artifact_page(dash, query: dict, name: str):
    artifact = dash.catalog.artifact(name)
    if artifact is None:
        raise NotFoundError(f"no artifact named {name!r}")
    sort, order = _order(query, VERSION_ORDERS, "created")
    rows = dash.catalog.versions_of(name, query.get("tag") or "", sort, order)
    aliases = _aliases_by_version(dash.repo, name)
    filters = {k: query.get(k) for k in ("tag", "sort", "order", "chart")}
    return dash.render("artifact.html", artifact=artifact, page=page_of(rows, query.get("page")),
                       aliases=aliases, filters=filters, sort=sort, order=order,
                       **_chart(dash, artifact, query.get("chart")))


def _chart(dash, artifact, wanted: str | None) -> dict:
    """The chart of metadata key `wanted` (else the first numeric key the user logged) and the keys offered."""
    from artrepo.diff import numeric_keys
    from artrepo.ui.chart import MAX_POINTS, metadata_chart

    def newest():
        versions = dash.catalog.versions_of(artifact.name)[:MAX_POINTS]
        metadata = [dash.catalog.metadata(v.id) for v in versions]
        return versions, metadata, numeric_keys(metadata)

    versions, metadata, keys = dash.catalog.derived(("metadata", artifact.name), newest)
    key = wanted if wanted in keys else (keys[0] if keys else None)
    chart = dash.catalog.derived(("chart", artifact.name, key),
                                 lambda: metadata_chart(versions, metadata, key, artifact.count) if key else None)
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
        producer = {"run": dash.catalog.run(row.producer.get("run_id")), "step": found[1] if found else None,
                    "run_id": row.producer.get("run_id"), "step_name": row.producer.get("step")}
    consumers, consumers_total = dash.catalog.consumers(row.id, 50)
    previous = dash.catalog.previous_version(row)
    return dash.render(
        "version.html", v=row, record=record, metadata=dash.catalog.metadata(row.id),
        provenance=Provenance.read(dash.repo, row.id),
        compare_previous=compare_url([previous.id, row.id]) if previous else None,
        previous=previous,
        aliases=_aliases_by_version(dash.repo, row.name).get(row.id, []),
        trusted=dash.repo.trusts(row.id), producer=producer,
        consumers=[(dash.catalog.run(r), s) for r, s in consumers], consumers_total=consumers_total, files=manifest.files[:200], files_total=len(manifest.files),
        visualizations=content.inline_visualizations(dash, row, manifest),
        lineage=lineage_view.drawing(dash.catalog, row.id, "both", limit=40))


def storage_page(dash, query: dict):
    from artrepo.ui import storage

    report = storage.report(dash)
    return dash.render("storage.html", report=report, page=page_of(report.artifacts, query.get("page")))
