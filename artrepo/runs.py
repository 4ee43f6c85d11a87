"""Pipeline runs as read back from the repository: `PipelineRun` and `StepRun`.

    run = Client().get_pipeline_run("3f2a9c")
    run.steps["trainer"].outputs["model"].load()
"""
from __future__ import annotations

import datetime as dt
from functools import cached_property

from artrepo.gitdb import layout
from artrepo.errors import IntegrityError, NotFoundError
from artrepo.records.run import RunRecord, StepRecord


def _utc(ns: int | None) -> dt.datetime | None:
    return None if ns is None else dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc)


def _artifact_version(repo, version_id: str):
    """The published version, or the bare record if its ref was deleted since."""
    from artrepo.artifacts import ArtifactVersion
    from artrepo.repository import VersionInfo

    try:
        return ArtifactVersion(repo, repo.by_id(version_id))
    except NotFoundError:
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

    @cached_property
    def inputs(self) -> dict:
        return {k: _artifact_version(self._repo, v) for k, v in self.record.inputs.items()}

    @cached_property
    def outputs(self) -> dict:
        return {k: _artifact_version(self._repo, v) for k, v in self.record.outputs.items()}


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


def producer_step(repo, producer: dict) -> StepRun | None:
    """The step run named by a version record's `producer`, or None if that run was never recorded."""
    run_id, step = producer.get("run_id"), producer.get("step")
    if not run_id or not step:
        return None
    commit = repo.refs.get(layout.run_ref(run_id))
    if commit is None:
        return None
    rec = repo.read_step(commit, step)
    return None if rec is None else StepRun(repo, run_id, rec)
