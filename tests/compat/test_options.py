"""Issue 12 item 6: nothing silently ignored. `configure` configures in place, `with_options(run_name=,
config_path=)` work, a config file's `run_name` is used, and every ZenML option artrepo does not implement
is a one-line error naming it, in Python and on the command line."""
import pytest

from artrepo import pipeline, step
from artrepo.client import Client
from artrepo.errors import UserError
from artrepo_testing import run_cli

calls = []


@step
def count(n: int = 1) -> int:
    calls.append(n)
    return n


@pipeline
def counting(n: int = 1):
    count(n=n)


def test_configure_changes_the_pipeline_in_place(project):
    calls.clear()
    counting()
    assert counting().steps["count"].cached
    counting.configure(enable_cache=False)
    assert not counting().steps["count"].cached and len(calls) == 2
    counting.configure(enable_cache=True)
    assert counting().steps["count"].cached


def test_with_options_sets_the_run_name_and_reads_a_config_file(project):
    config = project / "prod.yaml"
    config.write_text("run_name: from_config\nparameters:\n  n: 7\n")
    run = counting.with_options(config_path=str(config))()
    assert run.name == "from_config" and run.steps["count"].output.load() == 7
    named = counting.with_options(run_name="nightly_{date}")()
    assert named.name.startswith("nightly_") and "{" not in named.name
    assert Client().get_pipeline_run(named.name).id == named.id
    assert counting().name != "from_config"  # with_options made a copy: the pipeline itself is unchanged


@pytest.mark.parametrize("option, value", [("experiment_tracker", "mlflow"), ("step_operator", "sagemaker"),
                                           ("model", "iris_classifier"), ("retry", {"max_retries": 2})])
def test_an_option_artrepo_does_not_implement_is_an_error_naming_it(project, option, value):
    with pytest.raises(UserError, match=f"'{option}' is not supported"):
        step(**{option: value})(lambda: 1)
    with pytest.raises(UserError, match=f"'{option}' is not supported"):
        counting.configure(**{option: value})
    with pytest.raises(UserError, match=f"'{option}'"):
        counting.with_options(**{option: value})


def test_a_config_file_option_artrepo_does_not_implement_is_one_line_on_stderr(project):
    (project / "run.py").write_text(
        "from artrepo import pipeline, step\n\n"
        "@step\ndef one() -> int:\n    return 1\n\n"
        "@pipeline\ndef p():\n    one()\n")
    (project / "bad.yaml").write_text("settings:\n  docker:\n    parent_image: x\n")
    proc = run_cli("run", "run.py", "--config", "bad.yaml", cwd=project)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "'settings' is not supported" in proc.stderr
    assert Client().list_pipeline_runs().total == 0  # refused before anything ran


def test_run_name_in_a_config_file_names_the_run_on_the_command_line(project):
    (project / "run.py").write_text(
        "from artrepo import pipeline, step\n\n"
        "@step\ndef one() -> int:\n    return 1\n\n"
        "@pipeline\ndef p():\n    one()\n")
    (project / "nightly.yaml").write_text("run_name: nightly_{date}\n")
    run_cli("run", "run.py", "--config", "nightly.yaml", cwd=project, check=True)
    (run,) = Client().list_pipeline_runs()
    assert run.name.startswith("nightly_") and Client().get_pipeline("p").last_run.name == run.name
