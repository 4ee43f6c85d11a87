"""Records of an artifact version: the version record, its manifest, annotations."""
from __future__ import annotations

import enum

import msgpack

from artrepo.errors import FormatError
from artrepo.plain import Frozen
from artrepo.records import codec

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from artrepo.storedfile import StoredFile


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


class VersionRecord(codec.Record):
    """The immutable record of one artifact version (`record.msgpack`).

    `version` is set only for custom versions: an auto-increment number is a
    label held by the ref, so renumbering never changes this record or its id.
    """

    FORMAT = codec.Schema("artifact_version", 1, {
        "name": str, "version": (str, None), "type": str, "materializer": str, "data_type": str,
        "content_hash": bytes, "size": int, "created_ns": int, "tags": [str], "metadata": {str: codec.JSON},
        "producer": ({str: str}, None),  # {run_id, step, output} of the step that made it
        "origin": str,  # saved | registered | pipeline
        "environment": {str: str}})  # python, cloudpickle versions for pickles
    __slots__ = FORMAT.attributes(type="artifact_type")

    def __init__(self, *, name: str, version: str | None, artifact_type: str, materializer: str, data_type: str,
                 content_hash: bytes, size: int, created_ns: int, tags: tuple[str, ...] = (),
                 metadata: dict | None = None, producer: dict | None = None, origin: str = "saved",
                 environment: dict | None = None):
        self._init(name=name, version=version, artifact_type=artifact_type, materializer=materializer,
                   data_type=data_type, content_hash=content_hash, size=size, created_ns=created_ns, tags=tags,
                   metadata={} if metadata is None else metadata, producer=producer, origin=origin,
                   environment={} if environment is None else environment)

    @classmethod
    def from_msgpack(cls, data: bytes) -> "VersionRecord":
        record = super().from_msgpack(data)
        if record.artifact_type not in _TYPES:
            raise FormatError(f"malformed artifact_version record: unknown type {record.artifact_type[:40]!r}")
        return record


_TYPES = frozenset(t.value for t in ArtifactType)


def _file_row(f: StoredFile) -> list:
    return [f.path, f.size, int(f.executable), f.symlink, [[cid, n] for cid, n in f.chunks]]


def _file_from_row(row: list) -> StoredFile:
    from artrepo.storedfile import StoredFile  # a dataclass: not loaded by a cached run, which reads no manifest

    path, size, executable, symlink, chunks = row
    return StoredFile(path, size, tuple((c, n) for c, n in chunks), bool(executable), symlink)


_FILE_ROW = codec.Row(str, int, int, (str, None), [codec.Row(bytes, int)])


class Manifest(Frozen):
    """The files of a version (`manifest.msgpack`): data files and visualizations."""

    FORMAT = codec.Schema("manifest", 1, {"files": [_FILE_ROW], "visualizations": [codec.Row(str, str, _FILE_ROW)]})
    __slots__ = ("files", "visualizations")
    files: tuple[StoredFile, ...]
    visualizations: tuple[tuple[str, str, StoredFile], ...]  # (name, type, file)

    def __init__(self, files: tuple[StoredFile, ...], visualizations: tuple[tuple[str, str, StoredFile], ...] = ()):
        self._init(files=files, visualizations=visualizations)

    @property
    def content_hash(self) -> bytes:
        """BLAKE3 over the sorted data files' paths, modes and chunk ids."""
        import blake3  # docs/format.md §7; not imported by readers of records alone

        rows = sorted(_file_row(f) for f in self.files)
        # codec.encode's bytes: the rows hold no map to sort, so msgpack's own packing is already canonical
        return blake3.blake3(msgpack.packb({"files": rows}, use_bin_type=True)).digest()

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def stored_files(self) -> list[StoredFile]:
        """Every stored file: the data files, then the visualizations' files."""
        return [*self.files, *(f for _, _, f in self.visualizations)]

    def chunk_ids(self):
        return (cid for f in self.stored_files() for cid, _ in f.chunks)

    def to_msgpack(self) -> bytes:
        return self.FORMAT.encode({"files": [_file_row(f) for f in self.files],
                                   "visualizations": [[n, t, _file_row(f)] for n, t, f in self.visualizations]})

    @classmethod
    def from_msgpack(cls, data: bytes) -> "Manifest":
        d = cls.FORMAT.decode(data)
        return cls(tuple(_file_from_row(r) for r in d["files"]),
                   tuple((n, t, _file_from_row(r)) for n, t, r in d["visualizations"]))


class Annotation(codec.Record):
    """Tags or metadata added to (or tags removed from) a version after it was written, or its deletion
    (append-only). `version_id` is the key annotated: a version id, or an artifact's, run's or step run's key."""

    # removed_tags and deleted are written only when not empty: older annotations keep their bytes
    FORMAT = codec.Schema("annotation", 1, {"version_id": str, "tags": [str], "metadata": {str: codec.JSON},
                                            "created_ns": int, "removed_tags": [str], "deleted": bool},
                          optional={"removed_tags", "deleted"})
    __slots__ = FORMAT.attributes()

    def __init__(self, version_id: str, tags: tuple[str, ...] = (), metadata: dict | None = None,
                 created_ns: int = 0, removed_tags: tuple[str, ...] = (), deleted: bool = False):
        self._init(version_id=version_id, tags=tags, metadata={} if metadata is None else metadata,
                   created_ns=created_ns, removed_tags=removed_tags, deleted=deleted)

