"""Code reaching the workers (`__main__`, a script's own helper module the workers lack), the cluster a run
starts and stops itself, Ctrl-C, and the orchestrator chosen in code."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from artrepo_testing import git_fsck, run_cli

MAIN_SCRIPT = textwrap.dedent('''
    import json, sys
    from typing_extensions import Annotated
    from artrepo import pipeline, step

    OFFSET = 100

    @step
    def shifted(x: int = 1) -> Annotated[int, "shifted"]:
        return x + OFFSET

    @pipeline
    def in_main(x: int = 1):
        shifted(x=x)

    if __name__ == "__main__":
        run = in_main(x=int(sys.argv[1]))
        step = run.steps["shifted"]
        print(json.dumps({"worker": step.record.executor.get("worker"), "value": step.outputs["shifted"].load(),
                          "dask": "distributed" in sys.modules}))
''')


def _script(project, body: str, name: str = "script.py"):
    (project / name).write_text(body)
    return project / name


def _cli_stack(project, scheduler_address):
    run_cli("stack", "register", "cluster", "--orchestrator", "dask", "--scheduler", scheduler_address, "--set",
            cwd=project, check=True)


def test_a_step_defined_in_main_runs_on_a_worker(project, scheduler_address, dask_cluster):
    _cli_stack(project, scheduler_address)
    _script(project, MAIN_SCRIPT)
    proc = subprocess.run([sys.executable, "script.py", "5"], cwd=project, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["value"] == 105 and out["worker"] in dask_cluster.scheduler_info["workers"]
    git_fsck(project)


def test_a_helper_module_only_the_driver_has_reaches_the_workers(project, scheduler_address, dask_cluster):
    import distributed

    helper = f"helper_{uuid.uuid4().hex[:8]}"
    (project / f"{helper}.py").write_text("def scale(x):\n    return [3 * v for v in x]\n")
    _script(project, textwrap.dedent(f'''
        from typing_extensions import Annotated
        from artrepo import pipeline, step
        from {helper} import scale

        @step
        def scaled() -> Annotated[list, "scaled"]:
            return scale([1, 2, 3])

        @pipeline
        def uses_helper():
            scaled()
    '''), "pipe.py")
    with distributed.Client(scheduler_address, set_as_default=False) as client:
        # what Prefect, Flyte and Metaflow users meet: the workers cannot import the driver's module
        with pytest.raises(ModuleNotFoundError):
            client.submit(__import__, helper, pure=False).result(timeout=60)
    _cli_stack(project, scheduler_address)
    proc = run_cli("run", "pipe.py", cwd=project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "step scaled: completed" in proc.stdout and " on tcp://" in proc.stdout
    assert json.loads(run_cli("show", "scaled", "--json", cwd=project, check=True).stdout)["size"] > 0
    proc = subprocess.run([sys.executable, "-c", "from artrepo import load_artifact; print(load_artifact('scaled'))"],
                          cwd=project, capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[3, 6, 9]"
    git_fsck(project)


def _processes_marked(mark: str) -> list:
    import psutil

    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("ARTREPO_TEST_MARK") == mark:
                found.append(proc)
        except (psutil.Error, OSError):
            pass
    return found


SLOW = textwrap.dedent('''
    import os, time
    from artrepo import pipeline, step

    @step
    def slow(marker: str) -> int:
        open(marker, "w").close()
        time.sleep(120)
        return 1

    @pipeline
    def slow_pipe(marker: str = ""):
        slow(marker=marker)
''')


def test_ctrl_c_cancels_the_run_and_stops_the_cluster_it_started(project, tmp_path):
    run_cli("stack", "register", "own", "--orchestrator", "dask", "--workers", "1", "--set", cwd=project, check=True)
    _script(project, SLOW, "slow.py")
    mark, marker = uuid.uuid4().hex, tmp_path / "started"
    proc = subprocess.Popen([sys.executable, "-m", "artrepo", "run", "slow.py", "-p", f"marker={marker}"], cwd=project,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, "ARTREPO_TEST_MARK": mark})
    deadline = time.monotonic() + 90
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), proc.communicate()[1]
    assert len(_processes_marked(mark)) >= 2  # the driver and its cluster's worker (and nanny)
    start = time.monotonic()
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip().splitlines()[-1] in ("artrepo: aborted", "artrepo: interrupted"), \
        out + err
    assert time.monotonic() - start < 20
    deadline = time.monotonic() + 20
    while _processes_marked(mark) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_marked(mark) == []  # no leaked cluster
    assert json.loads(run_cli("log", "--json", cwd=project, check=True).stdout) == []  # no half-recorded run
    git_fsck(project)


def test_a_run_starts_its_own_local_cluster_and_leaves_no_process(project):
    run_cli("stack", "register", "own", "-o", "dask", "--workers", "2", "--set", cwd=project, check=True)
    _script(project, MAIN_SCRIPT)
    mark = uuid.uuid4().hex
    proc = subprocess.run([sys.executable, "script.py", "1"], cwd=project, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "ARTREPO_TEST_MARK": mark})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["value"] == 101
    deadline = time.monotonic() + 20
    while _processes_marked(mark) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_marked(mark) == []


def test_the_orchestrator_given_in_code_is_used_over_the_default_stack(project, scheduler_address, dask_cluster):
    from artrepo import pipeline, step
    from artrepo.stacks import DaskOrchestrator

    @step
    def where() -> int:
        return os.getpid()

    @pipeline
    def placed():
        where()

    run = placed.with_options(orchestrator=DaskOrchestrator(scheduler=scheduler_address))()
    assert run.steps["where"].outputs["output"].load() != os.getpid()
    assert run.steps["where"].record.executor["worker"] in dask_cluster.scheduler_info["workers"]
    local = placed.with_options(orchestrator="local", enable_cache=False)()
    assert local.steps["where"].outputs["output"].load() == os.getpid() and not local.steps["where"].record.executor


def test_the_dask_orchestrator_without_dask_is_a_one_line_error(project):
    _script(project, MAIN_SCRIPT)
    run_cli("stack", "register", "own", "-o", "dask", "--set", cwd=project, check=True)
    code = ("import sys; sys.modules['distributed'] = None; sys.modules['dask'] = None\n"
            "from artrepo.cli.main import main; main(['run', 'script.py'])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "artrepo: error: the Dask orchestrator needs dask and distributed: pip install 'artrepo[dask]'"]


def test_local_runs_and_stack_commands_never_import_dask(project):
    _script(project, MAIN_SCRIPT)
    proc = subprocess.run([sys.executable, "script.py", "2"], cwd=project, capture_output=True, text=True,
                          timeout=60, check=True)
    assert json.loads(proc.stdout.strip().splitlines()[-1])["dask"] is False
    run_cli("stack", "register", "later", "-o", "dask", "--scheduler", "tcp://127.0.0.1:1", cwd=project, check=True)
    probe = ("import sys; from artrepo.cli.main import main\n"
             "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             "print('dask' in sys.modules or 'distributed' in sys.modules)")
    for args in (["stack", "list"], ["stack", "show", "later"], ["run", "--help"], ["stack", "--help"]):
        out = subprocess.run([sys.executable, "-c", probe, *args], cwd=project, capture_output=True, text=True,
                             timeout=60).stdout
        assert out.strip().splitlines()[-1] == "False", args


NO_FILE = textwrap.dedent('''
    import json, sys
    from typing_extensions import Annotated
    from artrepo import pipeline, step
    from artrepo.stacks import DaskOrchestrator

    @step
    def doubled(x: int = 2) -> Annotated[int, "doubled"]:
        return 2 * x

    @pipeline(orchestrator=DaskOrchestrator(scheduler=sys.argv[1]))
    def no_file(x: int = 2):
        doubled(x=x)

    runs = [no_file(x=21), no_file(x=21)]
    print(json.dumps({"value": runs[0].steps["doubled"].outputs["doubled"].load(),
                      "worker": runs[0].steps["doubled"].record.executor.get("worker"),
                      "cached": runs[1].steps["doubled"].cached}))
''')


def test_steps_defined_without_a_source_file_run_on_workers_and_cache(project, scheduler_address, dask_cluster):
    """Code typed into a notebook or `python -c` has no file: it reaches the workers by value all the same."""
    proc = subprocess.run([sys.executable, "-c", NO_FILE, scheduler_address], cwd=project, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"value": 42, "worker": out["worker"], "cached": True}
    assert out["worker"] in dask_cluster.scheduler_info["workers"]
    assert "step doubled: submitted to Dask" in proc.stderr  # the progress of a run started from code
    git_fsck(project)
