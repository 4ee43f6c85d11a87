"""`artrepo fsck`: prove that every ref reaches complete, intact data.

Checks, in order: stock `git fsck --strict` (metadata, when git is
installed); every ref under refs/artrepo/ reaches a commit whose records
parse; every chunk of every reachable manifest is indexed and its pack exists
with an intact header; every index entry points into an existing pack that
holds it. With `read_data`, every reachable chunk is read and its hash
verified. Each problem names the artifact versions it affects. Values are
never loaded or unpickled: only records, manifests and chunk bytes are read.
"""
from __future__ import annotations

import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field

from artrepo.errors import ArtrepoError, IntegrityError
from artrepo.gitdb import layout
from artrepo.maintenance.inventory import RefTarget, artrepo_refs, classify, is_oid, pack_files
from artrepo.payload import check_relpath
from artrepo.repository import Repository


@dataclass(frozen=True, slots=True)
class Problem:
    message: str
    affects: tuple[str, ...] = ()  # artifact versions (name:version) it affects

    def __str__(self) -> str:
        if not self.affects:
            return self.message
        shown = ", ".join(self.affects[:8]) + (f" and {len(self.affects) - 8} more" if len(self.affects) > 8 else "")
        return f"{self.message} (affects {shown})"


@dataclass
class FsckReport:
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    versions: int = 0
    chunks: int = 0
    packs: int = 0
    chunks_read: int = 0
    git_checked: bool = False

    @property
    def clean(self) -> bool:
        return not self.problems


class _Checker:
    def __init__(self, repo: Repository, read_data: bool):
        self.repo = repo
        self.read_data = read_data
        self.report = FsckReport()
        self.users: dict[bytes, set[str]] = defaultdict(set)  # chunk id -> labels of versions using it
        self.raw_length: dict[bytes, int] = {}
        self.packs = {}
        self.pulled: set[str] = set()  # labels of versions pulled from a remote

    def problem(self, message: str, affects=()) -> None:
        self.report.problems.append(Problem(message, tuple(sorted(set(affects)))))

    # -- refs and records -------------------------------------------------------
    def check_refs(self) -> None:
        for ref, text in sorted(artrepo_refs(self.repo.git_dir).items()):
            target = classify(ref, text)
            if not is_oid(text):
                self.problem(f"ref {ref} does not hold an object id ({text[:40]!r})", [target.label])
                continue
            try:
                self.repo.objects.commit(text)
            except IntegrityError as exc:
                self.problem(f"ref {ref}: {exc}", [target.label])
                continue
            if target.kind in ("version", "alias", "head") or self._holds_version(text):
                self.check_version(target)
            elif target.kind == "annotations":
                self.check_annotations(text)

    def _holds_version(self, oid: str) -> bool:
        try:
            return self.repo.objects.tree_file(oid, "record.msgpack") is not None
        except ArtrepoError:
            return True  # check_version reports it

    def check_version(self, target: RefTarget) -> None:
        label = target.label
        try:
            record = self.repo.record(target.oid)
            manifest = self.repo.manifest(target.oid)
        except ArtrepoError as exc:
            self.problem(f"version {target.oid[:12]} ({target.ref}): unreadable record ({exc})", [label])
            return
        except Exception as exc:  # a record that decodes but has the wrong shape
            self.problem(f"version {target.oid[:12]} ({target.ref}): malformed record ({exc!r})", [label])
            return
        if target.kind == "version":
            self.report.versions += 1
            if record.name != target.name:
                self.problem(f"ref {target.ref} names {target.name!r} but its record says {record.name!r}", [label])
        if manifest.content_hash != record.content_hash:
            self.problem(f"version {target.oid[:12]}: manifest does not match the record's content hash", [label])
        files = list(manifest.files) + [f for _, _, f in manifest.visualizations]
        for f in files:
            try:
                check_relpath(f.path)
            except IntegrityError as exc:
                self.problem(f"version {target.oid[:12]}: {exc}", [label])
            for cid, n in f.chunks:
                self.users[cid].add(label)
                self.raw_length.setdefault(cid, n)

    def check_annotations(self, head: str) -> None:
        from artrepo.records.artifact import Annotation

        try:
            for top, _ in self.repo.objects.tree_listing(head, "").items():
                for rest, _ in self.repo.objects.tree_listing(head, top).items():
                    for _n, blob in self.repo.objects.tree_listing(head, f"{top}/{rest}").items():
                        Annotation.from_msgpack(self.repo.objects.blob(blob))
        except ArtrepoError as exc:
            self.problem(f"annotations ({head[:12]}): {exc}", ["annotations"])
        except Exception as exc:
            self.problem(f"annotations ({head[:12]}): malformed ({exc!r})", ["annotations"])

    # -- chunks, packs, index ---------------------------------------------------------
    def check_store(self) -> None:
        store = self.repo.chunks
        index = store.index
        for name, why in sorted(index.damaged.items()):
            self.problem(f"index file {name[:12]} is damaged: {why}; 'artrepo gc' rebuilds the index from the packs")
        self.packs, stray = pack_files(store)
        packs = self.packs
        self.report.packs = len(packs)
        for path in stray:
            if not path.name.startswith(".tmp-"):
                self.report.notes.append(f"stray file {path} in the pack folder")
        pack_users = defaultdict(set)
        for cid, labels in self.users.items():
            loc = index.locations.get(cid)
            if loc is not None:
                pack_users[loc[0]].update(labels)
        for pid, pack in packs.items():
            if pack.error:
                self.problem(f"{pack.error}", pack_users.get(pid, ()))
        for fname, by_pack in sorted(index.by_file.items()):
            for pid, entries in by_pack.items():
                self._check_indexed_pack(fname, pid, entries, packs.get(pid), pack_users.get(pid, ()))
        self.report.chunks = len(self.users)
        in_packs = {cid: pid for pid, p in packs.items() for cid in p.chunk_ids}
        missing: dict[bytes | None, list[bytes]] = defaultdict(list)  # pack holding it (None: nowhere)
        for cid, labels in sorted(self.users.items()):
            if cid not in index.locations:
                if not labels <= self.pulled:  # metadata-only pulls hold no chunks here
                    missing[in_packs.get(cid)].append(cid)
            elif self.raw_length[cid] != index.locations[cid][1].raw_length:
                self.problem(f"chunk {cid.hex()[:12]}: the manifest says {self.raw_length[cid]} bytes, the index "
                             f"{index.locations[cid][1].raw_length}", labels)
        for pid, cids in missing.items():
            affects = set().union(*(self.users[c] for c in cids))
            first = cids[0].hex()[:12] + (f" and {len(cids) - 1} more" if len(cids) > 1 else "")
            if pid is None:
                self.problem(f"chunk {first} missing from the store", affects)
            else:
                self.problem(f"chunk {first} in pack {pid.hex()[:12]} but in no index; 'artrepo gc' rebuilds "
                             "the index", affects)

    def _check_indexed_pack(self, fname, pid, entries, pack, users) -> None:
        if pack is None:
            self.problem(f"pack {pid.hex()[:12]} (named by index {fname[:12]}) is missing", users)
        elif pack.entries is not None:
            by_id = {e.chunk_id: e for e in pack.entries}
            for e in entries:
                if by_id.get(e.chunk_id) != e:
                    self.problem(f"index {fname[:12]}: chunk {e.chunk_id.hex()[:12]} is not where it says in pack "
                                 f"{pid.hex()[:12]}", users)
                    return

    def read_all(self) -> None:
        store = self.repo.chunks
        for cid, labels in sorted(self.users.items()):
            loc = store.index.locations.get(cid)
            if loc is None or loc[0] not in self.packs or self.packs[loc[0]].error:
                continue  # already reported
            try:
                data = store.read_chunk(cid)
            except IntegrityError as exc:
                self.problem(str(exc), labels)
                continue
            self.report.chunks_read += 1
            if len(data) != self.raw_length[cid]:
                self.problem(f"chunk {cid.hex()[:12]}: {len(data)} bytes, the manifest says {self.raw_length[cid]}",
                             labels)

    def run(self) -> FsckReport:
        self.check_refs()
        self.pulled = self._pulled_labels()
        self.check_store()
        if self.read_data:
            self.read_all()
        return self.report

    def _pulled_labels(self) -> set[str]:
        folder = layout.origins_dir(self.repo.git_dir)
        if not folder.is_dir():
            return set()
        out = set()
        for ref, text in artrepo_refs(self.repo.git_dir).items():
            if is_oid(text) and (folder / text).exists():
                out.add(classify(ref, text).label)
        return out


def git_fsck(repo: Repository, report: FsckReport) -> None:
    """Stock git's own check of the metadata (objects, connectivity), when git is installed."""
    git = shutil.which("git")
    if git is None:
        report.notes.append("git is not installed: git objects were checked only through libgit2")
        return
    proc = subprocess.run([git, "--git-dir", str(repo.git_dir), "fsck", "--strict", "--no-dangling", "--no-progress"],
                          capture_output=True, text=True, timeout=3600)
    report.git_checked = True
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    if proc.returncode != 0:
        for line in lines[:50] or [f"git fsck exited {proc.returncode}"]:
            report.problems.append(Problem(f"git fsck: {line}"))
    else:
        report.notes.extend(f"git fsck: {ln}" for ln in lines if not ln.startswith(("Checking", "checking", "notice:")))


def fsck(repo: Repository, *, read_data: bool = False, use_git: bool = True) -> FsckReport:
    """Check the whole repository; the report lists every problem found."""
    checker = _Checker(repo, read_data)
    if use_git:
        git_fsck(repo, checker.report)
    return checker.run()
