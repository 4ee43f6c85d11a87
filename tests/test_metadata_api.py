"""Issue 12 item 7: the current metadata API, written as ZenML (>= 0.70) users write it.

`log_metadata(metadata, artifact_name=, artifact_version=, artifact_version_id=,
infer_artifact=, ...)`, `save_artifact(user_metadata=, extract_metadata=,
include_visualizations=)`, `register_artifact(artifact_metadata=)`;
`log_artifact_metadata` stays.
"""
import numpy as np
import pandas as pd
import pytest
from typing_extensions import Annotated

from artrepo import (ArtifactConfig, ArtifactType, ExternalArtifact, load_artifact, log_artifact_metadata,
                     log_metadata, pipeline, register_artifact, save_artifact, step)
from artrepo.client import Client
from artrepo.errors import UserError


def test_log_metadata_on_a_version_by_name_and_version_or_by_id(project):
    v = save_artifact(np.arange(5), name="arr7", user_metadata={"k": 1})
    assert v.run_metadata["k"] == 1 and v.run_metadata["shape"] == [5]
    log_metadata(metadata={"x": 1}, artifact_name="arr7", artifact_version="1")
    log_metadata(metadata={"y": 2}, artifact_version_id=v.id)
    log_metadata(metadata={"z": 3}, artifact_version_id=v.id[:10])  # any unique prefix
    meta = Client().get_artifact_version("arr7", "1").run_metadata
    assert {meta[k] for k in "kxyz"} == {1, 2, 3} and meta["x"] == 1 and meta["z"] == 3


def test_log_metadata_inside_a_step_goes_to_its_output(project):
    @step
    def train() -> Annotated[int, ArtifactConfig(name="my_model")]:
        log_metadata(metadata={"accuracy": 0.93}, infer_artifact=True)
        log_metadata(metadata={"group": {"f1": 0.9}}, artifact_name="my_model", infer_artifact=True)
        return 1

    @pipeline
    def training():
        train()

    run = training()
    meta = run.steps["train"].outputs["my_model"].run_metadata
    assert meta["accuracy"] == 0.93 and meta["group"] == {"f1": 0.9}


def test_forms_artrepo_cannot_record_are_one_line_errors_not_dropped(project):
    save_artifact(1, name="one")
    for kwargs, message in [({"artifact_name": "one"}, "needs artifact_version= too"),
                            ({}, "outside a step needs a target"),
                            ({"infer_artifact": True}, "works only inside a running step"),
                            ({"step_name": "s", "run_id_name_or_prefix": "abcd"}, "no pipeline run 'abcd'"),
                            ({"run_id_name_or_prefix": "abcd"}, "no pipeline run 'abcd'"),
                            ({"step_name": "s"}, "unsupported combination"),
                            ({"model_name": "m", "model_version": "1"}, "no model registry")]:
        with pytest.raises(UserError, match=message):
            log_metadata(metadata={"lost": True}, **kwargs)
    assert "lost" not in Client().get_artifact_version("one").run_metadata


def test_log_artifact_metadata_stays(project):
    save_artifact(1, name="old_api")
    log_artifact_metadata(metadata={"old": True}, artifact_name="old_api")
    assert Client().get_artifact_version("old_api").run_metadata["old"] is True


def test_save_artifact_without_extracted_metadata_or_visualizations(project):
    frame = pd.DataFrame({"a": np.arange(10.0)})
    full = save_artifact(frame, name="df")
    assert full.run_metadata["shape"] == [10, 1] and full.visualizations
    bare = save_artifact(frame, name="df", extract_metadata=False, include_visualizations=False,
                         user_metadata={"u": 1})
    # ZenML 0.98 also drops user_metadata when extract_metadata=False: a bug artrepo does not copy.
    assert bare.run_metadata == {"u": 1, "storage_size": bare.size}
    assert bare.visualizations == [] and bare.materializer == full.materializer == "pandas/v1"
    assert bare.content_hash == full.content_hash and load_artifact("df").equals(frame)
    no_vis = save_artifact(np.eye(16), name="eye", include_visualizations=False)
    assert no_vis.visualizations == [] and no_vis.run_metadata["shape"] == [16, 16]
    with pytest.raises(UserError, match="not both"):
        save_artifact(1, name="x", metadata={"a": 1}, user_metadata={"b": 2})
    with pytest.raises(UserError, match="must be a BaseMaterializer subclass"):
        save_artifact(1, name="x", materializer="my.module.Materializer", extract_metadata=False)
    with pytest.raises(UserError, match="uri="):
        save_artifact(1, name="x", uri="custom_artifacts/x")


def test_register_artifact_with_zenml_metadata_and_type(project, tmp_path):
    folder = tmp_path / "regdata"
    folder.mkdir()
    (folder / "f.txt").write_text("hi")
    v = register_artifact(folder, name="reg", artifact_metadata={"m": 1}, artifact_type=ArtifactType.MODEL)
    assert v.run_metadata["m"] == 1 and v.type is ArtifactType.MODEL
    assert (load_artifact("reg") / "f.txt").read_text() == "hi"


def test_external_artifact_without_metadata_or_visualizations(project):
    @step
    def ext(x: np.ndarray) -> int:
        return len(x)

    @pipeline
    def p10e():
        ext(x=ExternalArtifact(value=np.arange(4), store_artifact_metadata=False,
                               store_artifact_visualizations=False))

    run = p10e()
    given = run.steps["ext"].inputs["x"]
    assert given.visualizations == [] and "shape" not in given.run_metadata
