"""Issue 12 item 8: tags as ZenML has them, only the import changed.

Tag objects with `.name` (equal to their string), artifact-level tags,
`add_tags` / `remove_tags`, `update_artifact_version(add_tags=, remove_tags=)`;
removal is an annotation that removes: the version never changes.
"""
import json
import pickle

import numpy as np
import pytest
from typing_extensions import Annotated

from artrepo import ArtifactConfig, Tag, add_tags, pipeline, remove_tags, save_artifact, step
from artrepo.client import Client
from artrepo.errors import NotFoundError, UserError
from artrepo_testing import git_fsck, run_cli


def names(tags):
    return [t.name for t in tags]


def test_tags_are_objects_with_a_name_that_equal_their_text(project):
    v = save_artifact(np.arange(5), name="arr", tags=["a", Tag(name="b")])
    tags = Client().get_artifact_version("arr").tags
    assert names(tags) == ["a", "b"] and tags == ["a", "b"] and "a" in tags
    assert isinstance(tags[0], Tag) and repr(tags[0]) == "Tag('a')" and f"{tags[0]}" == "a"
    assert json.dumps(tags) == '["a", "b"]' and pickle.loads(pickle.dumps(tags[0])).name == "a"
    assert v.tags == tags
    with pytest.raises(UserError, match="not exclusive"):
        Tag(name="x", exclusive=True)


def test_add_and_remove_tags_of_a_version_as_zenml_writes_them(project):
    v = save_artifact(np.arange(5), name="arr7", tags=["a", "b"])
    add_tags(tags=["c", Tag(name="d")], artifact_name="arr7", artifact_version="1")
    remove_tags(tags=["a"], artifact_name="arr7", artifact_version="1")
    remove_tags(tags=["nonexistent"], artifact_name="arr7", artifact_version="1")  # silent, as in ZenML
    add_tags("e", artifact_version_id=v.id)
    again = Client().get_artifact_version("arr7", "1")
    assert names(again.tags) == ["b", "c", "d", "e"]
    assert again.id == v.id and again.record == v.record  # the version itself never changed
    add_tags(["a"], artifact_name="arr7", artifact_version="1")  # removed, then added again
    assert names(Client().get_artifact_version("arr7").tags) == ["b", "c", "d", "e", "a"]
    git_fsck(project)


def test_update_artifact_version_adds_then_removes(project):
    save_artifact([1], name="t", tags=["old", "keep"])
    updated = Client().update_artifact_version("t", version="1", add_tags=["new", "gone"], remove_tags=["old", "gone"])
    assert names(updated.tags) == ["keep", "new"]
    assert names(Client().update_artifact_version("t").tags) == ["keep", "new"]  # nothing to do: no record
    assert [v.version for v in Client().list_artifact_versions(tag="new")] == ["1"]
    assert Client().list_artifact_versions(tag="old") == []


def test_artifact_level_tags_are_apart_from_version_tags(project):
    save_artifact([1], name="arr7", tags=["v-tag"])
    add_tags(tags=["art_tag"], artifact="arr7")
    artifact = Client().get_artifact("arr7")
    assert names(artifact.tags) == ["art_tag"]
    assert names(artifact.latest.tags) == ["v-tag"]
    updated = Client().update_artifact("arr7", add_tags=["f"], remove_tags=["art_tag"])
    assert names(updated.tags) == ["f"] and names(Client().get_artifact("arr7").tags) == ["f"]
    save_artifact([2], name="arr7")  # a new version does not touch the artifact's tags
    assert names(Client().get_artifact("arr7").tags) == ["f"]
    with pytest.raises(NotFoundError):
        add_tags("x", artifact="nope")
    with pytest.raises(UserError, match="cannot be renamed"):
        Client().update_artifact("arr7", new_name="other")


def test_tags_inside_a_step_go_to_its_output(project):
    @step
    def produce() -> Annotated[str, ArtifactConfig(name="artifact_name", tags=["tag_name"])]:
        add_tags(tags=["from_step"], infer_artifact=True)
        return "string"

    @pipeline
    def tagging():
        produce()

    run = tagging()
    assert names(run.steps["produce"].outputs["artifact_name"].tags) == ["tag_name", "from_step"]


def test_unsupported_targets_are_one_line_errors(project):
    save_artifact([1], name="t")
    for kwargs, message in [({"run": "abcd"}, "no pipeline run 'abcd'"),
                            ({"pipeline": "p"}, "add_tags\\(pipeline=\\) is not supported"),
                            ({"artifact_name": "t"}, "needs artifact_version= too"),
                            ({}, "outside a step needs a target"),
                            ({"infer_artifact": True}, "works only inside a running step")]:
        with pytest.raises(UserError, match=message):
            add_tags(["x"], **kwargs)
    assert Client().get_artifact_version("t").tags == []


def test_removals_travel_with_push_and_pull(project, tmp_path):
    save_artifact([1], name="t", tags=["a", "b"])
    remove_tags("a", artifact_name="t", artifact_version="1")
    run_cli("remote", "add", "origin", str(tmp_path / "bucket"), cwd=project, check=True)
    run_cli("push", cwd=project, check=True)
    run_cli("clone", str(tmp_path / "bucket"), str(tmp_path / "clone"), cwd=tmp_path, check=True)
    shown = json.loads(run_cli("show", "t", "--json", cwd=tmp_path / "clone", check=True).stdout)
    assert shown["tags"] == ["b"]
