"""Forging remotes from the documented format alone (docs/format.md), never artrepo's own encoders.

An attacker with write access to a bucket starts from what a real `artrepo
push` left there and rewrites it with msgpack, zstandard, blake3 and stock
`git`. `Forgery` holds a remote's objects in memory (key -> bytes) and a
scratch git repository holding the remote's git objects; `Bucket` writes the
result to a folder or to S3 through one small interface, so every hostile
remote is cheap on both.

    forged = Forgery.from_objects(legit_objects, tmp_path / "scratch")
    forged.forge_version("evil", record, manifest)
    forged.write_to(bucket)
"""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import blake3
import msgpack
import zstandard

TRAILER = b"ARPACK01"
CODEC_RAW, CODEC_ZSTD = 0, 1
GIT_ENV = {"GIT_AUTHOR_NAME": "artrepo", "GIT_AUTHOR_EMAIL": "artrepo@localhost",
           "GIT_COMMITTER_NAME": "artrepo", "GIT_COMMITTER_EMAIL": "artrepo@localhost"}


def digest(data: bytes) -> bytes:
    return blake3.blake3(data).digest()


def canonical(value):
    """Records are canonical msgpack: map keys sorted, strings UTF-8, binary as bin (format.md §7)."""
    def sort(v):
        if isinstance(v, dict):
            return {k: sort(v[k]) for k in sorted(v, key=str)}
        if isinstance(v, (list, tuple)):
            return [sort(x) for x in v]
        return v

    return msgpack.packb(sort(value), use_bin_type=True)


def file_row(path: str, data: bytes = b"", *, executable: bool = False, symlink: str | None = None) -> list:
    """A manifest row for a small file (one chunk: below FastCDC's minimum) or a symlink."""
    if symlink is not None:
        return [path, 0, 0, symlink, []]
    chunks = [[digest(data), len(data)]] if data else []
    return [path, len(data), int(executable), None, chunks]


def content_hash(rows: list) -> bytes:
    return digest(canonical({"files": sorted(rows)}))


def manifest_doc(rows: list, visualizations: list | None = None) -> dict:
    return {"kind": "manifest", "schema": 1, "files": sorted(rows), "visualizations": visualizations or []}


def record_doc(name: str, rows: list, *, materializer: str = "path/v1", data_type: str = "pathlib.Path",
               **fields) -> dict:
    doc = {"kind": "artifact_version", "schema": 1, "name": name, "version": None, "type": "DataArtifact",
           "materializer": materializer, "data_type": data_type, "content_hash": content_hash(rows),
           "size": sum(r[1] for r in rows), "created_ns": 1_700_000_000 * 10**9, "tags": [], "metadata": {},
           "producer": None, "origin": "saved", "environment": {}}
    doc.update(fields)
    return doc


@dataclass
class Blob:
    """One stored chunk of a pack: its id, codec, stored bytes and declared plaintext length."""

    chunk_id: bytes
    codec: int
    stored: bytes
    raw_length: int

    @classmethod
    def raw(cls, data: bytes) -> "Blob":
        return cls(digest(data), CODEC_RAW, data, len(data))


def pack_bytes(blobs: list[Blob], header_rows: list | None = None) -> tuple[bytes, bytes, list]:
    """(pack id, pack file, index rows) in the §5 layout; `header_rows` overrides the honest header."""
    rows = header_rows if header_rows is not None else [[b.chunk_id, b.codec, len(b.stored), b.raw_length]
                                                        for b in blobs]
    header = msgpack.packb(rows, use_bin_type=True)
    tail = header + len(header).to_bytes(4, "little") + TRAILER
    index_rows, offset = [], 0
    for b in blobs:
        index_rows.append([b.chunk_id, b.codec, offset, len(b.stored), b.raw_length])
        offset += len(b.stored)
    return digest(tail), b"".join(b.stored for b in blobs) + tail, index_rows


def index_bytes(packs: dict[bytes, list]) -> bytes:
    """An index file (§6): msgpack {"v": 1, "packs": {pack id: rows}}."""
    return msgpack.packb({"v": 1, "packs": dict(sorted(packs.items()))}, use_bin_type=True)


def decode_table(data: bytes) -> dict:
    return msgpack.unpackb(zstandard.ZstdDecompressor().decompress(data), raw=False)


def encode_table(doc: dict) -> bytes:
    return zstandard.ZstdCompressor(level=3).compress(msgpack.packb(doc, use_bin_type=True))


class Forgery:
    """A remote's objects, rewritten by an attacker; git objects live in a scratch repository."""

    def __init__(self, objects: dict[str, bytes], scratch: Path):
        self.objects = dict(objects)
        self.scratch = scratch
        if not (scratch / "HEAD").exists():
            subprocess.run(["git", "init", "-q", "--bare", str(scratch)], check=True)
            for key, data in sorted(self.objects.items()):
                if key.startswith("git/"):
                    self.git("index-pack", "--stdin", input=data)

    # -- the ref table (zstd msgpack, §11b) ------------------------------------------
    @property
    def table(self) -> dict:
        return decode_table(self.objects["state"])

    @table.setter
    def table(self, doc: dict) -> None:
        self.objects["state"] = encode_table(doc)

    def set_refs(self, **changes) -> None:
        doc = self.table
        doc["refs"].update(changes)
        self.table = doc

    def set_ref(self, ref: str, oid: str) -> None:
        doc = self.table
        doc["refs"][ref] = oid
        self.table = doc

    # -- git objects, by stock git ----------------------------------------------------
    def git(self, *args: str, input: bytes | None = None) -> bytes:
        proc = subprocess.run(["git", "--git-dir", str(self.scratch), *args], input=input, capture_output=True,
                              env={**os.environ, **GIT_ENV, "GIT_AUTHOR_DATE": "1700000000 +0000",
                                   "GIT_COMMITTER_DATE": "1700000000 +0000"})
        if proc.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)}: {proc.stderr.decode()}")
        return proc.stdout

    def blob(self, data: bytes) -> str:
        return self.git("hash-object", "-w", "--stdin", input=data).decode().strip()

    def tree(self, entries: dict[str, str]) -> str:
        """A tree from {name: blob id, or "tree:<id>" for a subtree} (`git mktree`, names as given)."""
        lines = []
        for name, oid in entries.items():
            kind, _, oid = oid.rpartition(":")
            lines.append(f"040000 tree {oid}\t{name}" if kind == "tree" else f"100644 blob {oid}\t{name}")
        return self.git("mktree", input=("\n".join(lines) + "\n").encode()).decode().strip()

    def commit(self, tree: str, message: str, parents: tuple[str, ...] = ()) -> str:
        args = ["commit-tree", tree] + [x for p in parents for x in ("-p", p)]
        return self.git(*args, input=message.encode()).decode().strip()

    def read(self, rev_path: str) -> bytes:
        return self.git("cat-file", "-p", rev_path)

    def listing(self, treeish: str) -> dict[str, str]:
        """{name: id} of one tree level; subtrees as "tree:<id>"."""
        out = {}
        for line in self.git("ls-tree", treeish).decode().splitlines():
            meta, name = line.split("\t", 1)
            _mode, kind, oid = meta.split()
            out[name] = f"tree:{oid}" if kind == "tree" else oid
        return out

    def ship(self, *tips: str) -> str:
        """Pack what `tips` reach beyond the remote's refs with `git pack-objects`, list it in the table."""
        have = [f"^{oid}" for oid in self.table["refs"].values()]
        data = self.git("pack-objects", "--revs", "--stdout", "-q",
                        input=("\n".join([*tips, *have]) + "\n").encode())
        return self._publish("git", data, f"git/{digest(data).hex()}.pack")

    # -- records and versions ---------------------------------------------------------
    def record(self, ref: str) -> dict:
        return msgpack.unpackb(self.read(f"{self.table['refs'][ref]}:record.msgpack"), raw=False)

    def manifest(self, ref: str) -> dict:
        return msgpack.unpackb(self.read(f"{self.table['refs'][ref]}:manifest.msgpack"), raw=False)

    def version_commit(self, record: bytes, manifest: bytes, name: str = "forged") -> str:
        tree = self.tree({"manifest.msgpack": self.blob(manifest), "record.msgpack": self.blob(record)})
        return self.commit(tree, f"artifact {name} (auto-increment)\n")

    def forge_version(self, name: str, record, manifest, label: str = "1") -> str:
        """Publish a version commit (records as given: dicts are encoded canonically, bytes kept)."""
        rec = record if isinstance(record, bytes) else canonical(record)
        man = manifest if isinstance(manifest, bytes) else canonical(manifest)
        oid = self.version_commit(rec, man, name)
        self.ship(oid)
        self.set_ref(f"refs/artrepo/v/{name}/{label}", oid)
        return oid

    def forge_files(self, name: str, files: dict[str, bytes], links: dict[str, str] | None = None, *,
                    label: str = "1", pack: bool = True, **record_fields) -> str:
        """A version of `files` (stored in one new pack unless `pack` is False) and `links`."""
        rows = [file_row(p, d) for p, d in files.items()] + [file_row(p, symlink=t)
                                                              for p, t in (links or {}).items()]
        if pack:
            self.add_chunks([d for d in files.values() if d])
        return self.forge_version(name, record_doc(name, rows, **record_fields), manifest_doc(rows), label)

    # -- packs and index files --------------------------------------------------------
    def add_pack(self, blobs: list[Blob], header_rows: list | None = None, index_rows: list | None = None) -> bytes:
        """A pack (and an index file naming it, listed in the table); returns the pack id."""
        pid, data, rows = pack_bytes(blobs, header_rows)
        self.objects[f"packs/{pid.hex()}"] = data
        self.add_index({pid: rows if index_rows is None else index_rows})
        return pid

    def add_chunks(self, datas: list[bytes]) -> bytes:
        return self.add_pack([Blob.raw(d) for d in dict.fromkeys(datas)])

    def add_index(self, packs: dict[bytes, list]) -> str:
        data = index_bytes(packs)
        return self._publish("index", data, f"index/{digest(data).hex()}")

    def _publish(self, listing: str, data: bytes, key: str) -> str:
        """Store an object and name it in the table's `git` or `index` list; returns its name."""
        self.objects[key] = data
        name = key.split("/")[1].removesuffix(".pack")
        doc = self.table
        doc[listing].append(name)
        self.table = doc
        return name

    def plant(self, root: Path, refs: dict[str, str], origin: str | None = None) -> None:
        """Put forged commits and every pack and index file straight into a local repository (§2 layout).

        For checks that must hold however a manifest arrived (a pull may refuse it first). With
        `origin`, the versions are marked as pulled from that remote (`origins/<id>`, §2): untrusted.
        """
        self.git("push", "-q", str(root / ".artrepo"), *(f"{oid}:{ref}" for ref, oid in refs.items()))
        for key, data in self.objects.items():
            kind, _, name = key.partition("/")
            path = {"packs": root / ".artrepo/chunks/packs" / name[:2] / name,
                    "index": root / ".artrepo/chunks/index" / name}.get(kind)
            if path is not None and not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        for ref, oid in refs.items():
            if origin and ref.startswith("refs/artrepo/v/"):
                (root / ".artrepo/origins").mkdir(exist_ok=True)
                (root / ".artrepo/origins" / oid).write_text(origin + "\n")

    def write_to(self, bucket) -> None:
        for key in sorted(bucket.keys()):
            if key not in self.objects:
                bucket.delete(key)
        for key, data in self.objects.items():
            bucket.write(key, data)


class FolderBucket:
    """A local folder remote, written file by file."""

    kind = "folder"

    def __init__(self, root: Path):
        self.root = root
        self.url, self.endpoint = str(root), None

    def write(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def read(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def delete(self, key: str) -> None:
        (self.root / key).unlink()

    def keys(self) -> list[str]:
        if not self.root.exists():
            return []
        return [str(p.relative_to(self.root)) for p in self.root.rglob("*")
                if p.is_file() and not p.relative_to(self.root).parts[0] == "locks"]


class S3Bucket:
    """A prefix of an S3 bucket (moto_server), written with boto3."""

    kind = "s3"

    def __init__(self, endpoint: str, bucket: str, prefix: str = "shared"):
        import boto3

        self.client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                                   aws_access_key_id="testing", aws_secret_access_key="testing")
        self.bucket, self.prefix = bucket, prefix
        self.url, self.endpoint = f"s3://{bucket}/{prefix}", endpoint

    def write(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=f"{self.prefix}/{key}", Body=data)

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=f"{self.prefix}/{key}")["Body"].read()

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=f"{self.prefix}/{key}")

    def keys(self) -> list[str]:
        out = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                            Prefix=self.prefix + "/"):
            out += [o["Key"][len(self.prefix) + 1:] for o in page.get("Contents", [])]
        return out


def read_objects(bucket) -> dict[str, bytes]:
    return {key: bucket.read(key) for key in bucket.keys()}
