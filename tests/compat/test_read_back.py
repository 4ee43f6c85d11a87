"""Issue 12 item 5: reading results back through `Client()` with ZenML's spellings, as a ZenML user's script
does it (only the import changed)."""
from pathlib import Path
from typing import Annotated, Tuple
from uuid import UUID

import numpy as np
import pytest

from artrepo import ArtifactConfig, pipeline, save_artifact, step
from artrepo.client import Client
from artrepo.errors import UserError


@step
def load_data(rows: int = 4) -> Annotated[np.ndarray, ArtifactConfig(name="iris_dataset", tags=["raw"])]:
    return np.arange(rows * 2).reshape(rows, 2)


@step
def split(data: np.ndarray) -> Tuple[Annotated[np.ndarray, "train"], Annotated[np.ndarray, "test"]]:
    return data[:-1], data[-1:]


@pipeline
def training(rows: int = 4):
    train, _test = split(load_data(rows=rows))


def test_list_artifact_versions_takes_zenmls_keywords_and_returns_a_page(project):
    training(rows=4)
    training(rows=5)
    save_artifact(np.zeros(3), name="iris_dataset", tags=["approved"])
    client = Client()
    page = client.list_artifact_versions(name="iris_dataset", sort_by="desc:created", size=2, page=1)
    assert page.total == 3 and page.size == 2 and len(page.items) == 2
    assert [v.version for v in page] == ["3", "2"]
    assert [v.version for v in client.list_artifact_versions(name="iris_dataset", sort_by="desc:created", size=2,
                                                             page=2)] == ["1"]
    assert [v.version for v in client.list_artifact_versions(name="iris_dataset")] == ["1", "2", "3"]  # ZenML's order
    assert client.list_artifact_versions(name="iris_dataset")[-1].version == "3"  # so `[-1]` is the latest
    assert [v.version for v in client.list_artifact_versions(tag="approved")] == ["3"]
    assert {v.name for v in client.list_artifact_versions(tags=["raw"])} == {"iris_dataset"}
    assert [v.version for v in client.list_artifact_versions(artifact="iris_dataset", version="2")] == ["2"]
    assert {v.name for v in client.list_artifact_versions(type="DataArtifact")} >= {"train", "test"}
    with pytest.raises(UserError, match="user"):
        client.list_artifact_versions(user="me")  # an option artrepo does not implement: named, not dropped


def test_versions_runs_and_steps_read_back_as_zenml_shapes_them(project):
    training(rows=4)
    second = training(rows=5)
    client = Client()
    artifact = client.get_artifact("iris_dataset")
    assert list(artifact.versions) == ["1", "2"]  # a dict by version, as ZenML returns it
    latest = artifact.versions["2"]
    assert latest.load().shape == (5, 2)
    assert latest.run.id == second.id and latest.step.name == "load_data"
    assert latest.producer_step_run_id == latest.step.id
    assert latest.artifact.name == "iris_dataset"
    assert np.array_equal(np.load(next(Path(latest.uri).rglob("*.npy"))), latest.load())  # a read-only copy

    pipe = client.get_pipeline("training")
    assert pipe.last_run.id == second.id and [r.id for r in pipe.runs][0] == second.id and len(pipe.runs) == 2
    run = client.get_pipeline_run(second.name)  # a run's name names it too
    assert run.id == second.id and run.pipeline.name == "training"
    assert run.steps["load_data"].config.parameters == {"rows": 5}
    train = run.steps["split"].outputs["train"]
    assert train[0].load().shape == (4, 2)  # ZenML's list of versions...
    assert train.load().shape == (4, 2)  # ...that also answers as its one version
    assert run.steps["load_data"].output.id == latest.id
    with pytest.raises(UserError, match="outputs"):
        run.steps["split"].output  # two outputs: `.output` names them


def test_ids_are_content_hashes_accepted_whole_or_by_unique_prefix(project):
    v = save_artifact([1, 2], name="numbers")
    with pytest.raises(ValueError):
        UUID(v.id)  # docs/zenml.md: content ids, not UUIDs
    client = Client()
    for ref in (str(v.id), v.id[:8]):
        assert client.get_artifact_version(ref).id == v.id
    assert [x.id for x in client.list_artifact_versions(id=f"startswith:{v.id[:8]}")] == [v.id]


def test_download_files_and_visualize_take_zenmls_keywords(project, tmp_path):
    v = save_artifact(np.arange(4), name="numbers")
    target = tmp_path / "out.zip"
    v.download_files(target)
    with pytest.raises(UserError, match="already exists"):
        v.download_files(target)
    v.download_files(target, overwrite=True)
    assert target.stat().st_size > 0
    assert isinstance(v.visualize(title="numbers"), list)
