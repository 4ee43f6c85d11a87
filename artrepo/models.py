"""What the API returns: `ArtifactVersion`, and pipeline runs read back as `PipelineRun` and `StepRun`.

    av = Client().get_artifact_version("iris_dataset"); df = av.load()
    run = Client().get_pipeline_run("3f2a9c"); run.steps["trainer"].outputs["model"].load()
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
from functools import cached_property
from pathlib import Path

from artrepo.errors import IntegrityError, NotFoundError, UserError
from artrepo.gitdb import layout
from artrepo.provenance import Provenance
from artrepo.records.artifact import ArtifactType, Manifest
from artrepo.records.run import RunRecord, StepRecord


def _utc(ns: int | None) -> dt.datetime | None:
    return None if ns is None else dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc)


class ArtifactVersion:
    """One stored version of a named artifact.

        av = Client().get_artifact_version("iris_dataset")
        df = av.load()
    """

    def __init__(self, repo, info):
        self._repo = repo
        self._info = info  # repository.VersionInfo

    def __repr__(self) -> str:
        return f"ArtifactVersion({self.name}:{self.version}, id={self.id[:12]})"

    def __eq__(self, other) -> bool:
        return isinstance(other, ArtifactVersion) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    id = property(lambda self: self._info.id)
    name = property(lambda self: self._info.name)
    version = property(lambda self: self._info.version)
    record = property(lambda self: self._info.record)
    type = property(lambda self: ArtifactType(self.record.artifact_type))
    content_hash = property(lambda self: self.record.content_hash.hex())
    size = property(lambda self: self.record.size)
    created = property(lambda self: _utc(self.record.created_ns))
    materializer = property(lambda self: self.record.materializer)
    data_type = property(lambda self: self.record.data_type)

    @property
    def tags(self) -> list[Tag]:
        return effective(self.record, self._repo.annotations(self.id))[0]

    @property
    def run_metadata(self) -> dict[str, object]:
        return effective(self.record, self._repo.annotations(self.id))[1]

    @property
    def producer(self) -> StepRun | None:
        """The step run that produced this version, or None."""
        return producer_step(self._repo, self.record.producer) if self.record.producer else None

    @property
    def visualizations(self) -> list[tuple[str, str]]:
        return [(name, vtype) for name, vtype, _ in self._repo.manifest(self.id).visualizations]

    def manifest(self) -> Manifest:
        return self._repo.manifest(self.id)

    @cached_property
    def provenance(self) -> Provenance | None:
        """How a version saved outside a pipeline was made (git, environment, caller); None if not recorded.

        A pipeline's output has its run's: `av.producer` and `Client().get_pipeline_run(...).provenance`.
        """
        return Provenance.read(self._repo, self.id)

    def load(self, allow_pickle: bool = False) -> object:
        """The stored value, as the materializer recorded with it rebuilds it."""
        from artrepo import values  # not on the path of a cached run

        return values.load_value(self._repo, self._info, allow_pickle=allow_pickle)

    def _files(self, manifest: Manifest | None = None):
        from artrepo.payload import LoadFiles

        return LoadFiles(self._repo.chunks, manifest or self.manifest())

    def _reading(self):
        """Integrity errors raised within name this version."""
        from artrepo.values import integrity_context

        return integrity_context(self._info)

    def download_files(self, path: str | os.PathLike) -> None:
        """Write the version's files into a new `.zip` archive at `path` (all or nothing, never over a file)."""
        path = Path(path)
        if path.suffix != ".zip":
            raise UserError(f"download_files needs a path ending in .zip, got {str(path)!r}")
        if os.path.lexists(path):
            raise UserError(f"{path} already exists; export never overwrites a file")
        with _staged(path) as tmp, self._reading():
            self._files().write_zip(tmp)

    def export(self, dest: str | os.PathLike) -> Path:
        """Write the version's files under `dest` (a new or empty folder), or a zip; all or nothing."""
        dest = Path(dest)
        if dest.suffix == ".zip":
            self.download_files(dest)
            return dest
        if os.path.lexists(dest) and (not dest.is_dir() or dest.is_symlink() or any(dest.iterdir())):
            raise UserError(f"{dest} exists and is not an empty folder")
        with _staged(dest) as tmp, self._reading():
            tmp.mkdir()
            self._files().materialize(tmp)
        return dest

    def visualize(self) -> list[Path]:
        """Show the visualizations in Jupyter, or print where their files are.

        Untrusted content (pulled from a remote not marked trusted) runs no
        code, as in the dashboard: HTML and SVG are shown in an `<iframe
        sandbox>` (scripts allowed only for trusted versions, never with
        same-origin), Markdown from an untrusted source as plain text.
        """
        from artrepo.safepaths import check_relpath

        manifest = self.manifest()
        shown = manifest.visualizations
        folder = layout.visualizations_cache(self._repo.git_dir) / self.id
        if not folder.exists():
            try:
                with _staged(folder) as tmp:
                    tmp.mkdir()
                    self._files(manifest).materialize(tmp, files=[f for _, _, f in shown])
            except UserError:
                if not folder.is_dir():  # else another process materialized it first
                    raise
        paths = [(folder / check_relpath(name), vtype) for name, vtype, _ in shown]
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


def effective(record, notes) -> tuple[list[Tag], dict]:
    """A version's tags and metadata with its annotations applied in time order (docs/format.md §7)."""
    from artrepo.tags import effective_tags  # hashlib: not on the path of a cached run

    metadata = dict(record.metadata)
    for note in notes:
        metadata.update(note.metadata)
    return effective_tags(record.tags, notes), metadata


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython

        return get_ipython() is not None and "IPKernelApp" in get_ipython().config
    except Exception:
        return False


def version_by_id(repo, version_id: str) -> ArtifactVersion:
    """The published version, or the bare record if its ref was deleted since."""
    try:
        return ArtifactVersion(repo, repo.by_id(version_id))
    except NotFoundError:
        from artrepo.repository import VersionInfo

        rec = repo.record(version_id)
        return ArtifactVersion(repo, VersionInfo(version_id, rec.name, rec.version or "(deleted)", rec))


class StepRun:
    """One step of a recorded run: status, cache status, inputs, outputs, timing."""

    def __init__(self, repo, run_id: str, record: StepRecord):
        self._repo = repo
        self.run_id = run_id
        self.record = record

    def __repr__(self) -> str:
        return f"StepRun({self.name}, {self.status}{', cached' if self.cached else ''}, run={self.run_id[:12]})"

    name = property(lambda self: self.record.name)
    status = property(lambda self: self.record.status)
    cached = property(lambda self: self.record.cached)
    parameters = property(lambda self: dict(self.record.parameters))
    cache_key = property(lambda self: self.record.cache_key)
    code_hash = property(lambda self: self.record.code_hash)
    error = property(lambda self: self.record.error)
    traceback = property(lambda self: self.record.traceback)
    upstream = property(lambda self: list(self.record.upstream))
    cached_from = property(lambda self: self.record.cached_from)
    start_time = property(lambda self: _utc(self.record.start_ns))
    end_time = property(lambda self: _utc(self.record.end_ns))

    @property
    def duration(self) -> float | None:
        r = self.record
        return None if r.start_ns is None or r.end_ns is None else (r.end_ns - r.start_ns) / 1e9

    code_id = property(lambda self: self.record.code or None)

    @property
    def code(self) -> str | None:
        """The exact code the step's cache key covers (its source, its helpers', constants), or None if not recorded."""
        return self._repo.read_code(self.record.code) if self.record.code else None

    @cached_property
    def inputs(self) -> dict[str, ArtifactVersion]:
        return {k: version_by_id(self._repo, v) for k, v in self.record.inputs.items()}

    @cached_property
    def outputs(self) -> dict[str, ArtifactVersion]:
        return {k: version_by_id(self._repo, v) for k, v in self.record.outputs.items()}


class PipelineRun:
    """A recorded pipeline run: `.id`, `.pipeline`, `.status`, `.created`, `.steps`."""

    def __init__(self, repo, commit: str, record: RunRecord):
        self._repo = repo
        self.commit = commit
        self.record = record

    def __repr__(self) -> str:
        return f"PipelineRun({self.pipeline}, {self.status}, id={self.id[:12]})"

    def __eq__(self, other) -> bool:
        return isinstance(other, PipelineRun) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    id = property(lambda self: self.record.run_id)
    pipeline = property(lambda self: self.record.pipeline)
    status = property(lambda self: self.record.status)
    parameters = property(lambda self: dict(self.record.parameters))
    created = property(lambda self: _utc(self.record.start_ns))
    end_time = property(lambda self: _utc(self.record.end_ns))
    duration = property(lambda self: (self.record.end_ns - self.record.start_ns) / 1e9)

    @cached_property
    def provenance(self) -> Provenance | None:
        """Git state, environment, user and host of the run; None for a run recorded without them."""
        return Provenance.read(self._repo, self.commit)

    @cached_property
    def steps(self) -> dict[str, StepRun]:
        out = {}
        for name in self.record.steps:
            rec = self._repo.read_step(self.commit, name)
            if rec is None:
                raise IntegrityError(f"run {self.id[:12]} lists step {name!r} but holds no record of it")
            out[name] = StepRun(self._repo, self.id, rec)
        return out


def get_run(repo, id_or_prefix: str) -> PipelineRun:
    """A run by run id or run commit id (any unique prefix of 4+ hex characters)."""
    _run_id, commit = repo.find_run(str(id_or_prefix))
    return PipelineRun(repo, commit, repo.read_run(commit))


def list_runs(repo, pipeline: str | None = None, limit: int | None = None) -> list[PipelineRun]:
    """Recorded runs, newest first (optionally of one pipeline, at most `limit`)."""
    if pipeline is not None:
        commits = list(repo.pipeline_history(pipeline, limit=limit if limit is not None else 10**9))
    else:
        commits = _newest_commits(repo, limit)
    runs = [PipelineRun(repo, c, repo.read_run(c)) for c in commits]
    runs.sort(key=lambda r: (r.record.start_ns, r.id), reverse=True)
    return runs if limit is None else runs[:limit]


def _newest_commits(repo, limit: int | None) -> list[str]:
    if limit == 0:
        return []
    if limit is not None and repo.pipeline_heads():
        return _newest_from_chains(repo, limit)
    # Commit times (seconds) pick the candidates without decoding every run record.
    timed = sorted(((repo.objects.commit(c).commit_time, c) for c in set(repo.run_ids().values())),
                   reverse=True)
    if limit is None or len(timed) <= limit:
        return [c for _, c in timed]
    cutoff = timed[limit - 1][0] if limit > 0 else None
    return [c for t, c in timed if cutoff is not None and t >= cutoff]


def _newest_from_chains(repo, limit: int) -> list[str]:
    """The newest `limit` runs by merging the per-pipeline chains (reads about `limit` commits).

    The chains are derived refs; a run outside every chain (its pipeline ref
    not yet rebuilt) shows up in the unlimited listing only.
    """
    out: list[str] = []
    cutoff = None
    for commit, time in repo.walk_runs(set(repo.pipeline_heads().values())):
        if cutoff is not None and time < cutoff:
            break
        out.append(commit)
        if len(out) == limit:
            cutoff = time  # keep equal-second runs: the caller sorts them exactly
    return out


def recorded_step(repo, run_id: str | None, step: str | None) -> tuple[str, StepRecord] | None:
    """(run commit, step record) of a step of a published run, or None if that run was never recorded."""
    commit = repo.run_commit(run_id) if run_id and step else None
    rec = repo.read_step(commit, step) if commit else None
    return None if rec is None else (commit, rec)


def producer_step(repo, producer: dict) -> StepRun | None:
    """The step run named by a version record's `producer`, or None if that run was never recorded."""
    found = recorded_step(repo, producer.get("run_id"), producer.get("step"))
    return None if found is None else StepRun(repo, producer["run_id"], found[1])
