"""Lineage: the runs, steps and artifact versions upstream or downstream of a version.

Upstream follows each version's producer (the step run that wrote it) to
that step's inputs, and stops at versions saved outside a pipeline or
registered. Downstream follows the steps that consumed a version (every
recorded run is read once) to their outputs. Cached step runs made nothing
new, so downstream skips them.

    graph = upstream(repo, repo.resolve("my_model"))
    graph.to_json()   # {"nodes": [{id, kind, label}], "edges": [{from, to}]}
"""
from __future__ import annotations

from dataclasses import dataclass, field

from artrepo.errors import ArtrepoError
from artrepo.gitdb import layout


@dataclass
class LineageGraph:
    root: str
    nodes: dict[str, dict] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)

    def add_node(self, node_id: str, kind: str, label: str, **extra) -> bool:
        if node_id in self.nodes:
            return False
        self.nodes[node_id] = {"id": node_id, "kind": kind, "label": label, **extra}
        return True

    def add_edge(self, src: str, dst: str) -> None:
        if (src, dst) not in self.edges:
            self.edges.append((src, dst))

    def to_json(self) -> dict:
        return {"root": self.root, "nodes": list(self.nodes.values()),
                "edges": [{"from": a, "to": b} for a, b in self.edges]}


def _version_label(repo, version_id: str) -> str:
    try:
        info = repo.by_id(version_id)
        return f"{info.name}:{info.version}"
    except ArtrepoError:
        rec = repo.record(version_id)
        return f"{rec.name}:{rec.version or '(deleted)'}"


def _add_version(graph: LineageGraph, repo, version_id: str) -> bool:
    rec = repo.record(version_id)
    return graph.add_node(version_id, "artifact", _version_label(repo, version_id), origin=rec.origin)


def _add_step(graph: LineageGraph, run_id: str, pipeline: str, step) -> str:
    step_id = f"{run_id}:{step.name}"
    state = "cached" if step.cached else step.status
    graph.add_node(step_id, "step", f"{step.name} ({state})", run=run_id)
    graph.add_node(run_id, "run", f"run {run_id[:12]} ({pipeline})")
    graph.add_edge(run_id, step_id)
    return step_id


def upstream(repo, info) -> LineageGraph:
    """Everything `info` was made from."""
    graph = LineageGraph(info.id)
    todo = [info.id]
    _add_version(graph, repo, info.id)
    while todo:
        vid = todo.pop()
        producer = repo.record(vid).producer
        if not producer:
            continue
        commit = repo.refs.get(layout.run_ref(producer.get('run_id')))
        step = repo.read_step(commit, producer.get("step", "")) if commit else None
        if step is None:
            continue  # its run was never recorded (killed) or is not in this repository
        pipeline = repo.read_run(commit).pipeline
        step_id = _add_step(graph, producer["run_id"], pipeline, step)
        graph.add_edge(step_id, vid)
        for input_id in step.inputs.values():
            if _add_version(graph, repo, input_id):
                todo.append(input_id)
            graph.add_edge(input_id, step_id)
    return graph


def _consumers(repo) -> dict[str, list]:
    """{input version id: [(run id, pipeline, step record)]} over every recorded run."""
    out: dict[str, list] = {}
    for run_id, commit in repo.run_ids().items():
        run = repo.read_run(commit)
        for name in run.steps:
            step = repo.read_step(commit, name)
            if step is None or step.cached:
                continue
            for vid in step.inputs.values():
                out.setdefault(vid, []).append((run_id, run.pipeline, step))
    return out


def downstream(repo, info) -> LineageGraph:
    """Everything made from `info`."""
    graph = LineageGraph(info.id)
    consumers = _consumers(repo)
    _add_version(graph, repo, info.id)
    todo = [info.id]
    while todo:
        vid = todo.pop()
        for run_id, pipeline, step in consumers.get(vid, []):
            step_id = _add_step(graph, run_id, pipeline, step)
            graph.add_edge(vid, step_id)
            for out_id in step.outputs.values():
                if _add_version(graph, repo, out_id):
                    todo.append(out_id)
                graph.add_edge(step_id, out_id)
    return graph


def render_text(graph: LineageGraph, downstream_view: bool = False) -> list[str]:
    """An indented tree from the root; a node met again is marked `(see above)`."""
    children: dict[str, list[str]] = {}
    for a, b in graph.edges:
        if graph.nodes[a]["kind"] == "run":
            continue
        parent, child = (a, b) if downstream_view else (b, a)
        children.setdefault(parent, []).append(child)
    lines: list[str] = []
    seen: set[str] = set()

    def describe(node_id: str) -> str:
        node = graph.nodes[node_id]
        if node["kind"] == "step":
            return f"step {node['label']} in run {node['run'][:12]}"
        origin = node.get("origin")
        note = "" if origin == "pipeline" else f"  [{'registered' if origin == 'registered' else 'saved outside a pipeline'}]"
        return f"{node['label']} ({node_id[:12]}){note}"

    def walk(node_id: str, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        again = node_id in seen
        lines.append(prefix + branch + describe(node_id) + ("  (see above)" if again else ""))
        if again:
            return
        seen.add(node_id)
        kids = children.get(node_id, [])
        inner = prefix + ("" if top else ("   " if last else "│  "))
        for i, kid in enumerate(kids):
            walk(kid, inner, i == len(kids) - 1, False)

    walk(graph.root, "", True, True)
    return lines


def render_dot(graph: LineageGraph) -> str:
    shapes = {"artifact": "box", "step": "ellipse", "run": "folder"}
    out = ["digraph lineage {", "  rankdir=LR;"]
    for node in graph.nodes.values():
        label = node["label"].replace('"', '\\"')
        out.append(f'  "{node["id"]}" [label="{label}", shape={shapes[node["kind"]]}];')
    for a, b in graph.edges:
        style = " [style=dashed]" if graph.nodes[a]["kind"] == "run" else ""
        out.append(f'  "{a}" -> "{b}"{style};')
    out.append("}")
    return "\n".join(out)
