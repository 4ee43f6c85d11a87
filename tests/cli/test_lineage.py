"""`artrepo lineage`: upstream and downstream graphs as text, dot and json."""
from __future__ import annotations

import json
import textwrap

import pytest

from artrepo_testing import run_cli

PIPELINE = textwrap.dedent('''
    from typing_extensions import Annotated
    from artrepo import Client, pipeline, step

    @step
    def clean(raw: list) -> Annotated[list, "clean"]:
        return [v for v in raw if v]

    @step
    def train(data: list, lr: float = 0.1) -> Annotated[float, "model"]:
        return sum(data) * lr

    @pipeline
    def training(lr: float = 0.1):
        train(clean(Client().get_artifact_version("raw")), lr=lr)
''')


@pytest.fixture
def trained(project):
    from artrepo import save_artifact

    save_artifact([0, 1, 2], name="raw")
    (project / "train.py").write_text(PIPELINE)
    run_cli("run", "train.py", cwd=project, check=True)
    run_cli("run", "train.py", "-p", "lr=0.5", cwd=project, check=True)
    return project


def _graph(*args, cwd):
    return json.loads(run_cli("lineage", *args, "--format", "json", cwd=cwd, check=True).stdout)


def test_upstream_reaches_the_saved_input_through_steps_and_runs(trained):
    graph = _graph("model:2", cwd=trained)
    labels = {n["kind"]: sorted(x["label"] for x in graph["nodes"] if x["kind"] == n["kind"]) for n in graph["nodes"]}
    assert labels["artifact"] == ["clean:1", "model:2", "raw:1"]
    assert labels["step"] == ["clean (completed)", "train (completed)"]
    assert len(labels["run"]) == 2  # clean was cached in the second run: its producer is the first run
    ids = {n["label"]: n["id"] for n in graph["nodes"]}
    edges = {(e["from"], e["to"]) for e in graph["edges"]}
    train_step = next(n["id"] for n in graph["nodes"] if n["label"] == "train (completed)")
    assert (ids["clean:1"], train_step) in edges and (train_step, ids["model:2"]) in edges
    text = run_cli("lineage", "model:2", cwd=trained, check=True).stdout
    assert text.splitlines()[0].startswith("model:2 (")
    assert "raw:1" in text and "saved outside a pipeline" in text


def test_downstream_lists_everything_made_from_a_version(trained):
    graph = _graph("raw", "--downstream", cwd=trained)
    artifacts = sorted(n["label"] for n in graph["nodes"] if n["kind"] == "artifact")
    assert artifacts == ["clean:1", "model:1", "model:2", "raw:1"]
    dot = run_cli("lineage", "raw", "--downstream", "--format", "dot", cwd=trained, check=True).stdout
    assert dot.startswith("digraph lineage {") and dot.count("->") == len(graph["edges"])
    assert '[label="model:2", shape=box]' in dot


def test_lineage_of_an_unknown_reference_is_a_one_line_error(trained):
    proc = run_cli("lineage", "nothing", cwd=trained)
    assert proc.returncode == 1 and "no artifact named 'nothing'" in proc.stderr
