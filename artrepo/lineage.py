"""Lineage: the step runs and artifact versions upstream or downstream of a version.

Upstream follows each version's producer (the step run that wrote it) to
that step's inputs, and stops at versions saved outside a pipeline or
registered. Downstream follows the steps that consumed a version to their
outputs; a cached step run made nothing new, so downstream skips it. The walk
asks a source about versions and steps: `RecordedRuns` reads the repository
(`artrepo lineage`), the dashboard's catalog answers from memory.

    graph = walk(RecordedRuns(repo), repo.resolve("my_model").id, "upstream")
    graph.to_json()   # {"nodes": [{id, kind, label}], "edges": [{from, to}]}
"""
from __future__ import annotations

from collections import deque

from artrepo.errors import ArtrepoError
from artrepo.models import recorded_step


class LineageGraph:
    """Version nodes (id: version id) and step nodes (id: `run id:step`), and edges in the direction data went."""

    def __init__(self, root: str):
        self.root = root
        self.nodes: dict[str, dict] = {}
        self.edges: list[tuple[str, str]] = []
        self._edge_set: set[tuple[str, str]] = set()
        self.truncated = False  # the walk stopped at its node limit

    def add_edge(self, src: str, dst: str) -> None:
        if (src, dst) not in self._edge_set:  # a set beside the list: a walk of 150 nodes was quadratic here
            self._edge_set.add((src, dst))
            self.edges.append((src, dst))

    def with_runs(self) -> tuple[list[dict], list[tuple[str, str]]]:
        """Nodes and edges with a node for each run, linked to its steps."""
        runs = {}
        for node in self.nodes.values():
            if node["kind"] == "step" and node["run"] not in runs:
                runs[node["run"]] = {"id": node["run"], "kind": "run",
                                     "label": f"run {node['run'][:12]} ({node['pipeline']})"}
        steps = [(n["run"], n["id"]) for n in self.nodes.values() if n["kind"] == "step"]
        return [*self.nodes.values(), *runs.values()], [*self.edges, *steps]

    def to_json(self) -> dict:
        nodes, edges = self.with_runs()
        return {"root": self.root, "nodes": nodes, "edges": [{"from": a, "to": b} for a, b in edges]}


def walk(source, root: str, direction: str = "upstream", limit: int | None = None) -> LineageGraph:
    """The lineage of version `root`: `direction` is upstream, downstream or both; at most `limit` nodes."""
    graph = LineageGraph(root)
    graph.nodes[root] = {"id": root, "kind": "artifact", **source.describe_version(root)}
    queue = deque((root, way) for way in ("up", "down") if direction in (way + "stream", "both"))
    seen = set(queue)
    while queue:
        vid, way = queue.popleft()
        steps = source.producer_steps(vid) if way == "up" else source.consumer_steps(vid)
        for run_id, pipeline, step in steps:
            if way == "down" and step.cached:
                continue
            if limit is not None and len(graph.nodes) >= limit:
                graph.truncated = True
                break
            sid = _add_step(graph, run_id, pipeline, step)
            graph.add_edge(*((sid, vid) if way == "up" else (vid, sid)))
            for other in (step.inputs if way == "up" else step.outputs).values():
                if other not in graph.nodes:
                    graph.nodes[other] = {"id": other, "kind": "artifact", **source.describe_version(other)}
                graph.add_edge(*((other, sid) if way == "up" else (sid, other)))
                if (other, way) not in seen:
                    seen.add((other, way))
                    queue.append((other, way))
    return graph


def _add_step(graph: LineageGraph, run_id: str, pipeline: str, step) -> str:
    sid = f"{run_id}:{step.name}"
    if sid not in graph.nodes:
        state = "cached" if step.cached else step.status
        graph.nodes[sid] = {"id": sid, "kind": "step", "label": f"{step.name} ({state})", "run": run_id,
                            "pipeline": pipeline, "step": step.name, "state": state}
        if step.code:  # the git blob of the exact code (`artrepo show RUN --step NAME --code`)
            graph.nodes[sid]["code"] = step.code
    return sid


class RecordedRuns:
    """The lineage source over the repository's records (every run is read once, for downstream)."""

    def __init__(self, repo):
        self.repo = repo
        self._consumers: dict[str, list] | None = None

    def describe_version(self, version_id: str) -> dict:
        rec = self.repo.record(version_id)
        try:
            info = self.repo.by_id(version_id)
            label = f"{info.name}:{info.version}"
        except ArtrepoError:
            label = f"{rec.name}:{rec.version or '(deleted)'}"
        return {"label": label, "origin": rec.origin}

    def producer_steps(self, version_id: str) -> list:
        producer = self.repo.record(version_id).producer or {}
        found = recorded_step(self.repo, producer.get("run_id"), producer.get("step"))
        if found is None:
            return []  # its run was never recorded (killed) or is not in this repository
        commit, step = found
        return [(producer["run_id"], self.repo.read_run(commit).pipeline, step)]

    def consumer_steps(self, version_id: str) -> list:
        if self._consumers is None:
            self._consumers = {}
            for run_id, commit in self.repo.run_ids().items():
                run = self.repo.read_run(commit)
                for name in run.steps:
                    step = self.repo.read_step(commit, name)
                    for vid in (step.inputs.values() if step is not None else ()):
                        self._consumers.setdefault(vid, []).append((run_id, run.pipeline, step))
        return self._consumers.get(version_id, [])


def render_text(graph: LineageGraph, downstream_view: bool = False) -> list[str]:
    """An indented tree from the root; a node met again is marked `(see above)`."""
    children: dict[str, list[str]] = {}
    for a, b in graph.edges:
        parent, child = (a, b) if downstream_view else (b, a)
        children.setdefault(parent, []).append(child)
    lines: list[str] = []
    seen: set[str] = set()

    def describe(node_id: str) -> str:
        node = graph.nodes[node_id]
        if node["kind"] == "step":
            code = f"  [code: artrepo show {node['run'][:12]} --step {node['step']} --code]" if node.get("code") else ""
            return f"step {node['label']} in run {node['run'][:12]}{code}"
        origin = node.get("origin")
        note = "" if origin == "pipeline" else f"  [{'registered' if origin == 'registered' else 'saved outside a pipeline'}]"
        return f"{node['label']} ({node_id[:12]}){note}"

    def visit(node_id: str, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        again = node_id in seen
        lines.append(prefix + branch + describe(node_id) + ("  (see above)" if again else ""))
        if again:
            return
        seen.add(node_id)
        kids = children.get(node_id, [])
        inner = prefix + ("" if top else ("   " if last else "│  "))
        for i, kid in enumerate(kids):
            visit(kid, inner, i == len(kids) - 1, False)

    visit(graph.root, "", True, True)
    return lines


def render_dot(graph: LineageGraph) -> str:
    shapes = {"artifact": "box", "step": "ellipse", "run": "folder"}
    nodes, edges = graph.with_runs()
    kinds = {n["id"]: n["kind"] for n in nodes}
    out = ["digraph lineage {", "  rankdir=LR;"]
    for node in nodes:
        label = node["label"].replace('"', '\\"')
        out.append(f'  "{node["id"]}" [label="{label}", shape={shapes[node["kind"]]}];')
    for a, b in edges:
        style = " [style=dashed]" if kinds[a] == "run" else ""
        out.append(f'  "{a}" -> "{b}"{style};')
    out.append("}")
    return "\n".join(out)
