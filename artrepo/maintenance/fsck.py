"""`artrepo fsck [--remote NAME]`: prove that every ref reaches complete, intact data.

The same checks for the local repository and a remote (view.py), in order:
stock `git fsck --strict` on the git objects; every ref under refs/artrepo/
reaches a commit whose records parse (reach.py); every index file is
readable; every indexed pack exists with the size and id its entries imply
(and, where footers are read, the footer it should have); every chunk of
every reachable manifest is indexed. With `read_data`, every pack holding a
reachable chunk is read, one at a time, and every such chunk decompressed
(bounded) and hashed. Each problem names the artifact versions it affects.
Values are never loaded or unpickled: only records, manifests and chunk bytes.
"""
from __future__ import annotations

import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field

from artrepo.errors import ArtrepoError, IntegrityError
from artrepo.maintenance.inventory import classify, survey
from artrepo.maintenance.reach import Problem, Reach, cache_of, reach
from artrepo.storage.ids import short
from artrepo.storage.packfile import check_blob, id_of, pack_size, verify_footer


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

    def problem(self, message: str, affects=()) -> None:
        self.problems.append(Problem(message, tuple(sorted(set(affects)))))


def fsck(view, *, read_data: bool = False, use_git: bool = True) -> FsckReport:
    """Check the view's refs, records and data; the report lists every problem found.

    Stock git fsck checks every git object on the other core meanwhile; while
    it does, commits already found sound are taken from the reach cache. If
    git finds damage, every version is read again so that each problem names
    the versions it affects.
    """
    git = _start_git_fsck(view) if use_git else None
    cache = cache_of(view) if git else None
    try:
        report = _check_view(view, read_data, cache)
    finally:
        found = FsckReport()
        if git is not None:
            _finish_git_fsck(view, git, found)
    if found.problems and cache is not None:
        report = _check_view(view, read_data, None)
    report.problems[:0] = found.problems  # git's findings first
    report.notes[:0] = found.notes
    report.git_checked = found.git_checked
    return report


def _check_view(view, read_data: bool, cache) -> FsckReport:
    report = FsckReport()
    reached = reach(view, cache=cache)
    report.problems += reached.problems
    report.versions, report.chunks = len(reached.versions), len(reached.users)
    for head in reached.annotations:
        _check_annotations(view.reader, head, report)
    pack_users, bad = _check_store(view, reached, report)
    if read_data:
        _read_packs(view, reached, {pid: u for pid, u in pack_users.items() if pid not in bad}, report)
    return report


def _check_annotations(reader, head: str, report: FsckReport) -> None:
    from artrepo.records.artifact import Annotation

    try:
        for top in reader.objects.tree_listing(head, ""):
            for rest in reader.objects.tree_listing(head, top):
                for blob in reader.objects.tree_listing(head, f"{top}/{rest}").values():
                    Annotation.from_msgpack(reader.objects.blob(blob))
    except ArtrepoError as exc:
        report.problem(f"annotations ({head[:12]}): {exc}", ["annotations"])
    except Exception as exc:
        report.problem(f"annotations ({head[:12]}): malformed ({exc!r})", ["annotations"])


def _check_store(view, reached: Reach, report: FsckReport) -> tuple[dict[bytes, set[str]], set[bytes]]:
    """Index files, packs and chunks; returns {pack id: versions using it} and the packs found damaged."""
    store = view.store
    index = store.index
    rebuild = "; 'artrepo gc' rebuilds the index from the packs" if store.root is not None and not view.name else ""
    index.verify()  # format 2 files are searched unhashed by readers: hashed here
    for name, why in sorted(index.damaged.items()):
        report.problem(f"index file {name[:12]} is damaged: {why}{rebuild}")
    for name in index.missing:
        report.problem(f"index file {name[:12]} named by the ref table is missing")
    packs, stray = survey(store)
    report.packs = len(packs)
    report.notes += [f"stray file {key} in the pack folder" for key in stray]
    where = {cid: index.lookup(cid) for cid in reached.users}  # one search per chunk, shared below
    pack_users: dict[bytes, set[str]] = defaultdict(set)
    for cid, labels in reached.users.items():
        if where[cid] is not None:
            pack_users[where[cid][0]].update(labels)
    bad = {pid for pid, pack in packs.items() if pack.error}
    for pid in bad:
        report.problem(packs[pid].error, pack_users.get(pid, ()))
    for fname, by_pack in sorted(index.files.items()):
        for pid, entries in by_pack.items():
            wrong = None if pid in bad else _indexed_pack(f"index {fname[:12]}", pid, entries, packs.get(pid))
            if wrong:
                bad.add(pid)
                report.problem(wrong, pack_users.get(pid, ()))
    _check_chunks(view, reached, packs, where, report)
    orphans = [p for pid, p in packs.items() if pid not in index.packs]
    if orphans:
        gc = f"artrepo gc --remote {view.name}" if view.name else "artrepo gc"
        report.notes.append(f"{len(orphans)} packs ({sum(p.size for p in orphans)} bytes) that no index file names "
                            f"(left by interrupted writes, or a write in progress): '{gc}' removes them once older "
                            "than the grace period")
    leftovers = view.leftovers()
    if leftovers:
        report.notes.append(f"{len(leftovers)} files left by interrupted writes (temporary files, or index files "
                            "and git packs no ref table names): gc removes them once old")
    return pack_users, bad


def _indexed_pack(index: str, pid: bytes, entries, pack) -> str | None:
    """What is wrong with an indexed pack, judged from its entries, the listing and (if read) its footer."""
    if pack is None:
        return f"pack {short(pid)} (named by {index}) is missing"
    if id_of(entries) != pid:
        return f"{index}: its entries for pack {short(pid)} do not hash to the pack's name"
    if pack_size(entries) != pack.size:
        return f"pack {short(pid)}: {pack.size} bytes, {index} says {pack_size(entries)} (truncated or replaced)"
    if pack.footer is not None and pack.footer != entries:
        return f"{index}: chunks are not where it says in pack {short(pid)}"
    return None


def _check_chunks(view, reached: Reach, packs: dict, where: dict, report: FsckReport) -> None:
    pulled_ids = view.pulled()
    pulled = {classify(ref, oid).label for ref, oid in view.refs().items() if oid in pulled_ids}
    in_packs = {e.chunk_id: pid for pid, p in packs.items() for e in (p.footer or ())}
    missing: dict[bytes | None, list[bytes]] = defaultdict(list)  # pack holding it (None: nowhere)
    for cid, labels in sorted(reached.users.items()):
        loc = where[cid]
        if loc is None:
            if not labels <= pulled:  # metadata-only pulls hold no chunks here
                missing[in_packs.get(cid)].append(cid)
        elif reached.raw_length[cid] != loc[1].raw_length:
            report.problem(f"chunk {short(cid)}: the manifest says {reached.raw_length[cid]} bytes, the index "
                           f"{loc[1].raw_length}", labels)
    for pid, cids in missing.items():
        affects = set().union(*(reached.users[c] for c in cids))
        first = short(cids[0]) + (f" and {len(cids) - 1} more" if len(cids) > 1 else "")
        if pid is None:
            report.problem(f"chunk {first} missing from the store", affects)
        else:
            report.problem(f"chunk {first} in pack {short(pid)} but in no index; 'artrepo gc' rebuilds the index",
                           affects)


def _read_packs(view, reached: Reach, pack_users: dict[bytes, set[str]], report: FsckReport) -> None:
    """Read each pack holding a reachable chunk, one at a time, and verify those chunks."""
    store = view.store
    for pid, labels in sorted(pack_users.items()):
        entries = store.index.packs[pid]
        try:
            data = store.read_pack(pid, pack_size(entries))
            if verify_footer(pid, data) != entries:
                raise IntegrityError(f"pack {short(pid)}: its footer differs from its index entries")
        except IntegrityError as exc:
            report.problem(str(exc), labels)
            continue
        blobs = memoryview(data)
        for e in entries:
            if e.chunk_id in reached.users:
                try:
                    check_blob(blobs[e.offset:e.offset + e.length], e, pid)
                    report.chunks_read += 1
                except IntegrityError as exc:
                    report.problem(str(exc), reached.users[e.chunk_id])


def _start_git_fsck(view):
    """Stock git's own check of the git objects (connectivity included), started in the background."""
    git = shutil.which("git")
    if git is None:
        return False
    import tempfile

    out = tempfile.TemporaryFile()
    proc = subprocess.Popen([git, "--git-dir", str(view.git_dir), "fsck", "--strict", "--no-dangling", "--no-progress"],
                            stdout=out, stderr=subprocess.STDOUT)
    return proc, out


def _finish_git_fsck(view, started, report: FsckReport) -> None:
    """Wait for git fsck and report what it found, naming each broken ref."""
    if started is False:
        report.notes.append("git is not installed: git objects were checked only through libgit2")
        return
    proc, out = started
    try:
        proc.wait(timeout=3600)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    finally:
        out.close()
    report.git_checked = True
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if proc.returncode == 0:
        report.notes += [f"git fsck: {ln}" for ln in lines if not ln.startswith(("Checking", "checking", "notice:"))]
        return
    base = [shutil.which("git") or "git", "--git-dir", str(view.git_dir)]
    broken, walked = [], {}
    for ref, oid in sorted(view.refs().items()):
        if oid not in walked:
            walked[oid] = subprocess.run([*base, "rev-list", "--objects", "--quiet", oid],
                                         capture_output=True).returncode == 0
        if not walked[oid]:
            broken.append(classify(ref, oid).label)
    for line in lines[:50] or [f"git fsck exited {proc.returncode}"]:
        report.problem(f"git fsck: {line}", broken)
