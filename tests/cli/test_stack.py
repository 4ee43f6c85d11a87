"""`artrepo stack register|list|set|show|delete`, `run --stack`, and Client().active_stack."""
from __future__ import annotations

import pytest

from artrepo import Client
from artrepo_testing import git_fsck, run_cli


def test_stacks_are_registered_listed_set_shown_and_kept_in_the_repository_config(project, tmp_path):
    run_cli("remote", "add", "origin", str(tmp_path / "bucket"), cwd=project, check=True)
    assert "* default" in run_cli("stack", "list", cwd=project, check=True).stdout
    out = run_cli("stack", "register", "gpu", "--orchestrator", "dask", "--scheduler", "tcp://10.0.0.5:8786",
                  "--artifact-store", "origin", cwd=project, check=True).stdout
    assert out.strip() == "registered stack gpu"
    run_cli("stack", "register", "laptop", "-o", "dask", "--workers", "2", cwd=project, check=True)
    run_cli("stack", "set", "gpu", cwd=project, check=True)
    listing = run_cli("stack", "list", cwd=project, check=True).stdout.splitlines()
    assert [line[:2] for line in listing] == ["  ", "* ", "  "] and "gpu" in listing[1]
    shown = run_cli("stack", "show", cwd=project, check=True).stdout
    assert "stack gpu (active)" in shown and "dask (scheduler tcp://10.0.0.5:8786)" in shown
    assert f"remote origin: {tmp_path / 'bucket'}" in shown
    config = (project / ".artrepo" / "config").read_text()
    assert '[artrepo-stack "gpu"]' in config and "stack = gpu" in config
    stack = Client().active_stack
    assert stack.name == "gpu" and stack.orchestrator.scheduler == "tcp://10.0.0.5:8786"
    assert stack.artifact_store.path == str(tmp_path / "bucket") and stack.remote.name == "origin"
    run_cli("stack", "set", "default", cwd=project, check=True)
    default = Client().active_stack
    assert default.name == "default" and default.orchestrator.flavor == "local"
    assert default.artifact_store.path == str(project)
    run_cli("stack", "delete", "laptop", cwd=project, check=True)
    assert "laptop" not in run_cli("stack", "list", cwd=project, check=True).stdout
    git_fsck(project)


@pytest.mark.parametrize("args,message", [
    (["register", "default"], "the default stack is built in"),
    (["register", "x", "--scheduler", "tcp://h:1"], "--scheduler and --workers need --orchestrator dask"),
    (["register", "x", "-o", "dask", "--scheduler", "h:1"], "invalid Dask scheduler address 'h:1'"),
    (["register", "x", "-o", "dask", "--scheduler", "tcp://h:1", "--workers", "2"], "not several"),
    (["register", "x", "-a", "nowhere"], "no remote named 'nowhere'"),
    (["register", "bad name"], "invalid stack name"),
    (["set", "nope"], "no stack named 'nope'"),
    (["show", "nope"], "no stack named 'nope'"),
    (["delete", "default"], "cannot be deleted"),
])
def test_stack_mistakes_are_one_line_errors_and_change_nothing(project, args, message):
    before = (project / ".artrepo" / "config").read_text()
    proc = run_cli("stack", *args, cwd=project)
    assert proc.returncode == 1 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert (project / ".artrepo" / "config").read_text() == before


def test_run_with_an_unknown_stack_fails_before_importing_the_pipeline(project):
    (project / "pipe.py").write_text("raise SystemExit('imported')\n")
    proc = run_cli("run", "pipe.py", "--stack", "nope", cwd=project)
    assert proc.returncode == 1 and "no stack named 'nope'" in proc.stderr and "imported" not in proc.stderr


def test_a_local_stack_with_a_remote_store_runs_here_and_publishes_the_run_there(project, tmp_path):
    (project / "pipe.py").write_text(
        "from artrepo import pipeline, step\n\n@step\ndef one() -> int:\n    return 1\n\n"
        "@pipeline\ndef p():\n    one()\n")
    run_cli("remote", "add", "origin", str(tmp_path / "bucket"), cwd=project, check=True)
    run_cli("stack", "register", "shared", "-a", "origin", cwd=project, check=True)
    run_cli("run", "pipe.py", "--stack", "shared", cwd=project, check=True)
    assert "pushed nothing" in run_cli("push", cwd=project, check=True).stdout
    clone = tmp_path / "clone"
    run_cli("clone", str(tmp_path / "bucket"), str(clone), check=True)
    assert "p::one::output" in run_cli("list", cwd=clone, check=True).stdout
    assert "no problems" in run_cli("fsck", "--read-data", "--remote", "origin", cwd=project, check=True).stdout
