"""The dashboard's index: a SQLite file of what its pages list, kept in step with the repository.

A page reads a few rows of it, whatever the repository holds, and a restart
on an unchanged repository reads no record at all (issue 15: `artrepo ui` on
100,000 versions started in 16 s, reading each one). It holds derived data
only, so it lives outside the repository (the dashboard writes nothing
there): `$ARTREPO_UI_INDEX/<hash of the repository's path>.sqlite`, by
default under `$XDG_CACHE_HOME/artrepo/ui` (`~/.cache`). A file that cannot
be read, or of another schema, is made again; where no file can be written
the index is kept in memory (rebuilt at each start).

`Index.sync` brings it up to date from a few `stat` results (the catalog's
`signature`): when they match the last sync, nothing is read. Otherwise only
what moved is read again: the names whose loose `heads/<name>` file was
replaced (every save, deletion or renumbering replaces it), or every version
ref when `packed-refs` was rewritten (maintenance; one pass over the refs,
records read only for ids the index lacks); new or removed runs; the
versions whose annotations changed (a diff of the annotations tree); origins.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

from artrepo import names
from artrepo.errors import ArtrepoError
from artrepo.gitdb import layout
from artrepo.gitdb.objects import is_oid
from artrepo.records.artifact import ArtifactType, VersionRecord
from artrepo.records.run import StepRecord
from artrepo.tags import effective_tags

SCHEMA = 1
TABLES = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE versions(id TEXT PRIMARY KEY, name TEXT NOT NULL, label TEXT NOT NULL, isnum INTEGER, num INTEGER,
    type TEXT, created_ns INTEGER, size INTEGER, rtags TEXT, tags TEXT, producer TEXT, origin TEXT);
CREATE INDEX versions_by_age ON versions(name, created_ns, isnum, num, label);
CREATE INDEX versions_by_size ON versions(name, size);
CREATE TABLE tagged(version_id TEXT, name TEXT, tag TEXT);
CREATE INDEX tagged_by_tag ON tagged(tag, name);
CREATE INDEX tagged_by_version ON tagged(version_id);
CREATE TABLE names(name TEXT PRIMARY KEY, lname TEXT, latest TEXT, created_ns INTEGER, size INTEGER, type TEXT,
    count INTEGER, tags TEXT);
CREATE INDEX names_by_created ON names(created_ns);
CREATE INDEX names_by_size ON names(size);
CREATE INDEX names_by_count ON names(count);
CREATE INDEX names_by_lname ON names(lname);
CREATE TABLE runs(id TEXT PRIMARY KEY, commit_id TEXT, pipeline TEXT, status TEXT, start_ns INTEGER,
    end_ns INTEGER, parameters TEXT, steps BLOB, n_steps INTEGER, n_cached INTEGER, n_failed INTEGER,
    n_skipped INTEGER);
CREATE INDEX runs_by_start ON runs(start_ns, id);
CREATE INDEX runs_by_pipeline ON runs(pipeline, start_ns, id);
CREATE INDEX runs_by_status ON runs(status, start_ns, id);
CREATE INDEX runs_by_commit ON runs(commit_id);
CREATE TABLE reads(version_id TEXT, run_id TEXT, step TEXT, start_ns INTEGER);
CREATE INDEX reads_by_version ON reads(version_id, start_ns, run_id);
CREATE INDEX reads_by_run ON reads(run_id);
"""
# Search by part of a name without reading every name: trigrams (SQLite's FTS5, where it was built with it).
TEXT_SEARCH = "CREATE VIRTUAL TABLE names_text USING fts5(lname, tokenize='trigram', content='names', content_rowid='rowid')"
NAME_ORDER = "created_ns DESC, isnum DESC, num DESC, label DESC"  # newest first, as `_label_key` in catalog.py


def index_path(git_dir: Path) -> Path:
    base = os.environ.get("ARTREPO_UI_INDEX") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "artrepo", "ui")
    key = hashlib.sha256(os.path.realpath(git_dir).encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return Path(base) / f"{key}.sqlite"


def connect(git_dir: Path) -> sqlite3.Connection:
    """The index of the repository at `git_dir`: its file, made again if unreadable, else one in memory."""
    path = index_path(git_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = _open(str(path))
        if db is not None:
            return db
        path.unlink(missing_ok=True)  # another schema, or not a database: derived data, made again
        return _open(str(path)) or _open(":memory:")
    except (OSError, sqlite3.Error):
        return _open(":memory:")


def _open(where: str) -> sqlite3.Connection | None:
    # pages hold the dashboard's lock; another dashboard building the index makes this one wait, not fail
    db = sqlite3.connect(where, timeout=600, check_same_thread=False, isolation_level=None)
    try:
        db.execute("PRAGMA synchronous=OFF" if where == ":memory:" else "PRAGMA synchronous=NORMAL")
        found = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() \
            if db.execute("SELECT 1 FROM sqlite_master WHERE name='meta'").fetchone() else None
        if found is None and not db.execute("SELECT 1 FROM sqlite_master").fetchone():
            db.executescript(TABLES)
            try:
                db.execute(TEXT_SEARCH)
                searchable = "true"
            except sqlite3.OperationalError:  # built without FTS5: a search reads every name
                searchable = "false"
            db.execute("INSERT INTO meta VALUES ('schema', ?), ('generation', '0'), ('searchable', ?)",
                       (str(SCHEMA), searchable))
            return db
        if found is not None and found[0] == str(SCHEMA):
            return db
    except sqlite3.DatabaseError:
        pass
    db.close()
    return None


def _number(label: str) -> tuple[int, int]:
    """(1, number) for an auto-increment-like label, (0, -1) for a custom one (SQLite integers: 18 digits)."""
    return (1, int(label[-18:]) + (10**18 if len(label) > 18 else 0)) if label.isdigit() else (0, -1)


class _Lookup:
    """A per-version lookup during one sync: one at a time, or all at once after `after` (a first sync)."""

    def __init__(self, one, everything, after: int = 256):
        self._one, self._everything, self._left, self._all = one, everything, after, None

    def __call__(self, vid: str):
        if self._all is None:
            if self._left:
                self._left -= 1
                return self._one(vid)
            self._all = self._everything()
        return self._all.get(vid)


class Index:
    """Reads the repository into the index (`sync`); the catalog queries `db`."""

    def __init__(self, repo, db: sqlite3.Connection):
        self.repo, self.db = repo, db

    def meta(self, key: str, default=None):
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def _set_meta(self, **values) -> None:
        self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                            [(k, json.dumps(v)) for k, v in values.items()])

    def sync(self, signature: dict, fresh: set[str]) -> bool:
        """Read what changed since the last sync; whether anything may have.

        `signature`: stat results of the watched paths; `fresh`: those of them
        too recent to trust (a folder's mtime is coarse), kept as unknown so
        that the next sync looks at them again.
        """
        last = self.meta("signature") or {}
        if last == signature:
            return False
        self.db.execute("BEGIN IMMEDIATE")  # one writer at a time among dashboards of this repository
        repo = self.repo  # each sync looks versions' origins and annotations up afresh
        self._origin = _Lookup(repo.origins.get, repo.origins.all)
        self._notes = _Lookup(repo.annotations, lambda: repo.all_annotations()[1])
        try:
            changed = self._annotations()
            everything = last.get("packed-refs") != signature["packed-refs"] or not last
            self._versions(everything, changed, origins_moved=last.get("origins") != signature["origins"])
            if everything or last.get("refs/artrepo/runs") != signature["refs/artrepo/runs"]:
                self._runs()
            kept = {k: None if k in fresh else v for k, v in signature.items()}
            self._set_meta(signature=kept, generation=self.meta("generation", 0) + 1)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return True

    # -- versions ---------------------------------------------------------------------
    def _versions(self, everything: bool, annotated: set[str], origins_moved: bool) -> None:
        stamps = self._head_stamps()
        if everything:
            current: dict[str, dict[str, str]] = {}
            for ref, oid in self.repo.refs.all(layout.VERSIONS + "/").items():
                name, label = layout.split_version_ref(ref)
                current.setdefault(name, {})[label] = oid
            gone = {n for (n,) in self.db.execute("SELECT name FROM names")} - set(current)
        else:
            known = self.meta("stamps", {})
            moved = {n for n in stamps.keys() | known.keys() if stamps.get(n) != known.get(n)}
            moved |= {n for vid in annotated  # a deletion is annotated first; its head may not move
                      for (n,) in self.db.execute("SELECT name FROM versions WHERE id=?", (vid,))}
            current = {n: self._refs_of(n) for n in moved}
            gone = {n for n, refs in current.items() if not refs}
        for name in gone:
            self.db.execute("DELETE FROM versions WHERE name=?", (name,))
            self.db.execute("DELETE FROM tagged WHERE name=?", (name,))
            self._drop_name(name)
        touched = {n for n, refs in current.items() if refs and self._reconcile(n, refs)}
        touched |= self._retag(annotated)
        if origins_moved:
            self._origins()
        for name in touched:
            self._summarize(name)
        self._set_meta(stamps=stamps)

    def _refs_of(self, name: str) -> dict[str, str]:
        try:
            return self.repo.version_refs(name)
        except ArtrepoError:
            return {}

    def _head_stamps(self) -> dict[str, list[int]]:
        """{name: [mtime, inode]} of each loose `heads/<name>` file (replaced on every save)."""
        try:
            entries = list(os.scandir(self.repo.git_dir / layout.HEADS))
        except FileNotFoundError:
            return {}
        out = {}
        for e in entries:
            if not e.name.endswith(".lock"):
                try:
                    st = e.stat()
                except FileNotFoundError:
                    continue
                out[names.decode(e.name)] = [st.st_mtime_ns, st.st_ino]
        return out

    def _reconcile(self, name: str, refs: dict[str, str]) -> bool:
        """Make the rows of `name` those its refs publish; whether any changed."""
        rows = {vid: (label, kind) for vid, label, kind in
                self.db.execute("SELECT id, label, type FROM versions WHERE name=?", (name,))}
        wanted = {oid: label for label, oid in sorted(refs.items()) if is_oid(oid)}
        stale = [vid for vid in rows if vid not in wanted]
        self.db.executemany("DELETE FROM versions WHERE id=?", [(v,) for v in stale])
        self.db.executemany("DELETE FROM tagged WHERE version_id=?", [(v,) for v in stale])
        changed = bool(stale)
        for vid, label in wanted.items():
            label_now, kind = rows.get(vid, (None, None))
            if label_now is None or kind == "UNREADABLE":
                row = self._version_row(vid, name, label)
                self.db.execute("INSERT OR REPLACE INTO versions VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", row)
                self._set_tags(vid, name, row[9])
                changed = True
            elif label_now != label:  # renumbered
                self.db.execute("UPDATE versions SET label=?, isnum=?, num=? WHERE id=?", (label, *_number(label), vid))
                changed = True
        return changed

    def _version_row(self, vid: str, name: str, label: str) -> tuple:
        origin = self._origin(vid)
        try:
            data = self.repo.objects.tree_file(vid, layout.VERSION_RECORD)  # not kept by the repository: 100,000s
            if data is None:
                raise ArtrepoError("no record")
            rec = VersionRecord.from_msgpack(data)
        except ArtrepoError:  # costs only this version: listed as UNREADABLE, its own page says why
            return (vid, name, label, *_number(label), "UNREADABLE", 0, 0, "[]", "[]", "null", origin)
        try:
            kind = ArtifactType(rec.artifact_type).name
        except ValueError:
            kind = str(rec.artifact_type)
        rtags = json.dumps(list(rec.tags))
        return (vid, name, label, *_number(label), kind, rec.created_ns, rec.size, rtags,
                self._tags(vid, rec.tags), json.dumps(rec.producer), origin)

    def _tags(self, vid: str, record_tags) -> str:
        return json.dumps([str(t) for t in effective_tags(record_tags, self._notes(vid) or ())])

    def _set_tags(self, vid: str, name: str, tags: str) -> None:
        """The `tagged` rows of a version (what filters by tag read): those of its tags as JSON."""
        self.db.execute("DELETE FROM tagged WHERE version_id=?", (vid,))
        self.db.executemany("INSERT INTO tagged VALUES (?,?,?)", [(vid, name, t) for t in json.loads(tags)])

    def _retag(self, ids: set[str]) -> set[str]:
        """Tags of the versions `ids` again (their annotations changed); the names they belong to."""
        out = set()
        for vid in ids:
            row = self.db.execute("SELECT name, rtags FROM versions WHERE id=?", (vid,)).fetchone()
            if row is not None:
                tags = self._tags(vid, json.loads(row[1]))
                self.db.execute("UPDATE versions SET tags=? WHERE id=?", (tags, vid))
                self._set_tags(vid, row[0], tags)
                out.add(row[0])
        return out

    def _origins(self) -> None:
        origins = self.repo.origins.all()
        self.db.execute("UPDATE versions SET origin=NULL WHERE origin IS NOT NULL")
        self.db.executemany("UPDATE versions SET origin=? WHERE id=?", [(r, v) for v, r in origins.items()])

    def _summarize(self, name: str) -> None:
        """The row of `name` on the artifacts page: its newest version, how many, every tag they carry."""
        latest = self.db.execute(f"SELECT id, created_ns, size, type FROM versions WHERE name=? ORDER BY {NAME_ORDER} "
                                 "LIMIT 1", (name,)).fetchone()
        if latest is None:
            self._drop_name(name)
            return
        count, = self.db.execute("SELECT count(*) FROM versions WHERE name=?", (name,)).fetchone()
        tags = sorted({t for (t,) in self.db.execute(
            "SELECT DISTINCT j.value FROM versions, json_each(versions.tags) AS j WHERE versions.name=?", (name,))})
        new = self.db.execute("SELECT 1 FROM names WHERE name=?", (name,)).fetchone() is None
        self.db.execute("INSERT INTO names VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET "
                        "latest=excluded.latest, created_ns=excluded.created_ns, size=excluded.size, "
                        "type=excluded.type, count=excluded.count, tags=excluded.tags",  # keeps its rowid
                        (name, name.lower(), *latest, count, json.dumps(tags)))
        if new and self.meta("searchable"):
            self.db.execute("INSERT INTO names_text(rowid, lname) SELECT rowid, lname FROM names WHERE name=?", (name,))

    def _drop_name(self, name: str) -> None:
        if self.meta("searchable"):
            self.db.execute("INSERT INTO names_text(names_text, rowid, lname) "
                            "SELECT 'delete', rowid, lname FROM names WHERE name=?", (name,))
        self.db.execute("DELETE FROM names WHERE name=?", (name,))

    # -- annotations ---------------------------------------------------------------------
    def _annotations(self) -> set[str]:
        """Ids whose annotations changed since the last sync (a diff of the two annotations trees)."""
        head = self.repo.refs.get(layout.ANNOTATIONS)
        last = self.meta("annotations")
        if head == last:
            return set()
        self._set_meta(annotations=head)
        objects = self.repo.objects

        def listing(commit, path):
            try:
                return objects.tree_listing(commit, path) if commit else {}
            except ArtrepoError:
                return {}

        old, new = listing(last, ""), listing(head, "")
        out = set()
        for top in old.keys() | new.keys():
            if old.get(top) != new.get(top):
                a, b = listing(last, top) if top in old else {}, listing(head, top) if top in new else {}
                out.update(top + rest for rest in a.keys() | b.keys() if a.get(rest) != b.get(rest))
        return out

    # -- runs ---------------------------------------------------------------------------
    def _runs(self) -> None:
        current = {rid: c for rid, c in self.repo.run_ids().items() if is_oid(c)}
        known = dict(self.db.execute("SELECT id, commit_id FROM runs"))
        for rid in [r for r, c in known.items() if current.get(r) != c]:
            self.db.execute("DELETE FROM runs WHERE id=?", (rid,))
            self.db.execute("DELETE FROM reads WHERE run_id=?", (rid,))
        for rid, commit in current.items():
            if known.get(rid) != commit:
                self._add_run(rid, commit)

    def _add_run(self, run_id: str, commit: str) -> None:
        import msgpack

        try:
            rec = self.repo.read_run(commit)
            blobs = [data for name in rec.steps
                     if (data := self.repo.objects.tree_file(commit, layout.step_path(name))) is not None]
            steps = [StepRecord.from_msgpack(b) for b in blobs]
        except ArtrepoError:
            return  # a run whose records do not read is not listed (as before the index)
        count = {s: sum(x.status == s for x in steps) for s in ("failed", "skipped")}
        self.db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                        (run_id, commit, rec.pipeline, rec.status, rec.start_ns, rec.end_ns,
                         json.dumps(rec.parameters), msgpack.packb(blobs), len(steps),
                         sum(bool(s.cached) for s in steps), count["failed"], count["skipped"]))
        self.db.executemany("INSERT INTO reads VALUES (?,?,?,?)",
                            [(vid, run_id, s.name, rec.start_ns) for s in steps for vid in s.inputs.values()])
