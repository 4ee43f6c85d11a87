"""ArtifactVersion, and saving or loading a Python value through a materializer."""
from __future__ import annotations

import contextlib
import datetime as dt
import numbers
import os
import time
from pathlib import Path
from typing import Any

from artrepo import names
from artrepo.gitdb import layout
from artrepo.errors import ConflictError, IntegrityError, InvalidNameError, UntrustedPickleError, UserError
from artrepo.records.artifact import ArtifactType, Manifest, VersionRecord
from artrepo.repository import Repository, VersionInfo
from artrepo.tags import Tag, effective_tags

PICKLE_ID = "cloudpickle/v1"


class ArtifactVersion:
    """One stored version of a named artifact.

        av = Client().get_artifact_version("iris_dataset")
        df = av.load()
    """

    def __init__(self, repo: Repository, info: VersionInfo):
        self._repo = repo
        self._info = info

    def __repr__(self) -> str:
        return f"ArtifactVersion({self.name}:{self.version}, id={self.id[:12]})"

    def __eq__(self, other) -> bool:
        return isinstance(other, ArtifactVersion) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def id(self) -> str:
        return self._info.id

    @property
    def name(self) -> str:
        return self._info.name

    @property
    def version(self) -> str:
        return self._info.version

    @property
    def record(self) -> VersionRecord:
        return self._info.record

    @property
    def type(self) -> ArtifactType:
        return ArtifactType(self.record.artifact_type)

    @property
    def content_hash(self) -> str:
        return self.record.content_hash.hex()

    @property
    def size(self) -> int:
        return self.record.size

    @property
    def created(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.record.created_ns / 1e9, tz=dt.timezone.utc)

    @property
    def materializer(self) -> str:
        return self.record.materializer

    @property
    def data_type(self) -> str:
        return self.record.data_type

    @property
    def tags(self) -> list[Tag]:
        return effective_tags(self.record.tags, self._repo.annotations(self.id))

    @property
    def run_metadata(self) -> dict[str, Any]:
        meta = dict(self.record.metadata)
        for note in self._repo.annotations(self.id):
            meta.update(note.metadata)
        return meta

    @property
    def producer(self):
        """The step run that produced this version, or None."""
        p = self.record.producer
        if not p:
            return None
        from artrepo.runs import producer_step  # pipelines layer, optional

        return producer_step(self._repo, p)

    @property
    def visualizations(self) -> list[tuple[str, str]]:
        return [(name, vtype) for name, vtype, _ in self._repo.manifest(self.id).visualizations]

    def manifest(self) -> Manifest:
        return self._repo.manifest(self.id)

    def load(self, allow_pickle: bool = False) -> Any:
        """The stored value, as the materializer recorded with it rebuilds it."""
        return load_value(self._repo, self._info, allow_pickle=allow_pickle)

    def download_files(self, path: str | os.PathLike) -> None:
        """Write the version's files into a new `.zip` archive at `path` (all or nothing, never over a file)."""
        from artrepo.payload import LoadFiles

        path = Path(path)
        if path.suffix != ".zip":
            raise UserError(f"download_files needs a path ending in .zip, got {str(path)!r}")
        if os.path.lexists(path):
            raise UserError(f"{path} already exists; export never overwrites a file")
        with _staged(path) as tmp, _integrity_context(self._info):
            LoadFiles(self._repo.chunks, self.manifest()).write_zip(tmp)

    def export(self, dest: str | os.PathLike) -> Path:
        """Write the version's files under `dest` (a new or empty folder), or a zip; all or nothing."""
        from artrepo.payload import LoadFiles

        dest = Path(dest)
        if dest.suffix == ".zip":
            self.download_files(dest)
            return dest
        if os.path.lexists(dest) and (not dest.is_dir() or dest.is_symlink() or any(dest.iterdir())):
            raise UserError(f"{dest} exists and is not an empty folder")
        with _staged(dest) as tmp, _integrity_context(self._info):
            tmp.mkdir()
            LoadFiles(self._repo.chunks, self.manifest()).materialize(tmp)
        return dest

    def visualize(self) -> list[Path]:
        """Show the visualizations in Jupyter, or print where their files are.

        Untrusted content (pulled from a remote not marked trusted) runs no
        code, as in the dashboard: HTML and SVG are shown in an `<iframe
        sandbox>` (scripts allowed only for trusted versions, never with
        same-origin), Markdown from an untrusted source as plain text.
        """
        from artrepo.payload import LoadFiles, check_relpath

        manifest = self.manifest()
        folder = layout.visualizations_cache(self._repo.git_dir) / self.id
        if not folder.exists():
            try:
                with _staged(folder) as tmp:
                    tmp.mkdir()
                    LoadFiles(self._repo.chunks, manifest).materialize(tmp, files=[f for _, _, f in manifest.visualizations])
            except UserError:
                if not folder.is_dir():  # else another process materialized it first
                    raise
        paths = [(folder / check_relpath(name), vtype) for name, vtype, _ in manifest.visualizations]
        if not _in_notebook():
            for p, vtype in paths:
                print(f"{vtype}: {p}")
            return [p for p, _ in paths]
        from IPython.display import display

        trusted = self._repo.trusts(self.id)
        for p, vtype in paths:
            display(notebook_view(p, vtype, trusted))
        return [p for p, _ in paths]


def notebook_view(path: Path, vtype: str, trusted: bool):
    """The IPython display object for one visualization file (the dashboard's trust rule)."""
    import html

    from IPython.display import HTML, Image, Markdown

    data = path.read_bytes()
    if vtype == "image" and data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF8")):
        return Image(data=data)
    text = data.decode("utf-8", "replace")
    if vtype in ("html", "image"):  # an image that is not a raster one is SVG: markup that may script
        sandbox = "allow-scripts" if trusted else ""
        return HTML(f'<iframe sandbox="{sandbox}" srcdoc="{html.escape(text, quote=True)}" '
                    'style="width: 100%; height: 480px; border: 0"></iframe>')
    if vtype == "markdown" and trusted:
        return Markdown(text)
    return HTML(f"<pre>{html.escape(text)}</pre>")


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython

        return get_ipython() is not None and "IPKernelApp" in get_ipython().config
    except Exception:
        return False


@contextlib.contextmanager
def _staged(final: Path):
    """A temporary path beside `final`, published there only if the block succeeds.

    A file is linked into place (never replacing one that appeared meanwhile),
    a folder renamed over `final` (absent or empty); on failure nothing stays.
    """
    import shutil

    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.partial-{os.urandom(4).hex()}")
    try:
        yield tmp
        if tmp.is_dir():
            try:
                os.rename(tmp, final)
            except OSError as exc:
                raise UserError(f"{final} appeared while exporting to it ({exc.strerror}); nothing was written") from None
        else:
            try:
                os.link(tmp, final)
            except FileExistsError:
                raise UserError(f"{final} appeared while exporting to it; nothing was written") from None
            except OSError:  # a file system without hard links: check, then rename
                if os.path.lexists(final):
                    raise UserError(f"{final} appeared while exporting to it; nothing was written") from None
                os.rename(tmp, final)
    finally:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.lexists(tmp):
            os.unlink(tmp)


class _integrity_context:
    """Add the artifact version to integrity errors raised while reading it."""

    def __init__(self, info: VersionInfo):
        self.info = info

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and issubclass(exc_type, IntegrityError) and not getattr(exc, "_named", False):
            err = IntegrityError(f"artifact {self.info.name}:{self.info.version} ({self.info.id[:12]}): {exc}")
            err._named = True
            raise err from None
        return False


def validate_metadata(metadata: Any, what: str = "metadata") -> dict:
    """JSON-like values only: str, int, float, bool, None, lists and dicts of them."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise UserError(f"{what} must be a dict, got {type(metadata).__name__}")

    def clean(v, depth=0):
        if depth > 32:
            raise UserError(f"{what} is nested too deeply")
        if v is None or isinstance(v, (str, bool)):
            return v
        if isinstance(v, numbers.Integral):
            return int(v)
        if isinstance(v, numbers.Real):
            return float(v)
        if isinstance(v, (list, tuple)):
            return [clean(x, depth + 1) for x in v]
        if isinstance(v, dict):
            return {str(k): clean(x, depth + 1) for k, x in v.items()}
        raise UserError(f"{what} value {v!r} is not JSON-like (str, number, bool, None, list, dict)")

    return clean(metadata)


def validate_tags(tags) -> tuple[str, ...]:
    if tags is None:
        return ()
    if isinstance(tags, str):
        tags = [tags]
    out = []
    for t in tags:
        names.validate_tag(t)
        if t not in out:
            out.append(t)
    return tuple(out)


def _materializer_class(materializer, data):
    from artrepo.materializers import registry

    if materializer is None:
        return registry.for_type(type(data))
    from artrepo.materializers.base import BaseMaterializer

    if isinstance(materializer, type) and issubclass(materializer, BaseMaterializer):
        return materializer
    raise UserError(f"materializer must be a BaseMaterializer subclass, got {materializer!r}")


def save_value(repo: Repository, data: Any, name: str, version: str | int | None = None, *,
               tags=None, artifact_type=None, metadata=None, materializer=None,
               producer: dict | None = None, origin: str = "saved") -> ArtifactVersion:
    """Store `data` as a new version of `name` (validated before anything is written)."""
    names.validate_name(name)
    version = None if version is None else names.validate_version(version)
    tags = validate_tags(tags)
    metadata = validate_metadata(metadata)
    if artifact_type is not None and not isinstance(artifact_type, ArtifactType):
        try:
            artifact_type = ArtifactType[str(artifact_type).upper()]
        except KeyError:
            raise InvalidNameError(f"unknown artifact type {artifact_type!r}") from None
    if version is not None and version in repo.version_refs(name):
        raise ConflictError(f"version {name}:{version} already exists; custom versions are used once")
    cls = _materializer_class(materializer, data)
    repo.tmp.mkdir(parents=True, exist_ok=True)
    with repo.saving():
        return _save_locked(repo, data, cls, name, version, tags, artifact_type, metadata, producer, origin)


def _save_locked(repo, data, cls, name, version, tags, artifact_type, metadata, producer, origin):
    import tempfile

    from artrepo.materializers import registry
    from artrepo.payload import SaveFiles

    session = repo.chunks.session()
    try:
        with tempfile.TemporaryDirectory(dir=repo.tmp, prefix="save-") as tmp:
            files = SaveFiles(session, Path(tmp))
            files.note_materializer(cls.materializer_id())
            mat = cls(tmp, files=files)
            mat.save(data)
            # Drawn after the data, not beside it: a plotting thread holding the
            # GIL stalls the chunking loop far longer than the drawing takes.
            visualizations = mat.save_visualizations(data) or {}
            auto = validate_metadata(mat.extract_metadata(data) or {}, "extracted metadata")
            files.ingest_leftovers()
            manifest = files.manifest(visualizations)
        session.commit()
    except BaseException:
        session.abort()
        raise
    environment = {}
    if PICKLE_ID in files.used:
        from artrepo.materializers.pickle import environment as pickle_env

        environment = pickle_env()
    record = VersionRecord(
        name=name, version=version,
        artifact_type=(artifact_type or cls.ASSOCIATED_ARTIFACT_TYPE).value,
        materializer=cls.materializer_id(), data_type=registry.type_name(data),
        content_hash=manifest.content_hash, size=manifest.size, created_ns=time.time_ns(),
        tags=tags, metadata={**auto, "storage_size": manifest.size, **metadata},
        producer=producer, origin=origin, environment=environment,
    )
    info = repo.save_version(record, repo.write_manifest(manifest))
    return ArtifactVersion(repo, info)


def load_value(repo: Repository, info: VersionInfo, *, allow_pickle: bool = False) -> Any:
    """Rebuild the value of a version; the trust check runs before any byte is read."""
    import tempfile

    from artrepo.materializers import registry
    from artrepo.payload import LoadFiles

    from artrepo.materializers.pickle import check_environment, refuse_unpickling

    rec = info.record
    refusal = None if allow_pickle or repo.trusts(info.id) else (
        f"artifact {info.name}:{info.version} is a pickle from an untrusted source; "
        "loading it would run its code: pass allow_pickle=True or trust its remote")
    if rec.environment.get("cloudpickle") or rec.materializer == PICKLE_ID:
        if refusal:
            raise UntrustedPickleError(refusal)
        check_environment(rec.environment)
    cls = registry.resolve(rec.materializer, allow_import=repo.trusts(info.id))
    with _integrity_context(info), refuse_unpickling(refusal):
        manifest = repo.manifest(info.id)
        files = LoadFiles(repo.chunks, manifest, layout.paths_cache(repo.git_dir))
        with tempfile.TemporaryDirectory(dir=repo.tmp, prefix="load-") as tmp:
            if cls.STREAMS:
                mat = cls(tmp, files=files)
            else:
                files.materialize(Path(tmp))
                mat = cls(tmp)
            return mat.load(registry.resolve_type(rec.data_type))
