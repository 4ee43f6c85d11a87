"""The finetuning pipeline of examples/finetuning.py on Dask workers, its artifacts in a shared store.

Run with `make demo` (or `python examples/distributed.py`; needs `pip install artrepo[dask,examples]`).
Everything happens in a throwaway folder: a LocalCluster of two worker processes plays the cluster
and a local folder plays the team's bucket. On a real cluster only the stack changes:

    artrepo remote add team s3://bucket/prefix
    artrepo stack register gpu --orchestrator dask --scheduler tcp://scheduler:8786 --artifact-store team --set

The workers read their inputs from the store and write their outputs into it; only small records
come back through the scheduler. The steps live in examples/finetuning.py, which the workers do not
have: their code is sent with each task.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
# Python put this folder first on sys.path, where this file would shadow the `distributed` package
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]

import artrepo  # noqa: E402
from artrepo import Client, load_artifact  # noqa: E402


def import_finetuning():
    """examples/finetuning.py: ZenML's example, unchanged (imported by path, see above)."""
    spec = importlib.util.spec_from_file_location("finetuning", os.path.join(HERE, "finetuning.py"))
    module = sys.modules["finetuning"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cli(*args: str) -> None:
    print(f"$ artrepo {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", "artrepo", *args], check=True)


def main() -> None:
    finetuning = import_finetuning()

    with tempfile.TemporaryDirectory(prefix="artrepo-distributed-") as project:
        os.chdir(project)
        cli("init")
        cli("remote", "add", "team", os.path.join(project, "team-bucket"))
        cli("stack", "register", "cluster", "--orchestrator", "dask", "--workers", "2", "--artifact-store", "team",
            "--set")
        cli("stack", "show")

        finetuning.main()  # every pipeline run of it now goes to the cluster's workers

        stack = Client().active_stack
        print(f"stack {stack.name}: steps on {stack.orchestrator!r}, artifacts in {stack.artifact_store.path}")
        model = load_artifact("my_model")  # its data stays in the store: fetched on demand, verified
        latest = Client().get_artifact_version("my_model")
        print(f"my_model: {type(model).__name__}, accuracy {latest.run_metadata.get('accuracy')}")

        again = finetuning.model_finetuning_pipeline(dataset_version="1")  # nothing changed: nothing is submitted
        print(f"re-run {again.id[:12]}: cached steps {sorted(n for n, s in again.steps.items() if s.cached)}")

        cli("show", latest.producer.run_id)  # the run, with the Dask worker that ran each step
        cli("log", "my_model")
        cli("fsck", "--read-data")
        cli("fsck", "--remote", "team", "--read-data")
        os.chdir("/")
    print(f"artrepo {artrepo.__version__}: distributed demo finished")


if __name__ == "__main__":
    main()
