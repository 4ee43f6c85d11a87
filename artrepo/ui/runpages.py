"""Run pages: the list of pipeline runs and one run with its DAG of steps and artifacts."""
from __future__ import annotations

from artrepo.provenance import Provenance
from artrepo.ui.catalog import seconds
from artrepo.ui.comparepages import compare_url, run_of
from artrepo.ui.graph import Node, layout
from artrepo.ui.lineage_view import version_node
from artrepo.ui.pages import page_of

STATUSES = ("completed", "failed", "running")


def runs_page(dash, query: dict):
    catalog = dash.catalog
    pipeline = query.get("pipeline") or ""
    status = query.get("status") or ""
    return dash.render("runs.html", page=page_of(catalog.runs_of(pipeline, status), query.get("page")),
                       pipelines=catalog.pipelines(),
                       statuses=STATUSES, filters={"pipeline": pipeline, "status": status},
                       runs_total=catalog.total("runs"))


def run_page(dash, query: dict, run_id: str):
    run = run_of(dash, run_id)
    previous = dash.catalog.previous_run(run)
    return dash.render("run.html", run=run, graph=run_dag(dash.catalog, run), version=dash.catalog.version,
                       steps=[(s, seconds(s.start_ns, s.end_ns)) for s in run.steps],
                       provenance=Provenance.read(dash.repo, run.commit), previous=previous,
                       compare_previous=compare_url([previous.id, run.id]) if previous else None)


def run_dag(catalog, run):
    """Steps and the artifact versions between them; cached, failed, skipped steps marked."""
    nodes: dict[str, Node] = {}
    edges: list[tuple[str, str]] = []
    for step in run.steps:
        state = "cached" if step.cached else step.status
        sid = f"s:{step.name}"
        nodes[sid] = Node(sid, "step", step.name, f"#step-{step.name}", state, f"step {step.name} · {state}")
        for vid in step.inputs.values():
            edges.append((_artifact(nodes, catalog, vid), sid))
        for vid in step.outputs.values():
            edges.append((sid, _artifact(nodes, catalog, vid)))
    linked = {(a, b) for a, b in _step_pairs(edges)}
    for step in run.steps:
        for up in step.upstream:
            if f"s:{up}" in nodes and (f"s:{up}", f"s:{step.name}") not in linked:
                edges.append((f"s:{up}", f"s:{step.name}"))  # an ordering dependency with no data
    return layout(list(nodes.values()), list(dict.fromkeys(edges)))


def _artifact(nodes: dict, catalog, vid: str) -> str:
    key = f"v:{vid}"
    if key not in nodes:
        nodes[key] = version_node(catalog, vid)
    return key


def _step_pairs(edges: list[tuple[str, str]]):
    """(producer step, consumer step) pairs joined by an artifact."""
    made_by = {b: a for a, b in edges if a.startswith("s:")}
    for a, b in edges:
        if a.startswith("v:") and a in made_by:
            yield made_by[a], b
