"""The seed "The metadata and artifact stores" (ZenML's 2020 docs).

Its code (`TrainerStep`, `Repository().get_pipeline_by_name`, `pipeline_a.copy`,
`zenml config metadata set`) is ZenML's first API, which ZenML 0.98 no longer
has either (`zenml.repo` and `zenml.steps.TrainerStep` do not exist): it is
not run here (docs/zenml.md). What the page promises still holds, and is
tested with today's API: "Reusing Artifacts with Caching" -- pipeline B,
sharing pipeline A's steps, reuses their outputs.
"""
from artrepo import Client
from compat_scripts import run_script

PIPELINES = '''
import numpy as np
from artrepo import pipeline, step

@step
def load() -> np.ndarray:
    return np.arange(10)

@step
def double(x: np.ndarray) -> np.ndarray:
    return x * 2

@step
def train_a(x: np.ndarray) -> float:
    return float(x.sum())

@step
def train_b(x: np.ndarray) -> float:
    return float(x.mean())

@pipeline(name="Pipeline_A")
def pipeline_a():
    train_a(double(load()))

@pipeline(name="Pipeline_B")
def pipeline_b():
    train_b(double(load()))

if __name__ == "__main__":
    pipeline_a()
    pipeline_b()
'''


def test_pipeline_b_reuses_the_steps_it_shares_with_pipeline_a(project):
    run_script(project, PIPELINES, "pipelines_ab")
    b = Client().list_pipeline_runs(pipeline="Pipeline_B")[0]
    assert b.steps["load"].cached and b.steps["double"].cached and not b.steps["train_b"].cached
    # As in ZenML 0.98: B reuses A's versions, under A's default names; none is made for B.
    assert b.steps["double"].outputs["output"].name == "Pipeline_A::double::output"
    assert [a.name for a in Client().list_artifacts() if a.name.startswith("Pipeline_B::")] == \
        ["Pipeline_B::train_b::output"]
