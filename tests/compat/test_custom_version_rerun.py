"""Issue 12 item 1: a step with a custom output version, run again as a ZenML user runs it.

A second run of an unchanged step is a cache hit (nothing is saved, so the
version is not saved twice); only a step that must really run again with that
version is refused, with one line, before any step runs -- or, when it can
only be decided once an upstream step ran, before its own task starts.
"""
import json

import pytest
from typing_extensions import Annotated

from artrepo import ArtifactConfig, Client, pipeline, step
from artrepo.errors import ConflictError
from artrepo_testing import run_cli
from compat_scripts import run_script

CALLS = []

SCRIPT = '''
from typing_extensions import Annotated
from artrepo import ArtifactConfig, pipeline, step

@step
def training_data_loader(n: int = 3) -> Annotated[list, ArtifactConfig(name="iris_dataset", version="raw_2023")]:
    return list(range(n))

@step
def consumer(data: list, salt: str = "a") -> int:
    return len(data)

@pipeline
def feature_engineering_pipeline(salt: str = "a"):
    consumer(training_data_loader(), salt=salt)

if __name__ == "__main__":
    feature_engineering_pipeline()
'''


@step
def loader(n: int = 3) -> Annotated[list, ArtifactConfig(name="iris_dataset", version="raw_2023")]:
    CALLS.append("loader")
    return list(range(n))


@step
def consumer(data: list, salt: str = "a") -> int:
    CALLS.append("consumer")
    return len(data)


@pipeline
def features(n: int = 3, salt: str = "a"):
    consumer(loader(n=n), salt=salt)


def test_the_second_run_is_a_cache_hit_and_saves_nothing(project):
    features()
    again = features()
    assert again.status == "completed" and again.steps["loader"].status == "cached"
    assert [v.version for v in Client().list_artifact_versions(name="iris_dataset")] == ["raw_2023"]
    third = features(salt="b")  # a changed downstream parameter: the producer stays cached
    assert third.steps["loader"].cached and not third.steps["consumer"].cached


def test_a_step_that_must_run_again_is_refused_before_any_step_runs(project):
    features()
    CALLS.clear()
    runs = len(Client().list_pipeline_runs())
    with pytest.raises(ConflictError, match=r"step 'loader' must run \(caching is off: enable_cache=False\) but "
                                            r"version iris_dataset:raw_2023 already exists"):
        features.with_options(enable_cache=False)()
    with pytest.raises(ConflictError, match=r"step 'loader' must run \(its cache key misses\)"):
        features(n=4)
    assert CALLS == [] and len(Client().list_pipeline_runs()) == runs  # nothing ran, no run recorded


@step
def source(n: int = 3) -> list:
    CALLS.append("source")
    return [0] * n


@step
def keeper(data: list) -> Annotated[int, ArtifactConfig(name="kept", version="v1")]:
    CALLS.append("keeper")
    return len(data)


@pipeline
def kept(n: int = 3):
    keeper(source(n=n))


def test_a_step_fed_by_a_step_that_runs_is_decided_once_its_input_is_known(project):
    kept()
    CALLS.clear()
    # `source` must run (a new parameter) and returns other data: only then is `keeper` known to miss,
    # and it is refused before its task starts (its function never runs, nothing is saved for it)
    with pytest.raises(Exception, match=r"step 'keeper' failed: step 'keeper' must run \(its cache key misses\) "
                                        "but version kept:v1 already exists; custom versions are used once"):
        kept(n=4)
    assert "keeper" not in CALLS and "source" in CALLS
    run = Client().list_pipeline_runs()[0]
    assert run.status == "failed" and run.steps["keeper"].status == "failed"
    assert [v.version for v in Client().list_artifact_versions(name="kept")] == ["v1"]


@step
def constant(n: int = 3) -> list:
    CALLS.append("constant")
    return [0, 0, 0]


@pipeline
def same_data(n: int = 3):
    keeper(constant(n=n))


def test_an_upstream_step_that_runs_again_with_equal_data_keeps_the_custom_version_a_hit(project):
    same_data()
    CALLS.clear()
    run = same_data(n=4)  # `constant` runs again, returns the same list: `keeper`'s inputs are unchanged
    assert CALLS == ["constant"] and run.steps["keeper"].status == "cached"


def test_the_script_run_twice_and_explained(project):
    run_script(project, SCRIPT, "run_twice")
    run_script(project, SCRIPT, "run_twice")
    proc = run_cli("run", "run_twice.py", "--explain", cwd=project, check=True)
    assert "step training_data_loader: cached" in proc.stdout and "cache hit" in proc.stdout
    proc = run_cli("run", "run_twice.py", "--no-cache", cwd=project)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert "step 'training_data_loader' must run (caching is off: --no-cache)" in proc.stderr
    runs = json.loads(run_cli("log", "--json", cwd=project, check=True).stdout)
    assert [r["status"] for r in runs] == ["completed"] * 3
