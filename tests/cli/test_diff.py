"""`artrepo diff` of versions and of runs, and `artrepo compare`: real CLI processes over a real repository."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from artrepo import Client, save_artifact
from artrepo.compare import Comparison
from artrepo_testing import run_cli

PIPE = textwrap.dedent('''
    from artrepo import log_metadata, pipeline, step

    @step
    def prepare(n: int = 10) -> list:
        return list(range(n))

    @step
    def train(values: list, lr: float = 0.1) -> dict:
        log_metadata({"accuracy": 0.5 + lr, "loss": 1 - lr}, infer_artifact=True)
        return {"weights": [v * lr for v in values]}

    @pipeline
    def training(n: int = 10, lr: float = 0.1):
        train(prepare(n=n), lr=lr)
''')


def diff_json(*refs: str, cwd) -> dict:
    proc = run_cli("diff", *refs, "--json", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def by_key(rows: list[dict]) -> dict:
    return {r["key"]: r for r in rows}


def test_diff_of_two_array_versions_shows_metadata_tags_sizes_shared_bytes_and_statistics(project):
    a = np.random.default_rng(0).random((512, 1024))
    save_artifact(a, "weights", tags=["baseline"], metadata={"accuracy": 0.81, "notes": "first"})
    b = a.copy()
    b[:16] = 3.0  # the first 128 KiB change, the rest is shared
    save_artifact(b, "weights", tags=["baseline", "tuned"], metadata={"accuracy": 0.84})
    doc = diff_json("weights:1", "weights:2", cwd=project)
    assert (doc["a"]["label"], doc["b"]["label"]) == ("weights:1", "weights:2")
    meta = by_key(doc["metadata"])
    assert meta["accuracy"]["change"] == "changed" and meta["accuracy"]["delta"] == pytest.approx(0.03)
    assert meta["notes"] == {"key": "notes", "change": "removed", "a": "first"}
    assert doc["tags_changed"] == {"added": ["tuned"], "removed": []}
    storage = doc["storage"]
    assert storage["bytes"] == b.nbytes + 128  # the .npy header
    assert b.nbytes // 2 < storage["shared_bytes"] < b.nbytes and storage["new_bytes"] < b.nbytes // 2
    data = by_key(doc["data"])
    assert data["shape"]["change"] == "same" and data["dtype"]["a"] == "float64"
    assert data["max"]["b"] == 3.0 and data["mean"]["delta"] > 0
    text = run_cli("diff", "weights:1", "weights:2", cwd=project, check=True).stdout
    assert "~ accuracy" in text and "- notes" in text and "+tuned" in text and "chunks" in text


def test_diff_of_dataframes_shows_schema_changes_rows_and_column_statistics(project):
    df = pd.DataFrame({"id": np.arange(100), "price": np.linspace(1, 2, 100), "city": ["x"] * 100})
    save_artifact(df, "sales")
    changed = df.drop(columns=["city"]).assign(discount=0.1, id=lambda d: d.id.astype("float64")).iloc[:90]
    changed.loc[5, "price"] = None
    save_artifact(changed, "sales")
    doc = diff_json("sales:1", "sales:2", cwd=project)
    assert doc["schema"] == {"added": ["discount"], "removed": ["city"],
                             "retyped": [{"column": "id", "from": "int64", "to": "float64"}]}
    data = by_key(doc["data"])
    assert (data["rows"]["a"], data["rows"]["b"], data["rows"]["delta"]) == (100, 90, -10)
    assert data["max(id)"]["b"] == 89 and data["mean(discount)"]["change"] == "added"
    assert data["nulls(price)"] == {"key": "nulls(price)", "change": "changed", "a": 0, "b": 1, "delta": 1}
    text = run_cli("diff", "sales:1", "sales:2", cwd=project, check=True).stdout
    assert "columns: +discount  -city  ~id: int64 -> float64" in text


def test_diff_never_loads_the_data(project):
    save_artifact(np.arange(100_000), "big")
    save_artifact(np.arange(100_000) * 2, "big")
    shutil.rmtree(project / ".artrepo" / "chunks")  # no data at all: only records and manifests remain
    doc = diff_json("big:1", "big:2", cwd=project)
    assert by_key(doc["data"])["max"]["b"] == 199_998


def test_diff_of_two_different_artifacts_names_both(project):
    save_artifact([1, 2, 3], "left", metadata={"k": 1})
    save_artifact([1, 2, 3], "right", metadata={"k": 2})
    doc = diff_json("left", "right", cwd=project)
    assert by_key(doc["version"])["name"] == {"key": "name", "change": "changed", "a": "left", "b": "right"}
    assert doc["same_content"] is True and doc["storage"]["shared_bytes"] == doc["storage"]["bytes"]
    text = run_cli("diff", "left", "right", cwd=project, check=True).stdout
    assert text.splitlines()[0].startswith("--- a  left:1") and "identical data" in text


def run_pipe(project, *params: str) -> str:
    (project / "pipe.py").write_text(PIPE)
    out = run_cli("run", "pipe.py", *params, cwd=project, check=True).stdout
    return out.strip().splitlines()[-1].split()[1]


def test_diff_of_two_runs_shows_parameters_code_steps_outputs_and_packages(project):
    first = run_pipe(project, "-p", "lr=0.1")
    script = PIPE.replace("v * lr", "v * lr * 2").replace("from artrepo", "import numpy\nfrom artrepo", 1)
    (project / "pipe.py").write_text(script)
    second = run_cli("run", "pipe.py", "-p", "lr=0.3", cwd=project, check=True).stdout.strip().splitlines()[-1].split()[1]
    doc = diff_json(first, second, cwd=project)
    assert by_key(doc["parameters"])["lr"]["delta"] == pytest.approx(0.2)
    steps = by_key(doc["steps"])
    assert steps["prepare"] == {"key": "prepare", "change": "changed", "a": "completed", "b": "cached"}
    assert steps["train"]["change"] == "same"
    assert [d["step"] for d in doc["code_diffs"]] == ["train"]
    assert "\n-    return {\"weights\": [v * lr for v in values]}\n" in doc["code_diffs"][0]["diff"]
    assert "\n+    return {\"weights\": [v * lr * 2 for v in values]}\n" in doc["code_diffs"][0]["diff"]
    assert by_key(doc["packages"])["numpy"]["change"] == "added"  # the second run's process imported it
    output = by_key(doc["outputs"])["train.output"]
    assert output["change"] == "changed" and output["labels"] == {"a": "training::train::output:1",
                                                                 "b": "training::train::output:2"}
    meta = by_key(doc["output_metadata"][0]["rows"])
    assert meta["accuracy"]["a"] == pytest.approx(0.6) and meta["accuracy"]["b"] == pytest.approx(0.8)
    assert by_key(doc["git"])["state"]["a"].startswith("no git")
    assert set(by_key(doc["git"])) == {"state"}  # only what either run recorded: no rows blank on both sides
    text = run_cli("diff", first[:10], second[:10], cwd=project, check=True).stdout
    assert "code (1 step changed)" in text and "+    return {\"weights\": [v * lr * 2" in text
    assert "~ lr" in text and "~ prepare  completed  cached" in text


def test_diff_of_a_version_and_a_run_is_a_usage_error_and_unknown_references_one_line(project):
    run_id = run_pipe(project)
    mixed = run_cli("diff", "training::prepare::output", run_id[:10], cwd=project)
    assert mixed.returncode == 2 and "give two versions or two runs" in mixed.stderr
    for refs in (("nope", "training::prepare::output"), ("training::prepare::output", "abcdef0123")):
        proc = run_cli("diff", *refs, cwd=project)
        assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "Traceback" not in proc.stderr
    assert "no artifact version or pipeline run matching 'abcdef0123'" in proc.stderr


def test_compare_lists_chosen_metadata_newest_first_for_versions_and_runs(project):
    for i, acc in enumerate([0.7, 0.75, 0.9]):
        save_artifact(i, "model", metadata={"accuracy": acc, "metrics": {"loss": 1 - acc}})
    table = Client().compare_artifact_versions("model", metadata=["accuracy", "metrics.loss", "missing"])
    assert isinstance(table, Comparison)
    assert [r["label"] for r in table] == ["model:3", "model:2", "model:1"]
    assert [r["accuracy"] for r in table] == [0.9, 0.75, 0.7] and table.rows[2]["missing"] is None
    assert table.to_pandas().loc["model:1", "metrics.loss"] == pytest.approx(0.3)
    text = run_cli("compare", "model", "--metadata", "accuracy,metrics.loss", cwd=project, check=True).stdout
    lines = text.splitlines()
    assert lines[0].split() == ["version", "created", "accuracy", "metrics.loss"]
    assert lines[1].startswith("model:3") and lines[1].split()[3] == "0.9"
    default = json.loads(run_cli("compare", "model", "--json", cwd=project, check=True).stdout)
    assert default["keys"] == ["accuracy", "metrics.loss"] and len(default["rows"]) == 3

    for lr in ("0.1", "0.2"):
        run_pipe(project, "-p", f"lr={lr}")
    runs = json.loads(run_cli("compare", "training", "-m", "lr,accuracy,loss", "--json", cwd=project,
                              check=True).stdout)
    assert runs["kind"] == "pipeline"
    assert [(r["values"]["lr"], r["values"]["accuracy"]) for r in runs["rows"]] == [(0.2, 0.7), (0.1, 0.6)]
    auto = Client().compare_pipeline_runs("training")
    assert auto.keys[0] == "lr" and "accuracy" in auto.keys
    proc = run_cli("compare", "trainnig", cwd=project)
    assert proc.returncode == 1 and "did you mean 'training'" in proc.stderr


def test_text_from_the_repository_reaches_the_terminal_escaped(project):
    title = "\x1b]0;pwned\x07"
    save_artifact(1, "esc", metadata={"note": "plain", f"k{title}": 1})
    save_artifact(2, "esc", metadata={"note": f"x{title}", f"k{title}": 2}, tags=["ok"])
    (project / "pipe.py").write_text(PIPE.replace("def train(", f"# {title}\ndef train(", 1))
    run_id = run_cli("run", "pipe.py", cwd=project, check=True).stdout.strip().splitlines()[-1].split()[1]
    outputs = [run_cli(*args, cwd=project, check=True).stdout for args in (
        ("diff", "esc:1", "esc:2"), ("compare", "esc", "-m", "note"), ("show", run_id[:10], "--step", "train", "--code"))]
    for text in outputs:
        assert "\x1b" not in text and "\x07" not in text, text
    assert "x\\x1b]0;pwned\\x07" in outputs[0] and "x\\x1b]0;pwned\\x07" in outputs[1]
    assert outputs[2].startswith("# \\x1b]0;pwned\\x07\ndef train(")  # the code, its control characters escaped
