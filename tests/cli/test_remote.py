"""remote / push / pull / clone through the real command line."""
import os

from artrepo_testing import git_fsck, run_cli
from tests.remotes.conftest import moto_server, s3_env  # noqa: F401  (fixtures)

SAVE = "from artrepo import save_artifact; save_artifact({value!r}, name={name!r})"


def save(cwd, name, value):
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", SAVE.format(name=name, value=value)], cwd=cwd, check=True)


def test_remote_add_list_remove_keeps_settings_and_no_secret(project, tmp_path):
    run_cli("remote", "add", "origin", str(tmp_path / "bucket"), "--trusted", check=True)
    run_cli("remote", "add", "s3", "s3://team/models", "--endpoint-url", "http://127.0.0.1:9", check=True)
    out = run_cli("remote", "list", check=True).stdout.splitlines()
    assert out == [f"origin\t{tmp_path / 'bucket'}\ttrusted", "s3\ts3://team/models\tendpoint=http://127.0.0.1:9"]
    config = (project / ".artrepo/config").read_text()
    assert "secret" not in config.lower() and "key" not in config.lower()
    run_cli("remote", "remove", "s3", check=True)
    assert run_cli("remote", "list", check=True).stdout.splitlines() == [f"origin\t{tmp_path / 'bucket'}\ttrusted"]


def test_remote_errors_are_one_line_with_exit_code_one(project):
    for args in (("remote", "add", "bad name", "/tmp/x"), ("remote", "add", "o", "nosuch://x"),
                 ("remote", "remove", "ghost"), ("push",), ("pull", "ghost")):
        proc = run_cli(*args)
        assert proc.returncode == 1, (args, proc.stderr)
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("artrepo: error:"), proc.stderr


def test_clone_push_pull_between_two_projects_reports_renumbering(project, tmp_path):
    remote = tmp_path / "shared"
    run_cli("remote", "add", "origin", str(remote), check=True)
    save(project, "model", [1])
    first = run_cli("push", check=True).stdout
    assert "pushed 1 version(s)" in first and "dedup saving" in first
    proc = run_cli("clone", str(remote), str(tmp_path / "other"), cwd=tmp_path, check=True)
    assert "cloned" in proc.stdout
    save(project, "model", [2])
    save(tmp_path / "other", "model", [3])
    run_cli("push", cwd=project, check=True)
    out = run_cli("push", cwd=tmp_path / "other", check=True).stdout
    assert "renumbered model:2 \u2192 model:3" in out
    assert "already up to date" in run_cli("push", cwd=tmp_path / "other", check=True).stdout
    run_cli("pull", cwd=project, check=True)
    listing = run_cli("log", "model", "--json", cwd=project, check=True).stdout
    assert '"version": "3"' in listing
    git_fsck(project)
    git_fsck(tmp_path / "other")


def test_clone_of_an_empty_location_fails_and_creates_nothing(tmp_path):
    proc = run_cli("clone", str(tmp_path / "nothing-here"), str(tmp_path / "dest"), cwd=tmp_path)
    assert proc.returncode == 1 and "no artrepo repository" in proc.stderr
    assert not (tmp_path / "dest").exists()


def test_clone_from_s3_takes_the_endpoint_from_the_environment(project, tmp_path, s3_env):
    endpoint, bucket = s3_env
    env = {k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    run_cli("remote", "add", "origin", f"s3://{bucket}/p", "--endpoint-url", endpoint, check=True, env=env)
    save(project, "numbers", [1, 2, 3])
    run_cli("push", check=True, env=env)
    run_cli("clone", f"s3://{bucket}/p", "copy", cwd=tmp_path, check=True, env={**env, "AWS_ENDPOINT_URL": endpoint})
    out = run_cli("export", "numbers", str(tmp_path / "out"), cwd=tmp_path / "copy", env=env)
    assert out.returncode == 0, out.stderr
    git_fsck(tmp_path / "copy")


STEP_ON_PULLED = '''
from artrepo import Client, pipeline, step

@step
def total(values: list) -> int:
    return sum(values)

@pipeline
def summing():
    total(values=Client().get_artifact_version("numbers"))
'''


def test_a_metadata_only_pull_can_feed_a_pipeline_step(project, tmp_path):
    remote = tmp_path / "shared"
    run_cli("remote", "add", "origin", str(remote), check=True)
    save(project, "numbers", list(range(10)))
    run_cli("push", check=True)
    other = tmp_path / "other"
    run_cli("init", str(other), check=True)
    run_cli("remote", "add", "origin", str(remote), cwd=other, check=True)
    run_cli("pull", "--metadata-only", cwd=other, check=True)
    assert not [p for p in (other / ".artrepo/chunks/packs").rglob("*") if p.is_file()]
    (other / "flow.py").write_text(STEP_ON_PULLED)
    run_cli("run", "flow.py", cwd=other, check=True)  # the step's input is fetched on demand
    proc = run_cli("show", "summing::total::output", "--json", cwd=other, check=True)
    import json

    assert json.loads(proc.stdout)["producer"]["step"] == "total"
    git_fsck(other)
