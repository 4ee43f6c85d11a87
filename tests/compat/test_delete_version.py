"""Issue 12 item 8: `Client().delete_artifact_version` and `artrepo artifact version delete`, as ZenML users
call them. A deletion is recorded (append-only), the version is no longer listed or resolved, runs keep
naming it, its data goes at the first gc a grace period later, and push and pull carry the deletion."""
import json

import numpy as np
import pytest

from artrepo import Client, pipeline, save_artifact, step
from artrepo.errors import NotFoundError, UserError
from artrepo_testing import git_fsck, run_cli


def listed(cwd, name):
    out = run_cli("artifact", "version", "list", "--artifact", name, "-o", "json", cwd=cwd, check=True).stdout
    return [i["version"] for i in json.loads(out)["items"]]


def test_a_deleted_version_is_gone_from_listings_and_references_but_runs_still_name_it(project):
    @step
    def make() -> np.ndarray:
        return np.arange(3)

    @pipeline
    def p():
        make()

    run = p()
    produced = run.steps["make"].output
    kept = save_artifact(np.arange(5), name=produced.name)
    Client().delete_artifact_version(produced.name, version="1")
    assert [v.version for v in Client().list_artifact_versions(name=produced.name)] == ["2"]
    assert Client().get_artifact_version(produced.name).id == kept.id
    with pytest.raises(NotFoundError, match="was deleted"):
        Client().get_artifact_version(produced.id[:10])
    with pytest.raises(NotFoundError, match="no version '1'"):
        Client().get_artifact_version(produced.name, version="1")
    again = Client().get_pipeline_run(run.id).steps["make"].output  # the run's record still names it
    assert again.id == produced.id
    with pytest.raises(UserError, match="was deleted"):
        again.load()
    assert not p().steps["make"].cached  # its output is gone: a cache miss, a new version
    git_fsck(project)


def test_deleting_the_only_version_removes_the_artifact_and_a_custom_version_can_be_saved_again(project):
    save_artifact([1], name="iris_dataset", version="raw_2023")
    save_artifact([1], name="other")
    Client().active_repository.set_alias(Client().active_repository.resolve("iris_dataset"), "production")
    Client().delete_artifact_version("iris_dataset:raw_2023")
    assert [a.name for a in Client().list_artifacts()] == ["other"]
    with pytest.raises(NotFoundError):
        Client().get_artifact_version("iris_dataset@production")  # its alias went with it
    assert save_artifact([2], name="iris_dataset", version="raw_2023").load() == [2]


def test_the_cli_asks_first_unless_told_yes(project):
    v = save_artifact([1], name="t")
    save_artifact([2], name="t")
    proc = run_cli("artifact", "version", "delete", "t", "-v", "1", cwd=project, input="n\n")
    assert proc.returncode == 1 and listed(project, "t") == ["2", "1"]
    proc = run_cli("artifact", "version", "delete", v.id[:8], cwd=project, input="y\n")
    assert proc.returncode == 0 and f"Artifact version '{v.id}' deleted." in proc.stdout
    assert listed(project, "t") == ["2"]
    proc = run_cli("artifact", "version", "delete", v.id[:8], "-y", cwd=project)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "was deleted" in proc.stderr


def test_the_data_goes_at_the_first_gc_past_the_grace_period(project):
    save_artifact(np.random.default_rng(0).random(50_000), name="big")
    save_artifact([1], name="small")
    before = json.loads(run_cli("du", "--json", cwd=project, check=True).stdout)["stored_bytes"]
    run_cli("artifact", "version", "delete", "big", "-y", cwd=project, check=True)
    run_cli("gc", cwd=project, check=True)  # the default grace period: deleted a moment ago, kept
    assert json.loads(run_cli("du", "--json", cwd=project, check=True).stdout)["stored_bytes"] == before
    run_cli("gc", "--grace", "0s", cwd=project, check=True)
    after = json.loads(run_cli("du", "--json", cwd=project, check=True).stdout)["stored_bytes"]
    assert after < before - 300_000
    assert run_cli("fsck", cwd=project).returncode == 0
    git_fsck(project)


def test_push_and_pull_carry_a_deletion_and_never_bring_the_version_back(project, tmp_path):
    first = save_artifact([1], name="t")
    second = save_artifact([2], name="t")
    bucket = tmp_path / "bucket"
    run_cli("remote", "add", "origin", str(bucket), "--trusted", cwd=project, check=True)
    run_cli("push", cwd=project, check=True)
    other = tmp_path / "other"
    run_cli("clone", "--trusted", str(bucket), str(other), cwd=tmp_path, check=True)

    Client().delete_artifact_version(first.id)
    run_cli("pull", cwd=project, check=True)  # the remote still publishes it: not brought back
    assert listed(project, "t") == ["2"]
    run_cli("push", cwd=project, check=True)  # the deletion reaches the remote
    fresh = tmp_path / "fresh"
    run_cli("clone", "--trusted", str(bucket), str(fresh), cwd=tmp_path, check=True)
    assert listed(fresh, "t") == ["2"]

    run_cli("pull", cwd=other, check=True)  # a clone made before the deletion drops the version
    assert listed(other, "t") == ["2"]
    run_cli("artifact", "version", "delete", second.id, "-y", cwd=other, check=True)
    save_artifact([3], name="u")  # a push from the first clone, before it pulls the second deletion
    run_cli("push", cwd=project, check=True)
    assert listed(project, "t") == ["2"]
    run_cli("push", cwd=other, check=True)
    run_cli("pull", cwd=project, check=True)
    assert run_cli("artifact", "version", "list", "--artifact", "t", "-o", "json", cwd=project,
                   check=True).stdout.count('"version"') == 0
    for where in (project, other, fresh):
        git_fsck(where)
