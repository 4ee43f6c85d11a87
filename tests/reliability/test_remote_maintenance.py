"""fsck, du and gc on a remote: damage is named by version, sizes add up, gc is safe against pushers."""
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from artrepo.errors import IntegrityError
from artrepo.maintenance.gc import collect
from artrepo.remotes.config import add_remote, get_remote
from artrepo.remotes.pull import clone, pull
from artrepo.remotes.push import push
from artrepo.remotes.state import RemoteState, read_state, write_state
from artrepo.remotes.view import open_view
from artrepo.repository import Repository
from artrepo.storage.backend import open_backend
from artrepo.values import load_value, save_value
from artrepo_testing import run_cli
from helpers import payload
from remote_fixtures import moto_server, s3_env  # noqa: F401  (fixtures)


@pytest.fixture
def published(tmp_path):
    """A repository that pushed `a` and then `b` (separate packs, index files and git packs) to a folder."""
    repo = Repository.init(tmp_path / "a")
    add_remote(repo, "origin", str(tmp_path / "remote"))
    save_value(repo, payload(1, 300_000), "a")
    push(repo, get_remote(repo, "origin"))
    first = read_state(open_backend(str(tmp_path / "remote")))
    save_value(repo, payload(2, 300_000), "b")
    push(repo, get_remote(repo, "origin"))
    return repo, tmp_path / "remote", first


def damage_and_check(repo, remote: Path, name: str, hurt, read_data: bool) -> str:
    copy = remote.with_name(f"damaged-{name}")
    shutil.copytree(remote, copy)
    hurt(copy)
    add_remote(repo, name, str(copy))
    proc = run_cli("fsck", "--remote", name, *(["--read-data"] if read_data else []), cwd=repo.root)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "b:1" in proc.stdout and "a:1" not in proc.stdout, proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    return proc.stdout


def test_remote_fsck_is_clean_and_names_the_version_for_each_kind_of_damage(published):
    repo, remote, first = published
    out = run_cli("fsck", "--remote", "origin", "--read-data", cwd=repo.root)
    assert out.returncode == 0 and "checked 2 versions" in out.stdout, out.stdout + out.stderr
    state = read_state(open_backend(str(remote)))
    index_b = [n for n in state.index_files if n not in first.index_files][0]
    git_b = [n for n in state.git_packs if n not in first.git_packs][0]
    from artrepo.storage.index import decode_index

    pack_b = next(iter(decode_index((remote / "index" / index_b).read_bytes(), "b"))).hex()

    def flip(root):
        path = root / "packs" / pack_b
        data = bytearray(path.read_bytes())
        data[len(data) // 3] ^= 0xFF
        path.write_bytes(bytes(data))

    def truncate(root):
        path = root / "packs" / pack_b
        path.write_bytes(path.read_bytes()[:-100])

    kinds = {"flipped": (flip, True), "truncated": (truncate, False),
             "lostpack": (lambda r: (r / "packs" / pack_b).unlink(), False),
             "lostindex": (lambda r: (r / "index" / index_b).unlink(), False),
             "lostgit": (lambda r: (r / "git" / f"{git_b}.pack").unlink(), False)}
    for name, (hurt, read_data) in kinds.items():
        damage_and_check(repo, remote, name, hurt, read_data)
    # without --read-data a flipped byte inside a chunk is invisible (size and ids intact): that is what it is for
    assert run_cli("fsck", "--remote", "flipped", cwd=repo.root).returncode == 0


def test_a_lost_remote_git_pack_is_found_with_the_local_reach_cache_warm(published):
    """The remote's view starts from the local reach cache; a commit that only the remote lacks is still named."""
    repo, remote, first = published
    assert run_cli("fsck", cwd=repo.root).returncode == 0  # fills the local cache with b:1's commit
    state = read_state(open_backend(str(remote)))
    git_b = [n for n in state.git_packs if n not in first.git_packs][0]
    damage_and_check(repo, remote, "lostgit", lambda r: (r / "git" / f"{git_b}.pack").unlink(), False)


def test_remote_du_reports_logical_and_stored_bytes_per_artifact(tmp_path):
    import json

    repo = Repository.init(tmp_path / "a")
    add_remote(repo, "origin", str(tmp_path / "remote"))
    base = payload(3, 500_000)
    save_value(repo, base, "big")
    changed = base.copy()
    changed[:1000] = 0
    save_value(repo, changed, "big")
    save_value(repo, np.zeros(200_000), "zeros")
    push(repo, get_remote(repo, "origin"))
    doc = json.loads(run_cli("du", "--remote", "origin", "--json", cwd=repo.root, check=True).stdout)
    big = next(a for a in doc["artifacts"] if a["name"] == "big")
    assert big["versions"] == 2 and big["logical_bytes"] >= 2 * base.nbytes
    assert big["stored_bytes"] < 1.3 * base.nbytes  # the second version stored only its change
    zeros = next(a for a in doc["artifacts"] if a["name"] == "zeros")
    assert zeros["stored_bytes"] < zeros["logical_bytes"] / 50  # compression
    on_disk = sum(p.stat().st_size for p in (tmp_path / "remote" / "packs").iterdir())
    assert doc["stored_bytes"] == on_disk and doc["unreferenced_bytes"] == 0 and doc["missing_chunks"] == 0
    assert doc["dedup_saved_bytes"] > 0.7 * base.nbytes


def age(folder: Path, seconds: float) -> None:
    stamp = time.time() - seconds
    for path in folder.rglob("*"):
        if path.is_file():
            os.utime(path, (stamp, stamp))


def test_remote_gc_removes_leftovers_of_a_killed_push_only_after_the_grace_period(published, monkeypatch):
    repo, remote, _ = published
    save_value(repo, payload(9, 300_000), "c")
    import artrepo.remotes.push as push_module

    def killed(*_args):
        raise KeyboardInterrupt  # the push dies right before publishing: packs, index, git pack are left
    monkeypatch.setattr(push_module, "write_state", killed)
    with pytest.raises(KeyboardInterrupt):
        push(repo, get_remote(repo, "origin"))
    monkeypatch.undo()
    packs_before = set((remote / "packs").iterdir())
    dry = run_cli("gc", "--remote", "origin", "--dry-run", "--grace", "0", cwd=repo.root, check=True).stdout
    assert "would remove 1 packs" in dry and set((remote / "packs").iterdir()) == packs_before
    young = run_cli("gc", "--remote", "origin", cwd=repo.root, check=True).stdout
    assert "removed 0 packs" in young and "1 unused packs younger" in young
    age(remote / "packs", 7200)
    age(remote / "index", 7200)
    age(remote / "git", 7200)
    done = run_cli("gc", "--remote", "origin", cwd=repo.root, check=True).stdout
    assert "removed 1 packs" in done and "2 unlisted index or git pack files" in done, done
    after = set((remote / "packs").iterdir())
    # the killed push's pack went; a's and b's small packs, regrouped into one, stay retired for the grace period
    assert len(packs_before - after) == 1 and len(after - packs_before) == 1
    assert run_cli("fsck", "--remote", "origin", "--read-data", cwd=repo.root).returncode == 0
    push(repo, get_remote(repo, "origin"))  # the killed push, re-run after gc: uploads again
    clone_root, _ = clone(str(remote), repo.root.parent / "check")
    b = Repository(clone_root)
    for name, seed in (("a", 1), ("b", 2), ("c", 9)):
        assert np.array_equal(load_value(b, b.get(name, "1")), payload(seed, 300_000))


def test_a_lost_remote_index_file_is_rebuilt_from_footers_on_a_folder_and_on_s3(published, tmp_path, s3_env):
    repo, remote, first = published
    state = read_state(open_backend(str(remote)))
    (lost,) = [n for n in state.index_files if n not in first.index_files]
    (remote / "index" / lost).unlink()
    age(remote, 7200)
    assert run_cli("gc", "--remote", "origin", "--grace", "0", cwd=repo.root, check=True).returncode == 0
    assert run_cli("fsck", "--remote", "origin", "--read-data", cwd=repo.root).returncode == 0
    check = Repository(clone(str(remote), tmp_path / "check")[0])
    assert np.array_equal(load_value(check, check.get("b", "1")), payload(2, 300_000))

    endpoint, bucket = s3_env  # off the local filesystem, the footers of the packs no index names are read
    url = f"s3://{bucket}/lost"
    add_remote(repo, "bucket", url, endpoint)
    push(repo, get_remote(repo, "bucket"))
    save_value(repo, payload(5, 300_000), "c")
    push(repo, get_remote(repo, "bucket"))
    backend = open_backend(url, endpoint)
    backend.delete(f"index/{read_state(backend).index_files[-1]}")
    packs = backend.list_prefix("packs")
    collect_remote(repo, "bucket", grace=0)
    assert backend.list_prefix("packs") == packs  # every pack holds needed chunks: none went
    check = Repository(clone(url, tmp_path / "check-s3", endpoint)[0])
    assert np.array_equal(load_value(check, check.resolve("c")), payload(5, 300_000))


def collect_remote(repo, remote: str, **options):
    with open_view(repo, remote) as view:
        return collect(view, **options)


def drop_remote_ref(remote: Path, ref: str) -> None:
    """What an operator does to retire a version on the remote: one conditional write of the table."""
    backend = open_backend(str(remote))
    state = read_state(backend)
    refs = {r: o for r, o in state.refs.items() if r != ref}
    assert write_state(backend, state, RemoteState(refs, state.git_packs, state.index_files))


def test_remote_gc_racing_a_push_that_counts_on_a_doomed_pack_loses_nothing(published, tmp_path):
    repo, remote, _ = published
    drop_remote_ref(remote, "refs/artrepo/v/b/1")  # b's pack is now unreferenced ...
    age(remote, 7200)  # ... and old: gc may drop it
    other = Repository.init(tmp_path / "other")
    add_remote(other, "origin", str(remote))
    pull(other, get_remote(other, "origin"))  # caches the remote's index files, which name b's pack
    save_value(other, payload(2, 300_000), "again")  # the same bytes as b: the remote index says it has them
    backend = open_backend(str(remote))
    real_read, collected = backend.get_with_token, []

    def read_then_gc(key):
        found = real_read(key)
        if not collected:  # gc runs between the pusher's read of the table and its conditional write
            collected.append(collect_remote(repo, "origin", grace=3600))
        return found
    backend.get_with_token = read_then_gc
    result = push(other, get_remote(other, "origin"), backend=backend)
    assert collected[0].dropped_packs and collected[0].index_rewritten
    assert result.versions == 1 and result.bytes_sent > payload(2, 300_000).nbytes * 0.9  # re-uploaded
    assert run_cli("fsck", "--remote", "origin", "--read-data", cwd=repo.root).returncode == 0
    root, _ = clone(str(remote), tmp_path / "check")
    check = Repository(root)
    assert np.array_equal(load_value(check, check.get("again", "1")), payload(2, 300_000))
    assert np.array_equal(load_value(check, check.get("a", "1")), payload(1, 300_000))


def test_remote_gc_on_s3_collects_a_dropped_version_and_keeps_the_rest(tmp_path, s3_env):
    endpoint, bucket = s3_env
    url = f"s3://{bucket}/gc"
    repo = Repository.init(tmp_path / "a")
    add_remote(repo, "origin", url, endpoint)
    for name, seed in (("a", 1), ("b", 2)):
        save_value(repo, payload(seed, 300_000), name)
        push(repo, get_remote(repo, "origin"))
    backend = open_backend(url, endpoint)
    state = read_state(backend)
    assert write_state(backend, state, RemoteState({r: o for r, o in state.refs.items() if "/b/" not in r},
                                                   state.git_packs, state.index_files))
    assert collect_remote(repo, "origin", grace=3600).freed_bytes == 0  # too young
    result = collect_remote(repo, "origin", grace=3600, now=time.time() + 7200)
    assert len(result.dropped_packs) == 1 and result.index_rewritten
    assert len(read_state(backend).index_files) == 1
    assert run_cli("fsck", "--remote", "origin", "--read-data", cwd=repo.root).returncode == 0
    root, _ = clone(url, tmp_path / "check", endpoint)
    check = Repository(root)
    assert np.array_equal(load_value(check, check.get("a", "1")), payload(1, 300_000)) and "b" not in check.names()
