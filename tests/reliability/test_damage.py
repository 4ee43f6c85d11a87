"""Every kind of stored-object damage is detected by fsck (exit 3), named by load, and contained."""
from __future__ import annotations

import subprocess
import zlib

import numpy as np
import pytest

from artrepo import load_artifact, save_artifact
from artrepo.errors import ArtrepoError, IntegrityError
from artrepo_testing import run_cli
from helpers import payload


def _pack_of(av):
    from artrepo.client import active_repository

    chunks = active_repository().chunks
    (pack_id,) = {chunks.index.locations[cid][0] for cid in av.manifest().chunk_ids()}
    return chunks.pack_path(pack_id)


def _loose_object(project, oid: str):
    return project / ".artrepo" / "objects" / oid[:2] / oid[2:]


def flip_byte(project, victim, other):
    pack = _pack_of(victim)
    raw = bytearray(pack.read_bytes())
    raw[len(raw) // 3] ^= 0x40
    pack.write_bytes(bytes(raw))


def truncate_pack(project, victim, other):
    pack = _pack_of(victim)
    pack.write_bytes(pack.read_bytes()[: pack.stat().st_size // 2])


def delete_pack(project, victim, other):
    _pack_of(victim).unlink()


def delete_index(project, victim, other):
    """The index file naming the victim's pack (each save writes its own)."""
    from artrepo.storage.index import decode_index

    pack_id = bytes.fromhex(_pack_of(victim).name)
    for f in (project / ".artrepo" / "chunks" / "index").iterdir():
        if pack_id in decode_index(f.read_bytes(), f.name):
            f.unlink()


def swap_chunks(project, victim, other):
    """Two chunks of the victim exchange places inside its pack (header left alone)."""
    from artrepo.client import active_repository

    chunks = active_repository().chunks
    a, b = list(victim.manifest().chunk_ids())[:2]
    (pa, ea), (pb, eb) = chunks.index.locations[a], chunks.index.locations[b]
    pack = chunks.pack_path(pa)
    raw = bytearray(pack.read_bytes())
    n = min(ea.length, eb.length)
    first, second = bytes(raw[ea.offset:ea.offset + n]), bytes(raw[eb.offset:eb.offset + n])
    raw[ea.offset:ea.offset + n], raw[eb.offset:eb.offset + n] = second, first
    pack.write_bytes(bytes(raw))


def garbage_record_object(project, victim, other):
    from artrepo.client import active_repository

    repo = active_repository()
    blob = repo.objects.tree_listing(victim.id, "")["record.msgpack"]
    path = _loose_object(project, blob)
    path.chmod(0o644)
    path.write_bytes(zlib.compress(b"blob 12\0not a record"))


def garbage_commit_object(project, victim, other):
    path = _loose_object(project, victim.id)
    path.chmod(0o644)
    path.write_bytes(b"\x78\x9c garbage that is not zlib")


def missing_commit_ref(project, victim, other):
    (project / ".artrepo" / "refs" / "artrepo" / "v" / "victim" / "1").write_text("0" * 40 + "\n")


DAMAGE = [flip_byte, truncate_pack, delete_pack, delete_index, swap_chunks, garbage_record_object,
          garbage_commit_object, missing_commit_ref]


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda f: f.__name__)
def test_damage_is_detected_by_fsck_named_by_load_and_contained(project, damage):
    victim = save_artifact(payload(1), "victim")
    other = save_artifact(payload(2), "bystander")
    assert run_cli("fsck", "--read-data").returncode == 0
    damage(project, victim, other)
    from artrepo import repository

    for repo in repository._OPEN.values():
        repo.close()
    repository._OPEN.clear()

    proc = run_cli("fsck", "--read-data")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "victim" in proc.stdout and "Traceback" not in proc.stderr
    assert "bystander" not in proc.stdout  # the problem is pinned on the damaged version only

    with pytest.raises(ArtrepoError) as err:
        np.asarray(load_artifact("victim:1"))
    assert err.value.exit_code == 3, err.value
    named = ("victim:1", victim.id[:12], "0" * 12)  # the version, its id, or the missing object it names
    assert any(n in str(err.value) for n in named), err.value
    export = run_cli("export", "victim:1", str(project.parent / "out"))
    assert export.returncode == 3 and "Traceback" not in export.stderr
    assert len(export.stderr.strip().splitlines()) == 1

    assert np.array_equal(load_artifact("bystander"), payload(2))  # the rest stays usable
    assert run_cli("export", "bystander", str(project.parent / "ok")).returncode == 0


@pytest.mark.parametrize("damage", [garbage_record_object, missing_commit_ref], ids=lambda f: f.__name__)
def test_a_damaged_record_names_the_artifact_version(project, damage):
    victim = save_artifact(payload(1), "victim")
    damage(project, victim, None)
    from artrepo import repository

    repository._OPEN.clear()
    with pytest.raises(IntegrityError, match="victim:1"):
        load_artifact("victim:1")


def test_a_garbage_ref_is_an_integrity_error_not_a_missing_version(project):
    save_artifact(payload(1), "victim")
    save_artifact(payload(3), "victim")
    (project / ".artrepo" / "refs" / "artrepo" / "v" / "victim" / "1").write_text("garbage\n")
    assert run_cli("fsck").returncode == 3
    assert run_cli("export", "victim:1", str(project.parent / "out")).returncode == 3


def test_a_damaged_index_file_is_reported_and_gc_rebuilds_it(project):
    save_artifact(payload(1), "a")
    save_artifact(payload(2), "b")
    index = project / ".artrepo" / "chunks" / "index"
    first = sorted(index.iterdir())[0]
    first.write_bytes(b"\x00" + first.read_bytes()[1:])
    proc = run_cli("fsck")
    assert proc.returncode == 3 and "index file" in proc.stdout
    assert run_cli("gc", "--grace", "0").returncode == 0
    proc = run_cli("fsck", "--read-data")
    assert proc.returncode == 0, proc.stdout
    out = subprocess.run(["git", "--git-dir", str(project / ".artrepo"), "fsck", "--strict"], capture_output=True)
    assert out.returncode == 0
