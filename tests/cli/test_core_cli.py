"""The first CLI commands, run as real subprocesses: output, --json shapes, exit codes."""
import json

import pytest

from artrepo import save_artifact
from artrepo_testing import run_cli


@pytest.fixture
def populated(project):
    save_artifact([1, 2], "iris_dataset", tags=["raw"])
    save_artifact([1, 2, 3], "iris_dataset", metadata={"rows": 3})
    save_artifact("m", "model", version="v1")
    return project


def test_init_creates_a_repository_found_from_subfolders(tmp_path):
    proc = run_cli("init", str(tmp_path / "p"), check=True)
    assert "Initialized empty artrepo repository" in proc.stdout
    sub = tmp_path / "p" / "a" / "b"
    sub.mkdir(parents=True)
    assert run_cli("list", cwd=sub, check=True).stdout.strip() == "no artifacts"


def test_outside_a_repository_is_one_line_and_exit_1(tmp_path):
    proc = run_cli("list", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "not an artrepo repository" in proc.stderr


def test_log_json_lists_versions_newest_first(populated):
    rows = json.loads(run_cli("log", "iris_dataset", "--json", check=True).stdout)
    assert [r["version"] for r in rows] == ["2", "1"]
    assert set(rows[0]) >= {"id", "name", "version", "created", "content_hash", "tags", "size"}
    assert rows[1]["tags"] == ["raw"]
    assert len(json.loads(run_cli("log", "iris_dataset", "-n", "1", "--json", check=True).stdout)) == 1


def test_list_and_show_json(populated):
    rows = json.loads(run_cli("list", "--json", check=True).stdout)
    assert {r["name"]: (r["latest"], r["versions"]) for r in rows} == {"iris_dataset": ("2", 2),
                                                                       "model": ("v1", 1)}
    doc = json.loads(run_cli("show", "iris_dataset:2", "--json", check=True).stdout)
    assert doc["run_metadata"]["rows"] == 3 and doc["producer"] is None
    assert "storage_size" in doc["run_metadata"]
    assert json.loads(run_cli("list", "--tag", "raw", "--json", check=True).stdout)[0]["name"] == "iris_dataset"


def test_tag_and_alias_with_history(populated):
    run_cli("tag", "iris_dataset:1", "gold", check=True)
    run_cli("alias", "iris_dataset:1", "production", check=True)
    run_cli("alias", "iris_dataset:2", "production", check=True)
    doc = json.loads(run_cli("show", "iris_dataset@production", "--json", check=True).stdout)
    assert doc["version"] == "2"
    history = json.loads(run_cli("log", "iris_dataset@production", "--json", check=True).stdout)
    assert [h["version"] for h in history] == ["2", "1"]
    assert "gold" in json.loads(run_cli("show", "iris_dataset:1", "--json", check=True).stdout)["tags"]


@pytest.mark.parametrize("args, code, text", [
    (["show", "nope"], 1, "no artifact named 'nope'"),
    (["show", "iris_dataset:9"], 1, "no version '9'"),
    (["log", "bad/name"], 1, "invalid artifact name"),
    (["alias", "model:v1", "bad alias"], 1, "invalid alias"),
    (["show"], 2, "Missing argument"),
    (["frobnicate"], 2, "No such command"),
])
def test_errors_are_one_line_with_documented_exit_codes(populated, args, code, text):
    proc = run_cli(*args)
    assert proc.returncode == code, proc.stderr
    assert text in proc.stderr and "Traceback" not in proc.stderr
    if code == 1:
        assert proc.stderr.count("\n") == 1


def test_python_dash_m_and_version(populated):
    proc = run_cli("--version", check=True)
    assert "artrepo" in proc.stdout and "0.1.0" in proc.stdout
