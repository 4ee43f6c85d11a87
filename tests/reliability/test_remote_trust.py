"""Nothing from an untrusted remote runs code: no unpickling, no materializer import, on any path.

A publisher saves pickles whose `__reduce__` creates a marker folder when
unpickled (some with records that hide the pickle: no `cloudpickle` in the
environment, or a pickle nested in a list), and a version whose record names
the materializer `py:evil_materializer.Evil`, a module that creates a marker
when imported. A clone of that remote then goes down every path that reads a
version; the markers never appear. A control proves the pickles do fire.
"""
import json
import os
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from artrepo.values import load_value, save_value
from artrepo.errors import MaterializerError, UntrustedPickleError
from artrepo.remotes.config import add_remote, get_remote
from artrepo.remotes.pull import clone, pull
from artrepo.remotes.push import push
from artrepo.repository import Repository
from artrepo_testing import run_cli

PICKLES = ("bomb", "hidden", "nested", "hidden_nested")
EVIL_MODULE = "import pathlib\npathlib.Path(__file__).with_name('imported.marker').mkdir()\nclass Evil: pass\n"
PIPELINE = """
from artrepo import Client, pipeline, step

@step
def consume(value: object) -> int:
    return 1

@pipeline
def uses_bomb():
    consume(Client().get_artifact_version("bomb"))
"""


class Bomb:
    """Unpickling this creates the folder `marker`."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def forge(repo: Repository, source: str, name: str, **changes) -> None:
    """Publish a copy of `source`'s latest version under `name` with a doctored record."""
    info = repo.get(source, "1")
    repo.save_version(info.record.replace(name=name, **changes),
                      repo.write_manifest(repo.manifest(info.id)))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    top = tmp_path_factory.mktemp("trust")
    markers = top / "markers"
    evil_dir = top / "evil"
    evil_dir.mkdir()
    (evil_dir / "evil_materializer.py").write_text(EVIL_MODULE)
    a = Repository.init(top / "publisher")
    with pytest.warns(UserWarning):
        save_value(a, Bomb(markers / "bomb"), "bomb")
        save_value(a, [1, Bomb(markers / "nested")], "nested")
        save_value(a, Bomb(markers / "control"), "control")
    forge(a, "bomb", "hidden", environment={})
    forge(a, "nested", "hidden_nested", environment={})
    save_value(a, "plain text", "text")
    forge(a, "text", "custom", materializer="py:evil_materializer.Evil")
    add_remote(a, "origin", str(top / "remote"))
    push(a, get_remote(a, "origin"))
    root, _ = clone(str(top / "remote"), top / "clone")
    return {"root": root, "markers": markers, "evil": evil_dir, "top": top}


def fired(world) -> list[str]:
    found = sorted(p.name for p in world["markers"].iterdir()) if world["markers"].exists() else []
    return found + (["imported"] if (world["evil"] / "imported.marker").exists() else [])


@pytest.mark.parametrize("name", PICKLES)
def test_load_artifact_and_artifact_version_load_refuse_every_hidden_pickle(world, name, monkeypatch):
    from artrepo import Client, load_artifact

    monkeypatch.chdir(world["root"])
    with pytest.raises(UntrustedPickleError, match="untrusted source"):
        load_artifact(name)
    with pytest.raises(UntrustedPickleError):
        Client().get_artifact_version(name).load()
    assert fired(world) == []


def test_cli_paths_never_unpickle(world):
    root = world["root"]
    for args in (["show", "bomb"], ["show", "hidden", "--json"], ["show", "nested", "--json"], ["lineage", "bomb"],
                 ["lineage", "hidden_nested", "--format", "json"], ["export", "bomb", str(world["top"] / "export")],
                 ["export", "hidden_nested", str(world["top"] / "export2")], ["fsck", "--read-data"],
                 ["fsck", "--remote", "origin", "--read-data"], ["du", "--remote", "origin"], ["list"]):
        proc = run_cli(*args, cwd=root)
        assert proc.returncode == 0, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert json.loads(run_cli("show", "hidden", "--json", cwd=root).stdout)["name"] == "hidden"
    assert fired(world) == []


def test_a_pipeline_step_consuming_an_untrusted_pickle_fails_cleanly_before_running(world):
    (world["root"] / "pipe.py").write_text(PIPELINE)
    proc = run_cli("run", "pipe.py", cwd=world["root"])
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "untrusted source" in proc.stderr and "Traceback" not in proc.stderr
    assert fired(world) == []


def test_the_dashboard_version_pages_never_unpickle(world):
    from artrepo.ui.server import make_server

    repo = Repository(world["root"])
    server = make_server(world["root"])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        for name in PICKLES:
            vid = repo.get(name, "1").id
            for path in (f"/versions/{vid}", f"/versions/{vid}/lineage"):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as resp:
                    assert resp.status == 200 and name in resp.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert fired(world) == []


def test_a_materializer_named_by_the_remote_is_never_imported(world, monkeypatch):
    monkeypatch.syspath_prepend(str(world["evil"]))
    repo = Repository(world["root"])
    with pytest.raises(MaterializerError, match="py:evil_materializer.Evil"):
        load_value(repo, repo.get("custom", "1"))
    assert "evil_materializer" not in sys.modules
    proc = run_cli("show", "custom", "--json", cwd=world["root"], env={"PYTHONPATH": str(world["evil"])})
    assert proc.returncode == 0 and fired(world) == []


def test_trusting_another_remote_does_not_cover_this_one(world, tmp_path):
    other = Repository.init(tmp_path / "other")
    save_value(other, 42, "answer")
    add_remote(other, "origin", str(tmp_path / "trusted-remote"))
    push(other, get_remote(other, "origin"))
    repo = Repository(world["root"])
    add_remote(repo, "friends", str(tmp_path / "trusted-remote"), trusted=True)
    pull(repo, get_remote(repo, "friends"))
    assert load_value(repo, repo.get("answer", "1")) == 42 and repo.trusts(repo.get("answer", "1").id)
    for name in PICKLES:
        assert not repo.trusts(repo.get(name, "1").id)
        with pytest.raises(UntrustedPickleError):
            load_value(repo, repo.get(name, "1"))
    assert fired(world) == []


def test_control_the_pickles_do_fire_when_explicitly_allowed(world):
    repo = Repository(world["root"])
    load_value(repo, repo.get("control", "1"), allow_pickle=True)
    assert (world["markers"] / "control").is_dir()
    os.rmdir(world["markers"] / "control")
