"""Pipelines in process: outputs versioned, runs recorded, caching, failures, bad input."""
from __future__ import annotations

import threading
from typing import Tuple

import pytest
from typing_extensions import Annotated

from artrepo import (ArtifactConfig, Client, ExternalArtifact, get_step_context, load_artifact, log_artifact_metadata,
                     pipeline, save_artifact, step)
from artrepo.errors import ConflictError, InvalidNameError, UserError
from artrepo.runtime.driver import StepFailedError

CALLS: list[str] = []


@step
def numbers(n: int = 3) -> Annotated[list, "numbers"]:
    CALLS.append("numbers")
    return list(range(n))


@step
def parity(values: list) -> Annotated[int, "parity"]:
    CALLS.append("parity")
    return len(values) % 2


@step
def total(values: list) -> Annotated[int, ArtifactConfig(name="total", tags=["sum"], run_metadata={"unit": "n"})]:
    CALLS.append("total")
    get_step_context().add_output_tags(tags=["ctx"])
    log_artifact_metadata(metadata={"count": len(values)})
    return sum(values)


@pipeline
def counting(n: int = 3):
    vals = numbers(n=n)
    total(vals)


@pytest.fixture(autouse=True)
def _reset_calls():
    CALLS.clear()


def test_run_versions_outputs_and_records_steps(repo):
    run = counting()
    assert run.status == "completed" and list(run.steps) == ["numbers", "total"]
    step_run = run.steps["total"]
    assert step_run.inputs["values"].load() == [0, 1, 2]
    out = step_run.outputs["total"]
    assert out.load() == 3 and out.version == "1"
    assert out.tags == ["sum", "ctx"] and out.run_metadata["count"] == 3 and out.run_metadata["unit"] == "n"
    assert out.producer.name == "total" and out.producer.run_id == run.id
    assert Client().get_pipeline_run(run.id[:8]).steps["total"].outputs["total"] == out
    assert [r.id for r in Client().list_pipeline_runs()] == [run.id]


def test_second_run_is_served_from_cache_without_new_versions(repo):
    first = counting()
    CALLS.clear()
    second = counting()
    assert CALLS == []
    assert all(s.cached for s in second.steps.values())
    assert second.steps["total"].outputs["total"] == first.steps["total"].outputs["total"]
    assert [v.version for v in Client().list_artifact_versions("total")] == ["1"]


def test_changed_parameter_misses_only_where_it_matters(repo):
    counting(n=3)
    CALLS.clear()
    counting(n=4)
    assert CALLS == ["numbers", "total"]
    CALLS.clear()
    run = counting(n=3)
    assert CALLS == [] and run.steps["total"].outputs["total"].version == "1"


@step(enable_cache=False)
def always_numbers() -> Annotated[list, "always"]:
    CALLS.append("always")
    return [1, 2]


@pipeline
def identical_upstream():
    total(always_numbers())


def test_upstream_rerun_with_identical_data_keeps_downstream_cached(repo):
    identical_upstream()
    CALLS.clear()
    run = identical_upstream()
    assert CALLS == ["always"]
    assert not run.steps["always_numbers"].cached and run.steps["total"].cached
    assert run.steps["always_numbers"].outputs["always"].version == "2"


def test_deleted_output_forces_a_miss(repo):
    first = counting()
    out = first.steps["total"].outputs["total"]
    assert repo.refs.delete(f"refs/artrepo/v/total/{out.version}", out.id)
    CALLS.clear()
    run = counting()
    assert CALLS == ["total"] and not run.steps["total"].cached and run.steps["numbers"].cached
    assert run.steps["total"].outputs["total"].load() == 3


def test_no_cache_pipeline_option_and_external_artifact_disable_cache(repo):
    counting()
    CALLS.clear()
    counting.with_options(enable_cache=False)()
    assert CALLS == ["numbers", "total"]

    @pipeline
    def external():
        total(ExternalArtifact(value=[5, 5]))

    external()
    CALLS.clear()
    run = external()
    assert CALLS == ["total"] and run.steps["total"].outputs["total"].load() == 10


_FAIL = {"on": True}


@step
def fragile(values: list) -> Annotated[int, "fragile"]:
    CALLS.append("fragile")
    if _FAIL["on"]:
        raise ValueError("boom")
    return 1


@pipeline
def breaking():
    vals = numbers()
    out = fragile(vals)
    parity(vals, after=out)


def test_failure_skips_downstream_keeps_outputs_and_rerun_uses_cache(repo):
    _FAIL["on"] = True
    with pytest.raises(StepFailedError, match="boom") as info:
        breaking()
    run = info.value.run
    assert run.status == "failed"
    assert [s.status for s in run.steps.values()] == ["completed", "failed", "skipped"]
    failed = run.steps["fragile"]
    assert "ValueError: boom" in failed.error and "raise ValueError" in failed.traceback
    assert load_artifact("numbers") == [0, 1, 2]
    assert Client().get_pipeline_run(run.id).status == "failed"
    _FAIL["on"] = False
    CALLS.clear()
    rerun = breaking()
    assert rerun.status == "completed" and CALLS == ["fragile", "parity"]
    assert rerun.steps["numbers"].cached


def test_late_artifact_resolves_when_the_step_runs(repo):
    save_artifact([10, 20], name="numbers", version="raw")

    @pipeline
    def late():
        made = numbers(n=2)
        total(Client().get_artifact_version("numbers"), after=made)

    run = late()
    # the latest "numbers" is the one the first step just made, not "raw"
    assert run.steps["total"].inputs["values"].version == "1"
    assert run.steps["total"].outputs["total"].load() == 1


def test_tuple_outputs_and_default_names(repo):
    @step
    def pair() -> Tuple[int, str]:
        return 1, "a"

    @step
    def single():
        return {"k": 1}

    @pipeline
    def named():
        pair()
        single()

    run = named()
    assert {k: v.name for k, v in run.steps["pair"].outputs.items()} == {
        "output_0": "named::pair::output_0", "output_1": "named::pair::output_1"}
    assert run.steps["single"].outputs["output"].name == "named::single::output"
    assert load_artifact("named::pair::output_1") == "a"


def test_save_artifact_inside_a_step_is_recorded_as_its_output(repo):
    @step
    def saver() -> None:
        save_artifact([1], name="side")

    @pipeline
    def side():
        saver()

    run = side()
    av = run.steps["saver"].outputs["side"]
    assert av.producer.run_id == run.id and av.load() == [1]


def _nothing_written(repo):
    return not repo.refs.list_prefix("refs/artrepo/runs") and not repo.names()


def test_invalid_output_name_fails_before_any_step(repo):
    @step
    def bad() -> Annotated[int, "bad name!"]:
        CALLS.append("bad")
        return 1

    @pipeline
    def p():
        numbers()
        bad()

    with pytest.raises(InvalidNameError, match="bad name!"):
        p()
    assert CALLS == [] and _nothing_written(repo)


def test_duplicate_custom_version_fails_before_any_step(repo):
    save_artifact(1, name="fixed", version="v1")

    @step
    def fixed() -> Annotated[int, ArtifactConfig(name="fixed", version="v1")]:
        CALLS.append("fixed")
        return 2

    @pipeline
    def p():
        numbers()
        fixed()

    with pytest.raises(ConflictError, match="fixed:v1 already exists"):
        p()
    assert CALLS == [] and not repo.refs.list_prefix("refs/artrepo/runs")


def test_cycle_and_missing_input_fail_before_any_step(repo):
    @pipeline
    def cyclic():
        numbers(id="a", after="b")
        numbers(id="b", after="a")

    with pytest.raises(UserError, match="cycle: a -> b -> a|cycle: b -> a -> b"):
        cyclic()

    @pipeline
    def missing():
        total()

    with pytest.raises(UserError, match="missing input 'values'"):
        missing()
    assert CALLS == [] and _nothing_written(repo)


def test_unpicklable_output_is_a_clear_materializer_error(repo):
    @step
    def locked():
        return threading.Lock()

    @pipeline
    def p():
        locked()

    with pytest.warns(UserWarning, match="cloudpickle"):
        with pytest.raises(StepFailedError, match="cannot be pickled"):
            p()


def test_object_without_materializer_falls_back_to_cloudpickle_with_warning(repo):
    class Box:
        def __init__(self, v):
            self.v = v

    @step
    def boxed() -> Annotated[object, "box"]:
        return Box(7)

    @pipeline
    def p():
        boxed()

    with pytest.warns(UserWarning, match="no materializer"):
        run = p()
    assert run.steps["boxed"].outputs["box"].load().v == 7


def test_get_step_context_outside_a_step_is_a_clear_error():
    with pytest.raises(UserError, match="only inside a running step"):
        get_step_context()


@step
def slow_a() -> Annotated[int, "a"]:
    return 1


@step
def slow_b() -> Annotated[int, "b"]:
    return 2


@step
def join(a: int, b: int) -> Annotated[int, "joined"]:
    return a + b


@pipeline(parallel=2)
def fan():
    join(slow_a(), slow_b())


def test_parallel_run_records_the_same_result_as_sequential(repo):
    par = fan()
    seq = fan.with_options(parallel=1, enable_cache=False)()
    shape = lambda r: [(s.name, s.status, s.upstream, {k: v.content_hash for k, v in s.outputs.items()})
                       for s in r.steps.values()]
    assert shape(par) == shape(seq)
    assert par.steps["join"].outputs["joined"].load() == 3
