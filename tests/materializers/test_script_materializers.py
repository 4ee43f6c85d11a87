"""Issue 12 item 3: a materializer defined in the run script loads in a new process, a notebook and a clone.

Its source is recorded as ZenML's source utils record it (the script's path
relative to the source root) and imported from there when loading, under the
trust rules of pickles (docs/format.md §11).
"""
import shutil
import subprocess
import sys

from artrepo_testing import run_cli

SCRIPT = '''
import json
import os
from artrepo import pipeline, save_artifact, step
from artrepo.materializers.base_materializer import BaseMaterializer

open("imported-" + __name__, "w").close()  # proves when this file's top-level code ran

class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

class PointMaterializer(BaseMaterializer):
    ASSOCIATED_TYPES = (Point,)

    def save(self, data):
        with self.artifact_store.open(os.path.join(self.uri, "point.json"), "w") as f:
            json.dump([data.x, data.y], f)

    def load(self, data_type):
        with self.artifact_store.open(os.path.join(self.uri, "point.json")) as f:
            return data_type(*json.load(f))

@step
def make() -> Point:
    return Point(1, 2)

@pipeline
def points():
    make()

if __name__ == "__main__":
    points()
    save_artifact(Point(3, 4), "saved_point")
    save_artifact({"a": Point(5, 6), "b": [Point(7, 8)]}, "nested_points")
'''

LOAD = "from artrepo import load_artifact; p = load_artifact({ref!r}); print(type(p).__module__, p.x, p.y)"
NESTED = "from artrepo import load_artifact; d = load_artifact('nested_points'); print(d['a'].x, d['a'].y, d['b'][0].x, d['b'][0].y)"


def python(cwd, *args, stdin=None):
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, input=stdin,
                          timeout=120)


def write_script(project, rel="pipelines/run.py"):
    path = project / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SCRIPT)
    return path


def test_a_script_materializer_loads_in_a_new_process(project):
    write_script(project)
    proc = python(project, "pipelines/run.py")
    assert proc.returncode == 0, proc.stderr
    shown = run_cli("show", "saved_point", "--json", cwd=project, check=True).stdout
    assert '"materializer": "py:pipelines.run.PointMaterializer"' in shown
    assert '"data_type": "pipelines.run.Point"' in shown
    for where in (project, project / "pipelines"):  # the source root is found upward, as .artrepo/ is
        out = python(where, "-c", LOAD.format(ref="saved_point"))
        assert out.stdout.split() == ["pipelines.run", "3", "4"], out.stderr
    assert (project / "imported-pipelines.run").exists()  # imported as a module: its main block did not run
    nested = python(project, "-c", NESTED)  # in a container, each point stored by its materializer
    assert nested.stdout.split() == ["5", "6", "7", "8"], nested.stderr
    assert len(run_cli("log", "--json", cwd=project, check=True).stdout.split('"id"')) == 2  # one run


def test_artrepo_run_and_python_record_the_same_source_so_the_second_run_is_cached(project):
    write_script(project)
    assert python(project, "pipelines/run.py").returncode == 0
    proc = run_cli("run", "pipelines/run.py", "--explain", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "step make: cached" in proc.stdout
    out = python(project, "-c", LOAD.format(ref="points::make::output"))
    assert out.stdout.split() == ["pipelines.run", "1", "2"], out.stderr


def test_a_notebook_loads_what_a_script_saved_and_keeps_its_own_classes(project):
    write_script(project, "run.py")
    assert python(project, "run.py").returncode == 0
    # A notebook kernel: code without a file, run from the project folder.
    out = python(project, "-", stdin=LOAD.format(ref="saved_point"))
    assert out.stdout.split() == ["run", "3", "4"], out.stderr
    notebook = SCRIPT.replace('if __name__ == "__main__":', "if True:").replace('"saved_point"', '"nb_point"')
    cell = notebook + "\n" + LOAD.format(ref="nb_point")
    out = python(project, "-", stdin=cell)
    assert out.stdout.split()[-3:] == ["__main__", "3", "4"], out.stderr
    later = python(project, "-c", LOAD.format(ref="nb_point"))
    assert later.returncode == 1
    assert "defined in a notebook or an interactive session" in later.stderr


def test_a_trusted_clone_imports_the_materializer_and_an_untrusted_one_does_not(project, tmp_path):
    write_script(project)
    assert python(project, "pipelines/run.py").returncode == 0
    bucket = tmp_path / "bucket"
    run_cli("remote", "add", "origin", str(bucket), cwd=project, check=True)
    run_cli("push", cwd=project, check=True)
    for trusted in (True, False):
        clone = tmp_path / f"clone-{trusted}"
        run_cli("clone", str(bucket), str(clone), *(["--trusted"] if trusted else []), cwd=tmp_path, check=True)
        shutil.copytree(project / "pipelines", clone / "pipelines")  # the code comes with the project's git
        (clone / "imported-pipelines.run").unlink(missing_ok=True)
        out = python(clone, "-c", LOAD.format(ref="saved_point"))
        nested = python(clone, "-c", NESTED)
        if trusted:
            assert out.stdout.split() == ["pipelines.run", "3", "4"], out.stderr
            assert nested.stdout.split() == ["5", "6", "7", "8"], nested.stderr
        else:
            for proc in (out, nested):
                assert proc.returncode == 1 and "untrusted remote" in proc.stderr
                assert "py:pipelines.run.PointMaterializer" in proc.stderr
            assert not (clone / "imported-pipelines.run").exists()  # the script never ran


def test_a_missing_module_is_a_clear_error(project):
    write_script(project)
    assert python(project, "pipelines/run.py").returncode == 0
    (project / "pipelines" / "run.py").unlink()
    out = python(project, "-c", LOAD.format(ref="saved_point"))
    assert "cannot import materializer 'py:pipelines.run.PointMaterializer'" in out.stderr
    assert "load from the project that defines it" in out.stderr
