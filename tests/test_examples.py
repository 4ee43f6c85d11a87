"""`make demo` runs examples/quickstart.py: it must keep working end to end."""
import subprocess
import sys

from artrepo_testing import ROOT


def test_quickstart_runs_end_to_end():
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py")], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "the second stored 1 new chunks" in out
    assert "re-run cached steps: ['load_data', 'train']" in out
    assert "pushed nothing to origin" in out
    assert "no problems" in out and "demo finished" in out


def test_distributed_runs_the_finetuning_pipeline_on_dask_workers():
    """`make demo` runs examples/distributed.py too: a LocalCluster, the store a local-folder remote."""
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "distributed.py")], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out, progress = proc.stdout, proc.stderr
    assert "step model_finetuner_step: submitted to Dask" in progress  # progress as each step changes
    assert "re-run" in out and "cached steps ['model_finetuner_step']" in out
    assert "ran on:     dask worker tcp://" in out
    assert out.count("no problems") == 2  # fsck --read-data here and on the remote
    assert "distributed demo finished" in out
