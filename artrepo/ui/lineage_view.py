"""Lineage graphs for the dashboard: `artrepo.lineage.walk` over the in-memory catalog, drawn.

Upstream of a version: the step that produced it, that step's inputs, their
producers, and so on. Downstream: the steps that read it and what they
wrote (cached steps left out: they produced nothing new).
"""
from __future__ import annotations

from dataclasses import dataclass

from artrepo import lineage
from artrepo.ui.graph import Drawing, Node, layout


@dataclass(frozen=True)
class Lineage:
    drawing: Drawing
    truncated: bool
    nodes: list[Node]


def version_node(catalog, vid: str, state: str = "") -> Node:
    """A version as a node of a drawing (`state` "focus" marks the version a lineage is about)."""
    row = catalog.version(vid)
    if row is None:
        return Node(f"v:{vid}", "artifact", f"{vid[:12]} (not here)", f"/versions/{vid}", state,
                    "a version this repository does not hold")
    return Node(f"v:{vid}", "artifact", f"{row.name}:{row.version}", f"/versions/{vid}", state,
                f"{row.type} · {vid[:12]}")


def _node(catalog, node: dict, focus: str) -> Node:
    if node["kind"] == "artifact":
        return version_node(catalog, node["id"], "focus" if node["id"] == focus else "")
    run, name, state = node["run"], node["step"], node["state"]
    return Node(f"s:{node['id']}", "step", name, f"/runs/{run}#step-{name}", state,
                f"{node['pipeline']} · run {run[:12]} · {state}")


def drawing(catalog, version_id: str, direction: str = "both", limit: int = 150) -> Lineage:
    graph = lineage.walk(catalog, version_id, direction, limit)
    nodes = {key: _node(catalog, node, version_id) for key, node in graph.nodes.items()}
    ordered = sorted(nodes.values(), key=lambda n: n.id)
    return Lineage(layout(ordered, [(nodes[a].id, nodes[b].id) for a, b in graph.edges]), graph.truncated, ordered)


def lineage_page(dash, query: dict, version_id: str):
    row = dash.catalog.version_row(version_id)
    direction = query.get("direction") if query.get("direction") in ("upstream", "downstream") else "both"
    return dash.render("lineage.html", v=row, direction=direction, lineage=drawing(dash.catalog, row.id, direction))
