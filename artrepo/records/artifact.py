"""Records of an artifact version: the version record, its manifest, annotations."""
from __future__ import annotations

import enum

from artrepo.plain import Frozen
from artrepo.records import codec


class ArtifactType(str, enum.Enum):
    """What an artifact is; the default comes from its materializer."""

    DATA = "DataArtifact"
    MODEL = "ModelArtifact"
    DATA_ANALYSIS = "DataAnalysisArtifact"
    SERVICE = "ServiceArtifact"
    STATISTICS = "StatisticsArtifact"
    SCHEMA = "SchemaArtifact"
    BASE = "BaseArtifact"

    def __str__(self) -> str:
        return self.name


class VisualizationType(str, enum.Enum):
    HTML = "html"
    MARKDOWN = "markdown"
    IMAGE = "image"
    CSV = "csv"
    JSON = "json"


class VersionRecord(Frozen):
    """The immutable record of one artifact version (`record.msgpack`).

    `version` is set only for custom versions: an auto-increment number is a
    label held by the ref, so renumbering never changes this record or its id.
    """

    SCHEMA = 1
    __slots__ = ("name", "version", "artifact_type", "materializer", "data_type", "content_hash", "size",
                 "created_ns", "tags", "metadata", "producer", "origin", "environment")
    name: str
    version: str | None
    artifact_type: str
    materializer: str
    data_type: str
    content_hash: bytes
    size: int
    created_ns: int
    tags: tuple[str, ...]
    metadata: dict
    producer: dict | None  # {"run_id": ..., "step": ..., "output": ...}
    origin: str  # saved | registered | pipeline
    environment: dict  # python, cloudpickle versions for pickles

    def __init__(self, *, name: str, version: str | None, artifact_type: str, materializer: str, data_type: str,
                 content_hash: bytes, size: int, created_ns: int, tags: tuple[str, ...] = (),
                 metadata: dict | None = None, producer: dict | None = None, origin: str = "saved",
                 environment: dict | None = None):
        self._init(name=name, version=version, artifact_type=artifact_type, materializer=materializer,
                   data_type=data_type, content_hash=content_hash, size=size, created_ns=created_ns, tags=tags,
                   metadata={} if metadata is None else metadata, producer=producer, origin=origin,
                   environment={} if environment is None else environment)

    def to_msgpack(self) -> bytes:
        return codec.encode({
            "kind": "artifact_version", "schema": self.SCHEMA, "name": self.name,
            "version": self.version, "type": self.artifact_type, "materializer": self.materializer,
            "data_type": self.data_type, "content_hash": self.content_hash, "size": self.size,
            "created_ns": self.created_ns, "tags": list(self.tags), "metadata": self.metadata,
            "producer": self.producer, "origin": self.origin, "environment": self.environment,
        })

    @classmethod
    def from_msgpack(cls, data: bytes) -> "VersionRecord":
        d = codec.decode(data, "artifact_version", cls.SCHEMA)
        with codec.fields("artifact_version"):
            return cls(
                name=d["name"], version=d["version"], artifact_type=d["type"],
                materializer=d["materializer"], data_type=d["data_type"],
                content_hash=bytes(d["content_hash"]), size=d["size"], created_ns=d["created_ns"],
                tags=tuple(d["tags"]), metadata=dict(d["metadata"]), producer=d["producer"],
                origin=d["origin"], environment=dict(d["environment"]),
            )


def _file_row(f: StoredFile) -> list:
    return [f.path, f.size, int(f.executable), f.symlink, [[cid, n] for cid, n in f.chunks]]


def _file_from_row(row: list) -> StoredFile:
    from artrepo.storage.chunkstore import StoredFile

    path, size, executable, symlink, chunks = row
    return StoredFile(path, size, tuple((bytes(c), n) for c, n in chunks), bool(executable), symlink)


class Manifest(Frozen):
    """The files of a version (`manifest.msgpack`): data files and visualizations."""

    SCHEMA = 1
    __slots__ = ("files", "visualizations")
    files: tuple[StoredFile, ...]
    visualizations: tuple[tuple[str, str, StoredFile], ...]  # (name, type, file)

    def __init__(self, files: tuple[StoredFile, ...], visualizations: tuple[tuple[str, str, StoredFile], ...] = ()):
        self._init(files=files, visualizations=visualizations)

    @property
    def content_hash(self) -> bytes:
        """BLAKE3 over the sorted data files' paths, modes and chunk ids."""
        from artrepo.storage.hashing import digest  # not imported by readers of records alone

        rows = sorted(_file_row(f) for f in self.files)
        return digest(codec.encode({"files": rows}))

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def chunk_ids(self):
        for f in self.files:
            for cid, _ in f.chunks:
                yield cid
        for _, _, f in self.visualizations:
            for cid, _ in f.chunks:
                yield cid

    def file(self, path: str) -> StoredFile:
        for f in self.files:
            if f.path == path:
                return f
        raise KeyError(path)

    def to_msgpack(self) -> bytes:
        return codec.encode({
            "kind": "manifest", "schema": self.SCHEMA,
            "files": [_file_row(f) for f in self.files],
            "visualizations": [[n, t, _file_row(f)] for n, t, f in self.visualizations],
        })

    @classmethod
    def from_msgpack(cls, data: bytes) -> "Manifest":
        d = codec.decode(data, "manifest", cls.SCHEMA)
        with codec.fields("manifest"):
            return cls(
                tuple(_file_from_row(r) for r in d["files"]),
                tuple((n, t, _file_from_row(r)) for n, t, r in d["visualizations"]),
            )


class Annotation(Frozen):
    """Tags or metadata added to (or tags removed from) a version after it was written (append-only)."""

    SCHEMA = 1
    __slots__ = ("version_id", "tags", "metadata", "created_ns", "removed_tags")
    version_id: str
    tags: tuple[str, ...]
    metadata: dict
    created_ns: int
    removed_tags: tuple[str, ...]  # encoded only when not empty: older annotations keep their bytes

    def __init__(self, version_id: str, tags: tuple[str, ...] = (), metadata: dict | None = None,
                 created_ns: int = 0, removed_tags: tuple[str, ...] = ()):
        self._init(version_id=version_id, tags=tags, metadata={} if metadata is None else metadata,
                   created_ns=created_ns, removed_tags=removed_tags)

    def to_msgpack(self) -> bytes:
        doc = {"kind": "annotation", "schema": self.SCHEMA, "version_id": self.version_id,
               "tags": list(self.tags), "metadata": self.metadata, "created_ns": self.created_ns}
        if self.removed_tags:
            doc["removed_tags"] = list(self.removed_tags)
        return codec.encode(doc)

    @classmethod
    def from_msgpack(cls, data: bytes) -> "Annotation":
        d = codec.decode(data, "annotation", cls.SCHEMA)
        with codec.fields("annotation"):
            return cls(d["version_id"], tuple(d["tags"]), dict(d["metadata"]), d["created_ns"],
                       tuple(d.get("removed_tags", ())))
