"""gitdb.packscan.scan_pack: the objects of a pack as git writes it, read in one pass with their ids computed."""
from __future__ import annotations

import hashlib
import random
import subprocess

import pytest

from artrepo.gitdb import packscan
from artrepo.gitdb.packscan import scan_pack
from artrepo.repository import Repository


def git(repo, *args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(["git", "--git-dir", str(repo.git_dir), *args], input=data, capture_output=True,
                          check=True).stdout


@pytest.fixture
def objects(tmp_path):
    """(repository, {id: (type, body)}): similar blobs (git stores most as deltas), trees and a commit."""
    repo = Repository.init(tmp_path / "r")
    rng = random.Random(3)
    text = bytes(rng.randrange(97, 123) for _ in range(4000))
    blobs = {}
    for i in range(30):
        body = text[:i * 100] + b"edit %d" % i + text[i * 100:]
        blobs[repo.objects.write_blob(body)] = ("blob", body)
    tree = repo.objects.write_tree({f"f{i}": body for i, (_kind, body) in enumerate(blobs.values())})
    commit = repo.objects.write_commit(tree, [], "many similar files\n", 1_700_000_000 * 10**9)
    expected = {**blobs, tree: ("tree", repo.objects.read(tree)[1]), commit: ("commit", repo.objects.read(commit)[1])}
    return repo, expected


def pack_of(repo, oids, *flags: str) -> bytes:
    return git(repo, "pack-objects", "--stdout", "-q", *flags, data=("\n".join(oids) + "\n").encode())


@pytest.mark.parametrize("flags", [(), ("--delta-base-offset",)], ids=["ref-deltas", "offset-deltas"])
def test_scan_gives_every_object_of_a_git_pack_with_its_id_deltas_applied(objects, flags, tmp_path):
    repo, expected = objects
    data = pack_of(repo, expected, *flags)
    (tmp_path / "p.pack").write_bytes(data)
    verify = subprocess.run(["git", "index-pack", str(tmp_path / "p.pack")], capture_output=True, check=True)
    shown = subprocess.run(["git", "verify-pack", "-v", str(tmp_path / "p.idx")], capture_output=True, text=True,
                           check=True, cwd=tmp_path).stdout
    assert verify.returncode == 0 and "chain length = 1" in shown  # the pack does hold deltas
    assert scan_pack(data) == expected


def object_id(kind: str, body: bytes) -> str:
    return hashlib.sha1(b"%s %d\0" % (kind.encode(), len(body)) + body).hexdigest()


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "count raised"])
def test_a_damaged_pack_scans_to_objects_that_are_all_what_their_ids_name(objects, damage):
    repo, expected = objects
    data = bytearray(pack_of(repo, expected))
    if damage == "flipped byte":
        data[len(data) // 2] ^= 0x40
    elif damage == "truncated":
        del data[len(data) // 2:]
    else:
        data[8:12] = (len(expected) + 5).to_bytes(4, "big")
    found = scan_pack(bytes(data))
    assert all(object_id(kind, body) == oid for oid, (kind, body) in found.items())
    assert set(found) <= set(expected)
    if damage != "count raised":
        assert len(found) < len(expected)


def test_the_scan_stops_at_an_object_over_its_size_bound(objects, monkeypatch):
    repo, expected = objects
    big = repo.objects.write_blob(b"x" * 5000)
    data = pack_of(repo, [*expected, big])
    monkeypatch.setattr(packscan, "SCAN_OBJECT_MAX", 4500)
    found = scan_pack(data)
    assert big not in found and set(found) < set(expected) | {big}
    assert all(object_id(kind, body) == oid for oid, (kind, body) in found.items())
