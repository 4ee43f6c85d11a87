"""`gc --remote` after many pushes: one git pack, full data packs, one index file; nothing a reader or a
pusher counts on goes before the grace period, and a gc killed at any point leaves a remote that clones."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from artrepo.errors import IntegrityError
from artrepo.maintenance.gc import collect
from artrepo.remotes.config import add_remote, get_remote
from artrepo.remotes.pull import clone, pull
from artrepo.remotes.push import push
from artrepo.remotes.state import RemoteState, decode_state, encode_state, read_state, write_state
from artrepo.remotes.view import open_view
from artrepo.repository import Repository
from artrepo.storage.backend import open_backend
from artrepo.values import load_value, save_value
from artrepo_testing import kill_when, run_cli
from remote_fixtures import moto_server, s3_env  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[2]


def value(push_no: int, i: int):
    """The i-th value of push `push_no`: small dicts and ints, and one incompressible array per push."""
    if i == 0:
        return np.random.default_rng(push_no).random(30_000 + 1_000 * push_no)
    return {"push": push_no, "i": i, "text": "x" * (100 * i)} if i % 2 else push_no * 1000 + i


def grow(repo, pushes: int, start: int = 0) -> dict[tuple[str, str], object]:
    """`pushes` pushes of three new versions each (one pack, one index file, one git pack each)."""
    expected = {}
    for p in range(start, start + pushes):
        for i in range(3):
            info = save_value(repo, value(p, i), f"m{i}")
            expected[(f"m{i}", info.version)] = value(p, i)
        push(repo, get_remote(repo, "origin"))
    return expected


def assert_holds(root: Path, expected: dict) -> None:
    """Every version byte for byte."""
    repo = Repository(root)
    for (name, label), want in expected.items():
        got = load_value(repo, repo.get(name, label))
        assert np.array_equal(got, want) if isinstance(want, np.ndarray) else got == want, (name, label)


def collect_remote(repo, remote: str = "origin", **options):
    with open_view(repo, remote) as view:
        return collect(view, **options)


def assert_fsck_clean(root: Path, remote: str = "origin") -> str:
    proc = run_cli("fsck", "--remote", remote, "--read-data", cwd=root)
    assert proc.returncode == 0 and "error:" not in proc.stdout, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture(params=["folder", "s3"])
def remote(request, tmp_path):
    """(url, endpoint) of an empty remote: a folder, or a bucket on moto_server."""
    if request.param == "folder":
        return str(tmp_path / "remote"), None
    endpoint, bucket = request.getfixturevalue("s3_env")
    return f"s3://{bucket}/team", endpoint


def test_a_clone_and_a_pull_from_a_regrouped_remote_give_every_version_byte_for_byte(remote, tmp_path):
    url, endpoint = remote
    repo = Repository.init(tmp_path / "a")
    add_remote(repo, "origin", url, endpoint)
    expected = grow(repo, 3)
    reader_root, _ = clone(url, tmp_path / "reader", endpoint)  # has imported three git packs and index files
    expected.update(grow(repo, 4, start=3))
    backend = open_backend(url, endpoint)
    before = read_state(backend)
    assert len(before.git_packs) == len(before.index_files) == len(backend.list_prefix("packs")) == 7

    result = collect_remote(repo, grace=0)
    assert result.git_packs_before == 7 and result.git_pack and len(result.regroup) == 7
    assert result.written_packs == 1 and len(result.dropped_packs) == 7  # grace 0: the regrouped ones go at once
    after = read_state(backend)
    assert after.git_packs == [result.git_pack] and after.index_files == [result.index_file]
    assert after.refs == before.refs and after.retired == {}  # grace 0: what was replaced went at once
    assert len(backend.list_prefix("packs")) == 1 and len(backend.list_prefix("git")) == 1
    assert backend.list_prefix("index") == [f"index/{result.index_file}"]

    root, cloned = clone(url, tmp_path / "c", endpoint)
    assert cloned.versions == len(expected) and cloned.packs == 1
    assert_holds(root, expected)
    reader = Repository(reader_root)
    pulled = pull(reader, get_remote(reader, "origin"))
    assert pulled.versions == len(expected) - 9
    assert_holds(reader_root, expected)
    assert_fsck_clean(repo.root)
    # a push after gc builds on the merged git pack; a second gc merges again
    expected.update(grow(repo, 1, start=7))
    assert collect_remote(repo, grace=0).git_packs_before == 2
    assert_holds(clone(url, tmp_path / "c2", endpoint)[0], expected)


def test_a_reader_of_the_previous_ref_table_finds_everything_until_the_grace_period_ends(tmp_path):
    url = str(tmp_path / "remote")
    repo = Repository.init(tmp_path / "a")
    add_remote(repo, "origin", url)
    expected = grow(repo, 4)
    backend = open_backend(url)
    table = read_state(backend)  # m0:1 leaves the remote (as a remote retention would): its pack is partly unused
    assert write_state(backend, table, RemoteState({r: o for r, o in table.refs.items() if r != "refs/artrepo/v/m0/1"},
                                                   table.git_packs, table.index_files))
    del expected[("m0", "1")]
    old = read_state(backend)
    old_files = set(backend.list_prefix("packs")) | set(backend.list_prefix("index")) | set(backend.list_prefix("git"))

    out = run_cli("gc", "--remote", "origin", cwd=repo.root, check=True).stdout  # default grace: 1 hour
    assert "merged 4 git packs into one" in out and "regrouped the data still needed of 4" in out, out
    assert "kept 12 replaced packs and files" in out, out
    new = read_state(backend)
    assert set(new.retired) == old_files and len(new.git_packs) == len(new.index_files) == 1
    for key in old_files:
        assert backend.exists(key)
    # a clone that read the table before gc wrote its own: every object it names is still there
    late = Repository.init(tmp_path / "late")
    add_remote(late, "origin", url)
    pull(late, get_remote(late, "origin"), state=old)
    assert_holds(late.root, expected)
    notes = assert_fsck_clean(repo.root)
    assert "12 packs and files" in notes and "replaced by" in notes, notes
    du = json.loads(run_cli("du", "--remote", "origin", "--json", cwd=repo.root, check=True).stdout)
    assert du["unreferenced_bytes"] == sum(backend.info(k).size for k in old_files if k.startswith("packs/"))

    again = collect_remote(repo, grace=3600)  # still within the grace period: kept, and not indexed again
    assert again.kept_retired == 12 and not again.index_rewritten and not again.dropped_packs
    result = collect_remote(repo, grace=3600, now=time.time() + 7200)
    assert len(result.dropped_packs) == 4 and len(result.dropped_files) == 8 and result.kept_retired == 0
    assert read_state(backend).retired == {}
    left = set(backend.list_prefix("packs")) | set(backend.list_prefix("index")) | set(backend.list_prefix("git"))
    assert not left & old_files and len(left) == 3
    assert_fsck_clean(repo.root)
    assert_holds(clone(url, tmp_path / "c")[0], expected)


def test_the_ref_table_keeps_retired_objects_through_a_push_and_refuses_malformed_ones(tmp_path):
    key = "packs/" + "ab" * 32
    state = RemoteState({"refs/artrepo/runs/" + "1" * 40: "2" * 40}, ["c" * 64], ["d" * 64], retired={key: 1700})
    assert decode_state(encode_state(state), "u").retired == {key: 1700}
    assert state.changed({"refs/artrepo/runs/" + "3" * 40: "4" * 40}).retired == {key: 1700}
    import msgpack
    import zstandard

    for bad in ({"../state": 1}, {key: -1}, {key: "1"}, ["x"]):
        doc = msgpack.unpackb(zstandard.ZstdDecompressor().decompress(encode_state(state)))
        doc["retired"] = bad
        with pytest.raises(IntegrityError, match="retired"):
            decode_state(zstandard.ZstdCompressor().compress(msgpack.packb(doc)), "u")


PUSHER = """
import sys
import numpy as np
from artrepo.remotes.config import get_remote
from artrepo.remotes.push import push
from artrepo.repository import Repository
from artrepo.values import save_value
repo = Repository(sys.argv[1])
for seed in range(100, 106):
    save_value(repo, np.random.default_rng(seed).random(20_000), "racer")
    push(repo, get_remote(repo, "origin"))
"""

GC_LOOP = """
import subprocess, sys
for _ in range(4):
    subprocess.run([sys.executable, "-m", "artrepo", "gc", "--remote", "origin"], check=True)
"""


def test_pushes_racing_gc_processes_lose_nothing(tmp_path):
    url = str(tmp_path / "remote")
    repo = Repository.init(tmp_path / "a")
    add_remote(repo, "origin", url)
    expected = grow(repo, 6)
    pusher_root, _ = clone(url, tmp_path / "b")
    procs = [subprocess.Popen([sys.executable, "-c", PUSHER, str(pusher_root)], cwd=ROOT, stderr=subprocess.PIPE),
             subprocess.Popen([sys.executable, "-c", GC_LOOP], cwd=repo.root, stderr=subprocess.PIPE)]
    for proc in procs:
        assert proc.wait(300) == 0, proc.stderr.read().decode()
    expected.update({("racer", str(n)): np.random.default_rng(99 + n).random(20_000) for n in range(1, 7)})
    assert_fsck_clean(repo.root)
    assert_holds(clone(url, tmp_path / "c")[0], expected)
    run_cli("gc", "--remote", "origin", "--grace", "0", cwd=repo.root, check=True)  # nobody pushing now
    state = read_state(open_backend(url))
    assert len(state.git_packs) == len(state.index_files) == 1 and state.retired == {}
    assert_fsck_clean(repo.root)
    assert_holds(clone(url, tmp_path / "d")[0], expected)


def test_a_gc_killed_at_any_point_leaves_a_remote_that_clones(tmp_path):
    url = tmp_path / "remote"
    repo = Repository.init(tmp_path / "a")
    add_remote(repo, "origin", str(url))
    expected = grow(repo, 8)
    pristine = tmp_path / "pristine"
    shutil.copytree(url, pristine)
    listing = lambda: {p.relative_to(url) for p in url.rglob("*") if p.is_file() and not p.name.startswith(".")}
    original = listing()

    def state_changed() -> bool:
        try:
            return (url / "state").read_bytes() != (pristine / "state").read_bytes()
        except FileNotFoundError:
            return False

    moments = {"a new pack is written": lambda: any(str(p).startswith("packs/") for p in listing() - original),
               "the ref table is written": state_changed,
               "an old pack is deleted": lambda: bool({p for p in original if str(p).startswith("packs/")}
                                                      - listing())}
    killed = []
    for n, (moment, ready) in enumerate(moments.items()):
        shutil.rmtree(url)
        shutil.copytree(pristine, url)
        proc = subprocess.Popen([sys.executable, "-m", "artrepo", "gc", "--remote", "origin", "--grace", "0"],
                                cwd=repo.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if kill_when(proc, ready):
            assert proc.returncode == -signal.SIGKILL
            killed.append(moment)
        else:
            assert proc.wait() == 0
        assert_holds(clone(str(url), tmp_path / f"c{n}")[0], expected)
        run_cli("gc", "--remote", "origin", "--grace", "0", cwd=repo.root, check=True)  # completes what was cut
        state = read_state(open_backend(str(url)))
        assert len(state.git_packs) == len(state.index_files) == 1
        assert_fsck_clean(repo.root)
        assert_holds(clone(str(url), tmp_path / f"d{n}")[0], expected)
    assert "a new pack is written" in killed, killed  # at least the first moment is hit mid-way


def test_a_fold_retires_the_previous_base_table_and_remote_maintenance_keeps_a_reach_cache(tmp_path, monkeypatch):
    monkeypatch.setattr("artrepo.remotes.state.FOLD_AT", 4)
    url = str(tmp_path / "remote")
    repo = Repository.init(tmp_path / "a")
    add_remote(repo, "origin", url)
    expected = grow(repo, 2)  # 6 refs: folded into a base table
    first = read_state(open_backend(url)).base
    expected.update(grow(repo, 2, start=2))
    state = read_state(open_backend(url))
    assert state.base != first and set(state.retired) == {f"tables/{first}"}
    # kept: the old base table, and what gc replaces (4 packs, 4 index files, 4 git packs)
    assert "kept 13 replaced" in run_cli("gc", "--remote", "origin", cwd=repo.root, check=True).stdout
    from artrepo.maintenance.reachcache import ReachCache

    cache = ReachCache(path=repo.git_dir / "remote-cache" / "origin" / "reach")
    assert all(cache.get_many([oid for ref, oid in state.refs.items() if "/v/" in ref]))  # filled by that gc
    run_cli("gc", "--remote", "origin", "--grace", "0", cwd=repo.root, check=True)
    assert open_backend(url).list_prefix("tables") == [f"tables/{state.base}"]
    assert_holds(clone(url, tmp_path / "c")[0], expected)
