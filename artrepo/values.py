"""Saving and loading a Python value through a materializer.

Saving is two steps, so that a step running in another process can do the
first: `stage` runs the materializer into a content store (chunks and packs;
no git) and returns the version's record and manifest; `publish` writes the
manifest, record, commit and ref (`Repository.save_version`). Loading needs
only a content store and what `Stored` holds (record, manifest, trust).

    info = save_value(repo, [1, 2, 3], "numbers")
    load_value(repo, info)  # [1, 2, 3]
"""
from __future__ import annotations

import contextlib
import itertools
import os
import time
from pathlib import Path

from artrepo import names
from artrepo.errors import ConflictError, IntegrityError, InvalidNameError, UntrustedPickleError, UserError
from artrepo.gitdb import layout
from artrepo.plain import Frozen
from artrepo.records.artifact import ArtifactType, Manifest, VersionRecord
from artrepo.records.codec import json_like
from artrepo.tags import validated_tags

PICKLE_ID = "cloudpickle/v1"


class Workspace(Frozen):
    """A content store (`chunks`) and this machine's scratch folders, where values are staged and loaded."""

    __slots__ = ("chunks", "tmp", "paths_cache")

    def __init__(self, chunks, tmp: Path, paths_cache: Path | None = None):
        self._init(chunks=chunks, tmp=tmp, paths_cache=paths_cache)

    @classmethod
    def of(cls, repo) -> "Workspace":
        return cls(repo.chunks, repo.tmp, layout.paths_cache(repo.git_dir))


class Stored(Frozen):
    """What loading a version needs besides a content store: its label, record, manifest and trust."""

    __slots__ = ("id", "name", "version", "record", "manifest", "trusted")

    def __init__(self, id: str, name: str, version: str, record: VersionRecord, manifest: Manifest, trusted: bool):
        self._init(id=id, name=name, version=version, record=record, manifest=manifest, trusted=trusted)

    @classmethod
    def of(cls, repo, info) -> "Stored":
        """The published version `info` (a VersionInfo) of `repo`."""
        with integrity_context(info):
            manifest = repo.manifest(info.id)
        return cls(info.id, info.name, info.version, info.record, manifest, repo.trusts(info.id))


class Staged(Frozen):
    """A version whose data is in a content store, not yet published: its record and manifest."""

    __slots__ = ("record", "manifest")

    def __init__(self, record: VersionRecord, manifest: Manifest):
        self._init(record=record, manifest=manifest)


class SaveRequest(Frozen):
    """How to save a value: name, version and settings, validated (before anything is written).

    `extract_metadata=False` skips the materializer's metadata (the user's and
    `storage_size` are kept); `include_visualizations=False` stores none.
    """

    __slots__ = ("name", "version", "tags", "artifact_type", "metadata", "materializer", "producer", "origin",
                 "extract_metadata", "include_visualizations")

    def __init__(self, name: str, version: str | int | None = None, *, tags=None, artifact_type=None,
                 metadata=None, materializer=None, producer: dict | None = None, origin: str = "saved",
                 extract_metadata: bool = True, include_visualizations: bool = True):
        self._init(name=names.validate_name(name), version=None if version is None else names.validate_version(version),
                   tags=validated_tags(tags), metadata=validate_metadata(metadata),
                   artifact_type=artifact_type_of(artifact_type), materializer=materializer, producer=producer,
                   origin=origin, extract_metadata=bool(extract_metadata),
                   include_visualizations=bool(include_visualizations))


@contextlib.contextmanager
def integrity_context(v):
    """Add the artifact version (anything with id, name, version) to integrity errors raised while reading it."""
    try:
        yield
    except IntegrityError as exc:
        if getattr(exc, "_named", False):
            raise
        err = IntegrityError(f"artifact {v.name}:{v.version} ({v.id[:12]}): {exc}")
        err._named = True
        raise err from None


def validate_metadata(metadata: object, what: str = "metadata") -> dict:
    """JSON-like values only: str, int, float, bool, None, lists and dicts of them."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise UserError(f"{what} must be a dict, got {type(metadata).__name__}")
    return json_like(metadata, what)


def artifact_type_of(value) -> ArtifactType | None:
    """An ArtifactType from itself or its name (`model`, `DATA`); None stays None."""
    if value is None or isinstance(value, ArtifactType):
        return value
    try:
        return ArtifactType[str(value).upper()]
    except KeyError:
        raise InvalidNameError(f"unknown artifact type {value!r}; one of "
                               f"{', '.join(t.name for t in ArtifactType)}") from None


def _materializer_class(materializer, data):
    from artrepo.materializers import registry

    if materializer is None:
        return registry.for_type(type(data))
    from artrepo.materializers.base import BaseMaterializer

    if isinstance(materializer, type) and issubclass(materializer, BaseMaterializer):
        return materializer
    raise UserError(f"materializer must be a BaseMaterializer subclass, got {materializer!r}")


def save_value(repo, data: object, name: str, version: str | int | None = None, *, provenance=None, **settings):
    """Store `data` as a new version of `name` (validated before anything is written); its VersionInfo.

    `provenance`: a callable returning (ProvenanceRecord, dirty diff) to store with it, called after validation.
    """
    request = SaveRequest(name, version, **settings)
    # one ref read (a listing of the name's versions splits their packed refs: ~50 ms at 100,000)
    if request.version is not None and _label_taken(repo, request.name, request.version):
        raise ConflictError(f"version {request.name}:{request.version} already exists; custom versions are used once")
    _materializer_class(request.materializer, data)
    captured = provenance() if provenance is not None else (None, None)
    with repo.saving():
        return publish(repo, stage(Workspace.of(repo), data, request), *captured)


def _label_taken(repo, name: str, label: str) -> bool:
    try:
        return repo.version_id(name, label, strict=True) is not None
    except IntegrityError:  # a damaged ref holds the label
        return True


def publish(repo, staged: Staged, provenance=None, diff: bytes | None = None):
    """Publish a staged version (its chunks are durable): manifest, record, commit, ref. Its VersionInfo."""
    return repo.save_version(staged.record, repo.write_manifest(staged.manifest), provenance, diff)


def output_folder(workspace: Workspace) -> Path:
    """A new empty folder whose files a later `stage(..., uri=folder)` stores with the value (and removes)."""
    import tempfile

    workspace.tmp.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=workspace.tmp, prefix="save-"))


_unmade = itertools.count()  # save folders named without being made (next() is atomic across threads)


def _save_folder(workspace: Workspace, cls) -> Path:
    """The materializer's `uri`: a new empty folder, except for a built-in that streams every file
    through `open` (it never writes there itself): a new name, made only if something writes under
    it (a container's element of a user's type): no mkdir and rmdir at each small save."""
    if not (cls.STREAMS and cls.__module__.startswith("artrepo.")):
        return output_folder(workspace)
    return workspace.tmp / f"save-{os.getpid()}-{time.monotonic_ns()}-{next(_unmade)}"


def stage(workspace: Workspace, data: object, request: SaveRequest, uri: Path | None = None) -> Staged:
    """Run the materializer into the workspace's content store; nothing is published.

    `uri` is a folder from `output_folder` (a step's `get_output_artifact_uri`):
    files already written there are stored with the value.
    """
    import shutil

    from artrepo.materializers import registry
    from artrepo.payload import SaveFiles

    cls = _materializer_class(request.materializer, data)
    tmp = _save_folder(workspace, cls) if uri is None else Path(uri)
    session = workspace.chunks.session()
    try:
        files = SaveFiles(session, tmp)
        files.note_materializer(cls.materializer_id())
        mat = cls(str(tmp), files=files)
        mat.save(data)
        # Drawn after the data, not beside it: a plotting thread holding the
        # GIL stalls the chunking loop far longer than the drawing takes.
        visualizations = (mat.save_visualizations(data) or {}) if request.include_visualizations else {}
        auto = validate_metadata(mat.extract_metadata(data) or {}, "extracted metadata") \
            if request.extract_metadata else {}
        files.ingest_leftovers()
        manifest = files.manifest(visualizations)
        session.commit()
    except BaseException:
        session.abort()
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    environment = {}
    if PICKLE_ID in files.used:
        from artrepo.materializers.pickle import environment as pickle_env

        environment = pickle_env()
    record = VersionRecord(
        name=request.name, version=request.version,
        artifact_type=(request.artifact_type or cls.ASSOCIATED_ARTIFACT_TYPE).value,
        materializer=cls.materializer_id(), data_type=registry.type_name(data),
        content_hash=manifest.content_hash, size=manifest.size, created_ns=time.time_ns(),
        tags=request.tags, metadata={**auto, "storage_size": manifest.size, **request.metadata},
        producer=request.producer, origin=request.origin, environment=environment,
    )
    return Staged(record, manifest)


def _refusal(version, trusted: bool, allow_pickle: bool) -> str | None:
    """Why this version may not be unpickled (None: it may); raised at once if it is a pickle."""
    refusal = None if allow_pickle or trusted else (
        f"artifact {version.name}:{version.version} is a pickle from an untrusted source; "
        "loading it would run its code: pass allow_pickle=True or trust its remote")
    rec = version.record
    if rec.environment.get("cloudpickle") or rec.materializer == PICKLE_ID:
        if refusal:
            raise UntrustedPickleError(refusal)
        from artrepo.materializers.pickle import check_environment

        check_environment(rec.environment)
    return refusal


def load_value(repo, info, *, allow_pickle: bool = False) -> object:
    """Rebuild the value of a published version; the trust check runs before any byte is read."""
    _refusal(info, repo.trusts(info.id), allow_pickle)
    return load(Workspace.of(repo), Stored.of(repo, info), allow_pickle=allow_pickle)


def _scratch(tmp: Path):
    """A private folder (TemporaryDirectory) to stage a load in: under the repository's `tmp/`, or the
    system's when that is read-only (a read-only repository can still be read: docs/reliability.md, item 14)."""
    import errno
    import tempfile

    try:
        tmp.mkdir(parents=True, exist_ok=True)
        return tempfile.TemporaryDirectory(dir=tmp, prefix="load-")
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        return tempfile.TemporaryDirectory(prefix="artrepo-load-")


def load(workspace: Workspace, stored: Stored, *, allow_pickle: bool = False) -> object:
    """Rebuild a value from a content store."""
    from artrepo.materializers import registry
    from artrepo.materializers.pickle import refuse_unpickling
    from artrepo.payload import LoadFiles

    refusal = _refusal(stored, stored.trusted, allow_pickle)
    cls = registry.resolve(stored.record.materializer, allow_import=stored.trusted)
    with integrity_context(stored), refuse_unpickling(refusal):
        files = LoadFiles(workspace.chunks, stored.manifest, workspace.paths_cache)
        with _scratch(workspace.tmp) as tmp:
            if cls.STREAMS:
                mat = cls(tmp, files=files)
            else:
                files.materialize(Path(tmp))
                mat = cls(tmp)
            return mat.load(registry.resolve_type(stored.record.data_type))
