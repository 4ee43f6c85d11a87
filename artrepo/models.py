"""What the API returns, in ZenML's shapes: `ArtifactVersion`, `Artifact`, and runs read back as
`PipelineRun`, `StepRun` and `NamedPipeline`.

    av = Client().get_artifact_version("iris_dataset"); df = av.load()
    run = Client().get_pipeline("training").last_run; run.steps["trainer"].outputs["model"][0].load()

Ids are content hashes (40 hex digits), not UUIDs: a version's is its
commit's, a run's is random, a step run's is the SHA-1 of `step\0<run id>\0<step>`.
"""
from __future__ import annotations

import datetime as dt
import os
from functools import cached_property
from pathlib import Path

from artrepo.errors import IntegrityError, NotFoundError, UserError
from artrepo.listing import StepConfig, VersionList
from artrepo.provenance import Provenance
from artrepo.records.artifact import ArtifactType, Manifest
from artrepo.records.run import RunRecord, StepRecord
from artrepo.tags import artifact_key, effective_tags

# ZenML's save types, by a version record's origin
SAVE_TYPES = {"pipeline": "step_output", "saved": "manual", "registered": "preexisting"}


def _utc(ns: int | None) -> dt.datetime | None:
    return None if ns is None else dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc)


def default_run_name(pipeline: str, start_ns: int) -> str:
    """ZenML's default run name, `{pipeline}-{date}-{time}` (UTC), e.g. `training-2026_01_31-09_30_00_123456`."""
    start = _utc(start_ns)
    return f"{pipeline}-{start:%Y_%m_%d}-{start:%H_%M_%S_%f}"


def step_run_id(run_id: str, step: str) -> str:
    """A step run's id (also the key its later metadata is annotated under): 40 hex digits."""
    import hashlib

    return hashlib.sha1(f"step\0{run_id}\0{step}".encode()).hexdigest()


class _Identified:
    """Equal, and hashed, by the attribute `_identity` names (an id; an artifact's name)."""

    _identity = "id"

    def __eq__(self, other) -> bool:
        return isinstance(other, type(self)) and getattr(other, self._identity) == getattr(self, self._identity)

    def __hash__(self) -> int:
        return hash(getattr(self, self._identity))


# a version's, run's or step run's: its record's, then what annotations added (and removed) later (format.md §7)
_tags = property(lambda self: effective_tags(self.record.tags, self._repo.annotations(self.id)))
_run_metadata = property(lambda self: merged_metadata(self.record.metadata, self._repo.annotations(self.id)))


class ArtifactVersion(_Identified):
    """One stored version of a named artifact.

        av = Client().get_artifact_version("iris_dataset")
        df = av.load()
    """

    def __init__(self, repo, info, published: bool = True):
        self._repo = repo
        self._info = info  # repository.VersionInfo
        self._published = published  # False: read from a run's record, no ref publishes it (deleted)

    def __repr__(self) -> str:
        return f"ArtifactVersion({self.name}:{self.version}, id={self.id[:12]})"

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
    provenance = cached_property(lambda self: Provenance.read(self._repo, self.id))  # saved outside a step, else None

    tags, run_metadata = _tags, _run_metadata

    @property
    def producer(self) -> StepRun | None:
        """The step run that produced this version, or None (saved outside a pipeline, or its run was never
        recorded)."""
        return producer_step(self._repo, self.record.producer) if self.record.producer else None

    step = producer  # ZenML's name

    @property
    def run(self) -> PipelineRun | None:
        """The pipeline run whose step produced this version, or None."""
        step = self.producer
        return None if step is None else step.run

    producer_pipeline_run_id = property(lambda self: (self.record.producer or {}).get("run_id"))
    producer_step_run_id = property(lambda self: step_run_id(self.record.producer["run_id"],
                                                             self.record.producer["step"])
                                    if self.record.producer else None)
    artifact = property(lambda self: Artifact(self._repo, self.name))
    save_type = property(lambda self: SAVE_TYPES.get(self.record.origin, self.record.origin))

    @property
    def uri(self) -> str:
        """A read-only materialized copy of the version's files (a version has no folder of its own)."""
        return str(_files_api().read_only_copy(self._repo, self._info))

    @property
    def visualizations(self) -> list[tuple[str, str]]:
        return [(name, vtype) for name, vtype, _ in self._repo.manifest(self.id).visualizations]

    def manifest(self) -> Manifest:
        return self._repo.manifest(self.id)

    def load(self, allow_pickle: bool = False) -> object:
        """The stored value, as the materializer recorded with it rebuilds it."""
        from artrepo import values  # not on the path of a cached run

        if not self._published and self._repo.deleted(self.id):
            raise UserError(f"artifact {self.name} ({self.id[:12]}) was deleted: its data is gone or goes at the "
                            "next gc")
        return values.load_value(self._repo, self._info, allow_pickle=allow_pickle)

    # the version's files outside the store (artrepo/versionfiles.py)
    def download_files(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write the version's files into a new `.zip` archive at `path` (ZenML's; all or nothing)."""
        _files_api().download_zip(self._repo, self._info, Path(path), overwrite)

    def export(self, dest: str | os.PathLike) -> Path:
        """Write the version's files under `dest` (a new or empty folder), or a zip; all or nothing."""
        return _files_api().export(self._repo, self._info, Path(dest))

    def visualize(self, title: str | None = None) -> list[Path]:
        """Show the visualizations in Jupyter (under `title`), or print where their files are."""
        return _files_api().visualize(self._repo, self._info, title)


def _files_api():
    from artrepo import versionfiles  # zipfile, shutil: not on the path of a cached run

    return versionfiles


def merged_metadata(recorded: dict, notes) -> dict:
    """Recorded metadata updated by each annotation's, in time order."""
    metadata = dict(recorded)
    for note in notes:
        metadata.update(note.metadata)
    return metadata


def version_by_id(repo, version_id: str) -> ArtifactVersion:
    """The published version, or the bare record if its ref was deleted since."""
    try:
        return ArtifactVersion(repo, repo.by_id(version_id))
    except NotFoundError:
        from artrepo.repository import VersionInfo

        rec = repo.record(version_id)
        return ArtifactVersion(repo, VersionInfo(version_id, rec.name, rec.version or "(deleted)", rec), False)


class Artifact(_Identified):
    """All versions of one name, as ZenML's `ArtifactResponse`: `.name`, `.versions` (a dict version ->
    ArtifactVersion, oldest first), `.latest_version_name`, `.latest_version_id`, `.tags` (the artifact's own),
    and artrepo's `.latest` and `.load()`."""

    def __init__(self, repo, name: str, infos: list | None = None):
        self._repo = repo
        self.name = name
        self._infos = infos  # repository.VersionInfo, newest first (read on first use)

    def __repr__(self) -> str:
        return f"Artifact({self.name}, {len(self._versions())} versions)"

    _identity = "name"

    def _versions(self) -> list:
        if self._infos is None:
            self._infos = self._repo.versions(self.name)
        return self._infos

    id = property(lambda self: artifact_key(self.name))  # the key its own tags are kept under

    @property
    def versions(self) -> dict[str, ArtifactVersion]:
        return {i.version: ArtifactVersion(self._repo, i) for i in reversed(self._versions())}

    @property
    def latest(self) -> ArtifactVersion:
        infos = self._versions()
        if not infos:
            raise NotFoundError(f"artifact {self.name!r} has no versions")
        return ArtifactVersion(self._repo, infos[0])

    latest_version_name = property(lambda self: self.latest.version)
    latest_version_id = property(lambda self: self.latest.id)
    has_custom_name = True  # ZenML's flag for names the user chose; artrepo keeps every name

    @property
    def tags(self) -> list:
        """The artifact's own tags (ZenML's artifact-level tags), apart from its versions' tags."""
        return effective_tags((), self._repo.annotations(self.id))

    def load(self, allow_pickle: bool = False):
        """The latest version's value (ZenML 0.98's artifact has no `load`, though its docs call it)."""
        return self.latest.load(allow_pickle=allow_pickle)


class StepRun:
    """One step of a recorded run: status (`completed`, `cached`, `failed`, `skipped`), inputs, outputs, timing.

    `.inputs` / `.outputs` are ZenML's: {name: [ArtifactVersion]} (each list also answers as its one version);
    `.input` / `.output` the only one.
    """

    def __init__(self, repo, run_id: str, record: StepRecord, commit: str | None = None):
        self._repo = repo
        self.run_id = run_id
        self.record = record
        self._commit = commit  # the run's commit, when known

    def __repr__(self) -> str:
        return f"StepRun({self.name}, {self.status}, run={self.run_id[:12]})"

    name = property(lambda self: self.record.name)
    # ZenML's: a step served from cache reads `cached` (its record says completed, and cached)
    status = property(lambda self: "cached" if self.record.cached else self.record.status)
    cached = property(lambda self: self.record.cached)
    parameters = property(lambda self: dict(self.record.parameters))
    config = property(lambda self: StepConfig(self.name, self.record.parameters, enable_cache=self.record.cacheable))
    cache_key = property(lambda self: self.record.cache_key)
    code_hash = property(lambda self: self.record.code_hash)
    error = property(lambda self: self.record.error)
    traceback = property(lambda self: self.record.traceback)
    upstream = property(lambda self: list(self.record.upstream))
    cached_from = property(lambda self: self.record.cached_from)
    start_time = property(lambda self: _utc(self.record.start_ns))
    end_time = property(lambda self: _utc(self.record.end_ns))
    id = property(lambda self: step_run_id(self.run_id, self.name))
    pipeline_run_id = property(lambda self: self.run_id)
    code_id = property(lambda self: self.record.code or None)  # the exact code its cache key covers, helpers included
    code = property(lambda self: self._repo.read_code(self.record.code) if self.record.code else None)

    @property
    def duration(self) -> float | None:
        r = self.record
        return None if r.start_ns is None or r.end_ns is None else (r.end_ns - r.start_ns) / 1e9

    run_metadata = _run_metadata  # logged while it ran (`log_metadata()` in the step), then later

    @property
    def run(self) -> PipelineRun:
        commit = self._commit or self._repo.run_commit(self.run_id)
        return PipelineRun(self._repo, commit, self._repo.read_run(commit))

    @cached_property
    def inputs(self) -> dict[str, VersionList]:
        return {k: VersionList([version_by_id(self._repo, v)]) for k, v in self.record.inputs.items()}

    @cached_property
    def outputs(self) -> dict[str, VersionList]:
        return {k: VersionList([version_by_id(self._repo, v)]) for k, v in self.record.outputs.items()}

    input = property(lambda self: _only(self.inputs, self.name, "input"))
    output = property(lambda self: _only(self.outputs, self.name, "output"))


def _only(items: dict, step: str, what: str) -> ArtifactVersion:
    if len(items) != 1:
        raise UserError(f"step {step!r} has {len(items)} {what}s ({', '.join(items) or 'none'}): "
                        f"use .{what}s[name]")
    return next(iter(items.values()))[0]


class PipelineRun(_Identified):
    """A recorded pipeline run: `.id`, `.name`, `.pipeline` (its name, with `.name`), `.status`, `.created`,
    `.steps` (step name -> StepRun), `.tags`, `.run_metadata`."""

    def __init__(self, repo, commit: str, record: RunRecord):
        self._repo = repo
        self.commit = commit
        self.record = record

    def __repr__(self) -> str:
        return f"PipelineRun({self.pipeline}, {self.status}, id={self.id[:12]})"

    id = property(lambda self: self.record.run_id)
    name = property(lambda self: self.record.run_name or default_run_name(self.record.pipeline, self.record.start_ns))
    pipeline = property(lambda self: NamedPipeline(self._repo, self.record.pipeline))
    status = property(lambda self: self.record.status)
    parameters = property(lambda self: dict(self.record.parameters))
    tags = _tags  # `@pipeline(tags=)`, then `add_tags(run=)`
    created = property(lambda self: _utc(self.record.start_ns))
    start_time = created
    end_time = property(lambda self: _utc(self.record.end_ns))
    duration = property(lambda self: (self.record.end_ns - self.record.start_ns) / 1e9)
    provenance = cached_property(lambda self: Provenance.read(self._repo, self.commit))  # git, environment, who

    run_metadata = _run_metadata  # by its steps while it ran, then later (`run_id_name_or_prefix=`)

    @cached_property
    def steps(self) -> dict[str, StepRun]:
        out = {}
        for name in self.record.steps:
            rec = self._repo.read_step(self.commit, name)
            if rec is None:
                raise IntegrityError(f"run {self.id[:12]} lists step {name!r} but holds no record of it")
            out[name] = StepRun(self._repo, self.id, rec, self.commit)
        return out


class NamedPipeline(str):
    """A pipeline, by name: a `str` (its name, as artrepo gave it) with ZenML's `.name`, `.runs` (newest
    first), `.last_run` and `.last_successful_run`."""

    def __new__(cls, repo, name: str):
        self = super().__new__(cls, name)
        self._repo = repo
        return self

    name = property(str.__str__)  # the plain text

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r})"

    def __reduce__(self):
        return str, (self.name,)

    def _runs(self, limit: int) -> list[PipelineRun]:
        runs = [PipelineRun(self._repo, c, self._repo.read_run(c))
                for c in self._repo.pipeline_history(self.name, limit=limit)]
        return sorted(runs, key=lambda r: (r.record.start_ns, r.id), reverse=True)

    runs = property(lambda self: self._runs(10**9))

    @property
    def last_run(self) -> PipelineRun:
        runs = self._runs(1)
        if not runs:
            raise NotFoundError(f"pipeline {self.name!r} has no runs")
        return runs[0]

    @property
    def last_successful_run(self) -> PipelineRun:
        for run in self.runs:
            if run.status == "completed":
                return run
        raise NotFoundError(f"pipeline {self.name!r} has no successful run")


def recorded_step(repo, run_id: str | None, step: str | None) -> tuple[str, StepRecord] | None:
    """(run commit, step record) of a step of a published run, or None if that run was never recorded."""
    commit = repo.run_commit(run_id) if run_id and step else None
    rec = repo.read_step(commit, step) if commit else None
    return None if rec is None else (commit, rec)


def producer_step(repo, producer: dict) -> StepRun | None:
    """The step run named by a version record's `producer`, or None if that run was never recorded."""
    found = recorded_step(repo, producer.get("run_id"), producer.get("step"))
    return None if found is None else StepRun(repo, producer["run_id"], found[1], found[0])
