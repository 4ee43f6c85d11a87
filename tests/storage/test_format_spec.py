"""Every id of a real repository and its remote, recomputed by following docs/format.md's words.

Only blake3, msgpack, zstandard and stock git are used here, never artrepo's
own functions: a second implementation reading the spec must find the ids
artrepo wrote. Chunk ids (§1), pack ids, footers and blob layout (§5), index
file names and contents (§6), content hashes (§7), and on a remote (§11b) the
ref table, pack, index and git pack names. (Version ids are git commit ids:
git itself checks them, tests/gitdb.)
"""
import subprocess
from pathlib import Path

import blake3
import msgpack
import numpy as np
import zstandard

from artrepo.values import save_value
from artrepo.remotes.config import add_remote, get_remote
from artrepo.remotes.push import push
from artrepo.repository import Repository


def b3(data: bytes) -> bytes:
    return blake3.blake3(data).digest()


def spec_packs(folder: Path, sharded: bool) -> dict[bytes, list]:
    """§5: every pack's id is the BLAKE3 of its footer; every blob decodes to the chunk its id names."""
    packs = {}
    for path in sorted(p for p in (folder / "packs").rglob("*") if p.is_file() and not p.name.startswith(".")):
        data = path.read_bytes()
        assert data[-8:] == b"ARPACK01"
        header_len = int.from_bytes(data[-12:-8], "little")
        footer = data[-12 - header_len:]  # header || header_len || "ARPACK01": everything after the last blob
        assert b3(footer).hex() == path.name
        assert path.parent.name == (path.name[:2] if sharded else "packs")
        rows, offset = [], 0
        for chunk_id, codec, length, raw_length in msgpack.unpackb(data[-12 - header_len:-12]):
            blob = data[offset:offset + length]
            if codec == 1:
                assert zstandard.frame_content_size(blob) == raw_length
                plain = zstandard.ZstdDecompressor().decompress(blob, max_output_size=raw_length)
            else:
                assert codec == 0
                plain = blob
            assert len(plain) == raw_length and b3(plain) == chunk_id  # §1: chunk id = BLAKE3 of the plaintext
            rows.append([chunk_id, codec, offset, length, raw_length])
            offset += length
        assert offset + header_len + 12 == len(data)  # blobs are contiguous from offset 0
        packs[bytes.fromhex(path.name)] = rows
    return packs


def spec_index(folder: Path, packs: dict[bytes, list]) -> dict[str, set[bytes]]:
    """§6: an index file is named by the BLAKE3 of its bytes and lists packs exactly as their footers do."""
    out = {}
    for path in sorted((folder / "index").iterdir()):
        data = path.read_bytes()
        assert b3(data).hex() == path.name
        doc = msgpack.unpackb(data, strict_map_key=False)
        assert set(doc) == {"v", "packs"} and doc["v"] == 1
        for pack_id, rows in doc["packs"].items():
            assert rows == packs[pack_id]
        out[path.name] = {row[0] for rows in doc["packs"].values() for row in rows}
    return out


def git(git_dir: Path, *args: str) -> bytes:
    return subprocess.run(["git", "--git-dir", str(git_dir), *args], capture_output=True, check=True).stdout


def spec_content_hashes(git_dir: Path) -> set[bytes]:
    """§7: the content hash is the BLAKE3 of the canonical msgpack of {"files": sorted data file rows}."""
    chunks = set()
    refs = git(git_dir, "for-each-ref", "--format=%(objectname)", "refs/artrepo/v").decode().split()
    assert refs
    for commit in refs:
        record = msgpack.unpackb(git(git_dir, "show", f"{commit}:record.msgpack"))
        manifest = msgpack.unpackb(git(git_dir, "show", f"{commit}:manifest.msgpack"))
        assert record["kind"] == "artifact_version" and manifest["kind"] == "manifest"
        rows = sorted(manifest["files"])
        expected = b3(msgpack.packb({"files": rows}, use_bin_type=True))
        assert record["content_hash"] == expected
        assert f"Artrepo-Content-Hash: {expected.hex()}" in git(git_dir, "cat-file", "commit", commit).decode()
        for row in manifest["files"] + [v[2] for v in manifest["visualizations"]]:
            chunks |= {chunk_id for chunk_id, _ in row[4]}
    return chunks


def test_every_id_of_a_repository_and_its_remote_follows_the_spec(tmp_path):
    repo = Repository.init(tmp_path / "project")
    folder = tmp_path / "checkpoint"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.txt").write_text("text " * 50_000)  # compresses: zstd blobs
    (folder / "b.bin").write_bytes(np.random.default_rng(1).bytes(700_000))  # does not: raw blobs
    save_value(repo, folder, "checkpoint")
    save_value(repo, np.random.default_rng(2).random(600_000), "weights")
    save_value(repo, {"lr": 0.1, "layers": [64, 64]}, "params")
    for seed in range(3):  # small saves, each its own pack and index file
        save_value(repo, np.random.default_rng(10 + seed).random(5_000), "small")
    remote = tmp_path / "remote"
    add_remote(repo, "origin", str(remote))
    push(repo, get_remote(repo, "origin"))

    needed = spec_content_hashes(repo.git_dir)
    packs = spec_packs(repo.git_dir / "chunks", sharded=True)
    assert {row[1] for rows in packs.values() for row in rows} == {0, 1}  # raw and zstd blobs both checked
    local = spec_index(repo.git_dir / "chunks", packs)
    assert needed <= set().union(*local.values()) and len(local) >= 6

    state = msgpack.unpackb(zstandard.ZstdDecompressor().decompress((remote / "state").read_bytes(),
                                                                    max_output_size=1 << 30))
    on_remote = spec_index(remote, spec_packs(remote, sharded=False))
    assert set(state["index"]) == set(on_remote) and needed <= set().union(*on_remote.values())
    for name in state["git"]:
        assert b3((remote / "git" / f"{name}.pack").read_bytes()).hex() == name
