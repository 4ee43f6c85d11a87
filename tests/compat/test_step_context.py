"""Issue 12 items 7 and 9: the step context (`pipeline`, `pipeline_run`, `step_run`, `inputs`,
`get_output_artifact_uri()`, `get_output_materializer()`) and metadata logged on step runs and runs, as a
ZenML user's step writes them (only the import changed)."""
import os
from pathlib import Path
from typing import Annotated

import numpy as np
import pytest

from artrepo import get_step_context, log_metadata, pipeline, step
from artrepo.client import Client
from artrepo.errors import UserError
from artrepo.materializers.numpy_materializer import NumpyMaterializer

seen = {}


@step
def make() -> Annotated[np.ndarray, "features"]:
    return np.arange(6)


@step
def inspect(features: np.ndarray) -> Annotated[int, "total"]:
    ctx = get_step_context()
    seen["pipeline"] = ctx.pipeline.name
    seen["run"] = (ctx.pipeline_run.id, ctx.pipeline_run.name)
    seen["step"] = ctx.step_run.name
    seen["input"] = ctx.inputs["features"][0].name  # ZenML's list of versions
    seen["input_id"] = ctx.inputs["features"].id  # ...that also answers as its one version
    return int(features.sum())


@pipeline
def looking():
    inspect(make())


def test_a_step_sees_its_pipeline_run_step_and_inputs(project):
    run = looking()
    assert seen["pipeline"] == "looking" and seen["run"] == (run.id, run.name) and seen["step"] == "inspect"
    assert seen["input"] == "features" and seen["input_id"] == run.steps["make"].output.id
    assert run.steps["inspect"].output.load() == 15


@step
def with_report() -> Annotated[np.ndarray, "scores"]:
    ctx = get_step_context()
    uri = ctx.get_output_artifact_uri()
    with open(os.path.join(uri, "report.txt"), "w") as f:  # written beside the value: part of the version
        f.write("all good\n")
    assert isinstance(ctx.get_output_materializer(), NumpyMaterializer)
    assert ctx.get_output_materializer().uri == uri
    return np.ones(3)


@pipeline
def reporting():
    with_report()


def test_files_written_at_the_output_uri_join_the_output(project):
    out = reporting().steps["with_report"].output
    assert np.array_equal(out.load(), np.ones(3))
    assert (Path(out.uri) / "report.txt").read_text() == "all good\n"
    assert out.id == Client().get_artifact_version("scores").id


@step
def train() -> int:
    log_metadata({"loss": 0.25})  # in a step, no target: the step run
    ctx = get_step_context()
    log_metadata({"owner": "ml"}, run_id_name_or_prefix=ctx.pipeline_run.id)
    log_metadata({"epochs": 3}, step_name="train", run_id_name_or_prefix=ctx.pipeline_run.id)
    return 1


@pipeline
def training():
    train()


def test_metadata_lands_on_the_step_run_and_the_run_during_and_after(project):
    run = training()
    assert run.steps["train"].run_metadata == {"loss": 0.25, "epochs": 3}
    assert run.run_metadata["owner"] == "ml"
    log_metadata({"reviewed": True}, step_name="train", run_id_name_or_prefix=run.name)  # later, by run name
    log_metadata({"approved": "yes"}, run_id_name_or_prefix=run.id[:10])  # or by a unique id prefix
    again = Client().get_pipeline_run(run.id)
    assert again.steps["train"].run_metadata == {"loss": 0.25, "epochs": 3, "reviewed": True}
    assert again.run_metadata["approved"] == "yes" and again.run_metadata["owner"] == "ml"
    with pytest.raises(UserError, match="no step 'nope'"):
        log_metadata({"a": 1}, step_name="nope", run_id_name_or_prefix=run.id)
