"""Hostile manifests crafted straight into git never write outside the target; bombs and junk are refused."""
from __future__ import annotations

import time

import pytest
import zstandard

from artrepo.errors import IntegrityError
from artrepo.records.artifact import Manifest, VersionRecord
from artrepo.storedfile import StoredFile
from artrepo_testing import git_fsck, run_cli


def publish(repo, name: str, manifest: Manifest, materializer: str = "path/v1") -> None:
    """Write a version whose manifest nobody validated, as a hostile remote could."""
    record = VersionRecord(name=name, version=None, artifact_type="DataArtifact", materializer=materializer,
                           data_type="pathlib.Path", content_hash=manifest.content_hash, size=manifest.size,
                           created_ns=time.time_ns())
    repo.save_version(record, repo.write_manifest(manifest))


def stored(repo, path: str, data: bytes) -> StoredFile:
    session = repo.chunks.session()
    w = session.writer(path)
    w.write(data)
    w.close()
    session.commit()
    return w.result


HOSTILE_PATHS = ["../escaped.txt", "dir/../../escaped.txt", "/tmp/escaped-abs.txt", ".git/config",
                 "dir/.GIT/hooks/x", ".artrepo/config", "a\\..\\..\\escaped.txt", "./x", "a//b"]


@pytest.mark.parametrize("bad", HOSTILE_PATHS)
def test_hostile_paths_never_write_outside_the_target(project, repo, tmp_path, bad):
    good = stored(repo, "dir/ok.txt", b"fine")
    evil = stored(repo, bad, b"pwned")
    publish(repo, "hostile", Manifest((good, evil)))
    target = tmp_path / "target" / "deep"
    proc = run_cli("export", "hostile", str(target))
    assert proc.returncode == 3 and "unsafe path" in proc.stderr and "Traceback" not in proc.stderr
    zipped = run_cli("export", "hostile", str(tmp_path / "out.zip"))
    assert zipped.returncode == 3
    with pytest.raises(IntegrityError, match="unsafe path"):
        from artrepo import load_artifact

        load_artifact("hostile")
    assert not list(tmp_path.rglob("escaped*")) and not (tmp_path / "target" / "escaped.txt").exists()
    assert not (project / ".artrepo" / "config").read_text().startswith("pwned")
    fsck = run_cli("fsck")
    assert fsck.returncode == 3 and "hostile" in fsck.stdout
    git_fsck(project)


def test_symlink_tricks_never_redirect_writes(project, repo, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    link = StoredFile("dir/link", 0, (), False, "../../outside")
    through = stored(repo, "dir/link/planted.txt", b"pwned")
    publish(repo, "linky", Manifest((link, through)))
    proc = run_cli("export", "linky", str(tmp_path / "t"))
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    assert list(outside.iterdir()) == []
    absolute = StoredFile("dir/abs", 0, (), False, str(outside))
    publish(repo, "abs-link", Manifest((stored(repo, "dir/x", b"x"), absolute)))
    assert run_cli("export", "abs-link", str(tmp_path / "u")).returncode == 3
    assert list(outside.iterdir()) == []


def test_a_decompression_bomb_is_refused_past_the_recorded_size(project, repo):
    from artrepo.storage import hashing
    from artrepo.storage.packfile import CODEC_ZSTD, PackEntry, encode_footer

    plain = bytes(256 << 20)  # 256 MiB of zeros: a few KiB compressed
    frame = zstandard.ZstdCompressor(level=3).compress(plain)
    claimed = 1000
    cid = hashing.digest(plain[:claimed])
    header = encode_footer([PackEntry(cid, CODEC_ZSTD, 0, len(frame), claimed)])
    pack_id = hashing.digest(header)
    path = repo.chunks.pack_path(pack_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(frame + header)
    repo.chunks.index.write({pack_id: [PackEntry(cid, CODEC_ZSTD, 0, len(frame), claimed)]})
    publish(repo, "bomb", Manifest((StoredFile("file/bomb.bin", claimed, ((cid, claimed),)),)))
    started = time.monotonic()
    from artrepo import load_artifact

    with pytest.raises(IntegrityError, match="bomb:1.*cannot decompress"):
        load_artifact("bomb")
    assert time.monotonic() - started < 5
    proc = run_cli("fsck", "--read-data")
    assert proc.returncode == 3 and "bomb:1" in proc.stdout


def _publish_raw_record(repo, name: str, record_bytes: bytes) -> None:
    from artrepo.gitdb import layout
    from artrepo.gitdb.objects import Blob

    manifest = repo.write_manifest(Manifest(()))
    tree = repo.objects.write_tree({"record.msgpack": record_bytes, "manifest.msgpack": Blob(manifest)})
    commit = repo.objects.write_commit(tree, [], f"artifact {name}\n", time.time_ns())
    repo.refs.create(layout.version_ref(name, "1"), commit)


def test_an_oversized_record_is_a_clear_error_not_a_hang(project, repo):
    import msgpack

    huge = msgpack.packb({"kind": "artifact_version", "schema": 1, "pad": b"\0" * (65 << 20)})
    _publish_raw_record(repo, "oversized", huge)
    started = time.monotonic()
    proc = run_cli("show", "oversized")
    assert proc.returncode == 3 and "larger than" in proc.stderr and "Traceback" not in proc.stderr
    assert time.monotonic() - started < 30
    assert run_cli("fsck").returncode == 3


def test_a_malformed_record_is_a_clear_error(project, repo):
    import msgpack

    _publish_raw_record(repo, "malformed", msgpack.packb({"kind": "artifact_version", "schema": 1}))
    proc = run_cli("show", "malformed")
    assert proc.returncode == 3 and "Traceback" not in proc.stderr


def test_a_malformed_record_is_reported_by_fsck(project, repo):
    import msgpack

    _publish_raw_record(repo, "malformed", msgpack.packb({"kind": "artifact_version", "schema": 1}))
    _publish_raw_record(repo, "notmsgpack", b"\xc1\xc1\xc1")
    proc = run_cli("fsck")
    assert proc.returncode == 3 and "malformed:1" in proc.stdout and "notmsgpack:1" in proc.stdout
    assert "Traceback" not in proc.stderr
