"""Lay out a DAG of steps and artifacts with grandalf (Sugiyama), for an inline SVG.

The server draws the graph itself, so a page shows its DAG without
JavaScript; the script only adds highlighting. Layouts are cached by the
graph they were computed for (a graph's layout never changes).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

NODE_HEIGHT = 30
CHAR_WIDTH = 7.2
MAX_LABEL = 34
GAP = 40
MARGIN = 12


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    kind: str  # "step" or "artifact"
    label: str
    href: str
    state: str = ""  # completed, cached, failed, skipped; "focus" for the version a lineage is about
    title: str = ""


@dataclass(frozen=True, slots=True)
class Placed:
    node: Node
    x: float  # left
    y: float  # top
    width: float
    height: float

    @property
    def text(self) -> str:
        label = self.node.label
        return label if len(label) <= MAX_LABEL else label[:MAX_LABEL - 1] + "…"


@dataclass(frozen=True, slots=True)
class Drawing:
    width: float
    height: float
    nodes: tuple[Placed, ...]
    edges: tuple[tuple[str, str, str], ...]  # (SVG path data, from node id, to node id)


class _Route:
    def __init__(self):
        self.points = []

    def setpath(self, points):
        self.points = list(points)


def node_width(label: str) -> float:
    return 20 + CHAR_WIDTH * min(len(label), MAX_LABEL)


def layout(nodes: list[Node], edges: list[tuple[str, str]]) -> Drawing:
    """Positions for `nodes` and paths for `edges` (pairs of node ids), top to bottom."""
    return _compute(tuple(nodes), tuple(edges))


@lru_cache(maxsize=256)
def _compute(nodes: tuple[Node, ...], edges: tuple[tuple[str, str], ...]) -> Drawing:
    from grandalf.graphs import Edge, Graph, Vertex
    from grandalf.layouts import SugiyamaLayout, VertexViewer

    vertices = {}
    for n in nodes:
        v = vertices[n.id] = Vertex(n)
        v.view = VertexViewer(node_width(n.label), NODE_HEIGHT)
    links = []
    for a, b in edges:
        if a in vertices and b in vertices and a != b:
            e = Edge(vertices[a], vertices[b])
            e.view = _Route()
            links.append(e)
    graph = Graph(list(vertices.values()), links)
    placed, paths, offset, height = [], [], 0.0, 0.0
    for component in graph.C:
        sugiyama = SugiyamaLayout(component)
        sugiyama.init_all()
        sugiyama.draw(2)
        boxes = list(component.sV)
        bends = [p for e in component.sE for p in e.view.points]
        left = min([v.view.xy[0] - v.view.w / 2 for v in boxes] + [x for x, _ in bends])
        top = min(v.view.xy[1] - v.view.h / 2 for v in boxes)
        right = max([v.view.xy[0] + v.view.w / 2 for v in boxes] + [x for x, _ in bends])
        dx, dy = offset + MARGIN - left, MARGIN - top
        for v in boxes:
            x, y = v.view.xy
            placed.append(Placed(v.data, x - v.view.w / 2 + dx, y - v.view.h / 2 + dy, v.view.w, v.view.h))
            height = max(height, y + v.view.h / 2 + dy)
        for e in component.sE:
            paths.append((_path(e, dx, dy), e.v[0].data.id, e.v[1].data.id))
        offset += right - left + GAP
    return Drawing(max(offset - GAP + 2 * MARGIN, 0), height + MARGIN, tuple(placed), tuple(paths))


def _path(edge, dx: float, dy: float) -> str:
    """From the bottom of the source box to the top of the target box."""
    src, dst = edge.v[0].view, edge.v[1].view
    middle = edge.view.points[1:-1] if len(edge.view.points) > 2 else []
    points = [(src.xy[0], src.xy[1] + src.h / 2), *middle, (dst.xy[0], dst.xy[1] - dst.h / 2)]
    return "M " + " L ".join(f"{x + dx:.1f} {y + dy:.1f}" for x, y in points)
