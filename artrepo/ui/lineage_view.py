"""Lineage graphs for the dashboard, walked over the in-memory catalog.

Upstream of a version: the step that produced it, that step's inputs, their
producers, and so on. Downstream: the steps that read it and what they
wrote. A cached step produced nothing new (its outputs belong to the run it
was cached from, which is walked instead), so it is left out downstream.
The shape matches `artrepo lineage --format json`: version and step nodes.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from artrepo.ui.graph import Drawing, Node, layout


@dataclass(frozen=True)
class Lineage:
    drawing: Drawing
    truncated: bool
    nodes: list[Node]


def _version_node(catalog, vid: str, focus: str) -> Node:
    row = catalog.versions.get(vid)
    label = f"{row.name}:{row.version}" if row else f"{vid[:12]} (not here)"
    return Node(f"v:{vid}", "artifact", label, f"/versions/{vid}", "focus" if vid == focus else "",
                f"{row.type} · {vid[:12]}" if row else "a version this repository does not hold")


def _step_node(run, step) -> Node:
    state = "cached" if step.cached else step.status
    return Node(f"s:{run.id}:{step.name}", "step", step.name, f"/runs/{run.id}#step-{step.name}", state,
                f"{run.pipeline} · run {run.id[:12]} · {state}")


def _step(catalog, run_id: str, name: str):
    run = catalog.runs_by_id.get(run_id)
    step = next((s for s in run.steps if s.name == name), None) if run else None
    return run, step


def walk(catalog, version_id: str, direction: str, limit: int):
    """(nodes by id, edges, truncated) of the lineage of one version."""
    nodes = {f"v:{version_id}": _version_node(catalog, version_id, version_id)}
    edges: list[tuple[str, str]] = []
    queue = deque([(version_id, d) for d in ("up", "down") if direction in (d + "stream", "both")])
    seen = set(queue)
    truncated = False
    while queue:
        vid, way = queue.popleft()
        for run, step in _neighbours(catalog, vid, way):
            if len(nodes) >= limit:
                truncated = True
                break
            snode = _step_node(run, step)
            nodes.setdefault(snode.id, snode)
            edges.append((snode.id, f"v:{vid}") if way == "up" else (f"v:{vid}", snode.id))
            for other in (step.inputs if way == "up" else step.outputs).values():
                vnode = nodes.setdefault(f"v:{other}", _version_node(catalog, other, version_id))
                edges.append((vnode.id, snode.id) if way == "up" else (snode.id, vnode.id))
                if (other, way) not in seen:
                    seen.add((other, way))
                    queue.append((other, way))
    return nodes, list(dict.fromkeys(edges)), truncated


def _neighbours(catalog, vid: str, way: str):
    if way == "up":
        row = catalog.versions.get(vid)
        if row is not None and row.producer:
            run, step = _step(catalog, row.producer.get("run_id"), row.producer.get("step"))
            if step is not None:
                yield run, step
        return
    for run_id, name in catalog.consumers.get(vid, ()):
        run, step = _step(catalog, run_id, name)
        if step is not None and not step.cached:
            yield run, step


def drawing(catalog, version_id: str, direction: str = "both", limit: int = 150) -> Lineage:
    nodes, edges, truncated = walk(catalog, version_id, direction, limit)
    ordered = sorted(nodes.values(), key=lambda n: n.id)
    return Lineage(layout(ordered, edges), truncated, ordered)


def lineage_page(dash, query: dict, version_id: str):
    from artrepo.ui.pages import version_row

    row = version_row(dash, version_id)
    direction = query.get("direction") if query.get("direction") in ("upstream", "downstream") else "both"
    return dash.render("lineage.html", v=row, direction=direction, lineage=drawing(dash.catalog, row.id, direction))
