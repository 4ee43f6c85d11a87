"""Issue 12 item 10: ZenML's smaller habits -- output types checked, `cached` status, the active stack."""
import os
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import pytest
from typing_extensions import Annotated

from artrepo import Client, pipeline, register_artifact, step
from artrepo.exceptions import StepInterfaceError
from artrepo_testing import run_cli
from compat_scripts import run_script

WRONG_TYPE = '''
from artrepo import pipeline, step

@step
def bad() -> int:
    return "not an int"

@pipeline
def p():
    bad()

if __name__ == "__main__":
    p()
'''


def test_a_value_of_the_wrong_type_fails_the_step_with_zenmls_message(project):
    proc = run_script(project, WRONG_TYPE, "wrong", ok=False)
    message = ("Wrong type for output 'output' of step 'bad' (expected type: <class 'int'>, "
               "actual type: <class 'str'>).")
    assert proc.returncode == 1 and message in proc.stderr
    run = Client().list_pipeline_runs()[0]
    assert run.status == "failed" and run.steps["bad"].error == message
    assert not Client().list_artifact_versions()  # nothing was saved for it
    cli = run_cli("run", "wrong.py", cwd=project)
    assert cli.returncode == 1 and message in cli.stderr and "Traceback" not in cli.stderr


@step
def several() -> Tuple[Annotated[int, "count"], Annotated[List[int], "items"]]:
    return 2, (1, 2)


@pipeline
def p_several():
    several()


def test_each_output_is_checked_by_name(project):
    with pytest.raises(Exception, match=r"Wrong type for output 'items' of step 'several' \(expected type: "
                                        r"<class 'list'>, actual type: <class 'tuple'>\)"):
        p_several()


@step
def loose() -> Tuple[Annotated[Optional[int], "maybe"], Annotated[Union[int, str], "either"],
                     Annotated[Any, "anything"], Annotated[Dict[str, int], "mapping"],
                     Annotated[np.ndarray, "array"]]:
    return None, "x", object.__name__, {"a": 1}, np.arange(3)


@step
def unannotated():
    return "whatever"


@pipeline
def p_loose():
    loose()
    unannotated()


def test_unions_any_generics_and_no_annotation_accept_what_they_declare(project):
    run = p_loose()
    assert run.status == "completed"
    assert run.steps["loose"].outputs["either"].load() == "x"


def test_a_step_served_from_cache_reads_cached(project):
    p_loose()
    again = p_loose()
    assert {s.status for s in again.steps.values()} == {"cached"}
    assert all(s.cached for s in again.steps.values())


def test_the_active_stacks_artifact_store_is_where_files_are_registered_from(project):
    stack = Client().active_stack
    assert stack.name == "default" and stack.orchestrator.flavor == "local"
    store = stack.artifact_store
    assert os.path.samefile(store.path, project)
    folder = os.path.join(store.path, "checkpoints")
    store.makedirs(folder)
    with store.open(os.path.join(folder, "epoch-0.ckpt"), "w") as f:
        f.write("0")
    assert store.listdir(folder) == ["epoch-0.ckpt"]
    version = register_artifact(folder, name="ckpts")
    assert (version.load() / "epoch-0.ckpt").read_text() == "0"
    with pytest.raises(FileNotFoundError, match="outside of artifact store bounds"):
        store.open("/tmp/elsewhere.txt", "w")


def test_zenml_exception_names(project):
    from artrepo.errors import ConflictError, UserError
    from artrepo.exceptions import EntityExistsError

    assert issubclass(StepInterfaceError, UserError) and EntityExistsError is ConflictError
