"""Provenance recorded with every run and save: step code, git state, environment, who and where."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from artrepo import Client
from artrepo.runtime import provenance
from artrepo_testing import git_fsck, run_cli

PIPE = textwrap.dedent('''
    import numpy as np
    from artrepo import pipeline, step
    from helpers import scale

    THRESHOLD = 0.5

    @step
    def load(n: int = 3) -> list:
        return list(range(n))

    @step
    def train(values: list, lr: float = 0.1) -> float:
        return float(np.sum(scale(values, lr))) + THRESHOLD

    @pipeline
    def training(n: int = 3, lr: float = 0.1):
        train(load(n=n), lr=lr)

    if __name__ == "__main__":
        import json, sys
        params = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
        run = training(**params)
        print(json.dumps({"run": run.id, "cached": {k: s.cached for k, s in run.steps.items()}}))
''')
HELPERS = "def scale(values, lr):\n    return [v * lr for v in values]\n"


def git(cwd: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd, env=env,
                          check=True, capture_output=True, text=True).stdout


def artrepo_git(project: Path, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(project / ".artrepo"), *args], check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture
def work_tree(tmp_path, monkeypatch) -> Path:
    """A git work tree (branch `main`, one commit) holding an artrepo project and its pipeline."""
    root = tmp_path / "work"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "pipe.py").write_text(PIPE)
    (root / "helpers.py").write_text(HELPERS)
    (root / ".gitignore").write_text(".artrepo/\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    run_cli("init", str(root), check=True)
    monkeypatch.chdir(root)
    return root


def run_pipe(root: Path, **params) -> dict:
    proc = subprocess.run([sys.executable, "pipe.py", json.dumps(params)], cwd=root, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_run_records_commit_branch_and_the_dirty_diff_readable_with_stock_git(work_tree):
    head = git(work_tree, "rev-parse", "HEAD").strip()
    clean = run_pipe(work_tree)
    prov = Client().get_pipeline_run(clean["run"]).provenance
    assert prov.executed and prov.git_commit == head and prov.git_branch == "main" and prov.dirty is False
    assert prov.diff == "" and prov.source == "pipe.py"

    (work_tree / "helpers.py").write_text(HELPERS.replace("v * lr", "v * lr * 2"))
    dirty = run_pipe(work_tree)
    run = Client().get_pipeline_run(dirty["run"])
    git_state = run.provenance.git_state
    assert git_state["dirty"] is True and git_state["commit"] == head
    assert (git_state["files_changed"], git_state["lines_added"], git_state["lines_removed"]) == (1, 1, 1)
    assert "+    return [v * lr * 2 for v in values]" in run.provenance.diff
    # all of it in the run's commit, as git shows it
    commit = run.commit
    assert "+    return [v * lr * 2 for v in values]" in artrepo_git(work_tree, "show", f"{commit}:provenance.diff")
    message = artrepo_git(work_tree, "log", "-1", "--format=%B", commit)
    assert f"Artrepo-Git-Commit: {head}" in message and "Artrepo-Git-Dirty: yes" in message
    assert "Artrepo-Git-Branch: main" in message
    code = artrepo_git(work_tree, "show", f"{commit}:code/train.py")
    assert code.startswith("def train(values: list, lr: float = 0.1) -> float:")
    assert "v * lr * 2" in code and "THRESHOLD = 0.5" in code  # the helper and the constant the key hashes
    assert run.steps["train"].code == code
    git_fsck(work_tree)


def test_step_code_is_shown_after_the_file_changed_and_after_it_was_deleted(work_tree):
    first = run_pipe(work_tree)
    (work_tree / "helpers.py").write_text("def scale(values, lr):\n    return [v + lr for v in values]\n")
    second = run_pipe(work_tree)
    (work_tree / "helpers.py").unlink()
    (work_tree / "pipe.py").unlink()
    old = run_cli("show", first["run"][:10], "--step", "train", "--code", cwd=work_tree, check=True).stdout
    new = run_cli("show", second["run"][:10], "--step", "train", "--code", cwd=work_tree, check=True).stdout
    assert "return [v * lr for v in values]" in old and "return [v + lr for v in values]" in new
    assert old.startswith("def train(") and "@step" not in old
    assert run_cli("show", second["run"][:10], "--step", "load", "--code", cwd=work_tree).stdout.startswith("def load(")
    missing = run_cli("show", second["run"][:10], "--step", "nope", "--code", cwd=work_tree)
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1


def test_a_cached_step_links_the_code_of_the_run_it_came_from_and_a_cached_run_captures_no_git(work_tree):
    first = run_pipe(work_tree)
    again = run_pipe(work_tree)
    assert all(again["cached"].values())
    a, b = Client().get_pipeline_run(first["run"]), Client().get_pipeline_run(again["run"])
    assert {n: s.code_id for n, s in a.steps.items()} == {n: s.code_id for n, s in b.steps.items()}
    assert all(s.code_id for s in b.steps.values())
    assert b.provenance.executed is False and b.provenance.git_state == {} and "packages" not in b.provenance.environment
    assert b.provenance.environment["python"] == "%d.%d.%d" % sys.version_info[:3]
    partly = run_pipe(work_tree, lr=0.2)
    assert partly["cached"] == {"load": True, "train": False}
    assert Client().get_pipeline_run(partly["run"]).provenance.executed is True


def test_packages_are_the_loaded_distributions_with_their_versions(work_tree):
    import numpy

    run = Client().get_pipeline_run(run_pipe(work_tree)["run"])
    packages = run.provenance.packages
    assert packages["numpy"] == numpy.__version__
    assert "pytest" not in packages  # only what the run's process loaded, not pip freeze
    assert run.provenance.environment["artrepo"] == __import__("artrepo").__version__


def test_no_environment_variable_value_is_ever_recorded(work_tree):
    secret = "s3cr3t-" + os.urandom(6).hex()
    proc = subprocess.run([sys.executable, "pipe.py"], cwd=work_tree, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "API_TOKEN": secret, "USER": secret, "HOSTNAME": secret})
    assert proc.returncode == 0, proc.stderr
    found = subprocess.run(["grep", "-rl", secret, str(work_tree / ".artrepo")], capture_output=True, text=True)
    assert found.stdout == ""
    for oid in artrepo_git(work_tree, "rev-list", "--objects", "--all").split():
        if len(oid) == 40:
            assert secret not in subprocess.run(["git", "--git-dir", str(work_tree / ".artrepo"), "cat-file", "-p",
                                                 oid], capture_output=True).stdout.decode(errors="replace")


def test_outside_a_work_tree_or_without_git_a_run_records_no_git_and_succeeds(project, tmp_path):
    (project / "pipe.py").write_text(PIPE)
    (project / "helpers.py").write_text(HELPERS)
    outside = Client().get_pipeline_run(run_pipe(project)["run"]).provenance
    assert outside.git_state == {"state": "no git", "reason": "not in a git work tree"}
    git(project, "init", "-q")
    bare_path = {**os.environ, "PATH": str(tmp_path / "empty-bin")}
    proc = subprocess.run([sys.executable, "pipe.py", json.dumps({"n": 4})], cwd=project, capture_output=True,
                          text=True, timeout=120, env=bare_path)
    assert proc.returncode == 0, proc.stderr
    missing = Client().get_pipeline_run(json.loads(proc.stdout.splitlines()[-1])["run"]).provenance
    assert missing.git_state == {"state": "no git", "reason": "git is not installed"}
    shown = run_cli("show", json.loads(proc.stdout.splitlines()[-1])["run"][:10], cwd=project, check=True).stdout
    assert "Git:        no git (git is not installed)" in shown


def test_a_huge_dirty_diff_is_cut_and_says_so(work_tree, monkeypatch):
    (work_tree / "data.txt").write_text("line\n" * 10)
    (work_tree / "model.bin").write_bytes(bytes(range(256)) * 4)
    git(work_tree, "add", ".")
    git(work_tree, "commit", "-q", "-m", "data")
    (work_tree / "data.txt").write_text("".join(f"changed line {i}\n" for i in range(100_000)))
    (work_tree / "model.bin").write_bytes(bytes(reversed(range(256))) * 4)
    state, diff = provenance.git_state(str(work_tree))
    assert state["dirty"] and state["diff_cut"] is True
    assert state["diff_bytes"] > provenance.MAX_DIFF >= state["diff_stored"]
    assert state["binary_files"] == ["model.bin"] and state["files_changed"] == 2
    assert diff.endswith(f"stored\n".encode()) and b"# artrepo: the diff was cut here" in diff
    assert len(diff) < provenance.MAX_DIFF + 200
    run = Client().get_pipeline_run(run_pipe(work_tree)["run"])
    assert run.provenance.git_state["diff_cut"] and "the diff was cut here" in run.provenance.diff
    shown = run_cli("show", run.id[:10], cwd=work_tree, check=True).stdout
    assert "cut: " in shown and "binary: model.bin" in shown


def test_a_repository_git_refuses_is_recorded_as_no_git(work_tree, monkeypatch):
    (work_tree / ".git" / "HEAD").write_text("garbage\n")  # git: "not a git repository"
    state, diff = provenance.git_state(str(work_tree))
    assert state["state"] == "no git" and state["reason"].startswith("git failed: ") and diff == b""


def test_settings_turn_off_user_and_host_or_all_provenance(work_tree):
    config = work_tree / ".artrepo" / "config"
    config.write_text(config.read_text() + "[artrepo]\n\tprovenanceUser = false\n")
    no_user = Client().get_pipeline_run(run_pipe(work_tree)["run"]).provenance
    assert no_user.user is None and no_user.host is None and no_user.git_commit
    config.write_text(config.read_text().replace("provenanceUser = false", "provenance = off"))
    off = Client().get_pipeline_run(run_pipe(work_tree, n=5)["run"])
    assert off.provenance is None and all(s.code is None for s in off.steps.values())
    assert "code" not in artrepo_git(work_tree, "ls-tree", "--name-only", off.commit).split()
    proc = subprocess.run([sys.executable, "pipe.py", json.dumps({"n": 6})], cwd=work_tree, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "ARTREPO_PROVENANCE": "on"})
    assert Client().get_pipeline_run(json.loads(proc.stdout.splitlines()[-1])["run"]).provenance is not None


def test_save_artifact_outside_a_step_records_its_caller_and_git_state(work_tree):
    (work_tree / "save.py").write_text("from artrepo import save_artifact\n\nsave_artifact([1, 2], name='numbers')\n")
    git(work_tree, "add", "save.py")
    git(work_tree, "commit", "-q", "-m", "save")
    (work_tree / "save.py").write_text((work_tree / "save.py").read_text() + "# edited\n")
    proc = subprocess.run([sys.executable, "save.py"], cwd=work_tree, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    av = Client().get_artifact_version("numbers")
    assert av.provenance.source == "save.py:3" and av.provenance.dirty is True
    assert av.provenance.git_commit == git(work_tree, "rev-parse", "HEAD").strip()
    assert "+# edited" in av.provenance.diff
    assert artrepo_git(work_tree, "show", f"{av.id}:provenance.diff").endswith("+# edited\n")
    shown = run_cli("show", "numbers", cwd=work_tree, check=True).stdout
    assert "Source:       save.py:3" in shown
    as_json = json.loads(run_cli("show", "numbers", "--json", cwd=work_tree, check=True).stdout)
    assert as_json["provenance"]["git"]["dirty"] is True
    # inside a step, the run holds the provenance: the version links its producer instead
    run = Client().get_pipeline_run(run_pipe(work_tree)["run"])
    assert run.steps["train"].outputs["output"].provenance is None
    git_fsck(work_tree)


def test_provenance_and_code_travel_with_push_and_clone(work_tree, tmp_path):
    first = run_pipe(work_tree)
    shared = tmp_path / "shared"
    run_cli("remote", "add", "origin", str(shared), cwd=work_tree, check=True)
    run_cli("push", cwd=work_tree, check=True)
    clone = tmp_path / "clone"
    run_cli("clone", str(shared), str(clone), cwd=tmp_path, check=True)
    code = run_cli("show", first["run"][:10], "--step", "train", "--code", cwd=clone, check=True).stdout
    assert "def scale(values, lr):" in code
    shown = json.loads(run_cli("show", first["run"][:10], "--json", cwd=clone, check=True).stdout)
    assert shown["provenance"]["git"]["branch"] == "main"
    assert all(s["code"] for s in shown["steps"])
    git_fsck(clone)


def test_lineage_and_show_link_each_steps_exact_code_and_the_dirty_diff(work_tree):
    (work_tree / "helpers.py").write_text(HELPERS + "# uncommitted\n")
    run = Client().get_pipeline_run(run_pipe(work_tree)["run"])
    graph = json.loads(run_cli("lineage", "training::train::output", "--format", "json", cwd=work_tree,
                               check=True).stdout)
    steps = {n["step"]: n for n in graph["nodes"] if n["kind"] == "step"}
    assert steps["train"]["code"] == run.steps["train"].code_id and steps["load"]["code"]
    text = run_cli("lineage", "training::train::output", cwd=work_tree, check=True).stdout
    assert f"[code: artrepo show {run.id[:12]} --step train --code]" in text
    shown = run_cli("show", run.id[:12], cwd=work_tree, check=True).stdout
    assert f"code: {run.steps['train'].code_id[:12]} (artrepo show {run.id[:12]} --step train --code)" in shown
    assert run_cli("show", run.id[:12], "--git-diff", cwd=work_tree, check=True).stdout.endswith("+# uncommitted\n")
    code = run_cli("show", "training::train::output", "--code", cwd=work_tree, check=True).stdout
    assert code == run.steps["train"].code  # a version's --code: the step that made it
    usage = run_cli("show", run.id[:12], "--code", cwd=work_tree)
    assert usage.returncode == 2 and "--step" in usage.stderr
