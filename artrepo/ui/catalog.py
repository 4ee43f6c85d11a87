"""What the dashboard's pages list, read from its index (`index.py`), so that a page costs what it shows.

Before a page is built, `refresh` compares a few `stat` results (the refs
folders that every save, run and annotation touches, `packed-refs`,
`origins/`) with those of the index's last sync; when they differ the index
reads what changed. Lists are queries that read one page of rows (`Rows`);
what a page would otherwise compute over every row (the tags in use, the
pipelines) is `derived` once per change. Nothing here writes to the repository.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from functools import cached_property

from artrepo.errors import NotFoundError
from artrepo.models import merged_metadata
from artrepo.ui.index import NAME_ORDER, Index, connect

# A folder's mtime can be coarse (a few ms): stat results younger than this are
# not trusted to skip a refresh, so two writes in the same tick are never missed.
FRESH_NS = 2_000_000_000
WATCHED = ("packed-refs", "refs/artrepo/heads", "refs/artrepo/annotations", "refs/artrepo/runs",
           "refs/artrepo/aliases", "origins")
CACHED_RUNS = 4096  # run rows (steps decoded) kept between pages
CACHED_SEARCHES = 64  # results of searches by name kept between pages (until the catalog changes)


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
    """One name: its newest version, how many versions it has and every tag they carry."""

    name: str
    latest: VersionRow
    count: int
    tags: tuple[str, ...]


def seconds(start_ns: int | None, end_ns: int | None) -> float | None:
    """From start to end, never below zero (machines' clocks differ); None if either is unknown."""
    return None if start_ns is None or end_ns is None else max(0, end_ns - start_ns) / 1e9


class RunRow:
    """A run as its pages show it; its step records are decoded when first asked for."""

    def __init__(self, id, commit, pipeline, status, start_ns, end_ns, parameters, steps, n_steps, n_cached,
                 n_failed, n_skipped):
        self.id, self.commit, self.pipeline, self.status = id, commit, pipeline, status
        self.start_ns, self.end_ns, self.parameters = start_ns, end_ns, json.loads(parameters)
        self._steps = steps
        self.counts = {"steps": n_steps, "cached": n_cached, "failed": n_failed, "skipped": n_skipped}

    duration = property(lambda self: seconds(self.start_ns, self.end_ns))

    @cached_property
    def steps(self) -> tuple:
        """StepRecords in execution order."""
        import msgpack

        from artrepo.records.run import StepRecord

        return tuple(StepRecord.from_msgpack(b) for b in msgpack.unpackb(self._steps))


class Rows:
    """A query's rows, read a slice at a time: what `listing.Page.of` needs (`len`, slicing)."""

    def __init__(self, db, make, where: str, args: tuple, order: str, table: str):
        self._db, self._make, self._sql, self._args, self._order = db, make, f"FROM {table} {where}", args, order
        self._len = None

    def __len__(self) -> int:
        if self._len is None:
            self._len = self._db.execute(f"SELECT count(*) {self._sql}", self._args).fetchone()[0]
        return self._len

    def __getitem__(self, cut: slice) -> list:
        start, stop = cut.start or 0, len(self) if cut.stop is None else cut.stop
        rows = self._db.execute(f"SELECT * {self._sql} ORDER BY {self._order} LIMIT ? OFFSET ?",
                                (*self._args, max(0, stop - start), start))
        return [self._make(r) for r in rows]


def _version(row) -> VersionRow:
    vid, name, label, _isnum, _num, kind, created, size, _rtags, tags, producer, origin = row
    return VersionRow(vid, name, label, kind, created, size, tuple(json.loads(tags)), json.loads(producer), origin)


ARTIFACT_ORDERS = {"created": "names.created_ns", "size": "names.size", "name": "names.lname",
                   "versions": "names.count"}
VERSION_ORDERS = {"created": "created_ns", "size": "size"}


class Catalog:
    """Versions, artifacts, runs and who read each version, answered by the index.

    It is also the lineage source of the dashboard (`artrepo.lineage.walk`).
    """

    def __init__(self, repo):
        self.repo = repo
        self.db = connect(repo.git_dir)
        self.index = Index(repo, self.db)
        self.generation = None
        self._derived: dict = {}
        self._runs: dict[str, RunRow] = {}
        self._searches: dict[str, str] = {}

    def close(self) -> None:
        self.db.close()

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
        self.index.sync(stats, fresh)
        generation = self.index.meta("generation")  # another dashboard of this repository may have synced
        if generation != self.generation:
            self.generation, self._derived, self._runs, self._searches = generation, {}, {}, {}

    def _stats(self) -> tuple[dict, set[str]]:
        """Stat results of the WATCHED paths, and those that changed too recently to trust."""
        now = time.time_ns()
        stats, fresh = {}, set()
        for rel in WATCHED:
            try:
                st = os.stat(self.repo.git_dir / rel)
            except FileNotFoundError:
                stats[rel] = None
                continue
            if now - st.st_mtime_ns < FRESH_NS:
                fresh.add(rel)
            stats[rel] = [st.st_mtime_ns, st.st_ino, st.st_size]
        return stats, fresh

    # -- versions and artifacts ------------------------------------------------
    def version(self, version_id: str) -> VersionRow | None:
        """The row of a version here, or None (pages and templates label versions with it)."""
        row = self.db.execute("SELECT * FROM versions WHERE id=?", (version_id,)).fetchone()
        return _version(row) if row else None

    def version_row(self, version_id: str) -> VersionRow:
        row = self.version(version_id)
        if row is None:
            raise NotFoundError(f"no artifact version with id {version_id[:40]!r}")
        return row

    def artifact(self, name: str) -> ArtifactRow | None:
        row = self.db.execute("SELECT names.count, names.tags, versions.* FROM names JOIN versions "
                              "ON versions.id = names.latest WHERE names.name=?", (name,)).fetchone()
        return None if row is None else ArtifactRow(name, _version(row[2:]), row[0], tuple(json.loads(row[1])))

    def artifacts(self, text: str = "", tag: str = "", kind: str = "", sort: str = "created",
                  order: str = "desc") -> Rows:
        """Artifacts whose name contains `text`, carrying `tag`, of type `kind` (empty: any), sorted."""
        where, args = [], []
        if text:
            where.append("names.rowid IN (SELECT value FROM json_each(?))")
            args.append(self._search(text.lower()))
        if tag:
            where.append("names.name IN (SELECT name FROM tagged WHERE tag = ?)")
            args.append(tag)
        if kind:
            where.append("names.type = ?")
            args.append(kind)
        sql = "JOIN versions ON versions.id = names.latest" + (" WHERE " + " AND ".join(where) if where else "")
        rows = Rows(self.db, lambda r: ArtifactRow(r[0], _version(r[8:]), r[6], tuple(json.loads(r[7]))),
                    sql, tuple(args), f"{ARTIFACT_ORDERS[sort]} {order.upper()}, names.name", "names")
        if not where:
            rows._len = self.total("names")
        return rows

    def _search(self, text: str) -> str:
        """The rowids of the names containing `text`, as JSON; kept for the next page of the same search."""
        found = self._searches.get(text)
        if found is None:
            if len(self._searches) >= CACHED_SEARCHES:
                self._searches.clear()
            sql, args = "SELECT rowid FROM names WHERE instr(lname, ?) > 0", (text,)
            if len(text) >= 3 and self.derived("searchable", lambda: self.index.meta("searchable")):
                sql += " AND rowid IN (SELECT rowid FROM names_text WHERE names_text MATCH ?)"
                args += ('"' + text.replace('"', '""') + '"',)  # one phrase of trigrams: the text as it is
            found = self._searches[text] = json.dumps([r for (r,) in self.db.execute(sql, args)])
        return found

    def tag_counts(self, limit: int) -> list[str]:
        """The `limit` tags most names carry."""
        return self.derived(("tags", limit), lambda: [t for (t,) in self.db.execute(
            "SELECT j.value FROM names, json_each(names.tags) AS j GROUP BY j.value "
            "ORDER BY count(*) DESC, j.value LIMIT ?", (limit,))])

    def types(self) -> list[str]:
        return self.derived("types", lambda: [t for (t,) in self.db.execute(
            "SELECT DISTINCT type FROM names ORDER BY type")])

    def versions_of(self, name: str, tag: str = "", sort: str = "created", order: str = "desc") -> Rows:
        """The versions of `name` (with `tag`, if given) sorted; ties newest first."""
        where = "WHERE name = ?" + (" AND id IN (SELECT version_id FROM tagged WHERE tag = ? AND name = ?)"
                                    if tag else "")
        then = "" if sort == "created" and order == "desc" else f"{VERSION_ORDERS[sort]} {order.upper()}, "
        rows = Rows(self.db, _version, where, (name, tag, name) if tag else (name,), then + NAME_ORDER, "versions")
        if not tag:
            rows._len = self.derived(("versions of", name), lambda: len(Rows(self.db, _version, where, (name,), "",
                                                                             "versions")))
        return rows

    def previous_version(self, row: VersionRow) -> VersionRow | None:
        """The version of the same artifact just before `row` (versions are newest first), or None."""
        found = self.db.execute(
            f"SELECT * FROM versions WHERE name = ? AND (created_ns, isnum, num, label) < "
            f"(SELECT created_ns, isnum, num, label FROM versions WHERE id = ?) ORDER BY {NAME_ORDER} LIMIT 1",
            (row.name, row.id)).fetchone()
        return _version(found) if found else None

    def metadata(self, version_id: str) -> dict:
        """The record's metadata with later annotations applied (as `run_metadata`)."""
        return merged_metadata(self.repo.record(version_id).metadata, self.repo.annotations(version_id))

    # -- runs -------------------------------------------------------------------
    def _run(self, row) -> RunRow:
        run = self._runs.get(row[0])
        if run is None:
            if len(self._runs) > CACHED_RUNS:
                self._runs.clear()
            run = self._runs[row[0]] = RunRow(*row)
        return run

    def run(self, run_id: str | None) -> RunRow | None:
        if run_id is None:
            return None
        run = self._runs.get(run_id)
        if run is None:
            row = self.db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
            run = self._run(row) if row else None
        return run

    def runs_of(self, pipeline: str = "", status: str = "") -> Rows:
        """The runs of `pipeline` with `status` (either empty: any), newest first."""
        where = " AND ".join(c for c, v in (("pipeline = ?", pipeline), ("status = ?", status)) if v)
        args = tuple(v for v in (pipeline, status) if v)
        rows = Rows(self.db, self._run, f"WHERE {where}" if where else "", args, "start_ns DESC, id DESC", "runs")
        if not where:
            rows._len = self.total("runs")
        elif (not pipeline or pipeline in self.derived("pipeline set", lambda: set(self.pipelines()))) and \
                (not status or status in self.derived("statuses", lambda: {s for (s,) in self.db.execute(
                    "SELECT DISTINCT status FROM runs")})):
            rows._len = self.derived(("runs of", pipeline, status), lambda: len(rows))  # a pipeline's, once per change
        return rows

    def total(self, table: str) -> int:
        """How many rows the index's `table` holds: versions, names (artifacts) or runs; once per change."""
        return self.derived((table, "total"), lambda: self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def pipelines(self) -> list[str]:
        return self.derived("pipelines", lambda: [p for (p,) in self.db.execute(
            "SELECT DISTINCT pipeline FROM runs ORDER BY pipeline")])

    def previous_run(self, run: RunRow) -> RunRow | None:
        """The run of the same pipeline just before `run`, or None."""
        row = self.db.execute("SELECT * FROM runs WHERE pipeline = ? AND (start_ns, id) < (?, ?) "
                              "ORDER BY start_ns DESC, id DESC LIMIT 1", (run.pipeline, run.start_ns, run.id)).fetchone()
        return self._run(row) if row else None

    def run_step(self, run_id: str | None, name: str | None) -> tuple[RunRow, object] | None:
        """(run, step record) of a step of a run here, or None."""
        run = self.run(run_id)
        step = next((s for s in run.steps if s.name == name), None) if run else None
        return None if step is None else (run, step)

    def find_run(self, text: str) -> RunRow | None:
        """A run by id, id prefix (unique) or commit prefix."""
        row = self.run(text)
        if row is not None or len(text) < 4:
            return row
        found = self.db.execute("SELECT * FROM runs WHERE (id >= :t AND id < :t || '~') "
                                "OR (commit_id >= :t AND commit_id < :t || '~') LIMIT 2", {"t": text}).fetchall()
        return self._run(found[0]) if len(found) == 1 else None

    def consumers(self, version_id: str, limit: int) -> tuple[list[tuple[str, str]], int]:
        """The first `limit` (run id, step) that read a version, oldest run first, and how many there are."""
        rows = self.db.execute("SELECT run_id, step FROM reads WHERE version_id = ? ORDER BY start_ns, run_id LIMIT ?",
                               (version_id, limit)).fetchall()
        total = len(rows) if len(rows) < limit else \
            self.db.execute("SELECT count(*) FROM reads WHERE version_id = ?", (version_id,)).fetchone()[0]
        return rows, total

    # -- lineage source (artrepo.lineage.walk) ------------------------------------
    def describe_version(self, version_id: str) -> dict:
        row = self.version(version_id)
        return {"label": f"{row.name}:{row.version}" if row else f"{version_id[:12]} (not here)"}

    def producer_steps(self, version_id: str) -> list:
        row = self.version(version_id)
        found = self.run_step(row.producer.get("run_id"), row.producer.get("step")) if row and row.producer else None
        return [(found[0].id, found[0].pipeline, found[1])] if found else []

    def consumer_steps(self, version_id: str) -> list:
        rows, _total = self.consumers(version_id, 10**6)
        return [(run.id, run.pipeline, step) for run_id, name in rows
                for run, step in [self.run_step(run_id, name) or (None, None)] if step is not None]
