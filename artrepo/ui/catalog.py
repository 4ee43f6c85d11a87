"""An in-memory index of versions and runs, so that every page answers from memory.

Records are immutable, so each one is read once per server (at start).
Before a page is built, `refresh` compares a few `stat` results (the refs
folders that every save, run and annotation touches, `packed-refs`,
`origins/`) with the last ones; when they differ it re-lists the versions of
only those names whose `heads/<name>` ref file was replaced since, and reads
only new run records. Nothing here writes to the repository.

What a page would otherwise compute over every name or run (sorted orders,
a run's predecessor, the tags in use) is `derived` once per change of the
catalog, so that a page costs what it shows, not what the repository holds.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from functools import cached_property

from artrepo.errors import ArtrepoError, NotFoundError
from artrepo.models import effective
from artrepo.records.artifact import Annotation, ArtifactType

# A folder's mtime can be coarse (a few ms): stat results younger than this are
# not trusted to skip a refresh, so two writes in the same tick are never missed.
FRESH_NS = 2_000_000_000
WATCHED = ("packed-refs", "refs/artrepo/heads", "refs/artrepo/annotations", "refs/artrepo/runs",
           "refs/artrepo/aliases", "origins")


@dataclass(frozen=True, slots=True)
class VersionRow:
    id: str
    name: str
    version: str
    type: str  # ArtifactType name: DATA, MODEL, ...
    created_ns: int
    size: int
    tags: tuple[str, ...]
    producer: dict | None
    origin: str | None  # the remote it was pulled from, None if written here


@dataclass(frozen=True, slots=True)
class ArtifactRow:
    """One name: its newest version and what its versions carry."""

    name: str
    versions: tuple[VersionRow, ...]  # newest first
    tags: frozenset[str]

    @property
    def latest(self) -> VersionRow:
        return self.versions[0]


@dataclass(frozen=True)
class RunRow:
    id: str
    commit: str
    pipeline: str
    status: str
    start_ns: int
    end_ns: int
    parameters: dict
    steps: tuple = field(repr=False)  # StepRecords in execution order

    @property
    def duration(self) -> float:
        return max(0, self.end_ns - self.start_ns) / 1e9

    @cached_property
    def counts(self) -> dict[str, int]:
        out = {"steps": len(self.steps), "cached": 0, "failed": 0, "skipped": 0}
        for s in self.steps:
            out["cached"] += bool(s.cached)
            if s.status in ("failed", "skipped"):
                out[s.status] += 1
        return out


def _label_key(row: VersionRow):
    return row.created_ns, (1, int(row.version)) if row.version.isdigit() else (0, row.version)


class Catalog:
    """Versions by id and by name, artifacts, runs and who consumed each version.

    It is also the lineage source of the dashboard (`artrepo.lineage.walk`).
    """

    def __init__(self, repo):
        self.repo = repo
        self.signature = None
        self._annotation_head = None
        self._annotations: dict[str, list[Annotation]] = {}
        self._runs_by_commit: dict[str, RunRow] = {}
        self._stamps: dict[str, tuple[int, int]] = {}
        self._last_stats: dict = {}
        self.versions: dict[str, VersionRow] = {}
        self.artifacts: dict[str, ArtifactRow] = {}
        self.runs: list[RunRow] = []
        self.runs_by_id: dict[str, RunRow] = {}
        self.consumers: dict[str, list[tuple[str, str]]] = {}  # version id -> [(run id, step)]
        self._derived: dict = {}

    def derived(self, key, compute):
        """`compute()`, kept until the catalog changes: what pages compute over every row."""
        try:
            return self._derived[key]
        except KeyError:
            value = self._derived[key] = compute()
            return value

    # -- freshness ----------------------------------------------------------
    def refresh(self) -> None:
        stats, fresh = self._stats()
        if not fresh and stats == self.signature:
            return
        previous, self._last_stats = self._last_stats, stats
        notes_changed = self._read_annotations()
        # Unchanged `heads/<name>` files let a name's rows be reused, unless
        # something that touches every row changed (annotations, origins, packing).
        reuse = not notes_changed and all(stats.get(k) == previous.get(k) for k in ("packed-refs", "origins"))
        self._read_versions(reuse)
        self._read_runs()
        self._derived = {}
        self.signature = None if fresh else stats

    def _stats(self) -> tuple[dict, bool]:
        """Stat results of the WATCHED paths, and whether one changed too recently to trust."""
        now = time.time_ns()
        stats, fresh = {}, False
        for rel in WATCHED:
            try:
                st = os.stat(self.repo.git_dir / rel)
            except FileNotFoundError:
                stats[rel] = None
                continue
            fresh = fresh or now - st.st_mtime_ns < FRESH_NS
            stats[rel] = (st.st_mtime_ns, st.st_ino, st.st_size)
        return stats, fresh

    def _head_stamps(self) -> dict[str, tuple[int, int]]:
        """{name: (mtime, inode)} of each loose `heads/<name>` ref (replaced on every save)."""
        from artrepo import names

        try:
            entries = list(os.scandir(self.repo.git_dir / "refs" / "artrepo" / "heads"))
        except FileNotFoundError:
            return {}
        out = {}
        for e in entries:
            if e.is_file() and not e.name.endswith(".lock"):
                st = e.stat()
                out[names.decode(e.name)] = (st.st_mtime_ns, st.st_ino)
        return out

    # -- versions -------------------------------------------------------------
    def _read_annotations(self) -> bool:
        """Re-read annotations if their ref moved; whether it did (an unreadable one is skipped, with a warning)."""
        from artrepo.gitdb.layout import ANNOTATIONS

        if self.repo.refs.get(ANNOTATIONS) == self._annotation_head:
            return False
        self._annotation_head, self._annotations = self.repo.all_annotations()
        return True

    def _origins(self) -> dict[str, str]:
        return self.repo.origins.all()

    def _read_versions(self, reuse: bool) -> None:
        origins = self._origins()
        stamps = self._head_stamps()
        versions: dict[str, VersionRow] = {}
        artifacts: dict[str, ArtifactRow] = {}
        for name in self.repo.names():
            known = self.artifacts.get(name)
            if reuse and known is not None and stamps.get(name) is not None \
                    and stamps.get(name) == self._stamps.get(name):
                rows = list(known.versions)
            else:
                rows = [self._version_row(oid, name, label, origins.get(oid))
                        for label, oid in self.repo.version_refs(name).items()]
                rows.sort(key=_label_key, reverse=True)
            if rows:
                versions.update((r.id, r) for r in rows)
                artifacts[name] = ArtifactRow(name, tuple(rows), frozenset(t for r in rows for t in r.tags))
        self.versions, self.artifacts, self._stamps = versions, artifacts, stamps

    def _version_row(self, oid: str, name: str, label: str, origin: str | None) -> VersionRow:
        try:
            rec = self.repo.record(oid)
        except ArtrepoError:  # costs only this version: listed as UNREADABLE, its own page says why
            return VersionRow(oid, name, label, "UNREADABLE", 0, 0, (), None, origin)
        tags = tuple(effective(rec, self._annotations.get(oid, ()))[0])
        try:
            kind = ArtifactType(rec.artifact_type).name
        except ValueError:
            kind = str(rec.artifact_type)
        return VersionRow(oid, name, label, kind, rec.created_ns, rec.size, tags, rec.producer, origin)

    def version_row(self, version_id: str) -> VersionRow:
        row = self.versions.get(version_id)
        if row is None:
            raise NotFoundError(f"no artifact version with id {version_id[:40]!r}")
        return row

    def metadata(self, version_id: str) -> dict:
        """The record's metadata with later annotations applied (as `run_metadata`)."""
        return effective(self.repo.record(version_id), self._annotations.get(version_id, ()))[1]

    # -- runs -------------------------------------------------------------------
    def _read_runs(self) -> None:
        known = self._runs_by_commit
        rows = {}
        for run_id, commit in self.repo.run_ids().items():
            row = known.get(commit) or self._run_row(run_id, commit)
            rows[commit] = row
        self._runs_by_commit = rows
        self.runs = sorted(rows.values(), key=lambda r: (r.start_ns, r.id), reverse=True)
        self.runs_by_id = {r.id: r for r in self.runs}
        consumers: dict[str, list[tuple[str, str]]] = {}
        for run in reversed(self.runs):
            for step in run.steps:
                for vid in step.inputs.values():
                    consumers.setdefault(vid, []).append((run.id, step.name))
        self.consumers = consumers

    def _run_row(self, run_id: str, commit: str) -> RunRow:
        rec = self.repo.read_run(commit)
        steps = tuple(s for name in rec.steps if (s := self.repo.read_step(commit, name)) is not None)
        return RunRow(run_id, commit, rec.pipeline, rec.status, rec.start_ns, rec.end_ns, rec.parameters, steps)

    def run_step(self, run_id: str | None, name: str | None) -> tuple[RunRow, object] | None:
        """(run, step record) of a step of a run read so far, or None."""
        run = self.runs_by_id.get(run_id)
        step = next((s for s in run.steps if s.name == name), None) if run else None
        return None if step is None else (run, step)

    def runs_of(self, pipeline: str = "", status: str = "") -> list[RunRow]:
        """The runs of `pipeline` with `status` (either empty: any), newest first."""
        def matching():
            if pipeline and status:
                return [r for r in self.runs_of(pipeline) if r.status == status]
            return [r for r in self.runs if (not pipeline or r.pipeline == pipeline)
                    and (not status or r.status == status)]

        if not pipeline and not status:
            return self.runs
        known = self.derived("statuses", lambda: {r.status for r in self.runs})
        if (pipeline and pipeline not in self.pipeline_set()) or (status and status not in known):
            return []  # kept from the cache: a query names anything
        return self.derived(("runs", pipeline, status), matching)

    def pipelines(self) -> list[str]:
        return self.derived("pipelines", lambda: sorted({r.pipeline for r in self.runs}))

    def pipeline_set(self) -> frozenset[str]:
        return self.derived("pipeline set", lambda: frozenset(self.pipelines()))

    def previous_run(self, run: RunRow) -> RunRow | None:
        """The run of the same pipeline just before `run`, or None."""
        def previous():
            out, last = {}, {}
            for r in reversed(self.runs):  # oldest first
                out[r.id] = last.get(r.pipeline)
                last[r.pipeline] = r
            return out

        return self.derived("previous runs", previous).get(run.id)

    def previous_version(self, row: VersionRow) -> VersionRow | None:
        """The version of the same artifact just before `row` (versions are newest first), or None."""
        def previous():
            versions = self.artifacts[row.name].versions if row.name in self.artifacts else ()
            return {v.id: older for v, older in zip(versions, versions[1:])}

        return self.derived(("previous versions", row.name), previous).get(row.id)

    def find_run(self, text: str) -> RunRow | None:
        """A run by id, id prefix (unique) or commit prefix."""
        row = self.runs_by_id.get(text)
        if row is not None or len(text) < 4:
            return row
        found = [r for r in self.runs if r.id.startswith(text) or r.commit.startswith(text)]
        return found[0] if len(found) == 1 else None

    # -- lineage source (artrepo.lineage.walk) ------------------------------------
    def describe_version(self, version_id: str) -> dict:
        row = self.versions.get(version_id)
        return {"label": f"{row.name}:{row.version}" if row else f"{version_id[:12]} (not here)"}

    def producer_steps(self, version_id: str) -> list:
        row = self.versions.get(version_id)
        found = self.run_step(row.producer.get("run_id"), row.producer.get("step")) if row and row.producer else None
        return [(found[0].id, found[0].pipeline, found[1])] if found else []

    def consumer_steps(self, version_id: str) -> list:
        return [(run.id, run.pipeline, step) for run_id, name in self.consumers.get(version_id, ())
                for run, step in [self.run_step(run_id, name) or (None, None)] if step is not None]
