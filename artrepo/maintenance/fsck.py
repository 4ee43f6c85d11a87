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
from artrepo.maintenance.reach import Problem, Reach, reach
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
    """Check the view's refs, records and data; the report lists every problem found."""
    report = FsckReport()
    if use_git:
        git_fsck(view, report)
    reached = reach(view)
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
    for name, why in sorted(index.damaged.items()):
        report.problem(f"index file {name[:12]} is damaged: {why}{rebuild}")
    for name in index.missing:
        report.problem(f"index file {name[:12]} named by the ref table is missing")
    packs, stray = survey(store)
    report.packs = len(packs)
    report.notes += [f"stray file {key} in the pack folder" for key in stray]
    pack_users: dict[bytes, set[str]] = defaultdict(set)
    for cid, labels in reached.users.items():
        if cid in index.locations:
            pack_users[index.locations[cid][0]].update(labels)
    bad = {pid for pid, pack in packs.items() if pack.error}
    for pid in bad:
        report.problem(packs[pid].error, pack_users.get(pid, ()))
    for fname, by_pack in sorted(index.files.items()):
        for pid, entries in by_pack.items():
            wrong = None if pid in bad else _indexed_pack(f"index {fname[:12]}", pid, entries, packs.get(pid))
            if wrong:
                bad.add(pid)
                report.problem(wrong, pack_users.get(pid, ()))
    _check_chunks(view, reached, packs, report)
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


def _check_chunks(view, reached: Reach, packs: dict, report: FsckReport) -> None:
    locations = view.store.index.locations
    pulled_ids = view.pulled()
    pulled = {classify(ref, oid).label for ref, oid in view.refs().items() if oid in pulled_ids}
    in_packs = {e.chunk_id: pid for pid, p in packs.items() for e in (p.footer or ())}
    missing: dict[bytes | None, list[bytes]] = defaultdict(list)  # pack holding it (None: nowhere)
    for cid, labels in sorted(reached.users.items()):
        loc = locations.get(cid)
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


def git_fsck(view, report: FsckReport) -> None:
    """Stock git's own check of the git objects (connectivity included), naming each broken ref."""
    git = shutil.which("git")
    if git is None:
        report.notes.append("git is not installed: git objects were checked only through libgit2")
        return
    base = [git, "--git-dir", str(view.git_dir)]
    proc = subprocess.run([*base, "fsck", "--strict", "--no-dangling", "--no-progress"],
                          capture_output=True, text=True, timeout=3600)
    report.git_checked = True
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    if proc.returncode == 0:
        report.notes += [f"git fsck: {ln}" for ln in lines if not ln.startswith(("Checking", "checking", "notice:"))]
        return
    broken, walked = [], {}
    for ref, oid in sorted(view.refs().items()):
        if oid not in walked:
            walked[oid] = subprocess.run([*base, "rev-list", "--objects", "--quiet", oid],
                                         capture_output=True).returncode == 0
        if not walked[oid]:
            broken.append(classify(ref, oid).label)
    for line in lines[:50] or [f"git fsck exited {proc.returncode}"]:
        report.problem(f"git fsck: {line}", broken)
